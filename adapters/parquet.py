"""Apache Parquet manifests and lists: one record per row, columns found by name.

What platforms and batch pipelines write at billions of rows, and what ``hashmatch batch``
reads. Columns are matched by name, ignoring case:

* ``md5``, ``sha1``, ``sha256``: at least one is required. Each holds hex text (either
  case) or the digest's raw bytes (``binary`` or ``fixed_size_binary`` of 16, 20 or 32
  bytes), which become lower-case hex. A binary value of another width is handed on as
  text when it is UTF-8 (what writers that store strings unannotated produce: 32 bytes of
  hex in an ``md5`` column), else as the hex of its bytes, so that the core reports it as
  the malformed digest it is. Text is handed on as it is: the core trims it, parses it,
  and turns a bad value into an ``invalid`` row with its reason, as for a CSV cell. A null
  is an absent digest.
* ``size`` (integer, or floating point with whole values, as pandas writes an integer
  column with gaps): a negative, fractional or out-of-range size is a warning, and null.
* ``path`` (text); without one, the first of ``filepath``, ``file_path``, ``filename``,
  ``file_name`` and ``name`` (what hashmatch's own entries files have) there is.
* ``labels``: a JSON object as text, made canonical (sorted keys, no spaces) like every
  adapter's labels; text that is no JSON object is a warning, and null. Other types
  (struct, map) are refused.
* ``line`` (integer): where a warning or a verdict about the row points. Without it, the
  row's 1-based index in the whole file.

Other columns are not read; their names are logged once (``logging``, not
:meth:`ReadContext.warn`: a warning without a line would become an ``invalid`` verdict row
of its own in ``check``, and fail a ``strict`` run, over a column nobody asked for). A
file without a digest column, or with a column of a type it cannot hold, is
:class:`UnsupportedFormat` naming what was found.

Reading streams: :meth:`pyarrow.parquet.ParquetFile.iter_batches` reads only the columns
named above, ``context.batch_size`` rows at a time, so memory stays bounded whatever the
file's length; every column is converted by Arrow compute and numpy, with Python only for
the rows a warning is about and for each distinct labels text.

Every Parquet file starts with ``PAR1``, which the ``hashmatch-bundle`` adapter claims
too (for the entries file of a bundle). A bundle's entries file says so in its footer;
when the whole file fits in the head shown to :meth:`ParquetAdapter.sniff`, this adapter
leaves it to that one. A larger one reads the same here, ``name`` as ``path``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, ReadContext
from hashmatch.errors import InputError, UnsupportedFormat
from hashmatch.ingest.parse import hex_column
from hashmatch.records import RECORD_SCHEMA, encode_labels

from ._common import MAX_SIZE, local_path

__all__ = ["ParquetAdapter"]

log = logging.getLogger(__name__)

MAGIC = b"PAR1"
"""Every Parquet file starts and ends with these bytes."""
_BUNDLE_MARK = b"hashmatch-entries/1"
"""What a hashmatch bundle's entries file says in its footer's metadata."""

_DIGEST_WIDTHS = {"md5": 16, "sha1": 20, "sha256": 32}
"""Record digest column -> width of the raw digest in bytes."""
_PATH_NAMES = ("path", "filepath", "file_path", "filename", "file_name", "name")
"""Columns read as the path, in order of preference."""
_LABEL_CACHE_SIZE = 4096
_SHOW = 70
"""How much of a bad value a warning quotes."""

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
_Warnings = list[tuple[int, str]]
"""(row index in the batch, reason)."""


def _value_type(kind: pa.DataType) -> pa.DataType:
    """The type of the values, through a dictionary encoding."""
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _is_text(kind: pa.DataType) -> bool:
    kind = _value_type(kind)
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    kind = _value_type(kind)
    return bool(
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


def _decoded(values: pa.Array) -> pa.Array:
    """``values`` without a dictionary encoding."""
    if pa.types.is_dictionary(values.type):
        return values.dictionary_decode()
    return values


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which column of the file plays which role (None: no such column)."""

    digests: tuple[tuple[str, str], ...]
    """(record column, file column) of each digest column the file has."""
    size: str | None
    path: str | None
    labels: str | None
    line: str | None
    ignored: tuple[str, ...]

    def columns(self) -> list[str]:
        """The file columns to read."""
        named = [column for _, column in self.digests]
        named += [c for c in (self.size, self.path, self.labels, self.line) if c is not None]
        return named


