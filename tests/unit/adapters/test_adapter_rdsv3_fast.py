"""The RDSv3 fast path (Arrow batches from SQLite through ADBC, in threads) held to its
row-at-a-time twin on random databases of every shape: SQLite's per-value typing (an
INTEGER, REAL or BLOB where text belongs, after many rows of text), NULLs, text that is
not UTF-8, sparse rowids, views, many small batches; and what a user would notice besides:
the file is never written, threads never outlive a read, and the exact way is taken only
where the fast one cannot be sure."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hashmatch_adapters import rdsv3
from hashmatch_adapters.rdsv3 import Rdsv3Adapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, hex_digests

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError

Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest().upper() for s in SOURCES]


class RawText(bytes):
    """Bytes to store as TEXT as they are (``CAST(? AS TEXT)``): text that is not UTF-8."""


NOT_UTF8 = b"caf\xe9"
SURROGATE = b"\xed\xa0\x80"
OVERLONG = b"\xc0\x80"
TOO_HIGH = b"\xf4\x90\x80\x80"

COLUMNS = ("sha256", "sha1", "md5", "crc32", "file_name", "file_size", "package_id")
TYPED_FILE = (
    "CREATE TABLE FILE (sha256 VARCHAR, sha1 VARCHAR, md5 VARCHAR, crc32 VARCHAR, "
    "file_name VARCHAR, file_size INTEGER, package_id INTEGER)"
)
"""The minimal schema's column types without its constraints: affinity turns numbers in
the VARCHAR columns into text, but BLOBs stay BLOBs and text that is no number stays text."""
UNTYPED_FILE = "CREATE TABLE FILE (sha256, sha1, md5, crc32, file_name, file_size, package_id)"
"""No column types: every value stays what it was given as."""
WITHOUT_ROWID_FILE = (
    "CREATE TABLE FILE (k INTEGER PRIMARY KEY, sha256, sha1, md5, crc32, file_name, "
    "file_size, package_id) WITHOUT ROWID"
)
FULL_TABLES = [
    "CREATE TABLE METADATA (object_id INTEGER PRIMARY KEY, sha256, sha1, md5, crc32, "
    "file_name, extension, bytes)",
    "CREATE TABLE PACKAGE_OBJECT (package_id, object_id INTEGER)",
]
FULL_VIEW = (
    "CREATE VIEW FILE AS SELECT UPPER(METADATA.sha256) AS sha256, UPPER(METADATA.sha1) AS "
    "sha1, UPPER(METADATA.md5) AS md5, CASE WHEN METADATA.extension IS NULL OR "
    "METADATA.extension = '' THEN METADATA.file_name ELSE METADATA.file_name || '.' || "
    "METADATA.extension END AS file_name, METADATA.bytes AS file_size, "
    "PACKAGE_OBJECT.package_id AS package_id FROM METADATA JOIN PACKAGE_OBJECT "
    "ON PACKAGE_OBJECT.object_id = METADATA.object_id"
)
"""The full sets' FILE view (as the fixture generator has it)."""
RAW_VIEW = (
    "CREATE VIEW FILE AS SELECT sha256, sha1, md5, file_name, bytes AS file_size, "
    "package_id FROM METADATA JOIN PACKAGE_OBJECT USING (object_id)"
)
"""A view that passes every value through as stored: INTEGERs, REALs and BLOBs included."""
LOOKUPS = [
    "CREATE TABLE PKG (package_id INTEGER, name VARCHAR, version VARCHAR, "
    "operating_system_id INTEGER, manufacturer_id INTEGER, language VARCHAR, "
    "application_type VARCHAR)",
    "CREATE TABLE VERSION (version VARCHAR, build_set VARCHAR, build_date TIMESTAMP, "
    "release_date TIMESTAMP, description VARCHAR)",
    "INSERT INTO PKG VALUES (190001, 'Fixture Suite', '1.0', 0, 0, '', '')",
    "INSERT INTO PKG VALUES (190002, 'Caf\u00e9, Outils', '2 SP1', 0, 0, '', '')",
    "INSERT INTO VERSION VALUES ('2099.01.1', 'modern minimal', NULL, '2099-01-02', 'x')",
]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("CAST(? AS TEXT)" if isinstance(v, RawText) else "?" for v in values)


