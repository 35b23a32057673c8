"""NIST NSRL RDSv3: the SQLite databases of known software, minimal and full (FORMATS.md §4.2).

Both flavours have a ``FILE`` relation with ``sha256, sha1, md5, file_size, package_id,
file_name`` (digests in UPPER-case hex): in the *minimal* sets it is a table (with a
``crc32`` column and a ``DISTINCT_HASH`` view beside it), in the *full* sets a view over
normalised tables (``METADATA``, ``PACKAGE_OBJECT``...) that upper-cases the digests and has
no ``crc32``. ``PKG`` (table or view) names each package, ``VERSION`` the release.

Each ``FILE`` row is one record: ``sha256``, ``sha1``, ``md5``, ``size`` (``file_size``),
``path`` (``file_name``) and the labels ``product`` (``["<PKG.name> <PKG.version>"]``) or,
for a package ``PKG`` does not list, ``nsrl_product_code`` (the id as text); plus
``nsrl_rds_version`` and ``nsrl_build_set`` from ``VERSION`` when it has them. Rows that
repeat a digest (one per package) are not merged: the core keeps every row's labels.
``line`` is the row's 1-based position: in rowid order when ``FILE`` is a table, in the
view's order when it is a view.

The database is opened read-only and immutable (a copy is made first when the bytes do not
come from a file). :meth:`Rdsv3Adapter.read` fetches rows in rowid ranges and turns each
range into Arrow columns in one conversion; rows the conversion cannot settle (NULL
digests or sizes, values of another type, text that is not UTF-8) go one by one through
:func:`_parse_row`, the rule :meth:`Rdsv3Adapter.read_by_line`, the row-at-a-time reference
reader, applies to every row. Both give the same batches and the same warnings.
"""

from __future__ import annotations

import operator
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import InputError, UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.records import encode_labels, make_batch

from ._common import MAX_SIZE, BatchAssembler, BatchBuffer, local_path

__all__ = ["Rdsv3Adapter"]

SQLITE_MAGIC = b"SQLite format 3\x00"
PRODUCT_CODE = "nsrl_product_code"
RDS_VERSION = "nsrl_rds_version"
BUILD_SET = "nsrl_build_set"

