"""Helpers for the tests that run the real server: ``hashmatch serve`` in a subprocess.

:func:`running_server` starts ``python -m hashmatch serve`` on a free loopback port with
its own data directory and temporary folder, waits until it answers, and always stops it
(SIGTERM, then SIGKILL to its whole process group) when the test ends, passed or not.

Which worker answered a request is not in the reply; it is in the Prometheus
multiprocess folder that ``serve`` creates under the server's temporary folder, where
each worker keeps its counters in a file named by its pid. :meth:`LiveServer.requests_by_worker`
reads those files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict

START_SECONDS = 180.0
"""How long a server may take to answer /healthz (workers import numpy, pyarrow, FastAPI
and SQLAlchemy; a loaded 2-core CI machine is slow at it)."""

STOP_SECONDS = 60.0

CLOSE = {"Connection": "close"}
"""Headers that make each request a new connection, which any worker may accept."""


def md5(name: str) -> str:
    """The MD5 of a synthetic string: ``md5("synthetic-fixture-001")``."""
    return hashlib.md5(name.encode()).hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any HASHMATCH_* of the developer's, plus
    ``settings`` (``home="..."`` becomes ``HASHMATCH_HOME``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHMATCH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({f"HASHMATCH_{name.upper()}": value for name, value in settings.items()})
    env["COLUMNS"] = "200"
    return env


def cli(env: Mapping[str, str], *args: str, cwd: Path) -> str:
    """Run ``hashmatch ARGS`` and return its standard output (fails the test on an error)."""
    done = subprocess.run(
        [sys.executable, "-m", "hashmatch", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"hashmatch {' '.join(args)}: {done.stderr}"
    return done.stdout


@dataclass
class LiveServer:
    """A running ``hashmatch serve``."""

    process: subprocess.Popen[bytes]
    url: str
    tmp: Path
    """The server's TMPDIR: its metrics folder is made here."""
    stdout: Path
    stderr: Path

    def output(self) -> str:
        """Everything the server printed so far, standard output and error."""
        return self.stdout.read_text("utf-8", "replace") + self.stderr.read_text("utf-8", "replace")

    def metrics_dirs(self) -> list[Path]:
        return sorted(self.tmp.glob("hashmatch-metrics-*"))

    def requests_by_worker(self, route: str) -> dict[int, float]:
        """Requests each worker (by pid) has answered on ``route`` (a template), so far."""
        counts: dict[int, float] = {}
        for folder in self.metrics_dirs():
            for path in folder.glob("counter_*.db"):
                pid = int(path.stem.rsplit("_", 1)[1])
                total = 0.0
                for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
                    if '"hashmatch_http_requests_total"' in key and f'"{route}"' in key:
                        total += value
                counts[pid] = total
        return counts

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_SECONDS)


@contextlib.contextmanager
def running_server(
    tmp_path: Path, env: Mapping[str, str], *, workers: int = 2
) -> Iterator[LiveServer]:
    """``hashmatch serve --workers N`` on a free port, stopped (and killed if need be) at exit."""
    tmp = tmp_path / "server-tmp"
    tmp.mkdir(exist_ok=True)
    port = free_port()
    stdout = tmp_path / "server.out"
    stderr = tmp_path / "server.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hashmatch",
                "serve",
                "--workers",
                str(workers),
                "--port",
                str(port),
            ],
            env={**env, "TMPDIR": str(tmp)},
            cwd=tmp_path,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: workers are killed with it
        )
    server = LiveServer(
        process=process, url=f"http://127.0.0.1:{port}", tmp=tmp, stdout=stdout, stderr=stderr
    )
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_SECONDS)
        if process.poll() is None or process.returncode != 0:
            # hung, or died without stopping its workers: end its whole process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"hashmatch serve exited at start:\n{server.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"hashmatch serve did not answer in {START_SECONDS} s:\n{server.output()}")