def _plain(values: Sequence[Any]) -> list[Any]:
    return [bytes(v) if isinstance(v, RawText) else v for v in values]


@dataclass(frozen=True, kw_only=True)
class Shape:
    """How a test database lays out its FILE rows."""

    name: str
    rowids: tuple[int, ...] | None = None
    """Explicit rowids for a table (sparse, negative, huge), in insertion order."""
    encoding: str = "UTF-8"


def build(shape: Shape, rows: Sequence[Sequence[Any]], *, order: Sequence[int] = ()) -> bytes:
    """The bytes of a database of ``rows`` (values of :data:`COLUMNS`) in ``shape``;
    ``order`` shuffles how a full set links objects to packages (the view's order)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test.db"
        connection = sqlite3.connect(path)
        connection.execute(f"PRAGMA encoding = '{shape.encoding}'")
        for statement in LOOKUPS:
            connection.execute(statement)
        if shape.name in ("full", "raw-view"):
            for statement in FULL_TABLES:
                connection.execute(statement)
            connection.execute(FULL_VIEW if shape.name == "full" else RAW_VIEW)
            for number, row in enumerate(rows, start=1):
                s256, s1, m5, crc, name, size, _ = row
                values = [number, s256, s1, m5, crc, name, None, size]
                connection.execute(
                    f"INSERT INTO METADATA VALUES ({_marks(values)})", _plain(values)
                )
            links = [(row[6], number) for number, row in enumerate(rows, start=1)]
            for at in order:
                if 0 <= at < len(links):
                    # The same object in one more package, and links out of object order.
                    links.append(links.pop(at))
                    links.append((190002, links[-1][1]))
            connection.executemany("INSERT INTO PACKAGE_OBJECT VALUES (?, ?)", links)
        else:
            create = {
                "typed": TYPED_FILE,
                "untyped": UNTYPED_FILE,
                "sparse": UNTYPED_FILE,
                "without-rowid": WITHOUT_ROWID_FILE,
            }[shape.name]
            connection.execute(create)
            for number, row in enumerate(rows):
                if shape.name == "sparse" and shape.rowids is not None:
                    values = [shape.rowids[number], *row]
                    insert = f"INSERT INTO FILE (rowid, {', '.join(COLUMNS)}) VALUES "
                elif shape.name == "without-rowid":
                    # Keys out of insertion order: the table's order is the key's.
                    values = [(number * 7919) % 100_003, *row]
                    insert = "INSERT INTO FILE VALUES "
                else:
                    values = list(row)
                    insert = "INSERT INTO FILE VALUES "
                connection.execute(f"{insert}({_marks(values)})", _plain(values))
        connection.commit()
        connection.close()
        return path.read_bytes()


# --- what a FILE cell may hold ---------------------------------------------------------

ODD_TEXT: list[Any] = [
    None,
    "",
    "x\u00e9",
    RawText(NOT_UTF8),
    RawText(SURROGATE),
    RawText(OVERLONG),
    RawText(TOO_HIGH),
    NOT_UTF8,
    SURROGATE,
    b"",
    b"ABCDEF",
    "\u00e9".encode(),
]
ODD_NUMBERS: list[Any] = [7, -3, 0, 2**63 - 1, -(2**63), 1.5, 2.0, -0.0, 1e300, float("inf")]


@st.composite
def odd_values(draw: st.DrawFn, column: str) -> Any:
    """What a damaged or hand-made FILE row may hold in ``column``."""
    if column in ("file_size", "package_id"):
        extra = ["21", "twenty-one", " 190001 ", 21, 190001, 190001.0, -1]
        return draw(st.sampled_from([*ODD_TEXT, *ODD_NUMBERS, *extra]))
    if column == "file_name":
        return draw(st.sampled_from([*ODD_TEXT, *ODD_NUMBERS, "a,b\r\nc"]))
    digest = {"sha256": SHA256[0], "sha1": SHA1[0], "md5": MD5[0]}.get(column, "0")
    return draw(
        st.sampled_from([*ODD_TEXT, *ODD_NUMBERS, digest.lower(), digest.encode(), " " + digest])
    )


@st.composite
def file_rows(draw: st.DrawFn) -> list[Any]:
    """A FILE row: mostly good values, now and then a few odd ones."""
    row = [
        draw(hex_digests(Algorithm.SHA256, case="upper")),
        draw(hex_digests(Algorithm.SHA1, case="upper")),
        draw(hex_digests(Algorithm.MD5, case="upper")),
        "00000000",
        draw(file_names(newlines=True, carriage_returns=True)),
        draw(st.integers(0, 2**40)),
        draw(st.sampled_from([190001, 190002, 190003, None])),
    ]
    for index in draw(st.lists(st.integers(0, 6), max_size=3)):
        row[index] = draw(odd_values(COLUMNS[index]))
    return row


SHAPES = ("typed", "untyped", "sparse", "without-rowid", "full", "raw-view")


@st.composite
def databases(draw: st.DrawFn) -> tuple[Shape, list[list[Any]], list[int]]:
    """A shape, FILE rows, and how a full set shuffles its links."""
    rows = draw(st.lists(file_rows(), max_size=40))
    name = draw(st.sampled_from(SHAPES))
    rowids = None
    if name == "sparse":
        # Drawn, not sorted: rows go in out of rowid order, far apart or side by side.
        wide = st.integers(-(2**63), 2**63 - 1) | st.integers(-5, 60)
        rowids = tuple(draw(st.lists(wide, min_size=len(rows), max_size=len(rows), unique=True)))
    order = draw(st.lists(st.integers(0, 40), max_size=4))
    return Shape(name=name, rowids=rowids), rows, order


def good_rows(n: int) -> list[list[Any]]:
    """``n`` clean rows over the five fixture digests and three packages."""
    return [
        [SHA256[i % 5], SHA1[i % 5], MD5[i % 5], "0", f"file-{i}.dll", i, 190001 + i % 3]
        for i in range(n)
    ]


def rows_of(observation: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for _, _, batch in observation["batches"] for row in batch]


@contextmanager
def small_batches(rows: int, ranges: int = 4_096) -> Iterator[None]:
    """Arrow batches (and table ranges) of ``rows`` rows, at most ``ranges`` ranges."""
    with (
        mock.patch.object(rdsv3, "_BATCH_ROWS", rows),
        mock.patch.object(rdsv3, "_MAX_RANGES", ranges),
    ):
        yield


def reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "rdsv3-arrow"]


# --- the twins agree -------------------------------------------------------------------


@given(
    database=databases(),
    batch_rows=st.sampled_from([1, 2, 3, 8, 64]),
    ranges=st.sampled_from([2, 4_096]),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 3, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
)
@example(
    database=(
        Shape(name="sparse", rowids=(2**63 - 1, -(2**63), 0, 1)),
        [*good_rows(2), [None, 7, NOT_UTF8, "0", 1.5, "21", "abc"], good_rows(1)[0]],
        [],
    ),
    batch_rows=1,
    ranges=2,
    strict=False,
    batch_size=2,
    keep_warnings=200,
)
@example(
    database=(
        Shape(name="raw-view"),
        [
            *good_rows(3),
            [RawText(NOT_UTF8), SURROGATE, 2.0, "0", RawText(TOO_HIGH), -0.0, 190001.0],
            *good_rows(2),
        ],
        [0, 2],
    ),
    batch_rows=2,
    ranges=4_096,
    strict=False,
    batch_size=3,
    keep_warnings=200,
)
@example(
    # Rowids far apart: thousands of empty ranges before the rows ADBC stops at.
    database=(
        Shape(name="sparse", rowids=(26, -12_263_646_020, 29, 60, 42_898)),
        [*good_rows(3), [7, *good_rows(1)[0][1:5], "twenty-one", 190001], good_rows(1)[0]],
        [],
    ),
    batch_rows=1,
    ranges=4_096,
    strict=False,
    batch_size=1,
    keep_warnings=1,
)
@example(
    # A view's batch cut before a digest that is not UTF-8: the rows before it are Arrow's.
    database=(Shape(name="without-rowid"), [*good_rows(9), [NOT_UTF8, *good_rows(1)[0][1:]]], []),
    batch_rows=2,
    ranges=2,
    strict=False,
    batch_size=1,
    keep_warnings=1,
)
def test_read_agrees_with_the_row_by_row_reader(
    twins: Twins,
    database: tuple[Shape, list[list[Any]], list[int]],
    batch_rows: int,
    ranges: int,
    strict: bool,
    batch_size: int,
    keep_warnings: int,
) -> None:
    shape, rows, order = database
    data = build(shape, rows, order=order)
    with small_batches(batch_rows, ranges):
        fast, reference = twins(
            Rdsv3Adapter,
            data,
            strict=strict,
            batch_size=batch_size,
            keep_warnings=keep_warnings,
        )
    assert fast == reference
    assert not reader_threads()


def test_values_of_another_type_after_many_rows_are_never_converted(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ADBC types a column by its first batch and quietly converts later values that
    # differ; the fast path must warn about them as the reference does, and read only
    # the batches that hold them the exact way.
    rows = good_rows(300)
    rows[200][1] = 7
    rows[210][5] = 1.5
    rows[220][5] = "21"
    rows[230][2] = NOT_UTF8
    rows[240][0] = RawText(NOT_UTF8)
    rows[250][4] = 3.0
    rows[260][6] = "abc"
    rows[270][5] = 2.0
    data = build(Shape(name="untyped"), rows)
    exact: list[tuple[int, int]] = []
    exact_rows = rdsv3._exact_rows

    def recording(*arguments: Any) -> Any:
        found = exact_rows(*arguments)
        exact.append((int(found.rowids[0]), int(found.rowids[-1])))
        return found

    monkeypatch.setattr(rdsv3, "_exact_rows", recording)
    with small_batches(32):
        fast, reference = twins(Rdsv3Adapter, data, batch_size=100)
    assert fast == reference
    assert reference["warnings"] == [
        (201, "sha1 is not text: 7"),
        (211, "file_size is not an integer: 1.5"),
        (221, "file_size is not an integer: '21'"),
        (231, "md5 is a BLOB, not text"),
    ]
    found = rows_of(fast)
    assert len(found) == 300
    assert found[240]["sha256"] == "caf\ufffd"
    assert found[250]["path"] == "3.0"
    assert json.loads(found[260]["labels"])["nsrl_product_code"] == "abc"
    assert found[270]["size"] == 2
    # ADBC stops at the INTEGER, the REALs and the text in rowids 193-288; the BLOB and
    # the text that is not UTF-8 it hands over. Just the batches it lost are read again.
    assert sorted(exact) == [(193, 224), (225, 256), (257, 288)]


def test_integers_in_the_first_rows_of_a_digest_column(twins: Twins) -> None:
    rows = good_rows(40)
    for row in rows[:5]:
        row[0] = 12345
    with small_batches(8):
        fast, reference = twins(Rdsv3Adapter, build(Shape(name="untyped"), rows))
    assert fast == reference
    assert reference["warnings"][:2] == [
        (1, "sha256 is not text: 12345"),
        (2, "sha256 is not text: 12345"),
    ]


# --- the fast path is the one taken ------------------------------------------------------


def _no_exact_reading(*_: object) -> Any:
    raise AssertionError("read the exact way")


@pytest.fixture(name="arrow_only")
def _arrow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test where any row is read the exact way (by the caller or a thread)."""
    monkeypatch.setattr(rdsv3, "_exactly", _no_exact_reading)
    monkeypatch.setattr(rdsv3, "_exact_rows", _no_exact_reading)


