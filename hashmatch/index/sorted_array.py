"""The fast index: per algorithm, one sorted array of fixed-width keys with a directory.

Layout of one algorithm's table (:class:`SortedKeys`), for ``n`` distinct digests:

* ``hi``: the first 8 bytes of each digest as a native uint64, sorted (ties by the rest);
  stored padded (one slot in front, ``window + 1`` slots of all-ones behind) so that the
  search never needs a bounds check;
* ``rest``: the remaining bytes, an (n, width - 8) uint8 array in the same order;
* ``values``: the label-set id of each key, uint32;
* ``directory``: for each value of the leading ``bits`` bits, where its keys start
  (``2**bits + 1`` int64 entries, so bucket ``b`` is ``directory[b]:directory[b + 1]``;
  int64 so that numpy gathers from it straight into the index buffer).

Cryptographic digests are uniform, so a bucket holds a handful of keys (``bits`` is chosen
for two to four on average). A batch lookup reads the directory, then runs a branchless
lower-bound search over a fixed power-of-two ``window`` starting at the bucket: everything
past the bucket is larger than the query, so the fixed window gives the exact answer and
every query takes the same steps, which keeps each step one vectorised numpy call. Batches
are cut into cache-sized chunks (so a bucket read at one step is still in cache at the
next) and spread over threads (numpy releases the GIL while it gathers). Single lookups
take a plain-Python path over ``memoryview``s: a numpy call costs more than the lookup.

Memory: 8 + (width - 8) + 4 bytes per key plus 2 to 4 for the directory: about 22.7 bytes
per MD5 key at 100 million keys. Every array is a ``.npy`` file that
:meth:`SortedArrayIndex.open` maps.

Deltas go to an overlay (a small :class:`SortedKeys` over the changed digests, whose values
replace the base's) so that they are matchable at once, without a rebuild.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import threading
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from hashmatch.digests import Algorithm
from hashmatch.index._base import (
    MISS,
    DigestMatrix,
    HashIndex,
    IdArray,
    LabelSet,
    LabelSetTable,
    Member,
    as_digest_matrix,
)

__all__ = [
    "SortedArrayIndex",
    "SortedKeys",
    "build_sorted_keys",
    "link_or_copy",
    "open_label_sets",
]

_ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_CHUNK = 8_192
"""Queries per chunk: small enough that a chunk's buckets and buffers stay in the L2 cache."""
_PARALLEL_MIN = 131_072
"""Below this many queries one thread is faster than handing work out."""
_TOMBSTONE = np.uint32(0xFFFF_FFFF)
"""Overlay value of a digest that a delta took off every list."""
_MAX_WINDOW = 16
"""Search steps are log2 of the window; buckets that do not fit are flagged (below)."""
_BIG = 1 << 62
_MASK = _BIG - 1
"""Set on the directory entry of a bucket too large for the window (a handful per
hundred million keys): the few queries that land there are finished with ``bisect``."""

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
U8 = npt.NDArray[np.uint8]


def split_keys(matrix: DigestMatrix) -> tuple[U64, U8]:
    """A digest matrix as (first 8 bytes as native uint64, the remaining bytes)."""
    return leading_words(matrix), np.ascontiguousarray(matrix[:, 8:])


def leading_words(matrix: DigestMatrix) -> U64:
    """The first 8 bytes of each digest as a native uint64 (big-endian, so order is kept)."""
    n, width = matrix.shape
    if width % 8 == 0 and matrix.flags.c_contiguous:
        words = matrix.view(">u8")[:, 0]
    else:
        words = np.ascontiguousarray(matrix[:, :8]).view(">u8").reshape(n)
    return words.astype(np.uint64)


def _directory_bits(n: int) -> int:
    """Leading bits the directory covers: two to four keys per bucket on average.

    At 8 bytes a directory entry that is 2 to 4 bytes per key, which keeps an MD5 key
    within 24 bytes all told.
    """
    return max(1, math.floor(math.log2(max(n, 4) / 2)))


