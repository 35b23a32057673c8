"""The role matrix: every route of the app, called with no key, with a key of every role,
with a revoked key and with a malformed one.

:data:`ROUTES` is the table of what each route requires; a route the app has and the
table lacks (or the other way round) fails the test, so a new route cannot ship without
its permission being decided here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
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

from hashmatch.keys import GRANTS, Permission, Role
from hashmatch.web.deps import operator_of

Call = dict[str, Any]
_names = itertools.count()


def _arrow_body() -> bytes:
    table = pa.table({"id": ["a"], "md5": [digest("md5", PLANTED[0])]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _run_id(web: Web) -> str:
    found = web.extra.get("run_id")
    if found is None:
        manifest = web.home.parent / "matrix-manifest.md5"
        manifest.write_text(md5sum_text(PLANTED[:2] + UNPLANTED[:2]), encoding="utf-8")
        with web.service.upload("matrix.md5") as path:
            path.write_bytes(manifest.read_bytes())
            found = web.service.check_upload(path, case_ref="MATRIX").run.run_id
        web.extra["run_id"] = found
    return str(found)


# (method, path template) -> (the permission it needs, or None; how to call it)
ROUTES: dict[tuple[str, str], tuple[Permission | None, Callable[[Web], Call]]] = {
    ("GET", "/healthz"): (None, lambda w: {}),
    ("GET", "/readyz"): (None, lambda w: {}),
    ("GET", "/metrics"): (None, lambda w: {}),
    ("GET", "/openapi.json"): (None, lambda w: {}),
    ("GET", "/docs"): (None, lambda w: {}),
    ("GET", "/docs/oauth2-redirect"): (None, lambda w: {}),
    ("GET", "/v1/snapshot"): (Permission.READ, lambda w: {}),
    ("GET", "/v1/lookup/{algorithm}/{digest}"): (
        Permission.MATCH,
        lambda w: {"url": f"/v1/lookup/md5/{digest('md5', PLANTED[0])}"},
    ),
    ("POST", "/v1/match"): (
        Permission.MATCH,
        lambda w: {"json": {"items": [{"id": "a", "md5": digest("md5", PLANTED[0])}]}},
    ),
    ("POST", "/v1/match/arrow"): (
        Permission.MATCH,
        lambda w: {
            "content": _arrow_body(),
            "headers": {"Content-Type": "application/vnd.apache.arrow.stream"},
        },
    ),
    ("POST", "/v1/runs"): (
        Permission.RUNS,
        lambda w: {"params": {"case_ref": "CASE-M"}, "content": md5sum_text(PLANTED[:2])},
    ),
    ("GET", "/v1/runs"): (Permission.RUNS, lambda w: {}),
    ("GET", "/v1/runs/{run_id}"): (Permission.RUNS, lambda w: {"url": f"/v1/runs/{_run_id(w)}"}),
    ("GET", "/v1/runs/{run_id}/report"): (
        Permission.RUNS,
        lambda w: {"url": f"/v1/runs/{_run_id(w)}/report", "params": {"format": "csv"}},
    ),
    ("GET", "/v1/lists"): (Permission.READ, lambda w: {}),
    ("GET", "/v1/lists/{name}"): (
        Permission.READ,
        lambda w: {"url": "/v1/lists/synthetic-concern"},
    ),
    ("GET", "/v1/lists/{name}/versions"): (
        Permission.READ,
        lambda w: {"url": "/v1/lists/synthetic-concern/versions"},
    ),
    ("POST", "/v1/lists"): (
        Permission.LISTS,
        lambda w: {"json": {"name": f"matrix-{next(_names)}", "purpose": "concern"}},
    ),
    ("POST", "/v1/lists/{name}/versions"): (
        Permission.LISTS,
        lambda w: {
            "url": "/v1/lists/synthetic-concern/versions",
            "params": {"mode": "add", "source_name": "delta.md5"},
            "content": md5sum_text([f"synthetic-fixture-matrix-{next(_names)}"]),
        },
    ),
    ("POST", "/v1/lists/{name}/rollback"): (
        Permission.LISTS,
        lambda w: {"url": "/v1/lists/synthetic-concern/rollback", "json": {"version": 99}},
    ),
    ("POST", "/v1/gradings"): (
        Permission.GRADINGS,
        lambda w: {
            "json": {
                "md5": digest("md5", f"synthetic-fixture-graded-{next(_names)}"),
                "scheme": "uk",
                "category": "C",
            }
        },
    ),
    ("GET", "/v1/gradings"): (Permission.GRADINGS, lambda w: {}),
    ("GET", "/v1/audit"): (Permission.AUDIT, lambda w: {}),
    ("GET", "/v1/audit/verify"): (Permission.AUDIT, lambda w: {}),
    ("GET", "/v1/keys"): (Permission.KEYS, lambda w: {}),
    ("POST", "/v1/keys"): (
        Permission.KEYS,
        lambda w: {"json": {"name": f"matrix-{next(_names)}", "roles": ["intake"]}},
    ),
    ("DELETE", "/v1/keys/{key_id}"): (Permission.KEYS, lambda w: {"url": "/v1/keys/0123456789ab"}),
}


# What each route answers a key that may call it, with the request above.
STATUS: dict[tuple[str, str], int] = {
    ("GET", "/healthz"): 200,
    ("GET", "/readyz"): 200,
    ("GET", "/metrics"): 200,
    ("GET", "/openapi.json"): 200,
    ("GET", "/docs"): 200,
    ("GET", "/docs/oauth2-redirect"): 200,
    ("GET", "/v1/snapshot"): 200,
    ("GET", "/v1/lookup/{algorithm}/{digest}"): 200,
    ("POST", "/v1/match"): 200,
    ("POST", "/v1/match/arrow"): 200,
    ("POST", "/v1/runs"): 201,
    ("GET", "/v1/runs"): 200,
    ("GET", "/v1/runs/{run_id}"): 200,
    ("GET", "/v1/runs/{run_id}/report"): 200,
    ("GET", "/v1/lists"): 200,
    ("GET", "/v1/lists/{name}"): 200,
    ("GET", "/v1/lists/{name}/versions"): 200,
    ("POST", "/v1/lists"): 201,
    ("POST", "/v1/lists/{name}/versions"): 201,
    ("POST", "/v1/lists/{name}/rollback"): 404,
    ("POST", "/v1/gradings"): 201,
    ("GET", "/v1/gradings"): 200,
    ("GET", "/v1/audit"): 200,
    ("GET", "/v1/audit/verify"): 200,
    ("GET", "/v1/keys"): 200,
    ("POST", "/v1/keys"): 201,
    ("DELETE", "/v1/keys/{key_id}"): 404,
}


def _app_routes(web: Web) -> dict[tuple[str, str], Any]:
    """Every (method, path template) the app answers, with the route that answers it."""
    found: dict[tuple[str, str], Any] = {}
    for context in iter_route_contexts(web.client.app.routes):  # type: ignore[attr-defined]
        for method in context.methods or ():
            if method != "HEAD":
                found[(method, str(context.path))] = context.original_route
    return found


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One app for the whole matrix: the calls it makes add lists, keys and versions that
    no other call depends on."""
    service = make_service(tmp_path_factory.mktemp("matrix") / "home")
    with service, started(service) as made:
        yield made


