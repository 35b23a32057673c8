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
come from a file). :meth:`Rdsv3Adapter.read_by_line`, the reference reader, takes the rows
one at a time from Python's :mod:`sqlite3` and applies :func:`_parse_row` to each.
:meth:`Rdsv3Adapter.read`, the fast path, has SQLite hand over Arrow batches through ADBC
(``adbc-driver-sqlite``): threads read a table's rowid ranges side by side (the caller takes
the ranges in turn), or a view in one go once ADBC's SQLite plans it as Python's does (the
same plan reads the rows in the same order). The threads settle whole batches with Arrow
compute: the labels are worked out once per package and taken by ``package_id``.

SQLite's typing is per value, not per column, and ADBC types a column from the first batch
it reads, then quietly converts what differs (a number in a text column becomes its
digits). So every query starts with a batch of made-up rows that fixes the types: digests
and names as BLOB, which takes only text and blobs; sizes, package ids and rowids as
INTEGER, which takes only integers. Any other value then stops the stream with an error
instead of being converted; the thread reads the batch it lost with :mod:`sqlite3` and has
ADBC go on after it (from a view, the caller reads the rest that way). Rows with a NULL
digest or size, a negative size, or a digest that is not UTF-8 (text or BLOB? only
:mod:`sqlite3` tells) go through :func:`_parse_row` too. Both readers give the same
batches, the same warnings with the same line numbers, and the same errors.
"""

from __future__ import annotations

import collections
import itertools
import os
import queue
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import InputError, UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.records import RECORD_SCHEMA, encode_labels

from ._common import MAX_SIZE, BatchAssembler, BatchBuffer, local_path

try:
    import adbc_driver_manager
    import adbc_driver_sqlite
except ImportError:  # pragma: no cover - a declared dependency; without it, read is exact
    HAVE_ADBC = False
else:
    HAVE_ADBC = True

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
_RECORD_COLUMNS = ("sha256", "sha1", "md5", "size", "path", "labels")
_ROWID_NAMES = ("rowid", "_rowid_", "oid")

_FETCH_ROWS = 65_536
"""Rows the exact reader takes from a :mod:`sqlite3` cursor at a time."""
_BATCH_ROWS = 65_536
"""Most rows in an Arrow batch from SQLite, and in a table range (16**4: see
:func:`_typing_rows`)."""
_VIEW_BATCH_ROWS = 16_384
"""Rows in an Arrow batch from a view, whose size is not known before it is read."""
_MIN_BATCH_ROWS = 64
_MAX_RANGES = 4_096
"""Rowid ranges at most: a table whose rowids are sparse gets wider ranges, not more."""
_AHEAD = 2
"""Batches each reading thread keeps ready (memory: about 13 MB a batch of 65,536 rows)."""
_ARROW_TYPES = (
    pa.binary(),
    pa.binary(),
    pa.binary(),
    pa.int64(),
    pa.int64(),
    pa.binary(),
    pa.int64(),
)
"""The columns SQLite hands over: the digests, size, package id, name, and the rowid (a
table) or 1 (a view)."""
_BATCH_ROWS_OPTION = "adbc.sqlite.query.batch_rows"


@dataclass(frozen=True, slots=True)
class _Source:
    """What the schema says about the database."""

    relation: str
    """``FILE`` as the database spells it."""
    rowid: str | None
    """The name ``FILE``'s rowids go by when it is a table that has them (minimal sets);
    None for a view (full sets) or a ``WITHOUT ROWID`` table, read in SQLite's order."""
    columns: tuple[str, ...]
    """The select list: the six columns in :data:`_DIGESTS` + :data:`_OPTIONAL` order,
    ``NULL`` for a missing one."""
    utf8: bool
    """The text is stored as UTF-8 (ADBC hands over the BLOB-typed columns as stored)."""


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
            for records, warnings in _pieces(database):
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
    """The labels JSON per ``package_id``, from ``PKG`` and ``VERSION``; the reading
    threads share it."""

    __slots__ = ("_base", "_cache", "_known", "_lock", "_names")

    def __init__(self, names: dict[str, list[str]], base: dict[str, str]) -> None:
        self._names = names
        self._base = base
        self._cache: dict[str, str | None] = {}
        # The labels of every integer package id met so far, for whole columns at once;
        # replaced whole, so that a thread reads ids and labels of the same moment.
        self._known: tuple[pa.Array, pa.Array] = (
            pa.array([], pa.int64()),
            pa.array([], pa.string()),
        )
        self._lock = threading.Lock()

    def column(self, packages: pa.Array) -> pa.Array:
        """The labels of a column of integer package ids (null: no package)."""
        encoded = pc.dictionary_encode(packages)
        distinct = encoded.dictionary
        ids, texts = self._known
        at = pc.index_in(distinct, value_set=ids)
        if at.null_count:
            with self._lock:
                ids, texts = self._known
                new = pc.filter(distinct, pc.is_null(pc.index_in(distinct, value_set=ids)))
                found = [self(_code(package)) for package in new.to_pylist()]
                ids = pa.concat_arrays([ids, new])
                texts = pa.concat_arrays([texts, pa.array(found, pa.string())])
                self._known = (ids, texts)
            at = pc.index_in(distinct, value_set=ids)
        column = texts.take(at).take(encoded.indices)
        if packages.null_count:
            none = pa.scalar(self(""), pa.string())
            column = pc.if_else(packages.is_null(), none, column)
        return column

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
    """An RDSv3 database opened read-only with :mod:`sqlite3`: its schema, labels, and
    ``FILE`` rows as Python values (text decoded leniently: bytes that are not UTF-8 become
    U+FFFD)."""

    def __init__(self, path: Path, source: str) -> None:
        self.source = source
        """The name in messages."""
        self.uri = f"file:{urllib.parse.quote(str(path))}?mode=ro&immutable=1"
        """How both SQLite libraries open the file: read-only, and sure that nobody writes
        it meanwhile (no locks, no journal)."""
        self._connection = sqlite3.connect(self.uri, uri=True)
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
        self._connection.text_factory = _lenient_text

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
                "no FILE table or view: not an RDSv3 database", source=self.source, line=1
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
                source=self.source,
                line=1,
            )
        selected = tuple(
            _quote(columns[column]) if column in columns else "NULL"
            for column in (*_DIGESTS, *_OPTIONAL)
        )
        (encoding,) = connection.execute("PRAGMA encoding").fetchone()
        self.schema = _Source(
            relation=name,
            rowid=_rowid(connection, name, columns) if kind == "table" else None,
            columns=selected,
            utf8=encoding == "UTF-8",
        )
        self.labels = _Labels(_products(connection, relations), _version(connection, relations))

    def select(self, extra: str = "") -> str:
        """``SELECT`` of the six columns (and ``extra``) from ``FILE``, unordered."""
        columns = ", ".join((*self.schema.columns, extra) if extra else self.schema.columns)
        return f"SELECT {columns} FROM {_quote(self.schema.relation)}"

    def _execute(self, query: str, parameters: Sequence[int] = ()) -> sqlite3.Cursor:
        try:
            return self._connection.execute(query, parameters)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self.source) from None

    def rows(self, first: int | None = None, last: int | None = None) -> Iterator[tuple[Any, ...]]:
        """The six values of each row in line order: those whose rowid is from ``first`` to
        ``last`` (a table), or all. One at a time: rows before a damaged page still come."""
        rowid = self.schema.rowid
        query = self.select()
        parameters: tuple[int, ...] = ()
        if rowid is not None:
            if first is not None and last is not None:
                query += f" WHERE {rowid} BETWEEN ? AND ?"
                parameters = (first, last)
            query += f" ORDER BY {rowid}"
        cursor = self._execute(query, parameters)
        try:
            yield from cursor
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self.source) from None

    def chunks(
        self, first: int | None = None, last: int | None = None, *, skip: int = 0
    ) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`rows` a list of up to :data:`_FETCH_ROWS` at a time, but for the first
        ``skip``; the rows before a damaged page come before the error."""
        rows = self.rows(first, last)
        collections.deque(itertools.islice(rows, skip), maxlen=0)
        chunk: list[tuple[Any, ...]] = []
        try:
            for row in rows:
                chunk.append(row)
                if len(chunk) >= _FETCH_ROWS:
                    yield chunk
                    chunk = []
        except InputError:
            if chunk:
                yield chunk
            raise
        if chunk:
            yield chunk

    def row(self, rowid: int) -> tuple[Any, ...]:
        """The six values of the row with ``rowid`` (a table)."""
        query = f"{self.select()} WHERE {self.schema.rowid} = ?"
        try:
            found: tuple[Any, ...] = self._execute(query, (rowid,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self.source) from None
        return found

    def bounds(self) -> tuple[int, int] | None:
        """The smallest and largest rowid (a table), None when it has no rows."""
        rowid = self.schema.rowid
        relation = _quote(self.schema.relation)
        try:
            # Apart, each is a look at one end of the table; together, a scan of all of it.
            (low,) = self._execute(f"SELECT min({rowid}) FROM {relation}").fetchone()
            (high,) = self._execute(f"SELECT max({rowid}) FROM {relation}").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self.source) from None
        return None if low is None else (int(low), int(high))

    def plan(self) -> list[str]:
        """How this SQLite reads :meth:`select`: the steps of its query plan."""
        try:
            steps = self._execute(f"EXPLAIN QUERY PLAN {self.select()}").fetchall()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the database is damaged: {exc}", source=self.source) from None
        return [str(step[-1]) for step in steps]


def _quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _rowid(connection: sqlite3.Connection, table: str, columns: dict[str, str]) -> str | None:
    """The name ``table``'s rowids go by: one of SQLite's names for them that no column
    takes; None when the table has no rowids (``WITHOUT ROWID``) or every name is taken."""
    free = [name for name in _ROWID_NAMES if name not in columns]
    if not free:
        return None
    try:
        connection.execute(f"SELECT {free[0]} FROM {_quote(table)} LIMIT 0")
    except sqlite3.OperationalError:
        return None
    return free[0]


# --- the fast path ---------------------------------------------------------------------


class _Interrupted(Exception):
    """A reading thread cannot go on (ADBC plans a view differently from :mod:`sqlite3`,
    or does not type the columns as asked): the rest is read the exact way."""


class _Damaged(Exception):
    """What :mod:`sqlite3` said of a damaged page, in a reading thread's exact reading."""


