"""hashmatch.schemagen: the contracts in schemas/ are generated, and checked against the code."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from hashmatch.schemagen import SCHEMAS_DIR, arrow_schema_json, generate, main

EXPECTED_FILES = {
    "report.schema.json",
    "records.arrow.json",
    "entries.arrow.json",
    "verdicts.arrow.json",
}


def test_the_committed_schemas_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert Path(__file__).parents[3] / "schemas" == SCHEMAS_DIR
    assert main(["--check"]) == 0, capsys.readouterr().err


def test_check_fails_on_an_empty_folder_and_names_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for name in EXPECTED_FILES:
        assert name in err
    assert "python -m hashmatch.schemagen" in err
    assert list(tmp_path.iterdir()) == []  # --check writes nothing


def test_writing_makes_the_check_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "new" / "schemas"
    assert main(["--dir", str(target)]) == 0
    assert {p.name for p in target.iterdir()} == EXPECTED_FILES
    assert capsys.readouterr().out.count("wrote ") == len(EXPECTED_FILES)
    assert main(["--check", "--dir", str(target)]) == 0
    # a second write has nothing to do
    assert main(["--dir", str(target)]) == 0
    assert "wrote" not in capsys.readouterr().out


def test_check_names_only_the_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--dir", str(tmp_path)])
    capsys.readouterr()
    (tmp_path / "verdicts.arrow.json").write_text("{}\n", "utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "verdicts.arrow.json" in err
    assert "report.schema.json" not in err


def test_generated_documents_are_json() -> None:
    documents = generate()
    assert set(documents) == EXPECTED_FILES
    report = json.loads(documents["report.schema.json"])
    assert report["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert report["properties"]["schema"]["const"] == "hashmatch-report/1"
    verdicts = json.loads(documents["verdicts.arrow.json"])
    assert [f["name"] for f in verdicts["fields"]][:2] == ["input", "line"]


def test_arrow_schema_json_keeps_field_notes_apart_from_schema_metadata() -> None:
    schema = pa.schema(
        [pa.field("a", pa.int64(), nullable=False), pa.field("b", pa.string())],
        metadata={"a": "the a column", "schema": "x/1"},
    )
    assert arrow_schema_json(schema, "T") == {
        "title": "T",
        "fields": [
            {"name": "a", "type": "int64", "nullable": False, "note": "the a column"},
            {"name": "b", "type": "string", "nullable": True},
        ],
        "metadata": {"schema": "x/1"},
    }