def _layout(schema: pa.Schema, source: str) -> _Layout:
    """The roles of ``schema``'s columns; UnsupportedFormat when they cannot make records."""
    by_key: dict[str, list[str]] = {}
    for name in schema.names:
        by_key.setdefault(name.lower(), []).append(name)
    roles = [*_DIGEST_WIDTHS, "size", *_PATH_NAMES, "labels", "line"]
    found: dict[str, str] = {}
    for role in roles:
        names = by_key.get(role, [])
        if len(names) > 1:
            raise UnsupportedFormat(
                f"more than one {role!r} column (names are matched ignoring case): "
                + ", ".join(repr(name) for name in names),
                source=source,
            )
        if names:
            found[role] = names[0]
    digests = tuple((role, found[role]) for role in _DIGEST_WIDTHS if role in found)
    if not digests:
        shown = ", ".join(repr(name) for name in schema.names) or "none"
        raise UnsupportedFormat(
            f"no md5, sha1 or sha256 column in the Parquet file (columns: {shown})",
            source=source,
        )
    path = next((found[name] for name in _PATH_NAMES if name in found), None)
    used: set[str | None] = {column for _, column in digests}
    used.update(found.get(role) for role in ("size", "labels", "line"))
    used.add(path)
    layout = _Layout(
        digests=digests,
        size=found.get("size"),
        path=path,
        labels=found.get("labels"),
        line=found.get("line"),
        ignored=tuple(name for name in schema.names if name not in used),
    )
    _check_types(layout, schema, source)
    return layout


