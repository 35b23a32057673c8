"""hashdeep manifests: the ``HASHDEEP-1.0`` file format (FORMATS.md §6.1).

::

    %%%% HASHDEEP-1.0
    %%%% size,md5,sha256,filename
    ## Invoked from: /cases/SYN-0001
    21,8ae3...ace1,4748...f62c,evidence/a.bin

The second header line names the columns: ``size`` first, ``filename`` last, digests in
between in any subset and order (``md5``, ``sha1``/``sha-1``, ``sha256``/``sha-256``,
``tiger``, ``whirlpool``, and whatever reimplementations add). Columns hashmatch does not
match are ignored. Data lines are unquoted CSV whose *last* field, the file name, may
itself hold commas: a line is split on its first N-1 commas only. ``#`` lines are
comments (hashdeep writes ``## Invoked from:``, ``## $ command`` or ``## C:\\>command``,
and a bare ``##``). A second header block (two manifests concatenated) replaces the
column list from where it appears.

:meth:`HashdeepAdapter.read` works a chunk of lines at a time: data lines with the
declared number of fields and a plain decimal size (nearly all of them) are split and
placed by vectorised Arrow compute; every other line (comments, header lines, wrong
field counts, odd sizes) goes one by one through :func:`_parse_data`, the rule that
:meth:`HashdeepAdapter.read_by_line`, the line-at-a-time reference reader, applies to
every line. Both give the same batches and the same warnings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext, RecordNote
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import make_batch
from hashmatch.textio import iter_line_batches, iter_lines

from ._common import (
    DIGEST_COLUMNS,
    MAX_SIZE,
    BatchAssembler,
    BatchBuffer,
    LineCursor,
    TextColumn,
    algorithm_column,
    choose,
    head_lines,
)

__all__ = ["HashdeepAdapter"]

MAGIC = "%%%% HASHDEEP-1.0"
NOT_ASSESSABLE = "## not_assessable: "
"""The comment ``hashmatch scan`` writes for a file it could not hash."""
_PREFIX = "%%%%"

# Names hashdeep and its reimplementations write for the algorithms hashmatch matches.
# Anything else (tiger, whirlpool, sha512, blake3...) is a column to skip.
_KNOWN_DIGESTS = frozenset({"md5", "sha1", "sha-1", "sha256", "sha-256"})

_HASH, _PERCENT = ord("#"), ord("%")
_SIZE_DIGITS = 18
"""Sizes of up to this many decimal digits fit an int64: the vectorised path reads them."""


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields of a data line are, from a ``%%%% size,...,filename`` line."""

    fields: int
    size: int | None
    digests: tuple[tuple[str, int], ...]
    """(record column, field index) of each digest the file has: md5, sha1, sha256."""


def _parse_layout(line: str) -> _Layout | str:
    """The column layout a ``%%%%`` column line declares, or why it declares none."""
    names = [name.strip().lower() for name in line[len(_PREFIX) :].split(",")]
    if len(names) < 2 or names[-1] != "filename":
        return f"the column line must end with 'filename': {line[:80]!r}"
    if "filename" in names[:-1]:
        return "the column line names 'filename' twice"
    digests: list[int | None] = [None, None, None]
    for index, name in enumerate(names[:-1]):
        if name in _KNOWN_DIGESTS:
            column = algorithm_column(name)
            if column is not None and digests[column] is None:
                digests[column] = index
    if digests == [None, None, None]:
        return f"no md5, sha1 or sha256 column in {line[:80]!r}"
    size = names.index("size") if "size" in names else None
    present = tuple(
        (name, at) for name, at in zip(DIGEST_COLUMNS, digests, strict=True) if at is not None
    )
    return _Layout(fields=len(names), size=size, digests=present)


