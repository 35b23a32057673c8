"""Autopsy / TSK ``.kdb`` SQLite hash databases: BLOB digests, names, comments, schemas."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hashmatch_adapters.autopsy_kdb import AutopsyKdbAdapter, _Labeller
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import file_names

from hashmatch.adapter import HEAD_BYTES, ReadContext
from hashmatch.errors import InputError, RecordError, UnsupportedFormat
from hashmatch.records import decode_labels, encode_labels
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]

SCHEMA = (
    "CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT);"
    "INSERT INTO db_properties (name, value) VALUES ('Schema Version', '1');"
    "CREATE TABLE hashes (id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, "
    "sha1 BINARY(20), sha2_256 BINARY(32));"
    "CREATE TABLE file_names (name TEXT NOT NULL, hash_id INTEGER NOT NULL, "
    "PRIMARY KEY(name, hash_id));"
    "CREATE TABLE comments (comment TEXT NOT NULL, hash_id INTEGER NOT NULL, "
    "PRIMARY KEY(comment, hash_id));"
    "CREATE INDEX md5_index ON hashes(md5);"
)
OLD_SCHEMA = (
    "CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT);"
    "INSERT INTO db_properties (name, value) VALUES ('Schema Version', '1');"
    "CREATE TABLE hashes (id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, "
    "sha1 BINARY(20), sha2_256 BINARY(32));"
    "CREATE TABLE file_names (name TEXT NOT NULL UNIQUE, hash_id INTEGER NOT NULL);"
    "CREATE TABLE comments (comment TEXT NOT NULL UNIQUE, hash_id INTEGER NOT NULL);"
    "CREATE INDEX md5_index ON hashes(md5);"
    "CREATE INDEX sha1_index ON hashes(sha1);"
)

Digest = bytes | str | None


class Entry:
    """One hash as TSK stores it: the three digest cells, its names and comments."""

    def __init__(
        self,
        md5: Digest,
        sha1: Digest = None,
        sha256: Digest = None,
        names: Sequence[str] = (),
        comments: Sequence[str] = (),
    ) -> None:
        self.digests = (md5, sha1, sha256)
        self.names = list(names)
        self.comments = list(comments)

    def __repr__(self) -> str:
        return f"Entry({self.digests!r}, names={self.names!r}, comments={self.comments!r})"


def write_kdb(
    path: Path,
    entries: Sequence[Entry],
    *,
    schema: str = SCHEMA,
    properties: Sequence[tuple[str, str]] = (),
    interleave: bool = True,
) -> Path:
    """A TSK hash database: each hash inserted, then its names and comments, as TSK's
    ``sqlite_hdb_add_entry`` does (or all names after all hashes with ``interleave=False``)."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(schema)
        connection.executemany("INSERT INTO db_properties VALUES (?, ?)", properties)
        later: list[tuple[str, tuple[str, int]]] = []
        for entry in entries:
            cursor = connection.execute(
                "INSERT INTO hashes (md5, sha1, sha2_256) VALUES (?, ?, ?)", entry.digests
            )
            hash_id = cursor.lastrowid
            assert hash_id is not None
            rows = [("INSERT INTO file_names VALUES (?, ?)", (n, hash_id)) for n in entry.names]
            rows += [("INSERT INTO comments VALUES (?, ?)", (c, hash_id)) for c in entry.comments]
            if interleave:
                for sql, row in rows:
                    connection.execute(sql, row)
            else:
                later.extend(rows)
        for sql, row in reversed(later):
            connection.execute(sql, row)
        connection.commit()
    finally:
        connection.close()
    return path


def cells(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["line"], r["md5"], r["sha1"], r["sha256"], r["path"], decode_labels(r["labels"]))
        for r in rows
    ]


def read_path(path: Path, **options: Any) -> tuple[list[dict[str, Any]], ReadContext]:
    """Read a database through ``context.path`` (the way files on disk are read)."""
    context = ReadContext(source=path.name, path=path, **options)
    with open(path, "rb") as stream:
        batches = list(AutopsyKdbAdapter().read(stream, context))
    assert all(0 < b.num_rows <= context.batch_size for b in batches)
    return [row for b in batches for row in b.to_pylist()], context


