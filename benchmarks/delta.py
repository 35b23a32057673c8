"""Delta benchmark: how soon a list delta is matchable on a large index, without a rebuild.

Seeded and synthetic (random MD5 digests). A list of ``--entries`` digests is loaded into
a real data directory (SQLite catalog, Parquet entries, snapshot), then a delta of
``--delta`` digests is ingested through :meth:`Service.ingest` (``--mode add``, from an
md5sum file), and then a delta removing ``--delta`` of the original digests. For each we
time the whole ingest (read, vet, stage, commit, delta snapshot, publish) and then opening
the serving snapshot afresh (as a new process would) and looking the delta's digests up:
the sum is "matchable after". The baseline, measured in the same run on the same data, is
the full rebuild the delta avoids (``Service.rebuild_snapshot``).

    python benchmarks/delta.py                        # 10 million entries
    python benchmarks/delta.py --entries 100000000    # the DESIGN.md figure (about 12 GB RAM)

Results print as one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine
from lookup import write_entries

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.index import MISS
from hashmatch.model import IngestCounts, ListVersionInfo, Purpose, UpdateMode
from hashmatch.service import Service

WIDTH = Algorithm.MD5.width


def write_md5sum(path: Path, keys: np.ndarray[Any, Any]) -> None:
    """An md5sum file of ``keys`` (one ``HEX  name`` line each)."""
    with open(path, "w", encoding="ascii") as handle:
        for number, key in enumerate(keys):
            handle.write(f"{key.tobytes().hex()}  delta-{number}.bin\n")


def load_base(service: Service, keys: np.ndarray[Any, Any]) -> float:
    """Record ``keys`` as version 1 of list ``bench`` and build its snapshot; the build time."""
    service.add_list("bench", Purpose.CONCERN)
    version_id = uuid.uuid4().hex
    folder = service.home / "lists" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    write_entries(folder / f"{version_id}.parquet", keys)
    service.catalog.add_version(
        ListVersionInfo(
            list_name="bench",
            number=1,
            version_id=version_id,
            purpose=Purpose.CONCERN,
            source_name="synthetic",
            source_sha256="0" * 64,
            adapter="bench",
            adapter_version="1",
            loaded_by="bench",
            loaded_at=datetime.now(UTC),
            counts=IngestCounts(rows=len(keys), entries=len(keys), md5=len(keys)),
            entry_file=f"lists/bench/{version_id}.parquet",
        )
    )
    started = time.perf_counter()
    service.rebuild_snapshot()
    return time.perf_counter() - started


def delta_round(
    service: Service, path: Path, mode: UpdateMode, keys: np.ndarray[Any, Any]
) -> dict[str, Any]:
    """Ingest one delta file and time it, then open the snapshot afresh and look it up."""
    started = time.perf_counter()
    version = service.ingest("bench", path, mode=mode)
    ingest_seconds = time.perf_counter() - started
    started = time.perf_counter()
    snapshot = service.snapshots.open_current(threads=service.settings.lookup_threads)
    assert snapshot is not None
    found = snapshot.index.lookup_batch(Algorithm.MD5, keys)
    lookup_seconds = time.perf_counter() - started
    expected_hit = mode is UpdateMode.ADD
    correct = bool(np.all((found != MISS) == expected_hit))
    return {
        "version": version.number,
        "delta_snapshot": snapshot.base_id is not None,
        "ingest_seconds": round(ingest_seconds, 3),
        "open_and_lookup_seconds": round(lookup_seconds, 3),
        "matchable_after_seconds": round(ingest_seconds + lookup_seconds, 3),
        "delta_digests_served_correctly": correct,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--delta", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--dir", type=Path, default=None, help="Work folder (default: a temp).")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    keys = rng.integers(0, 256, size=(args.entries, WIDTH), dtype=np.uint8)
    added = rng.integers(0, 256, size=(args.delta, WIDTH), dtype=np.uint8)
    removed = keys[rng.choice(args.entries, args.delta, replace=False)]
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="hashmatch-delta-") as folder:
        work = Path(folder)
        settings = Settings(home=work / "home", operator="bench")
        with Service(settings) as service:
            full_build = load_base(service, keys)
            del keys
            write_md5sum(work / "add.md5", added)
            write_md5sum(work / "remove.md5", removed)
            add = delta_round(service, work / "add.md5", UpdateMode.ADD, added)
            remove = delta_round(service, work / "remove.md5", UpdateMode.REMOVE, removed)
            started = time.perf_counter()
            service.rebuild_snapshot()
            rebuild = time.perf_counter() - started
    result = {
        "benchmark": "delta",
        "seed": args.seed,
        "entries": args.entries,
        "delta": args.delta,
        "machine": machine(),
        "baseline_full_build_seconds": round(full_build, 2),
        "add": add,
        "remove": remove,
        "full_rebuild_after_deltas_seconds": round(rebuild, 2),
        "speedup_vs_full_build": round(full_build / add["matchable_after_seconds"], 1),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
