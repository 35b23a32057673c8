"""What a report holds, as dataclasses; the JSON Schema in ``schemas/`` is generated from them."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch.model import Verdict, Vetting

if TYPE_CHECKING:
    import pyarrow as pa

    from hashmatch.index import SnapshotList
    from hashmatch.match.perceptual import PerceptualOutcome, SimilarEntry

__all__ = [
    "MAPPING_NOTE",
    "NO_PERCEPTUAL",
    "NO_SCHEME",
    "PERCEPTUAL_NOTE",
    "PERCEPTUAL_ROWS",
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
    "ReportPerceptual",
    "ReportRow",
    "ReportRun",
    "ReportSimilar",
    "ToolInfo",
    "report_lists",
    "report_perceptual",
    "similar_text",
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

NO_PERCEPTUAL = "No perceptual matching was used: only exact digests were compared."
"""What a report says when no perceptual vendor was used."""

PERCEPTUAL_ROWS = Verdict.UNKNOWN.value
"""The verdict of the rows a perceptual vendor hashes: the review queue."""

PERCEPTUAL_NOTE: tuple[str, ...] = (
    "Perceptual similarity is a lead for a person to look at: not a match, and not a "
    "grading. A perceptual hash summarises what a vendor's algorithm extracts from a file, "
    "and different files can come out close. A similar entry changes no verdict and no "
    "count of verdicts: each file keeps its exact verdict, shown beside it, and nothing is "
    "ever marked known because of it.",
    "Only files with the verdict 'unknown' (the review queue) were hashed perceptually: "
    "known and known_benign files are already accounted for by their exact digests, and "
    "not_assessable and invalid rows have no usable file or row.",
    "Files were hashed on this machine, opened read-only, through the licensed vendor named "
    "here; hashmatch implements no perceptual hash of its own. The distance is the vendor's "
    "measure: smaller is closer, and only entries within the threshold are shown.",
)
"""What every report that used a perceptual vendor says about its results."""

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
class ReportSimilar:
    """A file whose perceptual hash is near an entry of a list: a lead, beside its verdict."""

    input: int
    line: int
    path: str | None
    verdict: str
    """The row's exact verdict, unchanged by this result."""
    list: str
    list_version: int | None
    """The version of a loaded list; None for the vendor's own list."""
    vendor_list: bool
    """Whether the entry is on the vendor's own list rather than a loaded one."""
    entry: str
    """The entry's ``source_id`` label, else its strongest digest; the vendor's id on its list."""
    distance: float | None
    """In the vendor's measure (smaller is closer); None when the vendor gave none."""
    vendor: str
    vendor_version: str
    adapter_version: str
    labels: dict[str, Any] = field(default_factory=dict)
    """What the list says of the entry, verbatim."""
    text: str = ""
    """"similar to entry X of list Y at distance d, via vendor V version W"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPerceptual:
    """Whether a perceptual vendor was used, and what it found: leads, never verdicts."""

    used: bool
    summary: str
    """:data:`NO_PERCEPTUAL`, or which vendor and version were used and what came of it."""
    note: builtins.list[str] = field(default_factory=list)
    """:data:`PERCEPTUAL_NOTE` when a vendor was used."""
    vendor: str | None = None
    vendor_version: str | None = None
    adapter_version: str | None = None
    fingerprint: str | None = None
    """The tag under which lists carry the vendor's hashes (``test-simhash``, ``pdna``)."""
    max_distance: float | None = None
    rows: str | None = None
    """The verdict of the rows that were considered (``unknown``)."""
    considered: int = 0
    hashed: int = 0
    not_hashed: dict[str, int] = field(default_factory=dict)
    """Files not hashed, by reason."""
    similar_files: int = 0
    fingerprints_compared: int = 0
    """List entries with fingerprints of the vendor's kind that the hashes were compared with."""
    unreadable_fingerprints: int = 0
    """List fingerprints of the vendor's kind that it refused as malformed (skipped)."""
    stopped: str | None = None
    """Why the vendor's part stopped early; the exact verdicts are unaffected."""
    unanswered: dict[str, int] = field(default_factory=dict)
    """Hashed files the vendor's own list gave no answer for, by the vendor's reason."""
    results: builtins.list[ReportSimilar] = field(default_factory=list)


def _not_used() -> ReportPerceptual:
    return ReportPerceptual(used=False, summary=NO_PERCEPTUAL)


