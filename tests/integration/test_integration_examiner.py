"""The examiner's day, end to end: scan a seized folder, check it, grade, re-run, report.

A synthetic evidence folder (known files, known software, unknown files, a zero-length
file, an unreadable file and a FIFO) is scanned and checked against synthetic lists
through the real service; the JSON report is validated against its schema; one unknown
file is graded, and the next scan sees it ``known`` with the reviewer as its source; the
two runs are compared; summaries carry counts only; the audit trail holds it all and is
intact. The HTML report of the second run is opened in headless Chromium, where Debian's
``chromium`` and ``chromium-driver`` exist (CI installs them).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.model import Purpose
from hashmatch.scan import _hash
from hashmatch.service import ScanResult, Service

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "report.schema.json").read_text()
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def content(n: int) -> bytes:
    return f"synthetic-fixture-{n:03d}".encode()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seized folder. ``locked.bin`` cannot be opened: by its mode when the tests run
    as an ordinary user, and by refusing its open when they run as root (who may read any
    mode), the way the kernel would refuse it."""
    root = tmp_path / "exhibit-01"
    (root / "DCIM" / "100APPLE").mkdir(parents=True)
    (root / "Program Files").mkdir()
    (root / "DCIM" / "100APPLE" / "IMG_0001.JPG").write_bytes(content(1))  # known, category A
    (root / "DCIM" / "100APPLE" / "IMG_0002.JPG").write_bytes(content(2))  # known, Report Remove
    (root / "DCIM" / "copy of IMG_0001.JPG").write_bytes(content(1))  # a second copy
    (root / "Program Files" / "tool.dll").write_bytes(content(3))  # known software
    (root / "new_0001.jpg").write_bytes(content(4))  # unknown: to be graded
    (root / "new_0002.jpg").write_bytes(content(5))  # unknown
    (root / "empty.txt").write_bytes(b"")
    locked = root / "locked.bin"
    locked.write_bytes(content(6))
    os.mkfifo(root / "pipe")
    if os.geteuid() == 0:
        real = _hash.open_read_only

        def refuse(path: Any, flags: int, *, dir_fd: int | None = None) -> int:
            if os.fsencode(path).endswith(b"locked.bin"):
                raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
            return real(path, flags, dir_fd=dir_fd)

        monkeypatch.setattr(_hash, "open_read_only", refuse)
    else:
        locked.chmod(0)
    return root


@pytest.fixture
def service(tmp_path: Path) -> Service:
    home = tmp_path / "home"
    service = Service(Settings(home=home, operator="examiner-1"))
    lists = tmp_path / "lists"
    lists.mkdir()
    concern = lists / "known.json"
    concern.write_text(
        json.dumps(
            {
                "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/"
                "2.0.xml/US/$metadata#Media",
                "value": [
                    {"MediaID": 1, "Category": 1, "MD5": md5(content(1)).upper()},
                    {
                        "MediaID": 2,
                        "Category": 1,
                        "MD5": md5(content(2)).upper(),
                        "IsDistributed": "true",
                    },
                ],
            }
        )
    )
    benign = lists / "software.md5"
    benign.write_text(f"{md5(content(3))}  tool.dll\n")
    service.add_list("vics", Purpose.CONCERN)
    service.add_list("software", Purpose.BENIGN)
    service.ingest("vics", concern)
    service.ingest("software", benign)
    return service


def rows_by_path(report: Path) -> dict[str, dict[str, Any]]:
    document = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA)
    return {row["path"]: row for row in document["rows"]}


def scan(service: Service, evidence: Path, out: Path, name: str) -> ScanResult:
    out.mkdir(exist_ok=True)
    return service.scan(
        evidence,
        case_ref="CASE-1",
        manifest=out / f"{name}.hashdeep",
        report=out / f"{name}.json",
    )


