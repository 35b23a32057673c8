"""Delimited text with a header row: vendor exports, PowerShell ``Get-FileHash``.

The header row says which column is which, through the alias table of FORMATS.md §6.10
(matched case-insensitively, ignoring spaces and a byte-order mark):

* md5: ``MD5``, ``MD5 Hash``; sha1: ``SHA1``, ``SHA-1``, ``SHA1 Hash``, ``HashSHA1``;
  sha256: ``SHA256``, ``SHA-256``, ``SHA-256 Hash``, ``SHA256 Hash``, ``HashSHA256``;
* ``Hash``, ``Hash Value``: a digest whose algorithm the row's ``Algorithm`` column names
  (PowerShell ``Get-FileHash | Export-Csv``) or, without one, its length tells (32 md5,
  40 sha1, 64 sha256);
* size: ``Size``, ``File Size``, ``FileSize``, ``Size (bytes)``, ``Logical Size``, read
  leniently (``1,234`` and ``1 234`` are 1234);
* path: ``Path``, ``Location``, ``Full Path``, ``FilePath``, ``Directory Path``,
  ``FileNames``, ``File Location``; name: ``Name``, ``File Name``, ``FileName``. With
  both, a path that does not already end in the name is taken for its directory and
  joined to it with the separator the directory uses;
* ``Category``: kept as the label ``category``, verbatim.

Headers the table does not name are found by keyword (FORMATS.md §6.3: X-Ways names its
hash columns after the hash types the examiner chose, one column per type): ``hash``,
optionally followed by ``value`` and a number, optionally with an algorithm before it or
in brackets after it (``Hash Value (SHA-1)``, ``Hash 2``, ``SHA-1 Hash Value``). With an
algorithm the column is that algorithm's; without one it is a generic hash column like
``Hash``, every value placed by its shape (its length). A file may have several generic
hash columns; a value fills a digest column no earlier column has filled. ``Hash Set``,
``In Hashsets`` and the like are not hash columns.

Vendor exports this covers (FORMATS.md §6.3-6.6, 6.9): Autopsy file lists (``Name``,
``Location``, ``MD5 Hash``, ``SHA-256 Hash``, ``Size``), Griffeye Analyze (``MD5``,
``SHA-1``, ``SHA-256``, ``File Size``, ``Directory Path`` + ``File Name``, ``Category``),
X-Ways file lists (tab-separated UTF-16LE, ``Name``, ``Path``, one hash column per hash
type, grouped sizes), FTK Imager hash lists (``"MD5","SHA1","FileNames"``) and PowerShell
``Get-FileHash | Export-Csv`` in every encoding.

The delimiter is whichever of ``,`` ``;`` and tab makes the header row a header; quoting
follows the stdlib :mod:`csv` module (doubled quotes, newlines inside quoted fields). A
leading ``#TYPE ...`` line (Windows PowerShell 5.1) is skipped. Other columns are ignored.

:meth:`CsvAdapter.read` works a chunk of lines at a time. A line without a quote (nor a
carriage return or NUL inside it) reads the same from the csv module as from a split on
the delimiter, so long runs of such lines are split and checked by vectorised Arrow
compute; their rows that need a second look (wrong field counts, padded or odd cells,
and every row of a file with generic hash or ``Name`` columns) go one by one through
:func:`_parse_row`. Everything else is read by the csv module, row by row, as
:meth:`CsvAdapter.read_by_line`, the reference reader, reads every line. Both give the
same batches and the same warnings.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import RECORD_SCHEMA, encode_labels, make_batch
from hashmatch.textio import iter_line_batches, iter_lines

from ._common import (
    DIGEST_COLUMNS,
    BatchAssembler,
    BatchBuffer,
    LineCursor,
    TextColumn,
    algorithm_column,
    choose,
    column_for_digest,
    head_lines,
    parse_size,
)

__all__ = ["CsvAdapter"]

DELIMITERS = (",", ";", "\t")

_ALIASES: dict[str, tuple[str, ...]] = {
    "md5": ("MD5", "MD5 Hash"),
    "sha1": ("SHA1", "SHA-1", "SHA1 Hash", "HashSHA1"),
    "sha256": ("SHA256", "SHA-256", "SHA-256 Hash", "SHA256 Hash", "HashSHA256"),
    # X-Ways' "Hash Value" holds whichever hash type the examiner chose: placed by length.
    "hash": ("Hash", "Hash Value"),
    "algorithm": ("Algorithm",),
    "size": ("Size", "File Size", "FileSize", "Size (bytes)", "Logical Size"),
    "path": (
        "Path",
        "Location",
        "Full Path",
        "FilePath",
        "Directory Path",
        "FileNames",
        "File Location",
    ),
    "name": ("Name", "File Name", "FileName"),
    "category": ("Category",),
}
"""Header names per role, in order of preference when a file has more than one (every
``hash`` column is kept). Headers not named here may still be hash columns: see
:func:`_keyword_role`."""


def _key(header: str) -> str:
    return "".join(header.replace("\ufeff", "").split()).lower()


_ROLE_OF = {_key(alias): role for role, aliases in _ALIASES.items() for alias in aliases}
_RANK_OF = {
    _key(alias): rank for aliases in _ALIASES.values() for rank, alias in enumerate(aliases)
}
_DIGEST_ROLES = ("md5", "sha1", "sha256", "hash")
_LABEL_CACHE_SIZE = 4096

_ALGORITHM = r"(md5|sha-?1|sha-?256)"
_HASH_KEYWORD = re.compile(
    rf"{_ALGORITHM}?[-_]?hash(?:[-_]?(?:value|wert))?[-_]?[0-9]?(?:\({_ALGORITHM}\)|{_ALGORITHM})?"
)
"""A hash column's header (as :func:`_key` gives it) that the alias table does not name:
``hash``, perhaps ``value`` (German ``Wert``) and a number, perhaps an algorithm before
or after it (in brackets or not). Matched against the whole header, so ``hashset`` and
``inhashsets`` are no hash columns."""
_KEYWORD_RANK = len(max(_ALIASES.values(), key=len))
"""Rank of a column found by keyword: after every column the table names."""


def _keyword_role(key: str) -> str | None:
    """The role of a header the alias table does not name, found by keyword: a digest
    column (``Hash Value (SHA-1)``), a generic hash column (``Hash 2``), or None."""
    found = _HASH_KEYWORD.fullmatch(key)
    if found is None:
        return None
    named = found[2] or found[3] or found[1]
    if named is None:
        return "hash"
    column = algorithm_column(named)
    return "hash" if column is None else DIGEST_COLUMNS[column]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which field of a row plays which role (None: no such column)."""

    delimiter: str
    fields: int
    md5: int | None = None
    sha1: int | None = None
    sha256: int | None = None
    hashes: tuple[int, ...] = ()
    """Generic hash columns, each value placed by the ``Algorithm`` column or its length."""
    algorithm: int | None = None
    size: int | None = None
    path: int | None = None
    name: int | None = None
    category: int | None = None


