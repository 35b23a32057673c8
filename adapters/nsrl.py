"""NIST NSRL RDS 2.x ``NSRLFile.txt``: known software, a row per file and product (FORMATS.md §4.1).

Two header forms exist, and the header line is what makes a file this format::

    "SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"
    "SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"

(RDS 2.x "form 2"; RDS 1.5 "form 1"). Data rows are CSV with every text field quoted and
``FileSize`` / ``ProductCode`` bare: ``"29013E24...","B2EDA2CD...","8222D98C","a, b.dll",21,
190001,"0",""``. Names may hold commas (inside the quotes) and CP1252 bytes; lines end in
CRLF (NIST) or LF (converters); parts of a split set concatenated give the header again
mid-file, and every line equal to the header is skipped.

Each row is one record: ``sha1``, ``md5``, ``size`` (FileSize), ``path`` (FileName) and the
labels ``product`` (``["<ProductName> <ProductVersion>"]``, from an ``NSRLProd.txt`` found
beside the file, in any case of that name) or, without one or for a code it does not list,
``nsrl_product_code`` (the code as text); plus ``nsrl_special_code`` when SpecialCode is not
empty. Rows repeating a digest (one per product) are not merged: the core keeps every
row's labels. CRC32, MD4 and OpSystemCode are not kept.

:meth:`NsrlRdsAdapter.read` reads the file in blocks of whole lines, splits each block with
Arrow's CSV parser, and keeps the rows whose line proves to be in the canonical layout (all
ASCII, the fields quoted exactly as above, no quote inside a field, a plain decimal size and
product code): their cells are what the :mod:`csv` module would read. Every other line goes
one by one through :func:`_parse_line`, the rule that :meth:`NsrlRdsAdapter.read_by_line`,
the line-at-a-time reference reader, applies to every line. Both give the same batches and
the same warnings.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.records import encode_labels, make_batch
from hashmatch.textio import detect_bom, iter_lines

from ._common import BatchAssembler, BatchBuffer, head_lines, parse_size

__all__ = ["NsrlRdsAdapter"]

PRODUCT_FILE = "nsrlprod.txt"
"""The companion file with product names, looked for beside the list (any case)."""

PRODUCT_CODE = "nsrl_product_code"
SPECIAL_CODE = "nsrl_special_code"


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields of a data row are, for one header form."""

    header: str
    names: tuple[str, ...]
    quoted: tuple[bool, ...]
    """Which fields NIST quotes: all but FileSize and ProductCode."""
    sha1: int
    md5: int
    name: int
    size: int
    code: int
    special: int

    @property
    def width(self) -> int:
        return len(self.names)


def _layout(names: tuple[str, ...]) -> _Layout:
    return _Layout(
        header=",".join(f'"{name}"' for name in names),
        names=names,
        quoted=tuple(name not in ("FileSize", "ProductCode") for name in names),
        sha1=names.index("SHA-1"),
        md5=names.index("MD5"),
        name=names.index("FileName"),
        size=names.index("FileSize"),
        code=names.index("ProductCode"),
        special=names.index("SpecialCode"),
    )


FORM_2 = _layout(
    ("SHA-1", "MD5", "CRC32", "FileName", "FileSize", "ProductCode", "OpSystemCode", "SpecialCode")
)
"""RDS 2.x, the header TSK and md5deep match."""
FORM_1 = _layout(
    (
        "SHA-1",
        "FileName",
        "FileSize",
        "ProductCode",
        "OpSystemCode",
        "MD4",
        "MD5",
        "CRC32",
        "SpecialCode",
    )
)
"""RDS 1.5, still recognised by TSK and md5deep."""
_LAYOUTS = {FORM_2.header: FORM_2, FORM_1.header: FORM_1}

_LABEL_CACHE_SIZE = 1 << 16