def test_scan_grade_rescan_compare_and_audit(
    service: Service, evidence: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    before = {p: p.lstat().st_mtime_ns for p in evidence.rglob("*")}

    first = scan(service, evidence, out, "scene")
    rows = rows_by_path(out / "scene.json")

    assert first.files == 9
    assert first.hashed == 7
    assert rows["DCIM/100APPLE/IMG_0001.JPG"]["verdict"] == "known"
    assert rows["DCIM/copy of IMG_0001.JPG"]["verdict"] == "known"
    assert rows["Program Files/tool.dll"]["verdict"] == "known_benign"
    assert rows["new_0001.jpg"]["verdict"] == "unknown"
    assert rows["empty.txt"]["verdict"] == "not_assessable"
    assert rows["locked.bin"]["verdict"] == "not_assessable"
    assert rows["locked.bin"]["reason"] == "permission denied"
    assert rows["pipe"]["verdict"] == "not_assessable"
    assert "FIFO" in rows["pipe"]["reason"]
    counts = first.check.header.counts
    assert counts.by_verdict["known"].total == 3
    assert counts.by_verdict["known"].unique == 2
    assert counts.review_queue == 2
    assert first.check.header.run.inputs[0].origin == "local-scan"
    # the evidence is untouched, and nothing was written into it
    assert {p: p.lstat().st_mtime_ns for p in evidence.rglob("*")} == before

    # the scan's manifest reproduces the run: checked again, it gives the same verdicts
    service.check([out / "scene.hashdeep"], case_ref="CASE-1", report=out / "again.json")
    assert service.compare(out / "scene.json", out / "again.json").agree
    assert rows_by_path(out / "again.json")["locked.bin"]["reason"] == "permission denied"

    queue = list(service.review_queue(out / "scene.json"))
    assert sorted(item.path or "" for item in queue) == ["new_0001.jpg", "new_0002.jpg"]
    chosen = next(item for item in queue if item.path == "new_0001.jpg")
    service.grade(
        chosen.digests(),
        scheme="uk",
        category="B",
        flags=["victim_identified"],
        reviewer="DC Example",
        case_ref="CASE-1",
        run_id=first.check.run.run_id,
    )

    second = scan(service, evidence, out, "lab")
    again = rows_by_path(out / "lab.json")
    graded = again["new_0001.jpg"]
    assert graded["verdict"] == "known"
    (match,) = graded["matches"]
    assert match["list"] == "reviewer-gradings"
    assert match["labels"]["graded_by"] == "DC Example"
    assert match["labels"]["category"] == "B"
    assert sorted(match["matched_on"]) == sorted(a.value for a in Algorithm)
    assert again["new_0002.jpg"]["verdict"] == "unknown"
    assert second.check.header.counts.review_queue == 1

    comparison = service.compare(out / "scene.json", out / "lab.json")
    assert not comparison.agree
    assert not comparison.same_lists
    assert comparison.differing_rows == 1
    assert comparison.differences[0].path == "new_0001.jpg"
    assert service.compare(out / "lab.json", out / "lab.json").agree

    summary = service.summarise(out / "lab.json", "counts")
    text = json.dumps(summary, default=str)
    for private in ("new_0001", "IMG_0001", "examiner-1", md5(content(4))):
        assert private not in text

    verification = service.audit_verify()
    assert verification.ok
    actions = [r.action for r in service.audit_records()]
    assert actions.count("run") == 3  # the scene scan, its re-check, the lab scan
    assert actions.count("report") == 3
    assert "grading" in actions


def test_the_html_report_shows_the_run_in_chromium(
    service: Service, evidence: Path, tmp_path: Path
) -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install chromium and chromium-driver")
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By

    report = tmp_path / "exhibit-01.html"
    result = service.scan(
        evidence, case_ref="CASE-1", manifest=tmp_path / "m.hashdeep", report=report
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(report.resolve().as_uri())
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "CASE-1" in page
        assert "not_assessable" in page or "not assessable" in page.lower()
        assert "permission denied" in page
        table_rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(table_rows) >= result.files
    finally:
        driver.quit()