class _NotUtf8(Exception):
    """A digest at ``index`` of a batch is not UTF-8: whether SQLite stored it as text
    (read leniently) or as a BLOB (a warning) only SQLite's own reading of the row tells."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


_Piece = tuple[pa.RecordBatch, list[tuple[int, str]]]
"""Records of rows in line order, and the ``(line, reason)`` warnings about them."""


@dataclass(frozen=True, slots=True)
class _Query:
    """What a reading thread asks ADBC, and how it makes sure the rows come in line order:
    ADBC's plan for the ``FILE`` part must be ``plan`` (a view: the plan :mod:`sqlite3`
    has), or a search of the table by rowid (a table), else ``ordered`` is asked instead
    (a table: the same with ``ORDER BY``, which costs SQLite a merge) or nothing at all."""

    sql: str
    plan: list[str] | None = None
    ordered: str | None = None


def _pieces(database: _Database) -> Iterator[_Piece]:
    """The records and warnings of every row, in line order, a batch at a time."""
    if not (HAVE_ADBC and database.schema.utf8):
        yield from _exactly(database, 1, database.chunks())
    elif database.schema.rowid is not None:
        yield from _table_pieces(database)
    else:
        yield from _view_pieces(database)


def _exactly(
    database: _Database, first: int, chunks: Iterator[list[tuple[Any, ...]]]
) -> Generator[_Piece, None, int]:
    """The pieces of rows :mod:`sqlite3` reads, numbered from line ``first``; returns the
    line after the last."""
    for rows in chunks:
        yield _by_rule(first, rows, database.labels)
        first += len(rows)
    return first


def _table_pieces(database: _Database) -> Iterator[_Piece]:
    """A table's rows from ranges of rowids that threads read side by side, each thread
    every n-th range, taken in turn: rowid order, whatever the threads' pace."""
    bounds = database.bounds()
    if bounds is None:
        return
    low, high = bounds
    threads = _threads()
    batch_rows = _batch_rows(high - low + 1, threads)
    ranges = _ranges(low, high, batch_rows)
    query = _Query(
        sql=_table_query(database, batch_rows, ordered=False),
        ordered=_table_query(database, batch_rows, ordered=True),
    )
    rowid = database.schema.rowid
    exact = f"{database.select(str(rowid))} WHERE {rowid} BETWEEN ? AND ? ORDER BY {rowid}"
    readers = [
        _Prefetch(database.uri, query, batch_rows, database.labels, ranges[turn::threads], exact)
        for turn in range(min(threads, len(ranges)))
    ]
    line = 1
    done = low - 1
    try:
        for index, (_, last) in enumerate(ranges):
            for batch in readers[index % len(readers)].through(last):
                if isinstance(batch, _Exact):
                    piece = _by_rule(line, batch.rows, database.labels)
                else:
                    piece = _finish(batch, line, database.labels, database.row)
                line += batch.num_rows
                done = int(batch.rowids[-1])
                yield piece
    except _Damaged as damaged:
        raise InputError(str(damaged), source=database.source) from None
    except _Interrupted:
        for reader in readers:
            reader.close()
        yield from _exactly(database, line, database.chunks(done + 1, high))
    finally:
        for reader in readers:
            reader.close()


