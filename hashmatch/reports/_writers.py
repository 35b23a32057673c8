"""Report files: JSON (the schema in ``schemas/report.schema.json``) and CSV.

Both are written under a temporary name and renamed into place, so a report file is
either complete or absent. Rows are streamed: a report of a million files is never one
Python object.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
from pydantic import TypeAdapter

from hashmatch.errors import InputError
from hashmatch.reports._model import ReportHeader

__all__ = ["REPORT_FORMATS", "report_format", "write_report"]

_HEADER = TypeAdapter(ReportHeader)
_ROW_FIELDS = ("input", "line", "path", "size", "md5", "sha1", "sha256", "verdict", "reason")


def write_json(handle: TextIO, header: ReportHeader, table: pa.Table) -> None:
    """The whole report as one JSON object; ``rows`` last."""
    head = _HEADER.dump_python(header, mode="json")
    handle.write("{\n")
    for key, value in head.items():
        handle.write(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    handle.write('"rows": [')
    first = True
    for batch in table.to_batches(max_chunksize=65_536):
        columns = {name: batch.column(name).to_pylist() for name in (*_ROW_FIELDS, "matches")}
        for i in range(batch.num_rows):
            row = {name: columns[name][i] for name in _ROW_FIELDS}
            text = json.dumps(row, ensure_ascii=False)
            raw_matches = columns["matches"][i] or "[]"
            handle.write(("\n" if first else ",\n") + text[:-1] + f', "matches": {raw_matches}}}')
            first = False
    handle.write("\n]\n}\n")


def _lists_summary(raw: str | None) -> str:
    if not raw:
        return ""
    parts = []
    for item in json.loads(raw):
        parts.append(
            f"{item['list']} v{item['version']} "
            f"({item['purpose']}, on {'+'.join(item['matched_on'])})"
        )
    return "; ".join(parts)


def _mapped_summary(raw: str | None) -> str:
    """Each mapped category beside the label it came from, e.g.
    ``ncmec-list: ncmec:A1 -> uk:A|B (ncmec-to-uk@1)``."""
    if not raw:
        return ""
    parts = []
    for item in json.loads(raw):
        mapped = item.get("mapped")
        if not mapped:
            continue
        labels = item.get("labels") or {}
        codes = labels.get("category")
        codes = "|".join(str(c) for c in (codes if isinstance(codes, list) else [codes]))
        scheme = labels.get("scheme")
        original = f"{scheme}:{codes}" if scheme else codes
        suggested = "|".join(mapped.get("category") or []) or "review"
        basis = "; ".join(str(mapped[k]) for k in ("crosswalk", "review") if mapped.get(k))
        parts.append(f"{item['list']}: {original} -> {mapped['scheme']}:{suggested} ({basis})")
    return "; ".join(parts)


def write_csv(handle: TextIO, header: ReportHeader, table: pa.Table) -> None:
    """Run metadata as ``#`` lines, then one CSV row per file.

    Spreadsheet tools show the ``#`` lines as text; ``pandas.read_csv(comment="#")`` and
    similar readers skip them. A text cell that starts like a formula (``=``, ``+``, ``-``,
    ``@``) gets a leading ``'``: file names on a seized device are chosen by its owner.
    """
    head = _HEADER.dump_python(header, mode="json")
    run: dict[str, Any] = head["run"]
    lines = [
        f"# {header.schema} (CSV)",
        f"# case_ref: {run['case_ref']}",
        f"# run_id: {run['run_id']}",
        f"# operator: {run['operator']}",
        f"# tool: {run['tool']['name']} {run['tool']['version']}",
        f"# started_at: {run['started_at']}",
        f"# finished_at: {run['finished_at']}",
        f"# algorithms: {', '.join(run['algorithms'])}",
        f"# snapshot: {run['snapshot_id']} built {run['snapshot_built_at']}",
    ]
    for item in run["inputs"]:
        lines.append(
            f"# input: {item['name']} sha256 {item['sha256']} "
            f"format {item['format']} rows {item['rows']}"
        )
    for item in run["lists"]:
        signed = f" signed by {item['signed_by']}" if item["signed_by"] else " unsigned"
        lines.append(
            f"# list: {item['name']} v{item['version']} ({item['purpose']}) source "
            f"{item['source_name']} sha256 {item['source_sha256']} loaded {item['loaded_at']} "
            f"entries {item['entries']}{signed}"
        )
    counts = head["counts"]
    for verdict, count in counts["by_verdict"].items():
        lines.append(f"# count {verdict}: total {count['total']} unique {count['unique']}")
    lines.append(f"# review_queue: {counts['review_queue']}")
    for kind, key in (("category", "by_category"), ("mapped", "by_mapped_category")):
        for scheme, by_code in counts[key].items():
            lines.extend(
                f"# count {kind} {scheme}:{code}: total {count['total']} unique {count['unique']}"
                for code, count in by_code.items()
            )
    for flag, count in counts["by_flag"].items():
        lines.append(f"# count flag {flag}: total {count['total']} unique {count['unique']}")
    mapping = head["mapping"]
    if mapping is not None:
        lines.append(f"# map_to: {mapping['target']}")
        for item in mapping["crosswalks"]:
            replaces = f", replaces {item['replaces']}" if item["replaces"] else ""
            lines.append(
                f"# crosswalk: {item['name']}@{item['version']} {item['title']} "
                f"({item['origin']}{replaces}, sha256 {item['sha256']})"
            )
        lines.append(f"# applied: {', '.join(mapping['applied']) or '(none)'}")
    lines.extend(f"# warning: {warning}" for warning in header.warnings)
    lines.extend(f"# note: {sentence}" for sentence in header.statement)
    if mapping is not None:
        lines.append(f"# note: {mapping['note']}")
    handle.write("\n".join(_one_line(line) for line in lines) + "\n")
    writer = csv.writer(handle, lineterminator="\n")
    # mapped_categories is last so that the columns of earlier reports keep their places
    writer.writerow([*_ROW_FIELDS, "lists", "matches", "mapped_categories"])
    for batch in table.to_batches(max_chunksize=65_536):
        columns = [batch.column(name).to_pylist() for name in (*_ROW_FIELDS, "matches")]
        summaries: dict[str | None, tuple[str, str]] = {}
        for values in zip(*columns, strict=True):
            raw = values[-1]
            if raw not in summaries:
                summaries[raw] = (_lists_summary(raw), _defused(_mapped_summary(raw)))
            lists, mapped = summaries[raw]
            cells = [_defused(v) if isinstance(v, str) else v for v in values[:-1]]
            writer.writerow([*cells, lists, raw or "", mapped])


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defused(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula: paths come from seized devices.

    A leading ``'`` is how spreadsheets mark text; the JSON report keeps the value as found.
    """
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


REPORT_FORMATS: dict[str, Callable[[TextIO, ReportHeader, pa.Table], None]] = {
    ".json": write_json,
    ".csv": write_csv,
}


def report_format(path: Path) -> str:
    """The report format a path asks for by its extension; raises InputError if none."""
    suffix = path.suffix.lower()
    if suffix not in REPORT_FORMATS:
        known = ", ".join(sorted(REPORT_FORMATS))
        raise InputError(
            f"report format {suffix or '(none)'!r} is not supported (use {known})", source=str(path)
        )
    return suffix


def write_report(path: Path, header: ReportHeader, table: pa.Table) -> None:
    """Write the report in the format the extension names, atomically."""
    writer = REPORT_FORMATS[report_format(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            writer(handle, header, table)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
