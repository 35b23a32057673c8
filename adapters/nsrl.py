"""NIST NSRL RDS 2.x NSRLFile.txt (known software). (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class NsrlRdsAdapter(FormatAdapter):
    """NIST NSRL RDS 2.x NSRLFile.txt (known software)."""

    NAME: ClassVar[str] = "nsrl"
    DESCRIPTION: ClassVar[str] = "NIST NSRL RDS 2.x NSRLFile.txt (known software)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
