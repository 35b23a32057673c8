"""The examiner's commands end to end: scan, HTML reports, summaries, compare, review, audit."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashmatch.cli import ExitCode, app


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def content(n: int) -> bytes:
    return f"synthetic-fixture-{n:03d}".encode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def run(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI in-process with its own data directory, from a scratch folder (where
    a scan without --report or --manifest writes its manifest)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HASHMATCH_HOME", str(home))
    monkeypatch.setenv("HASHMATCH_OPERATOR", "examiner-7")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, output
        return output

    return invoke


@pytest.fixture
def evidence(tmp_path: Path, run) -> Path:
    """A folder with a known file, an unknown one and an empty one, and a loaded list."""
    root = tmp_path / "exhibit"
    root.mkdir()
    (root / "known.jpg").write_bytes(content(1))
    (root / "new.jpg").write_bytes(content(2))
    (root / "empty").write_bytes(b"")
    listed = tmp_path / "known.md5"
    listed.write_text(f"{md5(content(1))}  known.jpg\n")
    run("lists", "add", "local", "--purpose", "concern")
    run("ingest", "local", str(listed))
    return root


def test_scan_writes_the_manifest_beside_the_report_and_an_html_report(
    run, evidence: Path, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "exhibit.html"
    output = run("scan", str(evidence), "--case", "C-1", "--report", str(report))
    assert "3 files" in output
    assert "3 hashed, 0 could not be hashed" in output
    manifest = report.with_suffix(".hashdeep")
    assert manifest.read_text().startswith("%%%% HASHDEEP-1.0\n")
    page = report.read_text(encoding="utf-8")
    assert "<html" in page
    assert "C-1" in page
    assert "Content-Security-Policy" in page
    assert sorted(p.name for p in evidence.iterdir()) == ["empty", "known.jpg", "new.jpg"]


def test_scan_refuses_to_write_into_the_evidence(run, evidence: Path) -> None:
    output = run(
        "scan", str(evidence), "--case", "C-1", "--report", str(evidence / "r.json"), code=2
    )
    assert "would write into the evidence folder" in output
    assert not (evidence / "r.json").exists()
    assert not (evidence / "r.hashdeep").exists()


def test_check_records_origin_and_writes_summaries(run, evidence: Path, tmp_path: Path) -> None:
    run("scan", str(evidence), "--case", "C-1", "--manifest", str(tmp_path / "m.hashdeep"))
    report = tmp_path / "run.json"
    run(
        "check",
        str(tmp_path / "m.hashdeep"),
        "--case",
        "C-1",
        "--origin",
        "device-image",
        "--report",
        str(report),
        "--summary",
        str(tmp_path / "counts.json"),
        "--charging-summary",
        str(tmp_path / "charging.csv"),
    )
    document = json.loads(report.read_text())
    assert document["run"]["inputs"][0]["origin"] == "device-image"
    counts = json.loads((tmp_path / "counts.json").read_text())
    assert counts["by_verdict"]["known"] == {"total": 1, "unique": 1}
    assert counts["review_queue"] == 1
    text = (tmp_path / "counts.json").read_text()
    assert "new.jpg" not in text
    assert "examiner-7" not in text
    assert md5(content(2)) not in text
    assert "known,,,1,1" in (tmp_path / "charging.csv").read_text()
    assert "review_queue" in run("summary", str(report), "--kind", "counts")


def test_compare_exit_codes(run, evidence: Path, tmp_path: Path) -> None:
    run("scan", str(evidence), "--case", "C-1", "--report", str(tmp_path / "a.json"))
    run("scan", str(evidence), "--case", "C-1", "--report", str(tmp_path / "b.json"))
    assert "the runs agree" in run("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    run(
        "review",
        "grade",
        "--md5",
        md5(content(2)),
        "--scheme",
        "vics-us",
        "--category",
        "1",
        "--reviewer",
        "DC Example",
    )
    run("scan", str(evidence), "--case", "C-1", "--report", str(tmp_path / "c.json"))
    output = run(
        "compare", str(tmp_path / "a.json"), str(tmp_path / "c.json"), code=ExitCode.DIFFER
    )
    assert "1 files differ" in output
    assert "new.jpg" in output


def test_review_queue_grade_and_export(run, evidence: Path, tmp_path: Path) -> None:
    run("scan", str(evidence), "--case", "C-1", "--report", str(tmp_path / "a.json"))
    run("review", "queue", str(tmp_path / "a.json"), "--output", str(tmp_path / "queue.csv"))
    queue = (tmp_path / "queue.csv").read_text()
    assert "new.jpg" in queue
    assert "known.jpg" not in queue
    run(
        "review",
        "grade",
        "--md5",
        md5(content(2)),
        "--scheme",
        "vics-us",
        "--category",
        "1",
        "--flag",
        "victim_identified",
        "--note",
        "private note",
    )
    out = tmp_path / "gradings.json"
    run("review", "export", str(out), "--format", "vics")
    document = json.loads(out.read_text())
    (media,) = document["value"]
    assert media["MD5"] == md5(content(2)).upper()
    assert media["Category"] == 1
    assert media["VictimIdentified"] == "true"
    assert "private note" not in out.read_text()
    # the export reads back as a VICS list
    run("lists", "add", "national", "--purpose", "concern")
    assert "1 entries" in run("ingest", "national", str(out))
    output = run(
        "review", "grade", "--md5", md5(content(2)), "--scheme", "xx", "--category", "1", code=2
    )
    assert "unknown category scheme" in output


def test_audit_verify_finds_an_edited_record(
    run, evidence: Path, home: Path, tmp_path: Path
) -> None:
    run("scan", str(evidence), "--case", "C-1")
    # without --report or --manifest, the manifest goes to the current folder
    assert len(list(tmp_path.glob("hashmatch-scan-*.hashdeep"))) == 1
    assert "audit trail intact" in run("audit", "verify")
    assert '"action": "run"' in run("audit", "show", "--json")
    with sqlite3.connect(home / "catalog.sqlite") as db:
        db.execute("UPDATE audit_records SET subject = 'edited' WHERE seq = 1")
    output = run("audit", "verify", code=ExitCode.TAMPERED)
    assert "seq 1: edited" in output


def test_ctrl_c_stops_a_scan_cleanly(tmp_path: Path) -> None:
    """SIGINT in the middle of hashing: exit 130, no manifest, no partial file, no report."""
    evidence = tmp_path / "big"
    evidence.mkdir()
    # Sparse: 8 GiB to hash (about 20 s), nothing much on disk. With 2 GiB, a loaded CI
    # machine once finished hashing before this process sent the signal.
    for n in range(8):
        with open(evidence / f"disk{n}.img", "wb") as handle:
            handle.truncate(1 << 30)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "HASHMATCH_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashmatch",
            "scan",
            str(evidence),
            "--case",
            "C-1",
            "--report",
            str(out / "r.json"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline:  # the partial manifest
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == []
    assert sorted(p.name for p in evidence.iterdir()) == [f"disk{n}.img" for n in range(8)]


def test_gradings_export_as_a_signed_bundle_that_another_unit_loads(
    run, evidence: Path, tmp_path: Path
) -> None:
    run(
        "review",
        "grade",
        "--md5",
        md5(content(2)),
        "--sha256",
        hashlib.sha256(content(2)).hexdigest(),
        "--scheme",
        "uk",
        "--category",
        "B",
        "--case",
        "C-1",
        "--note",
        "private note",
    )
    run("bundle", "keygen", str(tmp_path / "unit"), "--publisher", "Synthetic Unit")
    bundle = tmp_path / "gradings.hmbundle"
    run(
        "review",
        "export",
        str(bundle),
        "--format",
        "bundle",
        "--key",
        str(tmp_path / "unit.key"),
        "--publisher",
        "Synthetic Unit",
    )
    assert "valid" in run("bundle", "verify", str(bundle), "--trust", str(tmp_path / "unit.pub"))
    # another unit trusts the key, requires signatures, and loads the gradings
    run("lists", "add", "national", "--purpose", "concern")
    run("lists", "trust", "national", str(tmp_path / "unit.pub"), "--publisher", "Synthetic Unit")
    run("lists", "policy", "national", "--require-signature")
    assert "signed by Synthetic Unit" in run("ingest", "national", str(bundle))
    entries = (bundle / "entries.parquet").read_bytes()
    assert b"private note" not in entries
    assert b"C-1" not in entries
