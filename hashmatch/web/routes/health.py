"""Liveness, readiness, metrics and the serving snapshot.

``/healthz``, ``/readyz`` and ``/metrics`` need no key, so that load balancers and
Prometheus can reach them; they say nothing about any digest or caller.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hashmatch.errors import HashmatchError
from hashmatch.web.deps import ReadCaller, ServiceDep
from hashmatch.web.metrics import CONTENT_TYPE_LATEST
from hashmatch.web.models import Health, SnapshotInfo, SnapshotListInfo
from hashmatch.web.problems import PROBLEM_TYPES, ProblemResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness",
    responses={503: {"description": "The catalog is unreachable or no snapshot is published."}},
)
def readyz(service: ServiceDep) -> Health | Response:
    """Ready when the catalog answers and a snapshot is being served."""
    try:
        serving = service.ready()
    except HashmatchError as exc:
        return ProblemResponse(PROBLEM_TYPES["not-ready"], str(exc))
    return Health(status="ready", snapshot_id=serving.snapshot.id)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    # The media type without its version parameter, which follows prometheus_client's.
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies by route template, lookups by verdict, snapshot id and age."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/snapshot",
    response_model=SnapshotInfo,
    tags=["lists"],
    summary="Snapshot info",
    responses={503: {"description": "No list is loaded yet (`not-ready`)."}},
)
def snapshot(key: ReadCaller, service: ServiceDep) -> SnapshotInfo:
    """The snapshot this worker serves: id, when it was built, and the list versions in it."""
    s = service.serving().snapshot
    return SnapshotInfo(
        id=s.id,
        built_at=s.built_at,
        base_id=s.base_id,
        delta_rows=s.delta_rows,
        entries={a.value: n for a, n in s.counts.items()},
        lists=[
            SnapshotListInfo(
                name=item.name,
                version=item.version,
                version_id=item.version_id,
                purpose=item.purpose.value,
                source_name=item.source_name,
                source_sha256=item.source_sha256,
                loaded_at=item.loaded_at,
            )
            for item in s.lists
        ],
    )
