"""iLook hash lists (V1Hash, V3Hash, V4Hash headers). (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class ILookAdapter(FormatAdapter):
    """iLook hash lists (V1Hash, V3Hash, V4Hash headers)."""

    NAME: ClassVar[str] = "ilook"
    DESCRIPTION: ClassVar[str] = "iLook hash lists (V1Hash, V3Hash, V4Hash headers)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
