"""UK CAID exports: VICS 2.0 JSON, UK profile, category codes through a profile table. (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class CaidAdapter(FormatAdapter):
    """UK CAID exports: VICS 2.0 JSON, UK profile, category codes through a profile table."""

    NAME: ClassVar[str] = "caid"
    DESCRIPTION: ClassVar[str] = "UK CAID exports: VICS 2.0 JSON, UK profile, category codes through a profile table"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
