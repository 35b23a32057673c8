"""SqlCatalog beyond the shared contract: opening by URL, SQLite settings, error translation."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

import hashmatch.store._engine as store_engine
from hashmatch.errors import ConfigurationError, Conflict, StoreError
from hashmatch.model import ListVersionInfo, Purpose, RunInfo, Verdict
from hashmatch.store import MemoryCatalog, SqlCatalog, VerdictRecord, open_catalog

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _open_sql(path: Path) -> SqlCatalog:
    catalog = open_catalog(f"sqlite:///{path}")
    assert isinstance(catalog, SqlCatalog)
    return catalog


def test_memory_url_gives_a_fresh_memory_catalog_each_time() -> None:
    first, second = open_catalog("memory://"), open_catalog("memory://")
    assert isinstance(first, MemoryCatalog)
    first.create_list(
        name="x", purpose=Purpose.BENIGN, description="", created_by="me", created_at=T0
    )
    assert second.lists() == []


def test_open_catalog_creates_the_folder_and_keeps_data_across_opens(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "catalog.sqlite"
    catalog = _open_sql(path)
    catalog.create_list(
        name="caid", purpose=Purpose.CONCERN, description="", created_by="me", created_at=T0
    )
    catalog.close()
    assert path.is_file()
    again = _open_sql(path)  # migrating an up-to-date database changes nothing
    assert [info.name for info in again.lists()] == ["caid"]
    again.close()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "sqlite://user@host/x"])
def test_an_unusable_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_catalog(url)


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    catalog = _open_sql(tmp_path / "catalog.sqlite")
    with catalog.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        busy = connection.execute(text("PRAGMA busy_timeout")).scalar()
        assert busy == store_engine.BUSY_TIMEOUT_MS
    catalog.close()


def test_a_database_without_the_schema_is_a_store_error_naming_the_operation(
    tmp_path: Path,
) -> None:
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # not migrated
    with pytest.raises(StoreError, match=r"read lists failed: OperationalError: .*lists"):
        catalog.lists()
    catalog.close()


def test_a_locked_database_is_a_store_error_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite"
    _open_sql(path).close()
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 50)
    catalog = _open_sql(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(StoreError, match=r"create list 'caid' failed: .*locked"):
            catalog.create_list(
                name="caid", purpose=Purpose.CONCERN, description="", created_by="me", created_at=T0
            )
        other.execute("ROLLBACK")
        assert catalog.lists() == []
    finally:
        other.close()
        catalog.close()


def test_error_messages_do_not_carry_stored_values(
    tmp_path: Path, make_run: Callable[..., RunInfo]
) -> None:
    catalog = _open_sql(tmp_path / "catalog.sqlite")
    catalog.add_run(make_run("r1"))
    secret = "/evidence/synthetic-fixture-secret-path.jpg"
    row = VerdictRecord(row=0, verdict=Verdict.UNKNOWN, path=secret)
    catalog.add_verdicts("r1", [row])
    with pytest.raises(Conflict) as caught:
        catalog.add_verdicts("r1", [row])
    messages = []
    error: BaseException | None = caught.value
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    assert len(messages) > 1
    assert not any(secret in message for message in messages)
    catalog.close()


def test_two_active_versions_of_one_list_are_refused_by_the_database(
    tmp_path: Path, make_version: Callable[..., ListVersionInfo]
) -> None:
    catalog = _open_sql(tmp_path / "catalog.sqlite")
    catalog.create_list(
        name="caid", purpose=Purpose.CONCERN, description="", created_by="me", created_at=T0
    )
    catalog.add_version(make_version("caid", 1))
    catalog.add_version(make_version("caid", 2), activate=False)
    with catalog.engine.connect() as connection, pytest.raises(Exception, match="UNIQUE"):
        connection.execute(text("UPDATE list_versions SET active = 1"))
    assert [v.number for v in catalog.active_versions()] == [1]
    catalog.close()


def test_repr_names_the_database() -> None:
    catalog = SqlCatalog("sqlite://")
    assert repr(catalog) == "SqlCatalog('sqlite://')"
    catalog.close()


def test_a_database_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(StoreError, match="migrate the catalog to head failed"):
        open_catalog(f"sqlite:///{folder}")


def test_a_database_from_a_newer_hashmatch_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _open_sql(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'from-the-future'")
    connection.close()
    with pytest.raises(StoreError, match="from-the-future"):
        open_catalog(f"sqlite:///{path}")


def test_a_folder_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="folder"):
        open_catalog(f"sqlite:///{blocker / 'catalog.sqlite'}")


def test_writers_in_several_threads_and_catalogs_on_one_file_all_succeed(
    tmp_path: Path, make_run: Callable[..., RunInfo]
) -> None:
    path = tmp_path / "catalog.sqlite"
    catalogs = [_open_sql(path), _open_sql(path)]

    def work(worker: int) -> None:
        catalog = catalogs[worker % 2]
        for i in range(10):
            run_id = f"w{worker}-r{i}"
            catalog.add_run(make_run(run_id))
            catalog.runs()
            catalog.add_verdicts(run_id, [VerdictRecord(row=0, verdict=Verdict.UNKNOWN)])
            catalog.finish_run(run_id, finished_at=T0, counts={"total": 1})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    assert len(catalogs[0].runs()) == 40
    assert all(run.finished_at == T0 for run in catalogs[1].runs())
    for catalog in catalogs:
        catalog.close()
