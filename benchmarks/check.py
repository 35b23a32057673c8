"""Check benchmark: a hashdeep manifest against a big list, report included, stage by stage.

Seeded and synthetic. The benchmark creates a temporary hashmatch home, ingests a list of
``--entries`` random MD5 digests (one per line, the ``bare`` format), which also builds
the snapshot (timed apart: not part of the check figure), and writes a hashdeep manifest
of ``--rows`` rows (``size,md5,sha256,filename``) in which it plants, at seeded rows:

* ``known``: about ``--known-rate`` of the rows carry an MD5 digest from the list;
* ``not_assessable``: zero-length files (size 0 and the empty-file MD5 and SHA-256);
* ``invalid``: MD5 values that are not hex, and lines with a field missing (the adapter
  warns about those and the check turns each into an ``invalid`` row of its own).

Every other row has random digests and is ``unknown``. It then times
:meth:`hashmatch.service.Service.check` with a report for each report format installed
(``.json``, ``.csv``, and ``.html`` when :mod:`hashmatch.reports._html` is there), and
splits each run into stages by wrapping the functions ``Service.check`` calls:

``read_parse``
    the adapter reading the manifest and every digest being parsed (and the SHA-256 of
    the input computed on the way);
``match``
    :meth:`Matcher.match`, the index lookups and the verdict columns;
``apply_warnings``
    giving rows the adapter skipped an ``invalid`` row of their own;
``concat_sort``
    the batches made one table and sorted by input and line;
``count``
    :func:`count_verdicts`; ``store_verdicts``: the verdict rows into the catalog;
``write_report``
    the report file; ``other``: the rest (catalog run rows, the report header).

The baseline, measured in the same run on the same files: the plain Python way, the
manifest read with the standard ``csv`` module, each MD5 ``bytes.fromhex``-ed and looked
up in a Python ``set`` of the list's digests (the set's build is timed apart), and one
JSON line written per row with ``json.dumps``. It assigns the same four verdicts, but
records no run, counts nothing and stores nothing: it is a floor for the work, not a
rival product. Beside it, two ways of keeping the verdict rows are timed on the same
table: the SQLite store hashmatch uses, and a Parquet file.

    python benchmarks/check.py                          # 10 M entries, 1 M rows
    python benchmarks/check.py --entries 1000000 --rows 100000
    python benchmarks/check.py --rows 3000 --entries 20000 --verify   # what the test runs

``--verify`` also validates the JSON report against ``schemas/report.schema.json`` and
reads the stored verdicts back (slow at full size).

Results print as one JSON document. The host may be noisy: compare with the baseline
measured in the same run rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import csv
import dataclasses
import functools
import gc
import importlib.util
import json
import resource
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _machine import machine

import hashmatch.service as service_module
from hashmatch.config import Settings
from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.model import Purpose
from hashmatch.reports import REPORT_FORMATS
from hashmatch.service import CheckResult, Progress, Service

TARGET_CHECK_SECONDS = 30.0
"""Issue target: 1 M rows against 10 M entries, JSON report included, on a 2-core laptop."""

ROOT = Path(__file__).resolve().parents[1]
EMPTY_MD5 = EMPTY_FILE_DIGESTS[Algorithm.MD5].hex().encode()
EMPTY_SHA256 = EMPTY_FILE_DIGESTS[Algorithm.SHA256].hex().encode()


def hex_lines(digests: np.ndarray[Any, Any]) -> list[bytes]:
    """Each row of a ``(n, width)`` uint8 matrix as lower-case hex, in one hexlify call."""
    text = binascii.hexlify(digests.tobytes())
    width = digests.shape[1] * 2
    return [text[i : i + width] for i in range(0, len(text), width)]


def write_list(path: Path, keys: np.ndarray[Any, Any]) -> None:
    """The list: one MD5 digest per line."""
    with open(path, "wb") as handle:
        for start in range(0, len(keys), 1_000_000):
            handle.write(b"\n".join(hex_lines(keys[start : start + 1_000_000])) + b"\n")


def plant(
    rng: np.random.Generator, rows: int, known_rate: float
) -> dict[str, np.ndarray[Any, Any]]:
    """Disjoint sets of row numbers (0-based) for each planted kind of row.

    Row 0 is always a plain row: a bad first record would mean "not this format".
    """
    known = round(rows * known_rate)
    empty = max(1, rows // 1_000)
    malformed = max(1, rows // 100_000)
    order = rng.permutation(np.arange(1, rows))
    cuts = np.cumsum([known, empty, malformed, malformed])
    if cuts[-1] > len(order):
        raise SystemExit(f"--rows {rows} is too few to plant {cuts[-1]} rows")
    return {
        "known": np.sort(order[: cuts[0]]),
        "empty": np.sort(order[cuts[0] : cuts[1]]),
        "bad_hex": np.sort(order[cuts[1] : cuts[2]]),
        "short": np.sort(order[cuts[2] : cuts[3]]),
    }


def write_manifest(
    path: Path,
    rng: np.random.Generator,
    keys: np.ndarray[Any, Any],
    rows: int,
    planted: dict[str, np.ndarray[Any, Any]],
) -> None:
    """A hashdeep manifest with MD5 and SHA-256 columns and the planted rows."""
    if len(planted["known"]) > len(keys):
        raise SystemExit(f"--entries {len(keys)} is too few to plant {len(planted['known'])}")
    md5 = rng.integers(0, 256, size=(rows, 16), dtype=np.uint8)
    md5[planted["known"]] = keys[rng.choice(len(keys), len(planted["known"]), replace=False)]
    md5_hex = hex_lines(md5)
    sha256_hex = hex_lines(rng.integers(0, 256, size=(rows, 32), dtype=np.uint8))
    sizes = [b"%d" % s for s in rng.integers(1, 1 << 31, size=rows).tolist()]
    for i in planted["empty"].tolist():
        sizes[i], md5_hex[i], sha256_hex[i] = b"0", EMPTY_MD5, EMPTY_SHA256
    for i in planted["bad_hex"].tolist():
        md5_hex[i] = md5_hex[i][:31] + b"g"
    lines = [
        b"%s,%s,%s,synthetic/file-%07d.bin\n" % (s, a, b, i)
        for i, (s, a, b) in enumerate(zip(sizes, md5_hex, sha256_hex, strict=True))
    ]
    for i in planted["short"].tolist():
        lines[i] = b"%s,%s,synthetic/file-%07d.bin\n" % (sizes[i], md5_hex[i], i)
    with open(path, "wb") as handle:
        handle.write(b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n")
        handle.write(
            b"## Invoked from: /cases/SYN-BENCH\n## $ hashdeep -c md5,sha256 -r -l .\n##\n"
        )
        for start in range(0, rows, 100_000):
            handle.write(b"".join(lines[start : start + 100_000]))


def expected_counts(rows: int, planted: dict[str, np.ndarray[Any, Any]]) -> dict[str, int]:
    """The verdict counts the planted rows must produce."""
    invalid = len(planted["bad_hex"]) + len(planted["short"])
    known, empty = len(planted["known"]), len(planted["empty"])
    return {
        "known": known,
        "known_benign": 0,
        "unknown": rows - known - empty - invalid,
        "not_assessable": empty,
        "invalid": invalid,
    }


def first_time(marks: dict[str, float], message: str) -> None:
    """Note when a stage a check reports through its ``Progress`` first began."""
    marks.setdefault(message, time.perf_counter())


class StageClock:
    """Seconds spent in each function ``Service.check`` calls, by wrapping them in place.

    The wrappers replace the names in :mod:`hashmatch.service` for the duration of one
    check, so the stages are measured on the real path, not on a copy of it.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.marks: dict[str, float] = {}

    def add(self, stage: str, started: float) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - started
        self.marks[f"{stage}_end"] = now

    @contextlib.contextmanager
    def instrument(self) -> Iterator[Progress]:
        clock = self
        module: Any = service_module
        names = ("read_records", "Matcher", "count_verdicts", "write_report", "_apply_warnings")
        saved = {name: getattr(module, name) for name in names}
        saved_store = Service._store_verdicts
        read_records, matcher_cls = saved["read_records"], saved["Matcher"]

        def timed_read(*args: Any, **kwargs: Any) -> Iterator[Any]:
            batches = read_records(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    batch = next(batches)
                except StopIteration:
                    clock.add("read_parse", started)
                    return
                clock.add("read_parse", started)
                yield batch

        class TimedMatcher(matcher_cls):  # type: ignore[misc,valid-type]
            def match(self, *args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                out = super().match(*args, **kwargs)
                clock.add("match", started)
                return out

        def timed(stage: str, function: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    clock.add(stage, started)

            return wrapper

        module.read_records = timed_read
        module.Matcher = TimedMatcher
        module.count_verdicts = timed("count", saved["count_verdicts"])
        module.write_report = timed("write_report", saved["write_report"])
        module._apply_warnings = timed("apply_warnings", saved["_apply_warnings"])
        Service._store_verdicts = timed("store_verdicts", saved_store)  # type: ignore[method-assign]
        try:
            yield Progress(stage=functools.partial(first_time, self.marks))
        finally:
            for name, value in saved.items():
                setattr(module, name, value)
            Service._store_verdicts = saved_store  # type: ignore[method-assign]

    def breakdown(self, total: float) -> dict[str, float]:
        """Seconds per stage; ``concat_sort`` from the marks around it, ``other`` the rest."""
        out = dict(self.seconds)
        recording = self.marks.get("recording verdicts")
        read_done = max(
            self.marks.get("read_parse_end", 0.0),
            self.marks.get("match_end", 0.0),
            self.marks.get("apply_warnings_end", 0.0),
        )
        if recording is not None and read_done:
            out["concat_sort"] = recording - read_done
        out["other"] = total - sum(out.values())
        order = (
            "read_parse",
            "match",
            "apply_warnings",
            "concat_sort",
            "count",
            "store_verdicts",
            "write_report",
            "other",
        )
        return {stage: round(out.get(stage, 0.0), 3) for stage in order}


def peak_rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def bench_check(
    service: Service, manifest: Path, report: Path
) -> tuple[CheckResult, dict[str, Any]]:
    """One timed check with a report, and its stages."""
    clock = StageClock()
    gc.collect()
    with clock.instrument() as progress:
        started = time.perf_counter()
        result = service.check([manifest], case_ref="SYN-BENCH", report=report, progress=progress)
        seconds = time.perf_counter() - started
    return result, {
        "seconds": round(seconds, 2),
        "rows_per_second": round(result.verdicts.num_rows / seconds),
        "report_bytes": report.stat().st_size,
        "stages_seconds": clock.breakdown(seconds),
    }


def bench_store_alternatives(service: Service, table: pa.Table, work: Path) -> dict[str, Any]:
    """The same verdict rows kept in SQLite (as hashmatch does) and in a Parquet file."""
    # A second run record, so that the same rows can be stored once more.
    copy = dataclasses.replace(
        service.catalog.runs()[0], run_id=uuid.uuid4().hex, finished_at=None, counts={}
    )
    service.catalog.add_run(copy)
    size_before = catalog_bytes(service)
    started = time.perf_counter()
    service._store_verdicts(copy.run_id, table)
    sqlite_seconds = time.perf_counter() - started
    sqlite_bytes = catalog_bytes(service) - size_before
    stored = pa.table(
        {
            "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
            "verdict": table.column("verdict"),
            "reason": table.column("reason"),
            "labels": table.column("matches"),
        }
    )
    path = work / "verdicts.parquet"
    started = time.perf_counter()
    pq.write_table(stored, path, compression="zstd")
    parquet_seconds = time.perf_counter() - started
    return {
        "sqlite_seconds": round(sqlite_seconds, 2),
        "sqlite_bytes_added": sqlite_bytes,
        "parquet_zstd_seconds": round(parquet_seconds, 2),
        "parquet_bytes": path.stat().st_size,
    }


def catalog_bytes(service: Service) -> int:
    """The SQLite catalog's size on disk, its write-ahead log included."""
    return sum(p.stat().st_size for p in service.home.glob("catalog.sqlite*"))


def baseline(manifest: Path, known: set[bytes], out: Path) -> dict[str, Any]:
    """The plain Python way: ``csv``, ``bytes.fromhex``, a ``set``, ``json.dumps`` per row."""
    empty_md5 = EMPTY_FILE_DIGESTS[Algorithm.MD5]
    counts = dict.fromkeys(("known", "unknown", "not_assessable", "invalid"), 0)
    started = time.perf_counter()
    with open(manifest, newline="", encoding="utf-8") as source, open(out, "w") as sink:
        for line_no, row in enumerate(csv.reader(source), start=1):
            if not row or row[0].startswith(("%", "#")):
                continue
            if len(row) != 4:
                verdict = "invalid"
            else:
                try:
                    digest = bytes.fromhex(row[1])
                except ValueError:
                    digest = b""
                if len(digest) != 16:
                    verdict = "invalid"
                elif digest == empty_md5:
                    verdict = "not_assessable"
                else:
                    verdict = "known" if digest in known else "unknown"
            counts[verdict] += 1
            sink.write(json.dumps({"line": line_no, "row": row, "verdict": verdict}) + "\n")
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "verdict_counts": counts}


def html_available() -> bool:
    return importlib.util.find_spec("hashmatch.reports._html") is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000_000, help="list size (default 10 M)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="manifest rows (default 1 M)")
    parser.add_argument("--known-rate", type=float, default=0.01, help="share of known rows")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--formats",
        nargs="+",
        default=None,
        help="report formats to time (default: json, csv, and html when installed)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the Python baseline")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also validate the JSON report against schemas/report.schema.json and read the "
        "stored verdicts back (slow at full size; for tests)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the home is created")
    return parser.parse_args(argv)


