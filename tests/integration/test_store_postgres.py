"""The SQL catalog on a real PostgreSQL server: migrations, time zones, ordering, one active.

Runs only when ``HASHMATCH_TEST_POSTGRES_URL`` names a scratch database (for example
``postgresql+psycopg://hashmatch:hashmatch@localhost/hashmatch_test``) and the driver is
installed. The test owns that database: it downgrades it to empty before and after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from hashmatch.audit import AuditEntry, verify_chain
from hashmatch.errors import Conflict, NotFound
from hashmatch.keys import ApiKey, Role, hash_token, new_token
from hashmatch.model import IngestCounts, ListVersionInfo, Purpose, RunInfo
from hashmatch.store import SqlCatalog, _migrate, open_catalog
from hashmatch.store.tables import Base

pytestmark = pytest.mark.postgres

URL = os.environ.get("HASHMATCH_TEST_POSTGRES_URL", "")
T0 = datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))


@pytest.fixture
def catalog() -> Iterator[SqlCatalog]:
    """A catalog on the scratch PostgreSQL database, emptied before and after."""
    if not URL.startswith("postgresql"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must start PostgreSQL and set HASHMATCH_TEST_POSTGRES_URL (.ci/run)")
        pytest.skip("set HASHMATCH_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    scratch = SqlCatalog(URL)
    _migrate.downgrade(scratch.engine, "base")
    scratch.close()
    store = open_catalog(URL)
    assert isinstance(store, SqlCatalog)
    yield store
    _migrate.downgrade(store.engine, "base")
    store.close()


def _version(number: int) -> ListVersionInfo:
    return ListVersionInfo(
        list_name="caid",
        number=number,
        version_id=f"caid-v{number}",
        purpose=Purpose.CONCERN,
        source_name="synthetic-fixture-001.md5",
        source_sha256="0" * 64,
        adapter="md5sum",
        adapter_version="1",
        loaded_by="curator",
        loaded_at=T0,
        counts=IngestCounts(rows=1, entries=1),
        entry_file="x.parquet",
    )


def test_migrations_build_the_models_schema_on_postgresql(catalog: SqlCatalog) -> None:
    with catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_round_trip_order_and_one_active_version_on_postgresql(catalog: SqlCatalog) -> None:
    for name in ["b", "B", "a", "é"]:
        catalog.create_list(
            name=name, purpose=Purpose.CONCERN, description="", created_by="me", created_at=T0
        )
    assert [info.name for info in catalog.lists()] == ["B", "a", "b", "é"]
    assert catalog.get_list("a").created_at == T0
    assert catalog.get_list("a").created_at.tzinfo is UTC
    catalog.create_list(
        name="caid", purpose=Purpose.CONCERN, description="", created_by="me", created_at=T0
    )
    catalog.add_version(_version(1))
    catalog.add_version(_version(2))
    with pytest.raises(Conflict):
        catalog.add_version(_version(2))
    assert [v.number for v in catalog.active_versions()] == [2]
    with catalog.engine.connect() as connection, pytest.raises(Exception, match="unique"):
        connection.execute(text("UPDATE list_versions SET active = true"))
    run = RunInfo(
        run_id="r1",
        case_ref="CASE-1",
        operator="examiner",
        started_at=T0,
        tool_version="0.1.0",
        snapshot_id="s",
        counts={"total": 0},
    )
    catalog.add_run(run)
    assert catalog.get_run("r1") == run


def test_api_keys_on_postgresql(catalog: SqlCatalog) -> None:
    tokens = [new_token() for _ in range(3)]
    keys = [
        ApiKey(
            key_id=key_id,
            name=f"synthetic station {n}",
            roles=(Role.ADMIN, Role.INTAKE),
            created_at=T0 + timedelta(seconds=n),
            created_by="admin-1",
        )
        for n, (key_id, _) in enumerate(tokens)
    ]
    for key, (_, token) in zip(keys, tokens, strict=True):
        catalog.add_api_key(key, token_hash=hash_token(token))
    found = catalog.api_key_for(hash_token(tokens[1][1]))
    assert found == keys[1]
    assert found is not None
    assert found.created_at.tzinfo is UTC
    assert found.roles == (Role.INTAKE, Role.ADMIN)
    assert catalog.api_keys() == keys
    with pytest.raises(Conflict):
        catalog.add_api_key(
            ApiKey(
                key_id="0" * 12,
                name="copy",
                roles=(Role.AUDITOR,),
                created_at=T0,
                created_by="admin-1",
            ),
            token_hash=hash_token(tokens[0][1]),
        )
    revoked = catalog.revoke_api_key(keys[0].key_id, at=T0 + timedelta(days=1))
    assert revoked.revoked_at == T0 + timedelta(days=1)
    assert catalog.api_key_for(hash_token(tokens[0][1])) == revoked
    with pytest.raises(Conflict):
        catalog.revoke_api_key(keys[0].key_id, at=T0 + timedelta(days=2))
    with pytest.raises(NotFound):
        catalog.revoke_api_key("f" * 12, at=T0)
    with catalog.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM api_keys")).scalars().all()
        with pytest.raises(Exception, match="unique"):
            connection.execute(text("UPDATE api_keys SET token_hash = 'same'"))
    assert sorted(stored) == sorted(hash_token(token) for _, token in tokens)
    assert not {token for _, token in tokens} & set(stored)


def test_audit_batches_keep_one_chain_under_concurrent_appenders_on_postgresql(
    catalog: SqlCatalog,
) -> None:
    first = catalog.append_audit(
        at=T0, actor="curator", action="ingest", subject="caid", details={"version": 1}
    )
    handles = [catalog, SqlCatalog(URL), SqlCatalog(URL)]

    def work(worker: int) -> list[list[int]]:
        store = handles[worker % len(handles)]
        seqs = []
        for b in range(5):
            made = store.append_audit_many(
                [
                    AuditEntry(
                        at=T0 + timedelta(seconds=i),
                        actor=f"worker-{worker}",
                        action="match",
                        subject=f"{b}-{i}",
                        details={"b": b, "i": i},
                    )
                    for i in range(8)
                ]
            )
            assert [r.subject for r in made] == [f"{b}-{i}" for i in range(8)]
            seqs.append([r.seq for r in made])
        return seqs

    with ThreadPoolExecutor(max_workers=6) as pool:
        batches = [batch for chunk in pool.map(work, range(6)) for batch in chunk]
    for handle in handles[1:]:
        handle.close()
    records = catalog.audit_records()
    assert [r.seq for r in records] == list(range(1, 2 + 6 * 5 * 8))
    assert records[0] == first
    assert all(batch == list(range(batch[0], batch[0] + 8)) for batch in batches)
    assert verify_chain(records, head=records[-1].head).ok
