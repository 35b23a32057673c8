"""NIST NSRL RDSv3 SQLite databases: minimal and full flavours, labels from PKG and
VERSION, bad rows, what is not RDSv3 (an Autopsy .kdb), and the fast reader held to its
row-at-a-time twin (test_adapter_rdsv3_fast.py holds them together on every shape)."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hashmatch_adapters.rdsv3 import Rdsv3Adapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.adapter import HEAD_BYTES, ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest().upper() for s in SOURCES]

MINIMAL_SCHEMA = [
    "CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, "
    "crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, "
    "package_id INTEGER NOT NULL, CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, "
    "crc32, file_name, file_size, package_id))",
    "CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, "
    "version VARCHAR NOT NULL, operating_system_id INTEGER NOT NULL, "
    "manufacturer_id INTEGER NOT NULL, language VARCHAR NOT NULL, "
    "application_type VARCHAR NOT NULL)",
    "CREATE TABLE VERSION (version VARCHAR UNIQUE NOT NULL, build_set VARCHAR NOT NULL, "
    "build_date TIMESTAMP, release_date TIMESTAMP NOT NULL, description VARCHAR NOT NULL)",
    "CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE",
]
LOOSE_FILE = (
    "CREATE TABLE FILE (sha256 VARCHAR, sha1 VARCHAR, md5 VARCHAR, crc32 VARCHAR, "
    "file_name VARCHAR, file_size INTEGER, package_id INTEGER)"
)
KDB_SCHEMA = [
    "CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT)",
    "CREATE TABLE hashes (id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, "
    "sha1 BINARY(20), sha2_256 BINARY(32))",
    "CREATE TABLE file_names (name TEXT NOT NULL, hash_id INTEGER NOT NULL)",
    "CREATE TABLE comments (comment TEXT NOT NULL, hash_id INTEGER NOT NULL)",
    "CREATE INDEX md5_index ON hashes(md5)",
    "CREATE INDEX sha1_index ON hashes(sha1)",
    "INSERT INTO db_properties VALUES ('Schema Version', '1')",
]


def database(statements: Sequence[str | tuple[str, Sequence[Any]]]) -> bytes:
    """The bytes of an SQLite database made by ``statements``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test.db"
        connection = sqlite3.connect(path)
        for statement in statements:
            if isinstance(statement, str):
                connection.execute(statement)
            else:
                connection.execute(*statement)
        connection.commit()
        connection.close()
        return path.read_bytes()


def insert(values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
    return ("INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)", values)


LABELS = {"nsrl_rds_version": "2099.01.1", "nsrl_build_set": "modern minimal"}


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["line"],
        row["sha256"],
        row["sha1"],
        row["md5"],
        row["size"],
        row["path"],
        json.loads(row["labels"]),
    )


