"""What a report holds, as dataclasses; the JSON Schema in ``schemas/`` is generated from them."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashmatch.index import SnapshotList

__all__ = [
    "REPORT_FORMAT",
    "STATEMENT",
    "Count",
    "Report",
    "ReportCounts",
    "ReportHeader",
    "ReportInput",
    "ReportList",
    "ReportMatch",
    "ReportRow",
    "ReportRun",
    "ToolInfo",
    "report_lists",
]

REPORT_FORMAT = "hashmatch-report/1"

STATEMENT: tuple[str, ...] = (
    "A match means only that the file's digest is equal to a digest that the named source "
    "graded earlier. It is not proof of what the file shows, not a legal category in any "
    "jurisdiction, and says nothing of anyone's age. Each match names its source, the list "
    "version and when that version was loaded, so that the grading can be traced to who made it.",
    "'unknown' means the digest is on no list that was loaded. It does not mean the file is "
    "clean, harmless or not illegal, and it does not mean the material is new or "
    "'first generation': unknown files are the queue for human review.",
    "'known_benign' means the digest is only on lists of known ordinary files or software "
    "(such as NSRL): known, not 'safe'.",
    "'not_assessable' means no usable digest was given (missing, unreadable, or the digest of "
    "a zero-length file, which is on many lists and matches nothing); such files are counted "
    "here, never dropped. 'invalid' means the input row itself was malformed; the reason is given.",
    "Exact digests do not survive re-encoding, resizing or any single changed byte: a file "
    "that was altered will not match, whatever it shows.",
)
"""The plain-language statement every report carries."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolInfo:
    """The software that made the report."""

    name: str
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportInput:
    """One manifest the run read."""

    name: str
    sha256: str
    format: str
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportList:
    """One list version the run matched against, with its provenance."""

    name: str
    version: int
    version_id: str
    purpose: str
    source_name: str
    source_sha256: str
    loaded_at: datetime
    entries: int


def report_lists(lists: Iterable[SnapshotList]) -> list[ReportList]:
    """The list versions of a snapshot, as a report names them."""
    return [
        ReportList(
            name=item.name,
            version=item.version,
            version_id=item.version_id,
            purpose=item.purpose.value,
            source_name=item.source_name,
            source_sha256=item.source_sha256,
            loaded_at=item.loaded_at,
            entries=item.entries,
        )
        for item in lists
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRun:
    """Who ran what, when, against which snapshot."""

    run_id: str
    case_ref: str
    operator: str
    started_at: datetime
    finished_at: datetime
    tool: ToolInfo
    algorithms: list[str]
    snapshot_id: str
    snapshot_built_at: datetime
    inputs: list[ReportInput]
    lists: list[ReportList]


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """Files counted with their copies (``total``: charges are per file) and without them."""

    total: int
    unique: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportCounts:
    """Counts by verdict and by list; ``review_queue`` is the number of unknown files."""

    total: Count
    by_verdict: dict[str, Count]
    by_list: dict[str, Count]
    review_queue: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportMatch:
    """One list's match on a file: the list, its version and its labels, verbatim."""

    list: str
    version: int
    purpose: str
    matched_on: builtins.list[str]  # ``list`` is a field name here
    labels: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRow:
    """One input row and its verdict. ``input`` numbers the manifest, ``line`` the row in it."""

    input: int
    line: int
    path: str | None
    size: int | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    verdict: str
    reason: str | None
    matches: list[ReportMatch]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportHeader:
    """Everything in a report but its rows."""

    schema: str
    run: ReportRun
    statement: list[str]
    counts: ReportCounts


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A whole report, as the JSON report file holds it."""

    schema: str
    run: ReportRun
    statement: list[str]
    counts: ReportCounts
    rows: list[ReportRow]
