"""The load generator of benchmarks/http_api.py: a separate process, on loopback, bounded.

It reads a plan (JSON) that benchmarks/http_api.py wrote, with request bodies already encoded
in files beside it, and drives one running server through three phases, each bounded in
time and in count:

``bulk_json`` and ``bulk_arrow``
    closed loop: ``connections`` keep-alive connections, each sending the next body as
    soon as its previous answer has been read, until ``duration`` seconds have passed or
    ``max_requests`` were sent;
``lookup``
    open loop: ``GET /v1/lookup/md5/{hex}`` at a fixed ``rate``, ``rate * duration``
    requests in all, each scheduled in advance and sent round robin over ``connections``
    keep-alive connections. Latency counts from the scheduled send time, so a server (or
    a client) falling behind shows up as latency instead of as fewer requests (no
    coordinated omission).

Each phase starts with a warm-up that opens its connections one by one while those
already open are sending (see :func:`open_connections`). Answers are read in full but not
parsed while the clock runs; a sample of them (the first answer to each distinct request
of the warm-up, and a few kept from the timed run) is checked afterwards: one result per
item, in order, the planted digests ``known`` and the others ``unknown``. The figures
include this process's CPU use and the server's (all its processes), since both share
the machine's cores. Prints one JSON document on stdout.

    python -P benchmarks/_http_load.py PLAN.json
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil
import pyarrow as pa
from yarl import URL

ARROW_TYPE = "application/vnd.apache.arrow.stream"
KEPT_SAMPLES = 8
"""Answers kept from each timed phase for checking, besides the warm-up answers."""
ERRORS_SHOWN = 5
WARM_STAGGER = 0.02
"""Seconds between opening one connection of a phase and the next."""


def percentiles_ms(seconds: list[float]) -> dict[str, float | None]:
    """p50, p90, p99, p99.9, max and mean of latencies given in seconds, in milliseconds."""
    if not seconds:
        return dict.fromkeys(("p50", "p90", "p99", "p999", "max", "mean"))
    values = np.asarray(seconds) * 1_000.0
    p50, p90, p99, p999 = np.percentile(values, [50, 90, 99, 99.9]).tolist()
    return {
        "p50": round(p50, 3),
        "p90": round(p90, 3),
        "p99": round(p99, 3),
        "p999": round(p999, 3),
        "max": round(float(values.max()), 3),
        "mean": round(float(values.mean()), 3),
    }


class CpuMeter:
    """CPU seconds of this process and of the server's processes over one phase."""

    def __init__(self, server_pid: int | None) -> None:
        self.me = psutil.Process()
        self.server: list[psutil.Process] = []
        if server_pid is not None:
            root = psutil.Process(server_pid)
            self.server = [root, *root.children(recursive=True)]

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    @staticmethod
    def _busy() -> float:
        """CPU seconds the whole machine has spent on anything but idling."""
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def start(self) -> None:
        self.started = time.perf_counter()
        self.me_before = self._cpu(self.me)
        self.server_before = [self._cpu(p) for p in self.server]
        self.busy_before = self._busy()

    def stop(self, requests: int) -> dict[str, Any]:
        """Cores used on average over the phase, and CPU milliseconds per request.

        CPU per request holds up better than rates when other work shares the machine.
        """
        wall = time.perf_counter() - self.started
        client = self._cpu(self.me) - self.me_before
        server = [self._cpu(p) - b for p, b in zip(self.server, self.server_before, strict=True)]
        others = self._busy() - self.busy_before - client - sum(server)
        per = 1_000.0 / max(1, requests)
        return {
            "client_cpu_cores": round(client / wall, 3),
            "server_cpu_cores": round(sum(server) / wall, 3) if server else None,
            "server_cpu_cores_per_process": [round(s / wall, 3) for s in server],
            # Anything else running on the machine meanwhile (a noisy host shows here).
            "other_cpu_cores": round(max(0.0, others) / wall, 3),
            "client_cpu_ms_per_request": round(client * per, 3),
            "server_cpu_ms_per_request": round(sum(server) * per, 3) if server else None,
        }


