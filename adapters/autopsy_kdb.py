"""Autopsy / The Sleuth Kit SQLite hash databases (``.kdb``, FORMATS.md §5.5).

TSK (``tsk/hashdb/sqlite_hdb.cpp``) creates::

    CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT);   -- "Schema Version" = "1"
    CREATE TABLE hashes (id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE,
                         sha1 BINARY(20), sha2_256 BINARY(32));
    CREATE TABLE file_names (name TEXT NOT NULL, hash_id INTEGER NOT NULL, ...);
    CREATE TABLE comments (comment TEXT NOT NULL, hash_id INTEGER NOT NULL, ...);

Digests are raw BLOBs (usually only the MD5; Autopsy adds by MD5), turned into hex here.
One record per ``hashes`` row, in ``id`` order, with ``line`` = the row's ``id`` (what a user
can look up in the database): ``md5``/``sha1``/``sha256``, ``path`` = the hash's first file
name, and the labels ``comments`` (all of the hash's comments, joined with `` | ``),
``autopsy_kdb_names`` (every file name, when there is more than one) and ``set_name``
(when ``db_properties`` names the set). A digest BLOB of the wrong width is a warning
naming the row id. Older databases with ``UNIQUE`` on ``file_names.name`` /
``comments.comment`` read the same way. The file is opened read-only and immutable.

Names and comments are joined to their hashes without per-row queries (TSK indexes
neither table by ``hash_id``): three cursors stream ``hashes`` by id and ``file_names``
and ``comments`` sorted by ``hash_id``, and each batch of hashes takes the names and
comments up to its last id, matched by :func:`numpy.searchsorted`. Only ``fetchmany``;
never the whole table.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import InputError, UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.records import make_batch

from ._common import local_path

__all__ = ["AutopsyKdbAdapter"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_DIGESTS: tuple[tuple[str, str, int], ...] = (
    ("md5", "md5", 16),
    ("sha1", "sha1", 20),
    ("sha256", "sha2_256", 32),
)
"""(record column, ``hashes`` column, BLOB width) of each digest."""
_NAMES_LABEL = "autopsy_kdb_names"
_COMMENT_JOINER = " | "
_SET_NAME_PROPERTIES = frozenset(
    {"name", "set name", "hash set name", "hashset name", "database name", "db name"}
)
"""``db_properties`` names (lower case, ``_`` read as a space) that hold the set's name.
TSK itself writes only "Schema Version"; other writers add a name."""
_NONE_TYPE = type(None)
_json_text = json.encoder.encode_basestring
"""A JSON string literal, as :func:`hashmatch.records.encode_labels` writes one."""

IntArray = npt.NDArray[np.int64]

_HEX_PAIRS: npt.NDArray[np.uint16] = np.frombuffer(
    b"".join(f"{i:02x}".encode("ascii") for i in range(256)), dtype=np.uint16
)
"""The two hex digits of each byte value, as one 16-bit item: a byte's hex is one lookup."""


