"""The vectorised report writers and counts agree with their plain reference twins.

``write_json`` and ``write_csv`` render rows with Arrow kernels and ``count_verdicts``
counts integer identities; ``write_json_by_row``, ``write_csv_by_row`` (one ``json.dumps``
or ``csv.writer`` row at a time) and ``count_verdicts_by_text`` (identity texts) are the
plain ways. On any verdict table, including the values a seized device's file names can
hold (quotes, commas, line breaks, control characters, a byte-order mark, formula
starts), the twins must give the same bytes and the same counts.
"""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hashmatch.match.matcher import VERDICT_SCHEMA
from hashmatch.model import Verdict
from hashmatch.reports import (
    REPORT_FORMAT,
    STATEMENT,
    ReportHeader,
    ReportRun,
    ToolInfo,
)
from hashmatch.reports import _writers as writers
from hashmatch.reports._counts import count_verdicts, count_verdicts_by_text

# Text a file name or a malformed digest cell may hold: every kind of character that the
# writers escape, quote or defuse, and plain text. Surrogates cannot be stored in Arrow.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(",\"\\\r\n\t\x00\x1f\x7f=+-@'; \u2028\ufeff\u00e9")),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)
DIGEST_TEXT = st.one_of(
    st.none(),
    st.sampled_from(["ab" * 16, "AB" * 16, "cd" * 32, "", "-1", "=cmd"]),
    TEXT,
)
LABELS = st.fixed_dictionaries(
    {},
    optional={
        "scheme": st.sampled_from(["uk", "vics-us", ""]),
        "category": st.one_of(st.sampled_from(["A", "B", "1"]), st.just([1, "C"]), st.none()),
        "victim_identified": st.booleans(),
        "series": TEXT,
    },
)
MAPPED = st.fixed_dictionaries(
    {"scheme": st.sampled_from(["uk", "hashmatch"])},
    optional={
        "category": st.lists(st.sampled_from(["A", "B", "C"]), max_size=2),
        "review": st.sampled_from(["needs review", ""]),
        "crosswalk": st.sampled_from(["vics-us-to-uk@1", "=x,y"]),
    },
)
ITEM = st.fixed_dictionaries(
    {
        "list": st.sampled_from(["concern-a", "benign-b", "list,with;odd"]),
        "version": st.integers(1, 3),
        "purpose": st.sampled_from(["concern", "benign"]),
        "matched_on": st.lists(st.sampled_from(["md5", "sha1", "sha256"]), min_size=1, max_size=3),
        "labels": LABELS,
    },
    optional={"mapped": MAPPED},
)
# What the matcher writes: no match (null), or canonical JSON of one or more matches.
MATCHES = st.one_of(
    st.none(),
    st.lists(ITEM, min_size=1, max_size=2).map(
        lambda items: json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    ),
)
ROW = st.fixed_dictionaries(
    {
        "input": st.integers(0, 2),
        "line": st.integers(0, 5),
        "path": st.one_of(st.none(), TEXT),
        "size": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        "md5": DIGEST_TEXT,
        "sha1": DIGEST_TEXT,
        "sha256": DIGEST_TEXT,
        "verdict": st.sampled_from([v.value for v in Verdict]),
        "reason": st.one_of(st.none(), TEXT),
        "matches": MATCHES,
    }
)
# The writers also take an empty matches text (written as no match), which counts do not.
WRITTEN_ROW = ROW.flatmap(
    lambda row: st.sampled_from([row, {**row, "matches": ""}] if row["matches"] is None else [row])
)


def table_of(rows: list[dict[str, Any]], cuts: list[int]) -> pa.Table:
    """``rows`` as a verdict table in several chunks (cut at ``cuts``), some of them empty."""
    edges = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    chunks = [rows[a:b] for a, b in itertools.pairwise(edges)] or [[]]
    batches = [pa.RecordBatch.from_pylist(chunk, schema=VERDICT_SCHEMA) for chunk in chunks]
    batches.append(pa.RecordBatch.from_pylist([], schema=VERDICT_SCHEMA))
    return pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)


