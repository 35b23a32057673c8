"""Helpers the line-based adapters share: batch buffers, digest routing, head lines, sizes.

Nothing here knows a file format. It exists so that each adapter module stays about its
own format: how rows are gathered into :data:`hashmatch.records.RECORD_SCHEMA` batches
(line by line with :class:`BatchBuffer`, or a chunk of lines at a time with
:class:`BatchAssembler`, :class:`LineCursor` and the byte-level views of
:class:`TextColumn`), which column a digest of unknown algorithm goes to, and how a
sniffer looks at the first lines of a file without tripping over a line the 64 KiB head
cut in two.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import DigestError
from hashmatch.records import make_batch
from hashmatch.textio import decode_head

__all__ = [
    "DIGEST_COLUMNS",
    "MAX_SIZE",
    "BatchAssembler",
    "BatchBuffer",
    "LineCursor",
    "TextColumn",
    "algorithm_column",
    "choose",
    "column_for_digest",
    "describe_bad_digest",
    "digest_columns",
    "head_lines",
    "is_hex_digest",
    "local_path",
    "parse_size",
]

DIGEST_COLUMNS: tuple[str, str, str] = ("md5", "sha1", "sha256")
"""The record columns that hold digests, in the order the column indices below use."""

_COLUMN_BY_HEX_LENGTH = {32: 0, 40: 1, 64: 2}
# Base64 of 16, 20 and 32 bytes is 24, 28 and 44 characters, always ending in "=";
# no hex length collides with these.
_COLUMN_BY_B64_LENGTH = {24: 0, 28: 1, 44: 2}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def column_for_digest(token: str) -> int | None:
    """Which digest column (0 md5, 1 sha1, 2 sha256) a value of unknown algorithm goes to.

    Told from the length alone: 32, 40 or 64 characters of (supposed) hex, or 24, 28 or
    44 characters of base64 ending in ``=``. The characters are not checked: the core
    parses every digest column in one pass and reports what is not hex. None when the
    length fits no algorithm.
    """
    column = _COLUMN_BY_HEX_LENGTH.get(len(token))
    if column is None and token.endswith("="):
        column = _COLUMN_BY_B64_LENGTH.get(len(token))
    return column


def describe_bad_digest(token: str) -> str:
    """Why ``token``, which :func:`column_for_digest` placed nowhere, is not a digest."""
    if _HEX_DIGITS.issuperset(token):
        return f"{len(token)} hex digits is no md5, sha1 or sha256 digest: {token[:70]!r}"
    return f"not a digest: {token[:70]!r}"


def is_hex_digest(token: str) -> bool:
    """True for 32, 40 or 64 hex digits (any case): what a sniffer may insist on."""
    return len(token) in _COLUMN_BY_HEX_LENGTH and _HEX_DIGITS.issuperset(token)


@functools.lru_cache(maxsize=256)
def algorithm_column(name: str) -> int | None:
    """The digest column for an algorithm named in a file (``MD5``, ``SHA2-256``, ``sha-1``).

    None for an algorithm hashmatch does not match (SHA-512, BLAKE2, Tiger...).
    """
    try:
        return DIGEST_COLUMNS.index(Algorithm.parse(name).value)
    except DigestError:
        return None


class BatchBuffer:
    """Column lists for the rows of one batch, turned into a record batch by :meth:`flush`.

    Adapters append to the lists in :attr:`columns` directly (binding ``list.append``
    once per read keeps the per-line cost down); :meth:`flush` empties the lists in place,
    so those bound methods stay valid.
    """

    __slots__ = ("_line", "columns")

    def __init__(self, names: Iterable[str]) -> None:
        self.columns: dict[str, list[Any]] = {"line": []}
        for name in names:
            self.columns[name] = []
        self._line = self.columns["line"]

    def __len__(self) -> int:
        return len(self._line)

    def flush(self) -> pa.RecordBatch:
        """The buffered rows as a record batch; the buffer is empty afterwards."""
        batch = make_batch(self.columns)
        for values in self.columns.values():
            values.clear()
        return batch


class BatchAssembler:
    """Batches of ``context.batch_size`` rows from records found a chunk of lines at a time.

    A chunked reader finds a whole chunk's records and warnings before it yields anything,
    where a line-at-a-time reader yields each batch as soon as its last row is read and
    warns about a bad line when it gets there. :meth:`add` keeps the line-at-a-time order:
    before the warning about line N it yields every batch that rows of earlier lines
    complete. Batch boundaries, and what a consumer sees in ``context.warnings`` between
    batches (where ``strict`` stops, too), are then the same for both kinds of reader.
    Rows are copied only for a batch that spans two chunks.
    """

    __slots__ = ("_context", "_held", "_held_rows")

    def __init__(self, context: ReadContext) -> None:
        self._context = context
        self._held: list[pa.RecordBatch] = []
        self._held_rows = 0

    def add(
        self, records: pa.RecordBatch, warnings: Sequence[tuple[int, str]] = ()
    ) -> Iterator[pa.RecordBatch]:
        """Yield the full batches ``records`` complete, and issue ``warnings`` in between.

        ``records`` (rows in line order) and ``warnings`` (``(line, reason)`` in line order)
        must come after all the lines of earlier calls.
        """
        used = 0
        if warnings:
            lines = records.column("line").to_numpy()
            befores = np.searchsorted(lines, [line for line, _ in warnings]).tolist()
            for (line, reason), before in zip(warnings, befores, strict=True):
                used = yield from self._emit(records, used, before)
                self._context.warn(line, reason)
        used = yield from self._emit(records, used, records.num_rows)
        if used < records.num_rows:
            self._held.append(records.slice(used))
            self._held_rows += records.num_rows - used

    def finish(self) -> Iterator[pa.RecordBatch]:
        """Yield the rows left over, fewer than a batch, if there are any."""
        if self._held:
            yield self._held[0] if len(self._held) == 1 else pa.concat_batches(self._held)
            self._held = []
            self._held_rows = 0

    def _emit(
        self, records: pa.RecordBatch, used: int, limit: int
    ) -> Generator[pa.RecordBatch, None, int]:
        """Yield the batches that the held rows and ``records[used:limit]`` fill; return
        how many rows of ``records`` have gone into them."""
        size = self._context.batch_size
        while used + size - self._held_rows <= limit:
            piece = records.slice(used, size - self._held_rows)
            used += size - self._held_rows
            if self._held:
                piece = pa.concat_batches([*self._held, piece])
                self._held = []
                self._held_rows = 0
            yield piece
        return used


class LineCursor:
    """The lines of a chunked stream (:func:`hashmatch.textio.iter_line_batches`), read one
    at a time as an iterator of ``(number, line)``, or what is left of a chunk at once.

    Lets a reader go line by line where it must (a header, a quoted CSV field that runs
    over several lines) and a chunk at a time everywhere else, on the same stream.
    """

    __slots__ = ("_chunks", "first", "lines", "position")

    def __init__(self, chunks: Iterator[tuple[int, list[str]]]) -> None:
        self._chunks = chunks
        self.first = 1
        """Number of the current chunk's first line."""
        self.lines: list[str] = []
        """The current chunk."""
        self.position = 0
        """Index in the current chunk of the next line to read."""

    def __iter__(self) -> LineCursor:
        return self

    def __next__(self) -> tuple[int, str]:
        if not self.advance():
            raise StopIteration
        index = self.position
        self.position += 1
        return self.first + index, self.lines[index]

    def advance(self) -> bool:
        """Move to the next chunk if the current one is used up; False at the end."""
        while self.position >= len(self.lines):
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self.first, self.lines = chunk
            self.position = 0
        return True

    def rest(self) -> Iterator[tuple[int, list[str]]]:
        """The lines not read yet, a chunk at a time (the current chunk's remainder first)."""
        while self.advance():
            lines = self.lines[self.position :] if self.position else self.lines
            first = self.first + self.position
            self.position = len(self.lines)
            yield first, lines


BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class TextColumn:
    """A chunk of lines as one Arrow string array, with numpy views of its UTF-8 bytes.

    What the fast paths look at: whole lines through vectorised regular expressions, then
    single bytes (where a digest ends, what follows it) and fields cut out by byte
    position. Cutting by bytes is only sound where everything before the cut is ASCII,
    which the regular expressions that select the rows guarantee.
    """

    __slots__ = ("array", "data", "lengths", "starts")

    def __init__(self, array: pa.StringArray) -> None:
        offsets = np.frombuffer(
            array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=4 * array.offset
        )
        data = array.buffers()[2]
        self.array = array
        self.starts: IntArray = offsets[:-1].astype(np.int64)
        self.lengths: IntArray = np.diff(offsets).astype(np.int64)
        self.data: npt.NDArray[np.uint8] = (
            np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else _NO_BYTES
        )

    @classmethod
    def of(cls, lines: list[str]) -> TextColumn:
        """The column of a chunk of lines."""
        return cls(pa.array(lines, pa.string()))

    def slice(self, start: int, stop: int) -> TextColumn:
        """Lines ``start`` to ``stop`` (zero-copy)."""
        return TextColumn(self.array.slice(start, stop - start))

    def __len__(self) -> int:
        return len(self.array)

    def matches(self, pattern: str, *, within: int) -> BoolArray:
        """Which lines ``pattern`` (RE2 syntax) matches within their first ``within`` bytes.

        The bytes are searched as bytes (``.`` is one byte, ``$`` matches where those bytes
        end): quicker than whole lines of text, for a pattern that needs no more to decide.
        """
        head = pc.binary_slice(self.array.view(pa.binary()), 0, within)
        found: BoolArray = pc.match_substring_regex(head, pattern).to_numpy(zero_copy_only=False)
        return found

    def byte_at(self, position: int | IntArray) -> npt.NDArray[np.uint8]:
        """The byte at ``position`` (one for all lines, or one per line) of each line; 0
        where the line is not that long."""
        at = np.minimum(self.starts + position, len(self.data) - 1)
        found: npt.NDArray[np.uint8] = self.data[at]
        found[self.lengths <= position] = 0
        return found

    def cut(self, start: int, stop: int | None = None) -> pa.BinaryArray:
        """Bytes ``start`` to ``stop`` (the end if None) of every line, as binary values.

        Only the values of lines whose bytes before ``start`` and ``stop`` are ASCII are
        whole UTF-8 text: keep only those before viewing the result as strings.
        """
        if stop is None:
            stop = max(int(self.lengths.max(initial=0)), start)
        cut: pa.BinaryArray = pc.binary_slice(self.array.view(pa.binary()), start, stop)
        return cut


