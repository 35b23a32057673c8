"""Prefix shards: a snapshot cut by the leading byte(s) of each digest, for scale-out.

One machine serves a few hundred million digests. Past that, or for a batch job spread
over a cluster, the snapshot is exported as *shards*: for each algorithm and each value of
the leading ``bits`` (8 or 16) of the digest, the keys with that prefix, as the same
sorted-array tables the serving index uses. A worker maps only the shards its work
touches; nothing needs the whole snapshot in one memory.

Folder layout (on storage every worker can read: NFS, a parallel file system, a copy per
node)::

    shards/
      shards.json            format, snapshot id, bits, lists, label-set count, per-shard
                             metadata; written last, so a folder without it is incomplete
      labelsets.arrow        the snapshot's label sets (memory-mapped; ids are global)
      md5/3f.padded_hi.npy   shard 0x3f of the MD5 table (padded_hi, rest, values, directory)
      ...

Inside a shard every key has the same leading byte(s), so the shard stores each key with
those bytes dropped and zero bytes appended (the same width; the order is unchanged): the
shard's own directory then spreads its keys over buckets as a whole table's does, and a
lookup is the unchanged :class:`~hashmatch.index.sorted_array.SortedKeys` search on the
query shifted the same way.

:class:`ShardedIndex` is a :class:`~hashmatch.index.sorted_array.SortedArrayIndex` over a
shard folder. It opens a shard the first time a query needs it and keeps it mapped, so a
:class:`~hashmatch.match.Matcher` over it runs the same matching code as over the serving
snapshot, and gives the same verdicts (tests hold the two together).

Exporting reads the snapshot as it serves: a delta snapshot's overlay is folded in, so
the shards answer exactly what the snapshot answers.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.digests import Algorithm
from hashmatch.errors import InputError, SnapshotError
from hashmatch.index._base import MISS, DigestMatrix, IdArray, as_digest_matrix
from hashmatch.index.snapshot import Snapshot, SnapshotList
from hashmatch.index.sorted_array import (
    SortedArrayIndex,
    SortedKeys,
    leading_words,
    open_label_sets,
)

__all__ = [
    "SHARDS_FORMAT",
    "SHARD_BITS",
    "ShardSet",
    "ShardedIndex",
    "export_shards",
    "route_prefix",
]

SHARDS_FORMAT = "hashmatch-shards/1"
SHARD_BITS = (8, 16)
"""Prefix widths a shard set may use: 256 or 65,536 shards per algorithm."""
_MANIFEST = "shards.json"
_OPEN_LIMIT = 128
"""Shards a :class:`ShardedIndex` keeps mapped at once (each mapped array holds a file
descriptor): the least recently used is let go beyond this."""
_SLICE = 1 << 22
"""Keys read at a time from the snapshot while exporting (bounded memory)."""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def route_prefix(matrix: DigestMatrix, bits: int) -> npt.NDArray[np.int64]:
    """The shard number of each row of a digest matrix: its leading ``bits`` bits."""
    if not len(matrix):
        return np.empty(0, dtype=np.int64)
    return (leading_words(matrix) >> np.uint64(64 - bits)).astype(np.int64)


def _shifted(matrix: DigestMatrix, bits: int) -> DigestMatrix:
    """Digests with the shard's prefix bytes dropped and as many zero bytes appended."""
    drop = bits // 8
    n, width = matrix.shape
    out = np.zeros((n, width), dtype=np.uint8)
    out[:, : width - drop] = matrix[:, drop:]
    return out


