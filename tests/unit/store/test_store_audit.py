"""The audit trail in the catalog: append and read on every catalog, concurrency, tampering.

The contract tests run on both catalogs (and PostgreSQL when HASHMATCH_TEST_POSTGRES_URL is
set). The tamper tests change a real database behind the catalog's back, with plain SQL, as
someone with write access to the file could, and check what verification then reports.
"""

from __future__ import annotations

import inspect
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from hashmatch.audit import (
    GENESIS,
    AuditEntry,
    AuditProblemKind,
    AuditRecord,
    make_record,
    verify_chain,
)
from hashmatch.errors import Conflict, StoreError
from hashmatch.store import Catalog, MemoryCatalog, SqlCatalog, _migrate, open_catalog

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
POSTGRES_URL = os.environ.get("HASHMATCH_TEST_POSTGRES_URL", "")


def _append(catalog: Catalog, i: int, **overrides: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "at": T0 + timedelta(seconds=i),
        "actor": "curator",
        "action": "ingest",
        "subject": f"synthetic-list-{i}",
        "details": {"version": i, "rows": 10 * i},
    }
    fields.update(overrides)
    return catalog.append_audit(**fields)


def _kinds(catalog: Catalog, **options: Any) -> list[tuple[int, str]]:
    result = verify_chain(catalog.audit_records(), **options)
    return [(problem.seq, problem.kind.value) for problem in result.problems]


# The contract, on every catalog


def test_a_new_catalog_has_an_empty_chain(catalog: Catalog) -> None:
    assert catalog.audit_records() == []
    assert verify_chain(catalog.audit_records()).ok


def test_appended_records_come_back_as_returned_and_chain_from_genesis(catalog: Catalog) -> None:
    appended = [_append(catalog, i) for i in range(4)]
    assert [record.seq for record in appended] == [1, 2, 3, 4]
    assert appended[0].prev_hash == GENESIS
    assert [r.prev_hash for r in appended[1:]] == [r.hash for r in appended[:-1]]
    assert catalog.audit_records() == appended
    assert verify_chain(catalog.audit_records(), head=appended[-1].head).ok


def test_times_come_back_in_utc_to_the_microsecond(catalog: Catalog) -> None:
    local = datetime(2025, 3, 1, 17, 30, 0, 654321, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    record = _append(catalog, 0, at=local)
    (stored,) = catalog.audit_records()
    assert stored.at == datetime(2025, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
    assert stored.at.utcoffset() == timedelta(0)
    assert stored == record


def test_details_keep_every_json_value_exactly(catalog: Catalog) -> None:
    details = {
        "text": "émile ✓ 'quoted' \"double\"",
        "numbers": [0, -1, 2**53 + 1, 1.5, -0.25, 1e300],
        "flags": {"true": True, "false": False, "none": None},
        "nested": {"deeper": [{"a": []}, {}]},
        "pair": (1, 2),
    }
    record = _append(catalog, 0, details=details)
    (stored,) = catalog.audit_records()
    assert stored.details == {**details, "pair": [1, 2]}
    assert stored == record
    assert verify_chain([stored]).ok


def test_since_seq_and_limit_page_through_the_chain_in_seq_order(catalog: Catalog) -> None:
    appended = [_append(catalog, i) for i in range(6)]
    assert catalog.audit_records(since_seq=0) == appended
    assert catalog.audit_records(since_seq=4) == appended[4:]
    assert catalog.audit_records(since_seq=2, limit=2) == appended[2:4]
    assert catalog.audit_records(limit=0) == []
    assert catalog.audit_records(since_seq=6) == []
    assert catalog.audit_records(since_seq=60, limit=5) == []


@pytest.mark.parametrize("options", [{"since_seq": -1}, {"limit": -1}])
def test_negative_paging_is_a_value_error(catalog: Catalog, options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="0 or more"):
        catalog.audit_records(**options)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"at": datetime(2025, 3, 1)}, "naive"),
        ({"actor": ""}, "actor"),
        ({"details": {"x": float("nan")}}, "JSON"),
        ({"details": {"x": {1, 2}}}, "set"),
        ({"subject": "nul\x00"}, "NUL"),
    ],
)
def test_a_bad_record_is_refused_and_nothing_is_appended(
    catalog: Catalog, overrides: dict[str, Any], message: str
) -> None:
    first = _append(catalog, 0)
    with pytest.raises(ValueError, match=message):
        _append(catalog, 1, **overrides)
    assert catalog.audit_records() == [first]
    assert _append(catalog, 2).seq == 2


