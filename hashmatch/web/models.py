"""Pydantic models of the HTTP boundary: what requests carry and replies hold.

They document the API (the OpenAPI document in ``schemas/openapi.json`` is generated from
them) and validate the small requests. The bulk match routes parse their bodies with a
faster path (orjson into Arrow columns) that follows these same models; a test holds the
two to the same answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from hashmatch.audit import AuditVerification
from hashmatch.digests import Algorithm
from hashmatch.keys import Role
from hashmatch.model import Purpose, RunInfo, UpdateMode, Verdict
from hashmatch.web.problems import PROBLEM_TYPES

__all__ = [
    "NO_NUL",
    "AuditHeadRecord",
    "AuditItem",
    "AuditPage",
    "AuditProblemRecord",
    "AuditVerifyResult",
    "GradingRecord",
    "GradingRequest",
    "Health",
    "IngestCountsRecord",
    "KeyCreate",
    "KeyCreated",
    "KeyRecord",
    "ListCreate",
    "ListPolicyRecord",
    "ListRecord",
    "ListVersionRecord",
    "LookupResult",
    "MatchItem",
    "MatchRequest",
    "MatchResponse",
    "MatchResult",
    "Problem",
    "RecordWarningRecord",
    "RollbackRequest",
    "RunCreated",
    "RunInputRecord",
    "RunLinks",
    "RunRecord",
    "SnapshotInfo",
    "SnapshotListInfo",
    "ValidationIssue",
    "VettingRecord",
]


NO_NUL = r"^[^\x00]*$"
"""The pattern of free text a request may carry: anything but NUL, which no catalog
database can store."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Model):
    """One list entry a digest was found on, with the source's labels verbatim."""

    model_config = ConfigDict(frozen=True, extra="allow")

    list_name: str = Field(alias="list")
    version: int
    purpose: str
    matched_on: list[str]
    labels: dict[str, Any] | None = None


class LookupResult(_Model):
    """The verdict on one digest."""

    algorithm: str
    digest: str
    verdict: Verdict
    reason: str | None = None
    matches: list[Match] | None = None
    snapshot_id: str


class MatchItem(BaseModel):
    """One item of a bulk match: any of md5, sha1, sha256 (hex), and the caller's id.

    Other fields are ignored. An item whose digest is malformed, or whose fields are not
    text, gets the verdict ``invalid`` with the reason; it is never dropped.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str | None = Field(default=None, description="The caller's id, returned as given.")
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None


class MatchRequest(_Model):
    """A bulk match: items in the order verdicts come back."""

    items: list[MatchItem] = Field(description="At most HASHMATCH_API_MAX_ITEMS items.")


class MatchResult(_Model):
    """The verdict on one item (``reason`` and ``matches`` only when there are some)."""

    id: str | None = None
    verdict: Verdict
    reason: str | None = None
    matches: list[Match] | None = None


class MatchResponse(_Model):
    """Verdicts for a bulk match, one per item, in the items' order."""

    snapshot_id: str
    counts: dict[str, int] = Field(description="Items per verdict.")
    results: list[MatchResult]


class SnapshotListInfo(_Model):
    """One list version a snapshot serves."""

    name: str
    version: int
    version_id: str
    purpose: str
    source_name: str
    source_sha256: str
    loaded_at: datetime


class SnapshotInfo(_Model):
    """The snapshot a worker serves."""

    id: str
    built_at: datetime
    base_id: str | None = Field(description="For a delta snapshot, the full one it builds on.")
    delta_rows: int
    entries: dict[str, int] = Field(description="Digests per algorithm.")
    lists: list[SnapshotListInfo]


class Health(_Model):
    """Liveness or readiness."""

    status: str
    snapshot_id: str | None = None
    detail: str | None = None


class ValidationIssue(_Model):
    """One thing wrong with a request: where (``loc``) and what (``msg``)."""

    loc: list[str] = Field(description="Where: the part of the request, then field names.")
    msg: str


_PROBLEM_TYPE_URIS: list[JsonValue] = [*sorted(p.type for p in PROBLEM_TYPES.values())]


