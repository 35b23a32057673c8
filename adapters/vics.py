"""Project VIC VICS JSON hash sets and case exports (1.2, 1.3, 2.0). (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class VicsAdapter(FormatAdapter):
    """Project VIC VICS JSON hash sets and case exports (1.2, 1.3, 2.0)."""

    NAME: ClassVar[str] = "vics"
    DESCRIPTION: ClassVar[str] = "Project VIC VICS JSON hash sets and case exports (1.2, 1.3, 2.0)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
