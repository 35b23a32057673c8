"""hashmatch.schemagen: the contracts in schemas/ are generated, and checked against the code."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from hashmatch import schemagen
from hashmatch.match.live import MATCH_SCHEMA
from hashmatch.schemagen import SCHEMAS_DIR, arrow_schema_json, generate, main

EXPECTED_FILES = {
    "report.schema.json",
    "records.arrow.json",
    "entries.arrow.json",
    "verdicts.arrow.json",
    "match.arrow.json",
    "openapi.json",
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


def test_check_fails_when_the_openapi_file_was_edited_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--dir", str(tmp_path)])
    capsys.readouterr()
    path = tmp_path / "openapi.json"
    document = json.loads(path.read_text("utf-8"))
    document["paths"]["/v1/match"]["post"]["summary"] = "edited"
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", "utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "openapi.json" in err
    assert "match.arrow.json" not in err


def test_check_fails_when_the_api_changes_but_the_file_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["--dir", str(tmp_path)])
    capsys.readouterr()
    real = schemagen.openapi_document

    def changed() -> dict[str, object]:
        document = real()
        document["paths"]["/v1/new-route"] = {"get": {"operationId": "new_route"}}
        return document

    monkeypatch.setattr(schemagen, "openapi_document", changed)
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert "openapi.json" in capsys.readouterr().err


def test_the_openapi_document_needs_no_data_directory_database_or_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_home = tmp_path / "user-home"
    monkeypatch.setenv("HASHMATCH_HOME", str(user_home))
    # a database that cannot be reached: building the document must not try
    monkeypatch.setenv("HASHMATCH_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    monkeypatch.setenv("HASHMATCH_API_MAX_ITEMS", "7")
    document = schemagen.openapi_document()
    assert not user_home.exists()
    assert document["openapi"].startswith("3.")
    assert "/v1/match" in document["paths"]
    monkeypatch.delenv("HASHMATCH_API_MAX_ITEMS")
    assert schemagen.openapi_document() == document  # settings do not change it


def test_the_openapi_file_is_stable_json_with_sorted_keys() -> None:
    text = generate()["openapi.json"]
    assert text == generate()["openapi.json"]
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert document["info"]["title"] == "hashmatch"


def test_the_match_arrow_file_describes_the_bulk_reply() -> None:
    described = json.loads(generate()["match.arrow.json"])
    assert [f["name"] for f in described["fields"]] == MATCH_SCHEMA.names
    assert [f["name"] for f in described["fields"]] == ["id", "verdict", "reason", "matches"]
    assert "snapshot_id" in described["title"]