def test_changing_a_returned_record_changes_nothing_stored(catalog: Catalog) -> None:
    record = _append(catalog, 0, details={"list": [1]})
    record.details["list"].append(2)  # type: ignore[union-attr]
    catalog.audit_records()[0].details["list"].append(3)  # type: ignore[union-attr]
    assert catalog.audit_records()[0].details == {"list": [1]}


def test_the_catalog_offers_no_way_to_change_or_remove_audit_records() -> None:
    audit_methods = {
        name
        for name, _ in inspect.getmembers(Catalog, inspect.isfunction)
        if "audit" in name and not name.startswith("_")
    }
    assert audit_methods == {"append_audit", "append_audit_many", "audit_records"}


def _second_handle(catalog: Catalog) -> Catalog:
    """Another catalog on the same database (its own connections), or the same twin."""
    if isinstance(catalog, SqlCatalog):
        return SqlCatalog(catalog.engine.url)
    return catalog


def test_concurrent_appenders_never_fork_the_chain(catalog: Catalog) -> None:
    other = _second_handle(catalog)
    handles = [catalog, other]

    def work(worker: int) -> list[int]:
        store = handles[worker % 2]
        return [
            _append(store, i, actor=f"worker-{worker}", subject=f"w{worker}-{i}").seq
            for i in range(15)
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        seqs = [seq for chunk in pool.map(work, range(4)) for seq in chunk]
    records = catalog.audit_records()
    assert sorted(seqs) == list(range(1, 61))  # each appender got its own position
    assert [record.seq for record in records] == list(range(1, 61))
    assert verify_chain(records, head=records[-1].head).ok
    if other is not catalog:
        other.close()


def _entry(i: int, **overrides: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "at": T0 + timedelta(seconds=i),
        "actor": "api",
        "action": "match",
        "subject": f"batch-{i}",
        "details": {"request": "match", "items": i},
    }
    fields.update(overrides)
    return AuditEntry(**fields)


def test_a_batch_appends_in_order_and_continues_the_chain(catalog: Catalog) -> None:
    first = _append(catalog, 0)
    batch = catalog.append_audit_many([_entry(i) for i in range(1, 6)])
    assert [record.seq for record in batch] == [2, 3, 4, 5, 6]
    assert [record.subject for record in batch] == [f"batch-{i}" for i in range(1, 6)]
    assert batch[0].prev_hash == first.hash
    assert catalog.audit_records() == [first, *batch]
    assert verify_chain(catalog.audit_records(), head=batch[-1].head).ok
    assert _append(catalog, 6).prev_hash == batch[-1].hash


def test_a_batch_on_an_empty_chain_starts_at_genesis(catalog: Catalog) -> None:
    batch = catalog.append_audit_many([_entry(i) for i in range(3)])
    assert [record.seq for record in batch] == [1, 2, 3]
    assert batch[0].prev_hash == GENESIS
    assert catalog.audit_records() == batch


def test_an_empty_batch_appends_nothing(catalog: Catalog) -> None:
    assert catalog.append_audit_many([]) == []
    assert catalog.audit_records() == []


def test_a_batch_with_one_bad_entry_appends_none_of_it(catalog: Catalog) -> None:
    first = _append(catalog, 0)
    with pytest.raises(ValueError, match="naive"):
        catalog.append_audit_many([_entry(1), _entry(2, at=datetime(2025, 3, 1)), _entry(3)])
    assert catalog.audit_records() == [first]


def test_concurrent_batch_appenders_never_fork_the_chain(catalog: Catalog) -> None:
    other = _second_handle(catalog)
    handles = [catalog, other]

    def work(worker: int) -> list[list[int]]:
        store = handles[worker % 2]
        batches = []
        for b in range(6):
            if worker == 0:  # one appender of single records among the batch appenders
                batches.append([_append(store, b, actor="single").seq])
                continue
            made = store.append_audit_many(
                [
                    _entry(i, actor=f"worker-{worker}", subject=f"w{worker}-{b}-{i}")
                    for i in range(5)
                ]
            )
            batches.append([record.seq for record in made])
        return batches

    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = [batch for chunk in pool.map(work, range(4)) for batch in chunk]
    records = catalog.audit_records()
    total = 6 + 3 * 6 * 5
    assert sorted(seq for batch in batches for seq in batch) == list(range(1, total + 1))
    # each batch took consecutive places: no other appender's record got between them
    assert all(batch == list(range(batch[0], batch[0] + len(batch))) for batch in batches)
    assert [record.seq for record in records] == list(range(1, total + 1))
    assert verify_chain(records, head=records[-1].head).ok
    if other is not catalog:
        other.close()


# Only on SQL databases: processes, the database's own guard, and tampering


_SQL_BACKENDS: list[Any] = ["sqlite"]
if POSTGRES_URL:
    _SQL_BACKENDS.append(pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(params=_SQL_BACKENDS)
def sql_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlCatalog]:
    """A fresh SqlCatalog on a SQLite file, or on the scratch PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        url = POSTGRES_URL
        scratch = SqlCatalog(url)
        _migrate.downgrade(scratch.engine, "base")
        scratch.close()
    store = open_catalog(url)
    assert isinstance(store, SqlCatalog)
    yield store
    store.close()


def _sql(catalog: SqlCatalog, statement: str, **params: Any) -> None:
    with catalog.engine.begin() as connection:
        connection.execute(text(statement), params)


def _five(catalog: Catalog) -> list[AuditRecord]:
    return [_append(catalog, i) for i in range(5)]


_APPENDER = """
import sys
from datetime import UTC, datetime
from hashmatch.store import open_catalog

catalog = open_catalog(sys.argv[1])
for i in range(int(sys.argv[3])):
    catalog.append_audit(
        at=datetime.now(UTC), actor=sys.argv[2], action="run", subject=str(i), details={"i": i}
    )
catalog.close()
"""


def test_appenders_in_two_processes_never_fork_the_chain(sql_catalog: SqlCatalog) -> None:
    url = sql_catalog.engine.url.render_as_string(hide_password=False)
    _append(sql_catalog, 0)
    processes = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, url, f"process-{n}", "25"])
        for n in range(2)
    ]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    records = sql_catalog.audit_records()
    assert [record.seq for record in records] == list(range(1, 52))
    assert {r.actor for r in records} == {"curator", "process-0", "process-1"}
    assert verify_chain(records, head=records[-1].head).ok


_BATCH_APPENDER = """
import sys
from datetime import UTC, datetime
from hashmatch.audit import AuditEntry
from hashmatch.store import open_catalog

catalog = open_catalog(sys.argv[1])
for b in range(int(sys.argv[3])):
    catalog.append_audit_many([
        AuditEntry(at=datetime.now(UTC), actor=sys.argv[2], action="match", subject=f"{b}-{i}",
                   details={"b": b, "i": i})
        for i in range(10)
    ])
catalog.close()
"""


def test_batch_appenders_in_two_processes_never_fork_the_chain(sql_catalog: SqlCatalog) -> None:
    url = sql_catalog.engine.url.render_as_string(hide_password=False)
    _append(sql_catalog, 0)
    processes = [
        subprocess.Popen([sys.executable, "-c", _BATCH_APPENDER, url, f"process-{n}", "8"])
        for n in range(2)
    ]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    records = sql_catalog.audit_records()
    assert [record.seq for record in records] == list(range(1, 162))
    assert verify_chain(records, head=records[-1].head).ok
    # each process's batch of ten sits in ten consecutive places
    for start in range(1, 161, 10):
        chunk = records[start : start + 10]
        assert len({r.actor for r in chunk}) == 1
        assert [r.details["i"] for r in chunk] == list(range(10))


def test_a_batch_is_one_transaction(sql_catalog: SqlCatalog) -> None:
    begins: list[object] = []

    def began(connection: object) -> None:
        begins.append(connection)

    event.listen(sql_catalog.engine, "begin", began)
    try:
        made = sql_catalog.append_audit_many([_entry(i) for i in range(50)])
    finally:
        event.remove(sql_catalog.engine, "begin", began)
    assert len(made) == 50
    assert len(begins) == 1


def test_a_batch_the_database_fails_appends_none_of_it(sql_catalog: SqlCatalog) -> None:
    first = _append(sql_catalog, 0)
    inserts: list[str] = []
    refused = sql_catalog.engine.dialect.loaded_dbapi.OperationalError

    def fail_the_insert(connection: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("INSERT INTO audit_records"):
            inserts.append(statement)
            raise refused("disk I/O error (synthetic)")

    event.listen(sql_catalog.engine, "before_cursor_execute", fail_the_insert)
    try:
        with pytest.raises(StoreError, match="append to the audit trail failed"):
            sql_catalog.append_audit_many([_entry(i) for i in range(1, 4)])
    finally:
        event.remove(sql_catalog.engine, "before_cursor_execute", fail_the_insert)
    assert inserts
    assert sql_catalog.audit_records() == [first]
    after = sql_catalog.append_audit_many([_entry(i) for i in range(1, 4)])
    assert [record.seq for record in after] == [2, 3, 4]
    assert verify_chain(sql_catalog.audit_records(), head=after[-1].head).ok


def test_the_database_refuses_a_second_record_at_a_taken_seq(sql_catalog: SqlCatalog) -> None:
    first = _append(sql_catalog, 0)
    fork = make_record(None, at=T0, actor="forger", action="run", subject="x", details={})
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        _sql(
            sql_catalog,
            "INSERT INTO audit_records (seq, at, actor, action, subject, details, prev_hash, hash)"
            " VALUES (1, :at, 'forger', 'run', 'x', '{}', :prev, :hash)",
            at=T0.replace(tzinfo=None),
            prev=fork.prev_hash,
            hash=fork.hash,
        )
    assert sql_catalog.audit_records() == [first]


def test_an_append_that_keeps_losing_the_race_is_a_store_error(
    sql_catalog: SqlCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def always_taken(**fields: Any) -> AuditRecord:
        calls.append(fields)
        raise Conflict("append to the audit trail: already stored (seq taken)")

    monkeypatch.setattr(sql_catalog, "_append_audit_once", always_taken)
    with pytest.raises(StoreError, match="lost the race"):
        _append(sql_catalog, 0)
    assert len(calls) > 1
    assert sql_catalog.audit_records() == []


def test_an_append_that_loses_the_race_once_tries_again_and_succeeds(
    sql_catalog: SqlCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _append(sql_catalog, 0)
    once = sql_catalog._append_audit_once
    calls = []

    def lose_once(**fields: Any) -> AuditRecord:
        calls.append(fields)
        if len(calls) == 1:
            raise Conflict("append to the audit trail: already stored (seq taken)")
        return once(**fields)

    monkeypatch.setattr(sql_catalog, "_append_audit_once", lose_once)
    second = _append(sql_catalog, 1)
    assert len(calls) == 2
    assert sql_catalog.audit_records() == [first, second]


def test_edited_details_are_reported_at_that_seq(sql_catalog: SqlCatalog) -> None:
    _five(sql_catalog)
    _sql(sql_catalog, "UPDATE audit_records SET details = :d WHERE seq = 3", d='{"version": 99}')
    result = verify_chain(sql_catalog.audit_records())
    assert [(p.seq, p.kind) for p in result.problems] == [(3, AuditProblemKind.EDITED)]
    assert result.problems[0].render().startswith("seq 3: edited: its hash does not match")


def test_an_edited_actor_is_reported_at_that_seq(sql_catalog: SqlCatalog) -> None:
    _five(sql_catalog)
    _sql(sql_catalog, "UPDATE audit_records SET actor = 'someone-else' WHERE seq = 2")
    assert _kinds(sql_catalog) == [(2, "edited")]


def test_a_deleted_middle_row_is_reported_as_deleted(sql_catalog: SqlCatalog) -> None:
    _five(sql_catalog)
    _sql(sql_catalog, "DELETE FROM audit_records WHERE seq = 3")
    result = verify_chain(sql_catalog.audit_records())
    assert _kinds(sql_catalog) == [(4, "deleted")]
    assert "seq 3 is missing" in result.problems[0].reason


def test_two_rows_that_swapped_seqs_are_detected(sql_catalog: SqlCatalog) -> None:
    _five(sql_catalog)
    _sql(sql_catalog, "UPDATE audit_records SET seq = -2 WHERE seq = 2")
    _sql(sql_catalog, "UPDATE audit_records SET seq = 2 WHERE seq = 4")
    _sql(sql_catalog, "UPDATE audit_records SET seq = 4 WHERE seq = -2")
    found = _kinds(sql_catalog)
    assert (2, "edited") in found
    assert (4, "edited") in found
    assert any(kind == "reordered" for _, kind in found)


def test_a_deleted_last_row_is_detected_only_with_the_head(sql_catalog: SqlCatalog) -> None:
    head = _five(sql_catalog)[-1].head
    _sql(sql_catalog, "DELETE FROM audit_records WHERE seq = 5")
    assert _kinds(sql_catalog) == []  # the documented limit of a chain on its own
    assert _kinds(sql_catalog, head=head) == [(5, "truncated")]


def test_a_replaced_last_row_is_detected_only_with_the_head(sql_catalog: SqlCatalog) -> None:
    head = _five(sql_catalog)[-1].head
    _sql(sql_catalog, "DELETE FROM audit_records WHERE seq = 5")
    _append(sql_catalog, 5, subject="a different last action")
    assert _kinds(sql_catalog) == []
    assert _kinds(sql_catalog, head=head) == [(5, "replaced")]


def test_a_rewritten_row_with_a_recomputed_hash_shows_at_the_next_row(
    sql_catalog: SqlCatalog,
) -> None:
    records = _five(sql_catalog)
    forged_hash = make_record(
        records[0].head,
        at=records[1].at,
        actor="curator",
        action="ingest",
        subject="forged",
        details={},
    ).hash
    _sql(
        sql_catalog,
        "UPDATE audit_records SET subject = 'forged', details = '{}', hash = :h WHERE seq = 2",
        h=forged_hash,
    )
    assert _kinds(sql_catalog) == [(3, "deleted")]


def test_the_chain_stays_verifiable_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    first = open_catalog(f"sqlite:///{path}")
    head = _five(first)[-1].head
    first.close()
    again = open_catalog(f"sqlite:///{path}")
    assert _append(again, 5).seq == 6
    assert verify_chain(again.audit_records(), head=head).after_head == 1
    again.close()
    with sqlite3.connect(path) as connection:  # what an outside tool sees
        rows = connection.execute("SELECT seq, details FROM audit_records ORDER BY seq").fetchall()
    connection.close()
    assert [seq for seq, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert json.loads(rows[0][1]) == {"version": 0, "rows": 0}


def test_the_twin_keeps_the_same_chain_as_sql(tmp_path: Path) -> None:
    sql = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    memory = MemoryCatalog()
    for i in range(4):
        assert _append(sql, i) == _append(memory, i)
    assert sql.audit_records() == memory.audit_records()
    sql.close()