def header_of(table: pa.Table) -> ReportHeader:
    """A report header; its counts are those of no rows."""
    when = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    return ReportHeader(
        schema=REPORT_FORMAT,
        run=ReportRun(
            run_id="0" * 32,
            case_ref='CASE "1",\nA',
            operator="examiner-7",
            started_at=when,
            finished_at=when,
            tool=ToolInfo(name="hashmatch", version="0.0.test"),
            algorithms=["md5", "sha1", "sha256"],
            snapshot_id="s" * 16,
            snapshot_built_at=when,
            inputs=[],
            lists=[],
        ),
        statement=list(STATEMENT),
        # the header is written by code the twins share; the rows are what differs
        counts=count_verdicts(table.slice(0, 0)),
    )


def rendered(write: Any, table: pa.Table, batch_rows: int) -> str:
    out = io.StringIO()
    with mock.patch.object(writers, "_BATCH_ROWS", batch_rows):
        write(out, header_of(table), table)
    return out.getvalue()


PINNED = {
    "input": 0,
    "line": 1,
    "path": None,
    "size": None,
    "md5": None,
    "sha1": None,
    "sha256": None,
    "verdict": "unknown",
    "reason": None,
    "matches": None,
}


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(WRITTEN_ROW, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=3))
@example(rows=[], cuts=[])
@example(rows=[{**PINNED, "path": "\ufeffbom.jpg"}], cuts=[])
@example(rows=[{**PINNED, "path": "crlf\r\n.jpg", "reason": "a\rb"}], cuts=[])
@example(rows=[{**PINNED, "md5": "D41D8CD98F00B204E9800998ECF8427E"}], cuts=[])
@example(rows=[{**PINNED, "path": "", "md5": "", "matches": ""}], cuts=[])
@example(rows=[{**PINNED, "path": '=HYPERLINK("x"),"\\'}, {**PINNED, "line": 2}], cuts=[1])
def test_the_fast_writers_write_what_the_reference_writers_write(
    rows: list[dict[str, Any]], cuts: list[int]
) -> None:
    table = table_of(rows, cuts)
    for fast, reference in (
        (writers.write_json, writers.write_json_by_row),
        (writers.write_csv, writers.write_csv_by_row),
    ):
        for batch_rows in (2, 65_536):
            assert rendered(fast, table, batch_rows) == rendered(reference, table, batch_rows)
    if rows:
        parsed = json.loads(rendered(writers.write_json, table, 3))["rows"]
        assert [row["path"] for row in parsed] == [row["path"] for row in rows]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, max_size=16), cuts=st.lists(st.integers(0, 16), max_size=3))
@example(rows=[], cuts=[])
@example(rows=[{**PINNED, "line": 0}, {**PINNED, "line": 0}, {**PINNED, "input": 1}], cuts=[])
@example(
    rows=[{**PINNED, "sha1": "ab" * 20}, {**PINNED, "md5": "ab" * 20}, {**PINNED, "sha256": ""}],
    cuts=[2],
)
def test_the_fast_counts_are_the_reference_counts(
    rows: list[dict[str, Any]], cuts: list[int]
) -> None:
    table = table_of(rows, cuts)
    assert count_verdicts(table) == count_verdicts_by_text(table)


def test_a_report_of_more_rows_than_one_batch_is_one_valid_json_document() -> None:
    rows = [{**PINNED, "line": i, "path": f'dir/"{i}".bin'} for i in range(70_000)]
    table = table_of(rows, [65_536])
    text = rendered(writers.write_json, table, 65_536)
    assert text == rendered(writers.write_json_by_row, table, 65_536)
    parsed = json.loads(text)["rows"]
    assert [row["line"] for row in parsed] == list(range(70_000))
    assert parsed[-1]["path"] == 'dir/"69999".bin'