@dataclass
class Tally:
    """What one phase saw: latencies, failures, bytes, and answers kept for checking."""

    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    response_bytes: int = 0
    kept: list[tuple[int, bytes]] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failed += 1
        if len(self.errors) < ERRORS_SHOWN:
            self.errors.append(message)


async def fetch(
    session: aiohttp.ClientSession, method: str, url: URL, body: bytes | None, kind: str | None
) -> tuple[int, bytes]:
    headers = {"Content-Type": kind} if kind else None
    async with session.request(method, url, data=body, headers=headers) as response:
        return response.status, await response.read()


# -- checking answers (never on the clock) -------------------------------------------------


def check_bulk_json(data: bytes, expected: dict[str, Any]) -> str | None:
    """None if a JSON match answer is right for the body it answers, else what is wrong."""
    document = json.loads(data)
    results = document["results"]
    if len(results) != len(expected["ids"]):
        return f"{len(results)} results for {len(expected['ids'])} items"
    if [r["id"] for r in results] != expected["ids"]:
        return "results are not in the items' order"
    return _check_verdicts([r["verdict"] for r in results], expected["hits"])


def check_bulk_arrow(data: bytes, expected: dict[str, Any]) -> str | None:
    """None if an Arrow match answer is right for the body it answers, else what is wrong."""
    table = pa.ipc.open_stream(data).read_all()
    if table.num_rows != len(expected["ids"]):
        return f"{table.num_rows} rows for {len(expected['ids'])} items"
    if table.column("id").to_pylist() != expected["ids"]:
        return "rows are not in the items' order"
    return _check_verdicts(table.column("verdict").to_pylist(), expected["hits"])


def _check_verdicts(verdicts: list[str], hits: list[int]) -> str | None:
    planted = set(hits)
    wrong = [
        i
        for i, verdict in enumerate(verdicts)
        if verdict != ("known" if i in planted else "unknown")
    ]
    if wrong:
        i = wrong[0]
        return f"{len(wrong)} wrong verdicts, first item {i}: {verdicts[i]!r}"
    return None


def check_lookup(data: bytes, known: bool) -> str | None:
    verdict = json.loads(data)["verdict"]
    if verdict != ("known" if known else "unknown"):
        return f"verdict {verdict!r}, expected {'known' if known else 'unknown'}"
    return None


def verify(
    samples: list[tuple[int, bytes]], check: Any, expected: list[Any]
) -> tuple[int, int, list[str]]:
    """(answers checked, answers right, first problems) for ``(body index, answer)`` pairs."""
    right, problems = 0, []
    for index, data in samples:
        try:
            problem = check(data, expected[index])
        except (ValueError, KeyError, TypeError, pa.ArrowException) as error:
            problem = f"unreadable answer: {type(error).__name__}: {error}"
        if problem is None:
            right += 1
        elif len(problems) < ERRORS_SHOWN:
            problems.append(problem)
    return len(samples), right, problems


# -- phases ------------------------------------------------------------------------------