def _view_pieces(database: _Database) -> Iterator[_Piece]:
    """A view's rows (or a ``WITHOUT ROWID`` table's) through one thread, in the order both
    SQLite libraries read it: the thread first checks that their query plans agree, and the
    rows from the first that ADBC cannot settle to the end are read the exact way."""
    batch_rows = min(_VIEW_BATCH_ROWS, _BATCH_ROWS)
    query = _Query(sql=_view_query(database, batch_rows), plan=database.plan())
    reader = _Prefetch(database.uri, query, batch_rows, database.labels, None)
    line = 1
    try:
        for batch in reader.through(None):
            if isinstance(batch, _Exact):  # pragma: no cover - only tables are read again
                raise _Interrupted("a view has no rowids to read rows again by")
            try:
                piece = _finish(batch, line, database.labels, None)
            except _NotUtf8 as stop:
                if stop.index:
                    yield _finish(batch.slice(0, stop.index), line, database.labels, None)
                line += stop.index
                break
            line += batch.num_rows
            yield piece
        else:
            return
    except _Interrupted:
        pass
    finally:
        reader.close()
    yield from _exactly(database, line, database.chunks(skip=line - 1))


@dataclass(frozen=True, slots=True)
class _Batch:
    """A batch of rows from SQLite, converted as far as it goes without line numbers:
    in a reading thread, while the caller finishes the batch before."""

    columns: tuple[pa.Array, ...]
    """``md5, sha1, sha256, size, path, labels``: the record columns after ``line``."""
    packages: pa.Array
    """The ``package_id`` column (for rows :func:`_parse_row` settles)."""
    rowids: np.ndarray
    """Each row's rowid (a table)."""
    by_rule: np.ndarray | None
    """Rows with a NULL digest or size, or a negative size; None: there are none."""
    refetch: np.ndarray | None
    """Rows with a digest that is not UTF-8; None: there are none."""

    @property
    def num_rows(self) -> int:
        """How many rows."""
        return len(self.rowids)

    def slice(self, start: int, stop: int | None = None) -> _Batch:
        """Rows ``start`` to ``stop``."""
        stop = self.num_rows if stop is None else stop
        return _Batch(
            columns=tuple(column.slice(start, stop - start) for column in self.columns),
            packages=self.packages.slice(start, stop - start),
            rowids=self.rowids[start:stop],
            by_rule=_marks(self.by_rule, start, stop),
            refetch=_marks(self.refetch, start, stop),
        )


