"""The HTML report: one self-contained page that a prosecutor can open from a USB stick.

The page holds everything it shows: inline CSS, an inline script, and the rows as JSON
inside the page. A Content-Security-Policy in the page forbids it to fetch anything at all,
so it opens the same from ``file://`` on a machine with no network. It never holds an image,
a thumbnail or any file content: digests, paths, verdicts and the sources' labels only.

Reading order: the case; what a match means (the report's statement); the summary (counts
by verdict with a chart drawn here, so it shows without JavaScript; by list, category, flag
and mapped category; copies); warnings; perceptual similarity (that none was used, or the
vendor's leads beside each file's exact verdict); the per-file table; the run record. The per-file
table is drawn a page at a time by the inline script from the JSON (a manifest can have a
million rows); sorting and filtering work on all rows.

Every text from a user or a source (paths, labels, the case reference, the operator) goes
through Jinja's autoescaping, or into the JSON with ``<``, ``>`` and ``&`` written as
``\\u003c``... so that no file name can end the script element; the script puts text into
the page only as text nodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, TextIO

import jinja2
import pyarrow as pa
import pyarrow.compute as pc
from markupsafe import Markup

from hashmatch.labels import Label
from hashmatch.model import Verdict
from hashmatch.reports._counts import _identity
from hashmatch.reports._model import NO_SCHEME, REVIEW, Count, ReportHeader, ReportSimilar

__all__ = ["CONTENT_SECURITY_POLICY", "MARKED_FLAGS", "write_html"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
"""The page may run its own inline style and script and nothing else: no fetch of any kind.
(``base-uri`` and ``form-action`` are not covered by ``default-src``.)"""

VERDICT_TEXT: dict[str, str] = {
    Verdict.KNOWN: "on a list of material of concern: a match, not proof",
    Verdict.KNOWN_BENIGN: "only on lists of known ordinary files or software: known, not 'safe'",
    Verdict.UNKNOWN: "on no list that was loaded: the queue for human review",
    Verdict.NOT_ASSESSABLE: "no usable digest (missing, unreadable, or a zero-length file)",
    Verdict.INVALID: "the input row itself was malformed; the reason is given",
}
"""One line per verdict, beside its count; the statement above the counts says more."""

FLAG_TEXT: dict[str, str] = {
    Label.VICTIM_IDENTIFIED: "the source says the person shown has been identified",
    Label.OFFENDER_IDENTIFIED: "the source says an offender has been identified",
    Label.IN_SERIES: "the source says the file belongs to a known series",
    Label.DISTRIBUTED: "the source says the file is known to have been distributed",
    Label.SELF_GENERATED: "self-generated: the source marks the image as made by the young "
    "person shown in it",
    Label.REPORT_REMOVE: "Report Remove: a child asked for this image to be removed — "
    "not a lead against that child",
    Label.COMPUTER_GENERATED: "the source marks the file as computer-generated or AI-made "
    "(the source's label; this tool does not judge it)",
    Label.DECOY: "the source marks the file as a decoy or warning file",
    Label.PRECATEGORIZED: "the source's grading was made in advance by a tool, not yet by a person",
    Label.SUSPECTED: "the source marks its grading as suspected, not confirmed",
}
"""What each flag means, in plain words, for the counts by flag."""

MARKED_FLAGS: dict[str, tuple[str, str]] = {
    Label.REPORT_REMOVE: (
        "Report Remove",
        "Report Remove: a child asked for this image to be removed — not a lead against that child",
    ),
    Label.SELF_GENERATED: (
        "self-generated",
        "self-generated: the source marks the image as made by the young person shown in it",
    ),
}
"""Flags whose matches are marked in every row they appear in and never styled as a lead:
(badge, explanation)."""

SCHEME_TEXT: dict[str, str] = {
    "uk": "UK grading: Category A, B, C",
    "vics-us": "Project VIC, US profile: codes 0 to 4",
    "vics-uk": "Project VIC (VICS 2.0), UK profile: CAID codes",
    "vics-legacy": "the older Project VIC scheme, where 0 means uncategorised (not benign)",
    "ncmec": "NCMEC industry classification: A1, A2, B1, B2",
    "interpol": "INTERPOL 'worst of' baseline",
    "hashmatch-disposition": "hashmatch's triage disposition (a crosswalk target)",
    NO_SCHEME: "the source named no scheme",
}
"""The category schemes a reader may meet, named in plain words."""

PAGE_SIZES = (100, 250, 1000)
"""Rows per page of the per-file table the reader can choose; the first is the default."""

TOP_COPIES = 20
"""How many of the most-copied known files the summary names."""

_ROW_COLUMNS = ("input", "line", "path", "size", "md5", "sha1", "sha256", "reason")
_CHUNK = 65_536

_CHART_WIDTH = 720
_CHART_LABEL = 150
_CHART_BAR = 330
_CHART_ROW = 34


def _script_safe(text: str) -> str:
    """JSON text that cannot end the script element it sits in, nor start a comment there.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where ``\\u003c``... mean the same.
    """
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json(value: Any) -> str:
    return _script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC to the second: what a reader compares with other records."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Counted:
    """One line of a counts table."""

    key: str
    text: str
    total: int
    unique: int
    marked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bar:
    """One bar of the verdict chart, laid out here so the chart needs no script."""

    verdict: str
    y: int
    width: float
    total: int
    unique: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Repeated:
    """A known file found more than once: its strongest digest and how many copies."""

    algorithm: str
    digest: str
    copies: int
    marks: tuple[tuple[str, str], ...] = ()
    """The (badge, explanation) of each of :data:`MARKED_FLAGS` its matches carry."""


def _verdicts(header: ReportHeader, table: pa.Table) -> list[str]:
    """Every verdict, in the order of the counts, then any the counts do not name."""
    names = list(header.counts.by_verdict)
    names += [v.value for v in Verdict if v.value not in names]
    found = pc.unique(table.column("verdict")).to_pylist() if table.num_rows else []
    names += sorted(str(v) for v in found if v not in names)
    return names


def _chart(rows: list[_Counted]) -> list[_Bar]:
    peak = max((r.total for r in rows), default=0) or 1
    return [
        _Bar(
            verdict=r.key,
            y=20 + i * _CHART_ROW,
            # a count above zero always shows a sliver, so it is not read as none
            width=round(max(r.total / peak * _CHART_BAR, 2.0 if r.total else 0.0), 1),
            total=r.total,
            unique=r.unique,
        )
        for i, r in enumerate(rows)
    ]


def _repeated_known(table: pa.Table) -> tuple[int, int, list[_Repeated]]:
    """Digests on more than one row (all files), the files they account for, and the known
    files with the most copies (charges are per file)."""
    if table.num_rows == 0:
        return 0, 0, []
    identity = _identity(table)
    grouped = pa.table({"id": identity}).group_by("id").aggregate([("id", "count")])
    repeated = grouped.filter(pc.greater(grouped.column("id_count"), 1))
    files = int(pc.sum(repeated.column("id_count")).as_py() or 0)
    known = pc.equal(table.column("verdict"), Verdict.KNOWN.value)
    known_ids = pa.table({"id": identity.filter(known)})
    top = (
        known_ids.group_by("id")
        .aggregate([("id", "count")])
        .filter(pc.greater(pc.field("id_count"), 1))
        .sort_by([("id_count", "descending"), ("id", "ascending")])
        .slice(0, TOP_COPIES)
    )
    # a Report Remove or self-generated file is marked here as in the per-file table
    chosen = pc.fill_null(pc.is_in(identity, value_set=top.column("id").combine_chunks()), False)
    pairs = (
        pa.table({"id": identity.filter(chosen), "m": table.column("matches").filter(chosen)})
        .group_by(["id", "m"])
        .aggregate([])
    )
    flags: dict[str, set[str]] = {}
    for key, text in zip(
        pairs.column("id").to_pylist(), pairs.column("m").to_pylist(), strict=True
    ):
        for item in json.loads(text) if text else ():
            labels = item.get("labels") or {}
            flags.setdefault(key, set()).update(f for f in MARKED_FLAGS if labels.get(f) is True)
    out = []
    for key, copies in zip(
        top.column("id").to_pylist(), top.column("id_count").to_pylist(), strict=True
    ):
        algorithm, _, digest = str(key).partition(":")
        found = flags.get(key, set())
        marks = tuple(MARKED_FLAGS[f] for f in MARKED_FLAGS if f in found)
        out.append(_Repeated(algorithm=algorithm, digest=digest, copies=int(copies), marks=marks))
    return repeated.num_rows, files, out


def _counted(by: dict[str, Count], texts: dict[str, str]) -> list[_Counted]:
    return [
        _Counted(
            key=str(key),
            text=texts.get(str(key), ""),
            total=count.total,
            unique=count.unique,
            marked=str(key) in MARKED_FLAGS,
        )
        for key, count in by.items()
    ]


def _schemes(by: dict[str, dict[str, Count]]) -> list[tuple[str, str, list[_Counted]]]:
    return [
        (str(scheme), SCHEME_TEXT.get(str(scheme), "the source's own scheme"), _counted(codes, {}))
        for scheme, codes in by.items()
    ]


def _rows_json(table: pa.Table, verdicts: list[str], match_sets: list[str]) -> Iterator[Markup]:
    """The rows as one JSON object, column by column, streamed in chunks.

    Columns rather than row objects: a million rows are then a few flat arrays in the
    browser. ``verdict`` holds an index into ``verdicts`` and ``matches`` an index into
    ``match_sets`` (the distinct ``matches`` texts, which repeat across rows), or null.
    """
    yield Markup('{"verdicts":' + _json(verdicts) + ',"match_sets":[')
    # the matches texts are canonical JSON already (VERDICT_SCHEMA): kept as they are
    yield Markup(",".join(_script_safe(text) for text in match_sets))
    yield Markup('],"columns":{')
    verdict_values = pa.array(verdicts, pa.string())
    match_values = pa.array(match_sets, pa.string())
    for number, name in enumerate((*_ROW_COLUMNS, "verdict", "matches")):
        yield Markup(("," if number else "") + json.dumps(name) + ":[")
        first = True
        for chunk in table.column(name).chunks:
            for start in range(0, len(chunk), _CHUNK):
                part = chunk.slice(start, _CHUNK)
                if name == "verdict":
                    part = pc.index_in(part, value_set=verdict_values)
                elif name == "matches":
                    part = pc.index_in(part, value_set=match_values)
                values = part.to_pylist()
                if not values:
                    continue
                text = _json(values)[1:-1]
                yield Markup(text if first else "," + text)
                first = False
        yield Markup("]")
    yield Markup("}}")


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hashmatch.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["n"] = lambda value: f"{int(value):,}"
    environment.filters["utc"] = _utc
    return environment.get_template("report.html.j2")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Similar:
    """One perceptual result as the page shows it."""

    item: ReportSimilar
    input_name: str
    labels: list[tuple[str, str]]
    marks: tuple[tuple[str, str], ...] = ()


def _label_text(value: Any) -> str:
    """A label's value as text: text as it is, a list of texts one after another."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    return json.dumps(value, ensure_ascii=False)


