"""The parquet adapter: Parquet manifests and lists, digests as hex text or raw bytes.

Every file here is written by the test from synthetic digests (of ``synthetic-fixture-001``
... ``005``, or drawn by Hypothesis). The adapter is used directly, and through a registry
and a service that include it, so these tests do not depend on its entry point.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hashmatch_adapters.bundle import BundleAdapter
from hashmatch_adapters.csvfile import CsvAdapter
from hashmatch_adapters.parquet import ParquetAdapter
from hypothesis import given
from hypothesis import strategies as st
from strategies import digest_bytes, digest_cells, file_sizes, hex_digests

from hashmatch.adapter import HEAD_BYTES, ReadContext, Role
from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import InputError, RecordError, UnsupportedFormat
from hashmatch.ingest.parse import parse_batch
from hashmatch.model import Purpose
from hashmatch.records import RECORD_SCHEMA, decode_labels, encode_labels
from hashmatch.registry import AdapterRegistry, default_registry
from hashmatch.service import Service

Reader = Callable[..., tuple[list[dict[str, Any]], ReadContext]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
DIGESTS = ("md5", "sha1", "sha256")


def parquet(columns: dict[str, Any] | pa.Table, **options: Any) -> bytes:
    """The Parquet bytes of a table (or of a dict of columns)."""
    table = columns if isinstance(columns, pa.Table) else pa.table(columns)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def raw(hex_digests: list[str | None], width: int | None = None) -> pa.Array:
    """Raw digest bytes: fixed_size_binary of ``width``, or variable binary when None."""
    kind = pa.binary() if width is None else pa.binary(width)
    return pa.array([None if h is None else bytes.fromhex(h) for h in hex_digests], kind)


def cells(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in names) for row in rows]


def registry() -> AdapterRegistry:
    """The installed adapters with this one added (it may not be registered yet)."""
    found = AdapterRegistry([*default_registry().adapters()])
    if "parquet" not in found.names():
        found.register(ParquetAdapter)
    return found


# Reading


def test_hex_text_reads_verbatim_numbered_by_row(read: Reader) -> None:
    data = parquet(
        {
            "md5": [MD5[0], MD5[1].upper(), MD5[2]],
            "sha1": [SHA1[0], None, SHA1[2].upper()],
            "sha256": [SHA256[0], SHA256[1], None],
            "size": [21, 0, None],
            "path": ["ev/a.jpg", "ev/dir with spaces/b, c.png", None],
        }
    )
    rows, context = read(ParquetAdapter, data, strict=True)
    assert cells(rows, "line", *DIGESTS, "size", "path", "labels") == [
        (1, MD5[0], SHA1[0], SHA256[0], 21, "ev/a.jpg", None),
        (2, MD5[1].upper(), None, SHA256[1], 0, "ev/dir with spaces/b, c.png", None),
        (3, MD5[2], SHA1[2].upper(), None, None, None, None),
    ]
    assert context.warning_count == 0
    # Upper-case hex is the core's to parse, and it parses.
    parsed = parse_batch(pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA))
    assert parsed.problems == {}
    assert parsed.digests[Algorithm.MD5].to_pylist()[1] == bytes.fromhex(MD5[1])


@pytest.mark.parametrize("width", [True, False], ids=["fixed_size_binary", "binary"])
def test_binary_digests_become_lower_case_hex(read: Reader, width: bool) -> None:
    data = parquet(
        {
            "md5": raw([MD5[0], None, MD5[2]], 16 if width else None),
            "sha1": raw([SHA1[0], SHA1[1], None], 20 if width else None),
            "sha256": raw([None, SHA256[1], SHA256[2]], 32 if width else None),
        }
    )
    rows, _ = read(ParquetAdapter, data, strict=True)
    assert cells(rows, "line", *DIGESTS) == [
        (1, MD5[0], SHA1[0], None),
        (2, None, SHA1[1], SHA256[1]),
        (3, MD5[2], None, SHA256[2]),
    ]


def test_other_binary_values_reach_the_core_as_text_or_hex(read: Reader) -> None:
    values = [
        bytes.fromhex(MD5[0]),  # the raw digest
        MD5[1].encode(),  # hex text stored unannotated (Spark, Hive)
        MD5[2].upper().encode(),
        bytes.fromhex(MD5[3])[:15],  # one byte short: its hex is 30 digits
        b"\xff" * 17,  # no UTF-8: its hex, 34 digits
        None,
    ]
    rows, context = read(ParquetAdapter, parquet({"md5": pa.array(values, pa.binary())}))
    assert [row["md5"] for row in rows] == [
        MD5[0],
        MD5[1],
        MD5[2].upper(),
        MD5[3][:30],
        "ff" * 17,
        None,
    ]
    assert context.warning_count == 0
    parsed = parse_batch(pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA))
    assert sorted(parsed.problems) == [3, 4]
    assert parsed.digests[Algorithm.MD5].to_pylist()[:3] == [bytes.fromhex(h) for h in MD5[:3]]


def test_a_fixed_size_binary_column_of_another_width_is_read_as_its_hex(read: Reader) -> None:
    data = parquet({"sha1": raw([MD5[0]], 16)})
    rows, _ = read(ParquetAdapter, data)
    assert rows[0]["sha1"] == MD5[0]
    parsed = parse_batch(pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA))
    assert "sha1" in parsed.problems[0][0]


def test_nulls_are_absent_digests_and_a_row_without_any_is_kept(read: Reader) -> None:
    data = parquet({"md5": [None, MD5[1]], "sha256": [None, None], "path": ["no-hash.bin", "b"]})
    rows, context = read(ParquetAdapter, data, strict=True)
    assert cells(rows, "line", "md5", "sha256", "path") == [
        (1, None, None, "no-hash.bin"),
        (2, MD5[1], None, "b"),
    ]
    assert context.warning_count == 0


def test_a_bad_digest_is_handed_on_as_text_for_the_core_to_refuse(read: Reader) -> None:
    bad = [MD5[0][:-1] + "g", MD5[0][:31], f" {MD5[0]} ", "not a digest"]
    rows, context = read(ParquetAdapter, parquet({"md5": bad}))
    assert [row["md5"] for row in rows] == bad
    assert context.warning_count == 0
    parsed = parse_batch(pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA))
    assert sorted(parsed.problems) == [0, 1, 3]  # padding is the core's to trim
    assert "not hex" in parsed.problems[0][0]
    assert "32 hex digits" in parsed.problems[1][0]


def test_column_names_are_matched_ignoring_case(read: Reader) -> None:
    data = parquet(
        {"MD5": [MD5[0]], "Sha256": [SHA256[0]], "SIZE": [21], "Path": ["a"], "Line": [7]}
    )
    rows, _ = read(ParquetAdapter, data, strict=True)
    assert cells(rows, "line", "md5", "sha256", "size", "path") == [(7, MD5[0], SHA256[0], 21, "a")]


def test_two_columns_that_differ_only_in_case_are_refused(read: Reader) -> None:
    data = parquet(pa.table([pa.array([MD5[0]]), pa.array([MD5[1]])], names=["md5", "MD5"]))
    with pytest.raises(UnsupportedFormat, match="more than one 'md5' column"):
        read(ParquetAdapter, data)


@pytest.mark.parametrize(
    ("name", "wanted"),
    [("path", "a.bin"), ("filename", "a.bin"), ("FILE_PATH", "a.bin"), ("name", "a.bin")],
)
def test_a_path_column_by_another_name(read: Reader, name: str, wanted: str) -> None:
    rows, _ = read(ParquetAdapter, parquet({"md5": [MD5[0]], name: ["a.bin"]}), strict=True)
    assert rows[0]["path"] == wanted


def test_path_is_preferred_over_name(read: Reader) -> None:
    rows, _ = read(ParquetAdapter, parquet({"md5": [MD5[0]], "name": ["n"], "path": ["p/n"]}))
    assert rows[0]["path"] == "p/n"


def test_without_a_digest_column_the_file_is_not_this_format(read: Reader) -> None:
    data = parquet({"path": ["a"], "hash": [MD5[0]], "crc32": [1]})
    with pytest.raises(UnsupportedFormat) as raised:
        read(ParquetAdapter, data, source="case.parquet")
    assert raised.value.source == "case.parquet"
    assert raised.value.reason == (
        "no md5, sha1 or sha256 column in the Parquet file (columns: 'path', 'hash', 'crc32')"
    )
    assert str(raised.value).startswith("case.parquet: no md5")


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"md5": [1]}, "column 'md5' is int64, expected hex text or the 16-byte md5 as binary"),
        ({"md5": [MD5[0]], "size": ["21"]}, "column 'size' is string, expected an integer"),
        ({"md5": [MD5[0]], "path": [1]}, "column 'path' is int64, expected text"),
        ({"md5": [MD5[0]], "line": [1.5]}, "column 'line' is double, expected an integer"),
        (
            {"md5": [MD5[0]], "labels": [{"category": "A"}]},
            "column 'labels' is struct<category: string>, expected a JSON object as text",
        ),
    ],
)
def test_a_column_of_a_type_it_cannot_hold_is_refused(
    read: Reader, columns: dict[str, Any], message: str
) -> None:
    with pytest.raises(UnsupportedFormat, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(ParquetAdapter, parquet(columns))


def test_other_columns_are_logged_once_and_not_read(
    read: Reader, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    data = parquet(
        {"md5": [MD5[0], MD5[1]], "mtime": [1, 2], "owner": ["x", "y"]}, row_group_size=1
    )
    with caplog.at_level(logging.WARNING, logger="hashmatch_adapters.parquet"):
        rows, context = read(ParquetAdapter, data, strict=True, batch_size=1, source="d.parquet")
    assert [row["md5"] for row in rows] == MD5[:2]
    # Not a record warning: that would be an invalid verdict row of its own in a check.
    assert context.warning_count == 0
    assert [r.getMessage() for r in caplog.records] == [
        "d.parquet: columns not read: 'mtime', 'owner'"
    ]


def test_only_the_columns_it_uses_are_read(monkeypatch: pytest.MonkeyPatch, read: Reader) -> None:
    asked: list[list[str]] = []
    original = pq.ParquetFile.iter_batches

    def spy(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        asked.append(list(kwargs["columns"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    read(ParquetAdapter, parquet({"blob": [b"x" * 100], "SHA1": [SHA1[0]], "path": ["p"]}))
    assert asked == [["SHA1", "path"]]


# Line numbers


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 100])
@pytest.mark.parametrize("row_group_size", [1, 3, 10])
def test_rows_are_numbered_across_row_groups_and_batches(
    read: Reader, batch_size: int, row_group_size: int
) -> None:
    n = 23
    digests = [hashlib.md5(b"synthetic-fixture-%03d" % i).hexdigest() for i in range(n)]
    data = parquet({"md5": digests}, row_group_size=row_group_size)
    assert pq.ParquetFile(io.BytesIO(data)).num_row_groups == -(-n // row_group_size)
    rows, _ = read(ParquetAdapter, data, batch_size=batch_size)  # checks every batch's size
    assert [row["line"] for row in rows] == list(range(1, n + 1))
    assert [row["md5"] for row in rows] == digests


def test_a_line_column_gives_the_lines_and_a_null_one_the_row(read: Reader) -> None:
    data = parquet(
        {"md5": MD5[:4], "line": pa.array([10, None, 30, 40], pa.int32())}, row_group_size=2
    )
    rows, context = read(ParquetAdapter, data, batch_size=3)
    assert [row["line"] for row in rows] == [10, 2, 30, 40]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "no line number: row 2 of the file")
    ]


# Sizes and labels


def test_sizes_that_are_no_byte_count_are_warnings_and_null(read: Reader) -> None:
    data = parquet(
        {
            "md5": MD5[:4],
            "size": pa.array([21, -1, None, 7], pa.int16()),
        }
    )
    rows, context = read(ParquetAdapter, data, source="s.parquet")
    assert [row["size"] for row in rows] == [21, None, None, 7]
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("s.parquet", 2, "size is negative: -1")
    ]
    with pytest.raises(RecordError) as raised:
        read(ParquetAdapter, data, strict=True, source="s.parquet")
    assert (raised.value.source, raised.value.line) == ("s.parquet", 2)


def test_unsigned_and_floating_point_sizes(read: Reader) -> None:
    unsigned = parquet({"md5": MD5[:2], "size": pa.array([5, 2**64 - 1], pa.uint64())})
    rows, context = read(ParquetAdapter, unsigned)
    assert [row["size"] for row in rows] == [5, None]
    assert [w.reason for w in context.warnings] == [f"size is out of range: {2**64 - 1}"]
    # pandas writes an integer column with gaps as float64
    floats = [21.0, float("nan"), 1.5, -2.0, float("inf"), None, 2.0**63]
    data = parquet({"md5": [MD5[0]] * len(floats), "size": floats})
    rows, context = read(ParquetAdapter, data)
    assert [row["size"] for row in rows] == [21, None, None, None, None, None, None]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "size is not a byte count: nan"),
        (3, "size is not a byte count: 1.5"),
        (4, "size is negative: -2.0"),
        (5, "size is out of range: inf"),
        (7, f"size is out of range: {2.0**63!r}"),
    ]


def test_labels_are_made_canonical_and_bad_ones_are_warnings(read: Reader) -> None:
    labels = [
        '{"scheme": "uk", "category": "A"}',
        '{"category":"A","scheme":"uk"}',
        None,
        "{not json",
        '["a", "list"]',
        "",
        '{"empty": ""}',
        '{"scheme": "uk", "category": "A"}',
    ]
    data = parquet({"md5": [MD5[0]] * len(labels), "labels": labels})
    rows, context = read(ParquetAdapter, data, batch_size=5)
    canonical = encode_labels({"scheme": "uk", "category": "A"})
    assert [row["labels"] for row in rows] == [
        canonical,
        canonical,
        None,
        None,
        None,
        None,
        None,
        canonical,
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (4, "labels are not a JSON object: '{not json'"),
        (5, 'labels are not a JSON object: \'["a", "list"]\''),
    ]


def test_a_row_with_several_problems_warns_in_row_order(read: Reader) -> None:
    data = parquet({"md5": MD5[:3], "size": [-1, 5, -3], "labels": ["x", "{}", "y"]})
    _, context = read(ParquetAdapter, data)
    assert [w.line for w in context.warnings] == [1, 1, 3, 3]


def test_dictionary_and_large_types_read_like_plain_ones(read: Reader) -> None:
    table = pa.table(
        {
            "md5": pa.array([MD5[0], MD5[1], MD5[0]]).dictionary_encode(),
            "sha1": pa.array([SHA1[0], None, SHA1[2]], pa.large_string()),
            "sha256": pa.array(
                [bytes.fromhex(h) for h in SHA256[:3]], pa.large_binary()
            ).dictionary_encode(),
            "size": pa.array([1, 2, 3], pa.int8()).dictionary_encode(),
            "path": pa.array(["a", "b", "a"]).dictionary_encode(),
            "labels": pa.array(['{"c":"A"}', None, '{"c":"A"}'], pa.large_string()),
        }
    )
    rows, context = read(ParquetAdapter, parquet(table), strict=True)
    assert cells(rows, *DIGESTS, "size", "path") == [
        (MD5[0], SHA1[0], SHA256[0], 1, "a"),
        (MD5[1], None, SHA256[1], 2, "b"),
        (MD5[0], SHA1[2], SHA256[2], 3, "a"),
    ]
    assert [decode_labels(row["labels"]) for row in rows] == [{"c": "A"}, {}, {"c": "A"}]
    assert context.warning_count == 0


def test_all_null_columns(read: Reader) -> None:
    table = pa.table(
        {"md5": pa.nulls(2), "sha1": [SHA1[0], None], "size": pa.nulls(2), "path": pa.nulls(2)}
    )
    rows, _ = read(ParquetAdapter, parquet(table), strict=True)
    assert cells(rows, *DIGESTS, "size", "path") == [
        (None, SHA1[0], None, None, None),
        (None, None, None, None, None),
    ]


def test_an_empty_table_reads_as_nothing(read: Reader) -> None:
    rows, context = read(ParquetAdapter, parquet({"md5": pa.array([], pa.string())}))
    assert rows == []
    assert context.warning_count == 0


# Sniffing, detection and broken files


def test_parquet_is_sniffed_by_its_magic() -> None:
    data = parquet({"md5": [MD5[0]]})
    assert data[:4] == data[-4:] == b"PAR1"
    assert ParquetAdapter.sniff(data)
    assert ParquetAdapter.sniff(data[:8])


@pytest.mark.parametrize(
    "head",
    [b"", b"PAR", b"par1", b"MD5,SHA1\n", b"\xef\xbb\xbfPAR1", f"{MD5[0]}  a\n".encode()],
)
def test_nothing_else_is_sniffed(head: bytes) -> None:
    assert not ParquetAdapter.sniff(head)


def test_a_bundles_entries_file_stays_the_bundle_adapters(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    # hashmatch-bundle (priority 5) claims every Parquet file: this adapter comes first,
    # and leaves alone the entries files whose footer the head shows.
    assert ParquetAdapter.PRIORITY < BundleAdapter.PRIORITY
    entries = fixture_bytes("hashmatch-bundle/valid.parquet")
    assert len(entries) < HEAD_BYTES
    assert not ParquetAdapter.sniff(entries[:HEAD_BYTES])
    found = registry()
    assert found.detect(entries[:HEAD_BYTES], role=Role.LIST) is BundleAdapter
    assert found.detect(entries[:HEAD_BYTES]) is BundleAdapter
    other = parquet({"md5": [MD5[0]]})
    for role in (Role.LIST, Role.MANIFEST, None):
        assert found.detect(other, role=role) is ParquetAdapter


def test_a_bundles_entries_read_here_as_the_bundle_adapter_reads_them(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    # An entries file too large for the head is detected as this format: same records.
    for name in ("valid.parquet", "partial-digests.parquet", "row-groups.parquet"):
        data = fixture_bytes(f"hashmatch-bundle/{name}")
        assert read(ParquetAdapter, data, strict=True)[0] == read(BundleAdapter, data)[0]


@pytest.mark.parametrize(
    "data",
    [
        b"PAR1 but nothing else",
        b"PAR1" + b"\0" * 100 + b"PAR1",
        b"",
        b"MD5\n" + MD5[0].encode(),
    ],
)
def test_a_broken_parquet_file_is_not_this_format(read: Reader, data: bytes) -> None:
    with pytest.raises(UnsupportedFormat, match="not a Parquet file") as raised:
        read(ParquetAdapter, data, source="broken.parquet")
    assert str(raised.value).startswith("broken.parquet: not a Parquet file (")


def test_a_file_damaged_in_the_middle_fails_with_how_far_it_read(read: Reader) -> None:
    digests = [hashlib.md5(b"synthetic-fixture-%03d" % i).hexdigest() for i in range(1000)]
    clean = parquet({"md5": digests}, compression="none", row_group_size=100)
    column = pq.ParquetFile(io.BytesIO(clean)).metadata.row_group(5).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    damaged = clean[:start] + b"\xff" * 8 + clean[start + 8 :]
    with pytest.raises(InputError) as raised:
        read(ParquetAdapter, damaged, batch_size=100, source="d.parquet")
    assert not isinstance(raised.value, UnsupportedFormat)
    assert str(raised.value).startswith(
        "d.parquet: the Parquet file cannot be read after row 500: "
    )


def test_a_file_on_disk_is_read_in_place(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    path.write_bytes(parquet({"md5": MD5}))
    context = ReadContext(source="m.parquet", path=path)
    # An empty stream: were the adapter to copy the stream, it would find no Parquet file.
    batches = list(ParquetAdapter().read(io.BytesIO(b""), context))
    assert pa.Table.from_batches(batches).column("md5").to_pylist() == MD5


# Properties


@st.composite
def binary_rows(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bool]:
    """Rows of raw digests (or None) and hex text, and whether the binary is fixed-size."""
    fixed = draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(1, 30))):
        rows.append(
            {
                "md5": draw(st.none() | digest_bytes(Algorithm.MD5)),
                "sha1": draw(st.none() | hex_digests(Algorithm.SHA1)),
                "sha256": draw(st.none() | digest_bytes(Algorithm.SHA256)),
                "size": draw(st.none() | file_sizes()),
            }
        )
    return rows, fixed


@given(
    drawn=binary_rows(),
    batch_size=st.integers(1, 12),
    row_group_size=st.integers(1, 12),
)
def test_read_equals_a_plain_model(
    drawn: tuple[list[dict[str, Any]], bool], batch_size: int, row_group_size: int
) -> None:
    rows, fixed = drawn
    table = pa.table(
        {
            "md5": pa.array([r["md5"] for r in rows], pa.binary(16) if fixed else pa.binary()),
            "sha1": pa.array([r["sha1"] for r in rows], pa.string()),
            "sha256": pa.array([r["sha256"] for r in rows], pa.binary(32) if fixed else None),
            "size": pa.array([r["size"] for r in rows], pa.int64()),
        }
    )
    data = parquet(table, row_group_size=row_group_size)
    context = ReadContext(source="p", strict=True, batch_size=batch_size)
    batches = list(ParquetAdapter().read(io.BytesIO(data), context))
    assert all(0 < b.num_rows <= batch_size for b in batches)
    got = pa.Table.from_batches(batches, schema=RECORD_SCHEMA).to_pylist()
    assert got == [
        {
            "line": line,
            "md5": None if r["md5"] is None else r["md5"].hex(),
            "sha1": r["sha1"],
            "sha256": None if r["sha256"] is None else r["sha256"].hex(),
            "size": r["size"],
            "path": None,
            "labels": None,
        }
        for line, r in enumerate(rows, start=1)
    ]


_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t"}


def _plain(cell: str | None) -> bool:
    """A cell that CSV and Parquet carry alike: printable ASCII (the CSV adapter strips
    with Python's idea of whitespace, the core with Arrow's; they agree on these)."""
    return cell is None or _PRINTABLE.issuperset(cell)


@st.composite
def manifest_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for _ in range(draw(st.integers(1, 20))):
        row: dict[str, Any] = {
            name: draw(digest_cells(algorithm).filter(_plain))
            for name, algorithm in zip(DIGESTS, Algorithm, strict=True)
        }
        row["size"] = draw(st.none() | file_sizes())
        row["path"] = draw(st.text("abcXYZ019/._- ,;\"'", min_size=1, max_size=12)).strip("\t")
        row["category"] = draw(st.none() | st.sampled_from(["A", "B", "1", "uk C"]))
        if not row["path"].strip():
            row["path"] = "p"
        rows.append(row)
    return rows


def _as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["MD5", "SHA1", "SHA256", "Size", "Path", "Category"])
    for row in rows:
        writer.writerow(
            ["" if row[name] is None else row[name] for name in (*DIGESTS, "size", "path")]
            + [row["category"] or ""]
        )
    return out.getvalue().encode()


def _as_parquet(rows: list[dict[str, Any]]) -> bytes:
    return parquet(
        {
            **{name: pa.array([r[name] for r in rows], pa.string()) for name in DIGESTS},
            "size": pa.array([r["size"] for r in rows], pa.int64()),
            "path": [r["path"] for r in rows],
            "labels": pa.array(
                [encode_labels({"category": r["category"]}) for r in rows], pa.string()
            ),
        }
    )


def _outcome(adapter: type[Any], data: bytes) -> list[tuple[Any, ...]]:
    """What the core makes of each record: parsed digests, problems, size, path, labels."""
    context = ReadContext(source="x", batch_size=7)
    out: list[tuple[Any, ...]] = []
    for batch in adapter().read(io.BytesIO(data), context):
        parsed = parse_batch(batch)
        values = {a: parsed.digests[a].to_pylist() for a in Algorithm}
        for row, record in enumerate(batch.to_pylist()):
            out.append(
                (
                    *(values[a][row] for a in Algorithm),
                    tuple(parsed.problems.get(row, [])),
                    record["size"],
                    record["path"],
                    record["labels"],
                )
            )
    assert context.warning_count == 0
    return out


@given(rows=manifest_rows())
def test_a_manifest_reads_as_the_same_rows_written_as_csv(rows: list[dict[str, Any]]) -> None:
    assert _outcome(ParquetAdapter, _as_parquet(rows)) == _outcome(CsvAdapter, _as_csv(rows))


# End to end


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    listed = tmp_path / "list.md5"
    listed.write_text(f"{MD5[0]}  a.jpg\n", "utf-8")
    settings = Settings(home=tmp_path / "home", operator="tester", database_url="memory://")
    with Service(settings, registry=registry()) as service:
        service.add_list("concern-list", Purpose.CONCERN)
        service.ingest("concern-list", listed)
        yield service


NEGATIVE = "size is negative: -1"


def test_check_gives_each_row_its_verdict(service: Service, tmp_path: Path) -> None:
    manifest = tmp_path / "device.parquet"
    manifest.write_bytes(
        parquet(
            {
                "md5": [MD5[0].upper(), MD5[1], MD5[2][:-1] + "g", None, "abc"],
                "size": [21, 21, 21, 21, -1],
                "path": [f"ev/{n}.jpg" for n in range(5)],
                "mtime": [0] * 5,  # not read, and no verdict of its own
            },
            row_group_size=2,
        )
    )
    result = service.check([manifest], case_ref="CASE-1")
    rows = result.verdicts.to_pylist()
    assert [(r["line"], r["path"], r["verdict"], r["reason"]) for r in rows] == [
        (1, "ev/0.jpg", "known", None),
        (2, "ev/1.jpg", "unknown", None),
        (3, "ev/2.jpg", "invalid", f"md5 digest is not hex: '{MD5[2][:-1]}g'"),
        (4, "ev/3.jpg", "not_assessable", "no digest given"),
        # the adapter's warning about the size is added to the core's reason
        (5, "ev/4.jpg", "invalid", f"md5 digest must have 32 hex digits, got 3; {NEGATIVE}"),
    ]
    assert rows[0]["md5"] == MD5[0]


def test_a_list_loads_from_binary_digests(service: Service, tmp_path: Path) -> None:
    listed = tmp_path / "list.parquet"
    listed.write_bytes(parquet({"md5": raw(MD5[1:3], 16), "labels": ['{"category":"A"}'] * 2}))
    version = service.ingest("concern-list", listed)
    assert (version.adapter, version.counts.entries, version.counts.md5) == ("parquet", 2, 2)
    manifest = tmp_path / "m.parquet"
    manifest.write_bytes(parquet({"md5": MD5[:3]}))
    verdicts = service.check([manifest], case_ref="CASE-2").verdicts.column("verdict")
    assert verdicts.to_pylist() == ["unknown", "known", "known"]


def test_rows_stream_in_bounded_batches(tmp_path: Path) -> None:
    n = 50_000
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(keys)])
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"md5": column}), path, row_group_size=20_000)
    context = ReadContext(source="big.parquet", path=path, batch_size=8192)
    sizes = []
    last = None
    for batch in ParquetAdapter().read(io.BytesIO(b""), context):
        sizes.append(batch.num_rows)
        last = batch
    assert sum(sizes) == n
    assert max(sizes) <= 8192
    assert last is not None
    assert last.column("md5")[-1].as_py() == keys[-1].tobytes().hex()
    assert last.column("line")[-1].as_py() == n