def session_for(plan: dict[str, Any]) -> aiohttp.ClientSession:
    """A client of one keep-alive connection (a request waits while another is on it)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1),
        headers=plan["headers"],
        timeout=aiohttp.ClientTimeout(total=plan["request_timeout"]),
        auto_decompress=False,
    )


Send = Callable[[aiohttp.ClientSession, int], Awaitable[tuple[int, int, bytes]]]
"""Send request number ``n`` on a session: (index of what it asked, status, answer)."""


async def open_connections(
    sessions: list[aiohttp.ClientSession], send: Send, *, minimum: int, keep: int
) -> Tally:
    """The warm-up, not timed: connections opened one by one while the open ones send.

    A uvicorn worker busy with a request does not race for the next connection, so the
    connections spread over the workers as many clients' would, instead of all landing
    on whichever worker woke first. Sends at least ``minimum`` requests; keeps the first
    answer to each of up to ``keep`` distinct requests for checking.
    """
    warm = Tally()
    last_open = asyncio.Event()
    sent = 0
    seen: set[int] = set()

    async def client(c: int) -> None:
        nonlocal sent
        await asyncio.sleep(c * WARM_STAGGER)
        while True:
            n = sent
            sent += 1
            try:
                index, status, data = await send(sessions[c], n)
            except (aiohttp.ClientError, TimeoutError) as error:
                warm.fail(f"warm-up: {type(error).__name__}: {error}")
            else:
                if status != 200:
                    warm.fail(f"warm-up: HTTP {status}: {data[:200]!r}")
                elif index not in seen and len(warm.kept) < keep:
                    seen.add(index)
                    warm.kept.append((index, data))
            if c == len(sessions) - 1:
                last_open.set()
            if last_open.is_set() and sent >= minimum:
                return

    await asyncio.gather(*(client(c) for c in range(len(sessions))))
    return warm


async def bulk_phase(plan: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Closed loop over keep-alive connections: bulk match requests of pre-encoded bodies."""
    settings = plan["bulk"]
    path, kind = ("/v1/match", "application/json")
    if fmt == "arrow":
        path, kind = ("/v1/match/arrow", ARROW_TYPE)
    url = URL(plan["base_url"] + path)
    bodies = [Path(b[fmt]).read_bytes() for b in plan["bodies"]]
    expected = plan["bodies"]
    items = [len(b["ids"]) for b in plan["bodies"]]
    check = check_bulk_arrow if fmt == "arrow" else check_bulk_json

    async def send(session: aiohttp.ClientSession, n: int) -> tuple[int, int, bytes]:
        index = n % len(bodies)
        status, data = await fetch(session, "POST", url, bodies[index], kind)
        return index, status, data

    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(session_for(plan))
            for _ in range(settings["connections"])
        ]
        warm = await open_connections(sessions, send, minimum=len(bodies), keep=len(bodies))

        tally = Tally()
        issued = 0
        sent_items = 0
        keep_every = max(1, settings["max_requests"] // (KEPT_SAMPLES * 4))
        meter = CpuMeter(plan.get("server_pid"))
        deadline = 0.0

        async def client(session: aiohttp.ClientSession) -> None:
            nonlocal issued, sent_items
            while issued < settings["max_requests"] and time.perf_counter() < deadline:
                n = issued
                issued += 1
                started = time.perf_counter()
                try:
                    index, status, data = await send(session, n)
                except (aiohttp.ClientError, TimeoutError) as error:
                    tally.fail(f"{type(error).__name__}: {error}")
                    continue
                tally.latencies.append(time.perf_counter() - started)
                tally.response_bytes += len(data)
                if status != 200:
                    tally.fail(f"HTTP {status}: {data[:200]!r}")
                    continue
                sent_items += items[index]
                if n % keep_every == 0 and len(tally.kept) < KEPT_SAMPLES:
                    tally.kept.append((index, data))

        gc.collect()
        gc.disable()
        meter.start()
        started = time.perf_counter()
        deadline = started + settings["duration"]
        await asyncio.gather(*(client(session) for session in sessions))
        seconds = time.perf_counter() - started
        cpu = meter.stop(len(tally.latencies))
        gc.enable()

    done = len(tally.latencies)
    checked, right, problems = verify(warm.kept + tally.kept, check, expected)
    return {
        "endpoint": f"POST {path}",
        "content_type": kind,
        "connections": len(sessions),
        "requests": issued,
        "completed": done,
        "failed": tally.failed + warm.failed,
        "errors": warm.errors + tally.errors,
        "seconds": round(seconds, 3),
        "requests_per_second": round(done / seconds, 1),
        "digests_per_second": round(sent_items / seconds),
        "latency_ms": percentiles_ms(tally.latencies),
        "request_bytes_mean": round(sum(map(len, bodies)) / len(bodies)),
        "response_bytes_mean": round(tally.response_bytes / done) if done else None,
        **cpu,
        "answers_checked": checked,
        "answers_right": right,
        "answer_problems": problems,
    }


async def lookup_phase(plan: dict[str, Any]) -> dict[str, Any]:
    """Open loop: single lookups sent at a fixed rate, latency from the scheduled time.

    Request ``n`` goes on connection ``n % connections``, as if that many clients each
    sent their share; one that finds its connection still busy waits for it, and the
    wait counts as latency.
    """
    settings = plan["lookup"]
    rate, count = settings["rate"], settings["count"]
    pool = json.loads(Path(plan["lookups"]).read_text())
    urls = [URL(f"{plan['base_url']}/v1/lookup/md5/{d['md5']}") for d in pool]
    known = [d["known"] for d in pool]

    async def send(session: aiohttp.ClientSession, n: int) -> tuple[int, int, bytes]:
        index = n % len(urls)
        status, data = await fetch(session, "GET", urls[index], None, None)
        return index, status, data

    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(session_for(plan))
            for _ in range(settings["connections"])
        ]
        warm_count = min(len(urls), settings["warmup"])
        warm = await open_connections(sessions, send, minimum=warm_count, keep=warm_count)

        tally = Tally()
        lag: list[float] = []
        hits = 0
        keep_every = max(1, count // KEPT_SAMPLES)

        async def one(n: int, scheduled: float) -> None:
            nonlocal hits
            lag.append(time.perf_counter() - scheduled)
            try:
                index, status, data = await send(sessions[n % len(sessions)], n)
            except (aiohttp.ClientError, TimeoutError) as error:
                tally.fail(f"{type(error).__name__}: {error}")
                return
            tally.latencies.append(time.perf_counter() - scheduled)
            if status != 200:
                tally.fail(f"HTTP {status}: {data[:200]!r}")
                return
            hits += known[index]
            if n % keep_every == 0:
                tally.kept.append((index, data))

        meter = CpuMeter(plan.get("server_pid"))
        gc.collect()
        gc.disable()
        meter.start()
        tasks = []
        begin = time.perf_counter() + 0.01
        for n in range(count):
            scheduled = begin + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n, scheduled)))
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - begin
        cpu = meter.stop(len(tally.latencies))
        gc.enable()

    done = len(tally.latencies)
    checked, right, problems = verify(warm.kept + tally.kept, check_lookup, known)
    return {
        "endpoint": "GET /v1/lookup/md5/{digest}",
        "connections": len(sessions),
        "scheduled": count,
        "completed": done,
        "failed": tally.failed + warm.failed,
        "errors": warm.errors + tally.errors,
        "known_answers": hits,
        "seconds": round(seconds, 3),
        "rate_target": rate,
        "rate_achieved": round(done / seconds, 1),
        "latency_ms_from_schedule": percentiles_ms(tally.latencies),
        "send_lag_ms": percentiles_ms(lag),
        **cpu,
        "answers_checked": checked,
        "answers_right": right,
        "answer_problems": problems,
    }


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in plan["phases"]:
        if phase == "lookup":
            out[phase] = await lookup_phase(plan)
        else:
            out[phase] = await bulk_phase(plan, phase.removeprefix("bulk_"))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    plan = json.loads(Path(args[0]).read_text())
    try:
        import uvloop
    except ImportError:
        loop, results = "asyncio", asyncio.run(run(plan))
    else:
        loop, results = f"uvloop {uvloop.__version__}", uvloop.run(run(plan))
    document = {
        "load_generator": {
            "library": f"aiohttp {aiohttp.__version__}",
            "event_loop": loop,
            "python": sys.version.split()[0],
        },
        "phases": results,
    }
    json.dump(document, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
