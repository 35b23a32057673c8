"""Liveness, readiness, metrics, the snapshot route, and problems for unrouted requests."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from web_support import (
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


def test_liveness_needs_nothing(shared_web: Web) -> None:
    reply = shared_web.client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"


def test_not_ready_before_any_list_is_loaded_and_ready_after(tmp_path: Path) -> None:
    service = make_service(tmp_path / "home", load=False)
    with service, started(service) as web:
        before = web.client.get("/readyz")
        assert before.status_code == 503
        assert problem_type(before) == "not-ready"
        snapshot = web.client.get("/v1/snapshot", headers=web.auth(Role.INTAKE))
        assert snapshot.status_code == 503
        assert problem_type(snapshot) == "not-ready"
        lookup = web.client.get(
            f"/v1/lookup/md5/{digest('md5', PLANTED[0])}", headers=web.auth(Role.INTAKE)
        )
        assert lookup.status_code == 503

        curator = web.auth(Role.CURATOR)
        web.client.post("/v1/lists", json={"name": "first", "purpose": "concern"}, headers=curator)
        loaded = web.client.post(
            "/v1/lists/first/versions", content=md5sum_text(PLANTED[:2]), headers=curator
        )
        assert loaded.status_code == 201, loaded.text

        after = web.client.get("/readyz")
        assert after.status_code == 200
        ready = after.json()
        assert ready["status"] == "ready"
        shown = web.client.get("/v1/snapshot", headers=web.auth(Role.INTAKE)).json()
        assert ready["snapshot_id"] == shown["id"]
        assert [(x["name"], x["version"]) for x in shown["lists"]] == [("first", 1)]


def test_the_snapshot_route_names_the_list_versions_served(shared_web: Web) -> None:
    reply = shared_web.client.get("/v1/snapshot", headers=shared_web.auth(Role.AUDITOR))
    assert reply.status_code == 200
    shown = reply.json()
    assert sorted(x["name"] for x in shown["lists"]) == ["synthetic-benign", "synthetic-concern"]
    assert shown["entries"]["md5"] == len(PLANTED) + 5
    assert shown["id"] == shared_web.service.serving().snapshot.id


def test_metrics_count_by_route_template_and_never_show_a_queried_digest(
    shared_web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    asked = [digest("md5", UNPLANTED[0]), digest("md5", PLANTED[0]), "zz-not-a-digest"]
    with caplog.at_level(logging.INFO, logger="hashmatch.web"):
        for value in asked:
            shared_web.client.get(f"/v1/lookup/md5/{value}", headers=shared_web.auth(Role.INTAKE))
        shared_web.client.post(
            "/v1/match", json={"items": [{"md5": asked[0]}]}, headers=shared_web.auth(Role.INTAKE)
        )
    reply = shared_web.client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert 'route="/v1/lookup/{algorithm}/{digest}"' in text
    assert 'route="/v1/match"' in text
    assert 'hashmatch_lookups_total{verdict="unknown"}' in text
    assert 'hashmatch_lookups_total{verdict="known"}' in text
    assert "hashmatch_snapshot_info" in text
    assert shared_web.service.serving().snapshot.id in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/v1/lookup/{algorithm}/{digest}" in logged
    for value in asked:
        assert value not in text
        assert value not in logged
    for token in shared_web.tokens.values():
        assert token not in logged
    assert "intake-key" not in logged


def test_an_unknown_path_and_a_wrong_method_are_problems(shared_web: Web) -> None:
    missing = shared_web.client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert problem_type(missing) == "no-such-endpoint"
    wrong = shared_web.client.put("/healthz")
    assert wrong.status_code == 405
    assert problem_type(wrong) == "method-not-allowed"
