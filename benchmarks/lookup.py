"""Lookup-core benchmark: build, open, batch and single lookups, memory per entry.

Seeded and synthetic (random MD5-width keys). hashmatch's snapshot is built through the
same code path an ingest uses (entries Parquet -> SnapshotStore.build -> Snapshot.open),
and measured side by side, in the same run and on the same keys and queries, with two
baselines: a Python ``set`` of ``bytes`` and plain ``numpy.searchsorted`` over the sorted
leading words. Results print as one JSON document.

    python benchmarks/lookup.py                      # 10 million entries
    python benchmarks/lookup.py --entries 100000000  # the DESIGN.md figures (about 20 GB RAM)

Figures are medians over ``--repeats`` batches; the host may be noisy, so compare the
ratios to the baselines measured in the same run rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
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

from hashmatch.digests import Algorithm
from hashmatch.index import ChainLink, Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.model import Purpose
from hashmatch.records import ENTRY_SCHEMA

WIDTH = Algorithm.MD5.width


def rss_bytes() -> int:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """The highest resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_entries(path: Path, keys: np.ndarray[Any, Any]) -> None:
    """A list version's entries file holding ``keys`` as MD5 digests, no labels."""
    n = len(keys)
    with pq.ParquetWriter(path, ENTRY_SCHEMA, compression="none") as writer:
        step = 4_000_000
        for start in range(0, n, step):
            chunk = keys[start : start + step]
            m = len(chunk)
            md5 = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(WIDTH), m, [None, pa.py_buffer(np.ascontiguousarray(chunk))]
            )
            batch = pa.RecordBatch.from_arrays(
                [
                    pa.array(np.arange(start + 1, start + m + 1, dtype=np.int64)),
                    md5,
                    pa.nulls(m, pa.binary(20)),
                    pa.nulls(m, pa.binary(32)),
                    pa.nulls(m, pa.int64()),
                    pa.nulls(m, pa.string()),
                    pa.nulls(m, pa.string()),
                ],
                schema=ENTRY_SCHEMA,
            )
            writer.write_batch(batch)


def queries(
    rng: np.random.Generator, keys: np.ndarray[Any, Any], size: int, hit_rate: float
) -> np.ndarray[Any, Any]:
    """A batch of random digests of which ``hit_rate`` are keys."""
    batch = rng.integers(0, 256, size=(size, WIDTH), dtype=np.uint8)
    hits = int(size * hit_rate)
    batch[rng.choice(size, hits, replace=False)] = keys[rng.choice(len(keys), hits, replace=False)]
    return batch


def rate(count: int, seconds: list[float]) -> float:
    """Items per second from the median of repeated timings."""
    return count / statistics.median(seconds)


def bench_hashmatch(
    args: argparse.Namespace, keys: np.ndarray[Any, Any], batches: list[Any], work: Path
) -> dict[str, Any]:
    entries = work / "entries.parquet"
    started = time.perf_counter()
    write_entries(entries, keys)
    write_seconds = time.perf_counter() - started
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
    gc.collect()
    rss_before_build = rss_bytes()
    started = time.perf_counter()
    snapshot_id = store.build([source])
    build_seconds = time.perf_counter() - started
    build_peak = peak_rss_bytes()
    store.publish(snapshot_id)
    gc.collect()
    open_times = []
    for _ in range(5):
        started = time.perf_counter()
        snapshot = Snapshot.open(store.root / snapshot_id, threads=1)
        open_times.append(time.perf_counter() - started)
    table = snapshot.index.tables()[Algorithm.MD5]
    assert table is not None
    index = snapshot.index
    # Touch the arrays once so that page-cache misses of the first batch are not counted.
    index.lookup_batch(Algorithm.MD5, batches[0])
    results: dict[str, Any] = {
        "entries_write_seconds": round(write_seconds, 2),
        "build_seconds": round(build_seconds, 2),
        "build_peak_rss_gib": round(build_peak / 2**30, 2),
        "rss_before_build_gib": round(rss_before_build / 2**30, 2),
        "open_seconds_median": round(statistics.median(open_times), 5),
        "bytes_per_entry": round(table.nbytes / len(keys), 2),
        "directory_bits": table.bits,
        "search_window": table.window,
    }
    hits_expected = None
    for threads in sorted({1, args.threads}):
        index.threads = threads
        times = []
        for batch in batches:
            started = time.perf_counter()
            found = index.lookup_batch(Algorithm.MD5, batch)
            times.append(time.perf_counter() - started)
            hits = int((found >= 0).sum())
            hits_expected = hits if hits_expected is None else hits_expected
        results[f"batch_lookups_per_second_{threads}_threads"] = round(rate(len(batches[0]), times))
        results[f"batch_hits_last_batch_{threads}_threads"] = hits
    singles = [bytes(row) for row in batches[0][: args.single]]
    times = []
    for _ in range(3):
        started = time.perf_counter()
        for digest in singles:
            index.lookup(Algorithm.MD5, digest)
        times.append(time.perf_counter() - started)
    results["single_lookups_per_second"] = round(rate(len(singles), times))
    return results


