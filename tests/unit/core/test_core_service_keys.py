"""hashmatch.service: API keys: create, authenticate, revoke, and what the audit trail keeps.

Uses the default SQLite catalog in a temporary data directory, so that the tests can read
every byte the service wrote and check that no token is among them.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hashmatch.audit import AuditAction, verify_chain
from hashmatch.config import Settings
from hashmatch.errors import Conflict, InputError, NotFound
from hashmatch.keys import ApiKey, Permission, Role, hash_token
from hashmatch.service import Service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(home=tmp_path / "home", operator="admin-1")
    with Service(settings) as service:
        yield service


def _audit_text(service: Service) -> str:
    """Every field of every audit record, as text."""
    records = service.audit_records()
    return repr(records) + json.dumps([record.details for record in records])


def test_a_new_key_authenticates_with_its_token(service: Service) -> None:
    key, token = service.create_key("triage station 3", ["intake", Role.AUDITOR])
    assert token.startswith(f"hm_{key.key_id}_")
    assert key.name == "triage station 3"
    assert key.roles == (Role.INTAKE, Role.AUDITOR)
    assert key.created_by == "admin-1"
    assert key.active
    assert service.authenticate(token) == key
    assert service.keys() == [key]
    assert key.permissions == {Permission.MATCH, Permission.AUDIT, Permission.READ}


def test_each_key_has_its_own_token(service: Service) -> None:
    first, token_1 = service.create_key("one", ["examiner"])
    second, token_2 = service.create_key("one", ["curator"])  # names may repeat (rotation)
    assert first.key_id != second.key_id
    assert token_1 != token_2
    assert service.authenticate(token_1) == first
    assert service.authenticate(token_2) == second
    assert service.keys() == [first, second]


def test_a_revoked_key_no_longer_authenticates_but_stays_listed(service: Service) -> None:
    key, token = service.create_key("lab", ["examiner"])
    other, other_token = service.create_key("lab 2", ["examiner"])
    revoked = service.revoke_key(key.key_id)
    assert revoked.revoked_at is not None
    assert not revoked.active
    assert service.authenticate(token) is None
    assert service.authenticate(other_token) == other
    assert service.keys() == [revoked, other]


def test_revoking_twice_is_a_conflict_and_an_unknown_key_not_found(service: Service) -> None:
    key, _ = service.create_key("lab", ["examiner"])
    service.revoke_key(key.key_id)
    with pytest.raises(Conflict):
        service.revoke_key(key.key_id)
    with pytest.raises(NotFound):
        service.revoke_key("ffffffffffff")
    events = [record.details["event"] for record in service.audit_records()]
    assert events == ["created", "revoked"]  # failed revocations are not audited


@pytest.mark.parametrize(
    ("name", "roles", "message"),
    [
        ("", ["admin"], "name"),
        ("  ", ["admin"], "name"),
        ("lab", [], "at least one role"),
        ("lab", ["root"], "unknown role"),
        ("lab", "admin", "list of role names"),
    ],
)
def test_a_bad_key_is_refused_and_nothing_is_stored_or_audited(
    service: Service, name: str, roles: Any, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        service.create_key(name, roles)
    assert service.keys() == []
    assert service.audit_records() == []


def test_creation_and_revocation_are_audited_without_token_or_hash(service: Service) -> None:
    key, token = service.create_key("triage station 3", ["intake", "admin"])
    service.revoke_key(key.key_id, operator="admin-2")
    created, revoked = service.audit_records()
    assert (created.action, created.subject, created.actor) == (
        AuditAction.KEY.value,
        key.key_id,
        "admin-1",
    )
    assert created.details == {
        "event": "created",
        "key_id": key.key_id,
        "name": "triage station 3",
        "roles": ["intake", "admin"],
    }
    assert (revoked.action, revoked.actor) == (AuditAction.KEY.value, "admin-2")
    assert revoked.details == {**created.details, "event": "revoked"}
    assert verify_chain(service.audit_records()).ok
    secret = token.split("_", 2)[2]
    audited = _audit_text(service)
    for forbidden in (token, secret, hash_token(token)):
        assert forbidden not in audited


def test_the_token_is_nowhere_in_the_data_directory(service: Service, tmp_path: Path) -> None:
    key, token = service.create_key("triage station 3", ["intake"])
    service.revoke_key(key.key_id)
    service.close()
    written = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    # The hash is where the test looks (else it could not fail); the token is not.
    assert hash_token(token).encode() in written
    assert token.encode() not in written
    assert token.split("_", 2)[2].encode() not in written


def test_the_operator_argument_is_the_creator_and_the_actor(service: Service) -> None:
    key, _ = service.create_key("lab", ["reviewer"], operator="web:admin-key")
    assert key.created_by == "web:admin-key"
    assert service.audit_records()[-1].actor == "web:admin-key"


def test_authenticate_asks_the_catalog_once_and_never_for_malformed_tokens(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, token = service.create_key("lab", ["examiner"])
    asked: list[str] = []
    lookup = service.catalog.api_key_for

    def counted(token_hash: str) -> ApiKey | None:
        asked.append(token_hash)
        return lookup(token_hash)

    monkeypatch.setattr(service.catalog, "api_key_for", counted)
    assert service.authenticate(token) == key
    assert asked == [hash_token(token)]
    assert service.authenticate("hm_not-a-token") is None
    assert service.authenticate(f"Bearer {token}") is None
    assert asked == [hash_token(token)]


def test_malformed_and_unknown_tokens_never_authenticate(service: Service) -> None:
    key, token = service.create_key("lab", ["admin"])
    other_service_token = f"hm_{key.key_id}_" + "A" * 43  # right id, wrong secret

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(
        position=st.integers(min_value=0, max_value=len(token) - 1),
        replacement=st.characters(codec="utf-8"),
        suffix=st.text(alphabet=string.printable, max_size=3),
        text=st.text(max_size=80),
    )
    @example(position=0, replacement="H", suffix="", text=other_service_token)
    @example(position=len(token) - 1, replacement="=", suffix=" ", text=token.upper())
    def check(position: int, replacement: str, suffix: str, text: str) -> None:
        changed = token[:position] + replacement + token[position + 1 :]
        for candidate in (changed, token + suffix, token[:position], text):
            if candidate != token:
                assert service.authenticate(candidate) is None, candidate
        assert service.authenticate(token) == key

    check()
