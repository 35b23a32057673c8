"""Errors as ``application/problem+json`` (RFC 9457), with a stable ``type`` per error class.

Every error the API returns is a problem document::

    {"type": "https://hashmatch.invalid/problems/not-found", "title": "Not found",
     "status": 404, "detail": "no list 'caid'"}

``type`` is the contract: clients branch on it, never on ``detail``, whose wording may
change. :data:`PROBLEM_TYPES` lists every type, and a test pins the table. The core's
errors are translated here, once, by class (``HashmatchError.http_status`` gives the
status); the core never speaks HTTP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from hashmatch import errors

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "Problem",
    "ProblemResponse",
    "install_problem_handlers",
    "problem_for",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://hashmatch.invalid/problems/"

_log = logging.getLogger("hashmatch.web")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem type: its slug (the end of its ``type`` URI), title and usual status."""

    slug: str
    title: str
    status: int

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug


# Most specific classes first: the first ``isinstance`` match wins.
_BY_CLASS: tuple[tuple[type[errors.HashmatchError], Problem], ...] = (
    (errors.DigestError, Problem("invalid-digest", "Invalid digest", 422)),
    (errors.UnsupportedFormat, Problem("unsupported-format", "Unsupported format", 415)),
    (errors.RecordError, Problem("invalid-record", "Invalid record", 422)),
    (errors.ConfigurationError, Problem("configuration", "Invalid configuration", 400)),
    (errors.TooLarge, Problem("too-large", "Request too large", 413)),
    (errors.SignatureError, Problem("signature-refused", "Signature refused", 422)),
    (errors.BundleError, Problem("invalid-bundle", "Invalid bundle", 422)),
    (errors.VettingError, Problem("vetting-refused", "List file refused by vetting", 422)),
    (errors.InputError, Problem("invalid-input", "Invalid input", 400)),
    (errors.NotFound, Problem("not-found", "Not found", 404)),
    (errors.Conflict, Problem("conflict", "Conflict", 409)),
    (errors.IngestError, Problem("ingest-failed", "Ingest failed", 422)),
    (errors.NotReady, Problem("not-ready", "Not ready", 503)),
    (errors.StoreError, Problem("store-unavailable", "Store unavailable", 503)),
    (errors.SnapshotError, Problem("snapshot-error", "Snapshot error", 500)),
    (errors.Cancelled, Problem("cancelled", "Cancelled", 500)),
    (errors.AdapterRegistryError, Problem("adapter-registry", "Adapter registry error", 500)),
    (errors.HashmatchError, Problem("internal", "Internal error", 500)),
)

UNAUTHORIZED = Problem("unauthorized", "Unauthorized", 401)
FORBIDDEN = Problem("forbidden", "Forbidden", 403)
VALIDATION = Problem("validation", "Request validation failed", 422)
NOT_ROUTED = Problem("no-such-endpoint", "No such endpoint", 404)
METHOD = Problem("method-not-allowed", "Method not allowed", 405)
UNSUPPORTED_MEDIA = Problem("unsupported-media-type", "Unsupported media type", 415)
HTTP = Problem("http-error", "HTTP error", 400)
INTERNAL = Problem("internal", "Internal error", 500)

PROBLEM_TYPES: dict[str, Problem] = {
    p.slug: p
    for p in (
        *(p for _, p in _BY_CLASS),
        UNAUTHORIZED,
        FORBIDDEN,
        VALIDATION,
        NOT_ROUTED,
        METHOD,
        UNSUPPORTED_MEDIA,
        HTTP,
    )
}
"""Every problem type the API returns, by slug."""


_INVALID_INPUT = PROBLEM_TYPES["invalid-input"]


def problem_for(error: errors.HashmatchError) -> Problem:
    """The problem type of a core error (by class, most specific first)."""
    for cls, problem in _BY_CLASS:
        if isinstance(error, cls):
            return problem
    return INTERNAL  # pragma: no cover - HashmatchError closes the table


class ProblemResponse(Response):
    """A problem document."""

    media_type = PROBLEM_MEDIA_TYPE

    def __init__(
        self,
        problem: Problem,
        detail: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        status = status or problem.status
        body = {
            "type": problem.type,
            "title": problem.title,
            "status": status,
            "detail": detail,
            **(extra or {}),
        }
        super().__init__(orjson.dumps(body), status_code=status, headers=headers)


def _core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.HashmatchError)
    problem = problem_for(exc)
    status = problem.status if problem.status != 500 else exc.http_status
    if status >= 500:
        _log.error("%s %s: %s", request.method, _route_of(request), exc)
    return ProblemResponse(problem, str(exc), status=status)


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    found = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in found) or "invalid request"
    return ProblemResponse(VALIDATION, detail, extra={"errors": found})


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    problem = {
        400: _INVALID_INPUT,  # FastAPI's "There was an error parsing the body" (not UTF-8)
        401: UNAUTHORIZED,
        403: FORBIDDEN,
        404: NOT_ROUTED,
        405: METHOD,
        415: UNSUPPORTED_MEDIA,
    }.get(exc.status_code, HTTP)
    return ProblemResponse(
        problem, str(exc.detail), status=exc.status_code, headers=dict(exc.headers or {})
    )


def _unexpected(request: Request, exc: Exception) -> Response:
    _log.exception("%s %s failed", request.method, _route_of(request))
    return ProblemResponse(INTERNAL, "an internal error occurred; it has been logged")


def _route_of(request: Request) -> str:
    """The route template, never the path: a path may hold a queried digest."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "?"))


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document."""
    app.add_exception_handler(errors.HashmatchError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
