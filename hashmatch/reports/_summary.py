"""Summaries of a run for other systems: the charging summary and the PII-free counts.

* The **charging summary** counts known files per source category (scheme, then the
  source's own code), with copies (``total``: charges are per file) and without them
  (``unique``), per flag and per mapped category, and names the list versions the
  gradings came from. It is an aid to whoever drafts charges, not a charge: the
  categories are what the named sources graded, not legal categories.
* The **PII-free summary** is counts only, for case-management systems: no paths, file
  names, digests, labels' free text or operator name; the case reference, run id, times,
  tool and list versions identify what it summarises.

Both are built from a report header (:class:`ReportHeader`), so they can be made at the
end of a run or later from its JSON report, and give the same figures either way.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import TypeAdapter

from hashmatch.errors import InputError
from hashmatch.reports._model import Count, ReportHeader

__all__ = [
    "CHARGING_NOTE",
    "SUMMARY_KINDS",
    "ChargingLine",
    "ChargingSummary",
    "CountsSummary",
    "SummaryList",
    "charging_summary",
    "counts_summary",
    "render_summary",
    "write_summary",
]

SUMMARY_KINDS = ("charging", "counts")

CHARGING_NOTE = (
    "Counts of files whose digests equal digests that the named sources graded, by the "
    "sources' own categories. 'files' counts every copy (charges are per file); 'unique' "
    "counts distinct digests. A category here is a source's grading, not a legal category "
    "in any jurisdiction: each file must be confirmed by a person before it is charged. "
    "Report Remove and self-generated matches are counted under their flags and are not "
    "leads against the child concerned."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryList:
    """A list version a summary's counts come from."""

    name: str
    version: int
    source_sha256: str
    loaded_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingLine:
    """One row of the charging summary."""

    kind: Literal["category", "mapped_category", "flag"]
    scheme: str
    """The category scheme; empty for flags."""
    code: str
    """The category code verbatim, or the flag name."""
    files: int
    unique: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingSummary:
    """Known files per category and flag, with and without copies."""

    summary: Literal["hashmatch-charging-summary/1"] = "hashmatch-charging-summary/1"
    case_ref: str
    run_id: str
    finished_at: datetime
    note: str
    known: Count
    review_queue: int
    lines: list[ChargingLine]
    lists: list[SummaryList]


@dataclass(frozen=True, slots=True, kw_only=True)
class CountsSummary:
    """Counts only: nothing in it names a person, a file or a digest."""

    summary: Literal["hashmatch-counts-summary/1"] = "hashmatch-counts-summary/1"
    case_ref: str
    run_id: str
    started_at: datetime
    finished_at: datetime
    tool: str
    snapshot_id: str
    inputs: int
    """How many manifests were read (their names are left out)."""
    input_sha256: list[str]
    total: Count
    by_verdict: dict[str, Count]
    review_queue: int
    by_list: dict[str, Count]
    by_category: dict[str, dict[str, Count]]
    by_flag: dict[str, Count]
    lists: list[SummaryList]


def _lists(header: ReportHeader) -> list[SummaryList]:
    return [
        SummaryList(
            name=item.name,
            version=item.version,
            source_sha256=item.source_sha256,
            loaded_at=item.loaded_at,
        )
        for item in header.run.lists
    ]


def charging_summary(header: ReportHeader) -> ChargingSummary:
    """The charging summary of a run."""
    counts = header.counts
    lines = [
        ChargingLine(kind="category", scheme=scheme, code=code, files=c.total, unique=c.unique)
        for scheme, by_code in sorted(counts.by_category.items())
        for code, c in sorted(by_code.items())
    ]
    lines += [
        ChargingLine(
            kind="mapped_category", scheme=scheme, code=code, files=c.total, unique=c.unique
        )
        for scheme, by_code in sorted(counts.by_mapped_category.items())
        for code, c in sorted(by_code.items())
    ]
    lines += [
        ChargingLine(kind="flag", scheme="", code=flag, files=c.total, unique=c.unique)
        for flag, c in sorted(counts.by_flag.items())
    ]
    return ChargingSummary(
        case_ref=header.run.case_ref,
        run_id=header.run.run_id,
        finished_at=header.run.finished_at,
        note=CHARGING_NOTE,
        known=counts.by_verdict.get("known", Count(total=0, unique=0)),
        review_queue=counts.review_queue,
        lines=lines,
        lists=_lists(header),
    )


def counts_summary(header: ReportHeader) -> CountsSummary:
    """The PII-free counts of a run."""
    counts = header.counts
    return CountsSummary(
        case_ref=header.run.case_ref,
        run_id=header.run.run_id,
        started_at=header.run.started_at,
        finished_at=header.run.finished_at,
        tool=f"{header.run.tool.name} {header.run.tool.version}",
        snapshot_id=header.run.snapshot_id,
        inputs=len(header.run.inputs),
        input_sha256=[item.sha256 for item in header.run.inputs],
        total=counts.total,
        by_verdict=dict(counts.by_verdict),
        review_queue=counts.review_queue,
        by_list=dict(counts.by_list),
        by_category={k: dict(v) for k, v in counts.by_category.items()},
        by_flag=dict(counts.by_flag),
        lists=_lists(header),
    )


def render_summary(summary: ChargingSummary | CountsSummary, fmt: Literal["json", "csv"]) -> str:
    """The summary as JSON, or as CSV (one line per count, the run record in ``#`` lines)."""
    if fmt == "json":
        data = TypeAdapter(type(summary)).dump_python(summary, mode="json")
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    buffer.write(f"# {summary.summary}\n# case {summary.case_ref}\n# run {summary.run_id}\n")
    for item in summary.lists:
        buffer.write(
            f"# list {item.name} v{item.version} source sha256 {item.source_sha256} "
            f"loaded {item.loaded_at.isoformat()}\n"
        )
    if isinstance(summary, ChargingSummary):
        buffer.write(f"# {summary.note}\n")
        writer.writerow(["kind", "scheme", "code", "files", "unique"])
        writer.writerow(["known", "", "", summary.known.total, summary.known.unique])
        for line in summary.lines:
            writer.writerow([line.kind, line.scheme, line.code, line.files, line.unique])
        writer.writerow(["review_queue", "", "", summary.review_queue, ""])
    else:
        writer.writerow(["count", "key", "files", "unique"])
        writer.writerow(["total", "", summary.total.total, summary.total.unique])
        for verdict, c in summary.by_verdict.items():
            writer.writerow(["verdict", verdict, c.total, c.unique])
        writer.writerow(["review_queue", "", summary.review_queue, ""])
        for name, c in summary.by_list.items():
            writer.writerow(["list", name, c.total, c.unique])
        for scheme, by_code in summary.by_category.items():
            for code, c in by_code.items():
                writer.writerow(["category", f"{scheme} {code}", c.total, c.unique])
        for flag, c in summary.by_flag.items():
            writer.writerow(["flag", flag, c.total, c.unique])
    return buffer.getvalue()


def write_summary(path: Path, summary: ChargingSummary | CountsSummary) -> None:
    """Write a summary as JSON or CSV (by the extension), atomically; InputError otherwise."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise InputError(
            f"summary format {suffix or '(none)'!r} is not supported (use .csv, .json)",
            source=str(path),
        )
    text = render_summary(summary, "json" if suffix == ".json" else "csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
