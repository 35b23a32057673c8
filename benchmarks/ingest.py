"""List ingest benchmark: adapters alone, the whole staging path, a naive baseline.

Seeded and synthetic (random digests; names like ``synthetic/file-000001.bin``). For each
format (the line formats ``bare``, ``md5sum``, ``hashdeep`` with
``size,md5,sha256,filename``, ``csv`` with ``MD5,SHA256,Path``, NSRL RDS 2.x ``nsrl`` with
product names; and ``vics`` JSON, ``nsrl-rdsv3`` SQLite, ``ncmec-xml``) the benchmark
writes one file of ``--lines`` records, then measures in the same run:

* ``adapter``: every record batch the adapter yields (records/s);
* ``stage``: :func:`hashmatch.ingest.pipeline.stage_list_file` with the default registry
  (sniffing, parsing and checking every digest, Parquet write) into a temporary directory
  (entries/s);
* ``baseline``: the naive Python way, ``for line in open(...)`` (``csv.reader`` for NSRL,
  ``json.load`` for VICS, a ``sqlite3`` cursor for RDSv3, ``ElementTree.parse`` for NCMEC)
  and ``bytes.fromhex`` of the first digest into a ``set`` (records/s);
* ``adapter_peak_traced_mib``: the most memory Python allocated while the adapter read
  (``tracemalloc``): the streaming formats stay flat whatever the file size.

Results print as one JSON document, with the ratios to the baseline.

    python benchmarks/ingest.py                    # 2 million lines per format
    python benchmarks/ingest.py --lines 200000 --formats md5sum hashdeep

Figures are medians over ``--repeats`` runs; the host may be noisy, so compare the ratios
to the baseline measured in the same run rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import io
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import synthetic_ncmec
import synthetic_nsrl
import synthetic_vics
from _machine import machine

from hashmatch.adapter import ReadContext
from hashmatch.ingest.pipeline import stage_list_file
from hashmatch.registry import default_registry

FORMATS = ("bare", "md5sum", "hashdeep", "csv", "nsrl", "vics", "nsrl-rdsv3", "ncmec-xml")
TARGET_ENTRIES_PER_SECOND = {
    "bare": 1_000_000,
    "md5sum": 1_000_000,
    "hashdeep": 1_000_000,
    "csv": 1_000_000,
    "nsrl": 1_000_000,
    "vics": 200_000,
    "nsrl-rdsv3": 1_000_000,
}
"""DESIGN.md and issue 3: line formats and RDSv3 at 1 M entries/s, VICS at 200 k records/s.
NCMEC XML has no stated target."""


def _hex(rng: np.random.Generator, n: int, width: int) -> list[str]:
    """``n`` random digests of ``width`` bytes as lower-case hex."""
    text = rng.bytes(n * width).hex()
    step = 2 * width
    return [text[i : i + step] for i in range(0, len(text), step)]


def write_list(path: Path, fmt: str, n: int, rng: np.random.Generator) -> None:
    """A synthetic list of ``n`` records in ``fmt``."""
    seed = int(rng.integers(0, 2**31))
    if fmt == "nsrl":
        synthetic_nsrl.write_synthetic(path, n, seed)
        return
    if fmt == "nsrl-rdsv3":
        synthetic_nsrl.write_synthetic_rdsv3(path, n, seed)
        return
    if fmt == "vics":
        synthetic_vics.write_synthetic(path, n, seed)
        return
    if fmt == "ncmec-xml":
        synthetic_ncmec.write_synthetic(path, n, seed)
        return
    md5 = _hex(rng, n, 16)
    names = [f"synthetic/file-{i:06d}.bin" for i in range(1, n + 1)]
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        if fmt == "bare":
            out.writelines(f"{digest}\n" for digest in md5)
        elif fmt == "md5sum":
            out.writelines(f"{digest}  {name}\n" for digest, name in zip(md5, names, strict=True))
        elif fmt == "hashdeep":
            sha256 = _hex(rng, n, 32)
            sizes = rng.integers(0, 1 << 32, size=n).tolist()
            out.write("%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n")
            out.write("## Invoked from: /cases/SYN-0001\n## $ hashdeep -c md5,sha256 -r -l .\n##\n")
            out.writelines(
                f"{size},{a},{b},{name}\n"
                for size, a, b, name in zip(sizes, md5, sha256, names, strict=True)
            )
        elif fmt == "csv":
            sha256 = _hex(rng, n, 32)
            out.write("MD5,SHA256,Path\n")
            out.writelines(
                f"{a},{b},{name}\n" for a, b, name in zip(md5, sha256, names, strict=True)
            )
        else:
            raise ValueError(f"unknown format {fmt!r}")


# The naive way per format: the first digest field of each data line, hex-decoded into a set,
# written the way people write it (hence no maxsplit).
def _field_space(line: str) -> str:
    return line.split()[0]  # noqa: PLC0207


def _field_comma(line: str) -> str:
    return line.split(",")[1]


def _field_first_comma(line: str) -> str:
    return line.split(",")[0]  # noqa: PLC0207


_BASELINE: dict[str, tuple[int, Callable[[str], str]]] = {
    # (header lines to skip, how to cut the digest out of a line)
    "bare": (0, _field_space),
    "md5sum": (0, _field_space),
    "hashdeep": (5, _field_comma),
    "csv": (1, _field_first_comma),
}


def baseline(path: Path, fmt: str) -> int:
    """The naive reader: ``bytes.fromhex`` of each record's first digest into a set."""
    if fmt in _STRUCTURED_BASELINE:
        return _STRUCTURED_BASELINE[fmt](path)
    skip, field = _BASELINE[fmt]
    seen: set[bytes] = set()
    add = seen.add
    with open(path, encoding="utf-8") as lines:
        for _ in range(skip):
            next(lines)
        for line in lines:
            add(bytes.fromhex(field(line)))
    return len(seen)