def _call(web: Web, method: str, path: str, headers: dict[str, str] | None) -> Any:
    request = dict(ROUTES[(method, path)][1](web))
    url = request.pop("url", path)
    merged = {**request.pop("headers", {}), **(headers or {})}
    return web.client.request(method, url, headers=merged, **request)


def test_every_route_of_the_app_is_in_the_table(shared_web: Web) -> None:
    routes = set(_app_routes(shared_web))
    assert {r for r in routes if r[1].startswith("/v1")}, "no /v1 route found"
    assert routes - set(ROUTES) == set(), "routes missing from the role table"
    assert set(ROUTES) - routes == set(), "the role table names routes the app lacks"
    assert set(STATUS) == set(ROUTES)


def test_each_route_declares_the_permission_of_the_table(shared_web: Web) -> None:
    checked = 0
    for (method, path), route in _app_routes(shared_web).items():
        declared = set()
        if isinstance(route, APIRoute):
            declared = {
                dep.call.permission  # type: ignore[union-attr]
                for dep in route.dependant.dependencies
                if hasattr(dep.call, "permission")
            }
            checked += 1
        wanted = ROUTES[(method, path)][0]
        assert declared == ({wanted} if wanted else set()), (method, path, declared)
    assert checked >= len(V1)


V1 = sorted(key for key, (permission, _) in ROUTES.items() if permission is not None)


@pytest.mark.parametrize(("method", "path"), V1)
def test_a_v1_route_refuses_a_call_without_a_valid_key(matrix: Web, method: str, path: str) -> None:
    for headers in (
        None,
        {"Authorization": f"Bearer {matrix.revoked}"},
        {"Authorization": "Bearer hm_0123456789ab_not-a-real-token"},
        {"Authorization": f"Basic {matrix.tokens[Role.ADMIN]}"},
    ):
        reply = _call(matrix, method, path, headers)
        assert reply.status_code == 401, (method, path, headers, reply.text)
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert problem_type(reply) == "unauthorized"


@pytest.mark.parametrize(("method", "path"), V1)
def test_a_v1_route_answers_the_roles_that_grant_it_and_forbids_the_others(
    matrix: Web, method: str, path: str
) -> None:
    permission = ROUTES[(method, path)][0]
    assert permission is not None
    for role in Role:
        reply = _call(matrix, method, path, matrix.auth(role))
        if permission in GRANTS[role]:
            assert reply.status_code not in (401, 403), (role, method, path, reply.text)
            assert reply.status_code == STATUS[(method, path)], (role, method, path, reply.text)
        else:
            assert reply.status_code == 403, (role, method, path, reply.text)
            assert problem_type(reply) == "forbidden"
            assert "WWW-Authenticate" not in reply.headers


@pytest.mark.parametrize(
    ("method", "path"), sorted(key for key, (p, _) in ROUTES.items() if p is None)
)
def test_the_public_routes_need_no_key(matrix: Web, method: str, path: str) -> None:
    reply = _call(matrix, method, path, None)
    assert reply.status_code == STATUS[(method, path)], (method, path, reply.text)


def test_the_operator_of_a_key_names_its_id_and_name_and_nothing_secret(
    shared_web: Web,
) -> None:
    listed = shared_web.service.keys()  # Service.keys(), not a mapping's
    key = next(k for k in listed if k.key_id == shared_web.key_ids[Role.CURATOR])
    named = operator_of(key)
    assert named == f"key:{key.key_id} (curator-key)"
    assert shared_web.tokens[Role.CURATOR] not in named
