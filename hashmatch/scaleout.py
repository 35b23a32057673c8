"""Batch matching on a Dask cluster: manifests of billions of rows against prefix shards.

The local ``check`` reads a manifest, parses each batch of rows and hands it to a
:class:`~hashmatch.match.Matcher` over the serving snapshot. A batch job does the same
three steps, spread over a dask.distributed cluster:

1. **Read.** Each Parquet row group of each manifest is one piece (:func:`plan`). A task
   reads it through the ``parquet`` adapter (the reader ``check`` uses), parses it with
   the same :func:`~hashmatch.ingest.parse.parse_batch`, and tags every row with its
   *route*: the leading bits of its first usable digest (MD5, else SHA-1, else SHA-256).
2. **Partition.** Dask shuffles the rows by route, so each output partition holds whole
   prefixes (Dask's own shuffle: peer-to-peer, spilling to disk, not ours).
3. **Match.** Each partition is parsed again and matched by a :class:`Matcher` over a
   :class:`~hashmatch.index.shards.ShardedIndex`: the worker maps only the shards of the
   prefixes its rows carry (a row's other digests may touch another shard, mapped on
   demand). The verdicts, in :data:`~hashmatch.match.VERDICT_SCHEMA`, go to one Parquet
   file per partition under ``out/``; the task returns the counts.

The verdict rows are those ``check`` gives for the same manifest and snapshot (a test
holds them equal), keyed by ``input`` and ``line``; they are written in route order, not
input order. Nothing but the verdict rows leaves a worker.

The cluster is the caller's: a :class:`distributed.Client` on a real scheduler, or a
:class:`distributed.LocalCluster` (``hashmatch batch --workers N``). Every worker must
read the manifests, the shard folder and ``out`` at the same paths.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm, digest_matrix
from hashmatch.errors import ConfigurationError, HashmatchError, InputError
from hashmatch.index.shards import ShardedIndex, ShardSet, route_prefix
from hashmatch.ingest.parse import ParsedBatch, parse_batch
from hashmatch.match.matcher import VERDICT_SCHEMA, VERDICTS, Matcher, with_notes
from hashmatch.records import RECORD_SCHEMA
from hashmatch.registry import default_registry

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

__all__ = [
    "BatchOutcome",
    "Piece",
    "PieceReader",
    "connect",
    "match_parquet",
    "plan",
    "read_verdicts",
    "route_rows",
]

_FORMAT = "parquet"
_INPUT = "_input"
_NOTES = "_notes"
_ROUTE = "_route"
_PIECE_ROWS = 1 << 20
"""Rows per piece when a row group is larger (a piece is one task's read)."""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """Rows ``first``..``first + rows - 1`` (0-based) of row group ``group`` of one file."""

    input_no: int
    path: str
    group: int
    first: int
    """Row number of the piece's first row in its file (lines are this + 1 onwards)."""
    offset: int
    """Row of the piece's first row within its row group."""
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOutcome:
    """What a batch job did: rows, verdict counts, and where the verdict files are."""

    out: Path
    snapshot_id: str
    rows: int
    counts: dict[str, int]
    pieces: int
    partitions: int
    shards_opened: int
    """Shard maps summed over the match tasks (each task maps only what it needs)."""
    seconds: float
    inputs: tuple[tuple[str, int], ...] = field(default=())
    """(file name, rows) of each manifest."""


def plan(manifests: Sequence[Path]) -> list[Piece]:
    """The pieces of every manifest, from the Parquet footers alone (nothing else is read)."""
    pieces: list[Piece] = []
    for number, path in enumerate(manifests):
        try:
            meta = pq.ParquetFile(path).metadata
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"not a Parquet file: {exc}", source=path.name) from exc
        first = 0
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            for offset in range(0, rows, _PIECE_ROWS):
                count = min(_PIECE_ROWS, rows - offset)
                pieces.append(
                    Piece(
                        input_no=number,
                        path=str(path),
                        group=group,
                        first=first + offset,
                        offset=offset,
                        rows=count,
                    )
                )
            first += rows
    return pieces