def _unshifted(hi: npt.NDArray[np.uint64], rest: npt.NDArray[np.uint8]) -> DigestMatrix:
    """The digest matrix of a table's (hi, rest) arrays."""
    n = len(hi)
    out = np.empty((n, 8 + rest.shape[1]), dtype=np.uint8)
    out[:, :8] = hi.astype(">u8").view(np.uint8).reshape(n, 8)
    out[:, 8:] = rest
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardSet:
    """A shard folder's manifest: what it was cut from, and where each shard is."""

    path: Path
    snapshot_id: str
    built_at: datetime
    bits: int
    lists: tuple[SnapshotList, ...]
    label_sets: int
    shards: dict[Algorithm, dict[int, dict[str, int]]]
    """Per algorithm, per prefix: the table metadata :meth:`SortedKeys.load` needs."""

    @property
    def counts(self) -> dict[Algorithm, int]:
        """Keys per algorithm, over every shard."""
        return {a: sum(m["count"] for m in self.shards.get(a, {}).values()) for a in Algorithm}

    @classmethod
    def open(cls, path: Path) -> ShardSet:
        """Read ``path/shards.json`` (small); no shard is mapped yet."""
        try:
            data = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SnapshotError(
                f"{path}: not a shard folder (no {_MANIFEST}; export one with "
                "'hashmatch shards export')"
            ) from exc
        except ValueError as exc:
            raise SnapshotError(f"{path / _MANIFEST}: not JSON: {exc}") from exc
        if data.get("format") != SHARDS_FORMAT:
            raise SnapshotError(f"{path / _MANIFEST}: format {data.get('format')!r} unknown")
        return cls(
            path=path,
            snapshot_id=str(data["snapshot"]),
            built_at=datetime.fromisoformat(data["built_at"]),
            bits=int(data["bits"]),
            lists=tuple(SnapshotList.from_json(item) for item in data["lists"]),
            label_sets=int(data["label_sets"]),
            shards={
                Algorithm(name): {int(prefix, 16): meta for prefix, meta in table.items()}
                for name, table in data["shards"].items()
            },
        )

    def open_snapshot(self, *, threads: int = 1) -> Snapshot:
        """A :class:`Snapshot` whose index is a :class:`ShardedIndex` over this folder."""
        return Snapshot(
            id=self.snapshot_id,
            built_at=self.built_at,
            lists=self.lists,
            index=ShardedIndex(self, threads=threads),
            path=self.path,
            counts=self.counts,
        )


def export_shards(
    snapshot: Snapshot, out: Path, *, bits: int = 8, progress: Progress = _quiet
) -> ShardSet:
    """Write ``snapshot`` as prefix shards into the new folder ``out``.

    Reads the snapshot a slice at a time, so memory stays bounded whatever its size. The
    manifest is written last: a killed export leaves a folder that :meth:`ShardSet.open`
    refuses.
    """
    if bits not in SHARD_BITS:
        raise InputError(f"prefix bits must be one of {', '.join(map(str, SHARD_BITS))}")
    if out.exists() and any(out.iterdir()):
        raise InputError("the folder exists and is not empty", source=str(out))
    index = snapshot.index
    out.mkdir(parents=True, exist_ok=True)
    shards: dict[str, dict[str, dict[str, int]]] = {}
    for algorithm in Algorithm:
        table = index.tables()[algorithm]
        extra = index.overlay_keys(algorithm)
        if (table is None or table.size == 0) and not len(extra):
            continue
        progress(f"exporting {algorithm.value} shards")
        folder = out / algorithm.value
        folder.mkdir()
        shards[algorithm.value] = {
            f"{prefix:0{bits // 4}x}": meta
            for prefix, meta in _export_table(index, algorithm, table, extra, folder, bits)
        }
    index.save_label_sets(out / "labelsets.arrow")
    manifest = {
        "format": SHARDS_FORMAT,
        "snapshot": snapshot.id,
        "built_at": snapshot.built_at.isoformat(),
        "bits": bits,
        "lists": [item.to_json() for item in snapshot.lists],
        "label_sets": len(index.sets),
        "shards": shards,
    }
    os.sync()
    temporary = out / f".{_MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, out / _MANIFEST)
    os.sync()
    return ShardSet.open(out)


def _export_table(
    index: SortedArrayIndex,
    algorithm: Algorithm,
    table: SortedKeys | None,
    extra: DigestMatrix,
    folder: Path,
    bits: int,
) -> Iterable[tuple[int, dict[str, int]]]:
    """Each non-empty shard of one algorithm, written as a table; yields (prefix, meta)."""
    hi = np.empty(0, dtype=np.uint64) if table is None else table.hi
    shift = np.uint64(64 - bits)
    edges = np.searchsorted(hi >> shift, np.arange(2**bits + 1, dtype=np.uint64), side="left")
    extra_prefix = route_prefix(extra, bits)
    pending = sorted(set(np.flatnonzero(np.diff(edges)).tolist()) | set(extra_prefix.tolist()))
    for prefix in pending:
        start, stop = int(edges[prefix]), int(edges[prefix + 1])
        parts = []
        for at in range(start, stop, _SLICE):
            end = min(stop, at + _SLICE)
            assert table is not None
            parts.append(_unshifted(table.hi[at:end], np.asarray(table.rest[at:end])))
        added = extra[extra_prefix == prefix]
        if len(added):
            parts.append(added)
        matrix = np.concatenate(parts) if parts else np.empty((0, algorithm.width), dtype=np.uint8)
        if len(added):
            # The overlay is folded in: the serving index says what each key is now.
            order = np.lexsort(matrix.T[::-1])
            matrix = matrix[order]
            keep = np.ones(len(matrix), dtype=bool)
            keep[1:] = np.any(matrix[1:] != matrix[:-1], axis=1)
            matrix = matrix[keep]
            ids = index.lookup_batch(algorithm, matrix)
        else:
            assert table is not None
            ids = np.asarray(table.values[start:stop], dtype=np.int64)
            if index.overlay_size:
                ids = index.lookup_batch(algorithm, matrix)
        live = ids != MISS
        if not live.any():
            continue
        shifted = _shifted(matrix[live], bits)
        keys = SortedKeys.from_sorted(
            leading_words(shifted),
            np.ascontiguousarray(shifted[:, 8:]),
            ids[live].astype(np.uint32),
        )
        yield prefix, _save_table(keys, folder, f"{prefix:0{bits // 4}x}")


