"""The app factory: settings in, a FastAPI app over one :class:`Service` out.

What the app holds in ``app.state``: ``service`` (the facade every route calls),
``keys`` (the API-key check with its short cache), ``metrics``. As it starts it makes
sure the published snapshot is the catalog's and starts a thread that appends buffered
match records to the audit trail once a second; as it stops it appends what is left.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from hashmatch._version import __version__
from hashmatch.config import Settings
from hashmatch.service import Service
from hashmatch.web.deps import KEY_CACHE_SECONDS, AuthProblem, KeyCache
from hashmatch.web.metrics import Metrics, ObserveMiddleware
from hashmatch.web.openapi import openapi_document, operation_id
from hashmatch.web.problems import UNAUTHORIZED, ProblemResponse, install_problem_handlers
from hashmatch.web.routes import ROUTERS

__all__ = ["API_DESCRIPTION", "create_app"]

_log = logging.getLogger("hashmatch.web")

API_DESCRIPTION = """\
Digests in, verdicts out: match MD5, SHA-1 and SHA-256 digests against vetted lists of
known material and known ordinary files. No file content is ever accepted.

Every `/v1` route needs an API key (`Authorization: Bearer KEY`, made with
`hashmatch keys create`) whose roles allow it: `intake` matches; `examiner` matches and
runs checks; `reviewer` grades; `curator` loads lists; `auditor` reads the audit trail;
`admin` manages keys. Errors are `application/problem+json` documents whose `type` is
stable.
"""

_AUDIT_FLUSH_SECONDS = 1.0


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """The HTTP API over ``service`` (or a new one from ``settings``, closed on shutdown)."""
    settings = settings if settings is not None else (service.settings if service else Settings())
    owned = service is None
    svc = service if service is not None else Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.prepare_serving()
        stop = threading.Event()
        flusher = threading.Thread(
            target=_flush_loop, args=(svc, stop), name="hashmatch-audit-flush", daemon=True
        )
        flusher.start()
        try:
            yield
        finally:
            stop.set()
            flusher.join(timeout=10)
            svc.flush_match_audit()
            if owned:
                svc.close()

    app = FastAPI(
        title="hashmatch",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.service = svc
    app.state.keys = KeyCache(svc.authenticate, KEY_CACHE_SECONDS)
    app.state.metrics = Metrics(lambda: _snapshot_of(svc))
    install_problem_handlers(app)
    app.add_exception_handler(AuthProblem, _auth_problem)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        ObserveMiddleware,
        metrics=app.state.metrics,
        limit_for=lambda method, path: _limit_for(settings, method, path),
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _limit_for(settings: Settings, method: str, path: str) -> int:
    if method == "POST" and (
        path == "/v1/runs" or (path.startswith("/v1/lists/") and path.endswith("/versions"))
    ):
        return settings.api_max_upload_bytes
    return settings.api_max_body_bytes


def _auth_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthProblem)
    headers = {"WWW-Authenticate": "Bearer"} if exc.problem is UNAUTHORIZED else None
    return ProblemResponse(exc.problem, exc.detail, headers=headers)


def _snapshot_of(service: Service) -> tuple[str, float] | None:
    try:
        serving = service.live().current()
    except Exception:  # metrics must render even when the snapshot cannot be opened
        return None
    if serving is None:
        return None
    return serving.snapshot.id, serving.snapshot.built_at.timestamp()


def _flush_loop(service: Service, stop: threading.Event) -> None:
    while not stop.wait(_AUDIT_FLUSH_SECONDS):
        try:
            service.flush_match_audit()
        except Exception:
            _log.exception("appending match records to the audit trail failed; will retry")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, built once (see :mod:`hashmatch.web.openapi`)."""
    if app.openapi_schema is None:
        app.openapi_schema = openapi_document(app)
    return app.openapi_schema
