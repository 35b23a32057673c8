"""The SQL catalog on a real PostgreSQL server: migrations, time zones, ordering, one active.

Runs only when ``HASHMATCH_TEST_POSTGRES_URL`` names a scratch database (for example
``postgresql+psycopg://hashmatch:hashmatch@localhost/hashmatch_test``) and the driver is
installed. The test owns that database: it downgrades it to empty before and after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from hashmatch.errors import Conflict
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