@pytest.mark.parametrize(
    ("name", "count"),
    [("nsrl-rdsv3/valid.db", 3), ("nsrl-rdsv3/full.db", 5)],
)
@pytest.mark.usefixtures("arrow_only")
def test_clean_fixtures_come_as_arrow(
    twins: Twins, fixture_bytes: Callable[[str], bytes], name: str, count: int
) -> None:
    fast, reference = twins(Rdsv3Adapter, fixture_bytes(name))
    assert fast == reference
    assert len(rows_of(fast)) == count


@pytest.mark.parametrize("shape", ["typed", "full", "without-rowid"])
@pytest.mark.usefixtures("arrow_only")
def test_clean_databases_come_as_arrow_in_many_batches(twins: Twins, shape: str) -> None:
    rows = good_rows(3_000)
    rows[10][6] = None  # no package: labels without a product
    rows[11][4] = ""  # no name
    rows[12][0] = None  # a NULL digest is a warning, and needs no exact reading
    with small_batches(64):
        fast, reference = twins(Rdsv3Adapter, build(Shape(name=shape), rows), batch_size=1_000)
    assert fast == reference
    found = rows_of(fast)
    assert [row["line"] for row in found] == list(range(1, 3_001))
    assert [reason for _, reason in reference["warnings"]] == ["sha256 is NULL"]
    if shape == "typed":
        assert reference["warnings"] == [(13, "sha256 is NULL")]
        assert found[10]["labels"] == json.dumps(
            {"nsrl_build_set": "modern minimal", "nsrl_rds_version": "2099.01.1"},
            separators=(",", ":"),
            sort_keys=True,
        )
        assert found[11]["path"] is None
        assert json.loads(found[2]["labels"])["nsrl_product_code"] == "190003"


