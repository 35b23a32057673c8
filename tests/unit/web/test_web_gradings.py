"""The grading routes: a reviewer grades a file by its digests, and the next match knows it."""

from __future__ import annotations

from typing import Any

import pytest
from web_support import EMPTY_MD5, Web, digest, problem_type

from hashmatch.keys import Role

FILE = "synthetic-fixture-graded-001"


def _grade(web: Web, **body: Any) -> Any:
    return web.client.post("/v1/gradings", json=body, headers=web.auth(Role.REVIEWER))


def test_a_grading_is_recorded_per_digest_and_the_file_matches_next(web: Web) -> None:
    before = web.client.get(
        f"/v1/lookup/sha256/{digest('sha256', FILE)}", headers=web.auth(Role.INTAKE)
    )
    assert before.json()["verdict"] == "unknown"
    reply = _grade(
        web,
        md5=digest("md5", FILE),
        sha256=digest("sha256", FILE).upper(),
        scheme="uk",
        category="B",
        flags=["distributed"],
        case_ref="CASE-G",
        note="graded from the queue",
        size=1234,
    )
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert [g["algorithm"] for g in made] == ["md5", "sha256"]
    assert made[1]["digest"] == digest("sha256", FILE)
    assert {g["reviewer"] for g in made} == {web.operator(Role.REVIEWER)}
    assert made[0]["flags"] == ["distributed"]
    after = web.client.get(
        f"/v1/lookup/sha256/{digest('sha256', FILE)}", headers=web.auth(Role.INTAKE)
    ).json()
    assert after["verdict"] == "known"
    (match,) = after["matches"]
    assert match["labels"]["category"] == "B"
    assert match["labels"]["scheme"] == "uk"


def test_the_gradings_are_listed_newest_per_digest_or_all(web: Web) -> None:
    _grade(web, md5=digest("md5", FILE), scheme="uk", category="C", reviewer="reviewer one")
    _grade(web, md5=digest("md5", FILE), scheme="uk", category="B")
    latest = web.client.get("/v1/gradings", headers=web.auth(Role.REVIEWER)).json()
    assert [(g["category"], g["reviewer"]) for g in latest] == [("B", web.operator(Role.REVIEWER))]
    history = web.client.get(
        "/v1/gradings", params={"history": "true"}, headers=web.auth(Role.REVIEWER)
    ).json()
    assert sorted(g["category"] for g in history) == ["B", "C"]
    assert "reviewer one" in {g["reviewer"] for g in history}


def test_each_grading_is_audited_with_the_key_as_actor(web: Web) -> None:
    _grade(web, sha1=digest("sha1", FILE), scheme="vics-us", category="1")
    record = [r for r in web.service.audit_records() if r.action == "grading"][-1]
    assert record.actor == web.operator(Role.REVIEWER)
    assert record.subject == f"sha1:{digest('sha1', FILE)}"
    assert record.details["category"] == "1"
    # the gradings list the grading feeds is loaded under the same key
    ingest = [r for r in web.service.audit_records() if r.action == "ingest"][-1]
    assert ingest.actor == web.operator(Role.REVIEWER)


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"scheme": "uk", "category": "A"}, 400, "invalid-input"),
        ({"md5": "xyz", "scheme": "uk", "category": "A"}, 422, "invalid-digest"),
        ({"md5": EMPTY_MD5, "scheme": "uk", "category": "A"}, 422, "invalid-digest"),
        ({"md5": digest("md5", FILE), "scheme": "made-up", "category": "A"}, 400, "invalid-input"),
        (
            {"md5": digest("md5", FILE), "scheme": "uk", "category": "A", "flags": ["nope"]},
            400,
            "invalid-input",
        ),
        ({"md5": digest("md5", FILE), "scheme": "uk"}, 422, "validation"),
        ({"md5": digest("md5", FILE), "scheme": "uk", "category": "A", "x": 1}, 422, "validation"),
        ({"md5": 5, "scheme": "uk", "category": "A"}, 422, "validation"),
    ],
    ids=[
        "no-digest",
        "malformed",
        "empty-file",
        "scheme",
        "flag",
        "no-category",
        "extra",
        "number",
    ],
)
def test_a_bad_grading_is_a_problem_and_records_nothing(
    shared_web: Web, body: dict[str, Any], status: int, kind: str
) -> None:
    reply = _grade(shared_web, **body)
    assert reply.status_code == status, reply.text
    assert problem_type(reply) == kind
    assert shared_web.service.gradings() == []
    assert not [r for r in shared_web.service.audit_records() if r.action == "grading"]