def _marks(marked: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    """The marks of rows ``start`` to ``stop``; None when none is marked."""
    if marked is None or not marked[start:stop].any():
        return None
    return marked[start:stop]


@dataclass(frozen=True, slots=True)
class _Exact:
    """Rows a reading thread read with :mod:`sqlite3`, where ADBC stopped: the six values
    of each, as the reference reader has them."""

    rows: list[tuple[Any, ...]]
    rowids: np.ndarray

    @property
    def num_rows(self) -> int:
        """How many rows."""
        return len(self.rows)

    def slice(self, start: int, stop: int | None = None) -> _Exact:
        """Rows ``start`` to ``stop``."""
        return _Exact(rows=self.rows[start:stop], rowids=self.rowids[start:stop])


def _prepare(batch: pa.RecordBatch, labels: _Labels) -> _Batch:
    """A batch from :func:`_arrow_batches` converted: digests and names viewed as text
    (names not UTF-8 decoded as the reference reader decodes them), labels taken by
    package, and the rows marked that :func:`_parse_row` must settle."""
    n = batch.num_rows
    sha256, sha1, md5 = (batch.column(at).view(pa.string()) for at in range(3))
    sizes = batch.column(3)
    packages = batch.column(4)
    by_rule = np.zeros(n, dtype=bool)
    refetch = np.zeros(n, dtype=bool)
    for digest in (sha256, sha1, md5):
        if digest.null_count:
            by_rule |= digest.is_null().to_numpy(zero_copy_only=False)
        not_utf8 = _not_utf8(digest)
        if not_utf8 is not None:
            refetch |= not_utf8
    if sizes.null_count:
        by_rule |= sizes.is_null().to_numpy(zero_copy_only=False)
    by_rule |= sizes.fill_null(0).to_numpy() < 0
    names = _lenient(batch.column(5))
    empty = pc.equal(names, "")
    if pc.any(empty).as_py():
        names = pc.if_else(empty, pa.scalar(None, pa.string()), names)
    return _Batch(
        columns=(md5, sha1, sha256, sizes, names, labels.column(packages)),
        packages=packages,
        rowids=batch.column(6).to_numpy(),
        by_rule=by_rule if by_rule.any() else None,
        refetch=refetch if refetch.any() else None,
    )


def _finish(
    batch: _Batch,
    first: int,
    labels: _Labels,
    exact: Callable[[int], Sequence[Any]] | None,
) -> _Piece:
    """The records and warnings of a batch whose rows are lines ``first``...: rows marked
    go through :func:`_parse_row`, those with a digest that is not UTF-8 with their values
    as ``exact`` reads them by rowid (:class:`_NotUtf8` without it)."""
    if batch.refetch is not None and exact is None:
        raise _NotUtf8(int(np.argmax(batch.refetch)))
    lines = pa.array(np.arange(first, first + batch.num_rows, dtype=np.int64))
    columns = [lines, *batch.columns]
    if batch.by_rule is None and batch.refetch is None:
        return pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA), []
    refetch = np.zeros(batch.num_rows, dtype=bool) if batch.refetch is None else batch.refetch
    by_rule = np.zeros(batch.num_rows, dtype=bool) if batch.by_rule is None else batch.by_rule
    md5, sha1, sha256, sizes, names, _ = batch.columns

    def values(index: int) -> Sequence[Any]:
        if refetch[index] and exact is not None:
            return exact(int(batch.rowids[index]))
        found = [column[index].as_py() for column in (sha256, sha1, md5, sizes)]
        return [*found, batch.packages[index].as_py(), names[index].as_py()]

    return _settle(columns, np.flatnonzero(by_rule | refetch).tolist(), values, labels)


