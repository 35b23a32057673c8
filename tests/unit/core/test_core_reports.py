"""hashmatch.reports: counts over a verdict table, and the JSON and CSV report files.

Verdict tables come from the real matcher over the snapshot in ``conftest.py``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import jsonschema
import pyarrow as pa
import pytest

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.errors import InputError
from hashmatch.index import Snapshot
from hashmatch.ingest.parse import parse_batch
from hashmatch.match.matcher import VERDICT_SCHEMA, Matcher
from hashmatch.records import make_batch
from hashmatch.reports import (
    REPORT_FORMAT,
    REPORT_FORMATS,
    STATEMENT,
    Count,
    ReportHeader,
    ReportInput,
    ReportRun,
    ToolInfo,
    count_verdicts,
    report_format,
    report_lists,
    write_report,
)

SCHEMAS = Path(__file__).parents[3] / "schemas"


def hexof(algorithm: str, name: str) -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{name}".encode()).hexdigest()


def verdicts(snapshot: Snapshot, *inputs: list[dict[str, Any]]) -> pa.Table:
    """The verdict table of several manifests, one batch each (so the table has chunks)."""
    matcher = Matcher(snapshot)
    batches = []
    for number, rows in enumerate(inputs):
        columns: dict[str, list[Any]] = {"line": [r.get("line", i + 1) for i, r in enumerate(rows)]}
        for name in ("md5", "sha1", "sha256", "path", "size"):
            columns[name] = [r.get(name) for r in rows]
        batches.append(matcher.match(parse_batch(make_batch(columns)), input_no=number))
    return pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)


# -- counts -------------------------------------------------------------------------------


def test_copies_count_in_the_total_but_not_in_unique(snapshot: Snapshot) -> None:
    table = verdicts(
        snapshot,
        [
            {"md5": hexof("md5", "001"), "path": "a.jpg"},
            {"md5": hexof("md5", "001").upper(), "path": "copy of a.jpg"},
            {"md5": hexof("md5", "nowhere-1")},
            {"md5": hexof("md5", "nowhere-1")},
            {"md5": hexof("md5", "nowhere-2")},
        ],
        [
            # the same file in a second manifest
            {"md5": hexof("md5", "001")},
            {"md5": hexof("md5", "benign")},
        ],
    )
    counts = count_verdicts(table)
    assert counts.total == Count(total=7, unique=4)
    assert counts.by_verdict == {
        "known": Count(total=3, unique=1),
        "known_benign": Count(total=1, unique=1),
        "unknown": Count(total=3, unique=2),
        "not_assessable": Count(total=0, unique=0),
        "invalid": Count(total=0, unique=0),
    }
    # the review queue counts every unknown file, copies included
    assert counts.review_queue == 3


def test_rows_without_a_digest_are_each_unique(snapshot: Snapshot) -> None:
    table = verdicts(snapshot, [{"path": "x.zip"}, {"path": "y.zip"}], [{"path": "x.zip"}])
    counts = count_verdicts(table)
    assert counts.by_verdict["not_assessable"] == Count(total=3, unique=3)
    assert counts.total == Count(total=3, unique=3)


def test_the_strongest_digest_decides_what_is_a_copy(snapshot: Snapshot) -> None:
    table = verdicts(
        snapshot,
        [
            {"sha256": hexof("sha256", "nowhere"), "md5": hexof("md5", "x")},
            {"sha256": hexof("sha256", "nowhere"), "md5": hexof("md5", "y")},
            {"sha1": hexof("sha1", "nowhere"), "md5": hexof("md5", "x")},
        ],
    )
    assert count_verdicts(table).by_verdict["unknown"] == Count(total=3, unique=2)


def test_by_list_counts_a_file_under_every_list_it_is_on(snapshot: Snapshot) -> None:
    table = verdicts(
        snapshot,
        [
            {"md5": hexof("md5", "both")},
            {"md5": hexof("md5", "both")},
            {"md5": hexof("md5", "001")},
            {"md5": hexof("md5", "benign")},
            {"md5": hexof("md5", "nowhere")},
        ],
        [{"sha1": hexof("sha1", "both")}],
    )
    counts = count_verdicts(table)
    assert counts.by_list == {
        "benign-list": Count(total=4, unique=3),
        "concern-list": Count(total=3, unique=2),
    }
    assert list(counts.by_list) == sorted(counts.by_list)


def test_counts_of_an_empty_run() -> None:
    counts = count_verdicts(VERDICT_SCHEMA.empty_table())
    assert counts.total == Count(total=0, unique=0)
    assert set(counts.by_verdict) == {
        "known",
        "known_benign",
        "unknown",
        "not_assessable",
        "invalid",
    }
    assert counts.by_list == {}
    assert counts.review_queue == 0


# -- report files ---------------------------------------------------------------------------


def header_for(
    snapshot: Snapshot, table: pa.Table, *, case_ref: str = "CASE-2024-001"
) -> ReportHeader:
    started = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    return ReportHeader(
        schema=REPORT_FORMAT,
        run=ReportRun(
            run_id="0" * 32,
            case_ref=case_ref,
            operator="examiner-7",
            started_at=started,
            finished_at=started.replace(minute=31),
            tool=ToolInfo(name="hashmatch", version="0.0.test"),
            algorithms=[a.value for a in Algorithm],
            snapshot_id=snapshot.id,
            snapshot_built_at=snapshot.built_at,
            inputs=[ReportInput(name="manifest.md5", sha256="ab" * 32, format="md5sum", rows=3)],
            lists=report_lists(snapshot.lists),
        ),
        statement=list(STATEMENT),
        counts=count_verdicts(table),
    )


@pytest.fixture
def table(snapshot: Snapshot) -> pa.Table:
    return verdicts(
        snapshot,
        [
            {"md5": hexof("md5", "both"), "sha1": hexof("sha1", "both"), "path": 'dir/a, "b".jpg'},
            {"md5": hexof("md5", "benign"), "path": "setup.exe", "size": 1024},
            {"md5": hexof("md5", "nowhere"), "path": "caf\u00e9/new.png"},
            {"path": "locked.zip"},
            {"sha256": EMPTY_FILE_DIGESTS[Algorithm.SHA256].hex(), "path": "empty.txt", "size": 0},
        ],
        [
            {"md5": "not-a-digest", "path": "line\nbreak.txt"},
            {"md5": base64.b64encode(bytes.fromhex(hexof("md5", "001"))).decode()},
        ],
    )


def test_the_json_report_follows_the_committed_schema(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table
) -> None:
    path = tmp_path / "out" / "report.json"
    write_report(path, header_for(snapshot, table), table)

    document = json.loads(path.read_text("utf-8"))
    schema = json.loads((SCHEMAS / "report.schema.json").read_text("utf-8"))
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    assert document["schema"] == REPORT_FORMAT
    assert document["statement"] == list(STATEMENT)
    assert document["counts"]["review_queue"] == 1
    assert [item["name"] for item in document["run"]["lists"]] == ["benign-list", "concern-list"]


def test_the_json_report_has_one_row_per_verdict_in_order(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table
) -> None:
    path = tmp_path / "report.json"
    write_report(path, header_for(snapshot, table), table)
    rows = json.loads(path.read_text("utf-8"))["rows"]
    expected = table.to_pylist()
    assert len(rows) == len(expected)
    for row, verdict in zip(rows, expected, strict=True):
        assert row["matches"] == json.loads(verdict["matches"] or "[]")
        assert {k: v for k, v in row.items() if k != "matches"} == {
            k: v for k, v in verdict.items() if k != "matches"
        }
    assert rows[0]["verdict"] == "known"
    assert [m["list"] for m in rows[0]["matches"]] == ["concern-list", "benign-list"]
    assert rows[5]["reason"] == "md5 digest is not hex or base64: 'not-a-digest'"
    assert rows[6]["md5"] == hexof("md5", "001")


def test_a_json_report_of_no_rows_is_valid(tmp_path: Path, snapshot: Snapshot) -> None:
    empty = VERDICT_SCHEMA.empty_table()
    path = tmp_path / "report.json"
    write_report(path, header_for(snapshot, empty), empty)
    document = json.loads(path.read_text("utf-8"))
    schema = json.loads((SCHEMAS / "report.schema.json").read_text("utf-8"))
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    assert document["rows"] == []


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text("utf-8")
    lines = text.splitlines(keepends=True)
    metadata = []
    while lines and lines[0].startswith("#"):
        metadata.append(lines.pop(0).rstrip("\n"))
    return metadata, list(csv.DictReader(io.StringIO("".join(lines))))


def test_the_csv_report_has_metadata_lines_a_header_and_one_row_per_file(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table
) -> None:
    path = tmp_path / "report.csv"
    header = header_for(snapshot, table, case_ref="CASE\n42")
    write_report(path, header, table)
    metadata, rows = _read_csv(path)

    assert metadata[0] == f"# {REPORT_FORMAT} (CSV)"
    assert "# case_ref: CASE 42" in metadata  # a newline cannot break out of a # line
    assert "# operator: examiner-7" in metadata
    assert "# started_at: 2024-05-02T09:30:00Z" in metadata
    assert any(line.startswith(f"# snapshot: {snapshot.id} built ") for line in metadata)
    assert any(line.startswith("# input: manifest.md5 sha256 ") for line in metadata)
    assert sum(line.startswith("# list: ") for line in metadata) == 2
    assert "# count unknown: total 1 unique 1" in metadata
    assert "# review_queue: 1" in metadata
    assert sum(line.startswith("# note: ") for line in metadata) == len(STATEMENT)

    expected = table.to_pylist()
    assert len(rows) == len(expected)
    assert list(rows[0]) == [
        "input",
        "line",
        "path",
        "size",
        "md5",
        "sha1",
        "sha256",
        "verdict",
        "reason",
        "lists",
        "matches",
    ]
    for row, verdict in zip(rows, expected, strict=True):
        for name in ("input", "line", "path", "size", "md5", "sha1", "sha256", "verdict", "reason"):
            value = verdict[name]
            assert row[name] == ("" if value is None else str(value)), name
        assert row["matches"] == (verdict["matches"] or "")
    assert rows[0]["lists"] == (
        "concern-list v2 (concern, on md5); benign-list v1 (benign, on md5+sha1)"
    )
    assert rows[1]["lists"] == "benign-list v1 (benign, on md5)"
    assert rows[2]["lists"] == ""
    assert rows[5]["path"] == "line\nbreak.txt"


def test_an_unknown_extension_is_refused_before_anything_is_written(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table
) -> None:
    for name in ("report.pdf", "report"):
        with pytest.raises(InputError) as caught:
            write_report(tmp_path / name, header_for(snapshot, table), table)
        assert caught.value.source == str(tmp_path / name)
        assert "(use .csv, .json)" in caught.value.reason
    assert list(tmp_path.iterdir()) == []


def test_report_format_ignores_case() -> None:
    assert report_format(Path("R.JSON")) == ".json"
    assert report_format(Path("r.Csv")) == ".csv"
    with pytest.raises(InputError, match=r"'\(none\)'"):
        report_format(Path("report"))


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_a_report_is_written_without_leaving_a_temporary_file(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table, suffix: str
) -> None:
    path = tmp_path / f"report{suffix}"
    path.write_text("an older report", "utf-8")
    write_report(path, header_for(snapshot, table), table)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_text("utf-8") != "an older report"


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_a_report_that_fails_half_way_leaves_no_file_and_the_old_one_intact(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table, suffix: str
) -> None:
    path = tmp_path / f"report{suffix}"
    path.write_text("an older report", "utf-8")
    broken = table.drop_columns(["reason"])  # the writers need every verdict column
    with pytest.raises(KeyError):
        write_report(path, header_for(snapshot, table), broken)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_text("utf-8") == "an older report"


def test_a_report_interrupted_mid_write_leaves_nothing(
    tmp_path: Path, snapshot: Snapshot, table: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_fail(handle: TextIO, header: ReportHeader, rows: pa.Table) -> None:
        handle.write('{"schema": ')
        raise KeyboardInterrupt

    monkeypatch.setitem(REPORT_FORMATS, ".json", half_then_fail)
    path = tmp_path / "new" / "report.json"
    with pytest.raises(KeyboardInterrupt):
        write_report(path, header_for(snapshot, table), table)
    assert list((tmp_path / "new").iterdir()) == []