_NO_BYTES = np.zeros(1, dtype=np.uint8)


def choose(mask: BoolArray, values: pa.Array) -> pa.Array:
    """``values`` where ``mask`` holds, null elsewhere."""
    if mask.all():
        return values
    if not mask.any():
        return pa.nulls(len(mask), values.type)
    return pc.if_else(pa.array(mask), values, pa.scalar(None, values.type))


def digest_columns(values: pa.Array, which: npt.NDArray[np.int8]) -> dict[str, pa.Array]:
    """The md5, sha1 and sha256 record columns: each value in the column ``which`` says
    (0, 1 or 2, by :data:`DIGEST_COLUMNS`; -1 for none), null in the other two."""
    return {name: choose(which == index, values) for index, name in enumerate(DIGEST_COLUMNS)}


def head_lines(head: bytes) -> tuple[list[str], bool]:
    """The lines of a sniffed head (BOM and UTF-16 aware, ``\\r`` stripped), never raising.

    Also says whether the last line may be incomplete: the head is the first 64 KiB of a
    file, so unless it ends with a newline its last line may have been cut in two. Lines
    are split on ``\\n`` only, as the readers do.
    """
    text = decode_head(head).removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
        return lines, False
    return lines, True


# Sizes are whole bytes, so a dot between groups of three digits is a thousands separator too.
_SIZE_GROUPED = re.compile(r"[0-9]{1,3}([,.' _\u00a0\u202f])[0-9]{3}(?:\1[0-9]{3})*")


_NO_SEPARATORS = str.maketrans("", "", ",.' _\u00a0\u202f")


MAX_SIZE = 2**63 - 1
"""The largest size a record can carry (Arrow int64); a larger one is a warning, not a crash."""


def parse_size(text: str) -> int | None:
    """A file size in bytes from its text, accepting thousands separators (``1,234``, ``1 234``).

    Raises :class:`ValueError` for text that is no byte count; empty text is None.
    """
    value = text.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        size = int(value)
    elif _SIZE_GROUPED.fullmatch(value):
        size = int(value.translate(_NO_SEPARATORS))
    else:
        raise ValueError(f"size is not a byte count: {value[:40]!r}")
    if size > MAX_SIZE:
        raise ValueError(f"size is out of range: {value[:40]!r}")
    return size


@contextlib.contextmanager
def local_path(stream: BinaryIO, context: ReadContext) -> Iterator[Path]:
    """A file on disk holding the stream's bytes, for formats that need one (SQLite).

    The file being read when there is one (``context.path``); otherwise the stream is
    copied, in chunks, to a temporary file that is removed afterwards.
    """
    if context.path is not None:
        yield context.path
        return
    with tempfile.TemporaryDirectory(prefix="hashmatch-") as folder:
        copy = Path(folder) / "input"
        with open(copy, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        yield copy
