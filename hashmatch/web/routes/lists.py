"""Lists: see them and their history (every role), create them and load versions (curators).

A version is loaded from a list file sent as the raw body, read once and not kept; every
load and rollback makes a new, immutable version that serves at once (in every worker
within ``HASHMATCH_SNAPSHOT_POLL_SECONDS``) and goes into the audit trail with the API
key as who did it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from hashmatch.model import UpdateMode
from hashmatch.web.deps import ListsCaller, ReadCaller, ServiceDep, operator_of
from hashmatch.web.models import ListCreate, ListRecord, ListVersionRecord, RollbackRequest
from hashmatch.web.routes._upload import UPLOAD_BODY, save_body

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["lists"])

_NAME = Annotated[str, Path(min_length=1, max_length=64, description="The list's name.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such list (`not-found`)."}}


@router.get("/lists", response_model=list[ListRecord], summary="List the lists")
def list_lists(key: ReadCaller, service: ServiceDep) -> list[ListRecord]:
    """Every list, by name, with the version that serves (no entries)."""
    return [ListRecord.model_validate(info) for info in service.lists()]


@router.get("/lists/{name}", response_model=ListRecord, summary="Show a list", responses=_NOT_FOUND)
def get_list(name: _NAME, key: ReadCaller, service: ServiceDep) -> ListRecord:
    """One list: its purpose, description, policy and the version that serves."""
    return ListRecord.model_validate(service.list_info(name))


@router.get(
    "/lists/{name}/versions",
    response_model=list[ListVersionRecord],
    summary="A list's history",
    responses=_NOT_FOUND,
)
def list_versions(name: _NAME, key: ReadCaller, service: ServiceDep) -> list[ListVersionRecord]:
    """Every version of a list, oldest first: where each came from, who loaded it, when,
    what it held, and how its source was vetted."""
    return [ListVersionRecord.model_validate(v) for v in service.versions(name)]


@router.post(
    "/lists",
    status_code=201,
    response_model=ListRecord,
    summary="Create a list",
    responses={409: {"description": "A list of that name exists (`conflict`)."}},
)
def create_list(body: ListCreate, key: ListsCaller, service: ServiceDep) -> ListRecord:
    """A new, empty list; load its first version with ``POST /v1/lists/{name}/versions``."""
    info = service.add_list(body.name, body.purpose, body.description, operator=operator_of(key))
    return ListRecord.model_validate(info)


@router.post(
    "/lists/{name}/versions",
    status_code=201,
    response_model=ListVersionRecord,
    summary="Load a version of a list",
    description="Load the list file sent as the raw body as the list's next version, and "
    "serve it. `mode` `replace` loads the whole list; `add` and `remove` load a delta on "
    "the serving version (its entries added, or its digests taken out). The file is any "
    "format `hashmatch ingest` reads, detected from its content or named with `format`; "
    "a body that no installed adapter recognises as a list file is refused with 415. The "
    "version records `source_name` (default `upload`) as its source, with the body's "
    "SHA-256. A list that requires signatures refuses an upload (a signature cannot "
    "travel with it): load signed files with the CLI.",
    openapi_extra=UPLOAD_BODY,
    responses={
        **_NOT_FOUND,
        400: {"description": "The file cannot be read as that format (`invalid-input`)."},
        415: {"description": "The body is not a list file in an installed format."},
    },
)
async def ingest_version(
    request: Request,
    name: _NAME,
    key: ListsCaller,
    service: ServiceDep,
    mode: Annotated[
        Literal["replace", "add", "remove"],
        Query(description="Whole list, or a delta added to or removed from the serving one."),
    ] = "replace",
    fmt: Annotated[
        str | None,
        Query(
            alias="format",
            max_length=64,
            description="The list format (`vics`, `nsrl`, `md5sum` ...); default: detected.",
        ),
    ] = None,
    source_name: Annotated[
        str, Query(max_length=255, description="The source file's name, as recorded.")
    ] = "upload",
    strict: Annotated[
        bool, Query(description="Refuse the file on a malformed record instead of skipping it.")
    ] = False,
) -> ListVersionRecord:
    with service.upload(source_name) as path:
        await save_body(request, path)
        version = await run_in_threadpool(
            service.ingest_upload,
            name,
            path,
            fmt=fmt,
            mode=UpdateMode(mode),
            strict=strict,
            operator=operator_of(key),
        )
    return ListVersionRecord.model_validate(version)


@router.post(
    "/lists/{name}/rollback",
    status_code=201,
    response_model=ListVersionRecord,
    summary="Roll a list back",
    responses={
        404: {"description": "No such list or version (`not-found`)."},
        409: {"description": "That version is already serving (`conflict`)."},
    },
)
def rollback_list(
    name: _NAME, body: RollbackRequest, key: ListsCaller, service: ServiceDep
) -> ListVersionRecord:
    """Serve again what an earlier version held. History is never rewritten: the rollback
    is the list's next version, naming the version it restores."""
    version = service.rollback(name, body.version, operator=operator_of(key))
    return ListVersionRecord.model_validate(version)