def _similar(header: ReportHeader) -> list[_Similar]:
    names = [item.name for item in header.run.inputs]
    return [
        _Similar(
            item=item,
            input_name=names[item.input] if 0 <= item.input < len(names) else str(item.input),
            labels=[(str(k), _label_text(v)) for k, v in item.labels.items()],
            marks=tuple(
                text for flag, text in MARKED_FLAGS.items() if item.labels.get(flag) is True
            ),
        )
        for item in header.perceptual.results
    ]


def write_html(handle: TextIO, header: ReportHeader, table: pa.Table) -> None:
    """The report as one self-contained HTML page; the rows are streamed into it."""
    counts = header.counts
    run = header.run
    verdicts = _verdicts(header, table)
    zero = Count(total=0, unique=0)
    verdict_rows = [
        _Counted(
            key=v,
            text=VERDICT_TEXT.get(v, ""),
            total=counts.by_verdict.get(v, zero).total,
            unique=counts.by_verdict.get(v, zero).unique,
        )
        for v in verdicts
    ]
    known = counts.by_verdict.get(Verdict.KNOWN.value, zero)
    purposes = {item.name: item.purpose for item in run.lists}
    repeated, repeated_files, top = _repeated_known(table)
    match_sets: list[str] = (
        [m for m in pc.unique(table.column("matches")).to_pylist() if m is not None]
        if table.num_rows
        else []
    )
    inputs = [
        {
            "name": item.name,
            "format": item.format,
            "rows": item.rows,
            "sha256": item.sha256,
            "origin": getattr(item, "origin", None),
        }
        for item in run.inputs
    ]
    config = {
        "inputs": [item.name for item in run.inputs],
        "verdicts": verdicts,
        "lists": {
            f"{item.name}@{item.version}": {
                "source": item.source_name,
                "loaded_at": _utc(item.loaded_at),
            }
            for item in run.lists
        },
        "marks": [
            {"flag": flag, "badge": badge, "text": text}
            for flag, (badge, text) in MARKED_FLAGS.items()
        ],
        "page_sizes": list(PAGE_SIZES),
    }
    context = {
        "header": header,
        "run": run,
        "csp": CONTENT_SECURITY_POLICY,
        "statement": header.statement,
        "total": counts.total,
        "review_queue": counts.review_queue,
        "verdict_rows": verdict_rows,
        "bars": _chart(verdict_rows),
        "chart": {
            "width": _CHART_WIDTH,
            "height": 20 + len(verdict_rows) * _CHART_ROW,
            "label": _CHART_LABEL,
            "bar": _CHART_BAR,
        },
        "by_list": [
            _Counted(key=name, text=purposes.get(name, ""), total=count.total, unique=count.unique)
            for name, count in counts.by_list.items()
        ],
        "by_category": _schemes(counts.by_category),
        "by_mapped": _schemes(counts.by_mapped_category),
        "by_flag": _counted(counts.by_flag, FLAG_TEXT),
        "mapping": header.mapping,
        "known": known,
        "repeated": repeated,
        "repeated_files": repeated_files,
        "top_copies": top,
        "top_limit": TOP_COPIES,
        "review": REVIEW,
        "warnings": header.warnings,
        "inputs": inputs,
        "has_origin": any(item["origin"] is not None for item in inputs),
        "page_sizes": PAGE_SIZES,
        "config_json": Markup(_json(config)),
        "rows_json": _rows_json(table, verdicts, match_sets),
        "duration": max((run.finished_at - run.started_at).total_seconds(), 0.0),
        "perceptual": header.perceptual,
        "perceptual_threshold": (
            "" if header.perceptual.max_distance is None else f"{header.perceptual.max_distance:g}"
        ),
        "perceptual_not_hashed": sum(header.perceptual.not_hashed.values()),
        "similar": _similar(header),
    }
    for chunk in _template().generate(**context):
        handle.write(chunk)
