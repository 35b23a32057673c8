"""Ingest staging details that a user sees in the version's counts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.ingest.pipeline import StagedVersion, count_distinct, stage_entries
from hashmatch.records import ENTRY_SCHEMA, encode_labels, make_batch


@given(
    st.lists(
        st.tuples(
            st.sampled_from([bytes(8), b"\xff" * 8, b"\x01" * 8]), st.binary(min_size=8, max_size=8)
        ),
        max_size=40,
    )
)
def test_distinct_counts_digests_exactly_even_when_leading_bytes_repeat(rows) -> None:
    digests = [head + tail for head, tail in rows]
    matrix = np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), 16)
    assert count_distinct(matrix) == len(set(digests))


@given(
    st.lists(
        st.tuples(
            st.sampled_from([bytes(8), b"\x07" * 8]),
            st.sampled_from([bytes(12), b"\x01" * 12, b"\x00" * 11 + b"\x01"]),
        ),
        max_size=60,
    )
)
def test_distinct_counts_repeated_sha1_width_digests_exactly(rows) -> None:
    digests = [head + tail for head, tail in rows]  # 20 bytes: not a whole number of words
    matrix = np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), 20)
    assert count_distinct(matrix) == len(set(digests))


# stage_entries: a version made of an earlier version's rows and new records (exchanges)


def _md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


def _kept(numbers: list[int]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "line": list(range(1, len(numbers) + 1)),
            "md5": [bytes.fromhex(_md5(n)) for n in numbers],
            "sha1": [None] * len(numbers),
            "sha256": [None] * len(numbers),
            "size": [None] * len(numbers),
            "name": [None] * len(numbers),
            "labels": [encode_labels({"source_id": f"k-{n}"}) for n in numbers],
        },
        schema=ENTRY_SCHEMA,
    )


def _stage(
    tmp_path: Path, kept: list[pa.RecordBatch], records: list[pa.RecordBatch]
) -> StagedVersion:
    return stage_entries(
        kept=kept,
        records=records,
        staging_dir=tmp_path / "lists" / "x",
        source_name="fakex-test changes",
        source_sha256="ab" * 32,
        source_bytes=0,
        adapter="fakex",
        adapter_version="7",
    )


def test_staged_entries_hold_the_kept_rows_then_the_new_records(tmp_path: Path) -> None:
    records = make_batch(
        {
            "line": [1, 2, 3, 4],
            "md5": [_md5(10), "not-hex", None, _md5(1).upper()],
            "sha1": [None, None, None, None],
            "labels": ['{"source_id":"a"}', '{"source_id":"b"}', None, '{"source_id":"c"}'],
        }
    )
    staged = _stage(tmp_path, [_kept([1, 2]), _kept([])], [records])
    table = pq.read_table(staged.path)
    assert [d.hex() for d in table.column("md5").to_pylist()] == [
        _md5(1),
        _md5(2),
        _md5(10),
        _md5(1),
    ]
    assert (staged.counts.rows, staged.counts.entries) == (6, 4)
    assert (staged.counts.md5, staged.counts.duplicates, staged.counts.invalid) == (3, 1, 1)
    assert [(w.line, w.source) for w in staged.warnings] == [
        (2, "fakex-test changes"),
        (3, "fakex-test changes"),
    ]
    assert "no digest" in staged.warnings[1].reason
    assert (staged.adapter, staged.adapter_version, staged.source_sha256) == (
        "fakex",
        "7",
        "ab" * 32,
    )


def test_a_staged_version_may_be_empty(tmp_path: Path) -> None:
    staged = _stage(tmp_path, [], [make_batch({"line": []})])
    assert pq.read_table(staged.path).num_rows == 0
    assert (staged.counts.rows, staged.counts.entries) == (0, 0)


def test_staging_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    wrong = pa.RecordBatch.from_pydict({"line": [1]})
    with pytest.raises((ValueError, pa.ArrowException)):
        _stage(tmp_path, [_kept([1]), wrong], [])
    assert list((tmp_path / "lists" / "x").iterdir()) == []
