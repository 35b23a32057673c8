"""The public face of hashmatch.store: what it exports, and what every Catalog must do."""

from __future__ import annotations

import inspect

import hashmatch.store
from hashmatch.model import Verdict
from hashmatch.store import Catalog, MemoryCatalog, SqlCatalog, VerdictRecord, open_catalog


def test_the_public_api_is_pinned() -> None:
    assert hashmatch.store.__all__ == [
        "Catalog",
        "MemoryCatalog",
        "SqlCatalog",
        "VerdictRecord",
        "open_catalog",
    ]
    for name in hashmatch.store.__all__:
        assert getattr(hashmatch.store, name).__doc__


def test_the_catalog_contract_lists_every_operation() -> None:
    assert Catalog.__abstractmethods__ == {
        "create_list",
        "get_list",
        "lists",
        "set_policy",
        "add_trusted_key",
        "remove_trusted_key",
        "trusted_keys",
        "next_version_number",
        "add_version",
        "versions",
        "get_version",
        "active_versions",
        "record_snapshot",
        "snapshot_ids",
        "add_run",
        "finish_run",
        "get_run",
        "runs",
        "add_verdicts",
        "verdicts",
        "add_grading",
        "gradings",
        "latest_gradings",
        "add_api_key",
        "api_key_for",
        "api_keys",
        "revoke_api_key",
        "exchange_state",
        "save_exchange_state",
        "add_exchange_version",
        "append_audit",
        "audit_records",
        "close",
    }
    for name in Catalog.__abstractmethods__:
        assert getattr(Catalog, name).__doc__, f"Catalog.{name} says nothing"


def test_both_implementations_keep_the_contract_signatures() -> None:
    for implementation in (SqlCatalog, MemoryCatalog):
        assert not implementation.__abstractmethods__
        for name in Catalog.__abstractmethods__:
            ours = inspect.signature(getattr(implementation, name))
            assert ours == inspect.signature(getattr(Catalog, name)), (implementation, name)


def test_verdict_records_are_frozen_keyword_only_values() -> None:
    record = VerdictRecord(row=0, verdict=Verdict.UNKNOWN)
    assert (record.reason, record.labels, record.path) == (None, None, None)
    assert record == VerdictRecord(row=0, verdict=Verdict.UNKNOWN)
    assert hash(record) == hash(VerdictRecord(row=0, verdict=Verdict.UNKNOWN))


def test_a_catalog_closes_as_a_context_manager() -> None:
    with open_catalog("memory://") as catalog:
        assert catalog.lists() == []
