"""The command line end to end: the verbs and options examiners' scripts rely on."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from hashmatch.cli import ExitCode, app

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI in-process with its own data directory."""
    monkeypatch.setenv("HASHMATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HASHMATCH_OPERATOR", "examiner-7")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, output
        return output

    return invoke


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    concern = tmp_path / "known.sha256sum"
    concern.write_text(
        "".join(f"{sha256(f'synthetic-fixture-00{i}')}  item{i}.jpg\n" for i in (1, 2, 3))
    )
    benign = tmp_path / "benign.md5sum"
    benign.write_text(
        f"{md5('synthetic-fixture-003')}  lib3.so\n{md5('synthetic-fixture-004')}  lib4.so\n"
    )
    manifest = tmp_path / "device.hashdeep"
    rows = [
        f"21,{md5('synthetic-fixture-001')},{sha256('synthetic-fixture-001')},ev/a.jpg",
        f"21,{md5('synthetic-fixture-003')},{sha256('synthetic-fixture-003')},ev/both, listed.bin",
        f"21,{md5('synthetic-fixture-004')},{sha256('synthetic-fixture-004')},ev/lib4.so",
        f"21,{md5('synthetic-fixture-009')},{sha256('synthetic-fixture-009')},ev/new.jpg",
        f"0,d41d8cd98f00b204e9800998ecf8427e,{hashlib.sha256(b'').hexdigest()},ev/empty",
        f"21,XYZ,{sha256('synthetic-fixture-002')},ev/bad.jpg",
        f"21,{md5('synthetic-fixture-001')},{sha256('synthetic-fixture-001')},ev/copy of a.jpg",
    ]
    manifest.write_text(
        "%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## Invoked from: /case\n"
        + "\n".join(rows)
        + "\n"
    )
    return {"concern": concern, "benign": benign, "manifest": manifest}


def test_the_documented_workflow(run, files, tmp_path: Path) -> None:
    run("lists", "add", "demo-concern", "--purpose", "concern")
    run("lists", "add", "demo-benign", "--purpose", "benign", "--description", "software")
    out = run("ingest", "demo-concern", str(files["concern"]))
    assert "demo-concern version 1 now serving" in out
    assert hashlib.sha256(files["concern"].read_bytes()).hexdigest() in out
    run("ingest", "demo-benign", str(files["benign"]))
    report = tmp_path / "out.json"
    out = run("check", str(files["manifest"]), "--case", "CASE-1", "--report", str(report))
    assert "review queue (unknown): 1 files" in out

    data = json.loads(report.read_text())
    jsonschema.validate(data, json.loads((SCHEMAS / "report.schema.json").read_text()))
    verdicts = [(r["path"], r["verdict"]) for r in data["rows"]]
    assert verdicts == [
        ("ev/a.jpg", "known"),
        ("ev/both, listed.bin", "known"),
        ("ev/lib4.so", "known_benign"),
        ("ev/new.jpg", "unknown"),
        ("ev/empty", "not_assessable"),
        ("ev/bad.jpg", "invalid"),
        ("ev/copy of a.jpg", "known"),
    ]
    both = data["rows"][1]["matches"]
    assert [(m["list"], m["purpose"], m["matched_on"]) for m in both] == [
        ("demo-concern", "concern", ["sha256"]),
        ("demo-benign", "benign", ["md5"]),
    ]
    assert "md5" in data["rows"][5]["reason"]
    run_record = data["run"]
    assert run_record["case_ref"] == "CASE-1"
    assert run_record["operator"] == "examiner-7"
    assert (
        run_record["inputs"][0]["sha256"]
        == hashlib.sha256(files["manifest"].read_bytes()).hexdigest()
    )
    assert {item["name"]: item["version"] for item in run_record["lists"]} == {
        "demo-benign": 1,
        "demo-concern": 1,
    }
    counts = data["counts"]
    assert counts["by_verdict"]["known"] == {"total": 3, "unique": 2}
    assert counts["total"] == {"total": 7, "unique": 6}

    csv_report = tmp_path / "out.csv"
    run("check", str(files["manifest"]), "--case", "CASE-1", "--report", str(csv_report))
    lines = csv_report.read_text().splitlines()
    assert lines[0].startswith("# hashmatch-report/1")
    body = [line for line in lines if not line.startswith("#")]
    assert body[0].startswith("input,line,path,size,md5,sha1,sha256,verdict")
    assert len(body) == 1 + 7

    assert "demo-concern" in run("lists", "list")
    shown = run("lists", "show", "demo-concern")
    assert "known.sha256sum" in shown
    assert "examiner-7" in shown
    assert "hashdeep" in run("formats")
    assert "demo-benign v1" in run("snapshot", "info")
    assert "published" in run("snapshot", "rebuild")