def test_the_valid_fixture(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(AutopsyKdbAdapter, fixture_bytes("autopsy-kdb/valid.kdb"), strict=True)
    assert cells(rows) == [
        (1, MD5[0], None, None, "fixture1.jpg", {"comments": "synthetic"}),
        (
            2,
            MD5[1],
            SHA1[1],
            None,
            "fixture2.jpg",
            {"autopsy_kdb_names": ["fixture2.jpg", "copy of fixture2.jpg"]},
        ),
        (
            3,
            MD5[2],
            SHA1[2],
            SHA256[2],
            "C:\\Cases\\fixture3.jpg",
            {"comments": "first note | second note | with a bar"},
        ),
        (4, MD5[3], None, None, None, {}),
        (5, MD5[4], None, SHA256[4], "fixture5, with comma.bin", {}),
    ]
    assert context.warning_count == 0


def test_the_older_schema_with_unique_names(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(AutopsyKdbAdapter, fixture_bytes("autopsy-kdb/old-variant.kdb"), strict=True)
    assert cells(rows) == [
        (1, MD5[0], None, None, "old1.jpg", {}),
        (2, MD5[1], SHA1[1], None, None, {"comments": "old"}),
        (3, MD5[2], SHA1[2], SHA256[2], "old3.jpg", {}),
    ]


def test_a_set_name_property_labels_every_hash(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(AutopsyKdbAdapter, fixture_bytes("autopsy-kdb/named-set.kdb"))
    assert [decode_labels(r["labels"]) for r in rows] == [{"set_name": "Synthetic Notable"}] * 2


def test_a_blob_of_the_wrong_width_is_a_warning_with_the_row_id(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(
        AutopsyKdbAdapter, fixture_bytes("autopsy-kdb/corrupt.kdb"), source="corrupt.kdb"
    )
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("corrupt.kdb", 4, "md5 BLOB of 15 bytes, not 16 (hashes.id 4)")
    ]
    # The row had nothing else to match on: it is gone; the rows around it are read.
    assert [(r["line"], r["md5"]) for r in rows] == [
        (1, MD5[0]),
        (2, MD5[1]),
        (3, MD5[2]),
        (5, MD5[4]),
    ]


def test_a_bad_blob_beside_a_good_one_keeps_the_good_one(tmp_path: Path) -> None:
    path = write_kdb(
        tmp_path / "x.kdb",
        [
            Entry(bytes.fromhex(MD5[0])),
            Entry(bytes.fromhex(MD5[1]), bytes(19), bytes.fromhex(SHA256[1])),
            Entry(b"", None, bytes(33)),
        ],
    )
    rows, context = read_path(path)
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "sha1 BLOB of 19 bytes, not 20 (hashes.id 2)"),
        (3, "md5 BLOB of 0 bytes, not 16 (hashes.id 3)"),
        (3, "sha2_256 BLOB of 33 bytes, not 32 (hashes.id 3)"),
    ]
    assert [(r["line"], r["md5"], r["sha1"], r["sha256"]) for r in rows] == [
        (1, MD5[0], None, None),
        (2, MD5[1], None, SHA256[1]),
    ]


def test_strict_raises_at_the_bad_blob(fixture_bytes: Callable[[str], bytes], read: Reader) -> None:
    with pytest.raises(RecordError) as raised:
        read(AutopsyKdbAdapter, fixture_bytes("autopsy-kdb/corrupt.kdb"), strict=True)
    assert raised.value.line == 4


def test_hex_text_in_a_digest_column_is_passed_on_as_text(tmp_path: Path) -> None:
    path = write_kdb(tmp_path / "x.kdb", [Entry(MD5[0].upper()), Entry(bytes.fromhex(MD5[1]))])
    rows, context = read_path(path)
    assert [r["md5"] for r in rows] == [MD5[0].upper(), MD5[1]]
    assert context.warning_count == 0


def test_a_name_that_is_not_utf8_does_not_stop_the_read(tmp_path: Path) -> None:
    path = write_kdb(
        tmp_path / "x.kdb", [Entry(bytes.fromhex(MD5[0])), Entry(bytes.fromhex(MD5[1]))]
    )
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO file_names VALUES (CAST(x'ff41' AS TEXT), 1)")
        connection.execute("INSERT INTO comments VALUES (CAST(x'42fe' AS TEXT), 2)")
    connection.close()
    rows, _ = read_path(path)
    assert [(r["path"], decode_labels(r["labels"])) for r in rows] == [
        ("\ufffdA", {}),
        (None, {"comments": "B\ufffd"}),
    ]


def test_names_added_out_of_order_still_find_their_hash(tmp_path: Path) -> None:
    entries = [
        Entry(bytes.fromhex(MD5[n]), names=[f"n{n}a", f"n{n}b"], comments=[f"c{n}"])
        for n in range(5)
    ]
    path = write_kdb(tmp_path / "x.kdb", entries, interleave=False)
    for batch_size in (1, 2, 3, 100):
        rows, _ = read_path(path, batch_size=batch_size)
        # Inserted in reverse: the first name TSK stored for a hash is now "b".
        assert [(r["line"], r["path"], decode_labels(r["labels"])) for r in rows] == [
            (n + 1, f"n{n}b", {"autopsy_kdb_names": [f"n{n}b", f"n{n}a"], "comments": f"c{n}"})
            for n in range(5)
        ]


def test_names_of_no_hash_are_ignored(tmp_path: Path) -> None:
    path = write_kdb(tmp_path / "x.kdb", [Entry(bytes.fromhex(MD5[0]), names=["a"])])
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO file_names VALUES (?, ?)", [("orphan", 0), ("late", 9), ("text", "x")]
        )
    connection.close()
    rows, _ = read_path(path)
    assert [(r["line"], r["path"], r["labels"]) for r in rows] == [(1, "a", None)]


