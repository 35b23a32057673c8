"""Snapshots: content ids, the atomic publish, clean-up, and refusing what is broken."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.digests import Algorithm
from hashmatch.errors import NotFound, SnapshotError
from hashmatch.index import (
    MISS,
    ChainLink,
    Snapshot,
    SnapshotList,
    SnapshotSource,
    SnapshotStore,
    as_digest_matrix,
)
from hashmatch.index.snapshot import rows_in
from hashmatch.model import Purpose, UpdateMode
from hashmatch.records import ENTRY_SCHEMA


def entries(path: Path, digests: list[bytes], labels: list[str | None]) -> Path:
    n = len(digests)
    table = pa.Table.from_arrays(
        [
            pa.array(range(1, n + 1), pa.int64()),
            pa.array(digests, pa.binary(16)),
            pa.nulls(n, pa.binary(20)),
            pa.nulls(n, pa.binary(32)),
            pa.nulls(n, pa.int64()),
            pa.nulls(n, pa.string()),
            pa.array(labels, pa.string()),
        ],
        schema=ENTRY_SCHEMA,
    )
    pq.write_table(table, path)
    return path


def source(tmp_path: Path, slot: int, name: str, version_id: str, digests, labels=None):
    path = entries(tmp_path / f"{version_id}.parquet", digests, labels or [None] * len(digests))
    return SnapshotSource(
        list=SnapshotList(
            slot=slot,
            name=name,
            version=1,
            version_id=version_id,
            purpose=Purpose.CONCERN,
            source_name=f"{name}.txt",
            source_sha256="0" * 64,
            loaded_at=datetime(2026, 1, 2, tzinfo=UTC),
            entries=len(digests),
        ),
        chain=(ChainLink(path=path),),
    )


def digests(count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [bytes(row) for row in rng.integers(0, 256, size=(count, 16), dtype=np.uint8)]


def test_build_publish_open(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    assert store.current_id() is None
    assert store.open_current() is None
    keys = digests(50, 1)
    a = source(tmp_path, 0, "a", "va", keys[:30], ['{"category":"1"}'] * 30)
    b = source(tmp_path, 1, "b", "vb", keys[20:])
    first = store.build([a, b])
    assert store.build([a, b]) == first, "same inputs, same content id"
    assert store.current_id() is None, "building does not publish"
    store.publish(first)
    snapshot = store.open_current()
    assert snapshot is not None
    assert snapshot.id == first
    assert [item.name for item in snapshot.lists] == ["a", "b"]
    assert snapshot.counts[Algorithm.MD5] == 50
    shared = snapshot.index.lookup(Algorithm.MD5, keys[25])
    assert {m.slot for m in snapshot.index.label_set(shared)} == {0, 1}
    assert snapshot.list_at(1).name == "b"


def test_publishing_switches_and_cleanup_keeps_what_serves(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    ids = []
    for i in range(4):
        ids.append(store.build([source(tmp_path, 0, "a", f"v{i}", digests(5, i))]))
        store.publish(ids[-1])
    assert store.current_id() == ids[-1]
    leftover = store.root / ".building-deadbeef-999999999"
    leftover.mkdir()
    removed = store.cleanup(keep=2)
    assert leftover.name in removed
    assert store.current_id() in store.ids()
    assert len(store.ids()) == 2


def test_publishing_an_unknown_snapshot_is_refused(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(NotFound):
        store.publish("nope")
    with pytest.raises(NotFound):
        store.open("nope")


def test_slots_must_be_in_order(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "s")
    with pytest.raises(SnapshotError, match="slots"):
        store.build([source(tmp_path, 1, "a", "va", digests(3, 1))])


def test_corrupt_or_incomplete_snapshots_are_refused(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "s")
    snapshot_id = store.build([source(tmp_path, 0, "a", "va", digests(3, 1))])
    path = store.root / snapshot_id
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "format": "other/9"}))
    with pytest.raises(SnapshotError, match="format"):
        Snapshot.open(path)
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "labelsets.arrow").unlink()
    with pytest.raises(SnapshotError, match="incomplete"):
        Snapshot.open(path)
    (store.root / "current.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="corrupt"):
        store.current_id()


def test_unreadable_entries_fail_the_build_and_leave_nothing(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "s")
    broken = source(tmp_path, 0, "a", "va", digests(3, 1))
    broken.chain[0].path.write_bytes(b"not parquet")
    with pytest.raises(SnapshotError, match="cannot read"):
        store.build([broken])
    assert list(store.root.iterdir()) == []


@given(
    st.lists(st.binary(min_size=16, max_size=16), max_size=40),
    st.lists(st.binary(min_size=16, max_size=16), max_size=40),
)
@example([b"\x00" * 8 + b"a" * 8], [b"\x00" * 8 + b"b" * 8])  # same leading word, other key
def test_rows_in_agrees_with_a_python_set(left: list[bytes], right: list[bytes]) -> None:
    left = left + right[: len(right) // 2]
    matrix = as_digest_matrix(left, Algorithm.MD5) if left else np.empty((0, 16), np.uint8)
    among = as_digest_matrix(right, Algorithm.MD5) if right else np.empty((0, 16), np.uint8)
    assert rows_in(matrix, among).tolist() == [row in set(right) for row in left]


def test_a_delta_snapshot_serves_the_change_and_keeps_its_base(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "s")
    keys = digests(6, 7)
    full = store.build([source(tmp_path, 0, "a", "va", keys)])
    store.publish(full)
    added = tmp_path / "added.parquet"
    entries(added, keys[:0] + digests(2, 8), [None, '{"category":"B"}'])
    removed = tmp_path / "removed.parquet"
    entries(removed, keys[:2], [None, None])
    base_lists = list(store.describe(full)[0])
    step1 = store.build_delta(
        full, base_lists, slot=0, link=ChainLink(path=added, mode=UpdateMode.ADD)
    )
    step2 = store.build_delta(
        step1, base_lists, slot=0, link=ChainLink(path=removed, mode=UpdateMode.REMOVE)
    )
    store.publish(step2)
    snapshot = store.open_current()
    assert snapshot is not None
    assert snapshot.base_id == full  # one hop back to the full build, never a chain
    assert snapshot.delta_rows == 4
    found = snapshot.index.lookup_batch(
        Algorithm.MD5, as_digest_matrix(keys + digests(2, 8), Algorithm.MD5)
    )
    assert (found != MISS).tolist() == [False, False, True, True, True, True, True, True]
    assert snapshot.counts[Algorithm.MD5] == 6
    store.cleanup(keep=1)
    assert full in store.ids()  # the serving delta snapshot needs its base
    assert step1 not in store.ids()
    with pytest.raises(SnapshotError, match="add or remove"):
        store.build_delta(full, base_lists, slot=0, link=ChainLink(path=added))