def test_a_new_version_replaces_the_old_one_at_once(run, files, tmp_path: Path) -> None:
    run("lists", "add", "l", "--purpose", "concern")
    run("ingest", "l", str(files["concern"]))
    second = tmp_path / "second.md5sum"
    second.write_text(f"{md5('synthetic-fixture-009')}  new.jpg\n")
    out = run("ingest", "l", str(second))
    assert "l version 2 now serving" in out
    report = tmp_path / "r.json"
    run("check", str(files["manifest"]), "--case", "C", "--report", str(report))
    rows = json.loads(report.read_text())["rows"]
    assert rows[0]["verdict"] == "unknown"  # only in version 1
    assert rows[3]["verdict"] == "known"  # only in version 2
    assert rows[3]["matches"][0]["version"] == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("ingest", "nope", "{concern}"), ExitCode.NOT_FOUND, "nope"),
        (("lists", "add", "bad name", "--purpose", "concern"), ExitCode.INPUT, "list name"),
        (("check", "{manifest}", "--case", "C"), ExitCode.INPUT, "no list has been loaded"),
        (("check", "{manifest}", "--case", "C", "--report", "x.pdf"), ExitCode.INPUT, ".pdf"),
        (("check", "{manifest}", "--case", " "), ExitCode.INPUT, "case reference"),
        (("check", "missing.txt", "--case", "C"), ExitCode.INPUT, "no such file"),
        (("lists", "show", "nope"), ExitCode.NOT_FOUND, "nope"),
    ],
)
def test_errors_say_what_is_wrong(run, files, args, code, message) -> None:
    filled = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    out = run(*filled, code=code)
    assert "error:" in out
    assert message in out


def test_duplicate_list_is_a_conflict(run) -> None:
    run("lists", "add", "l", "--purpose", "benign")
    assert "already" in run("lists", "add", "l", "--purpose", "benign", code=ExitCode.CONFLICT)


def test_strict_ingest_names_file_and_line(run, tmp_path: Path) -> None:
    run("lists", "add", "l", "--purpose", "concern")
    bad = tmp_path / "bad.md5sum"
    bad.write_text(f"{md5('synthetic-fixture-001')}  a\n{md5('x')[:30]}  short\n")
    out = run("ingest", "l", str(bad), "--strict", code=ExitCode.INPUT)
    assert "bad.md5sum:2:" in out
    # Without --strict the bad line is a warning with its line, and the rest loads.
    out = run("ingest", "l", str(bad))
    assert "bad.md5sum:2:" in out
    assert "1 entries" in out


def test_unrecognised_file_is_refused(run, tmp_path: Path) -> None:
    run("lists", "add", "l", "--purpose", "concern")
    junk = tmp_path / "junk.txt"
    junk.write_text("this is not a hash list\nat all\n")
    assert "not recognised" in run("ingest", "l", str(junk), code=ExitCode.INPUT)
    assert "unknown format" in run(
        "ingest", "l", str(junk), "--format", "nope", code=ExitCode.INPUT
    )


def test_help_teaches(run) -> None:
    out = run("--help")
    for verb in ("lists", "ingest", "check", "demo", "formats", "snapshot"):
        assert verb in out
    assert "--case" in run("check", "--help")
    assert "Example" in run("ingest", "--help")


def test_demo_plants_and_finds(run, tmp_path: Path) -> None:
    out = run("demo", "--dir", str(tmp_path / "d"), "--entries", "200", "--files", "60")
    assert "demo verdicts match what was planted" in out
    assert (tmp_path / "d" / "report.json").is_file()
    assert (tmp_path / "d" / "report.csv").is_file()
    assert "<html" in (tmp_path / "d" / "report.html").read_text(encoding="utf-8")
    # Running it again reuses the lists and loads new versions.
    run("demo", "--dir", str(tmp_path / "d"), "--entries", "200", "--files", "60")


