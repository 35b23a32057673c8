"""Dask scale-out benchmark: a batch job on 1 and 2 local workers, and the cost it projects.

Seeded and synthetic. A list of ``--entries`` random MD5 keys is built into a snapshot
through the real path (entries Parquet -> SnapshotStore.build) and exported as prefix
shards; a Parquet manifest of ``--rows`` rows (hex MD5 text, 1 % on the list, row groups
of 1 M) is then matched:

* **local baseline**, in this process: the ``parquet`` adapter, ``parse_batch`` and a
  ``Matcher`` over the whole snapshot, batch after batch (what ``check`` does, without
  storing the verdicts): the same code with no cluster;
* **Dask**, ``hashmatch.scaleout.match_parquet`` on a ``LocalCluster`` of 1 and then 2
  worker processes (one thread each): read, shuffle by prefix, match against shards,
  write the verdicts as Parquet.

Every run's verdict counts must agree with the baseline's. Then the projected cost of a
billion lookups at the 2-worker rate: ``1e9 / rate / 3600 * cores * --usd-per-core-hour``
(an assumed price: pass your own). Results print as one JSON document.

    python benchmarks/dask_scaling.py                      # 2 M entries, 8 M rows
    python benchmarks/dask_scaling.py --entries 10000000 --rows 20000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _machine import machine
from lookup import write_entries

from hashmatch.adapter import ReadContext
from hashmatch.index import ChainLink, Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.index.shards import export_shards
from hashmatch.ingest.pipeline import read_records
from hashmatch.match.matcher import VERDICTS, Matcher
from hashmatch.model import Purpose
from hashmatch.registry import default_registry
from hashmatch.scaleout import match_parquet

WIDTH = 16
DEFAULT_PRICE = 0.04
"""Assumed USD per core-hour of a general-purpose cloud VM; not any vendor's quote."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(work: Path, keys: np.ndarray[Any, Any], bits: int) -> tuple[Snapshot, Path, float]:
    entries = work / "entries.parquet"
    write_entries(entries, keys)
    store = SnapshotStore(work / "snapshots")
    source = SnapshotSource(
        list=SnapshotList(
            slot=0,
            name="bench",
            version=1,
            version_id="bench-v1",
            purpose=Purpose.CONCERN,
            source_name="synthetic",
            source_sha256="0" * 64,
            loaded_at=datetime.now(UTC),
            entries=len(keys),
        ),
        chain=(ChainLink(path=entries),),
    )
    snapshot = Snapshot.open(store.root / store.build([source]))
    started = time.perf_counter()
    shards = export_shards(snapshot, work / "shards", bits=bits).path
    return snapshot, shards, time.perf_counter() - started


def write_manifest(
    path: Path, rng: np.random.Generator, keys: np.ndarray[Any, Any], rows: int, hit_rate: float
) -> int:
    """A manifest of hex MD5 text; returns how many rows are on the list."""
    hits_total = 0
    step = 1_000_000
    with pq.ParquetWriter(path, pa.schema([("md5", pa.string())])) as writer:
        for start in range(0, rows, step):
            n = min(step, rows - start)
            batch = rng.integers(0, 256, size=(n, WIDTH), dtype=np.uint8)
            hits = int(n * hit_rate)
            batch[rng.choice(n, hits, replace=False)] = keys[rng.choice(len(keys), hits)]
            hits_total += hits
            text = np.char.decode(
                np.frombuffer(batch.tobytes().hex().encode(), dtype=f"S{2 * WIDTH}"), "ascii"
            )
            writer.write_table(pa.table({"md5": pa.array(text, pa.string())}))
    return hits_total


def local_baseline(snapshot: Snapshot, manifest: Path) -> tuple[float, dict[str, int]]:
    """The check path without a cluster: adapter -> parse -> Matcher, batch by batch."""
    adapter = default_registry().plugin("parquet")
    matcher = Matcher(snapshot)
    counts = dict.fromkeys((v.value for v in VERDICTS), 0)
    context = ReadContext(source=manifest.name, batch_size=1 << 20, path=manifest)
    started = time.perf_counter()
    with open(manifest, "rb") as stream:
        for parsed in read_records(adapter(), stream, context):  # type: ignore[operator]
            verdicts = matcher.match(parsed)
            for item in verdicts.column("verdict").value_counts().to_pylist():
                counts[item["values"]] += int(item["counts"])
    return time.perf_counter() - started, counts


def on_cluster(
    workers: int, manifest: Path, shards: Path, out: Path, partitions: int
) -> tuple[float, dict[str, int]]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: None)  # the workers are up before the clock starts
        started = time.perf_counter()
        outcome = match_parquet([manifest], shards, out, client=client, partitions=partitions)
        seconds = time.perf_counter() - started
    return seconds, outcome.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--hit-rate", type=float, default=0.01)
    parser.add_argument("--bits", type=int, default=8, choices=(8, 16))
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--usd-per-core-hour", type=float, default=DEFAULT_PRICE)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    work = Path(tempfile.mkdtemp(prefix="hashmatch-dask-"))
    try:
        keys = rng.integers(0, 256, size=(args.entries, WIDTH), dtype=np.uint8)
        log(f"building a snapshot of {args.entries:,} keys and its shards")
        snapshot, shards, export_seconds = build(work, keys, args.bits)
        manifest = work / "manifest.parquet"
        log(f"writing a manifest of {args.rows:,} rows")
        planted = write_manifest(manifest, rng, keys, args.rows, args.hit_rate)
        log("local baseline")
        base_seconds, base_counts = local_baseline(snapshot, manifest)
        partitions = args.partitions or max(2, -(-args.rows // 1_000_000))
        results: dict[str, Any] = {}
        for workers in (1, 2):
            log(f"Dask, {workers} worker(s)")
            seconds, counts = on_cluster(
                workers, manifest, shards, work / f"out-{workers}", partitions
            )
            if counts != base_counts:
                raise SystemExit(f"{workers} workers: counts {counts} != local {base_counts}")
            results[str(workers)] = {
                "seconds": round(seconds, 3),
                "rows_per_second": round(args.rows / seconds),
            }
        two = args.rows / results["2"]["seconds"]
        cores = 2
        cost = 1e9 / two / 3600 * cores * args.usd_per_core_hour
        report = {
            "benchmark": "dask",
            "machine": machine(),
            "params": {
                "rows": args.rows,
                "entries": args.entries,
                "prefix_bits": args.bits,
                "partitions": partitions,
                "hit_rate": args.hit_rate,
                "seed": args.seed,
                "planted_hits": planted,
            },
            "shard_export_seconds": round(export_seconds, 3),
            "local_baseline": {
                "seconds": round(base_seconds, 3),
                "rows_per_second": round(args.rows / base_seconds),
                "counts": base_counts,
            },
            "workers": results,
            "speedup_2_over_1": round(results["1"]["seconds"] / results["2"]["seconds"], 3),
            "dask_2_over_local": round(base_seconds / results["2"]["seconds"], 3),
            "cost": {
                "usd_per_core_hour": args.usd_per_core_hour,
                "usd_per_billion_lookups": round(cost, 4),
                "core_hours_per_billion": round(1e9 / two / 3600 * cores, 3),
                "assumption": (
                    f"{cores} cores busy for the whole job at the 2-worker rate measured here, "
                    f"at an assumed USD {args.usd_per_core_hour} per core-hour (pass "
                    "--usd-per-core-hour); storage and transfer not counted"
                ),
            },
            "cpu_count": os.cpu_count(),
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
