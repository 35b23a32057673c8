"""The fast index's own edges: crowded buckets, persistence, threads, empty tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashmatch.digests import Algorithm
from hashmatch.index import MISS, LabelSetTable, Member, SetIndex, SortedArrayIndex
from hashmatch.index import sorted_array as sa

MD5 = Algorithm.MD5


def build(matrix: np.ndarray, *, threads: int = 1) -> SortedArrayIndex:
    sets = LabelSetTable()
    one = sets.intern(frozenset({Member(0, None)}))
    return SortedArrayIndex.build(
        {MD5: [(matrix, np.full(len(matrix), one))]}, sets, threads=threads
    )


def test_a_bucket_larger_than_the_window_is_searched_whole() -> None:
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 256, size=(200, 16), dtype=np.uint8)
    keys[:60, 0] = 0x42  # sixty keys share their leading byte: one crowded bucket
    index = build(keys)
    table = index.tables()[MD5]
    assert table is not None
    assert table.window == 16
    assert (table.directory >= sa._BIG).any(), "the crowded bucket is flagged"
    found = index.lookup_batch(MD5, keys)
    assert (found != MISS).all()
    misses = keys.copy()
    misses[:, 15] ^= 0xFF
    assert (index.lookup_batch(MD5, misses) == MISS).all()
    assert all(index.lookup(MD5, k.tobytes()) != MISS for k in keys[:60])
    assert all(index.lookup(MD5, k.tobytes()) == MISS for k in misses[:60])


def test_saved_index_maps_back_with_the_same_answers(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    keys = rng.integers(0, 256, size=(5000, 16), dtype=np.uint8)
    index = build(keys)
    meta = index.save(tmp_path)
    opened = SortedArrayIndex.open(tmp_path, meta)
    table = opened.tables()[MD5]
    assert table is not None
    assert isinstance(table.padded_hi, np.memmap)
    queries = np.concatenate([keys, rng.integers(0, 256, size=(500, 16), dtype=np.uint8)])
    assert (opened.lookup_batch(MD5, queries) == index.lookup_batch(MD5, queries)).all()
    assert opened.label_set(int(opened.lookup(MD5, keys[0].tobytes()))) == frozenset(
        {Member(0, None)}
    )
    assert opened.count(MD5) == 5000


def test_threads_give_the_same_answers_as_one() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 256, size=(20_000, 16), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(sa._PARALLEL_MIN + 5, 16), dtype=np.uint8)
    queries[::7] = keys[rng.integers(0, len(keys), size=len(queries[::7]))]
    one, two = build(keys, threads=1), build(keys, threads=2)
    assert (one.lookup_batch(MD5, queries) == two.lookup_batch(MD5, queries)).all()
    assert (two.lookup_batch(MD5, queries) != MISS).sum() == len(queries[::7])


def test_an_empty_index_answers_miss() -> None:
    index = SortedArrayIndex({}, LabelSetTable())
    assert index.lookup(MD5, bytes(16)) == MISS
    assert (index.lookup_batch(MD5, np.zeros((3, 16), np.uint8)) == MISS).all()
    assert index.count(MD5) == 0
    empty = build(np.empty((0, 16), np.uint8))
    assert empty.lookup(MD5, bytes(16)) == MISS
    assert empty.lookup_batch(MD5, np.zeros((2, 16), np.uint8)).tolist() == [MISS, MISS]


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_every_width_and_wrong_widths(algorithm: Algorithm) -> None:
    rng = np.random.default_rng(4)
    keys = rng.integers(0, 256, size=(300, algorithm.width), dtype=np.uint8)
    sets = LabelSetTable()
    one = sets.intern(frozenset({Member(0, None)}))
    index = SortedArrayIndex.build({algorithm: [(keys, np.full(300, one))]}, sets)
    assert (index.lookup_batch(algorithm, keys) == one).all()
    with pytest.raises(ValueError, match="bytes"):
        index.lookup(algorithm, bytes(algorithm.width + 1))
    with pytest.raises(ValueError, match="array"):
        index.lookup_batch(algorithm, np.zeros((2, algorithm.width + 1), np.uint8))
    with pytest.raises(ValueError, match="one member per digest"):
        index.add(algorithm, keys[:2], [Member(1, None)])
    reference = SetIndex()
    with pytest.raises(ValueError, match="bytes"):
        reference.lookup(algorithm, b"x")


def test_a_delta_is_matchable_at_once_and_counted() -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 256, size=(1000, 16), dtype=np.uint8)
    index = build(keys[:900])
    index.add(MD5, keys[900:], [Member(1, '{"category":"x"}')] * 100)
    index.remove(MD5, keys[:10], 0)
    assert index.overlay_size == 110
    assert index.count(MD5) == 990
    found = index.lookup_batch(MD5, keys)
    assert (found[:10] == MISS).all()
    assert (found[10:] != MISS).all()
    assert index.label_set(int(found[950])) == frozenset({Member(1, '{"category":"x"}')})
    with pytest.raises(IndexError):
        index.label_set(MISS)