def _binary_to_hex(values: pa.BinaryArray) -> pa.StringArray:
    """Lower-case hex of each value of an unsliced array (nulls stay null): every byte
    becomes two digits, so the offsets double and the validity bitmap is the same."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1)
    data = values.buffers()[2]
    raw = (
        np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if data is not None
        else np.zeros(0, dtype=np.uint8)
    )
    text = np.take(_HEX_PAIRS, raw)
    doubled = (offsets - offsets[0]) * 2
    validity = values.buffers()[0] if values.null_count else None
    array: pa.StringArray = pa.StringArray.from_buffers(
        len(values),
        pa.py_buffer(doubled.astype(np.int32)),
        pa.py_buffer(text),
        validity,
        values.null_count,
    )
    return array


def _digest_column(values: Sequence[Any], width: int) -> tuple[pa.Array, list[int]]:
    """A digest column of a batch as hex text, and the indices of BLOBs not ``width``
    bytes wide (their values are null in the column).

    BLOBs are the format; a TEXT value (a writer that stored hex) is passed on as text for
    the core to check, and so is anything else SQLite may hold, as its text.
    """
    kinds = set(map(type, values))
    if kinds <= {_NONE_TYPE}:
        return pa.nulls(len(values), pa.string()), []
    if kinds <= {bytes, _NONE_TYPE}:
        blobs = pa.array(values, pa.binary())
        lengths = pc.binary_length(blobs).to_numpy(zero_copy_only=False)
        wrong = np.flatnonzero(np.nan_to_num(lengths, nan=width) != width)
        text: pa.Array = _binary_to_hex(blobs)
        if wrong.size:
            mask = np.zeros(len(values), dtype=bool)
            mask[wrong] = True
            text = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), text)
        return text, wrong.tolist()
    cells: list[str | None] = []
    bad: list[int] = []
    for index, value in enumerate(values):
        if isinstance(value, bytes):
            if len(value) != width:
                bad.append(index)
                cells.append(None)
            else:
                cells.append(value.hex())
        else:
            cells.append(None if value is None else str(value))
    return pa.array(cells, pa.string()), bad


def _columns_of(rows: list[Any], width: int) -> list[list[Any]]:
    """The columns of fetched rows (quicker than ``zip(*rows)`` on many rows)."""
    return [list(map(operator.itemgetter(index), rows)) for index in range(width)]


def _decode_all(raw: Sequence[bytes]) -> list[str]:
    """UTF-8 text of each value; one that is not UTF-8 keeps its readable parts."""
    try:
        return [value.decode("utf-8") for value in raw]
    except UnicodeDecodeError:
        return [value.decode("utf-8", errors="replace") for value in raw]


class _ByHash:
    """The rows of a ``(hash_id, text)`` query sorted by ``hash_id``, handed out a batch of
    hashes at a time: :meth:`upto` gives every row whose ``hash_id`` is at most the batch's
    last id and keeps the rest for the next batch."""

    __slots__ = ("_cursor", "_ids", "_size", "_texts")

    def __init__(self, cursor: sqlite3.Cursor | None, size: int) -> None:
        self._cursor = cursor
        self._size = size
        self._ids: IntArray = np.zeros(0, dtype=np.int64)
        self._texts: list[str] = []

    def upto(self, last: int) -> tuple[IntArray, list[str]]:
        """Rows with ``hash_id <= last`` not handed out yet: their ids and texts."""
        while self._cursor is not None and (not len(self._ids) or self._ids[-1] <= last):
            rows = self._cursor.fetchmany(self._size)
            if not rows:
                self._cursor = None
                break
            raw_ids, raw_texts = _columns_of(rows, 2)
            found = np.fromiter(raw_ids, dtype=np.int64, count=len(raw_ids))
            self._ids = np.concatenate([self._ids, found]) if len(self._ids) else found
            self._texts.extend(_decode_all(raw_texts))
        cut = int(np.searchsorted(self._ids, last, side="right"))
        ids, texts = self._ids[:cut], self._texts[:cut]
        self._ids, self._texts = self._ids[cut:], self._texts[cut:]
        return ids, texts


def _by_hash_id(
    connection: sqlite3.Connection, tables: set[str], table: str, column: str
) -> sqlite3.Cursor | None:
    """``(hash_id, text)`` rows of ``table`` sorted by ``hash_id`` and then by insertion
    (the order TSK added them in), or None when the database has no such table."""
    if table not in tables:
        return None
    # Values are fetched as bytes and decoded here: SQLite's own decoding would end the
    # read at the first name that is not UTF-8.
    query = (
        f"SELECT hash_id, CAST({column} AS BLOB) FROM {table} "
        f"WHERE typeof(hash_id) = 'integer' AND {column} IS NOT NULL ORDER BY hash_id"
    )
    try:
        return connection.execute(query + ", rowid")
    except sqlite3.OperationalError:
        # A WITHOUT ROWID table (not TSK's, but another writer's) has no insertion order.
        return connection.execute(query)


def _group(hash_ids: IntArray, found_ids: IntArray) -> tuple[IntArray, IntArray]:
    """For each of ``hash_ids``, where its rows start in ``found_ids`` and how many there are."""
    starts = np.searchsorted(found_ids, hash_ids, side="left")
    ends = np.searchsorted(found_ids, hash_ids, side="right")
    return starts.astype(np.int64), (ends - starts).astype(np.int64)


class _Labeller:
    """The ``path`` and ``labels`` columns of batches of hashes, from their names and
    comments: most hashes have one name and no comment, and share one label text."""

    __slots__ = ("_base_text", "_set_part")

    def __init__(self, set_name: str | None) -> None:
        self._set_part = f'"{Label.SET_NAME}":{_json_text(set_name)}' if set_name else None
        self._base_text = self.text(None, None)

    def text(self, names: list[str] | None, comment: str | None) -> str | None:
        """What :func:`hashmatch.records.encode_labels` makes of the labels (the same
        canonical JSON: sorted keys, no spaces, non-ASCII as is), without its cost per
        call, which would be most of a read's time on a set with many names."""
        parts = []
        if names:
            parts.append(f'"{_NAMES_LABEL}":[{",".join(map(_json_text, names))}]')
        if comment:
            parts.append(f'"{Label.COMMENTS}":{_json_text(comment)}')
        if self._set_part is not None:
            parts.append(self._set_part)
        return "{" + ",".join(parts) + "}" if parts else None

    def columns(
        self,
        ids: IntArray,
        names: tuple[IntArray, list[str]],
        comments: tuple[IntArray, list[str]],
    ) -> tuple[pa.Array, pa.Array]:
        """``path`` (each hash's first name) and ``labels`` for the hashes ``ids``, given the
        ``(hash_id, text)`` rows of ``file_names`` and ``comments`` that may belong to them."""
        n = len(ids)
        name_ids, name_texts = names
        comment_texts = comments[1]
        name_starts, name_counts = _group(ids, name_ids)
        comment_starts, comment_counts = _group(ids, comments[0])
        if name_texts:
            has_name = name_counts > 0
            firsts = pa.array(name_texts, pa.string()).take(
                pa.array(np.where(has_name, name_starts, 0))
            )
            paths: pa.Array = pc.if_else(pa.array(has_name), firsts, pa.scalar(None, pa.string()))
        else:
            paths = pa.nulls(n, pa.string())
        special = np.flatnonzero((name_counts > 1) | (comment_counts > 0))
        if not special.size:
            return paths, pa.repeat(pa.scalar(self._base_text, pa.string()), n)
        labels: list[str | None] = [self._base_text] * n
        for index, name_start, name_count, comment_start, comment_count in zip(
            special.tolist(),
            name_starts[special].tolist(),
            name_counts[special].tolist(),
            comment_starts[special].tolist(),
            comment_counts[special].tolist(),
            strict=True,
        ):
            labels[index] = self.text(
                name_texts[name_start : name_start + name_count] if name_count > 1 else None,
                _COMMENT_JOINER.join(comment_texts[comment_start : comment_start + comment_count])
                if comment_count
                else None,
            )
        return paths, pa.array(labels, pa.string())


