"""HTTP benchmark: hashmatch's API beside a minimal service over a Python set, on loopback.

Seeded and synthetic. The benchmark writes an md5sum list of ``--entries`` random MD5
digests and serves it twice, one server at a time, each with ``--workers`` uvicorn
worker processes on 127.0.0.1:

``hashmatch``
    a fresh ``HASHMATCH_HOME`` in a temporary folder, set up through the CLI (``lists
    add``, ``ingest``, ``keys create --role intake``) and served by ``hashmatch serve``;
    every request carries the key (``Authorization: Bearer``) and is audited as the
    server's settings say (by default: item and verdict counts);
``baseline``
    benchmarks/_http_baseline.py: FastAPI on uvicorn over a Python ``set`` of the same
    digests, the same three endpoints in the same shapes, no key, no audit, no labels.

A separate process (benchmarks/_http_load.py, aiohttp) drives each server the same way,
through three phases bounded in time (``--duration`` each) and in count:

``bulk_json``
    ``POST /v1/match``, ``--items`` items a request (``{"id", "md5"}``, ``--hit-rate``
    of them on the list), over ``--connections`` keep-alive connections, closed loop;
``bulk_arrow``
    ``POST /v1/match/arrow``, the same items as an Arrow IPC stream (``id`` and ``md5``
    text columns), the same way;
``lookup``
    ``GET /v1/lookup/md5/{hex}``, open loop at ``--rate`` requests/s: latency counts from
    each request's scheduled send time, so queueing is not hidden.

Bodies are encoded before the clock starts and answers are read but not parsed while it
runs; a sample of answers is checked afterwards (one result per item, in order, the
planted digests ``known``). The machine's cores are shared by the servers and the load
generator: each phase reports the CPU the load generator took (``client_cpu_cores``), the
server's (``server_cpu_cores``, and per process, which shows how evenly the workers were
loaded), anything else's (``other_cpu_cores``), and CPU milliseconds per request, which
hold up better than rates when other work shares the machine.

    python benchmarks/http_api.py                         # 1 M entries, 10 s a phase
    python benchmarks/http_api.py --entries 10000000 --duration 30
    python benchmarks/http_api.py --quick                 # seconds; what the test runs

Results print as one JSON document on stdout (progress on stderr). The exit status is 1
if any request failed or any checked answer was wrong. The host may be noisy: compare
with the baseline measured in the same run rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
from _http_baseline import NAME as BASELINE_NAME
from _machine import machine

TARGET_BULK_JSON_DIGESTS_PER_SECOND = 1_000_000
TARGET_LOOKUP_P99_MS = 5.0
TARGET_LOOKUP_RATE = 1_000
"""DESIGN.md: bulk JSON at 10 k digests a request, at least 1 M digests/s on the 2 cores;
single lookups at 1,000 requests/s with a p99 under 5 ms."""

LIST_NAME = "synthetic"
PHASES = ("bulk_json", "bulk_arrow", "lookup")
SERVERS = ("baseline", "hashmatch")
HERE = Path(__file__).resolve().parent
LOAD = HERE / "_http_load.py"
BASELINE = HERE / "_http_baseline.py"

FULL = {
    "entries": 1_000_000,
    "items": 10_000,
    "bodies": 16,
    "connections": 4,
    "duration": 10.0,
    "max_requests": 5_000,
    "rate": TARGET_LOOKUP_RATE,
}
QUICK = {
    "entries": 20_000,
    "items": 1_000,
    "bodies": 2,
    "connections": 2,
    "duration": 1.0,
    "max_requests": 200,
    "rate": 200,
}


def log(message: str) -> None:
    print(f"http benchmark: {message}", file=sys.stderr, flush=True)


# -- synthetic data ------------------------------------------------------------------------


def hex_lines(digests: np.ndarray[Any, Any]) -> list[str]:
    """Each row of a ``(n, 16)`` uint8 matrix as lower-case hex, in one hexlify call."""
    text = binascii.hexlify(digests.tobytes()).decode()
    width = digests.shape[1] * 2
    return [text[i : i + width] for i in range(0, len(text), width)]


def write_list(path: Path, keys: np.ndarray[Any, Any]) -> None:
    """The list as md5sum output: ``HEX  name`` lines."""
    with open(path, "w", encoding="ascii") as handle:
        for start in range(0, len(keys), 1_000_000):
            chunk = hex_lines(keys[start : start + 1_000_000])
            handle.writelines(
                f"{h}  synthetic/file-{start + i:08d}.bin\n" for i, h in enumerate(chunk)
            )


def plant(
    rng: np.random.Generator, keys: np.ndarray[Any, Any], count: int, hit_rate: float
) -> tuple[list[str], list[int]]:
    """``count`` random MD5 digests as hex, ``hit_rate`` of them (seeded rows) from the list."""
    digests = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    hits = np.sort(rng.choice(count, round(count * hit_rate), replace=False))
    if len(hits) > len(keys):
        raise SystemExit(f"--entries {len(keys)} is too few to plant {len(hits)} hits")
    digests[hits] = keys[rng.choice(len(keys), len(hits), replace=False)]
    return hex_lines(digests), hits.tolist()


def write_bodies(
    work: Path, rng: np.random.Generator, keys: np.ndarray[Any, Any], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The bulk request bodies, encoded once as JSON and as Arrow, and what each must get."""
    bodies = []
    schema = pa.schema([pa.field("id", pa.string()), pa.field("md5", pa.string())])
    for b in range(args.bodies):
        md5, hits = plant(rng, keys, args.items, args.hit_rate)
        ids = [f"b{b:03d}-{i:06d}" for i in range(args.items)]
        items = [{"id": i, "md5": m} for i, m in zip(ids, md5, strict=True)]
        json_path, arrow_path = work / f"body-{b:03d}.json", work / f"body-{b:03d}.arrows"
        json_path.write_text(json.dumps({"items": items}, separators=(",", ":")))
        table = pa.table({"id": ids, "md5": md5}, schema=schema)
        with pa.OSFile(str(arrow_path), "wb") as sink, pa.ipc.new_stream(sink, schema) as w:
            w.write_table(table)
        bodies.append({"json": str(json_path), "arrow": str(arrow_path), "ids": ids, "hits": hits})
    return bodies


