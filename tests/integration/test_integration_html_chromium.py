"""The HTML report in a real browser: headless Chromium opens it from ``file://``.

What an examiner sees: the summary counts and the chart, the first page of the per-file
table, sorting by a column, the text filter, the verdict filter, paging, the Report Remove
and self-generated marks; and that the page runs without a script error and fetches
nothing. The report comes from the real service over synthetic lists and a 250-row manifest.

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian's ``chromium`` and
``chromium-driver``). Both paths are given to selenium, so selenium-manager never downloads
a browser. Without them the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hashmatch.config import Settings
from hashmatch.model import Purpose
from hashmatch.records import ENTRY_SCHEMA, LabelValue, encode_labels
from hashmatch.reports._html import write_html
from hashmatch.service import CheckResult, Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPORT_REMOVE_TEXT = (
    "Report Remove: a child asked for this image to be removed — not a lead against that child"
)
HOSTILE = "</script><script>alert(1)</script>.jpg"
UNKNOWN_FILES = 236


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must install chromium and chromium-driver")
    pytest.skip(reason)


try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver import Chrome as WebDriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    SELENIUM = True
except ImportError:  # pragma: no cover - selenium is in the dev extras
    SELENIUM = False


def md5(name: str) -> str:
    return hashlib.md5(f"synthetic-fixture-{name}".encode()).hexdigest()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CheckResult]:
    """A 250-row report: 7 known (one Report Remove, one self-generated), 5 known software,
    236 unknown (one with a hostile name), one zero-length file, one malformed digest."""
    root = tmp_path_factory.mktemp("html-report")
    entries: list[tuple[str, dict[str, LabelValue]]] = [
        ("rr", {"scheme": "uk", "category": "C", "report_remove": True}),
        ("sg", {"scheme": "uk", "category": "B", "self_generated": True}),
    ]
    entries += [(f"k{i}", {"scheme": "uk", "category": "A", "distributed": True}) for i in range(5)]
    records = [
        {"line": i + 1, "md5": bytes.fromhex(md5(name)), "labels": encode_labels(labels)}
        for i, (name, labels) in enumerate(entries)
    ]
    columns = {f.name: [r.get(f.name) for r in records] for f in ENTRY_SCHEMA}
    pq.write_table(pa.Table.from_pydict(columns, schema=ENTRY_SCHEMA), root / "concern.parquet")
    (root / "benign.md5sum").write_text("".join(f"{md5(f'b{i}')}  lib{i}.so\n" for i in range(5)))
    rows = [(md5("rr"), "ev/removal-request.jpg"), (md5("sg"), "ev/selfie.jpg")]
    rows += [(md5(f"k{i}"), f"ev/known-{i}.jpg") for i in range(5)]
    rows += [(md5(f"b{i}"), f"ev/lib/lib{i}.so") for i in range(5)]
    rows += [(md5(f"u{i}"), f"ev/photos/p{(i * 7919) % 1000:03d}-{i}.jpg") for i in range(235)]
    rows += [(md5("hostile"), HOSTILE), (hashlib.md5(b"").hexdigest(), "ev/empty")]
    rows += [("not-a-digest", "ev/broken.bin")]
    manifest = root / "device.hashdeep"
    manifest.write_text(
        "%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
        + "".join(f"{20 + i},{digest},{path}\n" for i, (digest, path) in enumerate(rows))
    )
    settings = Settings(home=root / "home", operator="examiner-7", database_url="memory://")
    with Service(settings) as service:
        service.add_list("concern-list", Purpose.CONCERN)
        service.ingest("concern-list", root / "concern.parquet")
        service.add_list("benign-list", Purpose.BENIGN)
        service.ingest("benign-list", root / "benign.md5sum")
        result = service.check([manifest], case_ref="CASE-HTML-1")
    assert result.verdicts.num_rows == 250
    path = root / "report.html"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_html(handle, result.header, result.verdicts)
    return path, result


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not SELENIUM:
        _unavailable("selenium is not installed")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            _unavailable(f"{binary} is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=options)
    except WebDriverException as exc:  # pragma: no cover - a broken browser install
        _unavailable(f"chromium did not start: {exc.msg}")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, report: tuple[Path, CheckResult]) -> WebDriver:
    """The report freshly opened, its table drawn."""
    browser.get(report[0].as_uri())
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#files-body tr"))
    browser.get_log("browser")  # start each test with an empty console
    return browser


def view(driver: WebDriver) -> dict[str, Any]:
    """What the per-file table shows now, read in one round trip."""
    script = """
        const rows = Array.from(document.querySelectorAll('#files-body tr'));
        return {
            status: document.getElementById('table-status').textContent,
            page: document.getElementById('page-info').textContent,
            rows: rows.length,
            first: rows.length ? rows[0].children[0].textContent : null,
            paths: rows.map(r => r.children[1].textContent),
            sizes: rows.map(r => r.children[2].textContent),
            verdicts: rows.map(r => r.getAttribute('data-verdict')),
        };
    """
    return dict(driver.execute_script(script))


def wait_for_status(driver: WebDriver, text: str) -> dict[str, Any]:
    """Wait for the table to show ``text`` as its status (filters wait for a typing pause)."""
    WebDriverWait(driver, 5, poll_frequency=0.05).until(
        lambda d: view(d)["status"] == text, message=f"status {text!r}"
    )
    return view(driver)


def type_filter(driver: WebDriver, text: str) -> None:
    """Replace the filter text as typing would, in one round trip."""
    driver.execute_script(
        "const box = document.getElementById('filter-text'); box.value = arguments[0];"
        "box.dispatchEvent(new Event('input', {bubbles: true}));",
        text,
    )


def test_the_summary_and_chart_show_the_counts(
    page: WebDriver, report: tuple[Path, CheckResult]
) -> None:
    counts = report[1].header.counts
    assert page.find_element(By.ID, "total-files").text == "250"
    assert page.find_element(By.ID, "review-queue").text == str(UNKNOWN_FILES)
    assert counts.review_queue == UNKNOWN_FILES
    table = page.find_element(By.ID, "by-verdict")
    assert table.is_displayed()
    cells = page.execute_script(
        "return Array.from(arguments[0].querySelectorAll('tbody tr'))"
        ".map(r => Array.from(r.children).map(c => c.innerText));",
        table,
    )
    assert {row[0]: row[2:] for row in cells} == {
        v: [str(c.total), str(c.unique)] for v, c in counts.by_verdict.items()
    }
    assert REPORT_REMOVE_TEXT in page.find_element(By.ID, "by-flag").text
    chart = page.find_element(By.ID, "verdict-chart")
    assert chart.is_displayed()
    assert chart.size["width"] > 300
    bars = page.execute_script(
        "return Array.from(arguments[0].querySelectorAll('g.bar')).map(b => ["
        "b.getAttribute('data-verdict'), b.querySelector('text.value').textContent,"
        "b.querySelector('rect').getBoundingClientRect().width]);",
        chart,
    )
    assert {verdict: text for verdict, text, _ in bars} == {
        "known": "7 files (7 unique)",
        "known_benign": "5 files (5 unique)",
        "unknown": f"{UNKNOWN_FILES} files ({UNKNOWN_FILES} unique)",
        "not_assessable": "1 file (1 unique)",
        "invalid": "1 file (1 unique)",
    }
    widths = {verdict: width for verdict, _, width in bars}
    assert widths["unknown"] > widths["known"] > widths["invalid"] > 0


def test_the_table_shows_a_page_at_a_time(page: WebDriver) -> None:
    shown = view(page)
    assert shown["rows"] == 100
    assert shown["status"] == "Showing files 1–100 of 250."
    assert shown["page"] == "Page 1 of 3"
    assert shown["first"] == "device.hashdeepline 3"
    assert shown["paths"][:2] == ["ev/removal-request.jpg", "ev/selfie.jpg"]
    assert page.find_element(By.ID, "page-prev").get_attribute("disabled") is not None
    page.find_element(By.ID, "page-next").click()
    shown = view(page)
    assert (shown["status"], shown["page"]) == ("Showing files 101–200 of 250.", "Page 2 of 3")
    page.find_element(By.ID, "page-last").click()
    shown = view(page)
    assert (shown["status"], shown["rows"]) == ("Showing files 201–250 of 250.", 50)
    assert shown["paths"][-1] == "ev/broken.bin"
    assert page.find_element(By.ID, "page-next").get_attribute("disabled") is not None
    page.find_element(By.ID, "page-prev").click()
    assert view(page)["status"] == "Showing files 101–200 of 250."
    page.find_element(By.ID, "page-first").click()
    assert view(page)["status"] == "Showing files 1–100 of 250."
    Select(page.find_element(By.ID, "page-size")).select_by_value("250")
    shown = view(page)
    assert (shown["status"], shown["rows"]) == ("Showing files 1–250 of 250.", 250)


def test_clicking_a_heading_sorts_every_row(
    page: WebDriver, report: tuple[Path, CheckResult]
) -> None:
    paths = sorted(report[1].verdicts.column("path").to_pylist())
    heading = page.find_element(By.CSS_SELECTOR, "th[data-key=path]")
    heading.find_element(By.TAG_NAME, "button").click()
    assert heading.get_attribute("aria-sort") == "ascending"
    assert view(page)["paths"] == paths[:100]
    heading.find_element(By.TAG_NAME, "button").click()
    assert heading.get_attribute("aria-sort") == "descending"
    assert view(page)["paths"] == paths[::-1][:100]
    # sizes sort as numbers, not as text
    page.find_element(By.CSS_SELECTOR, "th[data-key=size] button").click()
    sizes = [int(s.replace(",", "")) for s in view(page)["sizes"]]
    assert sizes == sorted(sizes)
    assert (sizes[0], sizes[-1]) == (20, 119)


def test_the_filters_narrow_the_rows(page: WebDriver) -> None:
    page.find_element(By.ID, "filter-text").send_keys("LIB/")
    shown = wait_for_status(page, "Showing files 1–5 of 5 that match (of 250 in all).")
    assert shown["paths"] == [f"ev/lib/lib{i}.so" for i in range(5)]
    # digests and the sources' labels are searched too
    type_filter(page, md5("k3").upper())
    shown = wait_for_status(page, "Showing files 1–1 of 1 that match (of 250 in all).")
    assert shown["paths"] == ["ev/known-3.jpg"]
    type_filter(page, "distributed: true")
    wait_for_status(page, "Showing files 1–5 of 5 that match (of 250 in all).")
    # the hostile name is found, and shown as the text it is
    type_filter(page, "</script>")
    shown = wait_for_status(page, "Showing files 1–1 of 1 that match (of 250 in all).")
    assert shown["paths"] == [HOSTILE]
    type_filter(page, "")
    wait_for_status(page, "Showing files 1–100 of 250.")
    Select(page.find_element(By.ID, "filter-verdict")).select_by_value("known")
    shown = wait_for_status(page, "Showing files 1–7 of 7 that match (of 250 in all).")
    assert shown["verdicts"] == ["known"] * 7
    # both filters apply together
    type_filter(page, "known-")
    wait_for_status(page, "Showing files 1–5 of 5 that match (of 250 in all).")
    Select(page.find_element(By.ID, "filter-verdict")).select_by_value("unknown")
    shown = wait_for_status(page, "Showing files 0 of 0 that match (of 250 in all).")
    assert shown["page"] == "Page 1 of 1"


def test_report_remove_and_self_generated_are_marked_not_leads(page: WebDriver) -> None:
    rows = page.find_elements(By.CSS_SELECTOR, "#files-body tr[data-verdict=known]")
    by_path = {row.find_elements(By.TAG_NAME, "td")[1].text: row for row in rows}
    removal = by_path["ev/removal-request.jpg"]
    assert removal.get_attribute("class") == "marked"
    assert REPORT_REMOVE_TEXT in removal.text
    assert removal.find_element(By.CSS_SELECTOR, ".match.marked .badge").text == "Report Remove"
    selfie = by_path["ev/selfie.jpg"]
    assert selfie.get_attribute("class") == "marked"
    assert selfie.find_element(By.CSS_SELECTOR, ".badge").text == "self-generated"
    lead = by_path["ev/known-0.jpg"]
    assert lead.get_attribute("class") == "lead"
    # a marked row is not drawn in the colours of a lead
    style = (
        "return [getComputedStyle(arguments[0].querySelector('.verdict')).color,"
        " getComputedStyle(arguments[0].children[0]).borderLeftColor];"
    )
    marked_colours = page.execute_script(style, removal)
    lead_colours = page.execute_script(style, lead)
    assert marked_colours[0] != lead_colours[0]
    assert marked_colours[1] != lead_colours[1]
    labels = lead.find_element(By.CSS_SELECTOR, ".labels").text
    assert "category: A" in labels
    assert "scheme: uk" in labels


def test_no_script_error_and_no_request(page: WebDriver) -> None:
    # use the page a little, then read the console
    page.find_element(By.CSS_SELECTOR, "th[data-key=verdict] button").click()
    page.find_element(By.ID, "page-next").click()
    type_filter(page, "photos")
    wait_for_status(page, f"Showing files 1–100 of {UNKNOWN_FILES - 1} that match (of 250 in all).")
    errors = [e for e in page.get_log("browser") if e["level"] in {"SEVERE", "WARNING"}]
    assert errors == []
    assert page.execute_script("return performance.getEntriesByType('resource').length;") == 0
    requested = []
    for entry in page.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert all(url.startswith("file://") for url in requested), requested
    # the page's policy really forbids a fetch: a picture from elsewhere is refused unsent
    violation = page.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        document.addEventListener('securitypolicyviolation',
            e => done({directive: e.effectiveDirective, blocked: e.blockedURI}), {once: true});
        const img = document.createElement('img');
        img.src = 'http://127.0.0.1:9/x.png';
        document.body.appendChild(img);
        """
    )
    assert violation["directive"] == "img-src"
    blocked = {}
    for entry in page.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.loadingFailed":
            blocked[message["params"]["requestId"]] = message["params"].get("blockedReason")
    assert list(blocked.values()) == ["csp"]