def test_a_database_without_names_or_comments_tables(tmp_path: Path) -> None:
    path = tmp_path / "x.kdb"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT);"
            "CREATE TABLE hashes (id INTEGER PRIMARY KEY, md5 BLOB, sha1 BLOB, sha2_256 BLOB);"
        )
        connection.execute("INSERT INTO hashes (md5) VALUES (?)", (bytes.fromhex(MD5[0]),))
    connection.close()
    rows, _ = read_path(path)
    assert [(r["md5"], r["path"], r["labels"]) for r in rows] == [(MD5[0], None, None)]


def test_the_file_is_opened_read_only(tmp_path: Path) -> None:
    path = write_kdb(tmp_path / "x.kdb", [Entry(bytes.fromhex(MD5[0]), names=["a"])])
    before = path.read_bytes()
    read_path(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.kdb"]


def test_bytes_and_a_path_read_the_same(tmp_path: Path, read: Reader) -> None:
    entries = [Entry(bytes.fromhex(MD5[n]), names=[f"f{n}"]) for n in range(5)]
    path = write_kdb(tmp_path / "x.kdb", entries)
    assert read_path(path)[0] == read(AutopsyKdbAdapter, path.read_bytes())[0]


def _rdsv3(path: Path) -> Path:
    """A tiny database shaped like NSRL RDSv3 (FILE, PKG, VERSION, the DISTINCT_HASH view)."""
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE VERSION (version TEXT, build_set TEXT, build_date TEXT, "
            "release_date TEXT, description TEXT);"
            "CREATE TABLE PKG (package_id INTEGER, name TEXT, version TEXT, "
            "operating_system_id INTEGER, manufacturer_id INTEGER, language TEXT, "
            "application_type TEXT);"
            "CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, "
            "md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, "
            "file_size INTEGER NOT NULL, package_id INTEGER NOT NULL);"
            "CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5 FROM FILE;"
        )
        connection.execute(
            "INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)",
            (SHA256[0].upper(), SHA1[0].upper(), MD5[0].upper(), "F2482D03", "a.dll", 21, 1),
        )
    connection.close()
    return path


def test_an_rdsv3_database_is_neither_sniffed_nor_read(tmp_path: Path) -> None:
    path = _rdsv3(tmp_path / "RDS_minimal.db")
    head = path.read_bytes()[:HEAD_BYTES]
    assert head.startswith(b"SQLite format 3\x00")
    assert not AutopsyKdbAdapter.sniff(head)
    with pytest.raises(UnsupportedFormat, match="no 'hashes' and 'db_properties'"):
        read_path(path)


def test_sniff_knows_a_kdb_from_its_first_page(tmp_path: Path) -> None:
    path = write_kdb(tmp_path / "x.kdb", [Entry(bytes.fromhex(MD5[0]))])
    head = path.read_bytes()[:HEAD_BYTES]
    assert AutopsyKdbAdapter.sniff(head)
    assert default_registry().detect(head) is AutopsyKdbAdapter
    assert not AutopsyKdbAdapter.sniff(head[16:])
    assert not AutopsyKdbAdapter.sniff(b"SQLite format 3\x00")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a database at all, just text\n" * 200, "not an SQLite database"),
        (b"SQLite format 3\x00" + bytes(84), "not an SQLite database"),
        (b"", "no 'hashes' and 'db_properties' tables"),
    ],
)
def test_what_is_no_kdb_is_not_this_format(read: Reader, data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFormat, match=reason) as raised:
        read(AutopsyKdbAdapter, data, source="x.kdb")
    assert (raised.value.source, raised.value.line) == ("x.kdb", 1)


def test_a_hashes_table_of_another_shape_is_not_this_format(tmp_path: Path) -> None:
    path = tmp_path / "x.kdb"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE db_properties (name TEXT, value TEXT);"
            "CREATE TABLE hashes (id INTEGER PRIMARY KEY, md5 BLOB);"
        )
    connection.close()
    with pytest.raises(UnsupportedFormat, match="no column sha1, sha2_256"):
        read_path(path)


