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

A list version is a chain of entry files (:class:`ChainLink`): a full load, then the
deltas that add or remove digests, in order. A full build resolves every chain. A delta
needs no full build: :meth:`SnapshotStore.build_delta` writes a *delta snapshot*, a folder
with the delta's entries and a manifest naming the full snapshot it applies to (its
``base``). Opening it maps the base's arrays and applies the deltas to the index's small
in-memory overlay, so a delta of thousands of entries serves within a second whatever the
size of the base. Deltas accumulate until the service chooses a full build again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashmatch.digests import Algorithm, digest_matrix
from hashmatch.errors import NotFound, SnapshotError
from hashmatch.index._base import DigestMatrix, LabelSetTable, Member
from hashmatch.index.sorted_array import SortedArrayIndex, leading_words, link_or_copy
from hashmatch.model import Purpose, UpdateMode

__all__ = [
    "SNAPSHOT_FORMAT",
    "ChainLink",
    "Snapshot",
    "SnapshotList",
    "SnapshotSource",
    "SnapshotStore",
    "rows_in",
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
class ChainLink:
    """One entries file of a list version, and what it does to the entries before it."""

    path: Path
    mode: UpdateMode = UpdateMode.REPLACE
    """``replace`` starts afresh, ``add`` adds its entries, ``remove`` takes its digests out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotSource:
    """A list version to build from: its description and its chain of entries files."""

    list: SnapshotList
    chain: tuple[ChainLink, ...]

    @classmethod
    def full(cls, item: SnapshotList, path: Path) -> SnapshotSource:
        """A list version loaded whole from one entries file."""
        return cls(list=item, chain=(ChainLink(path=path),))


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """An opened snapshot: its lists and its memory-mapped index."""

    id: str
    built_at: datetime
    lists: tuple[SnapshotList, ...]
    index: SortedArrayIndex
    path: Path
    counts: dict[Algorithm, int]
    base_id: str | None = None
    """For a delta snapshot, the full snapshot its deltas apply to; else None."""
    delta_rows: int = 0
    """Rows of delta entries applied on top of the base (0 for a full snapshot)."""

    @classmethod
    def open(cls, path: Path, *, threads: int = 1) -> Snapshot:
        """Open the snapshot in ``path``: read a small manifest and map the arrays.

        A delta snapshot maps its base's arrays and applies its deltas to the overlay.
        """
        try:
            manifest = _read_manifest(path)
            base = manifest.get("base")
            if base is None:
                index = SortedArrayIndex.open(path, manifest["index"], threads=threads)
            else:
                base_path = path.parent / str(base)
                base_manifest = _read_manifest(base_path)
                index = SortedArrayIndex.open(base_path, base_manifest["index"], threads=threads)
                for delta in manifest["deltas"]:
                    _apply_delta(
                        index, int(delta["slot"]), UpdateMode(delta["mode"]), path / delta["file"]
                    )
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
            counts=(
                {Algorithm(k): int(v) for k, v in manifest["counts"].items()}
                if "counts" in manifest
                else {a: index.count(a) for a in Algorithm}  # a delta snapshot: counted here
            ),
            base_id=None if base is None else str(base),
            delta_rows=_delta_rows(manifest),
        )

    def list_at(self, slot: int) -> SnapshotList:
        """The list version in ``slot``."""
        return self.lists[slot]


def _delta_rows(manifest: dict[str, Any]) -> int:
    return sum(int(d["rows"]) for d in manifest.get("deltas", []))


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((path / "manifest.json").read_text("utf-8"))
    if manifest.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"unsupported snapshot format {manifest.get('format')!r}")
    return manifest


def snapshot_id(
    lists: Sequence[SnapshotList], *, base: str | None = None, deltas: Sequence[str] = ()
) -> str:
    """The content id of a snapshot built from ``lists``, or of a delta snapshot: ``lists``
    as ``deltas`` (the SHA-256 of each delta file, in order) make them from ``base``.

    A delta snapshot and a full build of the same versions serve the same digests but are
    different folders, so they get different ids: a full build replaces a delta chain.
    """
    basis: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "lists": sorted((item.name, item.version_id, item.purpose.value) for item in lists),
    }
    if base is not None:
        basis["base"] = base
        basis["deltas"] = list(deltas)
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

    def describe(self, snapshot_id: str) -> tuple[tuple[SnapshotList, ...], int]:
        """A snapshot's lists and its delta rows, from its manifest alone (no mapping)."""
        manifest = _read_manifest(self.root / snapshot_id)
        lists = tuple(SnapshotList.from_json(item) for item in manifest["lists"])
        return lists, _delta_rows(manifest)

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
            self._seal(work, final, manifest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return new_id

    def build_delta(
        self,
        base_id: str,
        lists: Sequence[SnapshotList],
        *,
        slot: int,
        link: ChainLink,
    ) -> str:
        """Build a delta snapshot: ``base_id`` (full or delta) plus one delta to ``slot``.

        ``lists`` are the new snapshot's lists: the base's, with ``slot`` now naming the new
        version. The result applies every delta since the base's full snapshot, so chains
        never grow past one hop. Nothing is published. Returns the new id.
        """
        if link.mode not in (UpdateMode.ADD, UpdateMode.REMOVE):
            raise SnapshotError(f"a delta snapshot applies add or remove, not {link.mode}")
        base_path = self.root / base_id
        base_manifest = _read_manifest(base_path)
        if len(base_manifest["lists"]) != len(lists):
            raise SnapshotError("a delta snapshot keeps the base's lists and slots")
        full_id = str(base_manifest.get("base") or base_id)
        earlier = base_manifest.get("deltas", [])
        new_sha256 = _sha256_file(link.path)
        new_id = snapshot_id(
            lists, base=full_id, deltas=[*(d["sha256"] for d in earlier), new_sha256]
        )
        final = self.root / new_id
        if (final / "manifest.json").is_file():
            return new_id
        work = self.root / f"{_BUILDING}{new_id}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            deltas: list[dict[str, Any]] = []
            for number, delta in enumerate(earlier):
                name = f"delta-{number:04d}.parquet"
                link_or_copy(base_path / delta["file"], work / name)
                deltas.append({**delta, "file": name})
            name = f"delta-{len(deltas):04d}.parquet"
            link_or_copy(link.path, work / name)
            rows = pq.ParquetFile(work / name).metadata.num_rows
            deltas.append(
                {
                    "slot": slot,
                    "mode": link.mode.value,
                    "file": name,
                    "rows": rows,
                    "sha256": new_sha256,
                }
            )
            manifest = {
                "format": SNAPSHOT_FORMAT,
                "id": new_id,
                "built_at": datetime.now(UTC).isoformat(),
                "lists": [item.to_json() for item in lists],
                "base": full_id,
                "deltas": deltas,
            }
            self._seal(work, final, manifest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return new_id

    def _seal(self, work: Path, final: Path, manifest: dict[str, Any]) -> None:
        """Write the manifest last, then rename the finished build folder into place."""
        _write_durably(work / "manifest.json", json.dumps(manifest, indent=2).encode())
        _fsync_dir(work)
        try:
            work.rename(final)
        except OSError:
            if not (final / "manifest.json").is_file():
                raise
            shutil.rmtree(work, ignore_errors=True)  # a concurrent build won the race
        _fsync_dir(self.root)

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
        kept = [self.root / current] if current else []
        kept += others[: max(0, keep - 1)]
        # A delta snapshot is read through its base: keep the bases of what is kept.
        needed = {p.name for p in kept} | {b for p in kept if (b := _base_of(p)) is not None}
        for path in others:
            if path.name not in needed:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


def _read_source(
    source: SnapshotSource,
    sets: LabelSetTable,
    parts: dict[Algorithm, list[tuple[DigestMatrix, Any]]],
) -> None:
    """Append one list version's digests and singleton label-set ids to ``parts``."""
    for algorithm in Algorithm:
        parts[algorithm].extend(resolve_chain(source, algorithm, sets))


def resolve_chain(
    source: SnapshotSource, algorithm: Algorithm, sets: LabelSetTable
) -> list[tuple[DigestMatrix, npt.NDArray[np.uint32]]]:
    """A list version's digests of ``algorithm`` with singleton label-set ids in ``sets``.

    The chain is resolved in order: a ``replace`` link starts afresh, an ``add`` link adds
    its rows, a ``remove`` link drops every earlier row with one of its digests (all of
    the list's labels for the digest go, as in the overlay's ``remove``).
    """
    resolved: list[tuple[DigestMatrix, npt.NDArray[np.uint32]]] = []
    for link in source.chain:
        if link.mode is UpdateMode.REPLACE:
            resolved = []
        if link.mode is UpdateMode.REMOVE:
            gone = [m for m, _ in _link_digests(source, link, algorithm, sets)]
            if gone and resolved:
                removed = np.concatenate(gone)
                kept = []
                for matrix, ids in resolved:
                    keep = ~rows_in(matrix, removed)
                    if keep.any():
                        kept.append((matrix[keep], ids[keep]))
                resolved = kept
        else:
            resolved.extend(_link_digests(source, link, algorithm, sets))
    return resolved


def _link_digests(
    source: SnapshotSource, link: ChainLink, algorithm: Algorithm, sets: LabelSetTable
) -> Iterator[tuple[DigestMatrix, npt.NDArray[np.uint32]]]:
    """One entries file's digests of ``algorithm`` and their singleton label-set ids."""
    try:
        entries = pq.ParquetFile(link.path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"cannot read entries of {source.list.name}: {exc}") from exc
    if algorithm.value not in entries.schema_arrow.names:
        return
    slot = source.list.slot
    for batch in entries.iter_batches(batch_size=_READ_BATCH, columns=[algorithm.value, "labels"]):
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
        yield digest_matrix(digests), ids


def rows_in(matrix: DigestMatrix, among: DigestMatrix) -> npt.NDArray[np.bool_]:
    """Which rows of ``matrix`` are rows of ``among`` (both (n, width) digest matrices).

    Compared by leading 8-byte word first (vectorised), then exactly for the candidates.
    """
    if not len(matrix) or not len(among):
        return np.zeros(len(matrix), dtype=bool)
    # Binary search into the (small) sorted removal set: no sort of the large side.
    words = np.sort(leading_words(among))
    leading = leading_words(matrix)
    at = np.minimum(np.searchsorted(words, leading), len(words) - 1)
    candidates: npt.NDArray[np.bool_] = words[at] == leading
    if candidates.any():
        wanted = {row.tobytes() for row in among}
        rows = np.flatnonzero(candidates)
        exact = np.fromiter(
            (matrix[r].tobytes() in wanted for r in rows.tolist()), dtype=bool, count=len(rows)
        )
        candidates[rows[~exact]] = False
    return candidates


def _apply_delta(index: SortedArrayIndex, slot: int, mode: UpdateMode, path: Path) -> None:
    """Apply one delta entries file to ``index``'s overlay."""
    entries = pq.ParquetFile(path)
    for algorithm in Algorithm:
        if algorithm.value not in entries.schema_arrow.names:
            continue
        for raw in entries.iter_batches(
            batch_size=_READ_BATCH, columns=[algorithm.value, "labels"]
        ):
            batch = raw.filter(raw.column(0).is_valid())
            if not batch.num_rows:
                continue
            matrix = digest_matrix(batch.column(0))
            if mode is UpdateMode.REMOVE:
                index.remove(algorithm, matrix, slot)
            else:
                members = [
                    Member(slot=slot, labels=text or None) for text in batch.column(1).to_pylist()
                ]
                index.add(algorithm, matrix, members)


def _base_of(path: Path) -> str | None:
    try:
        base = _read_manifest(path).get("base")
    except (OSError, ValueError, SnapshotError):
        return None
    return None if base is None else str(base)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