def _settle(
    columns: list[pa.Array],
    indices: list[int],
    values: Callable[[int], Sequence[Any]],
    labels: _Labels,
) -> _Piece:
    """The batch of ``columns`` (in :data:`RECORD_SCHEMA` order) with the rows at
    ``indices`` as :func:`_parse_row` makes them of their ``values``."""
    first = columns[0][0].as_py()
    n = len(columns[0])
    warnings: list[tuple[int, str]] = []
    keep = np.ones(n, dtype=bool)
    patched = np.zeros(n, dtype=bool)
    rows: list[_Row] = []
    for index in indices:
        row, reasons = _parse_row(values(index), labels)
        warnings.extend((first + index, reason) for reason in reasons)
        if row is None:
            keep[index] = False
        else:
            patched[index] = True
            rows.append(row)
    mask = pa.array(patched)
    # _Row is in _RECORD_COLUMNS order: sha256, sha1, md5, size, path, labels.
    for position, at in enumerate((3, 2, 1, 4, 5, 6)):
        found = pa.array([row[position] for row in rows], RECORD_SCHEMA.field(at).type)
        columns[at] = pc.replace_with_mask(columns[at], mask, found)
    records = pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA)
    if not keep.all():
        records = records.filter(pa.array(keep))
    return records, warnings


_Item = _Batch | _Exact | Exception | None