def _check_types(layout: _Layout, schema: pa.Schema, source: str) -> None:
    """UnsupportedFormat for a column whose type cannot hold what its role needs."""

    def refuse(column: str, wanted: str) -> UnsupportedFormat:
        kind = schema.field(column).type
        return UnsupportedFormat(f"column {column!r} is {kind}, expected {wanted}", source=source)

    for role, column in layout.digests:
        kind = schema.field(column).type
        if not (pa.types.is_null(kind) or _is_text(kind) or _is_bytes(kind)):
            raise refuse(column, f"hex text or the {_DIGEST_WIDTHS[role]}-byte {role} as binary")
    if layout.size is not None:
        kind = _value_type(schema.field(layout.size).type)
        if not (pa.types.is_null(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise refuse(layout.size, "an integer byte count")
    if layout.path is not None:
        kind = schema.field(layout.path).type
        if not (pa.types.is_null(kind) or _is_text(kind)):
            raise refuse(layout.path, "text")
    if layout.labels is not None:
        kind = schema.field(layout.labels).type
        if not (pa.types.is_null(kind) or _is_text(kind)):
            raise refuse(layout.labels, "a JSON object as text (structs and maps are not read)")
    if layout.line is not None:
        kind = _value_type(schema.field(layout.line).type)
        if not (pa.types.is_null(kind) or pa.types.is_integer(kind)):
            raise refuse(layout.line, "an integer")


class ParquetAdapter(FormatAdapter):
    """Apache Parquet files with ``md5``, ``sha1`` and/or ``sha256`` columns.

    The file's index is at its end, so the stream is read from the file itself when
    ``context.path`` is set, or copied to a temporary file first. A file Parquet cannot
    open, or one without a digest column, is :class:`UnsupportedFormat`; a bad size or
    labels value is a warning with the row's line.
    """

    NAME: ClassVar[str] = "parquet"
    DESCRIPTION: ClassVar[str] = "Apache Parquet with md5/sha1/sha256 columns (hex or binary)"
    # Before hashmatch-bundle (5), which claims every Parquet file: see the module notes.
    PRIORITY: ClassVar[int] = 4

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A Parquet file (it starts with ``PAR1``), unless the head is a whole file whose
        footer says it is a hashmatch bundle's entries file."""
        if not head.startswith(MAGIC):
            return False
        whole = len(head) < HEAD_BYTES and head.endswith(MAGIC)
        return not (whole and _BUNDLE_MARK in head)

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per row, in file order, ``context.batch_size`` rows at most."""
        with local_path(stream, context) as path:
            try:
                parquet = pq.ParquetFile(path, memory_map=False)
            except (pa.ArrowException, OSError) as exc:
                raise UnsupportedFormat(
                    f"not a Parquet file ({_first_line(exc)})", source=context.source
                ) from None
            with parquet:
                yield from self._read(parquet, context)

    def read_piece(
        self, path: Path, group: int, offset: int, rows: int, first: int, context: ReadContext
    ) -> pa.RecordBatch:
        """Rows ``offset``..``offset + rows - 1`` of row group ``group``, as :meth:`read`
        gives them; ``first`` is the 0-based row of the piece's first row in the file.

        What a batch job's task reads (:mod:`hashmatch.scaleout`): one piece of a file
        every worker can open, numbered as the whole file's read numbers it.
        """
        try:
            parquet = pq.ParquetFile(path, memory_map=False)
        except (pa.ArrowException, OSError) as exc:
            raise UnsupportedFormat(
                f"not a Parquet file ({_first_line(exc)})", source=context.source
            ) from None
        with parquet:
            layout = _layout(parquet.schema_arrow, context.source)
            try:
                table = parquet.read_row_group(group, columns=layout.columns())
            except (pa.ArrowException, OSError) as exc:
                raise InputError(
                    f"row group {group} of the Parquet file cannot be read: {_first_line(exc)}",
                    source=context.source,
                ) from None
        batch = table.slice(offset, rows).combine_chunks().to_batches()
        piece = batch[0] if batch else pa.RecordBatch.from_pylist([], schema=table.schema)
        return _records(piece, first + 1, layout, _Labels(), context)

    @staticmethod
    def _read(parquet: pq.ParquetFile, context: ReadContext) -> Iterator[pa.RecordBatch]:
        layout = _layout(parquet.schema_arrow, context.source)
        if layout.ignored:
            log.warning(
                "%s: columns not read: %s",
                context.source,
                ", ".join(repr(column) for column in layout.ignored),
            )
        labels = _Labels()
        batches = parquet.iter_batches(
            batch_size=max(1, context.batch_size), columns=layout.columns()
        )
        first = 1
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise InputError(
                    f"the Parquet file cannot be read after row {first - 1}: {_first_line(exc)}",
                    source=context.source,
                ) from None
            if batch is None:
                return
            if batch.num_rows:
                yield _records(batch, first, layout, labels, context)
            first += batch.num_rows


def _records(
    batch: pa.RecordBatch, first: int, layout: _Layout, labels: _Labels, context: ReadContext
) -> pa.RecordBatch:
    """The rows of ``batch`` (the first of which is row ``first`` of the file) as records,
    after issuing the warnings about them in row order."""
    n = batch.num_rows
    warnings: _Warnings = []
    if layout.line is None:
        lines = pa.array(np.arange(first, first + n, dtype=np.int64))
    else:
        lines = _lines(batch.column(layout.line), first, warnings)
    columns: dict[str, pa.Array] = {
        name: pa.nulls(n, pa.string()) for name in ("md5", "sha1", "sha256", "path", "labels")
    }
    columns["size"] = pa.nulls(n, pa.int64())
    for role, column in layout.digests:
        columns[role] = _digest_text(batch.column(column), _DIGEST_WIDTHS[role])
    if layout.size is not None:
        columns["size"] = _sizes(batch.column(layout.size), warnings)
    if layout.path is not None:
        columns["path"] = _text(batch.column(layout.path))
    if layout.labels is not None:
        columns["labels"] = labels.column(batch.column(layout.labels), warnings)
    if warnings:
        numbers = lines.to_numpy()
        for row, reason in sorted(warnings, key=lambda warning: warning[0]):
            context.warn(int(numbers[row]), reason)
    return pa.RecordBatch.from_arrays(
        [lines, *(columns[field.name] for field in RECORD_SCHEMA if field.name != "line")],
        schema=RECORD_SCHEMA,
    )


def _text(values: pa.Array) -> pa.Array:
    """A text (or all-null) column as ``string``."""
    values = _decoded(values)
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.string())
    return values.cast(pa.string())


def _lines(values: pa.Array, first: int, warnings: _Warnings) -> pa.Array:
    """The ``line`` column as int64; a null is the row's index in the file, and a warning."""
    values = _decoded(values)
    n = len(values)
    numbers = np.arange(first, first + n, dtype=np.int64)
    if pa.types.is_null(values.type):
        missing = np.ones(n, dtype=bool)
    else:
        try:
            values = values.cast(pa.int64())
        except pa.ArrowInvalid as exc:
            raise InputError(f"a line number is out of range: {_first_line(exc)}") from None
        missing = values.is_null().to_numpy(zero_copy_only=False)
        if not missing.any():
            return values
        numbers = np.where(missing, numbers, values.fill_null(0).to_numpy())
    for row in np.flatnonzero(missing).tolist():
        warnings.append((row, f"no line number: row {first + row} of the file"))
    return pa.array(numbers, pa.int64())


def _digest_text(values: pa.Array, width: int) -> pa.Array:
    """A digest column as text: hex text as it is, raw digests of ``width`` bytes as
    lower-case hex, other binary values as UTF-8 text where they are, else as hex."""
    values = _decoded(values)
    kind = values.type
    n = len(values)
    if pa.types.is_null(kind):
        return pa.nulls(n, pa.string())
    if _is_text(kind):
        return _text(values)
    if pa.types.is_fixed_size_binary(kind) and kind.byte_width == width:
        return hex_column(values)
    values = values.cast(pa.binary())
    lengths = pc.fill_null(pc.binary_length(values), -1).to_numpy(zero_copy_only=False)
    raw = lengths == width
    present = values.is_valid().to_numpy(zero_copy_only=False)
    if (raw == present).all():
        return hex_column(values.cast(pa.binary(width)))
    raw_rows = np.flatnonzero(raw)
    other_rows = np.flatnonzero(present & ~raw)
    pieces = [hex_column(values.take(pa.array(raw_rows)).cast(pa.binary(width)))]
    other = values.take(pa.array(other_rows))
    try:
        pieces.append(other.cast(pa.string()))
    except pa.ArrowInvalid:  # some are not UTF-8: those become hex
        pieces.append(pa.array([_bytes_as_text(value) for value in other.to_pylist()]))
    where = np.full(n, -1, dtype=np.int64)
    where[raw_rows] = np.arange(raw_rows.size)
    where[other_rows] = raw_rows.size + np.arange(other_rows.size)
    index = pa.array(where, mask=where < 0)
    return pa.concat_arrays(pieces).take(index)


def _bytes_as_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.hex()


def _sizes(values: pa.Array, warnings: _Warnings) -> pa.Array:
    """The ``size`` column as int64; a value that is no byte count is a warning, and null."""
    values = _decoded(values)
    n = len(values)
    kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(n, pa.int64())
    if pa.types.is_uint64(kind):
        bad = pc.greater(values, pa.scalar(MAX_SIZE, pa.uint64()))
    elif pa.types.is_integer(kind):
        bad = pc.less(values, 0)
    else:
        whole = pc.and_(pc.is_finite(values), pc.equal(pc.floor(values), values))
        bad = pc.invert(
            pc.and_(whole, pc.and_(pc.greater_equal(values, 0), pc.less(values, float(2**63))))
        )
    rows = np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))
    if rows.size:
        shown = values.take(pa.array(rows)).to_pylist()
        for row, value in zip(rows.tolist(), shown, strict=True):
            what = "negative" if value < 0 else "not a byte count"
            if value > MAX_SIZE:
                what = "out of range"
            warnings.append((row, f"size is {what}: {value!r}"))
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        values = pc.if_else(pa.array(mask), pa.scalar(None, kind), values)
    return values.cast(pa.int64())