def _layout(headers: Sequence[str], delimiter: str) -> _Layout | None:
    """The layout a header row declares, or None when it names no digest column."""
    chosen: dict[str, tuple[int, int]] = {}
    hashes: list[int] = []
    for index, header in enumerate(headers):
        key = _key(header)
        role = _ROLE_OF.get(key)
        rank = _RANK_OF.get(key, _KEYWORD_RANK)
        if role is None:
            role = _keyword_role(key)
            if role is None:
                continue
        if role == "hash":
            hashes.append(index)
        elif role not in chosen or rank < chosen[role][0]:
            chosen[role] = (rank, index)
    if not hashes and not any(role in chosen for role in _DIGEST_ROLES):
        return None
    roles = {role: index for role, (_, index) in chosen.items()}
    return _Layout(delimiter=delimiter, fields=len(headers), hashes=tuple(hashes), **roles)


def _parse_header(line: str) -> _Layout | None:
    """The delimiter and layout of a header line: the delimiter that gives the most fields
    among those that make a header with a digest column."""
    best: _Layout | None = None
    for delimiter in DELIMITERS:
        if delimiter not in line and best is not None:
            continue
        headers = next(csv.reader([line], delimiter=delimiter), [])
        layout = _layout(headers, delimiter)
        if layout is not None and (best is None or layout.fields > best.fields):
            best = layout
    return best