def route_rows(parsed: ParsedBatch, bits: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Each row's route: the prefix of its first usable digest (MD5, SHA-1, SHA-256); 0 if none."""
    n = parsed.num_rows
    route = np.full(n, -1, dtype=np.int64)
    for algorithm in Algorithm:
        usable = parsed.usable(algorithm) & (route < 0)
        if not usable.any():
            continue
        values = parsed.digests[algorithm].filter(pa.array(usable))
        route[np.flatnonzero(usable)] = route_prefix(digest_matrix(values), bits)
    route[route < 0] = 0
    return route


@runtime_checkable
class PieceReader(Protocol):
    """An adapter that reads one piece of a file (the ``parquet`` adapter does)."""

    def read_piece(
        self, path: Path, group: int, offset: int, rows: int, first: int, context: ReadContext
    ) -> pa.RecordBatch: ...


def _reader() -> PieceReader:
    adapter = default_registry().get(_FORMAT)()
    if not isinstance(adapter, PieceReader):
        raise ConfigurationError(f"the {_FORMAT!r} adapter cannot read a file in pieces")
    return adapter


def _read_records(piece: Piece) -> tuple[pa.RecordBatch, pa.Array]:
    """The piece's rows as ``check`` reads them, numbered as in the file, and each row's
    notes: the adapter's warnings about it (a repaired size...), joined as ``check`` joins
    them."""
    path = Path(piece.path)
    context = ReadContext(source=path.name, batch_size=piece.rows, keep_warnings=2**62, path=path)
    records = _reader().read_piece(
        path, piece.group, piece.offset, piece.rows, piece.first, context
    )
    notes: list[str | None] = [None] * records.num_rows
    if context.warnings:
        at = {line: row for row, line in enumerate(records.column("line").to_pylist())}
        by_row: dict[int, list[str]] = {}
        for warning in context.warnings:
            row = at.get(warning.line) if warning.line is not None else None
            if row is None:
                raise InputError(
                    f"a warning about no row the adapter read: {warning.reason}",
                    source=path.name,
                    line=warning.line,
                )
            by_row.setdefault(row, []).append(warning.reason)
        for row, reasons in by_row.items():
            notes[row] = "; ".join(reasons)
    return records, pa.array(notes, pa.string())


def _read_piece(piece: Piece, *, bits: int) -> pd.DataFrame:
    import pandas as pd

    records, notes = _read_records(piece)
    route = route_rows(parse_batch(records), bits)
    table = pa.Table.from_batches([records])
    table = table.append_column(
        _INPUT, pa.array(np.full(records.num_rows, piece.input_no, dtype=np.int32))
    )
    table = table.append_column(_NOTES, notes).append_column(_ROUTE, pa.array(route))
    return table.to_pandas(types_mapper=pd.ArrowDtype)


_MATCHERS: dict[tuple[str, str, str | None], Matcher] = {}
_MATCHERS_LOCK = threading.Lock()


def _matcher(shards: str, map_to: str | None) -> Matcher:
    """One matcher per worker process and shard set: shards stay mapped across tasks.

    Keyed by the folder and the snapshot its manifest names (read again by every task, a
    few hundred bytes), so that a folder exported anew is never answered from the old one
    by a long-lived worker.
    """
    shard_set = ShardSet.open(Path(shards))
    key = (shards, shard_set.snapshot_id, map_to)
    with _MATCHERS_LOCK:
        found = _MATCHERS.get(key)
        if found is None:
            stale = [k for k in _MATCHERS if k[0] == shards]
            for old in stale:
                del _MATCHERS[old]
            found = _MATCHERS[key] = Matcher(shard_set.open_snapshot(), map_to=map_to)
        return found


def _match_partition(
    frame: pd.DataFrame,
    *,
    shards: str,
    out: str,
    map_to: str | None,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    import pandas as pd

    number = 0 if partition_info is None else int(partition_info["number"])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    inputs = table.column(_INPUT).to_numpy()
    records = table.select([*RECORD_SCHEMA.names, _NOTES])
    matcher = _matcher(shards, map_to)
    opened_before = _opened(matcher)
    batches = []
    for input_no in np.unique(inputs).tolist():
        rows = records.filter(pa.array(inputs == input_no)).combine_chunks()
        for batch in rows.to_batches():
            parsed = parse_batch(batch.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA))
            verdicts = matcher.match(parsed, input_no=int(input_no))
            batches.append(with_notes(verdicts, batch.column(_NOTES)))
    verdicts = pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)
    if verdicts.num_rows:
        target = Path(out) / f"part-{number:05d}.parquet"
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        pq.write_table(verdicts, temporary)
        os.replace(temporary, target)
    counts = _count(verdicts)
    opened = _opened(matcher) - opened_before
    return pd.DataFrame(
        [{"partition": number, "rows": verdicts.num_rows, "opened": opened, **counts}]
    ).astype({"partition": "int64", "rows": "int64", "opened": "int64"} | _COUNT_TYPES)


_COUNT_TYPES = {v.value: "int64" for v in VERDICTS}