def _baseline_nsrl(path: Path) -> int:
    seen: set[bytes] = set()
    with open(path, encoding="cp1252", newline="") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        for row in rows:
            if row != header:
                seen.add(bytes.fromhex(row[0]))
    return len(seen)


def _baseline_vics(path: Path) -> int:
    with open(path, encoding="utf-8-sig") as handle:
        document = json.load(handle)
    return len({bytes.fromhex(media["MD5"]) for media in document["value"]})


def _baseline_rdsv3(path: Path) -> int:
    seen: set[bytes] = set()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        for (sha1,) in db.execute("SELECT sha1 FROM FILE"):
            seen.add(bytes.fromhex(sha1))
    return len(seen)


def _baseline_ncmec(path: Path) -> int:
    seen: set[bytes] = set()
    for element in ElementTree.parse(path).getroot().iter():
        if element.tag.rpartition("}")[2] == "md5" and element.text:
            seen.add(bytes.fromhex(element.text))
    return len(seen)


_STRUCTURED_BASELINE: dict[str, Callable[[Path], int]] = {
    "nsrl": _baseline_nsrl,
    "vics": _baseline_vics,
    "nsrl-rdsv3": _baseline_rdsv3,
    "ncmec-xml": _baseline_ncmec,
}


def read_adapter(path: Path, fmt: str, batch_size: int) -> int:
    """Every record ``fmt``'s adapter yields from ``path``; the count."""
    adapter = default_registry().get(fmt)()
    context = ReadContext(source=path.name, batch_size=batch_size, path=path)
    rows = 0
    with open(path, "rb") as raw:
        stream = io.BufferedReader(raw, buffer_size=1 << 20)
        for batch in adapter.read(stream, context):
            rows += batch.num_rows
    if context.warning_count:
        raise AssertionError(f"{fmt}: {context.warning_count} warnings on a clean file")
    return rows


def stage(path: Path, fmt: str, batch_size: int, work: Path) -> int:
    """The whole staging path with the default registry (auto-detected); the entries."""
    staged = stage_list_file(
        path, staging_dir=work, registry=default_registry(), batch_size=batch_size
    )
    try:
        if staged.adapter != fmt:
            raise AssertionError(f"{path.name} was detected as {staged.adapter}, not {fmt}")
        if staged.warning_count:
            raise AssertionError(f"{fmt}: {staged.warning_count} warnings on a clean file")
        return staged.counts.entries
    finally:
        staged.discard()


def timed(repeats: int, run: Callable[[], int]) -> tuple[list[float], int]:
    """Seconds of each of ``repeats`` runs (garbage collected before each) and the count."""
    seconds = []
    count = 0
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        count = run()
        seconds.append(time.perf_counter() - started)
    return seconds, count


def rate(count: int, seconds: list[float]) -> int:
    """Items per second from the median of repeated timings."""
    return round(count / statistics.median(seconds))


def bench_format(args: argparse.Namespace, fmt: str, work: Path) -> dict[str, Any]:
    rng = np.random.default_rng([args.seed, FORMATS.index(fmt)])
    path = work / f"synthetic.{fmt}"
    write_list(path, fmt, args.lines, rng)
    staging = work / "staging"
    adapter_s, records = timed(args.repeats, lambda: read_adapter(path, fmt, args.batch_size))
    tracemalloc.start()
    read_adapter(path, fmt, args.batch_size)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    stage_s, entries = timed(args.repeats, lambda: stage(path, fmt, args.batch_size, staging))
    naive_s, distinct = timed(args.repeats, lambda: baseline(path, fmt))
    if entries > records or records < args.lines * 0.9:
        raise AssertionError(f"{fmt}: {records} records, {entries} entries of {args.lines}")
    adapter_rate = rate(records, adapter_s)
    stage_rate = rate(records, stage_s)
    naive_rate = rate(records, naive_s)
    result = {
        "file_bytes": path.stat().st_size,
        "records": records,
        "entries": entries,
        "adapter_peak_traced_mib": round(peak / 2**20, 1),
        "adapter_records_per_second": adapter_rate,
        "stage_records_per_second": stage_rate,
        "baseline_lines_per_second": naive_rate,
        "adapter_seconds": [round(s, 3) for s in adapter_s],
        "stage_seconds": [round(s, 3) for s in stage_s],
        "baseline_seconds": [round(s, 3) for s in naive_s],
        "baseline_distinct": distinct,
        "ratios": {
            "adapter_vs_baseline": round(adapter_rate / naive_rate, 2),
            "stage_vs_baseline": round(stage_rate / naive_rate, 2),
        },
    }
    for leftover in work.glob("synthetic.*"):
        leftover.unlink()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000, help="data lines per format")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each measure")
    parser.add_argument(
        "--batch-size", type=int, default=262_144, help="rows per batch (stage_list_file's default)"
    )
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="where the lists are written")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for fmt in args.formats:
            results[fmt] = bench_format(args, fmt, Path(tmp))
    report = {
        "benchmark": "ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "results": results,
        "targets": {"stage_records_per_second": TARGET_ENTRIES_PER_SECOND},
        "meets_target": {
            fmt: result["stage_records_per_second"] >= TARGET_ENTRIES_PER_SECOND[fmt]
            for fmt, result in results.items()
            if fmt in TARGET_ENTRIES_PER_SECOND
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
