"""EnCase legacy binary hash sets (``.hash``, EnCase 3-6): raw MD5 records (FORMATS.md §5.1).

::

    0x000  48 41 53 48 0D 0A FF 00      signature "HASH\\r\\n\\xff\\x00"
    0x008  uint32 LE                    version
    0x010  uint32 LE                    number of hashes the writer declared
    0x408  UTF-16LE, NUL-terminated     set name (up to 39 characters)
    0x480  18-byte records to EOF       16-byte raw MD5 + 2 bytes nobody reads

The file names no files: each record is an MD5 and nothing else, and the set name is the
only label. Records are read a chunk of whole records at a time and turned into hex by
numpy (a 256-entry table of hex pairs), never one record at a time in Python, so that
lists of tens of millions of hashes read at disk speed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.records import encode_labels, make_batch

__all__ = ["HEADER_SIZE", "MAGIC", "RECORD_SIZE", "EncaseAdapter"]

MAGIC = b"HASH\r\n\xff\x00"
HEADER_SIZE = 0x480
"""Where the first record starts."""
RECORD_SIZE = 18
"""16 bytes of MD5 and 2 bytes that TSK and md5deep ignore."""
_COUNT_AT = 0x10
_NAME_AT = 0x408
_NAME_BYTES = 78
"""39 UTF-16 code units: what TSK reads of the name."""
_MAX_CHUNK_RECORDS = 1 << 20
"""Records per read, whatever the batch size: bounds the memory a read holds."""

_HEX_PAIRS: npt.NDArray[np.uint16] = np.frombuffer(
    b"".join(f"{i:02x}".encode("ascii") for i in range(256)), dtype=np.uint16
)
"""The two hex digits of each byte value, as one 16-bit item: a byte's hex is one lookup."""


def _hex_md5s(records: npt.NDArray[np.uint8]) -> pa.StringArray:
    """Lower-case hex of the first 16 bytes of each row of ``records`` (n x 18 bytes)."""
    n = len(records)
    text = np.take(_HEX_PAIRS, records[:, :16])
    offsets = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
    array: pa.StringArray = pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(text)
    )
    return array


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream (a raw stream may return
    less than asked before then)."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _set_name(header: bytes) -> str:
    """The set name in a header (``""`` when there is none)."""
    raw = header[_NAME_AT : _NAME_AT + _NAME_BYTES]
    # Cut at the first NUL code unit, on an even offset: a NUL byte inside a character
    # (any Latin-1 letter's high byte) is not the terminator.
    units = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<u2")
    ends = np.flatnonzero(units == 0)
    if ends.size:
        raw = raw[: 2 * int(ends[0])]
    return raw.decode("utf-16-le", errors="replace")


class EncaseAdapter(FormatAdapter):
    """EnCase legacy ``.hash`` sets: MD5 records and a set name, no file names.

    The signature is what makes a file this format: a file without it, or too short to
    hold the 1152-byte header, is :class:`UnsupportedFormat`. A trailing partial record
    and a header count that disagrees with the records found are warnings.
    """

    NAME: ClassVar[str] = "encase"
    DESCRIPTION: ClassVar[str] = "EnCase legacy binary hash sets (.hash, MD5)"
    PRIORITY: ClassVar[int] = 5
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The file starts with the 8-byte EnCase signature."""
        return head[: len(MAGIC)] == MAGIC

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per 18-byte MD5 record: ``md5`` and the ``set_name`` label."""
        header = _read_full(stream, HEADER_SIZE)
        if header[: len(MAGIC)] != MAGIC:
            raise UnsupportedFormat(
                f"no EnCase hash set signature: starts with {header[:8]!r}",
                source=context.source,
                line=1,
            )
        if len(header) < HEADER_SIZE:
            raise UnsupportedFormat(
                f"the EnCase header is {HEADER_SIZE} bytes; the file has {len(header)}",
                source=context.source,
                line=1,
            )
        (declared,) = struct.unpack_from("<I", header, _COUNT_AT)
        labels = encode_labels({Label.SET_NAME: _set_name(header)})
        per_read = max(1, min(context.batch_size, _MAX_CHUNK_RECORDS))
        found = 0
        while True:
            data = _read_full(stream, per_read * RECORD_SIZE)
            whole = len(data) // RECORD_SIZE
            if whole:
                records = np.frombuffer(data, dtype=np.uint8, count=whole * RECORD_SIZE)
                yield make_batch(
                    {
                        "line": pa.array(np.arange(found + 1, found + whole + 1, dtype=np.int64)),
                        "md5": _hex_md5s(records.reshape(whole, RECORD_SIZE)),
                        "labels": pa.repeat(pa.scalar(labels, pa.string()), whole),
                    }
                )
                found += whole
            rest = len(data) - whole * RECORD_SIZE
            if rest:
                context.warn(found + 1, f"truncated last record: {rest} of {RECORD_SIZE} bytes")
            if len(data) < per_read * RECORD_SIZE:
                break
        if declared != found:
            context.warn(
                min(declared, found) + 1,
                f"the header declares {declared} hashes; the file holds {found}",
            )
