"""Issue 5, done means: the real server, end to end, on SQLite and on PostgreSQL.

One test, run once per catalog: keys are made with the CLI; ``hashmatch serve --workers
2`` starts; a curator creates a list and loads a synthetic md5sum file over HTTP; intake
matches single, JSON bulk and Arrow bulk; then a load loop of single and bulk requests
runs while the curator publishes a delta, and no request may fail, every bulk answer
must come from one snapshot, and the new digests must be ``known`` on every worker within
``snapshot_poll_seconds`` (plus a margin) of the publish. Last, an auditor reads the audit
trail: intact, with the ingests, the keys and the match requests, and without a token or
a queried digest anywhere in it.

PostgreSQL: ``HASHMATCH_TEST_POSTGRES_URL`` names a scratch database, which the test
empties before and after. Without it the PostgreSQL run is skipped, except under CI
(``CI=true``), where it fails: CI must run both.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from live_server import CLOSE, LiveServer, clean_environment, md5, running_server

from hashmatch.keys import hash_token
from hashmatch.store import SqlCatalog, _migrate

POSTGRES_URL = os.environ.get("HASHMATCH_TEST_POSTGRES_URL", "")
ARROW = "application/vnd.apache.arrow.stream"
LIST = "synthetic-concern"
LOOKUP = "/v1/lookup/{algorithm}/{digest}"
POLL_SECONDS = 0.2
SWITCH_MARGIN = 1.0
"""Beyond the poll interval, how long after the publish's reply a request may still be
answered from the old snapshot: clocks, scheduling on a busy 2-core machine."""

FIRST = range(0, 1_000)
DELTA = range(1_000, 1_100)
ROLES = ("curator", "intake", "auditor", "admin")


def fixture(n: int) -> str:
    return md5(f"synthetic-fixture-{n:03d}")


def unmatched(tag: str) -> str:
    return md5(f"synthetic-unmatched-{tag}")


def md5sum(numbers: range) -> bytes:
    return "".join(f"{fixture(n)}  synthetic/{n}.bin\n" for n in numbers).encode()


def _empty(url: str) -> None:
    scratch = SqlCatalog(url)
    try:
        _migrate.downgrade(scratch.engine, "base")
    finally:
        scratch.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The server's and the CLI's environment: a fresh data directory, on each catalog."""
    settings = {
        "home": str(tmp_path / "home"),
        "operator": "api-test",
        "snapshot_poll_seconds": str(POLL_SECONDS),
    }
    if request.param == "sqlite":
        yield clean_environment(**settings)
        return
    if not POSTGRES_URL.startswith("postgresql"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must start PostgreSQL and set HASHMATCH_TEST_POSTGRES_URL (.ci/run)")
        pytest.skip("set HASHMATCH_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    _empty(POSTGRES_URL)
    try:
        yield clean_environment(**settings, database_url=POSTGRES_URL)
    finally:
        _empty(POSTGRES_URL)


def _create_keys(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """One key per role, made with ``hashmatch keys create --json``: role -> token."""

    def start(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hashmatch",
                "keys",
                "create",
                "--name",
                f"synthetic {role}",
                "--role",
                role,
                "--json",
            ],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    tokens: dict[str, str] = {}

    def finish(role: str, process: subprocess.Popen[str]) -> None:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        made = json.loads(out)
        assert made["roles"] == [role]
        tokens[role] = made["token"]

    # The first one creates the catalog alone; the others run side by side.
    finish(ROLES[0], start(ROLES[0]))
    started = [(role, start(role)) for role in ROLES[1:]]
    for role, process in started:
        finish(role, process)
    return tokens


@dataclass
class Client:
    """Requests as one key, each on a new connection (so that any worker may take it)."""

    server: LiveServer
    token: str

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **CLOSE, **(extra or {})}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.server.url + path, params=params, headers=self._headers(), timeout=60)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = self._headers(kwargs.pop("headers", None))
        return httpx.post(self.server.url + path, headers=headers, timeout=120, **kwargs)


def _arrow(columns: dict[str, list[str | None]]) -> bytes:
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _read_arrow(body: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(body)).read_all()


@dataclass
class Load:
    """What the load loop saw: every request's kind, send time and outcome."""

    failures: list[str] = field(default_factory=list)
    answers: list[tuple[str, float, float, bool | None]] = field(default_factory=list)
    """(kind, sent at, answered at, were the delta digests known: None if it held none)."""
    queried: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, sent: float, delta_known: bool | None) -> None:
        answered = time.monotonic()
        with self.lock:
            self.answers.append((kind, sent, answered, delta_known))

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def _single(intake: Client, load: Load, n: int) -> None:
    """One lookup: an old known digest, an unmatched one, or one of the delta."""
    which = n % 3
    digest = (
        fixture(FIRST[n % len(FIRST)])
        if which == 0
        else unmatched(f"load-{n}")
        if which == 1
        else fixture(DELTA[n % len(DELTA)])
    )
    load.queried.add(digest)
    sent = time.monotonic()
    reply = intake.get(f"/v1/lookup/md5/{digest}")
    if reply.status_code != 200:
        load.fail(f"lookup: {reply.status_code} {reply.text[:200]}")
        return
    verdict = reply.json()["verdict"]
    expected = {0: {"known"}, 1: {"unknown"}, 2: {"known", "unknown"}}[which]
    if verdict not in expected:
        load.fail(f"lookup of a {('old', 'unmatched', 'delta')[which]} digest: {verdict}")
    load.record("single", sent, (verdict == "known") if which == 2 else None)