@dataclass(frozen=True, slots=True, eq=False)
class SortedKeys:
    """One algorithm's sorted keys, directory and label-set ids (see the module docstring)."""

    padded_hi: U64
    rest: U8
    values: U32
    directory: npt.NDArray[np.intp]
    bits: int
    window: int
    _views: _Views | None = field(default=None, init=False, repr=False)

    @property
    def size(self) -> int:
        """Number of keys."""
        return len(self.values)

    @property
    def hi(self) -> U64:
        """The sorted leading words, without padding."""
        return self.padded_hi[1 : 1 + self.size]

    @property
    def nbytes(self) -> int:
        """Bytes the arrays take (what a lookup may touch)."""
        return int(
            self.padded_hi.nbytes + self.rest.nbytes + self.values.nbytes + self.directory.nbytes
        )

    @classmethod
    def from_sorted(cls, hi: U64, rest: U8, values: U32, *, bits: int | None = None) -> SortedKeys:
        """Wrap arrays already sorted by (hi, rest) with no repeated key."""
        n = len(hi)
        bits = _directory_bits(n) if bits is None else bits
        shift = np.uint64(64 - bits)
        directory = np.searchsorted(
            hi >> shift, np.arange(2**bits + 1, dtype=np.uint64), side="left"
        ).astype(np.intp)
        sizes = np.diff(directory)
        largest = int(sizes.max()) if n else 0
        window = min(_MAX_WINDOW, 1 << max(0, math.ceil(math.log2(largest + 1))))
        directory[:-1][sizes >= window] |= _BIG
        padded = np.empty(n + window + 2, dtype=np.uint64)
        padded[0] = 0
        padded[1 : 1 + n] = hi
        padded[1 + n :] = _ALL_ONES
        return cls(
            padded_hi=padded,
            rest=np.ascontiguousarray(rest, dtype=np.uint8),
            values=np.ascontiguousarray(values, dtype=np.uint32),
            directory=directory,
            bits=bits,
            window=window,
        )

    # -- batch path -------------------------------------------------------------------

    def find_batch(self, matrix: DigestMatrix, threads: int = 1) -> npt.NDArray[np.int64]:
        """Values for every row of ``matrix``; -1 where the key is absent."""
        out = np.full(len(matrix), -1, dtype=np.int64)
        if self.size == 0 or len(matrix) == 0:
            return out
        if threads <= 1 or len(matrix) < _PARALLEL_MIN:
            self._find_range(matrix, out)
            return out
        edges = np.linspace(0, len(matrix), threads + 1).astype(int)
        parts = [(matrix[a:b], out[a:b]) for a, b in itertools.pairwise(edges)]
        list(_executor(threads).map(lambda part: self._find_range(*part), parts))
        return out

    def _find_range(self, matrix: DigestMatrix, out: npt.NDArray[np.int64]) -> None:
        for start in range(0, len(matrix), _CHUNK):
            stop = start + _CHUNK
            self._find_chunk(matrix[start:stop], out[start:stop])

    def _find_chunk(self, matrix: DigestMatrix, out: npt.NDArray[np.int64]) -> None:
        padded = self.padded_hi
        qh = leading_words(matrix)
        base = np.empty(len(qh), dtype=np.intp)
        bucket = np.right_shift(qh, np.uint64(64 - self.bits))
        self.directory.take(bucket.view(np.intp), out=base)
        big = np.flatnonzero(base >= _BIG) if base.max() >= _BIG else base[:0]
        if big.size:
            base[big] -= _BIG
        seen = np.empty_like(qh)
        less = np.empty(len(qh), dtype=bool)
        half = self.window >> 1
        while half:
            # padded[base + half] is hi[base + half - 1]: when it is below the query the
            # lower bound lies past it, so step over. Taking from a shifted view saves an
            # addition, and a masked add beats a masked copy.
            padded[half:].take(base, out=seen)
            np.less(seen, qh, out=less)
            np.add(base, half, out=base, where=less)
            half >>= 1
        for row in big.tolist():
            # A bucket larger than the window: search all of it.
            start = int(base[row])
            end = int(self.directory[int(bucket[row]) + 1]) & _MASK
            base[row] = bisect_left(self._memoryviews().hi, int(qh[row]), start, end)
        padded[1:].take(base, out=seen)
        np.equal(seen, qh, out=less)
        hits = np.flatnonzero(less)
        if hits.size == 0:
            return
        pos = base[hits]
        hits, pos = hits[pos < self.size], pos[pos < self.size]
        qrest = np.ascontiguousarray(matrix[hits, 8:])
        same = np.all(self.rest.take(pos, axis=0) == qrest, axis=1)
        out[hits[same]] = self.values.take(pos[same])
        for i in np.flatnonzero(~same).tolist():
            # Two keys share their first 8 bytes: walk the run of equal leading words.
            row = int(hits[i])
            found = self._scan_run(int(pos[i]) + 1, int(qh[row]), qrest[i].tobytes())
            if found is not None:
                out[row] = found

    def _scan_run(self, at: int, hi: int, rest: bytes) -> int | None:
        keys = self.hi
        while at < self.size and int(keys[at]) == hi:
            if self.rest[at].tobytes() == rest:
                return int(self.values[at])
            at += 1
        return None

    # -- single path ------------------------------------------------------------------

    def find(self, digest: bytes) -> int:
        """The value of one key, or -1: plain Python over memoryviews (about a microsecond)."""
        views = self._views or self._memoryviews()
        if views.size == 0:
            return -1
        hi = int.from_bytes(digest[:8], "big")
        bucket = hi >> views.shift
        directory = views.directory
        keys = views.hi
        end = directory[bucket + 1] & _MASK
        at = bisect_left(keys, hi, directory[bucket] & _MASK, end)
        while at < end and keys[at] == hi:
            width = views.width
            if views.rest[at * width : (at + 1) * width] == digest[8:]:
                return int(views.values[at])
            at += 1
        return -1

    def _memoryviews(self) -> _Views:
        if self._views is None:
            views = _Views(
                hi=self.hi.data,
                rest=self.rest.reshape(-1).data,
                values=self.values.data,
                directory=self.directory.data,
                shift=64 - self.bits,
                width=self.rest.shape[1],
                size=self.size,
            )
            object.__setattr__(self, "_views", views)
            return views
        return self._views

    # -- persistence ------------------------------------------------------------------

    def save(self, directory: Path, prefix: str) -> dict[str, int]:
        """Write the arrays as ``.npy`` files; returns what :meth:`load` needs."""
        for name in ("padded_hi", "rest", "values", "directory"):
            with open(directory / f"{prefix}.{name}.npy", "wb") as handle:
                np.save(handle, getattr(self, name), allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
        return {"count": self.size, "bits": self.bits, "window": self.window}

    @classmethod
    def load(cls, directory: Path, prefix: str, meta: Mapping[str, int]) -> SortedKeys:
        """Memory-map arrays written by :meth:`save` (nothing is parsed or copied)."""

        def mapped(name: str) -> Any:
            return np.load(directory / f"{prefix}.{name}.npy", mmap_mode="r", allow_pickle=False)

        keys = cls(
            padded_hi=mapped("padded_hi"),
            rest=mapped("rest"),
            values=mapped("values"),
            directory=mapped("directory"),
            bits=int(meta["bits"]),
            window=int(meta["window"]),
        )
        if keys.size != int(meta["count"]):
            raise ValueError(f"{prefix}: {keys.size} keys on disk, {meta['count']} recorded")
        return keys


@dataclass(frozen=True, slots=True)
class _Views:
    hi: memoryview
    rest: memoryview
    values: memoryview
    directory: memoryview
    shift: int
    width: int
    size: int


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}
_EXECUTOR_LOCK = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    with _EXECUTOR_LOCK:
        pool = _EXECUTORS.get(threads)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hashmatch-lookup")
            _EXECUTORS[threads] = pool
        return pool


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser: spreads small ids over 64 bits for order-free set signatures."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def build_sorted_keys(
    matrix: DigestMatrix, set_ids: npt.NDArray[np.integer[Any]], sets: LabelSetTable
) -> SortedKeys:
    """Sort digests, merge repeats, and give each distinct digest the union of its sets.

    ``set_ids[i]`` is the label set of ``matrix[i]`` (an id in ``sets``). A digest that
    appears several times (on several lists, or twice on one) gets the label set holding
    every member of every occurrence; the new sets are interned into ``sets``.
    """
    n = len(matrix)
    if n == 0:
        return SortedKeys.from_sorted(
            np.empty(0, np.uint64),
            np.empty((0, matrix.shape[1] - 8), np.uint8),
            np.empty(0, np.uint32),
        )
    # Memory matters at hundreds of millions of keys: no copy is made that is not needed,
    # and each temporary goes as soon as it has served.
    hi = leading_words(matrix)
    order = np.argsort(hi)
    hi = hi[order]
    rest = matrix[:, 8:].take(order, axis=0)
    ids = np.asarray(set_ids, dtype=np.uint32)[order]
    del order
    tie = np.flatnonzero(hi[1:] == hi[:-1])
    if tie.size == 0:
        return SortedKeys.from_sorted(hi, rest, ids)  # every digest once: the common case
    # Keys whose leading word repeats: order them fully by (rest, set id), so that equal
    # digests and equal (digest, set) pairs sit next to each other.
    wide = ids.astype(np.int64)
    del ids
    if tie.size:
        members = np.unique(np.concatenate([tie, tie + 1]))
        runs = np.cumsum(
            np.r_[True, hi[members][1:] != hi[members][:-1]] | np.r_[True, np.diff(members) != 1]
        )
        columns = [wide[members]]
        columns += [rest[members, j] for j in range(rest.shape[1] - 1, -1, -1)]
        columns.append(runs)
        local = np.lexsort(columns)
        rest[members] = rest[members[local]]
        wide[members] = wide[members[local]]
    new_key = np.ones(n, dtype=bool)
    new_key[1:] = hi[1:] != hi[:-1]
    if tie.size:
        new_key[tie + 1] = np.any(rest[tie + 1] != rest[tie], axis=1)
    starts = np.flatnonzero(new_key)
    key_of = np.cumsum(new_key) - 1
    # Drop repeated (digest, set) pairs, then find digests left with several sets.
    keep = new_key.copy()
    keep[1:] |= wide[1:] != wide[:-1]
    pair_key = key_of[keep]
    pair_ids = wide[keep]
    per_key = np.bincount(pair_key, minlength=len(starts))
    values = pair_ids[np.r_[0, np.cumsum(per_key)[:-1]]].astype(np.int64)
    multi = np.flatnonzero(per_key > 1)
    if multi.size:
        values[multi] = _merge_sets(pair_key, pair_ids, per_key, multi, sets)
    if len(sets) > int(_TOMBSTONE):
        raise OverflowError("more label sets than a uint32 can number")
    return SortedKeys.from_sorted(hi[starts], rest[starts], values.astype(np.uint32))


