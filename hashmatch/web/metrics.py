"""Prometheus metrics, the access log and request size limits: ASGI middleware.

Metrics (``GET /metrics``, text exposition format):

* ``hashmatch_http_requests_total{method, route, status}``
* ``hashmatch_http_request_duration_seconds{method, route}`` (histogram)
* ``hashmatch_lookups_total{verdict}``: digests matched, by verdict
* ``hashmatch_snapshot_info{snapshot_id}`` and ``hashmatch_snapshot_age_seconds``

``route`` is the route *template* (``/v1/lookup/{algorithm}/{digest}``), never the path:
a path can hold a queried digest, and neither metrics nor the access log keep one. The
access log names no key either: who asked about which digest is not written anywhere.

Under ``hashmatch serve`` the workers share counters through prometheus_client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, which serve sets up); the snapshot
gauges are those of the worker that answers the scrape (all converge within
``snapshot_poll_seconds``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hashmatch.errors import TooLarge
from hashmatch.web.problems import ProblemResponse, problem_for

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ObserveMiddleware"]

_access = logging.getLogger("hashmatch.web.access")

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The app's metrics, in a registry of its own (several apps can live in one process)."""

    def __init__(self, snapshot: Callable[[], tuple[str, float] | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "hashmatch_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hashmatch_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.lookups = Counter(
            "hashmatch_lookups",
            "Digests (single lookups and bulk items) matched, by verdict.",
            ["verdict"],
            registry=self.registry,
        )
        self._snapshot = snapshot

    def count_verdicts(self, counts: dict[str, int]) -> None:
        for verdict, n in counts.items():
            self.lookups.labels(verdict).inc(n)

    def render(self) -> bytes:
        """The exposition text: every worker's counters, and this worker's snapshot."""
        registry = CollectorRegistry()
        if _multiprocess_mode():
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            text = generate_latest(registry)
        else:
            text = generate_latest(self.registry)
        snapshot_registry = CollectorRegistry()
        snapshot_registry.register(_SnapshotCollector(self._snapshot))
        return text + generate_latest(snapshot_registry)


def _multiprocess_mode() -> bool:
    """Whether prometheus_client keeps its values in files shared by the workers.

    It decided when it was imported, from ``PROMETHEUS_MULTIPROC_DIR`` (which ``serve``
    sets for its workers); asking it, rather than the environment, keeps the answer in
    step with how the counters are really stored.
    """
    return values.ValueClass is not values.MutexValue


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], tuple[str, float] | None]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        found = self._snapshot()
        info = InfoMetricFamily("hashmatch_snapshot", "The snapshot this worker serves.")
        age = GaugeMetricFamily(
            "hashmatch_snapshot_age_seconds", "Seconds since the serving snapshot was built."
        )
        if found is not None:
            snapshot_id, built = found
            info.add_metric([], {"snapshot_id": snapshot_id})
            age.add_metric([], max(0.0, time.time() - built))
        yield info
        yield age


class ObserveMiddleware:
    """Counts and times every request by route template, logs it, and limits body size.

    ``limit_for(method, path)`` gives the largest body a request may send: one that says
    more in ``Content-Length`` is refused before it is read; one that streams more is cut
    off with the same 413 problem.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, limit_for: Callable[[str, str], int]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        status = 500
        limit = self.limit_for(method, scope["path"])

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        declared = _content_length(scope)
        try:
            if declared is not None and declared > limit:
                raise TooLarge(f"the request body is {declared} bytes; at most {limit}")
            await self.app(scope, _limited(receive, limit), sending)
        except TooLarge as exc:
            response = ProblemResponse(problem_for(exc), str(exc))
            await response(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", "unmatched"))
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            _access.info("%s %s %d %.1fms", method, template, status, elapsed * 1000)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receiving() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(f"the request body is over {limit} bytes")
        return message

    return receiving