class _Prefetch:
    """One query's batches, read through ADBC and prepared (:func:`_prepare`) by a thread
    of its own a few batches ahead of the caller, who finishes the batches meanwhile
    (SQLite and Arrow compute let go of the GIL).

    A table's thread reads its ``ranges`` of rowids. Where ADBC stops on a value it will
    not convert (or on anything else), the thread reads the rows of the batch it lost
    with :mod:`sqlite3` (:class:`_Exact`, by the ``exact`` query) and has ADBC go on after
    them. A view's thread has no rowids to go on from: it stops, and the caller reads the
    rest the exact way.
    """

    def __init__(
        self,
        uri: str,
        query: _Query,
        batch_rows: int,
        labels: _Labels,
        ranges: list[tuple[int, int]] | None,
        exact: str | None = None,
    ) -> None:
        self._queue: queue.Queue[_Item] = queue.Queue(_AHEAD)
        self._stop = threading.Event()
        self._pending: _Batch | _Exact | None = None
        self._ended = False
        self._thread = threading.Thread(
            target=self._run,
            args=(uri, query, batch_rows, labels, ranges, exact),
            name="rdsv3-arrow",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self,
        uri: str,
        query: _Query,
        batch_rows: int,
        labels: _Labels,
        ranges: list[tuple[int, int]] | None,
        exact: str | None,
    ) -> None:
        connection: sqlite3.Connection | None = None
        try:
            if ranges is None:
                self._read(uri, query, batch_rows, labels, None)
                self._put(None)
                return
            while ranges:
                stopped = self._read(uri, query, batch_rows, labels, ranges)
                if stopped is None:
                    break
                # ADBC lost a batch of at most batch_rows rows after ``stopped``.
                if connection is None:
                    connection = sqlite3.connect(uri, uri=True)
                    connection.text_factory = _lenient_text
                found = _exact_rows(connection, str(exact), _after(ranges, stopped), batch_rows)
                if found.rows and not self._put(_Exact(rows=found.rows, rowids=found.rowids)):
                    return
                if found.damage is not None:
                    self._put(found.damage)
                    return
                ranges = _after(ranges, int(found.rowids[-1])) if found.rows else []
            self._put(None)
        # Anything else: the caller must hear of it, and reads the rest the exact way.
        except Exception as exc:
            self._put(exc if isinstance(exc, _Interrupted) else _Interrupted(repr(exc)))
        finally:
            if connection is not None:
                connection.close()

    def _read(
        self,
        uri: str,
        query: _Query,
        batch_rows: int,
        labels: _Labels,
        ranges: list[tuple[int, int]] | None,
    ) -> int | None:
        """Hand over the prepared batches of ``ranges`` (a view: all); returns None when
        they are all read, or the rowid after which ADBC stopped (the one before the
        ranges when it stopped before the first row)."""
        done = None if ranges is None else ranges[0][0] - 1
        parameters = None if ranges is None else _parameters(ranges)
        batches = _arrow_batches(uri, query, batch_rows, parameters)
        try:
            while not self._stop.is_set():
                try:
                    batch = next(batches, None)
                except _Interrupted:
                    raise
                except Exception:
                    if done is None:
                        raise
                    return done
                if batch is None:
                    return None
                prepared = _prepare(batch, labels)
                if done is not None:
                    rowids = prepared.rowids
                    if rowids[0] <= done or not (np.diff(rowids) > 0).all():
                        # The plan is a search by rowid: never, unless SQLite changes.
                        raise _Interrupted("rows out of rowid order")  # pragma: no cover
                    done = int(rowids[-1])
                if not self._put(prepared):
                    return None
            return None
        finally:
            batches.close()

    def _put(self, item: _Item) -> bool:
        """Hand ``item`` over, unless the caller has stopped listening."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def _next(self) -> _Batch | _Exact | None:
        if self._ended:
            return None
        item = self._queue.get()
        if item is None or isinstance(item, Exception):
            self._ended = True
        if isinstance(item, Exception):
            raise item
        return item

    def through(self, last: int | None) -> Iterator[_Batch | _Exact]:
        """The next batches, up to the row whose rowid is ``last`` (cutting the batch it
        falls in, whose rest comes next time), or to the end when ``last`` is None.
        Raises :class:`_Interrupted` or :class:`_Damaged` where the thread stopped."""
        while True:
            batch = self._pending if self._pending is not None else self._next()
            self._pending = None
            if batch is None:
                return
            if last is None:
                yield batch
                continue
            cut = int(np.searchsorted(batch.rowids, last, side="right"))
            if cut < batch.num_rows:
                if cut:
                    yield batch.slice(0, cut)
                self._pending = batch.slice(cut)
                return
            yield batch
            if batch.rowids[-1] == last:
                # The range is complete: no need to wait for the next batch.
                return

    def close(self) -> None:
        """Stop the thread and wait for it (it closes its connections itself)."""
        self._stop.set()
        # Make room in the queue, so that a thread waiting to hand a batch over sees at
        # once that nobody will take it.
        while self._thread.is_alive():
            with suppress(queue.Empty):
                self._queue.get(timeout=0.01)
        self._thread.join()


@dataclass(frozen=True, slots=True)
class _Found:
    """Rows read the exact way, and the damage that stopped the reading, if any."""

    rows: list[tuple[Any, ...]]
    rowids: np.ndarray
    damage: _Damaged | None


def _exact_rows(
    connection: sqlite3.Connection, query: str, ranges: list[tuple[int, int]], count: int
) -> _Found:
    """The next ``count`` rows of ``ranges`` as :mod:`sqlite3` reads them with ``query``
    (rows from ``?`` to ``?``, with the rowid); one at a time, so that the rows before a
    damaged page come with the damage."""
    rows: list[tuple[Any, ...]] = []
    rowids: list[int] = []
    damage = None
    try:
        for first, last in ranges:
            for *values, rowid in connection.execute(query, (first, last)):
                rows.append(tuple(values))
                rowids.append(rowid)
                if len(rows) >= count:
                    break
            if len(rows) >= count:
                break
    except sqlite3.DatabaseError as exc:
        damage = _Damaged(f"the database is damaged: {exc}")
    return _Found(rows=rows, rowids=np.array(rowids, dtype=np.int64), damage=damage)


def _after(ranges: list[tuple[int, int]], rowid: int) -> list[tuple[int, int]]:
    """What is left of ``ranges`` after ``rowid``."""
    left = [(first, last) for first, last in ranges if last > rowid]
    if left and left[0][0] <= rowid:
        left[0] = (rowid + 1, left[0][1])
    return left


def _arrow_batches(
    uri: str, query: _Query, batch_rows: int, parameters: pa.RecordBatch | None
) -> Generator[pa.RecordBatch, None, None]:
    """The batches of ``query`` (:func:`_table_query` or :func:`_view_query`) from a
    connection of ADBC's own, after its typing batch; raises what stops it
    (:class:`_Interrupted` when it would never do)."""
    with ExitStack() as stack:
        database = adbc_driver_sqlite.connect(uri)
        stack.callback(database.close)
        connection = adbc_driver_manager.AdbcConnection(database)
        stack.callback(connection.close)
        sql = _in_order(connection, query, parameters)
        statement = adbc_driver_manager.AdbcStatement(connection)
        stack.callback(statement.close)
        statement.set_options(**{_BATCH_ROWS_OPTION: str(batch_rows)})
        statement.set_sql_query(sql)
        if parameters is not None:
            statement.bind(parameters)
        handle, _ = statement.execute_query()
        reader = pa.RecordBatchReader.from_stream(handle)
        stack.callback(reader.close)
        typing = reader.read_next_batch()
        if (
            typing.num_rows != batch_rows
            or typing.column(6).null_count != batch_rows
            or typing.schema.types != list(_ARROW_TYPES)
        ):
            raise _Interrupted(f"the typing rows did not type the columns: {typing.schema}")
        for batch in reader:
            if batch.column(6).null_count:
                raise _Interrupted("a row without a rowid")
            yield batch


def _in_order(connection: Any, query: _Query, parameters: pa.RecordBatch | None) -> str:
    """The SQL of ``query`` that gives the rows in line order, as ADBC plans it."""
    steps = _arm_plan(connection, query.sql, parameters)
    if query.plan is None:
        # One search of the table by a range of rowids walks its b-tree in rowid order.
        if len(steps) == 1 and "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in steps[0]:
            return query.sql
    elif steps == query.plan:
        return query.sql
    if query.ordered is None:
        raise _Interrupted("the two SQLite libraries plan the view differently")
    return query.ordered


def _arm_plan(connection: Any, query: str, parameters: pa.RecordBatch | None) -> list[str]:
    """The steps of ADBC's plan for the ``FILE`` part of ``query`` (after ``UNION ALL``)."""
    statement = adbc_driver_manager.AdbcStatement(connection)
    try:
        statement.set_sql_query(f"EXPLAIN QUERY PLAN {query}")
        if parameters is not None:
            statement.bind(parameters.slice(0, 1))
        handle, _ = statement.execute_query()
        steps = pa.RecordBatchReader.from_stream(handle).read_all().to_pylist()
    finally:
        statement.close()
    union = [step["id"] for step in steps if step["detail"] == "UNION ALL"]
    arm: set[int] = set(union[-1:])
    found = []
    for step in steps:
        if step["parent"] in arm:
            arm.add(step["id"])
            found.append(str(step["detail"]))
    return found