class HashdeepAdapter(FormatAdapter):
    """hashdeep's ``HASHDEEP-1.0`` manifests: size, digests and file name per line.

    The header is what makes a file this format, so a missing or malformed header is
    :class:`UnsupportedFormat`; after it, a data line with the wrong number of fields or
    a size that is not a number is a warning.
    """

    NAME: ClassVar[str] = "hashdeep"
    DESCRIPTION: ClassVar[str] = "hashdeep HASHDEEP-1.0 manifest (size, digests, filename)"
    PRIORITY: ClassVar[int] = 10

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first non-blank line is ``%%%% HASHDEEP-1.0``."""
        lines, _ = head_lines(head)
        for line in lines:
            if line.strip():
                return line.strip() == MAGIC
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per data line, with ``size``, digests and ``path``."""
        lines = LineCursor(iter_line_batches(stream, batch_size=context.batch_size))
        layout = self._read_header(lines, context.source)
        assembler = BatchAssembler(context)
        for first, chunk in lines.rest():
            start = 0
            while True:
                records, warnings, found = _read_chunk(
                    first + start, chunk[start:] if start else chunk, layout
                )
                yield from assembler.add(records, warnings)
                if found is None:
                    break
                # A second header block: its rows start a batch of their own, as the
                # line-at-a-time reader's do.
                yield from assembler.finish()
                layout, used = found
                start += used
        yield from assembler.finish()

    def read_by_line(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, found one line at a time: its reference twin.

        Slower, and plain enough to check by eye; the tests hold :meth:`read` to it.
        """
        lines = iter_lines(stream)
        layout: _Layout | None = self._read_header(lines, context.source)
        while layout is not None:
            # One pass per header block: a second block may name other columns.
            buffer = BatchBuffer(("size", "path", *(name for name, _ in layout.digests)))
            columns = buffer.columns
            digests = [columns[name] for name, _ in layout.digests]
            next_layout: _Layout | None = None
            for number, line in lines:
                parsed = _parse_data(line, layout)
                if isinstance(parsed, _Layout):
                    next_layout = parsed
                    break
                row, warning = parsed
                if warning is not None:
                    context.warn(number, warning)
                if row is None:
                    continue
                size, path, values = row
                columns["line"].append(number)
                columns["size"].append(size)
                columns["path"].append(path)
                for column, value in zip(digests, values, strict=True):
                    column.append(value)
                if len(buffer) >= context.batch_size:
                    yield buffer.flush()
            if len(buffer):
                yield buffer.flush()
            layout = next_layout

    @staticmethod
    def _read_header(lines: Iterator[tuple[int, str]], source: str) -> _Layout:
        """Consume the two header lines (comments and blank lines may come between)."""
        seen_magic = False
        for number, line in lines:
            text = line.strip()
            if not text or (seen_magic and text.startswith("#")):
                continue
            if not seen_magic:
                if text != MAGIC:
                    raise UnsupportedFormat(
                        f"expected {MAGIC!r}, got {text[:60]!r}", source=source, line=number
                    )
                seen_magic = True
                continue
            if not text.startswith(_PREFIX):
                raise UnsupportedFormat(
                    "a data line before the '%%%% size,...,filename' column line",
                    source=source,
                    line=number,
                )
            layout = _parse_layout(text)
            if isinstance(layout, str):
                raise UnsupportedFormat(layout, source=source, line=number)
            return layout
        raise UnsupportedFormat(
            "no HASHDEEP-1.0 header" if not seen_magic else "no column line after the header",
            source=source,
        )


_Row = tuple[int | None, str, tuple[str, ...]]
"""(size, file name, the layout's digest fields in its order) of one data line."""


def _parse_data(line: str, layout: _Layout) -> _Layout | tuple[_Row | None, str | None]:
    """One line after the header: a new layout (a second header block), or the line's row
    (None for a line to skip) and a warning about it (None for none).

    A ``## not_assessable: <reason><TAB><path>`` comment (what ``hashmatch scan`` writes
    for a file it could not hash) is a row with the path and no digest, and its reason as
    a :class:`RecordNote`, so that checking a scan's manifest again gives the same verdicts.
    """
    if line.startswith(NOT_ASSESSABLE):
        reason, tab, path = line[len(NOT_ASSESSABLE) :].rstrip("\r").partition("\t")
        if tab:
            return (None, path, ("",) * len(layout.digests)), RecordNote(reason)
    if line[:1] in "#%":  # also true for an empty line
        warning = None
        if line.startswith(_PREFIX) and line.rstrip() != MAGIC:
            found = _parse_layout(line)
            if not isinstance(found, str):
                return found
            warning = f"ignored a column line: {found}"
        if line[:1] != "%" or line.startswith(_PREFIX):
            return None, warning
    splits = layout.fields - 1
    parts = line.split(",", splits)
    if len(parts) <= splits:
        if line and not line.isspace():
            return None, f"expected {splits + 1} fields, got {len(parts)}"
        return None, None
    size: int | None = None
    warning = None
    if layout.size is not None:
        try:
            size = int(parts[layout.size])
        except ValueError:
            warning = f"size is not a number: {parts[layout.size][:40]!r}"
        else:
            if not 0 <= size <= MAX_SIZE:
                size, warning = None, f"size is out of range: {parts[layout.size][:40]!r}"
    # Digests are passed as found: the core trims whitespace and reads "" as "no digest".
    return (size, parts[splits], tuple(parts[at] for _, at in layout.digests)), warning


def _read_chunk(
    first: int, lines: list[str], layout: _Layout
) -> tuple[pa.RecordBatch, list[tuple[int, str]], tuple[_Layout, int] | None]:
    """The records and warnings of a chunk of lines (numbered from ``first``) under ``layout``.

    Stops at a second header block's column line, and then also gives its layout and how
    many lines were read (the column line included); the rest is for the new layout.
    """
    text = TextColumn.of(lines)
    n = len(lines)
    splits = layout.fields - 1
    parts = pc.split_pattern(text.array, ",", max_splits=splits)
    lead = text.byte_at(0)
    keep = (
        (text.lengths > 0)
        & (lead != _HASH)
        & (lead != _PERCENT)
        & (pc.list_value_length(parts).to_numpy(zero_copy_only=False) == splits + 1)
    )
    starts = parts.offsets.to_numpy()[:-1]
    values = parts.values

    def field(index: int) -> pa.Array:
        return values.take(pa.array(np.where(keep, starts + index, 0)))

    sizes: pa.Array = pa.nulls(n, pa.int64())
    if layout.size is not None:
        size_text = field(layout.size)
        keep &= pc.ascii_is_decimal(size_text).to_numpy(zero_copy_only=False)
        keep &= pc.binary_length(size_text).to_numpy(zero_copy_only=False) <= _SIZE_DIGITS
        sizes = pc.cast(choose(keep, size_text), pa.int64())
    paths = field(splits)
    digests = [field(at) for _, at in layout.digests]
    warnings: list[tuple[int, str]] = []
    found: tuple[_Layout, int] | None = None
    slow = np.flatnonzero(~keep)
    if slow.size:
        rows: list[int] = []
        slow_sizes: list[int | None] = []
        slow_paths: list[str] = []
        slow_digests: list[tuple[str, ...]] = []
        for index in slow.tolist():
            parsed = _parse_data(lines[index], layout)
            if isinstance(parsed, _Layout):
                found = (parsed, index + 1)
                keep[index:] = False
                break
            row, warning = parsed
            if warning is not None:
                warnings.append((first + index, warning))
            if row is not None:
                rows.append(index)
                slow_sizes.append(row[0])
                slow_paths.append(row[1])
                slow_digests.append(row[2])
        if rows:
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            keep |= mask
            chosen = pa.array(mask)
            sizes = pc.replace_with_mask(sizes, chosen, pa.array(slow_sizes, pa.int64()))
            paths = pc.replace_with_mask(paths, chosen, pa.array(slow_paths, pa.string()))
            digests = [
                pc.replace_with_mask(column, chosen, pa.array(list(found_values), pa.string()))
                for column, found_values in zip(
                    digests, zip(*slow_digests, strict=True), strict=True
                )
            ]
    columns = {"size": sizes, "path": paths}
    columns.update(
        (name, column) for (name, _), column in zip(layout.digests, digests, strict=True)
    )
    if not keep.all():
        chosen = pa.array(keep)
        columns = {name: column.filter(chosen) for name, column in columns.items()}
    numbers = np.arange(first, first + n, dtype=np.int64)[keep]
    return make_batch({"line": pa.array(numbers), **columns}), warnings, found
