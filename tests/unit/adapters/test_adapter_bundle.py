"""The hashmatch-bundle adapter: a bundle's entries.parquet read back as records."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hashmatch_adapters.bundle import BundleAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import digest_bytes, file_names, file_sizes, label_maps

from hashmatch.adapter import ReadContext, Role
from hashmatch.bundle import open_bundle, write_bundle
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.labels import strip_free_text
from hashmatch.model import Purpose
from hashmatch.records import ENTRY_SCHEMA, RECORD_SCHEMA, decode_labels, encode_labels
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["line"], row["md5"], row["sha1"], row["sha256"], row["size"], row["path"]


def parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_valid_entries_read_as_hex_records_numbered_by_row(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(BundleAdapter, fixture_bytes("hashmatch-bundle/valid.parquet"))
    assert [cells(r) for r in rows] == [
        (n + 1, MD5[n], SHA1[n], SHA256[n], 21, f"file{n + 1}.jpg") for n in range(5)
    ]
    assert [decode_labels(r["labels"]) for r in rows] == [
        {"scheme": "uk", "category": "A"},
        {"scheme": "vics-us", "category": "1", "victim_identified": True},
        {"scheme": "uk", "category": "C", "in_series": True},
        {"scheme": "ncmec", "category": "A1", "source_id": "syn-4"},
        {},
    ]
    assert context.warning_count == 0


def test_partial_digests_and_unicode_names_and_labels(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(BundleAdapter, fixture_bytes("hashmatch-bundle/partial-digests.parquet"))
    assert [cells(r) for r in rows] == [
        (1, MD5[0], None, None, None, None),
        (2, None, SHA1[1], None, None, "naïve, “quoted” name.bin"),
        (3, None, None, SHA256[2], 0, None),
        (4, MD5[3], None, SHA256[3], None, None),
    ]
    assert decode_labels(rows[3]["labels"]) == {
        "series": "Sériés; with, delimiters",
        "tags": ["a", "b"],
    }


def test_rows_that_no_writer_should_make_are_warnings_with_their_row(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("hashmatch-bundle/corrupt-later.parquet")
    rows, context = read(BundleAdapter, data, source="entries.parquet")
    assert [r["line"] for r in rows] == [1, 6]
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("entries.parquet", 2, "no digest in this entry"),
        ("entries.parquet", 3, "size is negative: -1"),
        ("entries.parquet", 4, "labels are not a JSON object: '{not json'"),
        ("entries.parquet", 5, 'labels are not a JSON object: \'["a", "list"]\''),
    ]
    with pytest.raises(RecordError) as raised:
        read(BundleAdapter, data, strict=True)
    assert (raised.value.line, raised.value.reason) == (2, "no digest in this entry")


def test_rows_across_row_groups_and_batches_keep_their_numbers(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("hashmatch-bundle/row-groups.parquet")
    assert pq.ParquetFile(io.BytesIO(data)).num_row_groups == 3
    for batch_size in (1, 2, 3, 10):
        rows, _ = read(BundleAdapter, data, batch_size=batch_size)
        assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]
        assert [r["md5"] for r in rows] == MD5


def test_a_file_on_disk_is_read_in_place(fixture_bytes: Callable[[str], bytes]) -> None:
    path = Path(__file__).resolve().parents[2] / "fixtures/adapters/hashmatch-bundle/valid.parquet"
    context = ReadContext(source="valid.parquet", path=path)
    # An empty stream: were the adapter to copy the stream, it would find no Parquet file.
    batches = list(BundleAdapter().read(io.BytesIO(b""), context))
    table = pa.Table.from_batches(batches, schema=RECORD_SCHEMA)
    expected = list(BundleAdapter().read(io.BytesIO(path.read_bytes()), ReadContext(source="x")))
    assert table.equals(pa.Table.from_batches(expected, schema=RECORD_SCHEMA))


def test_a_parquet_file_that_is_not_entries_is_not_this_format(read: Reader) -> None:
    other = parquet(pa.table({"md5": [MD5[0]], "path": ["a.bin"]}))
    assert BundleAdapter.sniff(other)
    with pytest.raises(UnsupportedFormat, match="not a hashmatch bundle entries file") as raised:
        read(BundleAdapter, other, source="other.parquet")
    assert raised.value.source == "other.parquet"


def test_entries_metadata_with_wrong_columns_is_not_this_format(read: Reader) -> None:
    schema = pa.schema(
        [pa.field("line", pa.int64()), pa.field("md5", pa.string())],
        metadata={"schema": "hashmatch-entries/1"},
    )
    data = parquet(pa.table({"line": [1], "md5": [MD5[0]]}, schema=schema))
    with pytest.raises(UnsupportedFormat, match="column 'md5' is missing or not"):
        read(BundleAdapter, data)


@pytest.mark.parametrize("data", [b"PAR1 but nothing else", b"PAR1" + b"\0" * 100 + b"PAR1"])
def test_a_broken_parquet_file_is_not_this_format(read: Reader, data: bytes) -> None:
    assert BundleAdapter.sniff(data)
    with pytest.raises(UnsupportedFormat, match="not a Parquet file"):
        read(BundleAdapter, data)


@pytest.mark.parametrize("head", [b"", b"PAR", b"par1", b"MD5,SHA1\n", b"\xef\xbb\xbfPAR1"])
def test_only_parquet_is_sniffed(head: bytes) -> None:
    assert not BundleAdapter.sniff(head)


def test_a_bundles_entries_are_detected_before_any_text_format(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    head = fixture_bytes("hashmatch-bundle/valid.parquet")[:65536]
    assert default_registry().detect(head) is BundleAdapter
    assert Role.LIST in BundleAdapter.ROLES
    assert Role.MANIFEST not in BundleAdapter.ROLES  # a bundle lists known files, no device


def _entry(draw: st.DrawFn, line: int) -> dict[str, Any]:
    present = draw(st.sets(st.sampled_from(list(Algorithm)), min_size=1))
    row: dict[str, Any] = {"line": line}
    for algorithm in Algorithm:
        row[algorithm.value] = draw(digest_bytes(algorithm)) if algorithm in present else None
    row["size"] = draw(st.none() | file_sizes())
    row["name"] = draw(st.none() | file_names(newlines=True, carriage_returns=True))
    row["labels"] = encode_labels(draw(label_maps()))
    return row


@st.composite
def entry_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=12))
    return [_entry(draw, line) for line in range(1, count + 1)]


@given(rows=entry_lists(), strip=st.booleans(), batch_size=st.integers(1, 7))
@example(
    rows=[
        {
            "line": 1,
            "md5": bytes(16),
            "sha1": None,
            "sha256": None,
            "size": 0,
            "name": "\ufeffBOM\r\nname.bin",
            "labels": encode_labels({"series": 'S, ;\t"x"', "category": "0"}),
        }
    ],
    strip=True,
    batch_size=1,
)
def test_entries_written_as_a_bundle_read_back_equal(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[dict[str, Any]],
    strip: bool,
    batch_size: int,
) -> None:
    folder = tmp_path_factory.mktemp("bundle")
    batch = pa.RecordBatch.from_pylist(rows, schema=ENTRY_SCHEMA)
    path = write_bundle(
        folder / "p.hmbundle",
        [batch],
        list_name="prop",
        purpose=Purpose.CONCERN,
        created_by="hypothesis",
        strip_free_text=strip,
    )
    entries = open_bundle(path).entries_path
    context = ReadContext(source="entries.parquet", strict=True, batch_size=batch_size)
    with open(entries, "rb") as stream:
        batches = list(BundleAdapter().read(stream, context))
    assert all(0 < b.num_rows <= batch_size for b in batches)
    got = pa.Table.from_batches(batches, schema=RECORD_SCHEMA).to_pylist()
    expected = [
        {
            "line": number,
            "md5": None if row["md5"] is None else row["md5"].hex(),
            "sha1": None if row["sha1"] is None else row["sha1"].hex(),
            "sha256": None if row["sha256"] is None else row["sha256"].hex(),
            "size": row["size"],
            "path": row["name"],
            "labels": encode_labels(strip_free_text(decode_labels(row["labels"])))
            if strip
            else row["labels"],
        }
        for number, row in enumerate(rows, start=1)
    ]
    assert got == expected