def test_threads_read_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rdsv3, "_threads", lambda: 3)
    seen: set[int] = set()
    prepare = rdsv3._prepare

    def noting(*arguments: Any) -> Any:
        seen.add(threading.get_ident())
        return prepare(*arguments)

    monkeypatch.setattr(rdsv3, "_prepare", noting)
    with small_batches(16):
        batches = list(
            Rdsv3Adapter().read(
                io.BytesIO(build(Shape(name="typed"), good_rows(500))),
                ReadContext(source="x", batch_size=500),
            )
        )
    assert [batch.num_rows for batch in batches] == [500]
    assert batches[0].column("line").to_pylist() == list(range(1, 501))
    assert batches[0].column("path").to_pylist() == [f"file-{i}.dll" for i in range(500)]
    assert len(seen) == 3


def test_a_table_not_searched_by_rowid_is_read_with_order_by(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows come in rowid order from a search of the table by rowid; should ADBC plan
    # anything else, the threads ask for ORDER BY (and SQLite merges) instead.
    chosen: list[str] = []
    in_order = rdsv3._in_order

    def noting(connection: Any, query: Any, parameters: Any) -> str:
        monkeypatch.setattr(rdsv3, "_arm_plan", lambda *_: ["SCAN FILE"])
        chosen.append(in_order(connection, query, parameters))
        return chosen[-1]

    monkeypatch.setattr(rdsv3, "_in_order", noting)
    monkeypatch.setattr(rdsv3, "_exactly", _no_exact_reading)
    with small_batches(8):
        fast, reference = twins(Rdsv3Adapter, build(Shape(name="typed"), good_rows(100)))
    assert fast == reference
    assert chosen
    assert all(sql.endswith("ORDER BY 7") for sql in chosen)


# --- and where it is not, the answer is the same ------------------------------------------


BAD_ROWS = [*good_rows(30), [None, 7, NOT_UTF8, "0", RawText(NOT_UTF8), 1.5, "x"], *good_rows(30)]


def _failing_once() -> Callable[..., Any]:
    prepare = rdsv3._prepare
    calls = iter(range(1_000_000))

    def failing(*arguments: Any) -> Any:
        if next(calls) == 1:
            raise RuntimeError("a thread stops")
        return prepare(*arguments)

    return failing


@pytest.mark.parametrize(
    ("fallback", "shape"),
    [
        ("no-adbc", "untyped"),
        ("no-adbc", "full"),
        ("utf-16", "untyped"),
        ("utf-16", "full"),
        ("plans-differ", "full"),
        ("plans-differ", "without-rowid"),
        ("thread-fails", "untyped"),
        ("thread-fails", "raw-view"),
    ],
)
def test_the_exact_way_gives_the_same_answer(
    twins: Twins, monkeypatch: pytest.MonkeyPatch, fallback: str, shape: str
) -> None:
    encoding = "UTF-16le" if fallback == "utf-16" else "UTF-8"
    data = build(Shape(name=shape, encoding=encoding), BAD_ROWS)
    if fallback == "no-adbc":
        monkeypatch.setattr(rdsv3, "HAVE_ADBC", False)
    elif fallback == "plans-differ":
        monkeypatch.setattr(rdsv3, "_arm_plan", lambda *_: ["SCAN ELSEWHERE"])
    elif fallback == "thread-fails":
        monkeypatch.setattr(rdsv3, "_prepare", _failing_once())
    exact: list[int] = []
    exactly = rdsv3._exactly

    def noting(database: Any, first: int, chunks: Any) -> Any:
        exact.append(first)
        return exactly(database, first, chunks)

    monkeypatch.setattr(rdsv3, "_exactly", noting)
    with small_batches(8):
        for batch_size in (1, 7, 100):
            fast, reference = twins(Rdsv3Adapter, data, batch_size=batch_size)
            assert fast == reference
    assert exact
    # The bad row has no digest that is text, but for UPPER() in the full view.
    assert len(rows_of(reference)) == (61 if shape == "full" else 60)


def test_a_damaged_database_fails_as_the_reference_does(twins: Twins) -> None:
    data = bytearray(build(Shape(name="typed"), good_rows(3_000)))
    page = 4_096
    middle = len(data) // page // 2 * page
    data[middle : middle + page] = b"\xa5" * page
    with small_batches(64):
        fast, reference = twins(Rdsv3Adapter, bytes(data), batch_size=500)
    assert fast == reference
    assert reference["error"] is not None
    assert reference["error"][0] == "InputError"
    assert not reader_threads()


# --- what a user would notice besides -----------------------------------------------------


@pytest.mark.parametrize("shape", ["typed", "full", "wal"])
def test_reading_never_writes_the_file(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "RDS_2099.01.1_modern_minimal.db"
    path.write_bytes(build(Shape(name="full" if shape == "full" else "typed"), good_rows(500)))
    if shape == "wal":
        with closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA journal_mode = WAL")
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(tmp_path.iterdir()))
    for method in ("read", "read_by_line"):
        context = ReadContext(source=path.name, path=path)
        with small_batches(64), open(path, "rb") as stream:
            read = getattr(Rdsv3Adapter(), method)
            rows = [row for batch in read(stream, context) for row in batch.to_pylist()]
        assert len(rows) == 500
        after = (path.read_bytes(), path.stat().st_mtime_ns, sorted(tmp_path.iterdir()))
        assert after == before, method


def test_no_thread_outlives_a_read() -> None:
    data = build(Shape(name="typed"), good_rows(2_000))
    with small_batches(16):
        stopped = Rdsv3Adapter().read(io.BytesIO(data), ReadContext(source="x", batch_size=10))
        assert next(stopped).num_rows == 10
        stopped.close()
    assert not reader_threads()
    rows = good_rows(2_000)
    rows[1_500][5] = -1
    context = ReadContext(source="x", strict=True, batch_size=10)
    with small_batches(16):
        batches = Rdsv3Adapter().read(io.BytesIO(build(Shape(name="typed"), rows)), context)
        with pytest.raises(RecordError) as raised:
            list(batches)
    assert raised.value.line == 1_501
    assert raised.value.reason == "file_size is out of range: -1"
    assert not reader_threads()


def test_a_column_named_rowid_does_not_hide_the_rowids(twins: Twins) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test.db"
        with closing(sqlite3.connect(path)) as connection:
            connection.execute(
                "CREATE TABLE FILE (rowid TEXT, sha256, sha1, md5, file_size, package_id)"
            )
            for n, label in enumerate(["c", "a", "b"]):
                connection.execute(
                    "INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?)",
                    (label, SHA256[n], SHA1[n], MD5[n], 21, 190001),
                )
            connection.commit()
        data = path.read_bytes()
    with small_batches(2):
        fast, reference = twins(Rdsv3Adapter, data)
    assert fast == reference
    # Rows in the order they went in (their rowids), not sorted by the column.
    assert [row["sha256"] for row in rows_of(fast)] == SHA256[:3]
