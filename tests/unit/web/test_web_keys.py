"""The key routes (admins): list, create (the token shown once), revoke."""

from __future__ import annotations

from typing import Any

import pytest
from web_support import Web, digest, problem_type

from hashmatch.keys import Role, hash_token


def _create(web: Web, **body: Any) -> Any:
    return web.client.post("/v1/keys", json=body, headers=web.auth(Role.ADMIN))


def test_a_new_key_works_at_once_for_its_roles_only(web: Web) -> None:
    reply = _create(web, name="triage station 3", roles=["intake", "auditor"])
    assert reply.status_code == 201, reply.text
    assert reply.headers["cache-control"] == "no-store"
    made = reply.json()
    assert made["roles"] == ["intake", "auditor"]
    assert made["created_by"] == web.operator(Role.ADMIN)
    assert made["active"] is True
    token = made["token"]
    assert token.startswith(f"hm_{made['key_id']}_")
    auth = {"Authorization": f"Bearer {token}"}
    lookup = web.client.get(
        f"/v1/lookup/md5/{digest('md5', 'synthetic-fixture-001')}", headers=auth
    )
    assert lookup.status_code == 200
    assert web.client.get("/v1/audit", headers=auth).status_code == 200
    assert web.client.get("/v1/keys", headers=auth).status_code == 403


def test_a_listing_never_shows_a_token_or_its_hash(web: Web) -> None:
    token = _create(web, name="listed", roles=["reviewer"]).json()["token"]
    reply = web.client.get("/v1/keys", headers=web.auth(Role.ADMIN))
    assert reply.status_code == 200
    keys = reply.json()
    assert {k["name"] for k in keys} >= {"listed", "revoked-key", "admin-key"}
    for key in keys:
        assert set(key) == {
            "key_id",
            "name",
            "roles",
            "created_at",
            "created_by",
            "revoked_at",
            "active",
        }
    for secret in [token, *web.tokens.values(), web.revoked]:
        assert secret not in reply.text
        assert hash_token(secret) not in reply.text
    revoked = next(k for k in keys if k["name"] == "revoked-key")
    assert revoked["active"] is False
    assert revoked["revoked_at"] is not None


def test_a_revoked_key_stops_working_at_once(web: Web) -> None:
    made = _create(web, name="short-lived", roles=["intake"]).json()
    auth = {"Authorization": f"Bearer {made['token']}"}
    assert web.client.get("/v1/lists", headers=auth).status_code == 200  # now cached
    reply = web.client.delete(f"/v1/keys/{made['key_id']}", headers=web.auth(Role.ADMIN))
    assert reply.status_code == 200, reply.text
    assert reply.json()["active"] is False
    assert "token" not in reply.json()
    refused = web.client.get("/v1/lists", headers=auth)
    assert refused.status_code == 401
    assert problem_type(refused) == "unauthorized"
    again = web.client.delete(f"/v1/keys/{made['key_id']}", headers=web.auth(Role.ADMIN))
    assert again.status_code == 409
    assert problem_type(again) == "conflict"


def test_key_changes_are_audited_under_the_admin_key(web: Web) -> None:
    made = _create(web, name="audited", roles=["curator"]).json()
    web.client.delete(f"/v1/keys/{made['key_id']}", headers=web.auth(Role.ADMIN))
    records = [r for r in web.service.audit_records() if r.subject == made["key_id"]]
    assert [r.details["event"] for r in records] == ["created", "revoked"]
    assert {r.actor for r in records} == {web.operator(Role.ADMIN)}
    assert records[0].details["roles"] == ["curator"]


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/v1/keys/0123456789ab", 404, "not-found"),
        ("/v1/keys/NOT-A-KEY", 422, "validation"),
        ("/v1/keys/0123", 422, "validation"),
    ],
)
def test_revoking_an_unknown_or_malformed_key_id_is_a_problem(
    shared_web: Web, path: str, status: int, kind: str
) -> None:
    reply = shared_web.client.delete(path, headers=shared_web.auth(Role.ADMIN))
    assert reply.status_code == status
    assert problem_type(reply) == kind


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "roles": []},
        {"name": "x", "roles": ["superuser"]},
        {"name": "", "roles": ["intake"]},
        {"name": "x"},
        {"name": "x", "roles": ["intake"], "token": "hm_chosen"},
        {"name": "x" * 101, "roles": ["intake"]},
    ],
    ids=["no-role", "unknown-role", "blank-name", "no-roles", "chosen-token", "long-name"],
)
def test_a_bad_key_request_is_refused_and_makes_no_key(
    shared_web: Web, body: dict[str, Any]
) -> None:
    before = len(shared_web.service.keys())
    reply = _create(shared_web, **body)
    assert reply.status_code == 422, reply.text
    assert problem_type(reply) == "validation"
    assert len(shared_web.service.keys()) == before


def test_a_name_of_blanks_is_refused_by_the_core(shared_web: Web) -> None:
    reply = _create(shared_web, name="   ", roles=["intake"])
    assert reply.status_code == 400
    assert problem_type(reply) == "invalid-input"