def _join(directory: str, name: str) -> str:
    """``directory`` and ``name`` as one path, unless ``directory`` already ends in ``name``."""
    if not directory:
        return name
    if not name or directory == name:
        return directory
    separator = "\\" if "\\" in directory and "/" not in directory else "/"
    if directory.endswith(separator + name):
        return directory
    if directory.endswith(separator):
        return directory + name
    return directory + separator + name


class CsvAdapter(FormatAdapter):
    """Delimited exports with a header row naming at least one digest column.

    The header row is what makes a file this format: without a digest column it is
    :class:`UnsupportedFormat`. Rows with too few or too many fields are warnings (their
    fields are still read where they are), as are sizes that are not byte counts.
    """

    NAME: ClassVar[str] = "csv"
    DESCRIPTION: ClassVar[str] = "CSV/TSV with a header row (MD5, SHA1, SHA256, Hash, Path...)"
    PRIORITY: ClassVar[int] = 30

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first line (after an optional ``#TYPE`` line) is a header with a digest column."""
        lines, _ = head_lines(head)
        for line in lines[:2]:
            if line.startswith("#TYPE"):
                continue
            try:
                return _parse_header(line) is not None
            except csv.Error:
                return False
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per data row; ``line`` is the physical line the row starts on."""
        lines = LineCursor(iter_line_batches(stream, batch_size=context.batch_size))
        _, layout = _read_header(lines, context.source)
        yield from _Rows(lines, layout, context).read()

    def read_by_line(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, every row read by the :mod:`csv` module: its reference
        twin. Slower, and plain enough to check by eye; the tests hold :meth:`read` to it."""
        lines = iter_lines(stream)
        after, layout = _read_header(lines, context.source)
        buffer = BatchBuffer(_RECORD_COLUMNS)
        adders = [buffer.columns[name].append for name in ("line", *_RECORD_COLUMNS)]
        labels = _Labels()
        # iter_lines drops line ends; the csv module needs them back to keep a newline
        # that sits inside a quoted field (CRLF comes back as LF, so no "\r" leaks in).
        reader = csv.reader((text + "\n" for _, text in lines), delimiter=layout.delimiter)
        while True:
            number = after + reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                context.warn(number, f"unreadable row: {exc}")
                continue
            record, warnings = _parse_row(row, layout, labels)
            for reason in warnings:
                context.warn(number, reason)
            if record is None:
                continue
            for add, value in zip(adders, (number, *record), strict=True):
                add(value)
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()


_RECORD_COLUMNS = ("md5", "sha1", "sha256", "size", "path", "labels")
_CsvRecord = tuple[str | None, str | None, str | None, int | None, str | None, str | None]
"""The values of :data:`_RECORD_COLUMNS` for one row."""


def _read_header(lines: Iterator[tuple[int, str]], source: str) -> tuple[int, _Layout]:
    """Consume the header row (after an optional ``#TYPE`` line): its line and layout."""
    for header_number, text in lines:
        if header_number == 1 and text.startswith("#TYPE"):
            continue
        if not text.strip():
            raise UnsupportedFormat("no header row", source=source, line=header_number)
        try:
            layout = _parse_header(text)
        except csv.Error as exc:
            raise UnsupportedFormat(
                f"unreadable header row: {exc}", source=source, line=header_number
            ) from None
        if layout is None:
            raise UnsupportedFormat(
                f"no digest column in the header row {text[:80]!r}",
                source=source,
                line=header_number,
            )
        return header_number, layout
    raise UnsupportedFormat("no header row", source=source)


class _Labels:
    """Canonical labels JSON per category: categories repeat, so the JSON is kept."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}

    def __call__(self, category: str) -> str | None:
        labels = self._cache.get(category)
        if labels is None:
            labels = encode_labels({"category": category})
            if len(self._cache) < _LABEL_CACHE_SIZE:
                self._cache[category] = labels
        return labels


def _parse_row(
    row: list[str], layout: _Layout, labels: _Labels
) -> tuple[_CsvRecord | None, list[str]]:
    """One row as the csv module read it: its record (None to skip a blank row) and the
    reasons to warn about it, in order."""
    warnings: list[str] = []
    width = layout.fields
    if len(row) != width:
        if not "".join(row).strip():
            return None, warnings
        kind = "short" if len(row) < width else "long"
        warnings.append(f"{kind} row: {len(row)} fields, the header has {width}")
        if len(row) < width:
            row = row + [""] * (width - len(row))
    elif not "".join(row).strip():
        return None, warnings
    values: list[str | None] = [
        None if at is None else (row[at].strip() or None)
        for at in (layout.md5, layout.sha1, layout.sha256)
    ]
    for hash_at in layout.hashes:
        reason = _route_hash(row, values, hash_at=hash_at, algorithm_at=layout.algorithm)
        if reason is not None:
            warnings.append(reason)
    size = None
    if layout.size is not None:
        try:
            size = parse_size(row[layout.size])
        except ValueError as exc:
            warnings.append(str(exc))
    path = row[layout.path] if layout.path is not None else ""
    if layout.name is not None:
        path = _join(path, row[layout.name])
    label = labels(row[layout.category].strip()) if layout.category is not None else None
    return (values[0], values[1], values[2], size, path or None, label), warnings


def _route_hash(
    row: list[str], values: list[str | None], *, hash_at: int, algorithm_at: int | None
) -> str | None:
    """Put the generic ``Hash`` value into the column its ``Algorithm`` (or length) says;
    the reason to warn when it fits none."""
    value = row[hash_at].strip()
    if not value:
        return None
    named = row[algorithm_at].strip() if algorithm_at is not None else ""
    if named:
        column = algorithm_column(named)
        if column is None:
            return f"unsupported algorithm {named[:20]!r}"
    else:
        column = column_for_digest(value)
        if column is None:
            return f"cannot tell the algorithm of a {len(value)}-character Hash value"
    if values[column] is None:
        values[column] = value
    return None


_UNSAFE_BYTES = (b'"', b"\r", b"\0")
"""Bytes that may make the csv module read a line otherwise than a split on the delimiter
would: a quote, a carriage return inside a line, a NUL."""
_UNSAFE_TABLE = np.zeros(256, dtype=bool)
_UNSAFE_TABLE[[ord(byte) for byte in _UNSAFE_BYTES]] = True
_SIZE_DIGITS = 18
"""Sizes of up to this many decimal digits fit an int64: the vectorised path reads them."""
_MIN_RUN = 256
"""Fewest plain lines worth a vectorised pass between quoted ones (else the csv module
reads them too)."""
_PRINTABLE = (ord("!"), ord("~"))


class _Rows:
    """The data rows after the header, read a chunk at a time.

    Runs of lines without a quote (nearly every line of most exports) are split on the
    delimiter and checked by vectorised Arrow compute, which gives what the csv module
    would for them; the lines of a run that this cannot settle go through
    :func:`_parse_row`. Lines with a quote (and the rows they start, however many lines
    those span) are read by the csv module, as :meth:`CsvAdapter.read_by_line` reads
    every line.
    """

    def __init__(self, lines: LineCursor, layout: _Layout, context: ReadContext) -> None:
        self._lines = lines
        self._layout = layout
        self._context = context
        self._labels = _Labels()
        self._assembler = BatchAssembler(context)
        self._reader = csv.reader(_source(lines), delimiter=layout.delimiter)
        self._held = BatchBuffer(_RECORD_COLUMNS)
        self._adders = tuple(self._held.columns[name].append for name in ("line", *_RECORD_COLUMNS))
        self._held_warnings: list[tuple[int, str]] = []
        # Runs are split and checked by column only when every column is a plain one.
        self._vectorised = not layout.hashes and layout.name is None

    def read(self) -> Iterator[pa.RecordBatch]:
        """Yield the record batches of the rows left in the stream."""
        lines = self._lines
        chunk: list[str] | None = None
        text = TextColumn.of([])
        runs: list[tuple[int, int]] = []
        run = 0
        while lines.advance():
            if lines.lines is not chunk:
                chunk = lines.lines
                text, runs = self._survey(chunk)
                run = 0
            position = lines.position
            while run < len(runs) and runs[run][1] <= position:
                run += 1
            if run < len(runs) and runs[run][0] <= position:
                stop = runs[run][1]
                yield from self._flush()
                yield from self._assembler.add(
                    *self._read_run(lines.first + position, chunk[position:stop], text, position)
                )
                lines.position = stop
                continue
            # Up to the next run, the csv module reads the rows (a quoted field may take
            # them into the next chunk).
            target = runs[run][0] if run < len(runs) else len(chunk)
            reader, layout, labels = self._reader, self._layout, self._labels
            warnings, numbers = self._held_warnings, self._held.columns["line"]
            add_line, add_md5, add_sha1, add_sha256, add_size, add_path, add_labels = self._adders
            batch_size = self._context.batch_size
            while lines.lines is chunk and lines.position < target:
                number = lines.first + lines.position
                try:
                    row = next(reader)
                except csv.Error as exc:
                    warnings.append((number, f"unreadable row: {exc}"))
                    continue
                record, reasons = _parse_row(row, layout, labels)
                if reasons:
                    warnings.extend((number, reason) for reason in reasons)
                if record is not None:
                    add_line(number)
                    add_md5(record[0])
                    add_sha1(record[1])
                    add_sha256(record[2])
                    add_size(record[3])
                    add_path(record[4])
                    add_labels(record[5])
                if len(numbers) + len(warnings) >= batch_size:
                    yield from self._flush()
        yield from self._flush()
        yield from self._assembler.finish()

    def _survey(self, chunk: list[str]) -> tuple[TextColumn, list[tuple[int, int]]]:
        """A chunk's column, and the runs (start, stop) of lines to read vectorised: long
        stretches of plain lines between the lines the csv module must read, and the plain
        lines that end the chunk."""
        text = TextColumn.of(chunk)
        n = len(chunk)
        limit = csv.field_size_limit()
        raw = text.array.buffers()[2]
        data = raw.to_pybytes() if raw is not None else b""
        if not any(byte in data for byte in _UNSAFE_BYTES) and (
            n == 0 or int(text.lengths.max()) <= limit
        ):
            return text, [(0, n)]
        # Whether each line holds an unsafe byte: a running count, read at line bounds.
        seen = np.concatenate([[0], np.cumsum(_UNSAFE_TABLE[text.data], dtype=np.int64)])
        special = (seen[text.starts + text.lengths] > seen[text.starts]) | (text.lengths > limit)
        marks = [-1, *np.flatnonzero(special).tolist(), n]
        runs = [
            (before + 1, after)
            for before, after in itertools.pairwise(marks)
            if after - before - 1 >= _MIN_RUN or (after == n and after > before + 1)
        ]
        return text, runs

    def _flush(self) -> Iterator[pa.RecordBatch]:
        """Pass on the rows (and warnings) the csv module has read since the last time."""
        if len(self._held) or self._held_warnings:
            warnings = self._held_warnings.copy()
            self._held_warnings.clear()
            yield from self._assembler.add(self._held.flush(), warnings)

    def _read_run(
        self, first: int, lines: list[str], chunk: TextColumn, offset: int
    ) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
        """The records and warnings of plain lines (numbered from ``first``; lines
        ``offset`` on of the chunk ``chunk``), where a split on the delimiter is what the
        csv module would read."""
        layout = self._layout
        delimiter = layout.delimiter
        n = len(lines)
        keep = np.zeros(n, dtype=bool)
        columns: dict[str, pa.Array] = {
            name: pa.nulls(n, RECORD_SCHEMA.field(name).type) for name in _RECORD_COLUMNS
        }
        if self._vectorised:
            keep, found = self._columns(chunk.slice(offset, offset + n))
            columns.update(found)
        warnings: list[tuple[int, str]] = []
        slow = np.flatnonzero(~keep)
        if slow.size:
            rows: list[int] = []
            records: list[_CsvRecord] = []
            for index in slow.tolist():
                line = lines[index]
                # The csv module reads an empty line as no fields at all.
                record, reasons = _parse_row(
                    line.split(delimiter) if line else [], layout, self._labels
                )
                warnings.extend((first + index, reason) for reason in reasons)
                if record is not None:
                    rows.append(index)
                    records.append(record)
            if rows:
                mask = np.zeros(n, dtype=bool)
                mask[rows] = True
                keep |= mask
                chosen = pa.array(mask)
                for name, values in zip(_RECORD_COLUMNS, zip(*records, strict=True), strict=True):
                    columns[name] = pc.replace_with_mask(
                        columns[name], chosen, pa.array(values, RECORD_SCHEMA.field(name).type)
                    )
        if not keep.all():
            chosen = pa.array(keep)
            columns = {name: column.filter(chosen) for name, column in columns.items()}
        numbers = np.arange(first, first + n, dtype=np.int64)[keep]
        return make_batch({"line": pa.array(numbers), **columns}), warnings

    def _columns(self, text: TextColumn) -> tuple[npt.NDArray[np.bool_], dict[str, pa.Array]]:
        """Split plain lines into fields by column: the rows this settles, and the record
        columns (valid in those rows only).

        A row is settled when it has the header's number of fields, a digest in some
        digest column, and no cell whose stripping or reading would need a second look:
        digest and category cells are empty or start and end with printable ASCII, sizes
        are empty or plain decimal.
        """
        layout = self._layout
        n = len(text)
        width = layout.fields
        parts = pc.split_pattern(text.array, layout.delimiter)
        keep = (text.lengths > 0) & (
            pc.list_value_length(parts).to_numpy(zero_copy_only=False) == width
        )
        starts = parts.offsets.to_numpy()[:-1]
        values = parts.values

        def field(index: int) -> TextColumn:
            return TextColumn(values.take(pa.array(np.where(keep, starts + index, 0))))

        columns: dict[str, pa.Array] = {}
        some_digest = np.zeros(n, dtype=bool)
        for name, at in (("md5", layout.md5), ("sha1", layout.sha1), ("sha256", layout.sha256)):
            if at is None:
                continue
            cells = field(at)
            filled = cells.lengths > 0
            keep &= ~filled | _printable_ends(cells)
            some_digest |= filled
            columns[name] = choose(filled, cells.array)
        keep &= some_digest
        if layout.size is not None:
            cells = field(layout.size)
            filled = cells.lengths > 0
            keep &= ~filled | (
                pc.ascii_is_decimal(cells.array).to_numpy(zero_copy_only=False)
                & (cells.lengths <= _SIZE_DIGITS)
            )
            columns["size"] = pc.cast(choose(keep & filled, cells.array), pa.int64())
        if layout.path is not None:
            cells = field(layout.path)
            columns["path"] = choose(cells.lengths > 0, cells.array)
        if layout.category is not None:
            cells = field(layout.category)
            keep &= (cells.lengths == 0) | _printable_ends(cells)
            encoded = pc.dictionary_encode(choose(keep, cells.array))
            labels = [self._labels(category) for category in encoded.dictionary.to_pylist()]
            columns["labels"] = pa.array(labels, pa.string()).take(encoded.indices)
        return keep, columns


def _source(lines: LineCursor) -> Iterator[str]:
    """The lines for the csv module, each with the line end it needs (to keep a newline
    inside a quoted field), taken from ``lines`` as it reads them."""
    while lines.advance():
        chunk = lines.lines
        while lines.lines is chunk and lines.position < len(chunk):
            position = lines.position
            lines.position = position + 1
            yield chunk[position] + "\n"


def _printable_ends(cells: TextColumn) -> npt.NDArray[np.bool_]:
    """Cells whose first and last bytes are printable ASCII other than a space: stripping
    whitespace (Python's, Unicode's) leaves them as they are."""
    low, high = _PRINTABLE
    head = cells.byte_at(0)
    tail = cells.byte_at(cells.lengths - 1)
    return (head >= low) & (head <= high) & (tail >= low) & (tail <= high)
