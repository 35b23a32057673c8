"""The audit trail (auditors): read its records, and verify that none was altered.

Every ingest, rollback, run, report, grading, key change and (as the operator configured
with ``HASHMATCH_AUDIT_MATCHES``) match request is a record, each sealed by the hash of
the one before.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hashmatch.web.deps import AuditCaller, ServiceDep
from hashmatch.web.models import AuditItem, AuditPage, AuditVerifyResult

__all__ = ["AUDIT_PAGE_DEFAULT", "AUDIT_PAGE_MAX", "router"]

router = APIRouter(prefix="/v1", tags=["audit"])

AUDIT_PAGE_DEFAULT = 1_000
AUDIT_PAGE_MAX = 10_000


@router.get("/audit", response_model=AuditPage, summary="Read the audit trail")
def list_audit(
    key: AuditCaller,
    service: ServiceDep,
    since_seq: Annotated[
        int,
        Query(ge=0, le=2**63 - 1, description="Records after this seq (0: from the first)."),
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=AUDIT_PAGE_MAX, description="At most this many records.")
    ] = AUDIT_PAGE_DEFAULT,
) -> AuditPage:
    """Audit records after ``since_seq``, oldest first; read on from ``next_since_seq``."""
    records = service.audit_records(since_seq=since_seq, limit=limit)
    return AuditPage(
        records=[AuditItem.model_validate(r) for r in records],
        next_since_seq=records[-1].seq if records else since_seq,
    )


@router.get("/audit/verify", response_model=AuditVerifyResult, summary="Verify the audit trail")
def verify_audit(key: AuditCaller, service: ServiceDep) -> AuditVerifyResult:
    """Check every record's hash and link, and the chain's end against the head file kept
    beside the catalog: ``intact``, or each problem (edited, deleted, reordered,
    duplicated, truncated, replaced) with its seq."""
    return AuditVerifyResult.of(service.audit_verify())