def _typing_rows(count: int) -> str:
    """``count`` (at most 16**4) made-up rows that open a query: ADBC types each column by
    the first batch, which they fill (empty BLOBs, zeros, a NULL rowid that sorts first)."""
    digits = ", ".join(f"({digit})" for digit in range(16))
    return (
        f"SELECT * FROM (WITH d(n) AS (VALUES {digits}) "
        "SELECT x'', x'', x'', 0, 0, x'', NULL FROM d, d AS e, d AS f, d AS g "
        f"LIMIT {count})"
    )


def _table_query(database: _Database, batch_rows: int, *, ordered: bool) -> str:
    """Rows of the rowid ranges bound as ``?1``-``?2``, the typing rows first when ``?3``;
    ``ordered``: with an ``ORDER BY`` that SQLite keeps by merging the two parts."""
    rowid = database.schema.rowid
    return (
        f"{_typing_rows(batch_rows)} WHERE ?3 UNION ALL "
        f"{database.select(str(rowid))} WHERE {rowid} BETWEEN ?1 AND ?2"
        + (" ORDER BY 7" if ordered else "")
    )


def _view_query(database: _Database, batch_rows: int) -> str:
    """Every row in the view's order after the typing rows (UNION ALL keeps the order of
    its parts), with 1 where a table has its rowid."""
    return f"{_typing_rows(batch_rows)} UNION ALL {database.select('1')}"