def _opened(matcher: Matcher) -> int:
    index = matcher.snapshot.index
    return len(index.opened) if isinstance(index, ShardedIndex) else 0


def _count(verdicts: pa.Table) -> dict[str, int]:
    counts = dict.fromkeys((v.value for v in VERDICTS), 0)
    if verdicts.num_rows:
        for item in verdicts.column("verdict").value_counts().to_pylist():
            counts[item["values"]] = int(item["counts"])
    return counts


@contextlib.contextmanager
def connect(scheduler: str | None, *, workers: int = 2) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a new local cluster of ``workers``
    processes (one thread each, no dashboard), closed on leaving."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            yield stack.enter_context(Client(cluster))
        else:
            yield stack.enter_context(Client(scheduler))


def match_parquet(
    manifests: Sequence[Path],
    shards: Path,
    out: Path,
    *,
    client: Client,
    partitions: int | None = None,
    map_to: str | None = None,
    shuffle_method: str | None = None,
    progress: Progress = _quiet,
) -> BatchOutcome:
    """Match every row of ``manifests`` (Parquet) against ``shards`` on ``client``'s cluster.

    Writes the verdicts as ``out/part-*.parquet`` (``out`` must not hold any yet) and
    returns the counts. ``partitions`` is how many match tasks the rows are shuffled into
    (default: as many as read pieces).
    """
    import dask.dataframe as dd
    import pandas as pd

    shard_set = ShardSet.open(shards)
    if not manifests:
        raise InputError("no manifest given")
    for path in manifests:
        if not path.is_file():
            raise InputError("no such file", source=str(path))
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("part-*.parquet")):
        raise InputError("the folder already holds verdict files", source=str(out))
    pieces = plan(manifests)
    rows = sum(p.rows for p in pieces)
    started = time.perf_counter()
    per_input = [0] * len(manifests)
    for piece in pieces:
        per_input[piece.input_no] += piece.rows
    inputs = tuple((p.name, per_input[i]) for i, p in enumerate(manifests))
    if not pieces:
        return BatchOutcome(
            out=out,
            snapshot_id=shard_set.snapshot_id,
            rows=0,
            counts=dict.fromkeys((v.value for v in VERDICTS), 0),
            pieces=0,
            partitions=0,
            shards_opened=0,
            seconds=time.perf_counter() - started,
            inputs=inputs,
        )
    wanted = partitions or len(pieces)
    meta = (
        pa.Table.from_batches([], schema=RECORD_SCHEMA)
        .append_column(_INPUT, pa.array([], pa.int32()))
        .append_column(_NOTES, pa.array([], pa.string()))
        .append_column(_ROUTE, pa.array([], pa.int64()))
        .to_pandas(types_mapper=pd.ArrowDtype)
    )
    progress(f"matching {rows:,} rows in {len(pieces)} pieces, {wanted} partitions")
    frame = dd.from_map(_read_piece, pieces, bits=shard_set.bits, meta=meta)
    shuffled = frame.shuffle(on=_ROUTE, npartitions=wanted, shuffle_method=shuffle_method)
    count_meta = pd.DataFrame(
        {"partition": [], "rows": [], "opened": [], **{v.value: [] for v in VERDICTS}}
    ).astype({"partition": "int64", "rows": "int64", "opened": "int64"} | _COUNT_TYPES)
    tally = shuffled.map_partitions(
        _match_partition,
        shards=str(shard_set.path),
        out=str(out),
        map_to=map_to,
        meta=count_meta,
    )
    totals = client.compute(tally).result()
    counts = {v.value: int(totals[v.value].sum()) for v in VERDICTS}
    matched = int(totals["rows"].sum())
    if matched != rows:
        raise HashmatchError(f"{rows:,} rows read but {matched:,} matched: the job lost rows")
    return BatchOutcome(
        out=out,
        snapshot_id=shard_set.snapshot_id,
        rows=rows,
        counts=counts,
        pieces=len(pieces),
        partitions=wanted,
        shards_opened=int(totals["opened"].sum()),
        seconds=time.perf_counter() - started,
        inputs=inputs,
    )


def read_verdicts(out: Path) -> pa.Table:
    """Every verdict row a batch job wrote to ``out``, in input order."""
    parts = sorted(out.glob("part-*.parquet"))
    if not parts:
        return pa.Table.from_batches([], schema=VERDICT_SCHEMA)
    table = pa.concat_tables(pq.read_table(p, schema=VERDICT_SCHEMA) for p in parts)
    return table.sort_by([("input", "ascending"), ("line", "ascending")])