def _merge_sets(
    pair_key: npt.NDArray[np.int64],
    pair_ids: npt.NDArray[np.int64],
    per_key: npt.NDArray[np.int64],
    multi: npt.NDArray[np.int64],
    sets: LabelSetTable,
) -> npt.NDArray[np.int64]:
    """Label-set ids for digests with several sets; one Python step per distinct combination."""
    offsets = np.r_[0, np.cumsum(per_key)]
    lengths = per_key[multi]
    starts = offsets[multi]
    positions = np.repeat(starts, lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    )
    mixed = _mix(pair_ids[positions].astype(np.uint64))
    signature = np.add.reduceat(mixed, np.r_[0, np.cumsum(lengths)[:-1]]) ^ (
        lengths.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    )
    _, first, inverse = np.unique(signature, return_index=True, return_inverse=True)
    # Check every combination against its representative: a signature collision must
    # never merge two different combinations.
    rep_start = starts[first][inverse]
    rep_len = lengths[first][inverse]
    same_len = rep_len == lengths
    rep_pos = np.repeat(rep_start, lengths) + (positions - np.repeat(starts, lengths))
    agree = np.ones(len(multi), dtype=bool)
    agree &= same_len
    checked = np.repeat(same_len, lengths)
    mismatch = np.zeros(len(positions), dtype=bool)
    mismatch[checked] = pair_ids[positions[checked]] != pair_ids[rep_pos[checked]]
    owner = np.repeat(np.arange(len(multi)), lengths)
    agree[np.unique(owner[mismatch])] = False
    combined: dict[tuple[int, ...], int] = {}

    def intern(start: int, length: int) -> int:
        combo = tuple(pair_ids[start : start + length].tolist())
        found = combined.get(combo)
        if found is None:
            merged: set[Member] = set()
            for set_id in combo:
                merged |= sets[set_id]
            found = sets.intern(frozenset(merged))
            combined[combo] = found
        return found

    by_signature = np.array(
        [intern(int(starts[i]), int(lengths[i])) for i in first.tolist()], dtype=np.int64
    )
    result = by_signature[inverse]
    for i in np.flatnonzero(~agree).tolist():
        result[i] = intern(int(starts[i]), int(lengths[i]))
    return result