def _parameters(ranges: Sequence[tuple[int, int]]) -> pa.RecordBatch:
    """The rowid ranges a thread reads, as ADBC binds them; the typing rows come first."""
    return pa.record_batch(
        [
            pa.array([first for first, _ in ranges], pa.int64()),
            pa.array([last for _, last in ranges], pa.int64()),
            pa.array([1] + [0] * (len(ranges) - 1), pa.int64()),
        ],
        names=["first", "last", "typing"],
    )


def _threads() -> int:
    """Threads that read a table side by side: the CPUs this process may use, up to 3
    (beyond that, converting the batches is what limits)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(3, cpus))


def _batch_rows(rows: int, threads: int) -> int:
    """Rows per Arrow batch for a table of at most ``rows`` rows: a power of two, enough for
    each thread to read its share in a batch, within the bounds."""
    share = -(-rows // threads)
    return min(_BATCH_ROWS, max(_MIN_BATCH_ROWS, 1 << (share - 1).bit_length()))


def _ranges(start: int, end: int, width: int) -> list[tuple[int, int]]:
    """Consecutive rowid ranges from ``start`` to ``end``, ``width`` wide or wider."""
    width = max(width, -(-(end - start + 1) // _MAX_RANGES))
    return [(first, min(first + width - 1, end)) for first in range(start, end + 1, width)]


def _not_utf8(column: pa.Array) -> np.ndarray | None:
    """Which values of a string column (viewed from BLOB) are not UTF-8; None: none."""
    data = column.buffers()[2]
    # ASCII (hex digests, most names) is UTF-8, and five times quicker to tell.
    if data is None or np.frombuffer(data, dtype=np.uint8).max(initial=0) < 0x80:
        return None
    try:
        column.validate(full=True)
    except pa.ArrowInvalid:
        return np.array(
            [value is not None and not _is_utf8(value) for value in _blobs(column)], dtype=bool
        )
    return None


def _lenient(column: pa.Array) -> pa.Array:
    """A BLOB-typed name column as text, bytes that are not UTF-8 decoded as the reference
    reader decodes them (text or BLOB, it is all the same to it)."""
    text = column.view(pa.string())
    if _not_utf8(text) is None:
        return text
    return pa.array(
        [None if value is None else _lenient_text(value) for value in _blobs(text)], pa.string()
    )


def _blobs(column: pa.Array) -> list[bytes | None]:
    found: list[bytes | None] = column.view(pa.binary()).to_pylist()
    return found


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _by_rule(first: int, rows: Sequence[Sequence[Any]], labels: _Labels) -> _Piece:
    """Records and warnings of rows read by :mod:`sqlite3`, each by :func:`_parse_row`."""
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


# --- the rule both readers apply -------------------------------------------------------


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
