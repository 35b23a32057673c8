"""POST /v1/runs and the run and report routes: a manifest in, a run and its reports out."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import (
    BENIGN_PLANTED,
    EMPTY_MD5,
    PLANTED,
    UNPLANTED,
    Web,
    make_service,
    md5sum_text,
    problem_type,
    started,
)

from hashmatch.keys import Role
from hashmatch.reports import CONTENT_SECURITY_POLICY

MANIFEST = md5sum_text(PLANTED[:3] + UNPLANTED[:4] + BENIGN_PLANTED[:1])
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def _submit(web: Web, body: bytes | str = MANIFEST, **params: str) -> dict[str, Any]:
    reply = web.client.post(
        "/v1/runs",
        params={"case_ref": "CASE-WEB-1", "name": "device.md5", **params},
        content=body,
        headers=web.auth(Role.EXAMINER),
    )
    assert reply.status_code == 201, reply.text
    made: dict[str, Any] = reply.json()
    return made


def _uploads_left(web: Web) -> list[Path]:
    uploads = web.home / "uploads"
    return list(uploads.rglob("*")) if uploads.exists() else []


def test_a_run_is_made_from_the_manifest_body_with_the_key_as_operator(web: Web) -> None:
    run = _submit(web, origin="device-image")
    assert run["case_ref"] == "CASE-WEB-1"
    assert run["operator"] == web.operator(Role.EXAMINER)
    assert run["counts"] == {
        "known": 3,
        "known_benign": 1,
        "unknown": 4,
        "not_assessable": 0,
        "invalid": 0,
        "total": 8,
    }
    (given,) = run["inputs"]
    assert given["name"] == "device.md5"
    assert given["format"] == "md5sum"
    assert given["origin"] == "device-image"
    assert given["rows"] == 8
    run_id = run["run_id"]
    assert run["links"] == {
        "run": f"/v1/runs/{run_id}",
        "report_json": f"/v1/runs/{run_id}/report?format=json",
        "report_csv": f"/v1/runs/{run_id}/report?format=csv",
        "report_html": f"/v1/runs/{run_id}/report?format=html",
    }
    assert run["warnings"] == []
    assert _uploads_left(web) == [], "the upload must not be kept"


def test_the_run_is_listed_shown_and_audited_under_the_key(web: Web) -> None:
    run = _submit(web)
    run_id = str(run["run_id"])
    listed = web.client.get("/v1/runs", headers=web.auth(Role.EXAMINER)).json()
    assert [r["run_id"] for r in listed] == [run_id]
    for wanted in (run_id, run_id[:8]):
        shown = web.client.get(f"/v1/runs/{wanted}", headers=web.auth(Role.EXAMINER))
        assert shown.status_code == 200
        assert shown.json()["run_id"] == run_id
        assert "warnings" not in shown.json()
    records = [r for r in web.service.audit_records() if r.subject == run_id]
    assert [r.action for r in records] == ["run", "report"]
    assert {r.actor for r in records} == {web.operator(Role.EXAMINER)}
    assert records[0].details["counts"]["total"] == 8


def test_an_unknown_run_is_a_404_problem(shared_web: Web) -> None:
    for path in ("/v1/runs/0123456789abcdef", "/v1/runs/0123456789abcdef/report"):
        reply = shared_web.client.get(path, headers=shared_web.auth(Role.EXAMINER))
        assert reply.status_code == 404
        assert problem_type(reply) == "not-found"


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("json", "application/json"),
        ("csv", "text/csv; charset=utf-8"),
        ("html", "text/html; charset=utf-8"),
    ],
)
def test_each_report_format_is_served_with_its_content_type(web: Web, fmt: str, media: str) -> None:
    run_id = _submit(web)["run_id"]
    reply = web.client.get(
        f"/v1/runs/{run_id}/report", params={"format": fmt}, headers=web.auth(Role.EXAMINER)
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == media
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert f'filename="{run_id}.{fmt}"' in reply.headers["content-disposition"]
    # like a report of `hashmatch check`, it names the files the manifest lists
    assert "evidence/synthetic-fixture-001.jpg" in reply.text
    if fmt == "json":
        report = reply.json()
        assert report["run"]["run_id"] == run_id
        assert report["run"]["operator"] == web.operator(Role.EXAMINER)
        assert len(report["rows"]) == 8
    elif fmt == "csv":
        assert reply.text.startswith("# hashmatch")
        assert f"# run_id: {run_id}" in reply.text
    else:
        assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert reply.text.lstrip().lower().startswith("<!doctype html>")


def test_the_default_report_format_is_json_and_others_are_refused(web: Web) -> None:
    run_id = _submit(web)["run_id"]
    reply = web.client.get(f"/v1/runs/{run_id}/report", headers=web.auth(Role.EXAMINER))
    assert reply.headers["content-type"] == "application/json"
    refused = web.client.get(
        f"/v1/runs/{run_id}/report", params={"format": "xlsx"}, headers=web.auth(Role.EXAMINER)
    )
    assert refused.status_code == 422
    assert problem_type(refused) == "validation"


def test_a_rendered_report_holds_the_rows_the_cli_writes_for_the_same_manifest(
    web: Web, tmp_path: Path
) -> None:
    manifest = tmp_path / "device.md5"
    manifest.write_text(MANIFEST, encoding="utf-8")
    for fmt in ("csv", "json"):
        by_cli = tmp_path / f"by-cli.{fmt}"
        web.service.check([manifest], case_ref="CASE-WEB-1", report=by_cli)
        run_id = _submit(web)["run_id"]
        served = web.client.get(
            f"/v1/runs/{run_id}/report", params={"format": fmt}, headers=web.auth(Role.EXAMINER)
        )
        if fmt == "csv":
            cli_rows = [x for x in by_cli.read_text().splitlines() if not x.startswith("#")]
            api_rows = [x for x in served.text.splitlines() if not x.startswith("#")]
            assert api_rows == cli_rows
        else:
            assert served.json()["rows"] == json.loads(by_cli.read_text())["rows"]


def test_rendering_a_report_is_audited_once_and_kept(web: Web) -> None:
    run_id = str(_submit(web)["run_id"])
    for _ in range(2):
        reply = web.client.get(
            f"/v1/runs/{run_id}/report", params={"format": "csv"}, headers=web.auth(Role.EXAMINER)
        )
        assert reply.status_code == 200
    reports = [
        r for r in web.service.audit_records() if r.subject == run_id and r.action == "report"
    ]
    assert [r.details["report"] for r in reports] == [f"{run_id}.json", f"{run_id}.csv"]
    assert reports[-1].actor == web.operator(Role.EXAMINER)
    assert (web.home / "reports" / f"{run_id}.csv").is_file()


def test_a_run_made_with_the_cli_has_no_report_here(web: Web, tmp_path: Path) -> None:
    manifest = tmp_path / "device.md5"
    manifest.write_text(MANIFEST, encoding="utf-8")
    run_id = web.service.check([manifest], case_ref="CASE-CLI").run.run_id
    shown = web.client.get(f"/v1/runs/{run_id}", headers=web.auth(Role.EXAMINER))
    assert shown.status_code == 200
    reply = web.client.get(f"/v1/runs/{run_id}/report", headers=web.auth(Role.EXAMINER))
    assert reply.status_code == 404
    assert problem_type(reply) == "not-found"
    assert "HTTP API" in reply.json()["detail"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (PNG, "application/octet-stream"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)), "application/octet-stream"),
        (os.urandom(4096), "application/octet-stream"),
        (b"", "text/plain"),
        (b"just some words, not a manifest\n", "text/plain"),
        (MANIFEST.encode(), "image/png"),
        (MANIFEST.encode(), "video/mp4"),
    ],
    ids=["png", "jpeg", "random", "empty", "words", "declared-image", "declared-video"],
)
def test_file_content_is_refused_and_nothing_is_kept(
    shared_web: Web, body: bytes, content_type: str
) -> None:
    reply = shared_web.client.post(
        "/v1/runs",
        params={"case_ref": "CASE-X", "name": "photo.png"},
        content=body,
        headers={**shared_web.auth(Role.EXAMINER), "Content-Type": content_type},
    )
    assert reply.status_code == 415, reply.text
    assert problem_type(reply) == "unsupported-format"
    assert shared_web.service.runs() == []
    assert _uploads_left(shared_web) == []


def test_a_named_format_reads_the_manifest_but_does_not_let_file_content_in(web: Web) -> None:
    run = _submit(web, format="md5sum")
    assert run["inputs"][0]["format"] == "md5sum"
    refused = web.client.post(
        "/v1/runs",
        params={"case_ref": "CASE-X", "format": "md5sum"},
        content=PNG,
        headers=web.auth(Role.EXAMINER),
    )
    assert refused.status_code == 415
    assert problem_type(refused) == "unsupported-format"
    for fmt, wanted in (("no-such-format", "unsupported-format"), ("vics", "invalid-input")):
        reply = web.client.post(
            "/v1/runs",
            params={"case_ref": "CASE-X", "format": fmt},
            content=MANIFEST,
            headers=web.auth(Role.EXAMINER),
        )
        assert problem_type(reply) == wanted, reply.text


def test_malformed_rows_are_invalid_or_fail_the_run_under_strict(web: Web) -> None:
    body = MANIFEST + "not-a-digest  evidence/odd.jpg\n" + f"{EMPTY_MD5}  evidence/empty.jpg\n"
    run = _submit(web, body)
    assert run["counts"]["invalid"] == 1
    assert run["counts"]["not_assessable"] == 1
    reply = web.client.post(
        "/v1/runs",
        params={"case_ref": "CASE-X", "strict": "true"},
        content=body,
        headers=web.auth(Role.EXAMINER),
    )
    assert reply.status_code in (400, 422), reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_a_case_reference_is_required(shared_web: Web) -> None:
    for params in ({}, {"case_ref": ""}):
        reply = shared_web.client.post(
            "/v1/runs", params=params, content=MANIFEST, headers=shared_web.auth(Role.EXAMINER)
        )
        assert reply.status_code == 422
        assert problem_type(reply) == "validation"
    nul = shared_web.client.post(
        "/v1/runs",
        params={"case_ref": "CASE\x00X", "origin": "device\x00"},
        content=MANIFEST,
        headers=shared_web.auth(Role.EXAMINER),
    )
    assert nul.status_code == 422
    assert problem_type(nul) == "validation"
    assert shared_web.service.runs() == []
    blank = shared_web.client.post(
        "/v1/runs",
        params={"case_ref": "   "},
        content=MANIFEST,
        headers=shared_web.auth(Role.EXAMINER),
    )
    assert problem_type(blank) == "invalid-input"


def test_the_name_is_kept_without_folders(web: Web) -> None:
    run = _submit(web, name="../../etc/C:\\cases\\device.md5")
    assert run["inputs"][0]["name"] == "device.md5"
    assert not (web.home.parent / "etc").exists()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Web]:
    service = make_service(tmp_path / "home", api_max_upload_bytes=2048, api_max_body_bytes=1024)
    with service, started(service) as made:
        yield made


def test_an_upload_over_the_limit_is_a_413_problem(small: Web) -> None:
    big = md5sum_text([f"synthetic-fixture-big-{i:04}" for i in range(60)])
    assert len(big) > 2048
    declared = small.client.post(
        "/v1/runs", params={"case_ref": "C"}, content=big, headers=small.auth(Role.EXAMINER)
    )
    streamed = small.client.post(
        "/v1/runs",
        params={"case_ref": "C"},
        content=(big[i : i + 500].encode() for i in range(0, len(big), 500)),
        headers=small.auth(Role.EXAMINER),
    )
    for reply in (declared, streamed):
        assert reply.status_code == 413, reply.text
        assert problem_type(reply) == "too-large"
    assert small.service.runs() == []
    assert _uploads_left(small) == []
    # the upload limit, not the smaller body limit, applies to a manifest
    fits = md5sum_text(PLANTED * 2 + PLANTED[:5])
    assert 1024 < len(fits) <= 2048
    ok = small.client.post(
        "/v1/runs", params={"case_ref": "C"}, content=fits, headers=small.auth(Role.EXAMINER)
    )
    assert ok.status_code == 201, ok.text


def test_a_run_before_any_list_is_loaded_is_refused(tmp_path: Path) -> None:
    service = make_service(tmp_path / "home", load=False)
    with service, started(service) as web:
        reply = web.client.post(
            "/v1/runs", params={"case_ref": "C"}, content=MANIFEST, headers=web.auth(Role.EXAMINER)
        )
    assert reply.status_code == 503
    assert problem_type(reply) == "not-ready"
    assert service.runs() == []
