"""Stateless HTTP replicas: two ``hashmatch serve`` over one data directory and one catalog.

The scale-out design runs the HTTP service as replicas that keep no state of their own:
every replica reads the same data directory (snapshot files, list versions, the lock, the
audit head file) and the same catalog, so any replica answers any request, and a list
loaded through one replica serves in every replica within ``HASHMATCH_SNAPSHOT_POLL_SECONDS``
with no restart. This test runs that claim on one machine: two real servers (one worker
each, their own port and temporary folder), the catalog a SQLite file in the shared data
directory, and, when ``HASHMATCH_TEST_POSTGRES_URL`` names a PostgreSQL server, a fresh
PostgreSQL database made for the test and dropped after it.

What it checks: both replicas, started at the same moment, answer lookups from a list the
CLI loaded before they started; a delta loaded through replica A is answered by replica B
(never told) within a bounded wait, and the other way round; loads through both at once
are serialised by the lock on the shared data directory, none lost; both then serve the
same snapshot, the one the publish pointer names; a run checked through A has its report
served by B; a key made through A works on B and its revocation through B holds on A
within the key cache's two seconds; and the audit trail both replicas (and their lookup
flushes) wrote to is intact, counts every lookup once, and checks out with
``hashmatch audit verify`` after both have stopped.

The last two tests pin down two races the audit head file had with replicas (and with
two threads of one worker), each deterministically: the head moving back, and two
writers sharing one temporary file.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import CLOSE, LiveServer, clean_environment, cli, md5, running_server
from sqlalchemy import create_engine, make_url, text

from hashmatch.audit import AuditRecord
from hashmatch.config import Settings
from hashmatch.keys import Role
from hashmatch.service import Service

POSTGRES_URL = os.environ.get("HASHMATCH_TEST_POSTGRES_URL", "")
LIST = "synthetic-concern"
POLL_SECONDS = "0.25"
SPREAD_SECONDS = 30.0
"""The longest a load through one replica may take to serve in the other (the claim is
one poll interval; the rest is slack for a loaded 2-core machine)."""


def _fixture(n: int) -> str:
    return md5(f"synthetic-fixture-{n:03d}")


@contextmanager
def _fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the server of HASHMATCH_TEST_POSTGRES_URL; dropped after.

    A database of its own, not the scratch one: other PostgreSQL tests downgrade theirs
    to empty whenever they run, which must not pull the catalog from under two servers.
    """
    if not POSTGRES_URL.startswith("postgresql"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must start PostgreSQL and set HASHMATCH_TEST_POSTGRES_URL (.ci/run)")
        pytest.skip("set HASHMATCH_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    name = f"hm_replicas_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The one catalog both replicas share: a SQLite file in the shared data directory, or
    a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'catalog.sqlite'}"
        return
    with _fresh_postgres_database() as url:
        yield url


class Caller:
    """One API key's requests to any replica, over one HTTP client (a new connection each
    time), counting the lookups answered (the audit trail must count as many)."""

    def __init__(self, client: httpx.Client, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", **CLOSE}
        self.lookups = 0
        self._counting = threading.Lock()

    def get(self, server: LiveServer, path: str) -> Any:
        reply = self.client.get(f"{server.url}{path}", headers=self.headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def post(self, server: LiveServer, path: str, **request: Any) -> Any:
        reply = self.client.post(f"{server.url}{path}", headers=self.headers, **request)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def lookup(self, server: LiveServer, digest: str) -> str:
        verdict = str(self.get(server, f"/v1/lookup/md5/{digest}")["verdict"])
        with self._counting:
            self.lookups += 1
        return verdict

    def load_delta(self, server: LiveServer, digests: list[str]) -> dict[str, Any]:
        """A delta (``mode=add``) of ``digests`` loaded through ``server``'s API."""
        body = "".join(f"{digest}  added-{n}.bin\n" for n, digest in enumerate(digests))
        version: dict[str, Any] = self.post(
            server,
            f"/v1/lists/{LIST}/versions",
            params={"mode": "add", "format": "md5sum", "source_name": "synthetic-delta.md5"},
            content=body.encode(),
        )
        return version

    def seconds_until_known(self, server: LiveServer, digest: str) -> float:
        """How long ``server`` took to answer ``digest`` as known (fails after SPREAD_SECONDS)."""
        start = time.monotonic()
        while time.monotonic() - start < SPREAD_SECONDS:
            if self.lookup(server, digest) == "known":
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"{server.url} did not serve the new digest in {SPREAD_SECONDS} s")

    def snapshot_id(self, server: LiveServer) -> str:
        return str(self.get(server, "/v1/snapshot")["id"])


def _note(request: pytest.FixtureRequest, name: str, value: object) -> None:
    """Keep a measured time with the test's result (``user_properties``, as in a JUnit
    report of the legacy family)."""
    request.node.user_properties.append((name, value))


def _seconds_until_refused(server: LiveServer, caller: Caller) -> float:
    """How long until ``server`` refuses ``caller``'s (revoked) key (fails after 30 s)."""
    start = time.monotonic()
    while time.monotonic() - start < SPREAD_SECONDS:
        reply = caller.client.get(f"{server.url}/v1/snapshot", headers=caller.headers)
        if reply.status_code == 401:
            return time.monotonic() - start
        assert reply.status_code == 200, reply.text
        time.sleep(0.05)
    raise AssertionError(f"{server.url} still accepts a revoked key after {SPREAD_SECONDS} s")


def _start_together(tmp_path: Path, env: dict[str, str], stack: ExitStack) -> list[LiveServer]:
    """Replicas ``a`` and ``b``, started at the same time (as a deployment rolls them out:
    both prepare the serving snapshot at once), each stopped when ``stack`` closes."""
    starting = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        starting.append(running_server(tmp_path / name, env, workers=1))
    with ThreadPoolExecutor(max_workers=len(starting)) as pool:
        entered = [pool.submit(manager.__enter__) for manager in starting]
    servers: list[LiveServer] = []
    failure: BaseException | None = None
    for manager, future in zip(starting, entered, strict=True):
        try:
            servers.append(future.result())
        except BaseException as exc:  # that one stopped itself; stop the others too
            failure = failure or exc
            continue
        stack.push(manager)
    if failure is not None:
        raise failure
    return servers


@pytest.mark.slow
def test_two_replicas_share_one_home_and_one_catalog(
    tmp_path: Path, catalog_url: str, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "home"
    env = clean_environment(
        home=str(home),
        database_url=catalog_url,
        snapshot_poll_seconds=POLL_SECONDS,
        operator="replica-tester",
    )
    # 1. Before any replica starts: a list, its first version, and a key, by the CLI.
    listed = tmp_path / "synthetic-concern.md5"
    listed.write_text("".join(f"{_fixture(n)}  f{n}.bin\n" for n in range(50)), "utf-8")
    cli(env, "lists", "add", LIST, "--purpose", "concern", cwd=tmp_path)
    cli(env, "ingest", LIST, str(listed), cwd=tmp_path)
    roles = [f"--role={role}" for role in ("intake", "examiner", "curator", "auditor", "admin")]
    made = json.loads(
        cli(env, "keys", "create", "--name", "replica test", *roles, "--json", cwd=tmp_path)
    )
    fixtures = [_fixture(n) for n in (1, 2, 3)]
    via_a, via_b = _fixture(900), _fixture(901)  # loaded later, through one replica each
    unlisted = md5("synthetic-unmatched-000")

    with ExitStack() as stack, httpx.Client(timeout=120) as client:
        a, b = _start_together(tmp_path, env, stack)
        caller = Caller(client, str(made["token"]))

        # 2. Either replica answers from the list the CLI loaded.
        for server in (a, b):
            assert caller.lookup(server, _fixture(7)) == "known"
            assert caller.lookup(server, unlisted) == "unknown"
            assert caller.lookup(server, via_a) == "unknown"
            assert caller.lookup(server, via_b) == "unknown"
        first = caller.snapshot_id(a)
        assert caller.snapshot_id(b) == first

        # 3. A delta through A serves in A at once, and in B, which was never told ...
        assert caller.load_delta(a, [via_a])["number"] == 2
        assert caller.lookup(a, via_a) == "known"
        _note(request, "a_to_b_seconds", round(caller.seconds_until_known(b, via_a), 3))
        # ... and the other way round: B writes, A follows.
        assert caller.load_delta(b, [via_b])["number"] == 3
        assert caller.lookup(b, via_b) == "known"
        _note(request, "b_to_a_seconds", round(caller.seconds_until_known(a, via_b), 3))

        # Two curators load through both replicas at the same moment: the lock on the
        # shared data directory serialises them, and neither load is lost.
        both = [_fixture(902), _fixture(903)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            loads = list(pool.map(caller.load_delta, (a, b), [[both[0]], [both[1]]]))
        assert sorted(version["number"] for version in loads) == [4, 5]
        for server in (a, b):
            for digest in both:
                caller.seconds_until_known(server, digest)

        # 4. Both serve the same snapshot: the one the shared publish pointer names.
        published = json.loads((home / "snapshots" / "current.json").read_text("utf-8"))["id"]
        assert published != first
        assert caller.snapshot_id(a) == caller.snapshot_id(b) == published

        # Any replica answers any request: a run checked through A, its report from B ...
        manifest = "".join(f"{d}  case/f{n}.bin\n" for n, d in enumerate([*fixtures, unlisted]))
        run = caller.post(
            a,
            "/v1/runs",
            params={"case_ref": "synthetic-case", "name": "synthetic.md5", "format": "md5sum"},
            content=manifest.encode(),
        )
        counts = run["counts"]
        assert (counts["known"], counts["unknown"], counts["total"]) == (3, 1, 4)
        assert caller.get(b, f"/v1/runs/{run['run_id']}")["snapshot_id"] == published
        assert len(caller.get(b, f"/v1/runs/{run['run_id']}/report?format=json")["rows"]) == 4
        html = client.get(f"{b.url}{run['links']['report_html']}", headers=caller.headers)
        assert html.status_code == 200
        assert "synthetic-case" in html.text
        # ... a key made through A works at once on B, and its revocation through B holds
        # on A within the key cache's two seconds.
        spare = caller.post(a, "/v1/keys", json={"name": "spare", "roles": ["intake"]})
        other = Caller(client, str(spare["token"]))
        assert other.lookup(b, via_a) == "known"
        assert other.lookup(a, via_b) == "known"
        revoked = client.delete(f"{b.url}/v1/keys/{spare['key_id']}", headers=caller.headers)
        assert revoked.status_code == 200, revoked.text
        refused = _seconds_until_refused(a, other)
        _note(request, "revocation_seconds", round(refused, 3))
        assert refused < 2.0 + 3.0  # the key cache's two seconds, and slack

        # Lookups on both at once: each replica's worker flushes its own match records
        # into the one chain every second, concurrently.
        def ask(n: int) -> str:
            return caller.lookup((a, b)[n % 2], _fixture(n % 50) if n % 3 else unlisted)

        with ThreadPoolExecutor(max_workers=4) as pool:
            verdicts = list(pool.map(ask, range(600)))
        assert verdicts.count("unknown") == len(range(0, 600, 3))
        assert verdicts.count("known") == 600 - verdicts.count("unknown")

        # 5. The audit trail both replicas wrote to is intact, as either of them sees it.
        for server in (a, b):
            check = caller.get(server, "/v1/audit/verify")
            assert check["intact"] is True, check
            assert check["problems"] == []
        assert a.stop() == 0
        assert b.stop() == 0

    # After both stopped (each flushed what it still held): the CLI checks the chain and
    # its end against the head file, and finds both replicas' records in it.
    assert "audit trail intact" in cli(env, "audit", "verify", cwd=tmp_path)
    shown = cli(env, "audit", "show", "--json", cwd=tmp_path)
    records = [json.loads(line) for line in shown.splitlines()]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    ingests = [r for r in records if r["action"] == "ingest"]
    by_key = f"key:{made['key_id']} (replica test)"
    assert [r["actor"] for r in ingests] == ["replica-tester", *[by_key] * 4]
    assert [r["details"]["version"] for r in ingests] == [1, 2, 3, 4, 5]
    # every lookup either replica answered is counted once: none lost, none twice
    looked_up = sum(r["details"]["items"] for r in records if r["action"] == "match")
    assert looked_up == caller.lookups + other.lookups
    # The head file names the chain's last record: it never goes back (see below).
    head = json.loads((home / "audit-head.json").read_text("utf-8"))
    assert head["seq"] == len(records)
    assert head["hash"] == records[-1]["hash"]


def test_the_audit_head_never_goes_back_when_two_replicas_append_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services on one data directory and catalog (two replicas, here in one process)
    flush their match records at the same moment; the first to commit is the last to
    write the head file (descheduled between the two, as a loaded machine does)."""
    home = tmp_path / "home"
    with (
        Service(Settings(home=home, operator="replica-a")) as first,
        Service(Settings(home=home, operator="replica-b")) as second,
    ):
        committed, resume = threading.Event(), threading.Event()
        write_head = first._write_head

        def paused_write_head(record: AuditRecord) -> None:
            committed.set()
            resume.wait(30)
            write_head(record)

        monkeypatch.setattr(first, "_write_head", paused_write_head)
        counts = {"unknown": 1}
        first.note_matches(kind="match", actor="api", snapshot_id="s", counts=counts)
        second.note_matches(kind="match", actor="api", snapshot_id="s", counts=counts)
        flushing = threading.Thread(target=first.flush_match_audit)
        flushing.start()
        try:
            assert committed.wait(30)
            assert second.flush_match_audit() == 1  # seq 2, and the head file says so
        finally:
            resume.set()
            flushing.join(30)
        verdict = second.audit_verify()
    assert verdict.ok  # the chain itself is intact either way
    assert verdict.last is not None
    assert verdict.head is not None
    assert verdict.head.seq == verdict.last.seq == 2, verdict.head


def test_two_threads_of_one_worker_write_the_audit_head_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush loop's head write is descheduled in the middle of renaming its temporary
    file; meanwhile a request's audited action commits its record and waits for the head
    (it used to write the same temporary file, and one of the two failed after its record
    was committed). Neither fails, and the head ends on the last record."""
    home = tmp_path / "home"
    real_replace = os.replace
    renaming, resume = threading.Event(), threading.Event()

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if Path(target).name == "audit-head.json" and not renaming.is_set():
            renaming.set()  # the first head write (the flush loop's) pauses here
            resume.wait(30)
        real_replace(source, target)

    with Service(Settings(home=home, operator="replica")) as service:
        service.note_matches(kind="match", actor="api", snapshot_id="s", counts={"known": 1})
        monkeypatch.setattr(os, "replace", replace)
        failures: list[BaseException] = []

        def run(action: Any) -> None:
            try:
                action()
            except BaseException as exc:
                failures.append(exc)

        flushing = threading.Thread(target=run, args=(service.flush_match_audit,))
        flushing.start()
        assert renaming.wait(30)
        making = threading.Thread(
            target=run, args=(lambda: service.create_key("made meanwhile", [Role.INTAKE]),)
        )
        making.start()
        try:
            deadline = time.monotonic() + 30
            while len(service.audit_records()) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(service.audit_records()) == 2  # committed while the head was busy
            assert making.is_alive()  # and waiting for the head, not failing
        finally:
            resume.set()
            flushing.join(30)
            making.join(30)
        monkeypatch.undo()
        verdict = service.audit_verify()
    assert not failures, failures
    assert verdict.ok
    assert verdict.last is not None
    assert verdict.head is not None
    assert verdict.head.seq == verdict.last.seq == 2
