"""The audit routes: read the trail page by page, and verify it (intact, or what is wrong)."""

from __future__ import annotations

import sqlite3

from web_support import Web, problem_type

from hashmatch.keys import Role, hash_token


def test_the_trail_is_read_oldest_first_and_page_by_page(web: Web) -> None:
    everything = web.service.audit_records()
    assert len(everything) > 4
    first = web.client.get("/v1/audit", headers=web.auth(Role.AUDITOR))
    assert first.status_code == 200
    page = first.json()
    assert [r["seq"] for r in page["records"]] == [r.seq for r in everything]
    assert page["next_since_seq"] == everything[-1].seq

    seen: list[int] = []
    since = 0
    while True:
        reply = web.client.get(
            "/v1/audit", params={"since_seq": since, "limit": 2}, headers=web.auth(Role.AUDITOR)
        ).json()
        if not reply["records"]:
            assert reply["next_since_seq"] == since
            break
        assert len(reply["records"]) <= 2
        seen += [r["seq"] for r in reply["records"]]
        since = reply["next_since_seq"]
    assert seen == [r.seq for r in everything]
    record = page["records"][0]
    assert set(record) == {
        "seq",
        "at",
        "actor",
        "action",
        "subject",
        "details",
        "prev_hash",
        "hash",
    }


def test_the_page_size_is_bounded(shared_web: Web) -> None:
    for params in ({"limit": 0}, {"limit": 10_001}, {"since_seq": -1}, {"limit": "many"}):
        reply = shared_web.client.get(
            "/v1/audit", params=params, headers=shared_web.auth(Role.AUDITOR)
        )
        assert reply.status_code == 422, params
        assert problem_type(reply) == "validation"
    most = shared_web.client.get(
        "/v1/audit", params={"limit": 10_000}, headers=shared_web.auth(Role.AUDITOR)
    )
    assert most.status_code == 200


def test_an_intact_trail_says_so(shared_web: Web) -> None:
    reply = shared_web.client.get("/v1/audit/verify", headers=shared_web.auth(Role.AUDITOR))
    assert reply.status_code == 200
    result = reply.json()
    assert result["intact"] is True
    assert result["problems"] == []
    assert result["checked"] == len(shared_web.service.audit_records())
    assert result["summary"].startswith("audit trail intact")


def test_an_edited_record_is_reported_with_its_seq(web: Web) -> None:
    with sqlite3.connect(web.home / "catalog.sqlite") as connection:
        connection.execute("UPDATE audit_records SET actor = 'someone-else' WHERE seq = 2")
    reply = web.client.get("/v1/audit/verify", headers=web.auth(Role.AUDITOR))
    assert reply.status_code == 200
    result = reply.json()
    assert result["intact"] is False
    assert result["problems"][0]["seq"] == 2
    assert result["problems"][0]["kind"] == "edited"
    assert "NOT intact" in result["summary"]
    assert "seq 2" in result["summary"]


def test_the_trail_never_holds_a_token_or_its_hash(web: Web) -> None:
    made = web.client.post(
        "/v1/keys", json={"name": "audited", "roles": ["auditor"]}, headers=web.auth(Role.ADMIN)
    ).json()
    web.client.delete(f"/v1/keys/{made['key_id']}", headers=web.auth(Role.ADMIN))
    text = web.client.get("/v1/audit", headers=web.auth(Role.AUDITOR)).text
    for token in [*web.tokens.values(), web.revoked, made["token"]]:
        assert token not in text
        assert hash_token(token) not in text
        assert token.split("_", 2)[2] not in text  # the secret (it may hold "_" itself)
    assert made["key_id"] in text
