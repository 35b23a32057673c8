"""``hashmatch serve``: the HTTP API under uvicorn, in several worker processes.

Mounted by :mod:`hashmatch.cli.app`. The command builds the settings (the one place the
CLI does), prepares the serving snapshot once so that the workers do not race to build
it, and starts uvicorn on the app factory ``hashmatch.web.app:create_app``. Each worker
is a fresh process that builds its own :class:`~hashmatch.config.Settings`: the resolved
values reach it as ``HASHMATCH_*`` variables of the environment it inherits, so a
``--home`` given on the command line holds in the workers too.

The workers share their Prometheus counters through a fresh ``PROMETHEUS_MULTIPROC_DIR``
(a temporary folder, removed when the server stops). uvicorn's own access log is off: it
would print request paths, and a path can hold a queried digest. The app's access log
(logger ``hashmatch.web.access``) prints route templates instead, on standard output.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from hashmatch.cli.app import _service, _settings, app, err, handled, out
from hashmatch.config import parse_schedule
from hashmatch.exchange_sync import FetchScheduler
from hashmatch.urls import is_loopback

if TYPE_CHECKING:
    from hashmatch.config import Settings
    from hashmatch.exchange_sync import FetchOutcome

__all__ = ["APP_FACTORY", "log_config", "serve", "worker_environment"]

APP_FACTORY = "hashmatch.web.app:create_app"
"""What each uvicorn worker imports and calls to build its app."""

_GRACEFUL_SECONDS = 10
"""How long a stopping worker lets requests in flight finish."""


@app.command()
@handled
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on. Default: HASHMATCH_SERVE_HOST (127.0.0.1, loopback "
            "only). Anything else is reachable from the network: there is no TLS, so put a "
            "TLS-terminating proxy in front.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Port. Default: HASHMATCH_SERVE_PORT (8750); 0 picks a free one.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes; they share the memory-mapped snapshot. "
            "Default: HASHMATCH_SERVE_WORKERS (2).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the HTTP API (FastAPI under uvicorn) over this data directory and catalog.

    Every /v1 route needs an API key ('Authorization: Bearer TOKEN'); make keys with
    'hashmatch keys create'. /healthz, /readyz and /metrics need none. A list loaded or
    rolled back while the server runs (over the API or with 'hashmatch ingest') is
    served within HASHMATCH_SNAPSHOT_POLL_SECONDS, without a restart and without failing
    a request in flight. Stop it with Ctrl-C or SIGTERM: requests in flight finish first.

    Examples:

      hashmatch serve

      hashmatch serve --port 9000 --workers 4

      HASHMATCH_DATABASE_URL=postgresql+psycopg://hm@db/hashmatch hashmatch serve --host 0.0.0.0

      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8750/v1/lookup/md5/<digest>
    """
    import uvicorn

    settings = _settings()
    host = host if host is not None else settings.serve_host
    port = port if port is not None else settings.serve_port
    workers = workers if workers is not None else settings.serve_workers
    if port == 0:
        port = _free_port(host)
    with _service(settings) as service:
        snapshot = service.prepare_serving()
    url = f"http://{_url_host(host)}:{port}"
    out.print(
        f"hashmatch API on [bold]{url}[/] ({workers} worker{'s' if workers > 1 else ''}), "
        f"data directory {escape(str(settings.home))}, catalog {_dialect(settings)}",
        highlight=False,
    )
    if snapshot is None:
        out.print(
            "no list is loaded yet: /readyz answers 503 until a curator loads one "
            "(POST /v1/lists/{name}/versions, or 'hashmatch ingest')",
            highlight=False,
        )
    else:
        out.print(
            f"serving snapshot {snapshot.id} built {snapshot.built_at:%Y-%m-%d %H:%M:%S UTC}",
            highlight=False,
        )
    out.print(
        "API keys: make one with 'hashmatch keys create --name NAME --role intake' and send "
        f"it as 'Authorization: Bearer TOKEN'; documentation at {url}/docs",
        highlight=False,
    )
    if not is_loopback(host):
        err.print(
            f"[yellow]warning:[/] listening on {escape(host)}, beyond this machine, without "
            "TLS: API keys and digests cross the network in the clear. Put a "
            "TLS-terminating proxy in front and let only it reach this port.",
            highlight=False,
        )
    schedule = parse_schedule(settings.exchange_schedule)
    if schedule:
        out.print(
            "fetching exchanges in the background: "
            + ", ".join(f"{escape(name)} every {every}" for name, every in schedule.items()),
            highlight=False,
        )
    scheduler = FetchScheduler(schedule, functools.partial(_fetch_exchange, settings))
    metrics_dir = tempfile.mkdtemp(prefix="hashmatch-metrics-")
    environment = {**worker_environment(settings), "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    try:
        scheduler.start()
        with _environment(environment), _stopped_by_signals():
            uvicorn.run(
                APP_FACTORY,
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=False,
                log_config=log_config(),
                timeout_graceful_shutdown=_GRACEFUL_SECONDS,
                server_header=False,
            )
    finally:
        # A fetch still running is let go after this: its journal lets the next one go on.
        scheduler.stop(_GRACEFUL_SECONDS)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _fetch_exchange(settings: Settings, name: str) -> FetchOutcome:
    """One scheduled fetch, with its own service (run in the scheduler's thread)."""
    with _service(settings) as service:
        return service.exchange_fetch(name)


_NOT_FOR_WORKERS = frozenset({"exchange_password", "exchange_schedule"})
"""Settings the workers never need: the exchange password (fetches run in the parent
process only), and the schedule (one scheduler, not one per worker)."""


def worker_environment(settings: Settings) -> dict[str, str | None]:
    """``HASHMATCH_*`` variables that rebuild ``settings`` in a worker process.

    None means "unset it": the worker then takes the default, as this process did. The
    exchange password and schedule are unset: workers neither fetch nor schedule.
    """
    values = settings.model_dump(mode="json", exclude=set(_NOT_FOR_WORKERS))
    values.update(dict.fromkeys(_NOT_FOR_WORKERS))
    return {
        f"HASHMATCH_{name.upper()}": (
            None if value is None else value if isinstance(value, str) else json.dumps(value)
        )
        for name, value in values.items()
    }


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up, plus hashmatch's loggers.

    ``hashmatch.web.access`` (one line per request: method, route template, status,
    time) goes to standard output, where uvicorn's access log would have gone;
    ``hashmatch`` (warnings and errors, such as a failed audit append) to standard error.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = json.loads(json.dumps(LOGGING_CONFIG))
    config["handlers"]["hashmatch_access"] = {
        "formatter": "default",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["hashmatch"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"]["hashmatch.web.access"] = {
        "handlers": ["hashmatch_access"],
        "level": "INFO",
        "propagate": False,
    }
    return config


class _Stop(Exception):
    """SIGTERM or SIGINT, raised again by uvicorn once it has shut down."""


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Treat SIGTERM and SIGINT as a clean stop: the command returns (exit status 0).

    A single uvicorn server, once it has shut down on a signal, raises that signal again
    for the handler it found; left to the default handler, SIGTERM would end the process
    before the metrics folder is removed. (Several workers run under uvicorn's
    supervisor, which returns normally.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables; put them back afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _dialect(settings: Settings) -> str:
    """The catalog's database kind (``sqlite``, ``postgresql``): never its password."""
    return settings.catalog_url.split(":", 1)[0].split("+", 1)[0]


def _free_port(host: str) -> int:
    """A port free on ``host`` now (for ``--port 0``; every worker must share one port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