def write_lookups(
    path: Path, rng: np.random.Generator, keys: np.ndarray[Any, Any], args: argparse.Namespace
) -> int:
    """The digests single lookups cycle through; how many are on the list."""
    md5, hits = plant(rng, keys, min(lookup_count(args), 10_000), args.hit_rate)
    planted = set(hits)
    path.write_text(json.dumps([{"md5": m, "known": i in planted} for i, m in enumerate(md5)]))
    return len(hits)


def lookup_count(args: argparse.Namespace) -> int:
    return max(1, round(args.rate * args.duration))


# -- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def hashmatch_env(home: Path) -> dict[str, str]:
    """This environment without any HASHMATCH_ setting of the user's, and the temporary home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHMATCH_")}
    env["HASHMATCH_HOME"] = str(home)
    return env


def hashmatch_cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-P", "-m", "hashmatch", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"hashmatch {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def set_up_hashmatch(home: Path, listing: Path) -> tuple[dict[str, str], str, dict[str, float]]:
    """A fresh home with the list loaded and an intake key: (environment, token, seconds)."""
    env = hashmatch_env(home)
    started = time.perf_counter()
    hashmatch_cli(env, "lists", "add", LIST_NAME, "--purpose", "concern")
    added = time.perf_counter()
    hashmatch_cli(env, "ingest", LIST_NAME, str(listing), "--format", "md5sum")
    ingested = time.perf_counter()
    created = json.loads(
        hashmatch_cli(env, "keys", "create", "--name", "bench", "--role", "intake", "--json")
    )
    return (
        env,
        created["token"],
        {
            "lists_add_seconds": round(added - started, 2),
            "ingest_seconds": round(ingested - added, 2),
        },
    )


def hashmatch_command(port: int, workers: int) -> list[str]:
    return [
        *(sys.executable, "-P", "-m", "hashmatch", "serve"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
    ]


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def wait_ready(process: subprocess.Popen[bytes], url: str, workers: int, log_path: Path) -> None:
    """Until ``/healthz`` answers, every worker is up, and the workers have gone quiet.

    The first worker to start answers ``/healthz`` while the others may still be loading;
    the load must not start before all of them are idle.
    """
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the server exited ({process.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not answer {url}/healthz in 180 s")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    expected = workers + 1 if workers > 1 else 1  # uvicorn: a supervisor beside >1 workers
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        processes = tree(process.pid)
        before = cpu_seconds(processes)
        time.sleep(0.2)
        busy = (cpu_seconds(processes) - before) / 0.2
        quiet = quiet + 1 if len(processes) >= expected and busy < 0.1 else 0


@contextlib.contextmanager
def serving(
    command: list[str], env: dict[str, str], url: str, workers: int, log_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """The server running (and ready) for the duration of the block; then stopped."""
    started = time.perf_counter()
    with open(log_path, "wb") as server_log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=log_path.parent,
            stdin=subprocess.DEVNULL,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(process, url, workers, log_path)
        yield process, time.perf_counter() - started
    finally:
        started_here = tree(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for leftover in started_here[1:]:  # workers that outlived their supervisor
            with contextlib.suppress(psutil.Error):
                leftover.kill()


def rss_mib(pid: int) -> float:
    """Resident memory of the server's processes, summed (shared pages once per process)."""
    total = 0
    for process in tree(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return round(total / 2**20, 1)


def drive(plan: dict[str, Any], path: Path, phases: int, duration: float) -> dict[str, Any]:
    """Run the load generator on ``plan`` in its own process; what it measured."""
    path.write_text(json.dumps(plan))
    done = subprocess.run(
        [sys.executable, "-P", str(LOAD), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=phases * (duration + 120) + 60,
    )
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def bench_server(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    headers: dict[str, str],
    work: Path,
    common: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}"
    log(f"{name}: starting {' '.join(command[1:])}")
    with serving(command, env, url, args.workers, work / f"{name}.log") as (process, startup):
        log(f"{name}: ready in {startup:.1f} s; load for {len(PHASES)} x {args.duration} s")
        plan = {**common, "base_url": url, "headers": headers, "server_pid": process.pid}
        measured = drive(plan, work / f"plan-{name}.json", len(PHASES), args.duration)
        memory = rss_mib(process.pid)
    return {
        "command": [Path(command[0]).name, *command[1:]],
        "workers": args.workers,
        "startup_seconds": round(startup, 2),
        "rss_mib_all_processes": memory,
        "load_generator": measured["load_generator"],
        **measured["phases"],
    }


# -- the report ------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def summarise(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ratios to the baseline, Arrow over JSON, targets, failures and answer checks."""
    out: dict[str, Any] = {"ratios": {}, "meets_target": None}
    for name, server in results.items():
        out["ratios"][f"{name}_arrow_over_json_digests_per_second"] = ratio(
            server["bulk_arrow"]["digests_per_second"], server["bulk_json"]["digests_per_second"]
        )
    if "hashmatch" in results and "baseline" in results:
        hm, base = results["hashmatch"], results["baseline"]
        for fmt in ("bulk_json", "bulk_arrow"):
            out["ratios"][f"{fmt}_digests_per_second_hashmatch_over_baseline"] = ratio(
                hm[fmt]["digests_per_second"], base[fmt]["digests_per_second"]
            )
        out["ratios"]["lookup_p99_hashmatch_over_baseline"] = ratio(
            hm["lookup"]["latency_ms_from_schedule"]["p99"],
            base["lookup"]["latency_ms_from_schedule"]["p99"],
        )
    if "hashmatch" in results:
        hm = results["hashmatch"]
        p99 = hm["lookup"]["latency_ms_from_schedule"]["p99"]
        out["meets_target"] = {
            "bulk_json_digests_per_second": hm["bulk_json"]["digests_per_second"]
            >= TARGET_BULK_JSON_DIGESTS_PER_SECOND,
            "lookup_p99_ms": p99 is not None
            and p99 < TARGET_LOOKUP_P99_MS
            and hm["lookup"]["rate_target"] >= TARGET_LOOKUP_RATE
            and hm["lookup"]["rate_achieved"] >= 0.99 * hm["lookup"]["rate_target"],
        }
    phases = [(n, p, results[n][p]) for n in results for p in PHASES]
    out["failed_requests"] = sum(phase["failed"] for _, _, phase in phases)
    out["answers_checked"] = sum(phase["answers_checked"] for _, _, phase in phases)
    out["answers_right"] = sum(phase["answers_right"] for _, _, phase in phases)
    out["all_answers_right"] = all(
        phase["answers_checked"] > 0 and phase["answers_right"] == phase["answers_checked"]
        for _, _, phase in phases
    )
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, help="list size (default 1 M)")
    parser.add_argument("--items", type=int, help="items a bulk request (default 10,000)")
    parser.add_argument("--bodies", type=int, help="distinct bulk bodies cycled (default 16)")
    parser.add_argument("--hit-rate", type=float, default=0.01, help="share of listed digests")
    parser.add_argument("--connections", type=int, help="bulk connections (default 4)")
    parser.add_argument("--duration", type=float, help="seconds a phase (default 10)")
    parser.add_argument(
        "--max-requests", type=int, help="most bulk requests a phase (default 5,000)"
    )
    parser.add_argument("--rate", type=int, help="single lookups a second (default 1,000)")
    parser.add_argument(
        "--lookup-connections", type=int, default=8, help="connections lookups go over"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--servers", nargs="+", choices=SERVERS, default=list(SERVERS), help="what to measure"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and 1 s phases (what the test runs)"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the temp folder goes")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    rng = np.random.default_rng(args.seed)
    keys = rng.integers(0, 256, size=(args.entries, 16), dtype=np.uint8)
    results: dict[str, dict[str, Any]] = {}
    setup: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        listing = work / "synthetic.md5"
        started = time.perf_counter()
        write_list(listing, keys)
        bodies = write_bodies(work, rng, keys, args)
        lookup_hits = write_lookups(work / "lookups.json", rng, keys, args)
        setup["write_files_seconds"] = round(time.perf_counter() - started, 2)
        common = {
            "phases": list(PHASES),
            "bodies": bodies,
            "lookups": str(work / "lookups.json"),
            "request_timeout": 60,
            "bulk": {
                "connections": args.connections,
                "duration": args.duration,
                "max_requests": args.max_requests,
            },
            "lookup": {
                "rate": args.rate,
                "count": lookup_count(args),
                "connections": args.lookup_connections,
                "warmup": min(200, lookup_count(args)),
            },
        }
        del keys
        for name in args.servers:
            port = free_port()
            if name == "baseline":
                command = [
                    *(sys.executable, "-P", str(BASELINE), "--list", str(listing)),
                    *("--port", str(port), "--workers", str(args.workers)),
                ]
                env = {k: v for k, v in os.environ.items() if not k.startswith("HASHMATCH_")}
                headers: dict[str, str] = {}
            else:
                log(f"hashmatch: setting up a home with {args.entries:,} entries")
                env, token, seconds = set_up_hashmatch(work / "home", listing)
                setup.update(seconds)
                command = hashmatch_command(port, args.workers)
                headers = {"Authorization": f"Bearer {token}"}
            results[name] = bench_server(name, command, env, port, headers, work, common, args)
    summary = summarise(results)
    out: dict[str, Any] = {
        "benchmark": "http",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "note": (
            "servers and the load generator share this machine's cores (one server at a "
            "time): client_cpu_cores is the load generator's share, server_cpu_cores the "
            "server's (all its processes), other_cpu_cores anything else on the machine; "
            "traffic on 127.0.0.1 only"
        ),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "load_average_at_start": load_at_start,
        "data": {
            "entries": args.entries,
            "items_per_request": args.items,
            "hits_per_request": len(bodies[0]["hits"]),
            "request_bodies": args.bodies,
            "lookups_scheduled": lookup_count(args),
            "lookup_pool_hits": lookup_hits,
        },
        "setup": setup,
        "baseline": BASELINE_NAME,
        "results": results,
        **summary,
        "target": {
            "bulk_json_digests_per_second": TARGET_BULK_JSON_DIGESTS_PER_SECOND,
            "lookup_p99_ms": TARGET_LOOKUP_P99_MS,
            "lookup_rate": TARGET_LOOKUP_RATE,
        },
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if summary["failed_requests"] == 0 and summary["all_answers_right"] else 1


if __name__ == "__main__":
    sys.exit(main())