def test_a_damaged_database_is_an_input_error(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("autopsy-kdb/valid.kdb")
    # The schema page survives; the pages of the tables do not.
    damaged = data[:4096] + b"\xee" * (len(data) - 4096)
    with pytest.raises(InputError) as raised:
        read(AutopsyKdbAdapter, damaged, source="x.kdb")
    # Not "not this format": the schema said it is one, and the reason says what broke.
    assert type(raised.value) is InputError
    assert raised.value.source == "x.kdb"
    assert raised.value.reason.startswith("the database cannot be read: ")


@given(
    set_name=st.none() | st.text(min_size=1, max_size=6),
    names=st.none() | st.lists(st.text(max_size=6), min_size=2, max_size=4),
    comment=st.none() | st.text(max_size=12),
)
@example(set_name=None, names=None, comment=None)
@example(set_name='"\\', names=["", "\x00\u2028"], comment="é\U0001f600 | \x1f")
def test_the_quick_labels_are_the_canonical_ones(
    set_name: str | None, names: list[str] | None, comment: str | None
) -> None:
    assert _Labeller(set_name).text(names, comment) == encode_labels(
        {"set_name": set_name, "autopsy_kdb_names": names, "comments": comment}
    )


# --- round trip ---------------------------------------------------------------------------

TEXTS = file_names(min_size=1, max_size=12, exclude="\x00")


@st.composite
def kdb_entries(draw: st.DrawFn) -> list[Entry]:
    """Hashes as Autopsy adds them: unique MD5s (rarely none), sometimes a SHA-1 or
    SHA-256, any number of names and comments (distinct per hash)."""
    md5s = draw(st.lists(st.binary(min_size=16, max_size=16), unique=True, max_size=8))
    entries = []
    for md5 in md5s:
        entries.append(
            Entry(
                md5,
                draw(st.none() | st.binary(min_size=20, max_size=20)),
                draw(st.none() | st.binary(min_size=32, max_size=32)),
                names=draw(st.lists(TEXTS, unique=True, max_size=3)),
                comments=draw(st.lists(TEXTS, unique=True, max_size=2)),
            )
        )
    return entries


def _hex(value: Digest) -> str | None:
    return value.hex() if isinstance(value, bytes) else value


def _expected(entries: list[Entry], set_name: str | None) -> list[tuple[Any, ...]]:
    rows = []
    for number, entry in enumerate(entries, start=1):
        labels: dict[str, Any] = {"set_name": set_name} if set_name else {}
        if entry.comments:
            labels["comments"] = " | ".join(entry.comments)
        if len(entry.names) > 1:
            labels["autopsy_kdb_names"] = entry.names
        rows.append(
            (
                number,
                *(_hex(d) for d in entry.digests),
                entry.names[0] if entry.names else None,
                labels,
            )
        )
    return rows


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    entries=kdb_entries(),
    old=st.booleans(),
    set_name=st.none() | TEXTS,
    batch_size=st.sampled_from([1, 2, 3, 65_536]),
)
@example(entries=[], old=False, set_name=None, batch_size=1)
@example(
    entries=[
        Entry(bytes.fromhex(MD5[0]), names=["a | b", 'ü,\\"x'], comments=["one", "two"]),
        Entry(bytes.fromhex(MD5[1]), None, bytes.fromhex(SHA256[1])),
    ],
    old=True,
    set_name="Synthetic Set",
    batch_size=1,
)
@example(entries=[Entry(None, bytes.fromhex(SHA1[0]))], old=False, set_name=None, batch_size=2)
@example(entries=[Entry(bytes(16), names=[" a "])], old=False, set_name=" padded ", batch_size=1)
def test_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    entries: list[Entry],
    old: bool,
    set_name: str | None,
    batch_size: int,
) -> None:
    if old:
        # The older schema makes names and comments unique across the whole database.
        seen_names: set[str] = set()
        seen_comments: set[str] = set()
        for entry in entries:
            entry.names = [n for n in entry.names if n not in seen_names]
            seen_names.update(entry.names)
            entry.comments = [c for c in entry.comments if c not in seen_comments]
            seen_comments.update(entry.comments)
    path = write_kdb(
        tmp_path_factory.mktemp("kdb") / "x.kdb",
        entries,
        schema=OLD_SCHEMA if old else SCHEMA,
        properties=[("Name", set_name)] if set_name else [],
    )
    rows, context = read_path(path, batch_size=batch_size)
    assert context.warning_count == 0
    assert cells(rows) == _expected(entries, set_name)
    # The bytes alone (no path: a temporary copy) read the same.
    stream_context = ReadContext(source="x.kdb", batch_size=batch_size)
    streamed = AutopsyKdbAdapter().read(io.BytesIO(path.read_bytes()), stream_context)
    assert [row for b in streamed for row in b.to_pylist()] == rows
