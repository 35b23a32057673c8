"""NIST NSRL RDSv3 SQLite databases, minimal and full (known software). (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class Rdsv3Adapter(FormatAdapter):
    """NIST NSRL RDSv3 SQLite databases, minimal and full (known software)."""

    NAME: ClassVar[str] = "nsrl-rdsv3"
    DESCRIPTION: ClassVar[str] = "NIST NSRL RDSv3 SQLite databases, minimal and full (known software)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
