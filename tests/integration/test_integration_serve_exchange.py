"""``hashmatch serve`` with HASHMATCH_EXCHANGE_SCHEDULE fetches by itself, and its workers
serve what the fetch loaded without a restart; the workers never get the password."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from live_server import clean_environment, running_server
from ncmec_server import FakeNcmec, synthetic_entries

from hashmatch.cli.serve import worker_environment
from hashmatch.config import Settings
from hashmatch.service import Service

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def test_workers_get_neither_the_exchange_password_nor_the_schedule(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        exchange_username="synthetic-user",
        exchange_password="synthetic-password-0123",
        exchange_schedule="ncmec-industry=1h",
        exchange_retries=3,
    )
    environment = worker_environment(settings)
    assert environment["HASHMATCH_EXCHANGE_PASSWORD"] is None
    assert environment["HASHMATCH_EXCHANGE_SCHEDULE"] is None
    assert environment["HASHMATCH_EXCHANGE_USERNAME"] == "synthetic-user"
    assert environment["HASHMATCH_EXCHANGE_RETRIES"] == "3"
    assert "synthetic-password-0123" not in repr(environment)


@pytest.mark.slow
def test_serve_fetches_on_its_schedule_and_the_workers_serve_the_result(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rng = random.Random(11)
    with FakeNcmec(page_size=4, seed=11) as fake:
        entries = synthetic_entries(rng, 9, start=T0, end=T0 + timedelta(hours=1))
        fake.put(*entries)
        credentials = home / "exchange-credentials.toml"
        credentials.write_text(
            f'[ncmec-industry]\nusername = "{fake.username}"\n'
            f'password = "{fake.password}"\napi_root = "{fake.url}"\n',
            encoding="utf-8",
        )
        credentials.chmod(0o600)
        with Service(Settings(home=home)) as service:
            token = service.create_key(name="synthetic intake", roles=["intake"])[1]
        env = clean_environment(home=str(home), exchange_schedule="ncmec-industry=1h")
        with running_server(tmp_path, env, workers=2) as server:
            wanted = next(e for e in entries if e.md5)
            deadline = time.monotonic() + 60
            verdict = None
            while time.monotonic() < deadline:
                answer = httpx.get(
                    f"{server.url}/v1/lookup/md5/{wanted.md5}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                if answer.status_code == 200 and answer.json()["verdict"] == "known":
                    verdict = "known"
                    break
                time.sleep(0.3)
            assert verdict == "known", server.output()
            assert len(fake.entries_requests()) >= 3
            assert "fetching exchanges in the background" in server.output()
            assert fake.password not in server.output()
