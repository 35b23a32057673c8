"""The list routes: see lists and their history, create one, load versions, roll back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web_support import (
    BENIGN,
    CONCERN,
    PLANTED,
    UNPLANTED,
    Web,
    digest,
    make_service,
    md5sum_text,
    problem_type,
    started,
)

from hashmatch.keys import Role

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


def _verdict(web: Web, name: str) -> str:
    reply = web.client.get(f"/v1/lookup/md5/{digest('md5', name)}", headers=web.auth(Role.INTAKE))
    assert reply.status_code == 200, reply.text
    return str(reply.json()["verdict"])


def _load(web: Web, body: bytes | str, *, name: str = CONCERN, **params: str) -> httpx.Response:
    return web.client.post(
        f"/v1/lists/{name}/versions",
        params=params,
        content=body,
        headers=web.auth(Role.CURATOR),
    )


def test_every_role_sees_the_lists_and_their_history(shared_web: Web) -> None:
    for role in Role:
        listed = shared_web.client.get("/v1/lists", headers=shared_web.auth(role))
        assert listed.status_code == 200
        assert [item["name"] for item in listed.json()] == sorted([BENIGN, CONCERN])
    shown = shared_web.client.get(
        f"/v1/lists/{CONCERN}", headers=shared_web.auth(Role.INTAKE)
    ).json()
    assert shown["purpose"] == "concern"
    assert shown["active_version"] == 1
    assert shown["policy"] == {"require_signature": False, "max_age_days": None}
    (version,) = shared_web.client.get(
        f"/v1/lists/{CONCERN}/versions", headers=shared_web.auth(Role.INTAKE)
    ).json()
    assert version["number"] == 1
    assert version["active"] is True
    assert version["adapter"] == "csv"
    assert version["counts"]["entries"] == len(PLANTED)
    assert version["loaded_by"] == "test-operator"
    assert "entry_file" not in version


def test_an_unknown_list_is_a_404_problem(shared_web: Web) -> None:
    for path in ("/v1/lists/no-such-list", "/v1/lists/no-such-list/versions"):
        reply = shared_web.client.get(path, headers=shared_web.auth(Role.INTAKE))
        assert reply.status_code == 404
        assert problem_type(reply) == "not-found"
    loaded = _load(shared_web, md5sum_text(UNPLANTED[:1]), name="no-such-list")
    assert loaded.status_code == 404
    rolled = shared_web.client.post(
        "/v1/lists/no-such-list/rollback",
        json={"version": 1},
        headers=shared_web.auth(Role.CURATOR),
    )
    assert rolled.status_code == 404


def test_a_curator_creates_a_list_recorded_under_the_key(web: Web) -> None:
    reply = web.client.post(
        "/v1/lists",
        json={"name": "synthetic-new", "purpose": "benign", "description": "made over HTTP"},
        headers=web.auth(Role.CURATOR),
    )
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert made["created_by"] == web.operator(Role.CURATOR)
    assert made["active_version"] is None
    again = web.client.post(
        "/v1/lists",
        json={"name": "synthetic-new", "purpose": "benign"},
        headers=web.auth(Role.CURATOR),
    )
    assert again.status_code == 409
    assert problem_type(again) == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "../etc", "purpose": "concern"},
        {"name": "", "purpose": "concern"},
        {"name": "ok-name", "purpose": "safe"},
        {"name": "ok-name"},
        {"name": "ok-name", "purpose": "concern", "owner": "someone"},
        {"name": "ok-name", "purpose": "concern", "description": "nul\x00"},
    ],
    ids=["path", "blank", "purpose", "no-purpose", "extra-field", "nul"],
)
def test_a_bad_list_request_is_a_validation_problem(shared_web: Web, body: dict[str, str]) -> None:
    reply = shared_web.client.post("/v1/lists", json=body, headers=shared_web.auth(Role.CURATOR))
    assert reply.status_code == 422
    assert problem_type(reply) == "validation"
    assert reply.json()["errors"]


def test_a_loaded_version_serves_at_once_and_is_recorded_under_the_key(web: Web) -> None:
    assert _verdict(web, UNPLANTED[0]) == "unknown"
    reply = _load(web, md5sum_text(UNPLANTED[:2]), mode="add", source_name="delta-2024.md5")
    assert reply.status_code == 201, reply.text
    version = reply.json()
    assert version["number"] == 2
    assert version["mode"] == "add"
    assert version["source_name"] == "delta-2024.md5"
    assert version["loaded_by"] == web.operator(Role.CURATOR)
    assert version["counts"]["entries"] == 2
    assert _verdict(web, UNPLANTED[0]) == "known"
    assert _verdict(web, PLANTED[0]) == "known"

    removed = _load(web, md5sum_text(PLANTED[:1]), mode="remove")
    assert removed.status_code == 201
    assert removed.json()["source_name"] == "upload"
    assert _verdict(web, PLANTED[0]) == "unknown"

    records = [r for r in web.service.audit_records() if r.action == "ingest"]
    assert [r.actor for r in records[-2:]] == [web.operator(Role.CURATOR)] * 2
    assert records[-2].details["source_name"] == "delta-2024.md5"
    assert not (web.home / "uploads").exists() or not any((web.home / "uploads").iterdir())


def test_a_replace_load_is_the_default_and_names_no_folder(web: Web) -> None:
    reply = _load(web, md5sum_text(UNPLANTED[:3]), source_name="../../lists/new.md5")
    assert reply.status_code == 201, reply.text
    version = reply.json()
    assert version["mode"] == "replace"
    assert version["source_name"] == "new.md5"
    assert _verdict(web, PLANTED[0]) == "unknown"
    assert _verdict(web, UNPLANTED[2]) == "known"


@pytest.mark.parametrize(
    ("body", "params"),
    [
        (PNG, {}),
        (PNG, {"format": "md5sum"}),
        (b"", {}),
        (b"\x00\x01\x02 binary \xff\xfe" * 50, {}),
    ],
    ids=["png", "png-named-format", "empty", "binary"],
)
def test_file_content_is_refused_as_a_list(
    shared_web: Web, body: bytes, params: dict[str, str]
) -> None:
    reply = _load(shared_web, body, **params)
    assert reply.status_code == 415, reply.text
    assert problem_type(reply) == "unsupported-format"
    assert len(shared_web.service.versions(CONCERN)) == 1


def test_a_rollback_mode_cannot_be_loaded_and_a_bad_mode_is_refused(shared_web: Web) -> None:
    for mode in ("rollback", "merge"):
        reply = _load(shared_web, md5sum_text(UNPLANTED[:1]), mode=mode)
        assert reply.status_code == 422
        assert problem_type(reply) == "validation"


def test_a_rollback_serves_the_earlier_content_as_a_new_version(web: Web) -> None:
    _load(web, md5sum_text(UNPLANTED[:2]))
    assert _verdict(web, PLANTED[0]) == "unknown"
    reply = web.client.post(
        f"/v1/lists/{CONCERN}/rollback", json={"version": 1}, headers=web.auth(Role.CURATOR)
    )
    assert reply.status_code == 201, reply.text
    version = reply.json()
    assert version["number"] == 3
    assert version["mode"] == "rollback"
    assert version["loaded_by"] == web.operator(Role.CURATOR)
    assert _verdict(web, PLANTED[0]) == "known"
    assert _verdict(web, UNPLANTED[0]) == "unknown"
    record = [r for r in web.service.audit_records() if r.action == "rollback"][-1]
    assert record.actor == web.operator(Role.CURATOR)
    assert record.details["restores"] == 1

    serving = web.client.post(
        f"/v1/lists/{CONCERN}/rollback", json={"version": 3}, headers=web.auth(Role.CURATOR)
    )
    assert serving.status_code == 409
    assert problem_type(serving) == "conflict"
    for body in ({"version": 0}, {"version": "one"}, {}, {"version": 1, "why": "x"}):
        bad = web.client.post(
            f"/v1/lists/{CONCERN}/rollback", json=body, headers=web.auth(Role.CURATOR)
        )
        assert bad.status_code == 422
        assert problem_type(bad) == "validation"
    missing = web.client.post(
        f"/v1/lists/{CONCERN}/rollback", json={"version": 42}, headers=web.auth(Role.CURATOR)
    )
    assert missing.status_code == 404


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Web]:
    service = make_service(tmp_path / "home", api_max_upload_bytes=2048, api_max_body_bytes=1024)
    with service, started(service) as made:
        yield made


def test_a_list_file_over_the_upload_limit_is_a_413_problem(small: Web) -> None:
    big = md5sum_text([f"synthetic-fixture-big-{i:04}" for i in range(60)])
    reply = _load(small, big, mode="add")
    assert reply.status_code == 413
    assert problem_type(reply) == "too-large"
    assert len(small.service.versions(CONCERN)) == 1
    body = {"name": "synthetic-x", "purpose": "concern", "description": "x" * 1500}
    large = small.client.post("/v1/lists", json=body, headers=small.auth(Role.CURATOR))
    assert large.status_code == 413
    assert problem_type(large) == "too-large"