def verify(service: Service, result: CheckResult, report: Path) -> dict[str, bool]:
    """The report is valid against the committed schema; the store holds the report's rows."""
    import jsonschema  # type: ignore[import-untyped]

    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    document = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    stored = [
        (r.row, r.verdict.value, r.reason, r.labels)
        for r in service.catalog.verdicts(result.run.run_id)
    ]
    rows = result.verdicts.select(["verdict", "reason", "matches"]).to_pylist()
    return {
        "report_valid": True,
        "report_rows_match": len(document["rows"]) == len(rows),
        "stored_verdicts_match": stored
        == [(i, r["verdict"], r["reason"], r["matches"]) for i, r in enumerate(rows)],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    formats = args.formats or ["json", "csv", *(["html"] if html_available() else [])]
    skipped = [f for f in formats if f".{f}" not in REPORT_FORMATS]
    formats = [f for f in formats if f".{f}" in REPORT_FORMATS]

    rng = np.random.default_rng(args.seed)
    keys = rng.integers(0, 256, size=(args.entries, 16), dtype=np.uint8)
    planted = plant(rng, args.rows, args.known_rate)
    expected = expected_counts(args.rows, planted)
    results: dict[str, Any] = {}
    checked: dict[str, bool] | None = None
    store = None
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        listing, manifest = work / "known.txt", work / "device.hashdeep"
        started = time.perf_counter()
        write_list(listing, keys)
        write_manifest(manifest, rng, keys, args.rows, planted)
        setup_seconds = time.perf_counter() - started
        with Service(Settings(home=work / "home", operator="benchmark")) as service:
            service.add_list("synthetic", Purpose.CONCERN)
            marks: dict[str, float] = {}
            started = time.perf_counter()
            service.ingest(
                "synthetic",
                listing,
                progress=Progress(stage=functools.partial(first_time, marks)),
            )
            ingested = time.perf_counter()
            snapshot_started = marks.get("building the snapshot", ingested)
            setup = {
                "write_files_seconds": round(setup_seconds, 2),
                "ingest_read_stage_seconds": round(snapshot_started - started, 2),
                "snapshot_build_seconds": round(ingested - snapshot_started, 2),
            }
            for fmt in formats:
                report = work / f"report.{fmt}"
                result, figures = bench_check(service, manifest, report)
                counts = {k: v.total for k, v in result.header.counts.by_verdict.items()}
                figures["verdict_counts"] = counts
                figures["counts_match_planted"] = counts == expected
                figures["peak_rss_gib_so_far"] = peak_rss_gib()
                results[fmt] = figures
                if args.verify and fmt == "json":
                    checked = verify(service, result, report)
                report.unlink()
                if fmt == formats[-1]:
                    store = bench_store_alternatives(service, result.verdicts, work)
                del result
        base = None
        if not args.no_baseline:
            gc.collect()
            started = time.perf_counter()
            known = set(map(bytes, keys))
            set_seconds = time.perf_counter() - started
            base = baseline(manifest, known, work / "baseline.jsonl")
            base["set_build_seconds"] = round(set_seconds, 2)
            base["counts_match_planted"] = base["verdict_counts"] == {
                k: v for k, v in expected.items() if k != "known_benign"
            }
            del known
    out: dict[str, Any] = {
        "benchmark": "check",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "setup": setup,
        "planted": expected,
        "formats_skipped": skipped,
        "hashmatch": results,
        "verified": checked,
        "store_alternatives": store,
        "baseline_python_csv_set_json": base,
        "peak_rss_gib": peak_rss_gib(),
        "target": {"json_check_seconds": TARGET_CHECK_SECONDS},
    }
    if "json" in results:
        out["meets_target"] = results["json"]["seconds"] <= TARGET_CHECK_SECONDS
        if base is not None:
            out["ratios"] = {
                "json_check_over_baseline": round(results["json"]["seconds"] / base["seconds"], 2)
            }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
