"""Snapshots: the immutable, memory-mapped index over every active list version.

Folder layout under the data directory's ``snapshots/``::

    snapshots/
      current.json                 {"id": "..."}: the snapshot that serves
      <id>/manifest.json           lists, per-algorithm table metadata, build time
      <id>/md5.padded_hi.npy ...   the arrays of :class:`~hashmatch.index.sorted_array.SortedKeys`
      <id>/labelsets.arrow         the label sets (Arrow IPC, memory-mapped)
      .building-<id>-<pid>/        a build in progress (never read)

A build writes everything into its own ``.building-*`` folder, writes the manifest last,
then renames the folder to ``<id>``; publishing replaces ``current.json`` with
``os.replace``. Each step is atomic, so a reader sees the old snapshot or the new one,
never half of one, and a build that is killed leaves the previous snapshot serving (its
leftover folder is removed by the next :meth:`SnapshotStore.cleanup`).

A snapshot's id is a content hash of what it was built from (the list versions and the
format), so building the same inputs twice gives the same id.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashmatch.digests import Algorithm, digest_matrix
from hashmatch.errors import NotFound, SnapshotError
from hashmatch.index._base import DigestMatrix, LabelSetTable, Member
from hashmatch.index.sorted_array import SortedArrayIndex
from hashmatch.model import Purpose

__all__ = [
    "SNAPSHOT_FORMAT",
    "Snapshot",
    "SnapshotList",
    "SnapshotSource",
    "SnapshotStore",
]

SNAPSHOT_FORMAT = "hashmatch-snapshot/1"
_POINTER = "current.json"
_BUILDING = ".building-"
_READ_BATCH = 1 << 20

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotList:
    """One list version inside a snapshot; ``slot`` is how label sets refer to it."""

    slot: int
    name: str
    version: int
    version_id: str
    purpose: Purpose
    source_name: str
    source_sha256: str
    loaded_at: datetime
    entries: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the manifest."""
        data = asdict(self)
        data["purpose"] = self.purpose.value
        data["loaded_at"] = self.loaded_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SnapshotList:
        """Back from :meth:`to_json`."""
        return cls(
            **{
                **data,
                "purpose": Purpose(data["purpose"]),
                "loaded_at": datetime.fromisoformat(data["loaded_at"]),
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotSource:
    """A list version to build from: its description and its entries Parquet file."""

    list: SnapshotList
    entries_path: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """An opened snapshot: its lists and its memory-mapped index."""

    id: str
    built_at: datetime
    lists: tuple[SnapshotList, ...]
    index: SortedArrayIndex
    path: Path
    counts: dict[Algorithm, int]

    @classmethod
    def open(cls, path: Path, *, threads: int = 1) -> Snapshot:
        """Open the snapshot in ``path``: read a small manifest and map the arrays."""
        try:
            manifest = json.loads((path / "manifest.json").read_text("utf-8"))
            if manifest.get("format") != SNAPSHOT_FORMAT:
                raise SnapshotError(f"unsupported snapshot format {manifest.get('format')!r}")
            index = SortedArrayIndex.open(path, manifest["index"], threads=threads)
        except FileNotFoundError as exc:
            raise SnapshotError(f"snapshot {path.name} is incomplete: {exc.filename}") from exc
        except (ValueError, KeyError) as exc:
            raise SnapshotError(f"snapshot {path.name} is corrupt: {exc}") from exc
        return cls(
            id=manifest["id"],
            built_at=datetime.fromisoformat(manifest["built_at"]),
            lists=tuple(SnapshotList.from_json(item) for item in manifest["lists"]),
            index=index,
            path=path,
            counts={Algorithm(k): int(v) for k, v in manifest["counts"].items()},
        )

    def list_at(self, slot: int) -> SnapshotList:
        """The list version in ``slot``."""
        return self.lists[slot]


def snapshot_id(lists: Sequence[SnapshotList]) -> str:
    """The content id of a snapshot built from ``lists``."""
    basis = {
        "format": SNAPSHOT_FORMAT,
        "lists": sorted((item.name, item.version_id, item.purpose.value) for item in lists),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:32]


class SnapshotStore:
    """The ``snapshots/`` folder: builds, the atomic publish, and clean-up."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- reading ----------------------------------------------------------------------

    def current_id(self) -> str | None:
        """The id of the snapshot that serves, or None before the first publish."""
        try:
            data = json.loads((self.root / _POINTER).read_text("utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise SnapshotError(f"{self.root / _POINTER} is corrupt: {exc}") from exc
        return str(data["id"])

    def open(self, snapshot_id: str, *, threads: int = 1) -> Snapshot:
        """Open one snapshot by id."""
        path = self.root / snapshot_id
        if not (path / "manifest.json").is_file():
            raise NotFound(f"no snapshot {snapshot_id!r} in {self.root}")
        return Snapshot.open(path, threads=threads)

    def open_current(self, *, threads: int = 1) -> Snapshot | None:
        """The serving snapshot, or None before the first publish."""
        current = self.current_id()
        return None if current is None else self.open(current, threads=threads)

    def ids(self) -> list[str]:
        """Ids of complete snapshots on disk."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
        )

    # -- building and publishing ------------------------------------------------------

    def build(self, sources: Sequence[SnapshotSource], *, progress: Progress | None = None) -> str:
        """Build a snapshot of ``sources`` beside the serving one; returns its id.

        Nothing is published: call :meth:`publish`. Building inputs that already have a
        complete snapshot returns the existing id at once.
        """
        lists = [source.list for source in sources]
        if [item.slot for item in lists] != list(range(len(lists))):
            raise SnapshotError("snapshot sources must have slots 0, 1, 2 ... in order")
        new_id = snapshot_id(lists)
        final = self.root / new_id
        if (final / "manifest.json").is_file():
            return new_id
        self.root.mkdir(parents=True, exist_ok=True)
        work = self.root / f"{_BUILDING}{new_id}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            sets = LabelSetTable()
            parts: dict[Algorithm, list[tuple[DigestMatrix, Any]]] = {a: [] for a in Algorithm}
            for source in sources:
                if progress:
                    progress(f"reading {source.list.name} v{source.list.version}")
                _read_source(source, sets, parts)
            if progress:
                progress("sorting and merging")
            index = SortedArrayIndex.build(parts, sets)
            del parts
            meta = index.save(work)
            manifest = {
                "format": SNAPSHOT_FORMAT,
                "id": new_id,
                "built_at": datetime.now(UTC).isoformat(),
                "lists": [item.to_json() for item in lists],
                "counts": {a.value: index.count(a) for a in Algorithm},
                "index": meta,
            }
            _write_durably(work / "manifest.json", json.dumps(manifest, indent=2).encode())
            _fsync_dir(work)
            try:
                work.rename(final)
            except OSError:
                if not (final / "manifest.json").is_file():
                    raise
                shutil.rmtree(work, ignore_errors=True)  # a concurrent build won the race
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return new_id

    def publish(self, snapshot_id: str) -> None:
        """Make ``snapshot_id`` the one that serves, atomically."""
        if not (self.root / snapshot_id / "manifest.json").is_file():
            raise NotFound(f"no snapshot {snapshot_id!r} to publish")
        pointer = self.root / _POINTER
        temporary = self.root / f"{_POINTER}.{os.getpid()}.tmp"
        _write_durably(temporary, json.dumps({"id": snapshot_id}).encode())
        os.replace(temporary, pointer)
        _fsync_dir(self.root)

    def cleanup(self, *, keep: int = 2) -> list[str]:
        """Remove leftovers of dead builds and all but the ``keep`` newest other snapshots.

        The serving snapshot is always kept. Returns the names removed.
        """
        if not self.root.is_dir():
            return []
        removed = []
        for path in self.root.iterdir():
            if path.name.startswith(_BUILDING) and not _alive(path.name.rsplit("-", 1)[-1]):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        current = self.current_id()
        others = [p for p in (self.root / i for i in self.ids()) if p.name != current]
        others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for path in others[max(0, keep - 1) :]:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed


def _read_source(
    source: SnapshotSource,
    sets: LabelSetTable,
    parts: dict[Algorithm, list[tuple[DigestMatrix, Any]]],
) -> None:
    """Append one list version's digests and singleton label-set ids to ``parts``."""
    try:
        entries = pq.ParquetFile(source.entries_path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"cannot read entries of {source.list.name}: {exc}") from exc
    slot = source.list.slot
    names = set(entries.schema_arrow.names)
    for algorithm in Algorithm:
        if algorithm.value not in names:
            continue
        for batch in entries.iter_batches(
            batch_size=_READ_BATCH, columns=[algorithm.value, "labels"]
        ):
            digests = batch.column(0)
            if digests.null_count == len(digests):
                continue
            labels = batch.column(1)
            if digests.null_count:
                keep = digests.is_valid()
                digests = digests.filter(keep)
                labels = labels.filter(keep)
            encoded = pc.dictionary_encode(pc.fill_null(labels, ""))
            mapping = np.array(
                [
                    sets.intern(frozenset({Member(slot=slot, labels=text or None)}))
                    for text in encoded.dictionary.to_pylist()
                ],
                dtype=np.uint32,
            )
            ids = mapping[encoded.indices.to_numpy(zero_copy_only=False)]
            parts[algorithm].append((digest_matrix(digests), ids))


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
