"""hashmatch.reports: counts over a verdict table, and the JSON and CSV report files.

Verdict tables come from the real matcher over the snapshot in ``conftest.py``, and for
categories and their mapping (``--map-to``) over the snapshot of scheme-labelled entries that
``test_core_match_matcher.py`` builds.
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

# a snapshot whose labels name their schemes; kept with the matcher tests that define it
from test_core_match_matcher import LABELLED, labelled_snapshot

from hashmatch.crosswalk import CrosswalkSet, load_crosswalks
from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.errors import InputError
from hashmatch.index import Snapshot
from hashmatch.ingest.parse import parse_batch
from hashmatch.match.matcher import VERDICT_SCHEMA, Matcher
from hashmatch.records import make_batch
from hashmatch.reports import (
    MAPPING_NOTE,
    REPORT_FORMAT,
    REPORT_FORMATS,
    STATEMENT,
    Count,
    ReportHeader,
    ReportInput,
    ReportMapping,
    ReportRun,
    ToolInfo,
    count_verdicts,
    report_format,
    report_lists,
    report_mapping,
    write_report,
)

SCHEMAS = Path(__file__).parents[3] / "schemas"


def hexof(algorithm: str, name: str) -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{name}".encode()).hexdigest()


def verdicts(
    snapshot: Snapshot,
    *inputs: list[dict[str, Any]],
    map_to: str | None = None,
    crosswalks: CrosswalkSet | None = None,
) -> pa.Table:
    """The verdict table of several manifests, one batch each (so the table has chunks)."""
    matcher = Matcher(snapshot, map_to=map_to, crosswalks=crosswalks)
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
    snapshot: Snapshot,
    table: pa.Table,
    *,
    case_ref: str = "CASE-2024-001",
    mapping: ReportMapping | None = None,
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
        mapping=mapping,
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
    assert document["mapping"] is None


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
        "mapped_categories",
    ]
    for row, verdict in zip(rows, expected, strict=True):
        for name in ("input", "line", "path", "size", "md5", "sha1", "sha256", "verdict", "reason"):
            value = verdict[name]
            assert row[name] == ("" if value is None else str(value)), name
        assert row["matches"] == (verdict["matches"] or "")
        assert row["mapped_categories"] == ""  # the column is there, empty when not mapping
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
        assert "(use .csv, .htm, .html, .json)" in caught.value.reason
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


# -- categories, flags and mapped categories ------------------------------------------------


def test_categories_without_a_scheme_are_counted_under_none(
    snapshot: Snapshot, table: pa.Table
) -> None:
    counts = count_verdicts(table)
    # "both" is on the concern list as B and on the benign list without a category
    assert counts.by_category == {
        "(none)": {"A": Count(total=1, unique=1), "B": Count(total=1, unique=1)}
    }
    assert counts.by_mapped_category == {}
    assert counts.by_flag == {}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return labelled_snapshot(tmp_path_factory.mktemp("graded-reports"))


def graded_table(snapshot: Snapshot, **kwargs: Any) -> pa.Table:
    def row(name: str, path: str | None = None) -> dict[str, Any]:
        return {"md5": hexof("md5", name), "path": path or f"{name}.jpg"}

    return verdicts(
        snapshot,
        [
            row("ncmec-a1"),
            row("ncmec-a1", "copy.jpg"),
            row("vics-2"),
            row("caid-7"),
            row("uk-b"),
            row("nsrl", "setup.exe"),
            row("nowhere"),
        ],
        [row("ncmec-a1", "=other.jpg"), row("no-category")],
        **kwargs,
    )


def test_known_files_are_counted_by_each_category_their_sources_gave(graded: Snapshot) -> None:
    counts = count_verdicts(graded_table(graded))
    one = Count(total=1, unique=1)
    assert counts.by_category == {
        "ncmec": {"A1": Count(total=3, unique=1)},
        "uk": {"B": one},
        "vics-uk": {"7": one},
        # the ncmec-a1 file is also on another list, graded 1 there (written as a number)
        "vics-us": {"1": Count(total=3, unique=1), "2": one},
    }
    assert counts.by_flag == {"victim_identified": one}  # decoy: false is not counted
    assert counts.by_mapped_category == {}
    assert counts.by_verdict["known"] == Count(total=7, unique=5)


def test_mapped_categories_are_counted_as_one_suggestion_each(graded: Snapshot) -> None:
    plain = count_verdicts(graded_table(graded))
    counts = count_verdicts(graded_table(graded, map_to="uk"))
    one = Count(total=1, unique=1)
    assert counts.by_mapped_category == {
        "uk": {
            "(review)": one,
            "A": one,
            "A|B": Count(total=3, unique=1),
            "A|B|C": Count(total=3, unique=1),
            "B": one,
        }
    }
    # mapping changes nothing else
    assert counts.by_category == plain.by_category
    assert counts.by_verdict == plain.by_verdict
    assert counts.by_list == plain.by_list


def test_report_mapping_names_the_crosswalks_in_force_and_those_applied(
    graded: Snapshot, tmp_path: Path
) -> None:
    crosswalks = load_crosswalks()
    mapping = report_mapping(crosswalks, "uk", graded_table(graded, map_to="uk"))
    assert mapping.target == "uk"
    assert mapping.note == MAPPING_NOTE
    assert [(c.name, c.version, c.origin, c.replaces) for c in mapping.crosswalks] == [
        ("ncmec-to-uk", "1", "shipped", None),
        ("vics-us-to-uk", "1", "shipped", None),
    ]
    assert mapping.applied == [
        "category-table UK@2026-01",
        "identity",
        "ncmec-to-uk@1",
        "vics-us-to-uk@1",
    ]
    # a run that mapped nothing applied nothing
    assert report_mapping(crosswalks, "uk", VERDICT_SCHEMA.empty_table()).applied == []


def _own_ncmec_crosswalk(tmp_path: Path) -> Path:
    path = tmp_path / "ours.json"
    path.write_text(
        json.dumps(
            {
                "format": "hashmatch-crosswalk/1",
                "from": "ncmec",
                "to": "uk",
                "version": "2024-local",
                "title": "Our unit's reading",
                "map": {"A1": ["A"]},
            }
        ),
        "utf-8",
    )
    return path


def test_a_mapped_json_report_follows_the_schema_and_keeps_labels_beside_the_suggestion(
    tmp_path: Path, graded: Snapshot
) -> None:
    own = _own_ncmec_crosswalk(tmp_path)
    crosswalks = load_crosswalks([own])
    table = graded_table(graded, map_to="uk", crosswalks=crosswalks)
    header = header_for(graded, table, mapping=report_mapping(crosswalks, "uk", table))
    path = tmp_path / "report.json"
    write_report(path, header, table)

    document = json.loads(path.read_text("utf-8"))
    schema = json.loads((SCHEMAS / "report.schema.json").read_text("utf-8"))
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    mapping = document["mapping"]
    assert mapping["target"] == "uk"
    assert mapping["note"] == MAPPING_NOTE
    assert mapping["crosswalks"][0] == {
        "name": "ncmec-to-uk",
        "version": "2024-local",
        "from_scheme": "ncmec",
        "to_scheme": "uk",
        "title": "Our unit's reading",
        "origin": str(own),
        "sha256": hashlib.sha256(own.read_bytes()).hexdigest(),
        "replaces": "ncmec-to-uk@1",
    }
    assert "ncmec-to-uk@2024-local" in mapping["applied"]
    first = document["rows"][0]["matches"][0]
    assert first["labels"] == LABELLED["ncmec-a1"]
    assert first["mapped"] == {
        "scheme": "uk",
        "category": ["A"],
        "crosswalk": "ncmec-to-uk@2024-local",
    }
    assert document["counts"]["by_mapped_category"]["uk"]["A"] == {"total": 4, "unique": 2}


def test_a_json_report_with_a_malformed_mapped_object_fails_the_schema(
    tmp_path: Path, graded: Snapshot
) -> None:
    # the schema really describes "mapped": a suggestion without its category is refused
    table = graded_table(graded, map_to="uk")
    path = tmp_path / "report.json"
    write_report(path, header_for(graded, table), table)
    document = json.loads(path.read_text("utf-8"))
    del document["rows"][0]["matches"][0]["mapped"]["category"]
    schema = json.loads((SCHEMAS / "report.schema.json").read_text("utf-8"))
    with pytest.raises(jsonschema.ValidationError, match="'category' is a required property"):
        jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


def test_a_mapped_csv_report_shows_the_original_beside_the_suggestion(
    tmp_path: Path, graded: Snapshot
) -> None:
    crosswalks = load_crosswalks()
    table = graded_table(graded, map_to="uk", crosswalks=crosswalks)
    header = header_for(graded, table, mapping=report_mapping(crosswalks, "uk", table))
    path = tmp_path / "report.csv"
    write_report(path, header, table)
    metadata, rows = _read_csv(path)

    assert [row["mapped_categories"] for row in rows] == [
        "graded-list: ncmec:A1 -> uk:A|B (ncmec-to-uk@1); "
        "other-list: vics-us:1 -> uk:A|B|C (vics-us-to-uk@1)",
        "graded-list: ncmec:A1 -> uk:A|B (ncmec-to-uk@1); "
        "other-list: vics-us:1 -> uk:A|B|C (vics-us-to-uk@1)",
        "graded-list: vics-us:2 -> uk:review (vics-us-to-uk@1; vics-us 2 has no equivalent in uk)",
        "graded-list: vics-uk:7 -> uk:A (category-table UK@2026-01)",
        "graded-list: uk:B -> uk:B (identity)",
        "",
        "",
        "graded-list: ncmec:A1 -> uk:A|B (ncmec-to-uk@1); "
        "other-list: vics-us:1 -> uk:A|B|C (vics-us-to-uk@1)",
        "",
    ]
    # the source's labels are still in the matches column, untouched
    assert json.loads(rows[2]["matches"])[0]["labels"] == LABELLED["vics-2"]
    assert rows[7]["path"] == "'=other.jpg"
    assert "# map_to: uk" in metadata
    walk = crosswalks.get("ncmec", "uk")
    assert walk is not None
    assert f"# crosswalk: ncmec-to-uk@1 {walk.title} (shipped, sha256 {walk.sha256})" in metadata
    assert (
        "# applied: category-table UK@2026-01, identity, ncmec-to-uk@1, vics-us-to-uk@1" in metadata
    )
    assert "# count category ncmec:A1: total 3 unique 1" in metadata
    assert "# count category vics-us:1: total 3 unique 1" in metadata
    assert "# count mapped uk:A|B: total 3 unique 1" in metadata
    assert "# count mapped uk:(review): total 1 unique 1" in metadata
    assert "# count flag victim_identified: total 1 unique 1" in metadata
    assert metadata[-1] == f"# note: {MAPPING_NOTE}"


def test_an_unmapped_csv_report_has_no_mapping_lines(tmp_path: Path, graded: Snapshot) -> None:
    table = graded_table(graded)
    path = tmp_path / "report.csv"
    write_report(path, header_for(graded, table), table)
    metadata, rows = _read_csv(path)
    assert not any(line.startswith(("# map_to", "# crosswalk", "# applied")) for line in metadata)
    assert "# count category ncmec:A1: total 3 unique 1" in metadata
    assert not any(line.startswith("# count mapped") for line in metadata)
    assert {row["mapped_categories"] for row in rows} == {""}
