"""``hashmatch serve``: the real server in a subprocess, and the command's own set-up.

The first test starts ``hashmatch serve --workers 2`` and checks what an operator relies
on: it answers health and readiness, both workers serve and count into one set of
metrics, SIGTERM stops it cleanly (workers gone, metrics folder removed), and its log
names route templates, never a queried digest or a token. The others run the command
in-process with uvicorn replaced, to check what it hands the workers.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import uvicorn
from live_server import CLOSE, clean_environment, md5, running_server
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from hashmatch.cli.app import app
from hashmatch.cli.serve import APP_FACTORY
from hashmatch.config import Settings
from hashmatch.keys import Role
from hashmatch.model import Purpose
from hashmatch.service import Service

LOOKUP = "/v1/lookup/{algorithm}/{digest}"


def _prepare(home: Path, tmp_path: Path) -> str:
    """A data directory with one synthetic concern list and an intake key; the token."""
    listed = tmp_path / "synthetic-concern.md5"
    listed.write_text(
        "".join(f"{md5(f'synthetic-fixture-{n:03d}')}  f{n}.bin\n" for n in range(50)), "utf-8"
    )
    with Service(Settings(home=home, operator="tester")) as service:
        service.add_list("synthetic-concern", Purpose.CONCERN)
        service.ingest("synthetic-concern", listed)
        _key, token = service.create_key("serve test", [Role.INTAKE])
    return token


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@pytest.mark.slow
def test_the_real_server_answers_on_both_workers_and_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    token = _prepare(home, tmp_path)
    auth = {"Authorization": f"Bearer {token}", **CLOSE}
    queried: list[str] = []
    with running_server(tmp_path, clean_environment(home=str(home))) as server:
        health = httpx.get(f"{server.url}/healthz", timeout=30)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        assert ready.json()["snapshot_id"]

        def ask(n: int) -> None:
            known = n % 3 == 0
            digest = md5(f"synthetic-fixture-{n % 50:03d}" if known else f"synthetic-unmatched-{n}")
            queried.append(digest)
            reply = httpx.get(f"{server.url}/v1/lookup/md5/{digest}", headers=auth, timeout=60)
            assert reply.status_code == 200, reply.text
            assert reply.json()["verdict"] == ("known" if known else "unknown")

        # New connections from several threads, until each worker has answered some.
        sent = 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            while sent < 2_000:
                list(pool.map(ask, range(sent, sent + 40)))
                sent += 40
                if len([c for c in server.requests_by_worker(LOOKUP).values() if c > 0]) >= 2:
                    break
        by_worker = server.requests_by_worker(LOOKUP)
        assert len([c for c in by_worker.values() if c > 0]) == 2, by_worker
        assert sum(by_worker.values()) == sent
        children = psutil.Process(server.process.pid).children()
        assert set(by_worker) <= {child.pid for child in children}

        # Whichever worker answers the scrape counts both workers' requests.
        metrics = httpx.get(f"{server.url}/metrics", timeout=30)
        assert metrics.status_code == 200
        assert _sample(
            metrics.text,
            "hashmatch_http_requests_total",
            method="GET",
            route=LOOKUP,
            status="200",
        ) == float(sent)
        assert _sample(metrics.text, "hashmatch_lookups_total", verdict="known") == float(
            len(range(0, sent, 3))
        )

        assert server.stop() == 0
        # the workers (and multiprocessing's helper process) are gone with it
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == []
        assert server.metrics_dirs() == []
    output = server.output()
    assert f"GET {LOOKUP} 200" in output
    assert "GET /readyz 200" in output
    leaked = [digest for digest in queried if digest in output]
    assert leaked == [], "the server's log holds queried digests"
    assert token not in output
    assert "Shutting down" in output


# The command itself, with uvicorn replaced


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """uvicorn.run replaced by a recorder of its arguments and the workers' environment."""
    for name in list(os.environ):
        if name.startswith("HASHMATCH_") or name == "PROMETHEUS_MULTIPROC_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HASHMATCH_OPERATOR", "serve-tester")
    monkeypatch.setenv("HASHMATCH_SNAPSHOT_POLL_SECONDS", "0.25")
    monkeypatch.chdir(tmp_path)
    calls: list[dict[str, Any]] = []

    def run(target: str, **options: Any) -> None:
        metrics = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        calls.append(
            {
                "target": target,
                "options": options,
                "env": {k: v for k, v in os.environ.items() if k.startswith("HASHMATCH_")},
                "metrics_dir": metrics,
                "metrics_dir_existed": metrics.is_dir(),
                "worker_settings": Settings(),  # what a worker builds from its environment
            }
        )

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_serve_hands_the_workers_its_settings_and_a_fresh_metrics_folder(
    serve_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    home = tmp_path / "elsewhere"
    code, output = _invoke("--home", str(home), "serve", "--port", "18999", "--workers", "3")
    assert code == 0, output
    (call,) = serve_calls
    assert call["target"] == APP_FACTORY
    options = call["options"]
    assert options["factory"] is True
    assert options["access_log"] is False  # it would print paths, which hold digests
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 18999, 3)
    loggers = options["log_config"]["loggers"]
    assert loggers["hashmatch.web.access"]["level"] == "INFO"
    worker: Settings = call["worker_settings"]
    assert worker.home == home  # --home reaches the workers, which read no command line
    assert worker.operator == "serve-tester"
    assert worker.snapshot_poll_seconds == 0.25
    assert worker.database_url is None
    assert worker == Settings(home=home)
    assert call["env"]["HASHMATCH_HOME"] == str(home)
    assert call["metrics_dir_existed"]
    assert not call["metrics_dir"].exists()  # removed when the server stops
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert "HASHMATCH_HOME" not in os.environ  # the environment is put back
    assert "http://127.0.0.1:18999" in output
    assert "hashmatch keys create" in output
    assert "no list is loaded yet" in output
    assert "TLS" not in output


