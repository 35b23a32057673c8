"""Runs: check an uploaded manifest as a case, and fetch the run and its report.

A run made here is :meth:`Service.check <hashmatch.service.Service.check>` of one
manifest, with the API key as its operator; its JSON report is kept in the data directory
and the CSV and HTML reports are rendered from it on demand.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from hashmatch.reports import CONTENT_SECURITY_POLICY
from hashmatch.web.deps import RunsCaller, ServiceDep, operator_of
from hashmatch.web.models import NO_NUL, RunCreated, RunRecord
from hashmatch.web.routes._upload import UPLOAD_BODY, save_body

__all__ = ["REPORT_MEDIA_TYPES", "router"]

router = APIRouter(prefix="/v1", tags=["runs"])

REPORT_MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
"""The content type of each report format."""

_RUN_ID = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[0-9a-f]+$")]


@router.post(
    "/runs",
    status_code=201,
    response_model=RunCreated,
    summary="Check a manifest",
    description="Check one manifest, sent as the raw body, as a run of the case `case_ref`: "
    "every row gets one verdict, in order, against the serving snapshot. The manifest is "
    "any format `hashmatch check` reads (hashdeep, md5deep, md5sum/sha256sum, DFXML, tool "
    "CSV exports, UFED report.xml, VICS case exports), detected from its content or named "
    "with `format`; a body that no installed adapter recognises as a manifest is refused "
    "with 415 (file content is never accepted). The upload is read once and not kept.\n\n"
    "The run is recorded with the API key as its operator and goes into the audit trail. "
    "Its report is kept in the data directory: like a report of `hashmatch check`, it "
    "holds the file paths the manifest lists (HASHMATCH_RECORD_PATHS decides only whether "
    "the verdict store keeps them too). The reply is the run record, its counts, links to "
    "the report, and any warning about the lists used.",
    openapi_extra=UPLOAD_BODY,
    responses={
        400: {"description": "A parameter is unusable (`invalid-input`)."},
        415: {"description": "The body is not a manifest in an installed format."},
        503: {"description": "No list is loaded yet (`not-ready`)."},
    },
)
async def create_run(
    request: Request,
    key: RunsCaller,
    service: ServiceDep,
    case_ref: Annotated[
        str,
        Query(min_length=1, max_length=200, pattern=NO_NUL, description="The case reference."),
    ],
    name: Annotated[
        str,
        Query(max_length=255, description="The manifest's file name, as the report names it."),
    ] = "upload",
    fmt: Annotated[
        str | None,
        Query(
            alias="format",
            max_length=64,
            description="The manifest format (`hashdeep`, `md5sum` ...); default: detected.",
        ),
    ] = None,
    origin: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=NO_NUL,
            description="Where the manifest came from (`device-image`, `cloud-return` ...).",
        ),
    ] = None,
    strict: Annotated[
        bool, Query(description="Fail the run on a malformed row instead of marking it invalid.")
    ] = False,
) -> RunCreated:
    with service.upload(name) as path:
        await save_body(request, path)
        result = await run_in_threadpool(
            service.check_upload,
            path,
            case_ref=case_ref,
            fmt=fmt,
            origin=origin,
            strict=strict,
            operator=operator_of(key),
        )
    return RunCreated.of(result.run, warnings=list(result.warnings))


@router.get("/runs", response_model=list[RunRecord], summary="List runs")
def list_runs(key: RunsCaller, service: ServiceDep) -> list[RunRecord]:
    """Every run, newest first: those made here and those made with the CLI."""
    return [RunRecord.of(run) for run in service.runs()]


@router.get(
    "/runs/{run_id}",
    response_model=RunRecord,
    summary="Show a run",
    responses={404: {"description": "No such run (`not-found`)."}},
)
def get_run(run_id: _RUN_ID, key: RunsCaller, service: ServiceDep) -> RunRecord:
    """One run by its id (a unique prefix of at least 6 characters will do)."""
    return RunRecord.of(service.run(run_id))


@router.get(
    "/runs/{run_id}/report",
    summary="Fetch a run's report",
    description="The report of a run made through this API, as JSON (the schema in "
    "`schemas/report.schema.json`), CSV (the run record in `#` lines, then one row per "
    "file) or HTML (one self-contained page). Like every report it holds the paths the "
    "manifest listed. A run made with the CLI has its report where its examiner wrote "
    "it: 404 here.",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The report.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "A report as `schemas/report.schema.json` describes.",
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        404: {"description": "No such run, or no report of it kept here (`not-found`)."},
    },
)
def get_report(
    run_id: _RUN_ID,
    key: RunsCaller,
    service: ServiceDep,
    fmt: Annotated[
        Literal["json", "csv", "html"], Query(alias="format", description="The report format.")
    ] = "json",
) -> FileResponse:
    path = service.run_report(run_id, fmt, operator=operator_of(key))
    headers = {"X-Content-Type-Options": "nosniff"}
    if fmt == "html":
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return FileResponse(
        path,
        media_type=REPORT_MEDIA_TYPES[fmt],
        filename=path.name,
        content_disposition_type="attachment",
        headers=headers,
    )