def test_the_minimal_fixture(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(Rdsv3Adapter, fixture_bytes("nsrl-rdsv3/valid.db"))
    names = ["fixture-one.dll", "résumé.txt", "fixture-three.exe"]
    assert [cells(r) for r in rows] == [
        (
            n + 1,
            SHA256[n],
            SHA1[n],
            MD5[n],
            21,
            names[n],
            {**LABELS, "product": ["Fixture Suite 1.0"]},
        )
        for n in range(3)
    ]
    assert context.warning_count == 0


def test_the_full_fixture_reads_through_its_views(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(Rdsv3Adapter, fixture_bytes("nsrl-rdsv3/full.db"))
    labels = {"nsrl_rds_version": "2099.01.1", "nsrl_build_set": "modern"}
    suite = {**labels, "product": ["Fixture Suite 1.0"]}
    tools = {**labels, "product": ["Fixture Tools 2.5"]}
    # The view joins a package table: its row order is SQLite's, so compare as a set.
    assert sorted((cells(r)[1:] for r in rows), key=repr) == sorted(
        [
            (SHA256[0], SHA1[0], MD5[0], 21, "fixture-one.dll", suite),
            (SHA256[1], SHA1[1], MD5[1], 21, "résumé.txt", suite),
            (SHA256[3], SHA1[3], MD5[3], 21, "fixture, with comma.dll", suite),
            (SHA256[3], SHA1[3], MD5[3], 21, "fixture, with comma.dll", tools),
            (SHA256[4], SHA1[4], MD5[4], 21, "README", tools),
        ],
        key=repr,
    )
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]


def test_bad_rows_are_warnings_with_their_row_number(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("nsrl-rdsv3/corrupt.db")
    rows, context = read(Rdsv3Adapter, data)
    suite = {**LABELS, "product": ["Fixture Suite 1.0"]}
    tools = {**LABELS, "product": ["Fixture Tools 2.5"]}
    assert [cells(r) for r in rows] == [
        (1, SHA256[0], SHA1[0], MD5[0], 21, "good-one.dll", suite),
        (2, SHA256[1], SHA1[1], None, 21, "no-md5.dll", suite),
        (3, SHA256[2], SHA1[2], MD5[2], None, "bad-size.dll", tools),
        (5, SHA256[4], SHA1[4], MD5[4], 21, "good-five.dll", tools),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "md5 is NULL"),
        (3, "file_size is not an integer: 'twenty-one'"),
        (4, "sha256 is NULL"),
        (4, "sha1 is NULL"),
        (4, "md5 is NULL"),
    ]
    with pytest.raises(RecordError) as raised:
        read(Rdsv3Adapter, data, strict=True)
    assert raised.value.line == 2


def test_packages_pkg_does_not_name_keep_their_id(read: Reader) -> None:
    data = database(
        [
            *MINIMAL_SCHEMA,
            insert([SHA256[0], SHA1[0], MD5[0], "X", "a.dll", 21, 190001]),
            insert([SHA256[1], SHA1[1], MD5[1], "X", "b.dll", 21, 190002]),
            "INSERT INTO PKG VALUES (190001, 'Suite', '', 0, 0, 'English', '')",
            "INSERT INTO PKG VALUES (190001, 'Suite', '', 1, 0, 'French', '')",
        ]
    )
    rows, _ = read(Rdsv3Adapter, data)
    # No VERSION row: no version labels. A name without a version is the name alone.
    assert [json.loads(r["labels"]) for r in rows] == [
        {"product": ["Suite"]},
        {"nsrl_product_code": "190002"},
    ]


def test_a_file_on_disk_is_read_in_place(
    fixture_bytes: Callable[[str], bytes], tmp_path: Path
) -> None:
    path = tmp_path / "RDS_2099.01.1_modern_minimal.db"
    path.write_bytes(fixture_bytes("nsrl-rdsv3/valid.db"))
    context = ReadContext(source=path.name, path=path)
    with open(path, "rb") as stream:
        rows = [r for b in Rdsv3Adapter().read(stream, context) for r in b.to_pylist()]
    assert [r["sha1"] for r in rows] == SHA1[:3]
    assert path.read_bytes() == fixture_bytes("nsrl-rdsv3/valid.db")


def test_a_without_rowid_table_is_read_through_a_cursor(read: Reader, twins: Twins) -> None:
    data = database(
        [
            MINIMAL_SCHEMA[0].replace("package_id))", "package_id)) WITHOUT ROWID"),
            *(insert([SHA256[n], SHA1[n], MD5[n], "X", f"{n}.dll", 21, 7]) for n in range(3)),
        ]
    )
    rows, _ = read(Rdsv3Adapter, data)
    assert sorted(r["sha256"] for r in rows) == sorted(SHA256[:3])
    fast, reference = twins(Rdsv3Adapter, data, batch_size=2)
    assert fast == reference


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"SQLite format 3\x00" + b"\x00" * 200, "not a readable SQLite database"),
        (b"not a database at all", "not a readable SQLite database"),
        (database(KDB_SCHEMA), "no FILE table or view"),
        (
            database(["CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, name TEXT, package_id INT)"]),
            "the FILE table has no md5 column",
        ),
    ],
)
def test_what_is_not_an_rdsv3_database(read: Reader, data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(Rdsv3Adapter, data, source="x.db")
    assert reason in raised.value.reason
    assert raised.value.line == 1


class TestSniff:
    """RDSv3 is a SQLite file whose schema, on its first pages, names RDSv3's relations."""

    @pytest.mark.parametrize("name", ["valid.db", "full.db", "corrupt.db"])
    def test_rdsv3_heads(self, fixture_bytes: Callable[[str], bytes], name: str) -> None:
        head = fixture_bytes(f"nsrl-rdsv3/{name}")[:HEAD_BYTES]
        assert Rdsv3Adapter.sniff(head)
        assert default_registry().detect(head) is Rdsv3Adapter

    def test_a_distinct_hash_view_alone_is_enough(self) -> None:
        assert Rdsv3Adapter.sniff(database(MINIMAL_SCHEMA[3:4]))

    @pytest.mark.parametrize(
        "statements",
        [
            KDB_SCHEMA,
            ["CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT)"],
            ["CREATE TABLE files (sha256 TEXT, package_id INT)"],
            ["CREATE TABLE notes (text TEXT)"],
        ],
    )
    def test_other_sqlite_files(self, statements: list[str]) -> None:
        assert not Rdsv3Adapter.sniff(database(statements)[:HEAD_BYTES])

    @pytest.mark.parametrize(
        "head", [b"", b"SQLite format 3", b"DISTINCT_HASH CREATE TABLE FILE (package_id"]
    )
    def test_not_sqlite(self, head: bytes) -> None:
        assert not Rdsv3Adapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

Entry = tuple[str, str, str, int, str, int]
"""(sha256, sha1, md5, file_size, file_name, package_id)."""


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    return (
        draw(hex_digests(Algorithm.SHA256, case="upper")),
        draw(hex_digests(Algorithm.SHA1, case="upper")),
        draw(hex_digests(Algorithm.MD5, case="upper")),
        draw(file_sizes()),
        draw(file_names(newlines=True, carriage_returns=True)),
        draw(st.sampled_from([190001, 190002, 190003])),
    )


PRODUCTS = {190001: "Fixture Suite 1.0", 190002: "Caf\u00e9, Outils 2 SP1"}


def minimal(rows: list[Entry]) -> bytes:
    """A minimal RDSv3 database of ``rows`` (PKG names two of the three packages)."""
    return database(
        [
            *MINIMAL_SCHEMA,
            *(
                insert([s256, s1, m5, "0", name, size, pkg])
                for s256, s1, m5, size, name, pkg in rows
            ),
            *(
                (
                    "INSERT INTO PKG VALUES (?, ?, ?, 0, 0, 'English', '')",
                    (pkg, *text.rsplit(" ", 1)),
                )
                for pkg, text in PRODUCTS.items()
            ),
            "INSERT INTO VERSION VALUES ('2099.01.1', 'modern minimal', NULL, '2099-01-02', 'x')",
        ]
    )


@given(rows=st.lists(entries(), max_size=6, unique_by=lambda e: e[:3]))
@example(rows=[])
@example(rows=[(SHA256[0], SHA1[0], MD5[0], 0, "a,\r\nb \u00e9", 190003)])
def test_round_trip(read: Reader, rows: list[Entry]) -> None:
    parsed, context = read(Rdsv3Adapter, minimal(rows))
    assert context.warning_count == 0
    assert [cells(r) for r in parsed] == [
        (
            line,
            s256,
            s1,
            m5,
            size,
            name,
            {**LABELS, "product": [PRODUCTS[pkg]]}
            if pkg in PRODUCTS
            else {**LABELS, "nsrl_product_code": str(pkg)},
        )
        for line, (s256, s1, m5, size, name, pkg) in enumerate(rows, start=1)
    ]


# --- the fast reader against its row-at-a-time twin -----------------------------------

INVALID_UTF8 = b"caf\xe9"


@st.composite
def odd_values(draw: st.DrawFn, column: str) -> Any:
    """What a damaged or hand-made FILE table may hold in ``column``."""
    common: list[Any] = [None, "", 1.5, 2.0, -3, b"\x01\x02", INVALID_UTF8, "x\u00e9"]
    if column in ("file_size", "package_id"):
        return draw(st.sampled_from([*common, 21, 0, 2**63 - 1, "21", "twenty-one", 190001]))
    return draw(st.sampled_from([*common, MD5[0], SHA1[0].lower(), b"ABCDEF", 7]))


COLUMNS = ("sha256", "sha1", "md5", "crc32", "file_name", "file_size", "package_id")


@st.composite
def table_rows(draw: st.DrawFn) -> list[Any]:
    """A FILE row: mostly good values, some of each odd kind."""
    good = [
        draw(hex_digests(Algorithm.SHA256, case="upper")),
        draw(hex_digests(Algorithm.SHA1, case="upper")),
        draw(hex_digests(Algorithm.MD5, case="upper")),
        "00000000",
        draw(file_names()),
        draw(file_sizes()),
        draw(st.sampled_from([190001, 190002, 190003])),
    ]
    for index in draw(st.lists(st.integers(0, 6), max_size=2)):
        good[index] = draw(odd_values(COLUMNS[index]))
    return good


def loose(rows: list[list[Any]]) -> bytes:
    """A FILE table without constraints; bytes marked INVALID_UTF8 are stored as TEXT."""
    statements: list[str | tuple[str, Sequence[Any]]] = [LOOSE_FILE, *MINIMAL_SCHEMA[1:3]]
    for row in rows:
        marks = ", ".join("CAST(? AS TEXT)" if value == INVALID_UTF8 else "?" for value in row)
        statements.append((f"INSERT INTO FILE VALUES ({marks})", row))
    statements.append("INSERT INTO PKG VALUES (190001, 'Fixture Suite', '1.0', 0, 0, '', '')")
    return database(statements)


@given(
    rows=st.lists(table_rows(), max_size=12),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 2, 3, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
)
@example(
    rows=[
        [SHA256[0], SHA1[0], MD5[0], "0", "a", 21, 190001],
        [SHA256[1], None, MD5[1], "0", INVALID_UTF8, 1.5, "190001"],
        [None, None, None, "0", "c", None, None],
    ],
    strict=False,
    batch_size=2,
    keep_warnings=200,
)
def test_read_agrees_with_the_row_by_row_reader(
    twins: Twins, rows: list[list[Any]], strict: bool, batch_size: int, keep_warnings: int
) -> None:
    fast, reference = twins(
        Rdsv3Adapter,
        loose(rows),
        strict=strict,
        batch_size=batch_size,
        keep_warnings=keep_warnings,
    )
    assert fast == reference


def test_read_agrees_with_the_row_by_row_reader_over_many_ranges(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow batches and rowid ranges of 7 rows, read by threads side by side, and exact
    # reads of 7 rows at a time where the fast path stops.
    monkeypatch.setattr("hashmatch_adapters.rdsv3._BATCH_ROWS", 7)
    monkeypatch.setattr("hashmatch_adapters.rdsv3._FETCH_ROWS", 7)
    rows: list[list[Any]] = [
        [SHA256[n % 5], SHA1[n % 5], MD5[n % 5], "0", f"file-{n}.dll", n, 190001 + n % 3]
        for n in range(60)
    ]
    rows[10][2] = None
    rows[20][5] = "big"
    rows[30][4] = INVALID_UTF8
    rows[40][6] = 2.5
    data = loose(rows)
    for batch_size in (1, 4, 100):
        fast, reference = twins(Rdsv3Adapter, data, batch_size=batch_size)
        assert fast == reference
        assert reference["warning_count"] == 2
    rows_read = [r for _, _, batch in reference["batches"] for r in batch]
    assert [r["line"] for r in rows_read] == list(range(1, 61))
    assert rows_read[30]["path"] == "caf\ufffd"
    assert json.loads(rows_read[40]["labels"]) == {"nsrl_product_code": "2.5"}


def test_twins_on_the_fixtures(twins: Twins, fixture_bytes: Callable[[str], bytes]) -> None:
    for name in ("valid.db", "full.db", "corrupt.db"):
        for batch_size in (1, 2, 65_536):
            fast, reference = twins(
                Rdsv3Adapter, fixture_bytes(f"nsrl-rdsv3/{name}"), batch_size=batch_size
            )
            assert fast == reference, name


def test_reading_does_not_write(fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("nsrl-rdsv3/valid.db")
    stream = io.BytesIO(data)
    list(Rdsv3Adapter().read(stream, ReadContext(source="x")))
    assert stream.getvalue() == data