class _Products:
    """The labels of a row from its ProductCode and SpecialCode, as canonical JSON.

    Product codes repeat on millions of rows, so each (code, special code) pair is encoded
    once; both readers go through :meth:`labels`, with the fields as the file has them.
    """

    __slots__ = ("_cache", "_names")

    def __init__(self, names: dict[str, list[str]]) -> None:
        self._names = names
        self._cache: dict[tuple[str, str], str | None] = {}

    def labels(self, code: str, special: str) -> str | None:
        """The labels JSON of a row with these ProductCode and SpecialCode fields."""
        key = (code, special)
        if key in self._cache:
            return self._cache[key]
        labels: dict[str, str | list[str]] = {}
        code = _code(code)
        products = self._names.get(code)
        if products:
            labels[Label.PRODUCT] = products
        elif code:
            labels[PRODUCT_CODE] = code
        if special.strip():
            labels[SPECIAL_CODE] = special.strip()
        encoded = encode_labels(labels)
        if len(self._cache) < _LABEL_CACHE_SIZE:
            self._cache[key] = encoded
        return encoded


def _code(text: str) -> str:
    """A product code as a key: stripped, and without leading zeros when it is a number."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return str(int(text))
    return text


def load_products(path: Path) -> dict[str, list[str]]:
    """``"<ProductName> <ProductVersion>"`` texts by ProductCode from an ``NSRLProd.txt``.

    A code listed more than once (once per operating system) keeps each distinct text once.
    A file whose header names no ProductCode and ProductName columns gives nothing.
    """
    names: dict[str, list[str]] = {}
    with open(path, "rb") as raw:
        rows = csv.reader(text + "\n" for _, text in iter_lines(raw))
        header = [cell.strip().lower() for cell in next(rows, [])]
        try:
            code_at = header.index("productcode")
            name_at = header.index("productname")
        except ValueError:
            return names
        version_at = header.index("productversion") if "productversion" in header else None
        width = max(code_at, name_at, version_at or 0)
        for row in rows:
            if len(row) <= width:
                continue
            version = row[version_at].strip() if version_at is not None else ""
            text = f"{row[name_at].strip()} {version}".strip()
            found = names.setdefault(_code(row[code_at]), [])
            if text and text not in found:
                found.append(text)
    return names


def _companion(context: ReadContext) -> Path | None:
    """The ``NSRLProd.txt`` beside the file being read, if there is one."""
    if context.path is None:
        return None
    folder = context.path.parent
    try:
        for entry in sorted(folder.iterdir()):
            if entry.name.lower() == PRODUCT_FILE and entry.is_file():
                return entry
    except OSError:
        return None
    return None


class NsrlRdsAdapter(FormatAdapter):
    """NIST NSRL RDS 2.x ``NSRLFile.txt`` (form 2, or the RDS 1.5 form 1) as a benign list.

    The header line is what makes a file this format, so a file that does not start with
    one is :class:`UnsupportedFormat`; after it, a row with the wrong number of fields or
    a FileSize that is not a byte count is a warning.
    """

    NAME: ClassVar[str] = "nsrl"
    DESCRIPTION: ClassVar[str] = "NIST NSRL RDS 2.x NSRLFile.txt (known software)"
    PRIORITY: ClassVar[int] = 20
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first non-blank line is one of the two NSRLFile.txt headers."""
        lines, _ = head_lines(head)
        for line in lines:
            if line.strip():
                return line.strip() in _LAYOUTS
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per data row, with ``sha1``, ``md5``, ``size``, ``path`` and
        the product labels; ``line`` is the row's 1-based line."""
        start = stream.read(4)
        encoding, skip = detect_bom(start)
        if encoding is not None and encoding != "utf-8":
            # UTF-16 is no NSRL encoding; such a file is read, rarely and slowly, line by line.
            yield from self.read_by_line(cast(BinaryIO, _Replay(start, stream)), context)
            return
        products = _Products(_names(context))
        blocks = _blocks(stream, start[skip:])
        layout, first, rest = _find_header(blocks, context.source)
        assembler = BatchAssembler(context)
        reader = _BlockReader(layout, products)
        for block in itertools.chain([rest] if rest else [], blocks):
            records, warnings, first = reader.read(first, block)
            yield from assembler.add(records, warnings)
        yield from assembler.finish()

    def read_by_line(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, found one line at a time: its reference twin.

        Slower, and plain enough to check by eye; the tests hold :meth:`read` to it.
        """
        products = _Products(_names(context))
        lines = iter_lines(stream)
        layout = None
        for number, line in lines:
            if line.strip():
                layout = _header(line, number, context.source)
                break
        if layout is None:
            raise UnsupportedFormat("no NSRLFile.txt header", source=context.source)
        buffer = BatchBuffer(_ROW_COLUMNS)
        adders = [buffer.columns[name].append for name in ("line", *_ROW_COLUMNS)]
        for number, line in lines:
            row, warning = _parse_line(line, layout, products)
            if warning is not None:
                context.warn(number, warning)
            if row is None:
                continue
            for add, value in zip(adders, (number, *row), strict=True):
                add(value)
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()


def _names(context: ReadContext) -> dict[str, list[str]]:
    companion = _companion(context)
    return load_products(companion) if companion is not None else {}


def _header(line: str, number: int, source: str) -> _Layout:
    """The layout a header line declares; :class:`UnsupportedFormat` when it is none."""
    layout = _LAYOUTS.get(line.strip())
    if layout is None:
        raise UnsupportedFormat(
            f"not an NSRLFile.txt header: {line.strip()[:80]!r}", source=source, line=number
        )
    return layout


_ROW_COLUMNS = ("sha1", "md5", "size", "path", "labels")
_Row = tuple[str, str, int | None, str | None, str | None]
"""The values of :data:`_ROW_COLUMNS` for one data row."""


def _parse_line(line: str, layout: _Layout, products: _Products) -> tuple[_Row | None, str | None]:
    """One line after the header: its record (None for a line to skip) and a warning about
    it (None for none)."""
    text = line.strip()
    if not text or text == layout.header:
        # Blank, or the header of the next part of a split set.
        return None, None
    try:
        fields = next(csv.reader([line]))
    except csv.Error as exc:
        return None, f"unreadable row: {exc}"
    if len(fields) != layout.width:
        return None, f"expected {layout.width} fields, got {len(fields)}"
    warning = None
    try:
        size = parse_size(fields[layout.size])
    except ValueError:
        size, warning = None, f"FileSize is not a byte count: {fields[layout.size][:40]!r}"
    # Digests are passed as found: the core trims them and reports what is not hex.
    row = (
        fields[layout.sha1],
        fields[layout.md5],
        size,
        fields[layout.name] or None,
        products.labels(fields[layout.code], fields[layout.special]),
    )
    return row, warning


# --- the block reader -------------------------------------------------------------------

_CHUNK_BYTES = 1 << 22
_CSV_BLOCK_BYTES = 1 << 18
"""Arrow's parser splits a block into pieces of this size for its threads: smaller pieces
than its default keep both cores busy on a block of a few MiB."""
_MIN_PIECE = 64
"""Lines below which a piece that Arrow's parser refuses is read line by line."""
_SIZE_DIGITS = 18
"""Decimal digits that always fit an int64: longer numbers take the slow path."""
_NEWLINE, _RETURN, _QUOTE = 10, 13, 34
_KEY_SEPARATOR = "\x1f"

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Bytes = npt.NDArray[np.uint8]


def _decode_line(raw: bytes) -> str:
    """A line's text by the rule of :mod:`hashmatch.textio`: UTF-8, else CP1252."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _blocks(stream: BinaryIO, pending: bytes) -> Iterator[memoryview]:
    """The stream in blocks of whole lines (the last may lack its line end).

    Each block is read into a buffer of its own behind the unfinished line the previous
    one left, so the few MiB of a block are never copied again.
    """
    while True:
        buffer = bytearray(len(pending) + _CHUNK_BYTES)
        buffer[: len(pending)] = pending
        read = _read_into(stream, memoryview(buffer)[len(pending) :])
        got = len(pending) + read
        view = memoryview(buffer)[:got]
        if not read:
            if got:
                yield view
            return
        cut = buffer.rfind(b"\n", 0, got) + 1
        if cut == 0:
            pending = bytes(view)
            continue
        pending = bytes(view[cut:])
        yield view[:cut]


def _read_into(stream: BinaryIO, target: memoryview) -> int:
    """Fill ``target`` from ``stream`` as far as one read goes; the bytes read."""
    read_into = getattr(stream, "readinto", None)
    if read_into is not None:
        return int(read_into(target) or 0)
    chunk = stream.read(len(target))
    target[: len(chunk)] = chunk
    return len(chunk)


def _bounds(block: memoryview) -> tuple[Bytes, IntArray, IntArray]:
    """The block's bytes, and where each of its lines starts and ends (without its line
    end: ``\\n``, and one ``\\r`` before it, as :mod:`hashmatch.textio` strips them)."""
    data: Bytes = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == _NEWLINE)
    if len(data) and data[-1] != _NEWLINE:
        ends = np.append(ends, len(data))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    returns = (ends > starts) & (data[np.maximum(ends - 1, 0)] == _RETURN)
    return data, starts.astype(np.int64), (ends - returns).astype(np.int64)


def _find_header(blocks: Iterator[memoryview], source: str) -> tuple[_Layout, int, memoryview]:
    """Read up to the header line: its layout, the number of the line after it, and the
    rest of its block. Raises :class:`UnsupportedFormat` when the first non-blank line is
    not a header, or there is none."""
    number = 0
    for block in blocks:
        _, starts, ends = _bounds(block)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            number += 1
            line = _decode_line(bytes(block[start:end]))
            if number == 1:
                line = line.removeprefix("\ufeff")
            if line.strip():
                after = bytes(block[end : end + 2]).find(b"\n")
                rest = block[end + after + 1 :] if after >= 0 else block[len(block) :]
                return _header(line, number, source), number + 1, rest
    raise UnsupportedFormat("no NSRLFile.txt header", source=source)


class _BlockReader:
    """The records and warnings of blocks of whole lines after the header."""

    def __init__(self, layout: _Layout, products: _Products) -> None:
        self._layout = layout
        self._products = products
        columns = list(layout.names)
        self._read_options = pacsv.ReadOptions(column_names=columns, block_size=_CSV_BLOCK_BYTES)
        self._parse_options = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)
        self._convert_options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            check_utf8=False,
            strings_can_be_null=False,
        )
        separators = _separators(layout)
        layout_bytes = b"".join(separators)
        self._expected = np.frombuffer(layout_bytes, dtype=np.uint8)
        self._offsets = np.array(
            [
                sum(map(len, separators[:i])) + j
                for i, sep in enumerate(separators)
                for j in range(len(sep))
            ],
            dtype=np.int64,
        )
        self._fields_before = np.array(
            [i for i, sep in enumerate(separators) for _ in sep], dtype=np.int64
        )
        # Labels by "code<US>special" key, built up as new keys turn up.
        self._keys = pa.array([], pa.string())
        self._labels = pa.array([], pa.string())

    def read(
        self, first: int, block: memoryview
    ) -> tuple[pa.RecordBatch, list[tuple[int, str]], int]:
        """The records and warnings of a block (its lines numbered from ``first``), and
        the number of the line after it."""
        layout = self._layout
        data, starts, ends = _bounds(block)
        n = len(starts)
        fields, fast = self._parse(pa.py_buffer(block), data, starts, 0, n)
        lengths = [_lengths(column) for column in fields]
        fast &= self._canonical(data, starts, ends, fields, lengths)
        sizes, codes, names = fields[layout.size], fields[layout.code], fields[layout.name]
        numeric = (lengths[layout.size] <= _SIZE_DIGITS) & _decimal(sizes)
        fast &= numeric
        fast &= (lengths[layout.code] <= _SIZE_DIGITS) & _decimal(codes)
        # The columns hold every line's cells; only the fast lines' are used.
        named = lengths[layout.name] > 0
        batch = make_batch(
            {
                "line": pa.array(np.arange(first, first + n, dtype=np.int64)),
                "sha1": fields[layout.sha1],
                "md5": fields[layout.md5],
                "size": pc.cast(_choose(numeric, sizes), pa.int64()),
                "path": names if named[fast].all() else _choose(named, names),
                "labels": self._label_column(codes, fields[layout.special], fast),
            }
        )
        slow = np.flatnonzero(~fast)
        if not slow.size:
            return batch, [], first + n
        # The other lines one by one, and their records put back in line order.
        buffer = BatchBuffer(_ROW_COLUMNS)
        adders = [buffer.columns[name].append for name in ("line", *_ROW_COLUMNS)]
        warnings: list[tuple[int, str]] = []
        kept = np.zeros(n, dtype=bool)
        for index, start, end in zip(
            slow.tolist(), starts[slow].tolist(), ends[slow].tolist(), strict=True
        ):
            line = _decode_line(bytes(block[start:end]))
            row, warning = _parse_line(line, layout, self._products)
            if warning is not None:
                warnings.append((first + index, warning))
            if row is not None:
                kept[index] = True
                for add, value in zip(adders, (first + index, *row), strict=True):
                    add(value)
        if not kept.any():
            return batch.filter(pa.array(fast)), warnings, first + n
        order = np.arange(n, dtype=np.int64)
        order[kept] = n + np.arange(np.count_nonzero(kept))
        records = pa.concat_batches([batch, buffer.flush()]).take(pa.array(order[fast | kept]))
        return records, warnings, first + n

    def _parse(
        self, buffer: pa.Buffer, data: Bytes, starts: IntArray, low: int, high: int
    ) -> tuple[list[pa.Array], BoolArray]:
        """Lines ``low`` to ``high`` split by Arrow's CSV parser: a column per field and
        the lines it split into one row each (the columns hold filler for the others).
        Halves a piece it refuses, down to a few lines."""
        count = high - low
        width = self._layout.width
        begin = int(starts[low]) if count else 0
        stop = int(starts[high]) if high < len(starts) else len(data)
        table = None
        if count:
            try:
                table = pacsv.read_csv(
                    pa.BufferReader(buffer.slice(begin, stop - begin)),
                    read_options=self._read_options,
                    parse_options=self._parse_options,
                    convert_options=self._convert_options,
                )
            except pa.ArrowInvalid:
                table = None
        if table is not None and table.num_rows == count:
            columns = [table.column(i).combine_chunks() for i in range(width)]
            return columns, np.ones(count, dtype=bool)
        if count <= _MIN_PIECE:
            filler = pa.array([""] * count, pa.string())
            return [filler] * width, np.zeros(count, dtype=bool)
        middle = low + count // 2
        left, left_ok = self._parse(buffer, data, starts, low, middle)
        right, right_ok = self._parse(buffer, data, starts, middle, high)
        columns = [pa.concat_arrays([a, b]) for a, b in zip(left, right, strict=True)]
        return columns, np.concatenate([left_ok, right_ok])

    def _canonical(
        self,
        data: Bytes,
        starts: IntArray,
        ends: IntArray,
        fields: list[pa.Array],
        lengths: list[IntArray],
    ) -> BoolArray:
        """Lines that the csv module reads into the fields Arrow's parser found: lines that
        are not empty, hold only ASCII, and whose fields hold no quote.

        Arrow's parser and the csv module differ only where a field holds a quote (an
        escaped one, or one inside an unquoted field) and in what ends a line: the csv
        module is given one line at a time, Arrow's parser ends a row at a carriage return
        too and lets a quoted field run on over a line end. A piece it split into as many
        rows as it has lines, with no carriage return inside a line, has no such row. With
        one, every line is also held to NIST's layout byte by byte.
        """
        n = len(starts)
        if not n:
            return np.ones(0, dtype=bool)
        ok: BoolArray = ends > starts
        terminated = ends[ends < len(data)]
        line_end_returns = np.count_nonzero(data[terminated] == _RETURN)
        if np.count_nonzero(data == _RETURN) > line_end_returns:
            # Where each separator byte of the layout must be: after the separators and
            # fields before it. One gather checks them all.
            before = np.zeros((n, len(lengths) + 1), dtype=np.int64)
            np.cumsum(np.stack(lengths, axis=1), axis=1, out=before[:, 1:])
            where = starts[:, None] + self._offsets[None, :] + before[:, self._fields_before]
            ok &= (np.take(data, where, mode="clip") == self._expected).all(axis=1)
            ok &= starts + len(self._expected) + before[:, -1] == ends
        # The csv module refuses a field longer than its limit; Arrow's parser does not.
        ok &= ends - starts <= csv.field_size_limit()
        # A line with bytes beyond ASCII is decoded by its own rule (UTF-8 or CP1252).
        if data.max(initial=0) >= 0x80:
            at = np.flatnonzero(data >= 0x80)
            lines = np.searchsorted(ends, at, side="right")
            ok[lines[lines < n]] = False
        for column in fields:
            if _has_quote(column):
                ok &= ~pc.match_substring(column, '"').to_numpy(zero_copy_only=False)
        return ok

    def _label_column(self, codes: pa.Array, specials: pa.Array, fast: BoolArray) -> pa.Array:
        """The labels JSON of each fast row from its ProductCode and SpecialCode, each
        distinct pair encoded once for the whole file. Fast rows' codes are decimal: the
        first separator in a key splits it back into the two fields."""
        if not fast.any():
            return pa.nulls(len(fast), pa.string())
        keys = codes
        if _lengths(specials).any():
            keys = pc.binary_join_element_wise(codes, specials, _KEY_SEPARATOR)
        # Other rows' cells may be anything, even bytes that are not UTF-8.
        keys = _choose(fast, keys).fill_null("")
        encoded = pc.dictionary_encode(keys)
        distinct = encoded.dictionary
        at = pc.index_in(distinct, value_set=self._keys)
        if at.null_count:
            new = distinct.filter(pc.is_null(at))
            texts = []
            for key in new.to_pylist():
                code, _, special = key.partition(_KEY_SEPARATOR)
                texts.append(self._products.labels(code, special))
            self._keys = pa.concat_arrays([self._keys, new])
            self._labels = pa.concat_arrays([self._labels, pa.array(texts, pa.string())])
            at = pc.index_in(distinct, value_set=self._keys)
        return self._labels.take(at).take(encoded.indices)


def _separators(layout: _Layout) -> list[bytes]:
    """The bytes before each field of a canonical row, and after the last."""
    separators = []
    previous = False
    for index, quoted in enumerate(layout.quoted):
        separator = (
            (b'"' if previous else b"") + (b"," if index else b"") + (b'"' if quoted else b"")
        )
        separators.append(separator)
        previous = quoted
    separators.append(b'"' if previous else b"")
    return separators


def _lengths(column: pa.Array) -> IntArray:
    """Byte length of each value of a string column without nulls, from its offsets."""
    offsets = np.frombuffer(
        column.buffers()[1], dtype=np.int32, count=len(column) + 1, offset=4 * column.offset
    )
    return np.diff(offsets).astype(np.int64)


def _decimal(column: pa.Array) -> BoolArray:
    """Values that are one or more ASCII digits."""
    found: BoolArray = pc.ascii_is_decimal(column).to_numpy(zero_copy_only=False)
    return found


def _has_quote(column: pa.Array) -> bool:
    """Whether any value of a string column holds a quote (one look at its bytes)."""
    data = column.buffers()[2]
    if not len(column) or data is None:
        return False
    offsets = np.frombuffer(
        column.buffers()[1], dtype=np.int32, count=len(column) + 1, offset=4 * column.offset
    )
    begin, end = int(offsets[0]), int(offsets[-1])
    values = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
    return bool((values == _QUOTE).any())


def _choose(mask: BoolArray, values: pa.Array) -> pa.Array:
    """``values`` where ``mask`` holds, null elsewhere."""
    if mask.all():
        return values
    return pc.if_else(pa.array(mask), values, pa.scalar(None, values.type))


class _Replay:
    """A binary stream that gives back a few bytes already read before the rest."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        prefix, self._prefix = self._prefix, b""
        if size < 0:
            return prefix + self._stream.read()
        if len(prefix) >= size:
            self._prefix = prefix[size:]
            return prefix[:size]
        return prefix + self._stream.read(size - len(prefix))