def test_serve_passes_the_database_url_and_defaults_from_the_settings(
    serve_calls: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    monkeypatch.setenv("HASHMATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HASHMATCH_DATABASE_URL", url)
    monkeypatch.setenv("HASHMATCH_SERVE_PORT", "18998")
    monkeypatch.setenv("HASHMATCH_SERVE_WORKERS", "4")
    code, output = _invoke("serve")
    assert code == 0, output
    (call,) = serve_calls
    assert (call["options"]["port"], call["options"]["workers"]) == (18998, 4)
    assert call["worker_settings"].database_url == url
    assert "catalog sqlite" in output
    assert (tmp_path / "shared.sqlite").exists()  # opened (and migrated) before the start


@pytest.mark.parametrize(
    ("host", "warned"), [("0.0.0.0", True), ("::", True), ("localhost", False), ("::1", False)]
)
def test_serve_warns_that_there_is_no_tls_beyond_loopback(
    serve_calls: list[dict[str, Any]], tmp_path: Path, host: str, warned: bool
) -> None:
    code, output = _invoke("--home", str(tmp_path / "home"), "serve", "--host", host)
    assert code == 0, output
    assert ("without TLS" in output) is warned
    assert serve_calls[0]["options"]["host"] == host


def test_serve_port_zero_picks_a_free_port(
    serve_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    code, output = _invoke("--home", str(tmp_path / "home"), "serve", "--port", "0")
    assert code == 0, output
    port = serve_calls[0]["options"]["port"]
    assert port > 0
    assert f"http://127.0.0.1:{port}" in output


def test_serve_prepares_the_snapshot_once_before_the_workers_start(
    serve_calls: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    _prepare(home, tmp_path)
    prepared: list[str | None] = []
    original: Callable[[Service], Any] = Service.prepare_serving

    def prepare(service: Service) -> Any:
        snapshot = original(service)
        prepared.append(None if snapshot is None else snapshot.id)
        return snapshot

    monkeypatch.setattr(Service, "prepare_serving", prepare)
    code, output = _invoke("--home", str(home), "serve")
    assert code == 0, output
    assert len(prepared) == 1
    assert prepared[0] is not None
    assert f"serving snapshot {prepared[0]}" in output


def test_a_single_worker_stopped_by_sigterm_still_cleans_up(
    serve_calls: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn (one worker) raises the signal again after its shutdown, as here."""
    record = uvicorn.run

    def run_then_signal(target: str, **options: Any) -> None:
        record(target, **options)
        # the default action would end the test run here, as it would end the server
        # before it removed its metrics folder
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, before)
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(uvicorn, "run", run_then_signal)
    before = signal.getsignal(signal.SIGTERM)
    code, output = _invoke("--home", str(tmp_path / "home"), "serve", "--workers", "1")
    assert code == 0, output
    assert serve_calls[0]["options"]["workers"] == 1
    assert not serve_calls[0]["metrics_dir"].exists()
    assert signal.getsignal(signal.SIGTERM) == before
