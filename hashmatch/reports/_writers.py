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
        lines.append(
            f"# list: {item['name']} v{item['version']} ({item['purpose']}) source "
            f"{item['source_name']} sha256 {item['source_sha256']} loaded {item['loaded_at']} "
            f"entries {item['entries']}"
        )
    counts = head["counts"]
    for verdict, count in counts["by_verdict"].items():
        lines.append(f"# count {verdict}: total {count['total']} unique {count['unique']}")
    lines.append(f"# review_queue: {counts['review_queue']}")
    lines.extend(f"# note: {sentence}" for sentence in header.statement)
    handle.write("\n".join(_one_line(line) for line in lines) + "\n")
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([*_ROW_FIELDS, "lists", "matches"])
    for batch in table.to_batches(max_chunksize=65_536):
        columns = [batch.column(name).to_pylist() for name in (*_ROW_FIELDS, "matches")]
        summaries: dict[str | None, str] = {}
        for values in zip(*columns, strict=True):
            raw = values[-1]
            if raw not in summaries:
                summaries[raw] = _lists_summary(raw)
            cells = [_defused(v) if isinstance(v, str) else v for v in values[:-1]]
            writer.writerow([*cells, summaries[raw], raw or ""])


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