class Problem(BaseModel):
    """An error, as an RFC 9457 problem document (``application/problem+json``).

    ``type`` is stable per error class: clients branch on it, never on ``detail``, whose
    wording may change.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(
        description="A URI naming the error class; stable.",
        json_schema_extra={"enum": _PROBLEM_TYPE_URIS},
    )
    title: str = Field(description="A short summary of the error class.")
    status: int = Field(ge=400, le=599, description="The HTTP status.")
    detail: str = Field(description="What went wrong with this request.")
    instance: str | None = None
    errors: list[ValidationIssue] | None = Field(
        default=None, description="For a request that failed validation: each problem found."
    )


# -- runs -----------------------------------------------------------------------------


class _Record(_Model):
    """A reply built from one of the core's records (a frozen dataclass)."""

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class RunInputRecord(_Record):
    """One manifest a run read, identified by its content digest (never its folder)."""

    name: str
    sha256: str
    format: str
    rows: int
    origin: str | None = None


class RunLinks(_Model):
    """Where to fetch the run and its report (the report only for runs made here)."""

    run: str
    report_json: str
    report_csv: str
    report_html: str


class RunRecord(_Record):
    """A check of a manifest against a snapshot: who ran it, when, on what, and its counts."""

    run_id: str
    case_ref: str
    operator: str = Field(description="Who ran it; for a run made here, the API key.")
    started_at: datetime
    finished_at: datetime | None = None
    tool_version: str
    snapshot_id: str
    algorithms: list[str]
    inputs: list[RunInputRecord]
    counts: dict[str, int] = Field(description="Rows per verdict, and `total`.")
    links: RunLinks

    @classmethod
    def of(cls, run: RunInfo, **extra: Any) -> Self:
        """The record of ``run``, with its links."""
        base = f"/v1/runs/{run.run_id}"
        links = RunLinks(
            run=base,
            report_json=f"{base}/report?format=json",
            report_csv=f"{base}/report?format=csv",
            report_html=f"{base}/report?format=html",
        )
        fields = {name: getattr(run, name) for name in cls.model_fields if hasattr(run, name)}
        return cls.model_validate({**fields, "links": links, **extra})


class RunCreated(RunRecord):
    """A run just made: its record, and what the examiner should know about the lists."""

    warnings: list[str] = Field(
        description="Things to know about the lists used (one older than its policy allows)."
    )


# -- lists ----------------------------------------------------------------------------


class ListCreate(_Model):
    """A new, empty list."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Letters, digits, '.', '_' or '-', starting with a letter or digit.",
    )
    purpose: Purpose = Field(
        description="`concern`: a match is `known`; `benign`: known ordinary files only."
    )
    description: str = Field(default="", max_length=2_000, pattern=NO_NUL)


class ListPolicyRecord(_Record):
    """What a list demands of the files loaded into it, and of its own age."""

    require_signature: bool
    max_age_days: int | None


class ListRecord(_Record):
    """A named list (no entries: lists are never served whole)."""

    name: str
    purpose: Purpose
    description: str
    created_at: datetime
    created_by: str
    active_version: int | None = Field(description="The version that serves; null before any.")
    policy: ListPolicyRecord


class IngestCountsRecord(_Record):
    """What a load read, kept and dropped."""

    rows: int
    entries: int
    md5: int
    sha1: int
    sha256: int
    invalid: int
    empty_file: int
    duplicates: int


class RecordWarningRecord(_Record):
    """A record of the source that was skipped or repaired, with where it was and why."""

    source: str
    line: int | None
    reason: str


class VettingRecord(_Record):
    """What was checked about a version's source before it was accepted."""

    signature: str
    signed_by: str | None
    signed_at: str | None
    signature_file: str | None
    checksum: str | None
    checksum_file: str | None


class ListVersionRecord(_Record):
    """One immutable load of a list (or a rollback to an earlier one)."""

    list_name: str
    number: int
    version_id: str
    purpose: Purpose
    source_name: str
    source_sha256: str
    adapter: str
    adapter_version: str
    loaded_by: str
    loaded_at: datetime
    counts: IngestCountsRecord
    warnings: list[RecordWarningRecord] = Field(description="The first warnings.")
    warning_count: int
    active: bool
    mode: UpdateMode
    base_version_id: str | None = Field(
        description="For a delta, the version it changes; for a rollback, the one it restores."
    )
    vetting: VettingRecord


