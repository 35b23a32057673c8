"""Autopsy / The Sleuth Kit SQLite hash databases (.kdb). (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class AutopsyKdbAdapter(FormatAdapter):
    """Autopsy / The Sleuth Kit SQLite hash databases (.kdb)."""

    NAME: ClassVar[str] = "autopsy-kdb"
    DESCRIPTION: ClassVar[str] = "Autopsy / The Sleuth Kit SQLite hash databases (.kdb)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
