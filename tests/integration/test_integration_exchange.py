"""Issue 6's done-means for exchanges: a fetch from the fake NCMEC server through several
pages and tombstones, killed mid-fetch, resumed, ending with exactly the expected version.

The CLI runs as a real process (``python -m hashmatch exchange fetch``) against the fake
server on loopback; the kill is SIGKILL while the process waits for a page the fake holds
back. The list version is then read back entry by entry and compared with the fake's own
account of which entries are live, and a second, incremental fetch applies an update, a
deletion of a digest that another member also submitted, and a new entry.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_server import clean_environment
from ncmec_server import FakeEntry, FakeNcmec, synthetic_entries, synthetic_entry

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import ConfigurationError
from hashmatch.ingest.versions import version_entries
from hashmatch.records import decode_labels
from hashmatch.service import Service

EXCHANGE = "ncmec-industry"
PASSWORD = "synthetic-password-0123"
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _environment(home: Path) -> dict[str, str]:
    return clean_environment(
        home=str(home),
        exchange_backoff_seconds="0.01",
        exchange_timeout_seconds="5",
    )


def _credentials(home: Path, fake: FakeNcmec) -> None:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "exchange-credentials.toml"
    path.write_text(
        f'[{EXCHANGE}]\nusername = "{fake.username}"\npassword = "{fake.password}"\n'
        f'api_root = "{fake.url}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)


def _fetch(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hashmatch", "exchange", "fetch", EXCHANGE, "--json", *args],
        env=_environment(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _served(home: Path) -> dict[str, tuple[str | None, str | None, str | None]]:
    """The serving version of the exchange's list: source_id -> (md5, sha1, classification)."""
    with Service(Settings(home=home)) as service:
        active = [v for v in service.versions(EXCHANGE) if v.active]
        assert len(active) == 1
        rows: dict[str, tuple[str | None, str | None, str | None]] = {}
        for batch in version_entries(active[0], service.catalog.get_version, home):
            for row in batch.to_pylist():
                labels = decode_labels(row["labels"])
                key = labels["source_id"]
                assert key not in rows, f"entry {key} is in the version twice"
                rows[key] = (
                    None if row["md5"] is None else row["md5"].hex(),
                    None if row["sha1"] is None else row["sha1"].hex(),
                    labels.get("category"),
                )
        return rows


def _expected(fake: FakeNcmec) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {
        key: (entry.md5, entry.sha1, entry.classification)
        for key, entry in fake.expected_state().items()
        if entry.has_digest
    }


@pytest.fixture
def fake() -> Iterator[FakeNcmec]:
    with FakeNcmec(page_size=5, seed=6) as server:
        yield server


def _initial_entries(rng: random.Random) -> list[FakeEntry]:
    entries = synthetic_entries(rng, 30, start=T0, end=T0 + timedelta(days=3))
    # A burst: more entries in one second than a page holds.
    burst = T0 + timedelta(days=1, hours=5)
    entries += [
        replace(synthetic_entry(rng, timestamp=burst, kind="exact"), entry_id=f"burst-{n}")
        for n in range(12)
    ]
    return entries