class RollbackRequest(_Model):
    """Serve again what an earlier version held (recorded as a new version)."""

    version: int = Field(ge=1, description="The number of the version to restore.")


# -- gradings -------------------------------------------------------------------------


class GradingRequest(_Model):
    """A reviewer's grading of one file, by each digest of it that is known."""

    md5: str | None = Field(default=None, max_length=128)
    sha1: str | None = Field(default=None, max_length=128)
    sha256: str | None = Field(default=None, max_length=128)
    scheme: str = Field(max_length=64, description="uk, vics-us, vics-uk, ncmec ...")
    category: str = Field(max_length=64, description="The category code, verbatim.")
    flags: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Flags that hold: victim_identified, distributed, self_generated, "
        "report_remove, computer_generated ...",
    )
    reviewer: str | None = Field(
        default=None, max_length=200, description="Who graded it; default: the API key."
    )
    case_ref: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=64, description="The run it came from.")
    note: str | None = Field(
        default=None, max_length=4_000, description="Free text; kept here, never exported."
    )
    size: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="The file's size in bytes."
    )


class GradingRecord(_Record):
    """A grading of one digest (a file graded by several digests has one per digest)."""

    grading_id: str
    algorithm: Algorithm
    digest: str
    scheme: str
    category: str
    flags: list[str]
    reviewer: str
    graded_at: datetime
    case_ref: str | None
    run_id: str | None
    note: str | None
    size: int | None


# -- audit ----------------------------------------------------------------------------


class AuditItem(_Record):
    """One record of the tamper-evident audit trail."""

    seq: int
    at: datetime
    actor: str = Field(description="Who did it: an operator, or an API key as key:ID (name).")
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(_Model):
    """Audit records after ``since_seq``, oldest first."""

    records: list[AuditItem]
    next_since_seq: int = Field(description="Pass as since_seq to read on from here.")


class AuditHeadRecord(_Record):
    """A record of the chain by its seq and hash."""

    seq: int
    hash: str


class AuditProblemRecord(_Record):
    """One thing wrong with the chain, at the seq where it shows."""

    seq: int
    kind: str
    reason: str


class AuditVerifyResult(_Model):
    """Whether the audit trail is intact, or what is wrong with it."""

    intact: bool
    summary: str
    checked: int = Field(description="Records read.")
    last: AuditHeadRecord | None
    head: AuditHeadRecord | None = Field(description="The head file the chain was checked by.")
    after_head: int
    problems: list[AuditProblemRecord]

    @classmethod
    def of(cls, result: AuditVerification) -> Self:
        """The reply for one verification."""
        if result.ok:
            upto = f", up to seq {result.last.seq}" if result.last is not None else ""
            summary = f"audit trail intact: {result.checked} records{upto}"
        else:
            summary = f"audit trail NOT intact: {len(result.problems)} problem(s): " + "; ".join(
                p.render() for p in result.problems[:20]
            )
        return cls(
            intact=result.ok,
            summary=summary,
            checked=result.checked,
            last=AuditHeadRecord.model_validate(result.last) if result.last else None,
            head=AuditHeadRecord.model_validate(result.head) if result.head else None,
            after_head=result.after_head,
            problems=[AuditProblemRecord.model_validate(p) for p in result.problems],
        )


# -- keys -----------------------------------------------------------------------------


class KeyCreate(_Model):
    """A new API key."""

    name: str = Field(
        min_length=1, max_length=100, description="What the key is for (`triage station 3`)."
    )
    roles: list[Role] = Field(min_length=1, max_length=len(Role))


class KeyRecord(_Record):
    """An API key: its public id, name and roles; never its token or the token's hash."""

    key_id: str
    name: str
    roles: list[Role]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    active: bool


class KeyCreated(KeyRecord):
    """A key just made, with its token: shown this once, and kept nowhere."""

    token: str = Field(description="The bearer token. It cannot be shown again.")
    note: str = "Hand this token to the key's holder now: it cannot be shown again."
