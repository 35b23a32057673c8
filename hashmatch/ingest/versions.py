"""List versions as chains of entries files, and the difference between two versions.

A version loaded in ``replace`` mode is one entries file. A delta (``add`` or
``remove``) is its own small entries file on top of the version it changes, and a
``rollback`` is the chain of the version it restores. :func:`chain_of` walks the catalog
to give a version's chain, oldest link first; the snapshot build resolves chains
(:mod:`hashmatch.index.snapshot`), and :func:`diff_versions` compares two resolved
versions digest by digest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hashmatch.digests import Algorithm
from hashmatch.errors import IngestError
from hashmatch.index import ChainLink, LabelSetTable, SnapshotList, SnapshotSource
from hashmatch.index.snapshot import resolve_chain
from hashmatch.model import ListVersionInfo, UpdateMode

__all__ = [
    "Change",
    "ListDiff",
    "chain_of",
    "content_loaded_at",
    "diff_versions",
    "entries_of",
    "version_entries",
    "write_changes",
]

VersionLookup = Callable[[str], ListVersionInfo]
"""Finds a version by id (``Catalog.get_version``)."""

_MAX_CHAIN = 100_000


def _lineage(version: ListVersionInfo, lookup: VersionLookup) -> list[ListVersionInfo]:
    """The versions whose files make up ``version``, oldest first (rollbacks followed)."""
    out: list[ListVersionInfo] = []
    current: ListVersionInfo | None = version
    while current is not None:
        if len(out) > _MAX_CHAIN:
            raise IngestError(f"version chain of {version.list_name} is too long or circular")
        if current.mode is UpdateMode.ROLLBACK:
            if current.base_version_id is None:
                raise IngestError(f"rollback version {current.number} names no version")
            current = lookup(current.base_version_id)
            continue
        out.append(current)
        if current.mode is UpdateMode.REPLACE or current.base_version_id is None:
            break
        current = lookup(current.base_version_id)
    out.reverse()
    return out


def chain_of(version: ListVersionInfo, lookup: VersionLookup, home: Path) -> tuple[ChainLink, ...]:
    """The entries files that make up ``version``, oldest first, with their modes."""
    return tuple(
        ChainLink(path=home / v.entry_file, mode=v.mode) for v in _lineage(version, lookup)
    )


def entries_of(version: ListVersionInfo, lookup: VersionLookup) -> int:
    """Entries the version holds, counted from its files.

    A full load counts its kept rows; an ``add`` adds the delta's rows and a ``remove``
    subtracts them (never below zero). Rows, not distinct digests: exact for full loads,
    an account of the files for deltas.
    """
    total = 0
    for v in _lineage(version, lookup):
        if v.mode is UpdateMode.REMOVE:
            total = max(0, total - v.counts.entries)
        elif v.mode is UpdateMode.ADD:
            total += v.counts.entries
        else:
            total = v.counts.entries
    return total


def content_loaded_at(version: ListVersionInfo, lookup: VersionLookup) -> datetime:
    """When the newest file behind the version was loaded (a rollback's target's time)."""
    return _lineage(version, lookup)[-1].loaded_at


class Change:
    """What happened to a digest between two versions."""

    ADDED = "added"
    REMOVED = "removed"
    RELABELLED = "relabelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDiff:
    """Two versions of one list compared digest by digest."""

    list_name: str
    old: int
    new: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per algorithm: how many digests were added, removed and relabelled."""
    changes: pa.Table
    """One row per changed digest: change, algorithm, digest (hex), labels before, after
    (each a JSON list of the distinct label objects the version gives the digest)."""


_CHANGES_SCHEMA = pa.schema(
    [
        pa.field("change", pa.string(), nullable=False),
        pa.field("algorithm", pa.string(), nullable=False),
        pa.field("digest", pa.string(), nullable=False),
        pa.field("labels_before", pa.string()),
        pa.field("labels_after", pa.string()),
    ]
)


def _resolved(
    version: ListVersionInfo, lookup: VersionLookup, home: Path, algorithm: Algorithm
) -> pa.Table:
    """The version's digests of one algorithm with the sorted list of their labels."""
    sets = LabelSetTable()
    item = SnapshotList(
        slot=0,
        name=version.list_name,
        version=version.number,
        version_id=version.version_id,
        purpose=version.purpose,
        source_name=version.source_name,
        source_sha256=version.source_sha256,
        loaded_at=version.loaded_at,
        entries=0,
    )
    source = SnapshotSource(list=item, chain=chain_of(version, lookup, home))
    parts = resolve_chain(source, algorithm, sets)
    # Every set is a singleton {Member(0, labels)}: its id stands for the labels' text.
    texts = pa.array([next(iter(sets[i])).labels or "{}" for i in range(len(sets))], pa.string())
    digests: list[pa.Array] = []
    labels: list[pa.Array] = []
    for matrix, ids in parts:
        raw = pa.py_buffer(matrix.tobytes())
        digests.append(
            pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(algorithm.width), len(matrix), [None, raw]
            )
        )
        labels.append(texts.take(pa.array(ids)))
    if not digests:
        return pa.table({"digest": pa.array([], pa.string()), "labels": pa.array([], pa.string())})
    table = pa.table(
        {
            "digest": pc.cast(pa.concat_arrays(digests), pa.binary()),
            "labels": pa.concat_arrays(labels),
        }
    )
    grouped = table.group_by("digest").aggregate([("labels", "distinct")])
    joined = [
        "[" + ",".join(sorted(values)) + "]"
        for values in grouped.column("labels_distinct").to_pylist()
    ]
    hexes = [bytes(d).hex() for d in grouped.column("digest").to_pylist()]
    return pa.table({"digest": pa.array(hexes), "labels": pa.array(joined, pa.string())})


