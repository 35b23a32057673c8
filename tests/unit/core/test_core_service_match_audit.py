"""hashmatch.service: the match records of the HTTP API, buffered and appended in batches.

A failed append (the database away for a moment) must lose nothing: the records wait for
the next flush, in order. Uses the in-memory catalog; the SQL stores' batch append is
covered in tests/unit/store/test_store_audit.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hashmatch.audit import AuditEntry, AuditRecord, verify_chain
from hashmatch.config import Settings
from hashmatch.errors import StoreError
from hashmatch.service import Service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(home=tmp_path / "home", operator="tester", database_url="memory://")
    with Service(settings) as svc:
        yield svc


def _note(service: Service, n: int) -> None:
    service.note_matches(
        kind="match", actor="intake-key", snapshot_id=f"snap-{n}", counts={"unknown": n}
    )


def _snapshots(records: Sequence[AuditRecord]) -> list[Any]:
    return [record.details["snapshot_id"] for record in records]


class _Flaky:
    """Stands in for ``catalog.append_audit_many``: fails ``failures`` times, then appends."""

    def __init__(self, service: Service, failures: int, error: Exception) -> None:
        self.append = service.catalog.append_audit_many
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.append(entries)


def test_buffered_match_records_are_appended_in_order_by_one_flush(service: Service) -> None:
    for n in range(1, 4):
        _note(service, n)
    assert service.audit_records() == []
    assert service.flush_match_audit() == 3
    records = service.audit_records()
    assert _snapshots(records) == ["snap-1", "snap-2", "snap-3"]
    assert {(r.action, r.actor) for r in records} == {("match", "api")}
    assert service.flush_match_audit() == 0
    assert service.audit_verify().ok


def test_a_failed_flush_keeps_the_records_for_the_next_one(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = _Flaky(service, failures=2, error=StoreError("database is locked (synthetic)"))
    monkeypatch.setattr(service.catalog, "append_audit_many", flaky)
    _note(service, 1)
    _note(service, 2)
    with pytest.raises(StoreError, match="synthetic"):
        service.flush_match_audit()
    _note(service, 3)  # a request answered while the database was away
    with pytest.raises(StoreError, match="synthetic"):
        service.flush_match_audit()
    assert service.audit_records() == []
    assert service.flush_match_audit() == 3
    records = service.audit_records()
    assert _snapshots(records) == ["snap-1", "snap-2", "snap-3"]
    verification = service.audit_verify()
    assert verification.ok
    assert verify_chain(records, head=records[-1].head).ok


def test_records_the_chain_refuses_are_not_retried_forever(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = _Flaky(service, failures=1, error=ValueError("details must be JSON (synthetic)"))
    monkeypatch.setattr(service.catalog, "append_audit_many", flaky)
    _note(service, 1)
    with pytest.raises(ValueError, match="synthetic"):
        service.flush_match_audit()
    _note(service, 2)
    assert service.flush_match_audit() == 1
    assert _snapshots(service.audit_records()) == ["snap-2"]


def test_single_lookups_are_summed_per_key_and_snapshot_at_each_flush(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home", operator="tester", database_url="memory://", audit_matches="matched"
    )
    with Service(settings) as service:
        for n in range(5):
            service.note_matches(
                kind="lookup",
                actor="key:a" if n % 2 else "key:b",
                snapshot_id="snap-1",
                counts={"known": 1} if n == 3 else {"unknown": 1},
                matched=["ab" * 16] if n == 3 else [],
            )
        _note(service, 9)  # a bulk request keeps a record of its own
        assert service.flush_match_audit() == 3
        records = service.audit_records()
        assert [(r.actor, r.details["request"], r.details["requests"]) for r in records] == [
            ("intake-key", "match", 1),
            ("key:b", "lookup", 3),
            ("key:a", "lookup", 2),
        ]
        assert records[1].details["counts"] == {"unknown": 3}
        assert records[1].details["matched"] == []
        assert records[2].details["counts"] == {"known": 1, "unknown": 1}
        assert records[2].details["matched"] == ["ab" * 16]
        assert service.flush_match_audit() == 0
