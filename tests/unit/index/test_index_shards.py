"""Prefix shards answer exactly what the snapshot they were cut from answers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import InputError, SnapshotError
from hashmatch.index import MISS, Snapshot
from hashmatch.index.shards import ShardedIndex, ShardSet, export_shards, route_prefix
from hashmatch.model import Purpose, UpdateMode
from hashmatch.service import Service


def digest(algorithm: str, n: int) -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{n:05d}".encode()).hexdigest()


def hashdeep_list(path: Path, numbers: range) -> Path:
    lines = ["%%%% HASHDEEP-1.0", "%%%% size,md5,sha1,sha256,filename"]
    lines += [
        f"{n},{digest('md5', n)},{digest('sha1', n)},{digest('sha256', n)},/f/{n}.bin"
        for n in numbers
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(home=tmp_path / "home", operator="tester", database_url="memory://")
    with Service(settings) as service:
        service.add_list("concern", Purpose.CONCERN)
        service.add_list("benign", Purpose.BENIGN)
        service.ingest("concern", hashdeep_list(tmp_path / "c.txt", range(1, 1500)))
        service.ingest("benign", hashdeep_list(tmp_path / "b.txt", range(1000, 2500)))
        yield service


def queries(algorithm: Algorithm, rng: np.random.Generator) -> np.ndarray:
    known = [bytes.fromhex(digest(algorithm.value, n)) for n in range(1, 2600)]
    misses = [rng.bytes(algorithm.width) for _ in range(500)]
    return np.frombuffer(b"".join(known + misses), dtype=np.uint8).reshape(-1, algorithm.width)


def assert_same_answers(
    snapshot: Snapshot, sharded: Snapshot, algorithms: tuple[Algorithm, ...] = tuple(Algorithm)
) -> None:
    rng = np.random.default_rng(7)
    for algorithm in algorithms:
        matrix = queries(algorithm, rng)
        want = snapshot.index.lookup_batch(algorithm, matrix)
        got = sharded.index.lookup_batch(algorithm, matrix)
        want_sets = [None if i == MISS else snapshot.index.label_set(int(i)) for i in want]
        got_sets = [None if i == MISS else sharded.index.label_set(int(i)) for i in got]
        assert got_sets == want_sets
        assert (got == MISS).sum() == (want == MISS).sum() > 0
        for row in matrix[::97]:
            single = sharded.index.lookup(algorithm, row.tobytes())
            assert single == sharded.index.lookup_batch(algorithm, row[None, :])[0]
        assert sharded.index.count(algorithm) == snapshot.index.count(algorithm)


@pytest.mark.parametrize("bits", [8, 16])
def test_shards_answer_as_the_snapshot_does(service: Service, tmp_path: Path, bits: int) -> None:
    snapshot = service.snapshot()
    assert snapshot is not None
    shards = export_shards(snapshot, tmp_path / "shards", bits=bits)
    assert shards.snapshot_id == snapshot.id
    assert shards.lists == snapshot.lists
    # 65,536 shards a table: one algorithm is enough to show the 16-bit layout
    algorithms = tuple(Algorithm) if bits == 8 else (Algorithm.SHA1,)
    assert_same_answers(snapshot, shards.open_snapshot(), algorithms)


def test_a_delta_snapshot_is_exported_with_its_overlay_folded_in(
    service: Service, tmp_path: Path
) -> None:
    service.ingest(
        "concern", hashdeep_list(tmp_path / "add.txt", range(3000, 3040)), mode=UpdateMode.ADD
    )
    service.ingest(
        "benign", hashdeep_list(tmp_path / "rm.txt", range(2000, 2100)), mode=UpdateMode.REMOVE
    )
    snapshot = service.snapshot()
    assert snapshot is not None
    assert snapshot.index.overlay_size > 0  # served from the overlay, not rebuilt
    shards = export_shards(snapshot, tmp_path / "shards")
    sharded = shards.open_snapshot()
    assert_same_answers(snapshot, sharded)
    added = bytes.fromhex(digest("md5", 3001))
    removed = bytes.fromhex(digest("md5", 2050))
    assert sharded.index.lookup(Algorithm.MD5, added) != MISS
    assert sharded.index.lookup(Algorithm.MD5, removed) == MISS


def test_a_worker_maps_only_the_shards_its_queries_touch(service: Service, tmp_path: Path) -> None:
    snapshot = service.snapshot()
    assert snapshot is not None
    shards = export_shards(snapshot, tmp_path / "shards")
    index = shards.open_snapshot().index
    assert isinstance(index, ShardedIndex)
    assert index.opened == []
    wanted = [bytes.fromhex(digest("md5", n)) for n in range(1, 40)]
    matrix = np.frombuffer(b"".join(wanted), dtype=np.uint8).reshape(-1, 16)
    prefixes = set(route_prefix(matrix, 8).tolist())
    assert (index.lookup_batch(Algorithm.MD5, matrix) != MISS).all()
    assert index.opened == sorted((Algorithm.MD5, p) for p in prefixes)
    assert len(prefixes) < 256


def test_export_refuses_bad_prefix_widths_and_a_folder_in_use(
    service: Service, tmp_path: Path
) -> None:
    snapshot = service.snapshot()
    assert snapshot is not None
    with pytest.raises(InputError, match="prefix bits"):
        export_shards(snapshot, tmp_path / "a", bits=4)
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        export_shards(snapshot, used)


def test_an_incomplete_shard_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "md5").mkdir()
    with pytest.raises(SnapshotError, match="not a shard folder"):
        ShardSet.open(tmp_path)
    (tmp_path / "shards.json").write_text('{"format": "other/1"}')
    with pytest.raises(SnapshotError, match="unknown"):
        ShardSet.open(tmp_path)