def diff_versions(
    old: ListVersionInfo, new: ListVersionInfo, lookup: VersionLookup, home: Path
) -> ListDiff:
    """Compare two versions of one list: digests added, removed and relabelled."""
    counts: dict[str, dict[str, int]] = {}
    parts: list[pa.Table] = []
    for algorithm in Algorithm:
        before = _resolved(old, lookup, home, algorithm)
        after = _resolved(new, lookup, home, algorithm)
        joined = before.join(
            after,
            keys="digest",
            join_type="full outer",
            left_suffix="_before",
            right_suffix="_after",
        )
        lb = joined.column("labels_before")
        la = joined.column("labels_after")
        change = pc.if_else(
            pc.is_null(lb),
            Change.ADDED,
            pc.if_else(
                pc.is_null(la),
                Change.REMOVED,
                pc.if_else(pc.equal(lb, la), "", Change.RELABELLED),
            ),
        )
        table = pa.table(
            {
                "change": change,
                "algorithm": pa.array([algorithm.value] * joined.num_rows, pa.string()),
                "digest": joined.column("digest"),
                "labels_before": lb,
                "labels_after": la,
            }
        ).filter(pc.not_equal(change, ""))
        table = table.sort_by([("change", "ascending"), ("digest", "ascending")])
        values = table.column("change").to_pylist()
        counts[algorithm.value] = {
            name: values.count(name) for name in (Change.ADDED, Change.REMOVED, Change.RELABELLED)
        }
        parts.append(table.cast(_CHANGES_SCHEMA))
    changes = pa.concat_tables(parts) if parts else _CHANGES_SCHEMA.empty_table()
    return ListDiff(
        list_name=new.list_name, old=old.number, new=new.number, counts=counts, changes=changes
    )


def version_entries(
    version: ListVersionInfo, lookup: VersionLookup, home: Path, *, batch_size: int = 262_144
) -> Iterator[pa.RecordBatch]:
    """The rows that make up ``version`` (ENTRY_SCHEMA), each file's rows in order.

    Resolved as the snapshot resolves chains, digest by digest: a row keeps each digest
    that no later ``remove`` link names (a row left with no digest is dropped), and a
    ``replace`` link starts afresh.
    """
    chain = chain_of(version, lookup, home)
    start = max(i for i, link in enumerate(chain) if link.mode is UpdateMode.REPLACE or i == 0)
    chain = chain[start:]
    removed_after: list[dict[Algorithm, set[bytes]]] = [{a: set() for a in Algorithm}]
    for link in reversed(chain[1:]):
        later = {a: set(found) for a, found in removed_after[0].items()}
        if link.mode is UpdateMode.REMOVE:
            for algorithm, digests in _digests_in(link.path).items():
                later[algorithm] |= digests
        removed_after.insert(0, later)
    for link, removed in zip(chain, removed_after, strict=True):
        if link.mode is UpdateMode.REMOVE:
            continue
        for batch in pq.ParquetFile(link.path).iter_batches(batch_size=batch_size):
            yield from _without(batch, removed)


def _digests_in(path: Path) -> dict[Algorithm, set[bytes]]:
    table = pq.read_table(path, columns=[a.value for a in Algorithm])
    return {a: {d for d in table.column(a.value).to_pylist() if d is not None} for a in Algorithm}


def _without(
    batch: pa.RecordBatch, removed: dict[Algorithm, set[bytes]]
) -> Iterator[pa.RecordBatch]:
    if not any(removed.values()):
        yield batch
        return
    columns = {name: batch.column(name) for name in batch.schema.names}
    for algorithm, digests in removed.items():
        if digests:
            values = columns[algorithm.value]
            gone = pa.array([d in digests for d in values.to_pylist()], pa.bool_())
            columns[algorithm.value] = pc.if_else(gone, pa.nulls(len(values), values.type), values)
    kept = pa.RecordBatch.from_arrays(list(columns.values()), schema=batch.schema)
    present = pc.or_(
        pc.or_(kept.column("md5").is_valid(), kept.column("sha1").is_valid()),
        kept.column("sha256").is_valid(),
    )
    result = kept.filter(present)
    if result.num_rows:
        yield result


def write_changes(diff: ListDiff, path: Path) -> None:
    """Write every change of ``diff`` to ``path`` as CSV (header row first), atomically."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pacsv.write_csv(diff.changes, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
