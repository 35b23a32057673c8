"""The OpenAPI document: FastAPI's, completed with what the routes cannot say themselves.

``python -m hashmatch.schemagen`` writes it to ``schemas/openapi.json`` (CI fails when that
file drifts from the code), and the schemathesis suite tests the app against it. FastAPI
derives paths, parameters and reply models from the routes; :func:`openapi_document`
adds, for every operation:

* the problem documents it may answer with (``application/problem+json``, schema
  ``Problem``): 401 and 403 on every route that needs a key; 400 (unreadable) and 413
  (too large) on every route that takes a body; 422 wherever FastAPI validates the
  request (in place of FastAPI's ``HTTPValidationError``, which this API never sends);
  and the problem schema on each error status a route declares with a description only
  (``responses={404: {"description": ...}}``);
* the ``WWW-Authenticate`` header of 401 replies;
* the request models of the bulk routes, which parse their bodies by hand.

Building it needs neither a database nor a snapshot: nothing here calls the service.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from hashmatch.web.models import MatchRequest, Problem
from hashmatch.web.problems import PROBLEM_MEDIA_TYPE

__all__ = ["PROBLEM_REF", "openapi_document", "operation_id"]

PROBLEM_REF = "#/components/schemas/Problem"
_REF_TEMPLATE = "#/components/schemas/{model}"
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

_STANDARD: dict[int, str] = {
    400: "The body cannot be read as what it is sent as (`invalid-input`).",
    401: "No API key, or one that is unknown or revoked (`unauthorized`).",
    403: "The key's roles do not allow this (`forbidden`).",
    413: "The body is larger than the server's limit, or carries too many items (`too-large`).",
    422: "The parameters or the body are not valid (`validation`); `errors` says where.",
}


def operation_id(route: APIRoute) -> str:
    """A route's ``operationId``: its function's name (``lookup``, ``match_json``).

    Stable as long as the function keeps its name, and readable in generated clients;
    :func:`openapi_document` refuses two routes with the same one.
    """
    return route.name


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, completed (see the module's docstring)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (MatchRequest, Problem):
        schema = model.model_json_schema(ref_template=_REF_TEMPLATE)
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[model.__name__] = schema
    seen: dict[str, str] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            label = f"{method.upper()} {path}"
            found = operation.get("operationId")
            if found in seen:
                raise ValueError(f"{label} and {seen[found]} share the operationId {found!r}")
            seen[found] = label
            _complete(operation)
    # FastAPI's validation error models describe a reply this API never sends.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    needed: set[int] = set()
    if operation.get("security"):
        needed |= {401, 403}
    if "requestBody" in operation:
        needed |= {400, 413}
    if responses.pop("422", None) is not None:  # FastAPI's: it validates this operation
        needed.add(422)
    for code in sorted(needed):
        responses.setdefault(str(code), {"description": _STANDARD[code]})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    if "401" in responses:
        responses["401"]["headers"] = {
            "WWW-Authenticate": {
                "description": "`Bearer`: how to authenticate.",
                "schema": {"type": "string"},
            }
        }