def _schema_problem(connection: sqlite3.Connection) -> str | None:
    """Why the database is not a TSK hash database, or None when it is one."""
    tables = {
        str(name).lower()
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    if not {"hashes", "db_properties"} <= tables:
        return "not an Autopsy hash database: no 'hashes' and 'db_properties' tables"
    columns = {str(row[1]).lower() for row in connection.execute("PRAGMA table_info(hashes)")}
    missing = {"id", "md5", "sha1", "sha2_256"} - columns
    if missing:
        return f"not an Autopsy hash database: 'hashes' has no column {', '.join(sorted(missing))}"
    return None


def _connect(path: Path) -> sqlite3.Connection:
    """The database, read-only; ``immutable`` also skips locking, so a copy on read-only
    media or a share opens as well."""
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


class AutopsyKdbAdapter(FormatAdapter):
    """Autopsy / TSK ``.kdb`` hash databases: one record per ``hashes`` row.

    A file that is no SQLite database, or one without the ``hashes`` and ``db_properties``
    tables, is :class:`UnsupportedFormat`: the schema is what makes a file this format. A
    digest BLOB of the wrong width is a warning with the row id.
    """

    NAME: ClassVar[str] = "autopsy-kdb"
    DESCRIPTION: ClassVar[str] = "Autopsy / The Sleuth Kit SQLite hash databases (.kdb)"
    PRIORITY: ClassVar[int] = 6
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """An SQLite file whose schema (on its first page) has ``db_properties`` and
        ``sha2_256``: TSK's tables, which NSRL RDSv3 and other SQLite files lack."""
        return head.startswith(SQLITE_MAGIC) and b"db_properties" in head and b"sha2_256" in head

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per ``hashes`` row, in ``id`` order."""
        with local_path(stream, context) as path:
            connection = self._open(path, context.source)
            try:
                yield from self._read(connection, context)
            except sqlite3.DatabaseError as exc:
                raise InputError(
                    f"the database cannot be read: {exc}", source=context.source
                ) from exc
            finally:
                connection.close()

    @staticmethod
    def _open(path: Path, source: str) -> sqlite3.Connection:
        """The database, after checking that it has TSK's tables."""
        try:
            connection = _connect(path)
        except sqlite3.DatabaseError as exc:
            raise UnsupportedFormat(
                f"not an SQLite database: {exc}", source=source, line=1
            ) from exc
        try:
            problem = _schema_problem(connection)
        except sqlite3.DatabaseError as exc:
            problem = f"not an SQLite database: {exc}"
        if problem is not None:
            connection.close()
            raise UnsupportedFormat(problem, source=source, line=1)
        return connection

    @staticmethod
    def _set_name(connection: sqlite3.Connection) -> str | None:
        """The set's name, when a ``db_properties`` row gives one."""
        for raw_name, raw_value in connection.execute(
            "SELECT CAST(name AS BLOB), CAST(value AS BLOB) FROM db_properties"
        ):
            name, value = _decode_all([raw_name or b"", raw_value or b""])
            key = " ".join(name.replace("_", " ").lower().split())
            if key in _SET_NAME_PROPERTIES and value:
                return value
        return None

    def _read(
        self, connection: sqlite3.Connection, context: ReadContext
    ) -> Iterator[pa.RecordBatch]:
        tables = {
            str(name).lower()
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        size = max(1, context.batch_size)
        labeller = _Labeller(self._set_name(connection))
        # TSK indexes neither table by hash_id: one sort each (in SQLite, spilling to a
        # temporary file when large) beats a lookup per hash.
        names = _ByHash(_by_hash_id(connection, tables, "file_names", "name"), size)
        comments = _ByHash(_by_hash_id(connection, tables, "comments", "comment"), size)
        hashes = connection.execute("SELECT id, md5, sha1, sha2_256 FROM hashes ORDER BY id")
        while rows := hashes.fetchmany(size):
            raw_ids, *digest_values = _columns_of(rows, 4)
            ids = np.fromiter(raw_ids, dtype=np.int64, count=len(raw_ids))
            last = int(ids[-1])
            columns: dict[str, pa.Array] = {}
            dropped = np.zeros(len(ids), dtype=bool)
            warnings: list[tuple[int, str]] = []
            present = np.zeros(len(ids), dtype=bool)
            for (column, sql_column, width), values in zip(_DIGESTS, digest_values, strict=True):
                text, bad = _digest_column(values, width)
                columns[column] = text
                present |= text.is_valid().to_numpy(zero_copy_only=False)
                for index in bad:
                    dropped[index] = True
                    warnings.append(
                        (
                            int(ids[index]),
                            f"{sql_column} BLOB of {len(values[index])} bytes, not {width} "
                            f"(hashes.id {int(ids[index])})",
                        )
                    )
            columns["path"], columns["labels"] = labeller.columns(
                ids, names.upto(last), comments.upto(last)
            )
            for line, reason in sorted(warnings):
                context.warn(line, reason)
            # A row whose only digests were bad BLOBs has nothing left to match.
            keep = ~dropped | present
            batch = make_batch({"line": pa.array(ids), **columns})
            if not keep.all():
                batch = batch.filter(pa.array(keep))
            if batch.num_rows:
                yield batch