def bench_searchsorted(keys: np.ndarray[Any, Any], batches: list[Any]) -> dict[str, Any]:
    """Plain numpy: searchsorted over the sorted leading words (the naive vectorised way)."""
    hi = np.sort(np.ascontiguousarray(keys).view(">u8")[:, 0].astype(np.uint64))
    times = []
    for batch in batches[:2]:
        q = np.ascontiguousarray(batch).view(">u8")[:, 0].astype(np.uint64)
        started = time.perf_counter()
        pos = np.searchsorted(hi, q)
        _ = hi.take(np.minimum(pos, len(hi) - 1)) == q
        times.append(time.perf_counter() - started)
    del hi
    return {"batch_lookups_per_second": round(rate(len(batches[0]), times))}


def bench_python_set(keys: np.ndarray[Any, Any], batches: list[Any], limit: int) -> dict[str, Any]:
    """The baseline: a Python set of 16-byte ``bytes``, built and queried on the same data."""
    n = min(limit, len(keys))
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    table = set(map(bytes, keys[:n]))
    build_seconds = time.perf_counter() - started
    gc.collect()
    used = rss_bytes() - before
    times = []
    for batch in batches[:3]:
        listed = list(map(bytes, batch))  # conversion is not counted against the set
        started = time.perf_counter()
        hits = sum(1 for digest in listed if digest in table)
        times.append(time.perf_counter() - started)
    result = {
        "entries": n,
        "build_seconds": round(build_seconds, 2),
        "bytes_per_entry": round(used / n, 1),
        "batch_lookups_per_second": round(rate(len(batches[0]), times)),
        "hits_last_batch": hits,
    }
    del table
    gc.collect()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000_000, help="index size (default 10 M)")
    parser.add_argument("--batch", type=int, default=1_000_000, help="digests per query batch")
    parser.add_argument("--repeats", type=int, default=7, help="query batches timed")
    parser.add_argument(
        "--hit-rate", type=float, default=0.01, help="share of queries that are keys"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads for the batch lookup")
    parser.add_argument("--single", type=int, default=200_000, help="single lookups timed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--set-entries",
        type=int,
        default=None,
        help="cap the Python-set baseline's size (default: all entries)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the snapshot is written")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    keys = rng.integers(0, 256, size=(args.entries, WIDTH), dtype=np.uint8)
    batches = [queries(rng, keys, args.batch, args.hit_rate) for _ in range(args.repeats)]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        fast = bench_hashmatch(args, keys, batches, Path(tmp))
    naive = bench_searchsorted(keys, batches)
    baseline = bench_python_set(keys, batches, args.set_entries or args.entries)
    best = max(v for k, v in fast.items() if k.startswith("batch_lookups_per_second"))
    report = {
        "benchmark": "lookup",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "hashmatch": fast,
        "baseline_python_set": baseline,
        "baseline_numpy_searchsorted": naive,
        "ratios": {
            "batch_vs_python_set": round(best / baseline["batch_lookups_per_second"], 2),
            "batch_vs_numpy_searchsorted": round(best / naive["batch_lookups_per_second"], 2),
            "memory_python_set_over_hashmatch": round(
                baseline["bytes_per_entry"] / fast["bytes_per_entry"], 2
            ),
        },
        "targets": {
            "batch_lookups_per_second": 20_000_000,
            "batch_vs_python_set": 8,
            "single_lookups_per_second": 500_000,
            "bytes_per_entry": 24,
            "open_seconds": 0.1,
            "build_seconds": 60,
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
