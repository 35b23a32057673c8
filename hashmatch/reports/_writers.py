"""Report files: JSON (the schema in ``schemas/report.schema.json``) and CSV.

Both are written under a temporary name and renamed into place, so a report file is
either complete or absent. Rows are streamed: a report of a million files is never one
Python object.

Rows are rendered a batch at a time by Arrow compute kernels (a Python object per row
costs more than everything else in a check), and only values that need escaping or
quoting go through ``json.dumps`` or ``csv.writer``. ``write_json_by_row`` and
``write_csv_by_row`` are the plain reference twins, one row at a time; the tests hold
each pair to the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import TypeAdapter

from hashmatch.errors import InputError
from hashmatch.reports._html import write_html
from hashmatch.reports._model import ReportHeader

__all__ = ["REPORT_FORMATS", "report_format", "write_report"]

_HEADER = TypeAdapter(ReportHeader)
_ROW_FIELDS = ("input", "line", "path", "size", "md5", "sha1", "sha256", "verdict", "reason")


def write_json(handle: TextIO, header: ReportHeader, table: pa.Table) -> None:
    """The whole report as one JSON object; ``rows`` last.

    Each batch of rows is rendered to text by Arrow compute kernels, column by column;
    only values that JSON must escape (quotes, backslashes, control characters) go through
    ``json.dumps``. The text is byte for byte what :func:`write_json_by_row`, the plain
    reference twin, writes.
    """
    _json_head(handle, header)
    first = True
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        text = _json_rows(batch)
        # every row starts with ",\n"; the first of the array with "\n" alone
        handle.write(text[1:] if first else text)
        first = False
    handle.write("\n]\n}\n")


def write_json_by_row(handle: TextIO, header: ReportHeader, table: pa.Table) -> None:
    """:func:`write_json` one Python ``dict`` and ``json.dumps`` per row: the reference twin."""
    _json_head(handle, header)
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


def _json_head(handle: TextIO, header: ReportHeader) -> None:
    """Everything before the rows, up to and including ``"rows": [``."""
    head = _HEADER.dump_python(header, mode="json")
    handle.write("{\n")
    for key, value in head.items():
        handle.write(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    handle.write('"rows": [')


_BATCH_ROWS = 65_536
"""Rows rendered at a time: a few tens of MB of text, whatever the size of the run."""


def _json_values(column: pa.Array, name: str) -> pa.Array:
    """Each value of one column as JSON text, as ``json.dumps`` writes it; ``null`` for null."""
    if name in _INT_FIELDS:
        return pc.fill_null(pc.cast(column, pa.string()), "null")
    quoted = pc.binary_join_element_wise('"', column, '"', "")
    special = _rows_with_bytes(column, _JSON_ESCAPES, below=_JSON_CONTROL_BELOW)
    if special is not None:
        mask = pa.array(special)
        escaped = [json.dumps(v, ensure_ascii=False) for v in column.filter(mask).to_pylist()]
        quoted = pc.replace_with_mask(quoted, mask, pa.array(escaped, pa.string()))
    return pc.fill_null(quoted, "null")


def _json_rows(batch: pa.RecordBatch) -> str:
    """The rows of ``batch`` as JSON objects, each preceded by ``,\\n``, as one string."""
    pieces: list[pa.Array | str] = []
    text = ",\n{"  # literal text waiting to go in front of the next column
    for name in _ROW_FIELDS:
        # the keys in the order and with the separators of json.dumps' defaults
        text += f'"{name}": '
        column = batch.column(name)
        plain = name not in _INT_FIELDS and not column.null_count
        if plain and _rows_with_bytes(column, _JSON_ESCAPES, below=_JSON_CONTROL_BELOW) is None:
            # the common case: nothing to escape, no null: the quotes are literal text
            pieces += [f'{text}"', column]
            text = '", '
            continue
        pieces += [text, _json_values(column, name)]
        text = ", "
    matches = pc.fill_null(batch.column("matches"), "")
    matches = pc.if_else(pc.equal(matches, ""), "[]", matches)
    pieces += [f'{text}"matches": ', matches, "}"]
    return _concatenated(pc.binary_join_element_wise(*pieces, ""))


# What json.dumps escapes (with ensure_ascii=False): the quote, the backslash and the
# control characters. Every other character, non-ASCII included, is written as it is.
# UTF-8 encodes every non-ASCII character in bytes >= 0x80, so looking at bytes is exact.
_JSON_CONTROL_BELOW = 0x20
_JSON_ESCAPES = b'"\\'
_INT_FIELDS = frozenset({"input", "line", "size"})


def _rows_with_bytes(
    column: pa.Array, wanted: bytes, *, below: int = 0
) -> npt.NDArray[np.bool_] | None:
    """Which rows of a string column hold any of the ``wanted`` bytes or a byte under
    ``below``; None if no row does."""
    if len(column) == 0 or column.null_count == len(column):
        return None
    offsets, data = _string_buffers(column)
    hit = data < below if below else np.zeros(len(data), dtype=bool)
    for byte in wanted:
        hit |= data == byte
    found = np.flatnonzero(hit)
    if not found.size:
        return None
    rows = np.zeros(len(column), dtype=bool)
    # a null row has no bytes, so every byte found belongs to a valid row
    rows[np.searchsorted(offsets, found + offsets[0], side="right") - 1] = True
    return rows


def _string_buffers(
    column: pa.Array,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]:
    """A string column's offsets, and its bytes from the first row's on (no copy)."""
    _, offsets_buffer, data_buffer = column.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    if data_buffer is None:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]


def _concatenated(strings: pa.Array, separator: str = "") -> str:
    """Every string of an array with no nulls, one after the other."""
    one_list = pa.ListArray.from_arrays(pa.array([0, len(strings)], pa.int32()), strings)
    joined: str = pc.binary_join(one_list, separator)[0].as_py()
    return joined


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

    Rows are rendered a batch at a time by Arrow compute kernels; only cells that CSV must
    quote go through the ``csv`` module, one cell at a time. The text is byte for byte what
    :func:`write_csv_by_row`, the plain reference twin, writes.
    """
    _csv_head(handle, header)
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        if batch.num_rows:
            handle.write(_concatenated(_csv_rows(batch), "\n") + "\n")


def write_csv_by_row(handle: TextIO, header: ReportHeader, table: pa.Table) -> None:
    """:func:`write_csv` through ``csv.writer``, one row at a time: the reference twin."""
    _csv_head(handle, header)
    writer = csv.writer(handle, lineterminator="\n")
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


def _csv_head(handle: TextIO, header: ReportHeader) -> None:
    """The ``#`` lines and the row of column names."""
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
    lines.extend(_perceptual_lines(header))
    lines.extend(f"# note: {sentence}" for sentence in header.statement)
    if mapping is not None:
        lines.append(f"# note: {mapping['note']}")
    handle.write("\n".join(_one_line(line) for line in lines) + "\n")
    writer = csv.writer(handle, lineterminator="\n")
    # mapped_categories is last so that the columns of earlier reports keep their places
    writer.writerow([*_ROW_FIELDS, "lists", "matches", "mapped_categories"])


def _perceptual_lines(header: ReportHeader) -> list[str]:
    """The ``#`` lines of the perceptual section: none used, or the vendor, counts and each
    result beside its row's exact verdict (the rows' columns are those of any run)."""
    section = header.perceptual
    lines = [f"# perceptual: {section.summary}"]
    if not section.used:
        return lines
    reasons = ", ".join(f"{reason}: {n}" for reason, n in section.not_hashed.items())
    distance = "" if section.max_distance is None else f"{section.max_distance:g}"
    lines += [
        f"# perceptual vendor: {section.vendor} version {section.vendor_version} "
        f"(adapter {section.adapter_version}), fingerprint {section.fingerprint or '(none)'}, "
        f"distance threshold {distance}",
        f"# perceptual files: {section.rows} files considered {section.considered}, hashed "
        f"{section.hashed}, not hashed {sum(section.not_hashed.values())}"
        + (f" ({reasons})" if reasons else ""),
        f"# perceptual similar files: {section.similar_files}",
    ]
    if section.stopped is not None:
        lines.append(f"# perceptual stopped: {section.stopped}")
    lines += [
        f"# similar: input {item.input} line {item.line} {item.path or '(no path)'} "
        f"[verdict {item.verdict}]: {item.text}"
        for item in section.results
    ]
    lines += [f"# perceptual note: {sentence}" for sentence in section.note]
    return lines


def _csv_rows(batch: pa.RecordBatch) -> pa.Array:
    """Each row of ``batch`` as one CSV line, without its line end."""
    cells: list[pa.Array] = []
    for name in _ROW_FIELDS:
        column = batch.column(name)
        if name in _INT_FIELDS:
            cells.append(pc.cast(column, pa.string()))
        else:
            cells.append(_csv_quoted(_defused_column(column)))
    # lists and mapped_categories are worked out once per distinct matches text
    raw = pc.dictionary_encode(batch.column("matches"))
    distinct = raw.dictionary.to_pylist()
    for summary in (
        _lists_summary,
        lambda text: text,
        lambda text: _defused(_mapped_summary(text)),
    ):
        values = [_csv_cell(summary(text)) for text in distinct]
        cells.append(pa.array(values, pa.string()).take(raw.indices))
    # a null (None in the reference) is an empty cell, as csv.writer writes it
    joined: pa.Array = pc.binary_join_element_wise(
        *cells, ",", null_handling="replace", null_replacement=""
    )
    return joined


def _csv_cell(value: str) -> str:
    """One text cell as ``csv.writer`` writes it in a row of several cells."""
    if not value:
        return value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([value, ""])
    return out.getvalue()[: -len(",\n")]


# What makes csv.writer quote a cell (the delimiter, the quote, a line end); "\r" is on
# the list although Python 3.11 does not quote it: cells holding it go to csv.writer, so
# they come out as the running Python writes them either way.
_CSV_SPECIAL = b',"\r\n'


def _csv_quoted(column: pa.Array) -> pa.Array:
    """A text column with every cell that needs quoting quoted by ``csv.writer``."""
    special = _rows_with_bytes(column, _CSV_SPECIAL)
    if special is None:
        return column
    mask = pa.array(special)
    quoted = [_csv_cell(v) for v in column.filter(mask).to_pylist()]
    return pc.replace_with_mask(column, mask, pa.array(quoted, pa.string()))


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defused_column(column: pa.Array) -> pa.Array:
    """:func:`_defused` over a text column: nulls stay null."""
    starts = _first_byte_in(column, _FORMULA_BYTES)
    if starts is None:
        return column
    mask = pa.array(starts)
    return pc.if_else(mask, pc.binary_join_element_wise("'", column, ""), column)


_FORMULA_BYTES = "".join(_FORMULA_START).encode()


def _first_byte_in(column: pa.Array, wanted: bytes) -> npt.NDArray[np.bool_] | None:
    """Which rows of a string column start with one of the ``wanted`` (ASCII) bytes."""
    if len(column) == 0 or column.null_count == len(column):
        return None
    offsets, data = _string_buffers(column)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    first = np.zeros(len(column), dtype=np.uint8)
    first[nonempty] = data[starts[nonempty] - offsets[0]]
    found = np.isin(first, np.frombuffer(wanted, np.uint8)) & nonempty
    return found if found.any() else None


def _defused(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula: paths come from seized devices.

    A leading ``'`` is how spreadsheets mark text; the JSON report keeps the value as found.
    """
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


REPORT_FORMATS: dict[str, Callable[[TextIO, ReportHeader, pa.Table], None]] = {
    ".json": write_json,
    ".csv": write_csv,
    ".html": write_html,
    ".htm": write_html,
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