def test_console_script_and_module_run(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hashmatch", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("hashmatch ")


def test_names_with_brackets_are_printed_as_they_are(run, tmp_path: Path) -> None:
    run("lists", "add", "l", "--purpose", "concern")
    odd = tmp_path / "[root] list [bold].md5sum"
    odd.write_text(f"{md5('synthetic-fixture-001')}  a\nnot-hex  b\n")
    out = run("ingest", "l", str(odd))
    assert "[root] list [bold].md5sum" in out
    assert "[root] list [bold].md5sum:2:" in out


def test_listing_formats_touches_no_data_directory(run, tmp_path: Path) -> None:
    out = run("formats")
    for name in ("md5sum", "hashdeep", "bare", "csv"):
        assert name in out
    assert not (tmp_path / "home").exists()


# -- list updates and vetting from the command line ---------------------------------------


def test_deltas_history_diff_and_rollback(run, tmp_path: Path) -> None:
    v1 = tmp_path / "v1.md5sum"
    v1.write_text("".join(f"{md5(f'synthetic-fixture-00{i}')}  f{i}\n" for i in (1, 2, 3)))
    add = tmp_path / "add.md5sum"
    add.write_text(f"{md5('synthetic-fixture-004')}  f4\n")
    remove = tmp_path / "remove.md5sum"
    remove.write_text(f"{md5('synthetic-fixture-001')}  f1\n")
    run("lists", "add", "graded", "--purpose", "concern")
    run("ingest", "graded", str(v1))
    assert "add 1 entries" in run("ingest", "graded", str(add), "--mode", "add")
    run("ingest", "graded", str(remove), "--mode", "remove")
    history = run("lists", "history", "graded")
    assert "v2 add to v1" in history
    assert "v3 remove from v2 serving" in history
    assert "signature unsigned" in history
    diff = run("lists", "diff", "graded", "1", "3", "--output", str(tmp_path / "d.csv"))
    assert "added" in diff
    assert md5("synthetic-fixture-004") in diff
    rows = (tmp_path / "d.csv").read_text().splitlines()
    assert rows[0] == '"change","algorithm","digest","labels_before","labels_after"'
    assert len(rows) == 3
    assert "version 4 now serving" in run("lists", "rollback", "graded", "1")
    assert "rollback to v1" in run("lists", "show", "graded")
    run("lists", "rollback", "graded", "4", code=ExitCode.CONFLICT)
    run("lists", "rollback", "graded", "9", code=ExitCode.NOT_FOUND)
    run("ingest", "graded", str(v1), "--mode", "rollback", code=ExitCode.INPUT)


def test_a_list_that_requires_signatures_refuses_an_unsigned_file(run, tmp_path: Path) -> None:
    listed = tmp_path / "list.md5sum"
    listed.write_text(f"{md5('synthetic-fixture-001')}  f1\n")
    run("lists", "add", "vetted", "--purpose", "concern")
    out = run("lists", "policy", "vetted", "--require-signature", code=ExitCode.INPUT)
    assert "trusts no publisher key" in out
    run("bundle", "keygen", str(tmp_path / "unit"), "--publisher", "Synthetic Unit")
    trusted = run(
        "lists", "trust", "vetted", str(tmp_path / "unit.pub"), "--publisher", "Synthetic Unit"
    )
    assert "trusts ed25519:" in trusted
    assert "requires a trusted signature, stale after 30 days" in run(
        "lists", "policy", "vetted", "--require-signature", "--max-age", "30"
    )
    refused = run("ingest", "vetted", str(listed), code=ExitCode.VETTING)
    assert "error: list.md5sum" in refused
    assert "requires a trusted signature" in refused
    run(
        "bundle",
        "sign",
        str(listed),
        "--key",
        str(tmp_path / "unit.key"),
        "--publisher",
        "Synthetic Unit",
    )
    loaded = run("ingest", "vetted", str(listed))
    assert "signed by Synthetic Unit (ed25519:" in loaded
    assert "trusts ed25519:" in run("lists", "show", "vetted")
    exported = run("bundle", "export", "vetted", "--out", str(tmp_path / "v.hmbundle"))
    assert "bundle written" in exported
    run("bundle", "verify", str(tmp_path / "v.hmbundle"), code=ExitCode.INPUT)  # unsigned


def test_check_maps_categories_on_request_beside_the_originals(run, tmp_path: Path) -> None:
    listed = tmp_path / "entries.xml"
    listed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        '<images count="1"><image><member id="9001">Synthetic ESP</member>'
        "<timestamp>2024-03-01T12:00:00Z</timestamp><id>syn-1</id>"
        "<classification>A2</classification>"
        f"<fingerprints><md5>{md5('synthetic-fixture-001')}</md5></fingerprints>"
        "</image></images></queryResult>\n"
    )
    manifest = tmp_path / "m.md5sum"
    manifest.write_text(f"{md5('synthetic-fixture-001')}  a.jpg\n")
    run("lists", "add", "n", "--purpose", "concern")
    run("ingest", "n", str(listed))
    report = tmp_path / "r.json"
    run("check", str(manifest), "--case", "C-9", "--map-to", "uk", "--report", str(report))
    (row,) = json.loads(report.read_text())["rows"]
    (match,) = row["matches"]
    assert match["labels"]["category"] == "A2"
    assert match["labels"]["scheme"] == "ncmec"
    assert match["mapped"]["category"] == ["C"]
    assert match["mapped"]["crosswalk"].startswith("ncmec-to-uk@")
    out = run("check", str(manifest), "--case", "C-9", "--map-to", "klingon", code=ExitCode.INPUT)
    assert "available targets" in out