# The schema text sits in sqlite_master, on the first pages of the file.
_FILE_RELATION = re.compile(
    rb"CREATE\s+(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"'`\[]?FILE[\"'`\]]?[\s(]",
    re.IGNORECASE,
)
_PACKAGE_ID = re.compile(rb"package_id", re.IGNORECASE)
_DISTINCT_HASH = re.compile(rb"DISTINCT_HASH", re.IGNORECASE)

_DIGESTS = ("sha256", "sha1", "md5")
_OPTIONAL = ("file_size", "package_id", "file_name")
_FETCH_ROWS = 65_536
_RECORD_COLUMNS = ("sha256", "sha1", "md5", "size", "path", "labels")
_STRUCT = pa.struct(
    [
        ("sha256", pa.string()),
        ("sha1", pa.string()),
        ("md5", pa.string()),
        ("file_size", pa.int64()),
        ("package_id", pa.int64()),
        ("file_name", pa.string()),
    ]
)
"""The selected columns as Arrow converts a fetched range at once."""
_STRUCT_ROWID = pa.struct([*_STRUCT, ("rowid", pa.int64())])


@dataclass(frozen=True, slots=True)
class _Source:
    """What the schema says about the database."""

    relation: str
    """``FILE`` as the database spells it."""
    table: bool
    """``FILE`` is a table with rowids (minimal sets), not a view (full sets)."""
    columns: tuple[str, ...]
    """The select list: the six columns in :data:`_STRUCT` order, ``NULL`` for a missing one."""


class Rdsv3Adapter(FormatAdapter):
    """NIST NSRL RDSv3 SQLite databases (minimal and full) as a benign list.

    A SQLite file without a ``FILE`` table or view that has ``sha256``, ``sha1`` and
    ``md5`` columns is :class:`UnsupportedFormat`; in one that has it, a row with a NULL or
    non-text digest, or a size that is no byte count, is a warning.
    """

    NAME: ClassVar[str] = "nsrl-rdsv3"
    DESCRIPTION: ClassVar[str] = (
        "NIST NSRL RDSv3 SQLite databases, minimal and full (known software)"
    )
    PRIORITY: ClassVar[int] = 20
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A SQLite file whose schema (on its first pages) has RDSv3's ``DISTINCT_HASH``
        view, or a ``FILE`` table or view beside a ``package_id`` column."""
        if not head.startswith(SQLITE_MAGIC):
            return False
        if _DISTINCT_HASH.search(head):
            return True
        return bool(_FILE_RELATION.search(head)) and bool(_PACKAGE_ID.search(head))

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per ``FILE`` row, with its digests, size, name and labels."""
        with local_path(stream, context) as path, _Database(path, context.source) as database:
            assembler = BatchAssembler(context)
            for records, warnings in database.ranges():
                yield from assembler.add(records, warnings)
            yield from assembler.finish()

    def read_by_line(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, found one row at a time: its reference twin.

        Slower, and plain enough to check by eye; the tests hold :meth:`read` to it.
        """
        with local_path(stream, context) as path, _Database(path, context.source) as database:
            buffer = BatchBuffer(_RECORD_COLUMNS)
            adders = [buffer.columns[name].append for name in ("line", *_RECORD_COLUMNS)]
            for number, values in enumerate(database.rows(), start=1):
                row, warnings = _parse_row(values, database.labels)
                for reason in warnings:
                    context.warn(number, reason)
                if row is None:
                    continue
                for add, value in zip(adders, (number, *row), strict=True):
                    add(value)
                if len(buffer) >= context.batch_size:
                    yield buffer.flush()
            if len(buffer):
                yield buffer.flush()


def _lenient_text(data: bytes) -> str:
    """Text of a value that is not valid UTF-8, as the reference reader decodes all text."""
    return data.decode("utf-8", errors="replace")


class _Labels:
    """The labels JSON per ``package_id``, from ``PKG`` and ``VERSION``."""

    __slots__ = ("_base", "_cache", "_id_labels", "_ids", "_names")

    def __init__(self, names: dict[str, list[str]], base: dict[str, str]) -> None:
        self._names = names
        self._base = base
        self._cache: dict[str, str | None] = {}
        # The labels of every integer package id met so far, for whole columns at once.
        self._ids = pa.array([], pa.int64())
        self._id_labels = pa.array([], pa.string())

    def column(self, packages: pa.Array) -> pa.Array:
        """The labels of a column of integer package ids (null: no package)."""
        encoded = pc.dictionary_encode(packages)
        distinct = encoded.dictionary
        at = pc.index_in(distinct, value_set=self._ids)
        if at.null_count:
            new = distinct.filter(pc.is_null(at))
            texts = [self(_code(package)) for package in new.to_pylist()]
            self._ids = pa.concat_arrays([self._ids, new])
            self._id_labels = pa.concat_arrays([self._id_labels, pa.array(texts, pa.string())])
            at = pc.index_in(distinct, value_set=self._ids)
        found = self._id_labels.take(at).take(encoded.indices)
        if packages.null_count:
            none = pa.scalar(self(""), pa.string())
            found = pc.if_else(packages.is_null(), none, found)
        return found

    def __call__(self, code: str) -> str | None:
        """The labels of a row whose ``package_id`` is ``code`` (text, "" for none)."""
        found = self._cache.get(code)
        if found is None and code not in self._cache:
            labels: dict[str, str | list[str]] = dict(self._base)
            products = self._names.get(code)
            if products:
                labels[Label.PRODUCT] = products
            elif code:
                labels[PRODUCT_CODE] = code
            found = encode_labels(labels)
            self._cache[code] = found
        return found


def _code(value: Any) -> str:
    """A ``package_id`` as a label key: the integer as text, other values stripped."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bytes):
        value = _lenient_text(value)
    text = str(value).strip() if value is not None else ""
    if text.isascii() and text.isdigit():
        return str(int(text))
    return text


class _Database:
    """An RDSv3 database opened read-only: its schema, labels, and ``FILE`` rows."""

    def __init__(self, path: Path, source: str) -> None:
        self._source = source
        uri = f"file:{urllib.parse.quote(str(path))}?mode=ro&immutable=1"
        self._connection = sqlite3.connect(uri, uri=True)
        try:
            self._inspect()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise UnsupportedFormat(
                f"not a readable SQLite database: {exc}", source=source, line=1
            ) from None
        except UnsupportedFormat:
            self.close()
            raise

    def __enter__(self) -> _Database:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (again is harmless)."""
        self._connection.close()

    def _inspect(self) -> None:
        connection = self._connection
        relations = {
            name.lower(): (name, kind)
            for kind, name in connection.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        if "file" not in relations:
            raise UnsupportedFormat(
                "no FILE table or view: not an RDSv3 database", source=self._source, line=1
            )
        name, kind = relations["file"]
        columns = {
            str(row[1]).lower(): str(row[1])
            for row in connection.execute(f"PRAGMA table_info({_quote(name)})")
        }
        missing = [column for column in _DIGESTS if column not in columns]
        if missing:
            raise UnsupportedFormat(
                f"the FILE {kind} has no {', '.join(missing)} column: not an RDSv3 database",
                source=self._source,
                line=1,
            )
        table = kind == "table" and _has_rowid(connection, name)
        selected = tuple(
            _quote(columns[column]) if column in columns else "NULL"
            for column in (*_DIGESTS, *_OPTIONAL)
        )
        self.schema = _Source(relation=name, table=table, columns=selected)
        self.labels = _Labels(_products(connection, relations), _version(connection, relations))

    def _select(self) -> str:
        return f"SELECT {', '.join(self.schema.columns)} FROM {_quote(self.schema.relation)}"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every ``FILE`` row's six values, in the order :meth:`ranges` reads them."""
        self._connection.text_factory = _lenient_text
        order = " ORDER BY rowid" if self.schema.table else ""
        try:
            yield from self._connection.execute(self._select() + order)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self._source) from None
        finally:
            self._connection.text_factory = str

    def ranges(self) -> Iterator[tuple[pa.RecordBatch, list[tuple[int, str]]]]:
        """The records and warnings of the rows, a range of rows at a time."""
        if not self.schema.table:
            yield from self._cursor_ranges()
            return
        select = (
            f"SELECT {', '.join(self.schema.columns)}, rowid FROM {_quote(self.schema.relation)}"
        )
        first_range = f"{select} ORDER BY rowid LIMIT ?"
        next_range = f"{select} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        first = 1
        rows = self._fetch(first_range, (_FETCH_ROWS,))
        while rows:
            after = rows[-1][-1]
            # The rowid rides along as a seventh value that the conversion ignores.
            yield _convert(first, rows, self.labels)
            first += len(rows)
            rows = self._fetch(next_range, (after, _FETCH_ROWS))

    def _fetch(self, query: str, parameters: tuple[int, ...]) -> list[tuple[Any, ...]]:
        """One range of rows; text that is not UTF-8 is decoded leniently, as :meth:`rows`
        decodes it."""
        try:
            try:
                return self._connection.execute(query, parameters).fetchall()
            except sqlite3.OperationalError:
                # Text that is not UTF-8 (sqlite3 refuses it as str): fetch the range again.
                self._connection.text_factory = _lenient_text
                try:
                    return self._connection.execute(query, parameters).fetchall()
                finally:
                    self._connection.text_factory = str
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self._source) from None

    def _cursor_ranges(self) -> Iterator[tuple[pa.RecordBatch, list[tuple[int, str]]]]:
        """Ranges of a view's rows, read through one cursor (a view has no rowids)."""
        first = 1
        self._connection.text_factory = _lenient_text
        try:
            cursor = self._connection.execute(self._select())
            while rows := cursor.fetchmany(_FETCH_ROWS):
                yield _convert(first, rows, self.labels)
                first += len(rows)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self._source) from None
        finally:
            self._connection.text_factory = str


def _quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _has_rowid(connection: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` has rowids (it is not a ``WITHOUT ROWID`` table)."""
    try:
        connection.execute(f"SELECT rowid FROM {_quote(table)} LIMIT 0")
    except sqlite3.OperationalError:
        return False
    return True


def _products(
    connection: sqlite3.Connection, relations: dict[str, tuple[str, str]]
) -> dict[str, list[str]]:
    """``"<name> <version>"`` texts by package id, from ``PKG`` (nothing without it)."""
    names: dict[str, list[str]] = {}
    if "pkg" not in relations:
        return names
    connection.text_factory = _lenient_text
    try:
        rows = connection.execute(
            f"SELECT package_id, name, version FROM {_quote(relations['pkg'][0])}"
        ).fetchall()
    except sqlite3.DatabaseError:
        return names
    finally:
        connection.text_factory = str
    for package, name, version in rows:
        text = f"{_text(name)} {_text(version)}".strip()
        found = names.setdefault(_code(package), [])
        if text and text not in found:
            found.append(text)
    return names


def _version(
    connection: sqlite3.Connection, relations: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """The release's ``nsrl_rds_version`` and ``nsrl_build_set`` labels, from ``VERSION``."""
    if "version" not in relations:
        return {}
    connection.text_factory = _lenient_text
    try:
        rows = connection.execute(
            f"SELECT version, build_set FROM {_quote(relations['version'][0])}"
        ).fetchall()
    except sqlite3.DatabaseError:
        return {}
    finally:
        connection.text_factory = str
    if not rows:
        return {}
    # A database patched with deltas may hold several releases: the last row is the newest.
    version, build_set = rows[-1]
    found = {RDS_VERSION: _text(version), BUILD_SET: _text(build_set)}
    return {key: value for key, value in found.items() if value}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return _lenient_text(value).strip()
    return str(value).strip()


_Row = tuple[str | None, str | None, str | None, int | None, str | None, str | None]
"""The values of :data:`_RECORD_COLUMNS` for one ``FILE`` row."""


def _parse_row(values: Sequence[Any], labels: _Labels) -> tuple[_Row | None, list[str]]:
    """One ``FILE`` row (sha256, sha1, md5, file_size, package_id, file_name): its record
    (None when it has no digest at all) and the reasons to warn about it, in order."""
    warnings: list[str] = []
    digests: list[str | None] = []
    for name, value in zip(_DIGESTS, values[:3], strict=True):
        digest, reason = _digest(name, value)
        digests.append(digest)
        if reason is not None:
            warnings.append(reason)
    size, reason = _size(values[3])
    if reason is not None:
        warnings.append(reason)
    if all(digest is None for digest in digests):
        return None, warnings
    name = values[5]
    path = None if name is None else _lenient_text(name) if isinstance(name, bytes) else str(name)
    sha256, sha1, md5 = digests
    return (sha256, sha1, md5, size, path or None, labels(_code(values[4]))), warnings


def _digest(name: str, value: Any) -> tuple[str | None, str | None]:
    """A digest column's value as text (passed as found: the core checks it), or why not."""
    if value is None:
        return None, f"{name} is NULL"
    if isinstance(value, str):
        return value, None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8"), None
        except UnicodeDecodeError:
            return None, f"{name} is a BLOB, not text"
    return None, f"{name} is not text: {value!r:.40}"


def _size(value: Any) -> tuple[int | None, str | None]:
    """``file_size`` as a byte count, or why it is none."""
    if value is None:
        return None, "file_size is NULL"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= MAX_SIZE:
            return value, None
        return None, f"file_size is out of range: {value}"
    return None, f"file_size is not an integer: {value!r:.40}"


def _convert(
    first: int, rows: list[tuple[Any, ...]], labels: _Labels
) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
    """Records and warnings of fetched rows numbered from ``first``: converted to Arrow at
    once, with the rows that conversion cannot settle read by :func:`_parse_row`."""
    n = len(rows)
    # Arrow would truncate a REAL size or package id to an integer: _parse_row judges them.
    if _holds(rows, 3, float) or _holds(rows, 4, float):
        return _slowly(first, rows, labels)
    try:
        converted = pa.array(rows, _STRUCT_ROWID if len(rows[0]) > len(_STRUCT) else _STRUCT)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return _slowly(first, rows, labels)
    sha256, sha1, md5, sizes, packages, names = converted.flatten()[: len(_STRUCT)]
    # NULL digests and sizes, and negative sizes, are warnings: _parse_row says which.
    settled = ~(
        sha256.is_null().to_numpy(zero_copy_only=False)
        | sha1.is_null().to_numpy(zero_copy_only=False)
        | md5.is_null().to_numpy(zero_copy_only=False)
        | sizes.is_null().to_numpy(zero_copy_only=False)
    )
    settled &= sizes.fill_null(0).to_numpy() >= 0
    if not settled.all():
        return _mixed(first, rows, settled, labels)
    label_column = labels.column(packages)
    empty_names = pc.equal(names, "")
    if pc.any(empty_names).as_py():
        names = pc.if_else(empty_names, pa.scalar(None, pa.string()), names)
    records = make_batch(
        {
            "line": pa.array(np.arange(first, first + n, dtype=np.int64)),
            "sha256": sha256,
            "sha1": sha1,
            "md5": md5,
            "size": sizes,
            "path": names,
            "labels": label_column,
        }
    )
    return records, []


def _holds(rows: list[tuple[Any, ...]], index: int, kind: type) -> bool:
    """Whether the ``index``-th value of some row is of type ``kind`` (a C-speed scan)."""
    return kind in set(map(type, map(operator.itemgetter(index), rows)))


def _mixed(
    first: int, rows: list[tuple[Any, ...]], settled: np.ndarray, labels: _Labels
) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
    """A range with a few unsettled rows: the settled runs converted, the rest by rule."""
    pieces: list[pa.RecordBatch] = []
    warnings: list[tuple[int, str]] = []
    done = 0
    for index in np.flatnonzero(~settled).tolist():
        if index > done:
            records, _ = _convert(first + done, rows[done:index], labels)
            pieces.append(records)
        records, found = _slowly(first + index, rows[index : index + 1], labels)
        pieces.append(records)
        warnings.extend(found)
        done = index + 1
    if done < len(rows):
        records, _ = _convert(first + done, rows[done:], labels)
        pieces.append(records)
    return pa.concat_batches(pieces), warnings


def _slowly(
    first: int, rows: list[tuple[Any, ...]], labels: _Labels
) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
    """Records and warnings of rows read one by one by :func:`_parse_row`."""
    buffer = BatchBuffer(_RECORD_COLUMNS)
    adders = [buffer.columns[name].append for name in ("line", *_RECORD_COLUMNS)]
    warnings: list[tuple[int, str]] = []
    for number, values in enumerate(rows, start=first):
        row, reasons = _parse_row(values, labels)
        warnings.extend((number, reason) for reason in reasons)
        if row is None:
            continue
        for add, value in zip(adders, (number, *row), strict=True):
            add(value)
    return buffer.flush(), warnings
