"""Reviewers' gradings: record a grading of a file by its digests, and read them back.

A grading feeds the local gradings list (``HASHMATCH_GRADINGS_LIST``), so that the next
match of the file says ``known`` with the reviewer as the source; each grading goes into
the audit trail with the API key as who recorded it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hashmatch.digests import Algorithm
from hashmatch.web.deps import GradingsCaller, ServiceDep, operator_of
from hashmatch.web.models import GradingRecord, GradingRequest

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["gradings"])


@router.post(
    "/gradings",
    status_code=201,
    response_model=list[GradingRecord],
    summary="Grade a file",
    description="Record a reviewer's grading of one file, by every digest of it given "
    "(md5, sha1, sha256: give all that are known), as `hashmatch review grade` does. "
    "`scheme` is the category scheme (`uk`, `vics-us`, `vics-uk`, `ncmec` ...), "
    "`category` its code verbatim, `flags` those that hold. A re-grading supersedes the "
    "earlier one, which stays in the history. The reviewer is `reviewer`, or the API key. "
    "The reply holds one grading per digest.",
    responses={
        400: {"description": "No digest, or an unknown scheme or flag (`invalid-input`)."},
        422: {"description": "A digest is malformed (`invalid-digest`), or the body invalid."},
    },
)
def create_grading(
    body: GradingRequest, key: GradingsCaller, service: ServiceDep
) -> list[GradingRecord]:
    given = {Algorithm.MD5: body.md5, Algorithm.SHA1: body.sha1, Algorithm.SHA256: body.sha256}
    made = service.grade(
        {algorithm: digest for algorithm, digest in given.items() if digest},
        scheme=body.scheme,
        category=body.category,
        flags=body.flags,
        reviewer=body.reviewer,
        case_ref=body.case_ref,
        run_id=body.run_id,
        note=body.note,
        size=body.size,
        operator=operator_of(key),
    )
    return [GradingRecord.model_validate(grading) for grading in made]


@router.get("/gradings", response_model=list[GradingRecord], summary="List gradings")
def list_gradings(
    key: GradingsCaller,
    service: ServiceDep,
    history: Annotated[
        bool, Query(description="Every grading, not just the newest of each digest.")
    ] = False,
) -> list[GradingRecord]:
    """Reviewers' gradings: the newest of each digest, or every one with ``history``."""
    return [GradingRecord.model_validate(g) for g in service.gradings(latest=not history)]
