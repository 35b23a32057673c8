"""hashmatch.reports._html: the self-contained HTML report, read back with an HTML parser.

Reports come from the real service (in-memory catalog) over a concern list whose labels
carry Report Remove and self-generated flags (a hashmatch entries file, read by the bundle
adapter), a benign list, and a manifest of hostile file names. What the script draws in a
browser is checked in tests/integration/test_integration_html_chromium.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hashmatch.config import Settings
from hashmatch.match.matcher import VERDICT_SCHEMA
from hashmatch.model import Purpose
from hashmatch.records import ENTRY_SCHEMA, encode_labels
from hashmatch.reports import MAPPING_NOTE, STATEMENT, Count, ReportHeader, ReportInput, _html
from hashmatch.reports._html import CONTENT_SECURITY_POLICY, write_html
from hashmatch.service import CheckResult, Service

REPORT_REMOVE_TEXT = (
    "Report Remove: a child asked for this image to be removed — not a lead against that child"
)
HOSTILE_PATHS = (
    "</script><script>alert(1)</script>.jpg",
    "<img src=x onerror=alert(2)>.jpg",
    "a & b \"quoted\" 'single' <!-- c.jpg",
)
HOSTILE_CASE = 'CASE <b>1</b> & "x" </title><script>alert(3)</script>'
HOSTILE_OPERATOR = "examiner <i>7</i> &amp;"
HOSTILE_SERIES = "</script><svg onload=alert(4)>"


def digest(algorithm: str, name: str) -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{name}".encode()).hexdigest()


# -- a small DOM, enough to read the report back -------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def words(self) -> str:
        """The text with runs of white space as one space."""
        return " ".join(self.text.split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in attrs.items())
        ]

    def by_id(self, ident: str) -> Node:
        (found,) = [n for n in self.walk() if n.attrs.get("id") == ident]
        return found

    def rows(self) -> list[list[str]]:
        """A table's body rows, each as the words of its cells."""
        return [
            [cell.words() for cell in tr.children if isinstance(cell, Node)]
            for body in self.find_all("tbody")
            for tr in body.find_all("tr")
        ]


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.start_tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.start_tags.append((tag, node.attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        assert tag in [n.tag for n in self.stack], f"</{tag}> closes nothing"
        while self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass
class Page:
    html: str
    root: Node
    start_tags: list[tuple[str, dict[str, str]]]

    def json(self, ident: str) -> Any:
        return json.loads(self.root.by_id(ident).text)


def parse(html: str) -> Page:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    assert [n.tag for n in parser.stack] == ["#document"], "an element was left open"
    return Page(html=html, root=parser.root, start_tags=parser.start_tags)


def render(header: ReportHeader, table: pa.Table) -> Page:
    handle = io.StringIO()
    write_html(handle, header, table)
    return parse(handle.getvalue())


def decoded_rows(page: Page) -> list[dict[str, Any]]:
    """The rows the page's JSON holds, as VERDICT_SCHEMA rows with ``matches`` parsed."""
    data = page.json("rows")
    columns = data["columns"]
    out = []
    for i in range(len(columns["line"])):
        row = {name: columns[name][i] for name in VERDICT_SCHEMA.names}
        row["verdict"] = data["verdicts"][row["verdict"]]
        m = row["matches"]
        row["matches"] = None if m is None else data["match_sets"][m]
        out.append(row)
    return out


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for row in rows:
        row["matches"] = None if row["matches"] is None else json.loads(row["matches"])
    return rows


# -- reports from the real service ----------------------------------------------------------


def write_entries(path: Path, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """A hashmatch entries file: md5 of ``synthetic-fixture-<name>`` with ``labels``."""
    records = [
        {"line": i + 1, "md5": bytes.fromhex(digest("md5", name)), "labels": encode_labels(labels)}
        for i, (name, labels) in enumerate(rows)
    ]
    columns = {f.name: [r.get(f.name) for r in records] for f in ENTRY_SCHEMA}
    pq.write_table(pa.Table.from_pydict(columns, schema=ENTRY_SCHEMA), path)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    concern = tmp_path / "concern.parquet"
    write_entries(
        concern,
        [
            ("rr", {"scheme": "uk", "category": "C", "report_remove": True}),
            ("sg", {"scheme": "uk", "category": "B", "self_generated": True}),
            ("001", {"scheme": "uk", "category": "A", "series": HOSTILE_SERIES}),
            ("ncmec", {"scheme": "ncmec", "category": "A1", "victim_identified": True}),
        ],
    )
    benign = tmp_path / "benign.md5sum"
    benign.write_text(f"{digest('md5', 'lib')}  lib.so\n{digest('md5', '001')}  x.bin\n")
    settings = Settings(home=tmp_path / "home", operator="tester", database_url="memory://")
    with Service(settings) as service:
        service.add_list("concern-list", Purpose.CONCERN)
        service.ingest("concern-list", concern)
        service.add_list("benign-list", Purpose.BENIGN)
        service.ingest("benign-list", benign)
        yield service


def manifest(tmp_path: Path, rows: list[tuple[str, str]], name: str = "case.hashdeep") -> Path:
    """A hashdeep manifest of (md5, path) rows."""
    path = tmp_path / name
    body = "".join(f"21,{md5},{file}\n" for md5, file in rows)
    path.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n" + body, "utf-8")
    return path


CASE_ROWS = [
    (digest("md5", "rr"), "/e/report-remove.jpg"),
    (digest("md5", "rr"), "/e/report-remove copy.jpg"),
    (digest("md5", "sg"), "/e/self-generated.jpg"),
    (digest("md5", "001"), "/e/known.jpg"),
    (digest("md5", "001"), "/e/copy of known.jpg"),
    (digest("md5", "001"), "/e/another copy.jpg"),
    (digest("md5", "ncmec"), "/e/graded.jpg"),
    (digest("md5", "lib"), "/e/lib.so"),
    (digest("md5", "nowhere-1"), HOSTILE_PATHS[0]),
    (digest("md5", "nowhere-2"), HOSTILE_PATHS[1]),
    (digest("md5", "nowhere-3"), HOSTILE_PATHS[2]),
    (hashlib.md5(b"").hexdigest(), "/e/empty"),
    ("XYZ", "/e/bad.jpg"),
]


def check(service: Service, tmp_path: Path, **options: Any) -> CheckResult:
    path = manifest(tmp_path, CASE_ROWS, name="case<b>&.hashdeep")
    return service.check([path], case_ref=HOSTILE_CASE, operator=HOSTILE_OPERATOR, **options)


@pytest.fixture
def result(service: Service, tmp_path: Path) -> CheckResult:
    return check(service, tmp_path)


@pytest.fixture
def page(result: CheckResult) -> Page:
    return render(result.header, result.verdicts)


# -- structure ------------------------------------------------------------------------------


def test_sections_come_in_reading_order(page: Page) -> None:
    order = [attrs.get("id") for tag, attrs in page.start_tags if tag == "section"]
    assert order == ["statement", "summary", "warnings", "perceptual", "files", "record"]
    title = page.root.find_all("title")[0].text
    assert title == f"hashmatch report: case {HOSTILE_CASE}"
    assert page.root.by_id("title").words() == " ".join(title.split())


def test_the_statement_is_shown_whole(page: Page) -> None:
    shown = [p.words() for p in page.root.by_id("statement").find_all("p")]
    assert shown == [" ".join(sentence.split()) for sentence in STATEMENT]


def test_nothing_outside_the_statement_calls_a_file_clean_or_new(page: Page) -> None:
    body = page.root.find_all("body")[0]
    text = " ".join(node.words() for node in body.children if isinstance(node, Node)).lower()
    text = text.replace(page.root.by_id("statement").words().lower(), "")
    for word in ("clean", "first generation", "first-generation"):
        assert word not in text, word


def test_summary_counts_are_the_run_counts(result: CheckResult, page: Page) -> None:
    counts = result.header.counts
    by_verdict = page.root.by_id("by-verdict").rows()
    assert {row[0]: (row[2], row[3]) for row in by_verdict} == {
        verdict: (str(c.total), str(c.unique)) for verdict, c in counts.by_verdict.items()
    }
    assert {row[0]: row[2] for row in by_verdict} == {
        "known": "7",
        "known_benign": "1",
        "unknown": "3",
        "not_assessable": "1",
        "invalid": "1",
    }
    assert page.root.by_id("total-files").text == "13"
    assert page.root.by_id("review-queue").text == "3"
    assert {row[0]: row[2:] for row in page.root.by_id("by-list").rows()} == {
        "benign-list": ["4", "2"],
        "concern-list": ["7", "4"],
    }
    categories = page.root.by_id("by-category").rows()
    assert [(row[0].split()[0], row[1], row[2], row[3]) for row in categories] == [
        ("ncmec", "A1", "1", "1"),
        ("uk", "A", "3", "1"),
        ("uk", "B", "1", "1"),
        ("uk", "C", "2", "1"),
    ]
    flags = {row[0]: row[2:] for row in page.root.by_id("by-flag").rows()}
    assert flags == {
        "report_remove": ["2", "1"],
        "self_generated": ["1", "1"],
        "victim_identified": ["1", "1"],
    }
    # copies: three rows of one known file, two of another, are three beyond the first
    copies = {row[0]: row[1:] for row in page.root.by_id("copies").rows()}
    assert copies == {"all files": ["13", "10", "3"], "known files": ["7", "4", "3"]}
    top = page.root.by_id("top-copies").find_all("tr")[1:]
    assert [row.words() for row in top] == [
        f"md5 {digest('md5', '001')} 3",
        f"md5 {digest('md5', 'rr')} Report Remove {REPORT_REMOVE_TEXT} 2",
    ]
    # the Report Remove file is marked among the copies too
    assert [row.attrs.get("class") for row in top] == [None, "marked"]


def test_large_counts_are_grouped_for_reading(result: CheckResult) -> None:
    counts = dataclasses.replace(
        result.header.counts,
        by_verdict={
            **result.header.counts.by_verdict,
            "unknown": Count(total=1_234_567, unique=1_000_001),
        },
        review_queue=1_234_567,
    )
    page = render(dataclasses.replace(result.header, counts=counts), result.verdicts)
    assert page.root.by_id("review-queue").text == "1,234,567"
    unknown = [r for r in page.root.by_id("by-verdict").rows() if r[0] == "unknown"]
    assert unknown[0][2:] == ["1,234,567", "1,000,001"]


def test_the_chart_draws_every_verdict_with_its_number(result: CheckResult, page: Page) -> None:
    svg = page.root.by_id("verdict-chart")
    assert svg.tag == "svg"
    assert svg.attrs["role"] == "img"
    assert svg.attrs["aria-labelledby"] == "chart-title chart-desc"
    assert page.root.by_id("chart-title").text == "Files by verdict"
    desc = page.root.by_id("chart-desc").words()
    bars = svg.find_all("g", **{"class": "bar"})
    counts = result.header.counts.by_verdict
    assert [b.attrs["data-verdict"] for b in bars] == list(counts)
    widths = {}
    for bar in bars:
        count = counts[bar.attrs["data-verdict"]]
        assert bar.attrs["data-total"] == str(count.total)
        (value,) = bar.find_all("text", **{"class": "value"})
        noun = "file" if count.total == 1 else "files"
        assert value.text == f"{count.total} {noun} ({count.unique} unique)"
        assert f"{bar.attrs['data-verdict']} {count.total} {noun}" in desc
        widths[bar.attrs["data-verdict"]] = float(bar.find_all("rect")[0].attrs["width"])
    # drawn to scale: the longest bar is the largest count
    assert max(widths, key=lambda v: widths[v]) == "known"
    assert widths["unknown"] == pytest.approx(widths["known"] * 3 / 7, abs=0.2)


def test_the_page_can_fetch_nothing(page: Page) -> None:
    metas = [a for t, a in page.start_tags if t == "meta" and a.get("http-equiv")]
    assert metas == [{"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY}]
    assert CONTENT_SECURITY_POLICY.startswith(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    )
    # no URL of any kind: not in an attribute, not in the CSS, not in the text
    assert not re.search(r"https?:|ftp:|file:|url\(|@import", page.html, re.IGNORECASE)
    for tag, attrs in page.start_tags:
        assert tag not in {"link", "img", "iframe", "object", "embed", "audio", "video", "base"}
        for name in ("src", "href", "action", "srcset", "poster", "data", "xlink:href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith("#"), (tag, name, value)
        if tag == "script":
            assert "src" not in attrs
    assert page.root.by_id("noscript-note") is not None
    noscript = page.root.find_all("noscript")[0].words()
    for words in ("needs JavaScript", "JSON", "CSV"):
        assert words in noscript
    # without a script, the empty table and its controls stay hidden
    assert "hidden" in page.root.by_id("files-ui").attrs
    assert page.root.by_id("files-body") in page.root.by_id("files-ui").walk()


def test_hostile_names_stay_text(result: CheckResult, page: Page) -> None:
    # nothing broke out: the page has exactly its own three scripts and no other element
    scripts = [attrs for tag, attrs in page.start_tags if tag == "script"]
    assert scripts == [
        {"type": "application/json", "id": "report-config"},
        {"type": "application/json", "id": "rows"},
        {},
    ]
    assert not [t for t, _ in page.start_tags if t in {"img", "b", "i"}]
    assert len([t for t, _ in page.start_tags if t == "svg"]) == 1
    for raw in ("<script>alert", "<img src=x", "<b>1</b>", "<i>7</i>", "<svg onload"):
        assert raw not in page.html
    record = {row[0]: row[1] for row in page.root.by_id("run-record").rows()}
    assert record["Case reference"] == " ".join(HOSTILE_CASE.split())
    assert record["Operator"] == HOSTILE_OPERATOR
    assert page.root.by_id("inputs").rows()[0][1] == "case<b>&.hashdeep"
    # the JSON gives the names back exactly, though the page holds none of them raw
    paths = [row["path"] for row in decoded_rows(page)]
    assert [p for p in paths if p in HOSTILE_PATHS] == list(HOSTILE_PATHS)
    labels = [m["labels"] for row in decoded_rows(page) for m in row["matches"] or []]
    assert {"scheme": "uk", "category": "A", "series": HOSTILE_SERIES} in labels
    rows_text = page.root.by_id("rows").text
    for character in "<>&":
        assert character not in rows_text


def test_report_remove_and_self_generated_are_marked(page: Page) -> None:
    by_flag = {
        row.attrs["data-flag"]: row
        for row in page.root.by_id("by-flag").find_all("tr")
        if "data-flag" in row.attrs
    }
    assert by_flag["report_remove"].attrs.get("class") == "marked"
    assert REPORT_REMOVE_TEXT in by_flag["report_remove"].words()
    assert by_flag["self_generated"].attrs.get("class") == "marked"
    assert "self-generated" in by_flag["self_generated"].words()
    assert "class" not in by_flag["victim_identified"].attrs
    # what the script marks each such match with, and the labels it looks for
    config = page.json("report-config")
    assert config["marks"] == [
        {"flag": "report_remove", "badge": "Report Remove", "text": REPORT_REMOVE_TEXT},
        {
            "flag": "self_generated",
            "badge": "self-generated",
            "text": _html.MARKED_FLAGS["self_generated"][1],
        },
    ]
    rows = {row["path"]: row for row in decoded_rows(page)}
    assert rows["/e/report-remove.jpg"]["matches"][0]["labels"]["report_remove"] is True
    assert rows["/e/self-generated.jpg"]["matches"][0]["labels"]["self_generated"] is True
    # the intro of the table says what the marks mean
    assert "are not leads against the child shown" in page.root.by_id("files").words()


def test_the_rows_json_is_the_verdict_table(result: CheckResult, page: Page) -> None:
    assert decoded_rows(page) == table_rows(result.verdicts)
    data = page.json("rows")
    assert data["verdicts"] == ["known", "known_benign", "unknown", "not_assessable", "invalid"]
    # each distinct set of matches is held once
    assert len(data["match_sets"]) == len({json.dumps(s) for s in data["match_sets"]})


def test_rows_stream_across_chunks(result: CheckResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_html, "_CHUNK", 3)
    table = pa.Table.from_batches(result.verdicts.to_batches(max_chunksize=5))
    assert table.column("path").num_chunks > 1
    assert decoded_rows(render(result.header, table)) == table_rows(result.verdicts)


def test_the_run_record_names_every_input_and_list(result: CheckResult, page: Page) -> None:
    run = result.header.run
    record = {row[0]: row[1] for row in page.root.by_id("run-record").rows()}
    assert record["Run id"] == run.run_id
    assert record["Tool"] == f"hashmatch {run.tool.version}"
    assert record["Digest algorithms"] == "md5, sha1, sha256"
    assert record["Started (UTC)"] == run.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["Finished (UTC)"].startswith(run.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert run.snapshot_id in record["Snapshot of the lists"]
    (inputs,) = page.root.by_id("inputs").rows()
    assert inputs == ["0", run.inputs[0].name, "hashdeep", "13", run.inputs[0].sha256]
    lists = page.root.by_id("lists").rows()
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in lists] == [
        (
            item.name,
            str(item.version),
            item.purpose,
            item.source_name,
            item.source_sha256,
            item.loaded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "unsigned",
            str(item.entries),
        )
        for item in run.lists
    ]
    notes = page.root.by_id("record").words()
    for item in run.lists:
        assert item.version_id in notes


@dataclass(frozen=True, slots=True, kw_only=True)
class InputWithOrigin:
    """A ReportInput as the lead may extend it, with where the manifest came from."""

    name: str
    sha256: str
    format: str
    rows: int
    origin: str | None


def test_an_input_origin_is_shown_when_the_record_has_one(result: CheckResult) -> None:
    plain = render(result.header, result.verdicts)
    assert "Origin" not in [c.words() for c in plain.root.by_id("inputs").find_all("th")]
    item: ReportInput = result.header.run.inputs[0]
    extended = InputWithOrigin(
        name=item.name,
        sha256=item.sha256,
        format=item.format,
        rows=item.rows,
        origin="hashed by <hashdeep> on exhibit JB/1",
    )
    run = dataclasses.replace(result.header.run, inputs=[extended])  # type: ignore[list-item]
    page = render(dataclasses.replace(result.header, run=run), result.verdicts)
    assert page.root.by_id("inputs").rows()[0][-1] == "hashed by <hashdeep> on exhibit JB/1"


def test_warnings_are_listed(result: CheckResult) -> None:
    page = render(result.header, result.verdicts)
    assert page.root.by_id("warnings").find_all("li") == []
    warning = "list concern-list version 1 is stale: <loaded> 400 days ago"
    header = dataclasses.replace(result.header, warnings=[warning])
    page = render(header, result.verdicts)
    assert [li.text for li in page.root.by_id("warnings").find_all("li")] == [warning]


def test_mapped_categories_show_with_the_mapping_note(service: Service, tmp_path: Path) -> None:
    result = check(service, tmp_path, map_to="uk")
    page = render(result.header, result.verdicts)
    assert page.root.by_id("mapping-note").words() == " ".join(MAPPING_NOTE.split())
    mapped = {(r[0], r[1]): r[2:] for r in page.root.by_id("by-mapped").rows()}
    assert mapped[("uk", "A|B")] == ["1", "1"]  # ncmec A1, as ncmec-to-uk suggests it
    crosswalks = [r[0] for r in page.root.by_id("crosswalks").rows()]
    assert "ncmec-to-uk" in crosswalks
    rows = {row["path"]: row for row in decoded_rows(page)}
    (graded,) = rows["/e/graded.jpg"]["matches"]
    assert graded["labels"]["category"] == "A1"  # the original stays beside the suggestion
    assert graded["mapped"]["category"] == ["A", "B"]
    # a run without --map-to has no mapping section
    plain = render(check(service, tmp_path).header, result.verdicts)
    assert not plain.root.find_all(id="by-mapped")
    assert not plain.root.find_all(id="mapping-note")


def test_an_empty_run_renders(result: CheckResult) -> None:
    page = render(result.header, VERDICT_SCHEMA.empty_table())
    assert decoded_rows(page) == []
    assert page.json("rows")["match_sets"] == []
    assert "No digest occurs on more than one row." in page.root.by_id("summary").words()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(paths=st.lists(st.text(max_size=40), min_size=1, max_size=12))
@example(paths=["</script>", "<!--", "<script>", "\u2028\u2029", "&lt;", "]]>", "\x00"])
@example(paths=["</SCRIPT >", "<!-- <script>", "\ufeffBOM", "a\r\nb"])
def test_any_path_round_trips_and_stays_text(result: CheckResult, paths: list[str]) -> None:
    table = result.verdicts.slice(0, len(paths))
    table = table.set_column(
        table.schema.get_field_index("path"), "path", pa.array(paths[: table.num_rows], pa.string())
    )
    page = render(result.header, table)
    assert [row["path"] for row in decoded_rows(page)] == paths[: table.num_rows]
    assert [t for t, _ in page.start_tags if t == "script"] == ["script"] * 3