def _bulk_items(n: int, size: int = 300) -> list[dict[str, str]]:
    items = []
    for i in range(size):
        if i % 3 == 0:
            digest = fixture(FIRST[(n * size + i) % len(FIRST)])
        elif i % 3 == 1:
            digest = unmatched(f"bulk-{n}-{i}")
        else:
            digest = fixture(DELTA[(n + i) % len(DELTA)])
        items.append({"id": f"{n}-{i}", "md5": digest})
    return items


def _check_bulk(load: Load, kind: str, sent: float, ids: list[str], verdicts: list[str]) -> None:
    """A bulk answer: in order, old known, unmatched unknown, the delta all one way."""
    n_items = len(ids)
    if ids != [f"{ids[0].split('-')[0]}-{i}" for i in range(n_items)]:
        load.fail(f"{kind}: results out of order")
        return
    old = {verdicts[i] for i in range(0, n_items, 3)}
    missing = {verdicts[i] for i in range(1, n_items, 3)}
    delta = {verdicts[i] for i in range(2, n_items, 3)}
    if old != {"known"} or missing != {"unknown"} or len(delta) != 1:
        load.fail(f"{kind}: old {old}, unmatched {missing}, delta {delta} (one snapshot?)")
        return
    load.record(kind, sent, delta == {"known"})


def _bulk_json(intake: Client, load: Load, n: int) -> None:
    items = _bulk_items(n)
    load.queried.update(item["md5"] for item in items)
    sent = time.monotonic()
    reply = intake.post("/v1/match", json={"items": items})
    if reply.status_code != 200:
        load.fail(f"bulk JSON: {reply.status_code} {reply.text[:200]}")
        return
    results = reply.json()["results"]
    _check_bulk(load, "json", sent, [r["id"] for r in results], [r["verdict"] for r in results])


def _bulk_arrow(intake: Client, load: Load, n: int) -> None:
    items = _bulk_items(n + 10_000)
    load.queried.update(item["md5"] for item in items)
    body = _arrow({"id": [i["id"] for i in items], "md5": [i["md5"] for i in items]})
    sent = time.monotonic()
    reply = intake.post("/v1/match/arrow", content=body, headers={"Content-Type": ARROW})
    if reply.status_code != 200:
        load.fail(f"bulk Arrow: {reply.status_code} {reply.text[:200]}")
        return
    table = _read_arrow(reply.content)
    _check_bulk(
        load,
        "arrow",
        sent,
        table.column("id").to_pylist(),
        table.column("verdict").to_pylist(),
    )


def _loop(
    step: Callable[[Client, Load, int], None], intake: Client, load: Load, stop: threading.Event
) -> None:
    n = 0
    while not stop.is_set():
        try:
            step(intake, load, n)
        except Exception as exc:  # a refused or dropped connection: a failed request
            load.fail(f"{step.__name__}: {type(exc).__name__}: {exc}")
        n += 1


