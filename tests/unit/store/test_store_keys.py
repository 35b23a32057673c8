"""API keys in the catalog: the contract on every catalog, and the SQL store's index.

The contract tests run on both catalogs (and PostgreSQL when HASHMATCH_TEST_POSTGRES_URL is
set). The store keeps the hash of a token and finds a key by it; the service decides what
a revoked key may do, so the store returns revoked keys too.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from hashmatch.errors import Conflict, NotFound, StoreError
from hashmatch.keys import ApiKey, Role, hash_token, new_token
from hashmatch.store import Catalog, SqlCatalog, open_catalog

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _key(number: int, **overrides: object) -> ApiKey:
    fields: dict[str, object] = {
        "key_id": f"{number:012x}",
        "name": f"synthetic key {number}",
        "roles": (Role.EXAMINER,),
        "created_at": T0 + timedelta(minutes=number),
        "created_by": "admin-1",
    }
    fields.update(overrides)
    return ApiKey(**fields)  # type: ignore[arg-type]


def _hash(number: int) -> str:
    return hashlib.sha256(f"synthetic-token-{number}".encode()).hexdigest()


def _add(catalog: Catalog, number: int, **overrides: object) -> ApiKey:
    key = _key(number, **overrides)
    catalog.add_api_key(key, token_hash=_hash(number))
    return key


def test_a_new_catalog_has_no_keys(catalog: Catalog) -> None:
    assert catalog.api_keys() == []
    assert catalog.api_key_for(_hash(1)) is None


def test_a_key_is_found_by_its_token_hash_and_listed(catalog: Catalog) -> None:
    key = _add(catalog, 1, roles=(Role.ADMIN, Role.INTAKE), name="émile's station ✓")
    found = catalog.api_key_for(_hash(1))
    assert found == key
    assert found is not None
    assert found.roles == (Role.INTAKE, Role.ADMIN)
    assert all(type(role) is Role for role in found.roles)
    assert catalog.api_keys() == [key]
    assert catalog.api_key_for(_hash(2)) is None


def test_a_real_token_hash_finds_its_key(catalog: Catalog) -> None:
    key_id, token = new_token()
    key = _key(0, key_id=key_id)
    catalog.add_api_key(key, token_hash=hash_token(token))
    assert catalog.api_key_for(hash_token(token)) == key


@pytest.mark.parametrize("lookup", ["", "not a hash", "x" * 200, "AB" * 32, "é"])
def test_any_text_that_is_no_stored_hash_finds_nothing(catalog: Catalog, lookup: str) -> None:
    _add(catalog, 1)
    assert catalog.api_key_for(lookup) is None


def test_keys_are_listed_oldest_first_then_by_key_id(catalog: Catalog) -> None:
    late = _add(catalog, 1, created_at=T0 + timedelta(hours=1))
    tie_b = _add(catalog, 3, created_at=T0)
    tie_a = _add(catalog, 2, created_at=T0)
    early = _add(catalog, 4, created_at=T0 - timedelta(days=1))
    assert catalog.api_keys() == [early, tie_a, tie_b, late]


def test_times_come_back_in_utc_to_the_microsecond(catalog: Catalog) -> None:
    local = datetime(2025, 3, 1, 17, 30, 0, 654321, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    _add(catalog, 1, created_at=local)
    (stored,) = catalog.api_keys()
    assert stored.created_at == datetime(2025, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)
    revoked = catalog.revoke_api_key(stored.key_id, at=local + timedelta(microseconds=1))
    assert revoked.revoked_at == datetime(2025, 3, 1, 12, 0, 0, 654322, tzinfo=UTC)
    assert catalog.api_keys() == [revoked]


def test_a_duplicate_key_id_is_a_conflict_and_keeps_the_first(catalog: Catalog) -> None:
    first = _add(catalog, 1)
    with pytest.raises(Conflict, match="000000000001"):
        catalog.add_api_key(_key(1, name="impostor"), token_hash=_hash(2))
    assert catalog.api_keys() == [first]
    assert catalog.api_key_for(_hash(2)) is None


def test_a_duplicate_token_hash_is_a_conflict_and_stores_nothing(catalog: Catalog) -> None:
    first = _add(catalog, 1)
    with pytest.raises(Conflict):
        catalog.add_api_key(_key(2), token_hash=_hash(1))
    assert catalog.api_keys() == [first]
    assert catalog.api_key_for(_hash(1)) == first


@pytest.mark.parametrize("bad", ["", "AB" * 32, "ab" * 31, "hm_0123456789ab_" + "A" * 43])
def test_a_token_hash_that_is_no_sha256_is_refused_without_being_shown(
    catalog: Catalog, bad: str
) -> None:
    with pytest.raises(ValueError, match="64 lower-case hex") as caught:
        catalog.add_api_key(_key(1), token_hash=bad)
    if bad:
        assert bad not in str(caught.value)
    assert catalog.api_keys() == []


def test_revoke_marks_the_key_and_keeps_it(catalog: Catalog) -> None:
    key = _add(catalog, 1)
    other = _add(catalog, 2)
    at = T0 + timedelta(days=3)
    revoked = catalog.revoke_api_key(key.key_id, at=at)
    assert revoked.revoked_at == at
    assert not revoked.active
    assert revoked.key_id == key.key_id
    assert revoked.name == key.name
    assert revoked.roles == key.roles
    assert revoked.created_at == key.created_at
    assert catalog.api_key_for(_hash(1)) == revoked  # the service decides it is refused
    assert catalog.api_keys() == [revoked, other]
    assert other.active


def test_revoking_twice_is_a_conflict_and_keeps_the_first_time(catalog: Catalog) -> None:
    key = _add(catalog, 1)
    first = catalog.revoke_api_key(key.key_id, at=T0 + timedelta(days=1))
    with pytest.raises(Conflict, match="revoked already"):
        catalog.revoke_api_key(key.key_id, at=T0 + timedelta(days=2))
    assert catalog.api_keys() == [first]


def test_revoking_an_unknown_key_is_not_found(catalog: Catalog) -> None:
    _add(catalog, 1)
    with pytest.raises(NotFound, match="ffffffffffff"):
        catalog.revoke_api_key("ffffffffffff", at=T0)
    assert catalog.api_keys()[0].active


def test_a_naive_revocation_time_is_refused_and_nothing_changes(catalog: Catalog) -> None:
    key = _add(catalog, 1)
    with pytest.raises(ValueError, match="naive"):
        catalog.revoke_api_key(key.key_id, at=datetime(2025, 3, 1))
    assert catalog.api_keys() == [key]


def test_a_key_stored_revoked_comes_back_revoked(catalog: Catalog) -> None:
    key = _add(catalog, 1, revoked_at=T0 + timedelta(hours=2))
    assert catalog.api_key_for(_hash(1)) == key
    with pytest.raises(Conflict):
        catalog.revoke_api_key(key.key_id, at=T0 + timedelta(hours=3))


# Only on SQL databases


def test_the_token_hash_lookup_uses_an_index_on_sqlite(tmp_path: Path) -> None:
    """Authentication runs on every request: it must not scan the table."""
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        assert isinstance(catalog, SqlCatalog)
        for number in range(50):
            _add(catalog, number)
        with catalog.engine.connect() as connection:
            plan = connection.execute(
                text("EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE token_hash = :h"),
                {"h": _hash(7)},
            ).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX" in details or "USING COVERING INDEX" in details, details
    assert "SCAN" not in details, details


def test_malformed_roles_in_the_database_are_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with open_catalog(f"sqlite:///{path}") as catalog:
        _add(catalog, 1)
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE api_keys SET roles = 'examiner,root'")
    with open_catalog(f"sqlite:///{path}") as catalog:
        with pytest.raises(StoreError, match="malformed API key"):
            catalog.api_keys()
        with pytest.raises(StoreError, match="malformed API key"):
            catalog.api_key_for(_hash(1))
