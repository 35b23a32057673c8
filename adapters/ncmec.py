"""NCMEC hash-sharing XML entries documents (md5, sha1; A1-B2). (Being written: see issue 3.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat


class NcmecXmlAdapter(FormatAdapter):
    """NCMEC hash-sharing XML entries documents (md5, sha1; A1-B2)."""

    NAME: ClassVar[str] = "ncmec-xml"
    DESCRIPTION: ClassVar[str] = "NCMEC hash-sharing XML entries documents (md5, sha1; A1-B2)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        raise UnsupportedFormat("not written yet", source=context.source)