@pytest.mark.slow
def test_keys_ingest_match_and_a_delta_published_under_load(
    environment: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    tokens = _create_keys(environment, tmp_path)
    with running_server(tmp_path, environment) as server:
        curator, intake = Client(server, tokens["curator"]), Client(server, tokens["intake"])
        auditor, admin = Client(server, tokens["auditor"]), Client(server, tokens["admin"])
        queried: set[str] = set()

        # -- a curator creates a list and loads its first version ----------------------
        made = curator.post(
            "/v1/lists",
            json={"name": LIST, "purpose": "concern", "description": "synthetic fixtures"},
        )
        assert made.status_code == 201, made.text
        loaded = curator.post(
            f"/v1/lists/{LIST}/versions",
            params={"mode": "replace", "format": "md5sum", "source_name": "synthetic-v1.md5"},
            content=md5sum(FIRST),
        )
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["number"] == 1
        assert loaded.json()["counts"]["entries"] == len(FIRST)
        assert intake.post("/v1/lists", json={"name": "x", "purpose": "concern"}).status_code == 403
        assert intake.get(f"/v1/lists/{LIST}").json()["active_version"] == 1

        # -- intake matches: single, JSON bulk, Arrow bulk -----------------------------
        known, missing = fixture(7), unmatched("first")
        queried |= {known, missing}
        single = intake.get(f"/v1/lookup/md5/{known}")
        assert single.status_code == 200, single.text
        assert single.json()["verdict"] == "known"
        assert [m["list"] for m in single.json()["matches"]] == [LIST]
        assert intake.get(f"/v1/lookup/md5/{missing}").json()["verdict"] == "unknown"
        assert intake.get("/v1/lookup/md5/not-a-digest").json()["verdict"] == "invalid"

        items = [
            {"id": "a", "md5": known},
            {"id": "b", "md5": missing},
            {"id": "c", "md5": "zz"},
            {"id": "d", "sha256": hashlib.sha256(b"synthetic-unmatched-d").hexdigest()},
            {"id": "e", "md5": fixture(999).upper()},
        ]
        queried |= {items[3]["sha256"], fixture(999)}
        bulk = intake.post("/v1/match", json={"items": items})
        assert bulk.status_code == 200, bulk.text
        results = bulk.json()["results"]
        assert [(r["id"], r["verdict"]) for r in results] == [
            ("a", "known"),
            ("b", "unknown"),
            ("c", "invalid"),
            ("d", "unknown"),
            ("e", "known"),
        ]
        assert results[2]["reason"]
        assert bulk.json()["counts"] == {"known": 2, "unknown": 2, "invalid": 1}

        arrow = intake.post(
            "/v1/match/arrow",
            content=_arrow({"id": ["x", "y", "z"], "md5": [known, missing, None]}),
            headers={"Content-Type": ARROW},
        )
        assert arrow.status_code == 200, arrow.text
        assert arrow.headers["content-type"] == ARROW
        table = _read_arrow(arrow.content)
        assert table.column("id").to_pylist() == ["x", "y", "z"]
        assert table.column("verdict").to_pylist() == ["known", "unknown", "not_assessable"]
        assert table.schema.metadata[b"snapshot_id"].decode() == bulk.json()["snapshot_id"]
        first_snapshot = bulk.json()["snapshot_id"]

        # -- a delta is published while a load loop runs --------------------------------
        load = Load()
        stop = threading.Event()
        loops = [
            threading.Thread(target=_loop, args=(step, intake, load, stop))
            for step in (_single, _single, _bulk_json, _bulk_arrow)
        ]
        for thread in loops:
            thread.start()
        try:
            time.sleep(2.0)
            before_publish = len(load.answers)
            publishing = time.monotonic()
            delta = curator.post(
                f"/v1/lists/{LIST}/versions",
                params={"mode": "add", "format": "md5sum", "source_name": "synthetic-delta.md5"},
                content=md5sum(DELTA),
            )
            published = time.monotonic()
            assert delta.status_code == 201, delta.text
            assert delta.json()["number"] == 2
            assert delta.json()["mode"] == "add"
            time.sleep(POLL_SECONDS + SWITCH_MARGIN + 2.0)
        finally:
            stop.set()
            for thread in loops:
                thread.join(timeout=180)
        assert not any(thread.is_alive() for thread in loops)
        assert load.failures == [], load.failures[:10]
        assert before_publish >= 4, "the load loop had not got going before the publish"
        kinds_after = {kind for kind, sent, _, _ in load.answers if sent > published}
        assert kinds_after == {"single", "json", "arrow"}, "no load after the publish"
        bound = published + POLL_SECONDS + SWITCH_MARGIN
        stale = [
            (kind, round(sent - published, 3))
            for kind, sent, _, k in load.answers
            if k is False and sent >= bound
        ]
        assert stale == [], f"old answers after the bound: {stale[:10]}"
        early = [k for _, _, answered, k in load.answers if k is not None and answered < publishing]
        assert early, "no delta digest was asked before the publish"
        assert not any(early), "delta digests were known before they were published"
        queried |= load.queried
        last_old = max((t - published for _, t, _, k in load.answers if k is False), default=0)

        # Every worker now answers the delta as known: keep asking until both have.
        counted = server.requests_by_worker(LOOKUP)
        asked = 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            while asked < 2_000:
                replies = list(
                    pool.map(lambda n: intake.get(f"/v1/lookup/md5/{fixture(n)}"), DELTA[:40])
                )
                asked += len(replies)
                assert {r.status_code for r in replies} == {200}
                assert {r.json()["verdict"] for r in replies} == {"known"}
                now = server.requests_by_worker(LOOKUP)
                if len([p for p in now if now[p] > counted.get(p, 0)]) >= 2:
                    break
        now = server.requests_by_worker(LOOKUP)
        assert len([p for p in now if now[p] > counted.get(p, 0)]) == 2, (counted, now)
        after = intake.post("/v1/match", json={"items": [{"md5": fixture(DELTA[0])}]})
        assert after.json()["snapshot_id"] != first_snapshot
        match_requests = 3 + 2 + len(load.answers) + len(load.failures) + asked + 1

        # -- the audit trail, as an auditor ----------------------------------------------
        assert intake.get("/v1/audit").status_code == 403
        assert admin.get("/v1/audit").status_code == 403
        records = _audit_records(auditor, match_requests)
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        ingests = [r for r in records if r["action"] == "ingest"]
        assert [(r["subject"], r["details"]["mode"]) for r in ingests] == [
            (LIST, "replace"),
            (LIST, "add"),
        ]
        assert all(r["actor"].startswith("key:") for r in ingests)
        key_records = [r for r in records if r["action"] == "key"]
        assert sorted(r["details"]["roles"][0] for r in key_records) == sorted(ROLES)
        matches = [r for r in records if r["action"] == "match"]
        # a bulk request has a record of its own; single lookups are summed per flush
        assert sum(r["details"]["requests"] for r in matches) == match_requests
        assert all(
            r["details"]["requests"] == 1 for r in matches if r["details"]["request"] != "lookup"
        )
        assert sum(r["details"]["items"] for r in matches) >= match_requests
        verify = auditor.get("/v1/audit/verify")
        assert verify.status_code == 200, verify.text
        assert verify.json()["intact"] is True
        assert verify.json()["checked"] == len(records)

        listed = admin.get("/v1/keys")
        assert listed.status_code == 200, listed.text
        assert sorted(k["roles"][0] for k in listed.json()) == sorted(ROLES)

        text = json.dumps(records)
        secrets = [*tokens.values(), *(hash_token(t) for t in tokens.values())]
        assert [s for s in secrets if s in text] == [], "a token or its hash is in the audit"
        assert [d for d in queried if d in text.lower()] == [], "a queried digest is audited"
        assert server.stop() == 0
    log = server.output()
    assert [d for d in queried if d in log.lower()] == [], "a queried digest is in the log"
    assert [t for t in tokens.values() if t in log] == []
    elapsed = time.monotonic() - started
    print(
        f"done-means run: {elapsed:.1f} s, {len(load.answers)} requests under load, the last "
        f"answer from the old snapshot sent {last_old:+.3f} s after the publish's reply"
    )


def _audit_records(auditor: Client, match_requests: int) -> list[dict[str, Any]]:
    """The whole trail, once every worker has flushed its match records (each does, once
    a second)."""
    deadline = time.monotonic() + 30
    while True:
        records: list[dict[str, Any]] = []
        since = 0
        while True:
            page = auditor.get("/v1/audit", since_seq=since, limit=10_000)
            assert page.status_code == 200, page.text
            records += page.json()["records"]
            if not page.json()["records"]:
                break
            since = page.json()["next_since_seq"]
        matched = sum(r["details"]["requests"] for r in records if r["action"] == "match")
        if matched >= match_requests or time.monotonic() > deadline:
            return records
        time.sleep(0.5)