def _save_table(keys: SortedKeys, folder: Path, prefix: str) -> dict[str, int]:
    """Like :meth:`SortedKeys.save`, without an fsync per file (the export syncs once)."""
    for name in ("padded_hi", "rest", "values", "directory"):
        with open(folder / f"{prefix}.{name}.npy", "wb") as handle:
            np.save(handle, getattr(keys, name), allow_pickle=False)
    return {"count": keys.size, "bits": keys.bits, "window": keys.window}


class ShardedIndex(SortedArrayIndex):
    """A sorted-array index over a shard folder: each shard mapped when first needed.

    Read-only: deltas are applied to the serving snapshot and exported again.
    """

    def __init__(self, shards: ShardSet, *, threads: int = 1) -> None:
        super().__init__({}, open_label_sets(shards.path / "labelsets.arrow"), threads=threads)
        self.shard_set = shards
        self._bits = shards.bits
        self._mapped: OrderedDict[tuple[Algorithm, int], SortedKeys] = OrderedDict()
        self._touched: set[tuple[Algorithm, int]] = set()
        self._guard = threading.Lock()

    @property
    def opened(self) -> list[tuple[Algorithm, int]]:
        """Every shard mapped so far (what this worker touched), mapped still or not."""
        return sorted(self._touched, key=lambda k: (k[0].value, k[1]))

    def _shard(self, algorithm: Algorithm, prefix: int) -> SortedKeys | None:
        meta = self.shard_set.shards.get(algorithm, {}).get(prefix)
        if meta is None:
            return None
        key = (algorithm, prefix)
        with self._guard:
            found = self._mapped.get(key)
            if found is not None:
                self._mapped.move_to_end(key)
                return found
            name = f"{prefix:0{self._bits // 4}x}"
            try:
                found = SortedKeys.load(self.shard_set.path / algorithm.value, name, meta)
            except (OSError, ValueError) as exc:
                raise SnapshotError(
                    f"shard {algorithm.value}/{name} of {self.shard_set.path}: {exc}"
                ) from exc
            self._mapped[key] = found
            self._touched.add(key)
            while len(self._mapped) > _OPEN_LIMIT:
                self._mapped.popitem(last=False)
            return found

    def lookup(self, algorithm: Algorithm, digest: bytes) -> int:
        if len(digest) != algorithm.width:
            raise ValueError(f"{algorithm.value} digest must be {algorithm.width} bytes")
        shard = self._shard(algorithm, int.from_bytes(digest[:2], "big") >> (16 - self._bits))
        if shard is None:
            return MISS
        drop = self._bits // 8
        return shard.find(digest[drop:] + bytes(drop))

    def lookup_batch(self, algorithm: Algorithm, digests: DigestMatrix) -> IdArray:
        matrix = as_digest_matrix(digests, algorithm)
        ids = np.full(len(matrix), MISS, dtype=np.int64)
        if not len(matrix):
            return ids
        prefixes = route_prefix(matrix, self._bits)
        order = np.argsort(prefixes, kind="stable")
        ordered = prefixes[order]
        bounds = np.flatnonzero(np.diff(ordered)) + 1
        for rows in np.split(order, bounds):
            shard = self._shard(algorithm, int(prefixes[rows[0]]))
            if shard is not None:
                ids[rows] = shard.find_batch(_shifted(matrix[rows], self._bits), self.threads)
        return ids

    def count(self, algorithm: Algorithm) -> int:
        return self.shard_set.counts[algorithm]


def shard_summary(shards: ShardSet) -> dict[str, Any]:
    """What ``hashmatch shards show`` prints: counts, and the largest and smallest shard."""
    per = {
        a.value: [m["count"] for m in table.values()] for a, table in shards.shards.items() if table
    }
    return {
        "path": str(shards.path),
        "snapshot": shards.snapshot_id,
        "bits": shards.bits,
        "label_sets": shards.label_sets,
        "algorithms": {
            name: {"keys": sum(c), "shards": len(c), "largest": max(c), "smallest": min(c)}
            for name, c in per.items()
        },
    }