class SortedArrayIndex(HashIndex):
    """The fast index: a :class:`SortedKeys` per algorithm, label sets, and a delta overlay."""

    def __init__(
        self,
        tables: Mapping[Algorithm, SortedKeys],
        sets: LabelSetTable,
        *,
        threads: int = 1,
    ) -> None:
        self._tables = {a: tables.get(a) for a in Algorithm}
        self._sets = sets
        self.threads = threads
        self._overlay: dict[Algorithm, dict[bytes, int]] = {a: {} for a in Algorithm}
        self._overlay_keys: dict[Algorithm, SortedKeys | None] = dict.fromkeys(Algorithm)

    @classmethod
    def build(
        cls,
        parts: Mapping[Algorithm, Sequence[tuple[DigestMatrix, npt.NDArray[np.integer[Any]]]]],
        sets: LabelSetTable,
        *,
        threads: int = 1,
    ) -> SortedArrayIndex:
        """Build from (digests, label-set ids) parts per algorithm; see :func:`build_sorted_keys`.

        Parts given as lists are emptied as they are used, so that a build of hundreds of
        millions of keys does not hold them and their concatenation at once.
        """
        tables: dict[Algorithm, SortedKeys] = {}
        for algorithm in Algorithm:
            chunks = parts.get(algorithm, [])
            if chunks:
                matrix = np.concatenate([as_digest_matrix(m, algorithm) for m, _ in chunks])
                ids = np.concatenate([np.asarray(i, dtype=np.uint32) for _, i in chunks])
            else:
                matrix = np.empty((0, algorithm.width), dtype=np.uint8)
                ids = np.empty(0, dtype=np.uint32)
            if isinstance(chunks, list):
                chunks.clear()
            tables[algorithm] = build_sorted_keys(matrix, ids, sets)
            del matrix, ids
        return cls(tables, sets, threads=threads)

    # -- lookups ----------------------------------------------------------------------

    def lookup(self, algorithm: Algorithm, digest: bytes) -> int:
        if len(digest) != algorithm.width:
            raise ValueError(f"{algorithm.value} digest must be {algorithm.width} bytes")
        overlay = self._overlay[algorithm]
        if overlay:
            found = overlay.get(bytes(digest))
            if found is not None:
                return found
        table = self._tables[algorithm]
        return MISS if table is None else table.find(digest)

    def lookup_batch(self, algorithm: Algorithm, digests: DigestMatrix) -> IdArray:
        matrix = as_digest_matrix(digests, algorithm)
        table = self._tables[algorithm]
        ids = (
            np.full(len(matrix), MISS, dtype=np.int64)
            if table is None
            else table.find_batch(matrix, self.threads)
        )
        overlay = self._overlay_table(algorithm)
        if overlay is not None:
            changed = overlay.find_batch(matrix)
            hit = changed >= 0
            ids[hit] = changed[hit]
            ids[ids == int(_TOMBSTONE)] = MISS
        return ids

    def label_set(self, set_id: int) -> LabelSet:
        if set_id < 0:
            raise IndexError(set_id)
        return self._sets[set_id]

    def count(self, algorithm: Algorithm) -> int:
        table = self._tables[algorithm]
        base = 0 if table is None else table.size
        overlay = self._overlay[algorithm]
        if not overlay:
            return base
        keys = list(overlay)
        before = self._base_ids(algorithm, keys)
        added = sum(
            1 for k, b in zip(keys, before, strict=True) if b == MISS and overlay[k] != MISS
        )
        removed = sum(
            1 for k, b in zip(keys, before, strict=True) if b != MISS and overlay[k] == MISS
        )
        return base + added - removed

    def tables(self) -> Mapping[Algorithm, SortedKeys | None]:
        """The base tables (without the overlay)."""
        return dict(self._tables)

    @property
    def sets(self) -> LabelSetTable:
        """The label-set table the ids refer to."""
        return self._sets

    @property
    def overlay_size(self) -> int:
        """How many digests the delta overlay changes."""
        return sum(len(o) for o in self._overlay.values())

    def overlay_keys(self, algorithm: Algorithm) -> DigestMatrix:
        """The digests the overlay changes (added, relabelled or removed), unordered."""
        keys = list(self._overlay[algorithm])
        if not keys:
            return np.empty((0, algorithm.width), dtype=np.uint8)
        return as_digest_matrix(keys, algorithm)

    def save_label_sets(self, path: Path) -> None:
        """Write the label sets to ``path``: the stored file linked when nothing was added."""
        sets = self._sets
        if isinstance(sets, _ArrowLabelSets) and not sets.added:
            link_or_copy(sets.path, path)
        else:
            _save_sets(path, sets)

    # -- deltas -----------------------------------------------------------------------

    def add(self, algorithm: Algorithm, digests: DigestMatrix, members: Sequence[Member]) -> None:
        matrix = as_digest_matrix(digests, algorithm)
        if len(matrix) != len(members):
            raise ValueError("one member per digest")
        keys = [row.tobytes() for row in matrix]
        current = self._current_ids(algorithm, keys)
        overlay = self._overlay[algorithm]
        for key, member in zip(keys, members, strict=True):
            set_id = overlay.get(key, current[key])
            existing = self._sets[set_id] if set_id != MISS else frozenset()
            overlay[key] = self._sets.intern(existing | {member})
        self._overlay_keys[algorithm] = None

    def remove(self, algorithm: Algorithm, digests: DigestMatrix, slot: int) -> None:
        matrix = as_digest_matrix(digests, algorithm)
        keys = [row.tobytes() for row in matrix]
        current = self._current_ids(algorithm, keys)
        overlay = self._overlay[algorithm]
        for key in keys:
            set_id = overlay.get(key, current[key])
            if set_id == MISS:
                continue
            kept = frozenset(m for m in self._sets[set_id] if m.slot != slot)
            overlay[key] = self._sets.intern(kept) if kept else MISS
        self._overlay_keys[algorithm] = None

    def _current_ids(self, algorithm: Algorithm, keys: list[bytes]) -> dict[bytes, int]:
        if not keys:
            return {}
        ids = self.lookup_batch(algorithm, as_digest_matrix(keys, algorithm))
        return dict(zip(keys, ids.tolist(), strict=True))

    def _base_ids(self, algorithm: Algorithm, keys: list[bytes]) -> list[int]:
        table = self._tables[algorithm]
        if table is None:
            return [MISS] * len(keys)
        found: list[int] = table.find_batch(as_digest_matrix(keys, algorithm)).tolist()
        return found

    def _overlay_table(self, algorithm: Algorithm) -> SortedKeys | None:
        overlay = self._overlay[algorithm]
        if not overlay:
            return None
        cached = self._overlay_keys[algorithm]
        if cached is None:
            keys = sorted(overlay)
            matrix = as_digest_matrix(keys, algorithm)
            hi, rest = split_keys(matrix)
            values = np.array(
                [int(_TOMBSTONE) if overlay[k] == MISS else overlay[k] for k in keys],
                dtype=np.uint32,
            )
            cached = SortedKeys.from_sorted(hi, rest, values)
            self._overlay_keys[algorithm] = cached
        return cached

    # -- persistence ------------------------------------------------------------------

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the base tables and label sets under ``directory``; returns their metadata.

        The overlay is not saved: a delta is persisted as a list version and folded into
        the next snapshot build.
        """
        meta: dict[str, Any] = {"tables": {}}
        for algorithm, table in self._tables.items():
            if table is not None and table.size:
                meta["tables"][algorithm.value] = table.save(directory, algorithm.value)
        _save_sets(directory / "labelsets.arrow", self._sets)
        meta["label_sets"] = len(self._sets)
        return meta

    @classmethod
    def open(
        cls, directory: Path, meta: Mapping[str, Any], *, threads: int = 1
    ) -> SortedArrayIndex:
        """Map an index written by :meth:`save`: memory maps, no parsing of the keys."""
        tables = {
            Algorithm(name): SortedKeys.load(directory, name, table_meta)
            for name, table_meta in meta["tables"].items()
        }
        sets = _ArrowLabelSets(directory / "labelsets.arrow", int(meta["label_sets"]))
        return cls(tables, sets, threads=threads)


_SETS_SCHEMA = pa.schema(
    [
        pa.field(
            "members",
            pa.list_(
                pa.struct([pa.field("slot", pa.int32(), False), pa.field("labels", pa.string())])
            ),
            False,
        )
    ]
)


def _save_sets(path: Path, sets: LabelSetTable) -> None:
    rows = [[{"slot": m.slot, "labels": m.labels} for m in sorted(s)] for s in sets]
    table = pa.Table.from_arrays(
        [pa.array(rows, _SETS_SCHEMA.field("members").type)], schema=_SETS_SCHEMA
    )
    with open(path, "wb") as handle:
        with pa.ipc.new_file(handle, _SETS_SCHEMA) as writer:
            writer.write_table(table, max_chunksize=65_536)
        handle.flush()
        os.fsync(handle.fileno())


_DECODED_CACHE = 1 << 16
"""Label sets kept decoded per opened snapshot (a few hundred bytes each)."""


class _ArrowLabelSets(LabelSetTable):
    """Label sets read on demand from a memory-mapped Arrow file; new sets kept in memory.

    A delta applied to an opened snapshot interns a few new sets: they get ids after the
    stored ones without reading the stored ones (an equal stored set may then have a
    second id, which changes nothing a lookup can see). Iterating reads them all, once.
    """

    def __init__(self, path: Path, count: int) -> None:
        super().__init__()
        self.path = path
        self._table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        if count < 0:
            count = self._table.num_rows
        if self._table.num_rows != count:
            raise ValueError(f"{path.name}: {self._table.num_rows} label sets, {count} recorded")
        self._base = count
        self._loaded = False
        self._extra: list[LabelSet] = []
        self._extra_ids: dict[LabelSet, int] = {}
        self._decoded: dict[int, LabelSet] = {}

    @property
    def added(self) -> int:
        """Sets interned after opening (by deltas), which the stored file does not hold."""
        return len(self._extra)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            every = [self._decode(i) for i in range(self._base)] + self._extra
            self._sets[:] = every
            for set_id, label_set in enumerate(every):
                self._ids.setdefault(label_set, set_id)

    def _decode(self, set_id: int) -> LabelSet:
        found = self._decoded.get(set_id)
        if found is None:
            raw = self._table.column("members")[set_id].as_py()
            found = frozenset(Member(slot=m["slot"], labels=m["labels"]) for m in raw)
            if len(self._decoded) < _DECODED_CACHE:
                self._decoded[set_id] = found
        return found

    def intern(self, label_set: LabelSet) -> int:
        if self._loaded:
            return super().intern(label_set)
        found = self._extra_ids.get(label_set)
        if found is None:
            found = self._base + len(self._extra)
            self._extra.append(label_set)
            self._extra_ids[label_set] = found
        return found

    def __getitem__(self, set_id: int) -> LabelSet:
        if not self._loaded:
            if 0 <= set_id < self._base:
                return self._decode(set_id)
            if self._base <= set_id < self._base + len(self._extra):
                return self._extra[set_id - self._base]
            raise IndexError(set_id)
        return super().__getitem__(set_id)

    def __len__(self) -> int:
        return len(self._sets) if self._loaded else self._base + len(self._extra)

    def __iter__(self) -> Iterator[LabelSet]:
        self._load()
        return super().__iter__()


def open_label_sets(path: Path) -> LabelSetTable:
    """The label sets stored in ``path`` (as :meth:`SortedArrayIndex.save` writes them)."""
    return _ArrowLabelSets(path, -1)


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link of ``source`` at ``target``, or a copy where links cannot be made."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