class _Bad(str):
    """A labels text that is no JSON object, kept in the cache as such."""

    __slots__ = ()


class _Labels:
    """Canonical labels JSON for labels text, each distinct text decoded once.

    Label sets repeat across a list, so the canonical form of each text is kept (up to
    :data:`_LABEL_CACHE_SIZE` of them).
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}

    def canonical(self, text: str) -> str | None:
        """The canonical JSON of ``text``; a :class:`_Bad` when it is no JSON object."""
        found = self._cache.get(text, self)
        if found is not self:
            return found  # type: ignore[return-value]
        result: str | None
        if not text.strip():
            result = None
        else:
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            result = encode_labels(value) if isinstance(value, dict) else _Bad(text)
        if len(self._cache) < _LABEL_CACHE_SIZE:
            self._cache[text] = result
        return result

    def column(self, values: pa.Array, warnings: _Warnings) -> pa.Array:
        """The canonical labels of a text column; a warning for each row of a bad text."""
        values = _text(values)
        n = len(values)
        if values.null_count == n:
            return pa.nulls(n, pa.string())
        encoded = pc.dictionary_encode(values)
        distinct = [self.canonical(text) for text in encoded.dictionary.to_pylist()]
        bad = [code for code, text in enumerate(distinct) if isinstance(text, _Bad)]
        if bad:
            hit = pc.is_in(encoded.indices, value_set=pa.array(bad, encoded.indices.type))
            rows = np.flatnonzero(pc.fill_null(hit, False).to_numpy(zero_copy_only=False))
            codes = encoded.indices.take(pa.array(rows)).to_pylist()
            for row, code in zip(rows.tolist(), codes, strict=True):
                text = str(distinct[code])
                warnings.append((row, f"labels are not a JSON object: {text[:_SHOW]!r}"))
            distinct = [None if isinstance(text, _Bad) else text for text in distinct]
        return pa.array(distinct, pa.string()).take(encoded.indices)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
