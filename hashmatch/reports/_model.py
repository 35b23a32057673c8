"""What a report holds, as dataclasses; the JSON Schema in ``schemas/`` is generated from them."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch.model import Vetting

if TYPE_CHECKING:
    from hashmatch.index import SnapshotList

__all__ = [
    "MAPPING_NOTE",
    "NO_SCHEME",
    "REPORT_FORMAT",
    "REVIEW",
    "STATEMENT",
    "Count",
    "Report",
    "ReportCounts",
    "ReportCrosswalk",
    "ReportHeader",
    "ReportInput",
    "ReportList",
    "ReportMapped",
    "ReportMapping",
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

MAPPING_NOTE = (
    "Each 'mapped' category is a crosswalk's suggestion, for triage, of how the source's own "
    "label reads in another scheme. It is shown beside that label, names the crosswalk and "
    "version that made it, and is not a legal category in any jurisdiction: only a person who "
    "looks at the file can grade it. 'review' means the crosswalk has no equivalent for the "
    "source's code."
)
"""What every report that maps categories says about them."""

NO_SCHEME = "(none)"
"""The scheme under which counts list categories whose source names no scheme."""

REVIEW = "(review)"
"""The mapped category under which counts list matches that a crosswalk could not map."""


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
    origin: str | None = None
    """Where the manifest came from, as the examiner stated it (``device-image``,
    ``cloud-return``, ``provider-production``, ``local-scan``...); None when not stated."""


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
    signature: str = "unsigned"
    """How the source was vetted: ``valid`` (signed by a trusted key) or ``unsigned``."""
    signed_by: str | None = None
    """The trusted publisher and key id, when the signature is valid."""


def report_lists(
    lists: Iterable[SnapshotList], vetting: Mapping[str, Vetting] | None = None
) -> list[ReportList]:
    """The list versions of a snapshot, as a report names them (``vetting`` by version id)."""
    vetted = vetting or {}
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
            signature=vetted.get(item.version_id, Vetting()).signature,
            signed_by=vetted.get(item.version_id, Vetting()).signed_by,
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
    """Counts by verdict, list, category and flag; ``review_queue`` is the number of unknown files.

    ``by_category`` counts ``known`` files by the labels their sources gave, scheme then code
    (a file is counted once under each code any of its matches carries); ``by_mapped_category``
    does the same for the mapped categories of a run with ``--map-to``, where ``"A|B"`` is one
    suggestion ("A or B") and ``(review)`` holds what no crosswalk could map. ``by_flag``
    counts ``known`` files with a flag (``victim_identified``, ...) set by any of their matches.
    """

    total: Count
    by_verdict: dict[str, Count]
    by_list: dict[str, Count]
    review_queue: int
    by_category: dict[str, dict[str, Count]] = field(default_factory=dict)
    by_mapped_category: dict[str, dict[str, Count]] = field(default_factory=dict)
    by_flag: dict[str, Count] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportCrosswalk:
    """One crosswalk in force for a run's ``--map-to`` target, and where it came from."""

    name: str
    """``<from>-to-<to>``."""
    version: str
    from_scheme: str
    to_scheme: str
    title: str
    origin: str
    """``shipped`` (with hashmatch), or the path of the user's own file."""
    sha256: str
    """Of the crosswalk file, so the exact table can be found again."""
    replaces: str | None = None
    """The shipped crosswalk (``name@version``) a user's file overrode."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportMapping:
    """The scheme a run mapped categories to, the crosswalks in force and those used."""

    target: str
    note: str
    crosswalks: list[ReportCrosswalk]
    applied: list[str]
    """What mapped at least one match of the run: ``name@version`` of a crosswalk,
    ``category-table <table>`` of a source's own profile table, or ``identity``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportMapped:
    """A match's category as a crosswalk suggests it in another scheme; never a legal grading."""

    scheme: str
    category: builtins.list[str]
    """Target codes; several mean "one of these"; empty when none applies (see ``review``)."""
    crosswalk: str | None = None
    """What made the suggestion (``ncmec-to-uk@1``, ``category-table UK@2026-01``, ``identity``)."""
    review: str | None = None
    """Why a person must decide: the code has no equivalent, or no crosswalk covers it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportMatch:
    """One list's match on a file: the list, its version, its labels verbatim, and (on request)
    their category mapped through a crosswalk, beside them."""

    list: str
    version: int
    purpose: str
    matched_on: builtins.list[str]  # ``list`` is a field name here
    labels: dict[str, Any] = field(default_factory=dict)
    mapped: ReportMapped | None = None
    """Only in runs with ``--map-to``, and only when the labels carry a category."""


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
    mapping: ReportMapping | None = None
    """The ``--map-to`` target and crosswalks; None when categories were not mapped."""
    warnings: list[str] = field(default_factory=list)
    """What the reader should know about the lists used (a stale list, say)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A whole report, as the JSON report file holds it."""

    schema: str
    run: ReportRun
    statement: list[str]
    counts: ReportCounts
    mapping: ReportMapping | None = None
    warnings: list[str] = field(default_factory=list)
    rows: list[ReportRow]