@pytest.mark.slow
def test_a_fetch_killed_mid_way_resumes_and_ends_with_exactly_the_expected_version(
    tmp_path: Path, fake: FakeNcmec
) -> None:
    rng = random.Random(6)
    home = tmp_path / "home"
    _credentials(home, fake)
    entries = _initial_entries(rng)
    fake.put(*entries)
    # Two entries deleted before the first fetch: their tombstones are in the full range.
    for gone in entries[:2]:
        fake.delete(gone.key, at=T0 + timedelta(days=3, hours=1))
    total = len(fake.entries)
    pages = -(-total // fake.page_size)
    assert pages >= 8

    # 1. Killed while waiting for page 4: three pages are journalled.
    fake.hang_on(4)
    process = subprocess.Popen(
        [sys.executable, "-m", "hashmatch", "exchange", "fetch", EXCHANGE],
        env=_environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert fake.hanging.wait(120), "the fetch never reached page 4"
        time.sleep(0.3)  # let the process settle in its wait
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        fake.release()
    assert process.returncode == -signal.SIGKILL
    with Service(Settings(home=home)) as service:
        assert service.versions(EXCHANGE) == []  # nothing loaded, nothing half-committed
        state = service.catalog.exchange_state(EXCHANGE)
        assert state is not None
        assert state.fetch is not None
        assert state.checkpoint is None
        assert state.fetch.pages == 3
    before = len(fake.entries_requests())

    # 2. The next fetch goes on from page 4 and loads the list.
    done = _fetch(home)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["resumed"] is True
    assert outcome["since"] is None
    assert outcome["pages"] == pages
    resumed_with = fake.entries_requests()[before]
    assert resumed_with.params["start"] == str(3 * fake.page_size + 1)  # page 4, not page 1
    assert len(fake.entries_requests()) - before == pages - 3
    assert outcome["version"]["number"] == 1
    assert _served(home) == _expected(fake)
    assert PASSWORD not in done.stdout + done.stderr

    # 3. Changes after the checkpoint: an update, a deletion, a new entry, and a digest
    #    that two members submitted, one of whom withdraws it.
    time.sleep(1.1)
    now = datetime.now(UTC).replace(microsecond=0)
    live = [e for e in fake.expected_state().values() if e.has_digest and e.md5]
    relabelled, withdrawn, sharer = live[0], live[1], live[2]
    other = "A1" if relabelled.classification != "A1" else "B2"
    fake.put(replace(relabelled, classification=other, timestamp=now))
    twin = replace(
        synthetic_entry(rng, timestamp=now, kind="exact"),
        member="9003" if sharer.member != "9003" else "9002",
        entry_id="twin-1",
        md5=sharer.md5,
    )
    fake.put(twin)
    fake.put(replace(synthetic_entry(rng, timestamp=now, kind="exact"), entry_id="fresh-1"))
    fake.delete(withdrawn.key, at=now)
    time.sleep(1.1)
    second = _fetch(home)
    assert second.returncode == 0, second.stderr
    outcome = json.loads(second.stdout)
    assert outcome["resumed"] is False
    assert outcome["reason"] == "incremental"
    assert outcome["since"] is not None
    assert outcome["tombstones"] == 1
    assert outcome["updates"] == 3
    assert outcome["version"]["number"] == 2
    served = _served(home)
    assert served == _expected(fake)
    assert withdrawn.key not in served
    assert served[relabelled.key][2] != relabelled.classification

    # 4. The shared digest answers with both members' labels; the withdrawn one is gone.
    with Service(Settings(home=home)) as service:
        found = service.lookup(Algorithm.MD5, sharer.md5 or "")
        members = sorted(match["labels"]["member"] for match in json.loads(found.matches or "[]"))
        assert members == sorted([sharer.member, twin.member])
        gone = service.lookup(Algorithm.MD5, withdrawn.md5 or "")
        assert gone.verdict.value == "unknown"

        # 5. The audit trail: two fetches and two ingests, and never the password.
        records = service.audit_records()
        actions = [r.action for r in records]
        assert actions.count("exchange") == 2
        assert actions.count("ingest") == 2
        assert PASSWORD not in json.dumps([r.details for r in records])
    for path in home.rglob("*"):
        if path.is_file() and path.name != "exchange-credentials.toml":
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_fetch_with_nothing_new_keeps_the_version_and_moves_the_checkpoint(
    tmp_path: Path, fake: FakeNcmec
) -> None:
    rng = random.Random(7)
    home = tmp_path / "home"
    _credentials(home, fake)
    fake.put(*synthetic_entries(rng, 8, start=T0, end=T0 + timedelta(hours=2)))
    first = _fetch(home)
    assert first.returncode == 0, first.stderr
    time.sleep(1.1)
    second = _fetch(home)
    assert second.returncode == 0, second.stderr
    outcome = json.loads(second.stdout)
    assert outcome["version"] is None
    assert outcome["reason"] == "incremental"
    assert outcome["since"] == json.loads(first.stdout)["until"]
    with Service(Settings(home=home)) as service:
        assert [v.number for v in service.versions(EXCHANGE)] == [1]
        state = service.catalog.exchange_state(EXCHANGE)
        assert state is not None
        assert state.checkpoint is not None
        assert state.checkpoint.isoformat() == outcome["until"]


def test_a_refused_password_exits_11_and_never_prints_it(tmp_path: Path, fake: FakeNcmec) -> None:
    home = tmp_path / "home"
    fake.password = "another-synthetic-password"
    _credentials(home, fake)
    fake.password = PASSWORD  # the server expects another one than the file holds
    done = _fetch(home)
    assert done.returncode == 11, done.stdout + done.stderr
    assert "another-synthetic-password" not in done.stdout + done.stderr
    assert "401" in done.stderr or "refused" in done.stderr.lower()


def test_an_api_root_the_client_refuses_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = home / "exchange-credentials.toml"
    path.write_text(
        f'[{EXCHANGE}]\nusername = "synthetic-user"\npassword = "{PASSWORD}"\n'
        'api_root = "https://someone:secret-in-url@exchange.invalid/hashsharing"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    with Service(Settings(home=home)) as service:
        with pytest.raises(ConfigurationError, match="holds credentials") as caught:
            service.exchange_fetch(EXCHANGE)
        assert "secret-in-url" not in str(caught.value)
        assert service.catalog.exchange_state(EXCHANGE) is None
        assert service.lists() == []
        assert service.audit_records() == []