def _number(value: float) -> str:
    return f"{value:g}"


def similar_text(result: SimilarEntry | ReportSimilar) -> str:
    """ "similar to entry X of list Y at distance d, via vendor V version W"."""
    if isinstance(result, ReportSimilar):
        name, own, version = result.list, result.vendor_list, result.list_version
    else:
        name, own, version = result.list_name, result.vendor_list, result.list_version
    where = (
        f"the vendor's list {name}"
        if own
        else f"list {name}" + (f" version {version}" if version is not None else "")
    )
    far = (
        f"at distance {_number(result.distance)}"
        if result.distance is not None
        else "(the vendor gave no distance)"
    )
    return (
        f"similar to entry {result.entry} of {where} {far}, via vendor {result.vendor} "
        f"version {result.vendor_version}"
    )


def report_perceptual(outcome: PerceptualOutcome | None, table: pa.Table) -> ReportPerceptual:
    """The report's perceptual section: none used, or ``outcome`` beside each row's verdict.

    ``table`` holds the run's verdict rows (:data:`~hashmatch.match.matcher.VERDICT_SCHEMA`);
    each result takes its row's path and exact verdict from it.
    """
    if outcome is None:
        return _not_used()
    wanted = {(r.input, r.line) for r in outcome.results}
    rows: dict[tuple[int, int], tuple[str | None, str]] = {}
    if wanted:
        for batch in table.to_batches():
            columns = [batch.column(n).to_pylist() for n in ("input", "line", "path", "verdict")]
            for number, line, path, verdict in zip(*columns, strict=True):
                if (number, line) in wanted:
                    rows[number, line] = (path, verdict)
    results = [
        ReportSimilar(
            input=r.input,
            line=r.line,
            path=rows.get((r.input, r.line), (None, ""))[0],
            verdict=rows.get((r.input, r.line), (None, ""))[1],
            list=r.list_name,
            list_version=r.list_version,
            vendor_list=r.vendor_list,
            entry=r.entry,
            distance=r.distance,
            vendor=r.vendor,
            vendor_version=r.vendor_version,
            adapter_version=r.adapter_version,
            labels=dict(r.labels),
            text=similar_text(r),
        )
        for r in outcome.results
    ]
    not_hashed = sum(outcome.not_hashed.values())
    version = outcome.vendor_version or "(unknown: the vendor did not say)"
    summary = (
        f"Perceptual matching via vendor {outcome.vendor} version {version} (adapter "
        f"{outcome.adapter_version}), distance threshold {_number(outcome.max_distance)}: "
        f"{outcome.considered} {PERCEPTUAL_ROWS} files considered, {outcome.hashed} hashed, "
        f"{not_hashed} not hashed; {outcome.similar_files} with similar entries."
    )
    unanswered = sum(outcome.unanswered.values())
    if unanswered:
        summary += (
            f" The vendor's list gave no answer for {unanswered} hashed files "
            f"({', '.join(f'{why}: {n}' for why, n in outcome.unanswered.items())})."
        )
    if outcome.stopped is not None:
        summary += f" The vendor's part stopped early: {outcome.stopped}."
    return ReportPerceptual(
        used=True,
        summary=summary,
        note=list(PERCEPTUAL_NOTE),
        vendor=outcome.vendor,
        vendor_version=outcome.vendor_version,
        adapter_version=outcome.adapter_version,
        fingerprint=outcome.fingerprint or None,
        max_distance=outcome.max_distance,
        rows=PERCEPTUAL_ROWS,
        considered=outcome.considered,
        hashed=outcome.hashed,
        not_hashed=dict(outcome.not_hashed),
        similar_files=outcome.similar_files,
        fingerprints_compared=outcome.fingerprints_compared,
        unreadable_fingerprints=outcome.unreadable_fingerprints,
        stopped=outcome.stopped,
        unanswered=dict(outcome.unanswered),
        results=results,
    )


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
    perceptual: ReportPerceptual = field(default_factory=_not_used)
    """Whether a perceptual vendor was used, and its leads: never verdicts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A whole report, as the JSON report file holds it."""

    schema: str
    run: ReportRun
    statement: list[str]
    counts: ReportCounts
    mapping: ReportMapping | None = None
    warnings: list[str] = field(default_factory=list)
    perceptual: ReportPerceptual = field(default_factory=_not_used)
    rows: list[ReportRow]
