"""Perceptual matching end to end: the test vendor, through the service and the CLI.

Issue 6's done-means: a check with the test vendor shows perceptual results beside the
exact verdicts (JSON, HTML and CSV reports, and the audit trail), and with no vendor
everything else is unchanged. The list is an NCMEC XML file whose entries carry
``<test-simhash>`` fingerprints (the ncmec-xml adapter keeps them as ``perceptual`` labels);
the files are synthetic text, one a near-copy of the listed one (three bytes changed, so
every exact digest differs). The test vendor is not an image hash: see its module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from hashmatch_adapters.testvendor import TestVendor, simhash
from typer.testing import CliRunner

from hashmatch.cli import ExitCode, app
from hashmatch.config import Settings
from hashmatch.errors import ConfigurationError, InputError, NotLicensed, VendorError
from hashmatch.model import Purpose
from hashmatch.perceptual import LICENCE_FILE, PerceptualVendor, VendorLicence
from hashmatch.registry import AdapterRegistry
from hashmatch.reports import NO_PERCEPTUAL, PERCEPTUAL_NOTE, read_report_header
from hashmatch.service import CheckResult, Service

KEY = "synthetic-licence-key-91b2e"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def synthetic_text(seed: str, lines: int = 60) -> bytes:
    return "".join(
        f"synthetic-fixture-{seed} line {i:03d}: words for the test vendor\n" for i in range(lines)
    ).encode()


ORIGINAL = synthetic_text("perceptual-001")
NEAR = ORIGINAL[:700] + b"XYZ" + ORIGINAL[703:]
OTHER = "".join(
    hashlib.sha256(f"synthetic-fixture-unrelated-{i:03d}".encode()).hexdigest() + "\n"
    for i in range(60)
).encode()
MISSING = synthetic_text("missing-003")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass(frozen=True)
class Case:
    root: Path
    files: Path
    manifest: Path
    licences: Path
    list_file: Path
    home: Path


def ncmec_list(path: Path) -> None:
    """The listed original (md5 + its test-simhash) and an entry with only other kinds."""
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="2" maxTimestamp="2024-03-02T00:00:00Z">
    <image>
      <member id="9001">Synthetic ESP</member>
      <timestamp>2024-03-01T12:00:00Z</timestamp>
      <id>syn-img-1</id>
      <classification>B2</classification>
      <fingerprints><md5>{md5(ORIGINAL)}</md5><test-simhash>{simhash(ORIGINAL)}</test-simhash></fingerprints>
    </image>
    <image>
      <member id="9001">Synthetic ESP</member>
      <timestamp>2024-03-01T12:00:01Z</timestamp>
      <id>syn-img-2</id>
      <classification>A2</classification>
      <fingerprints><md5>{md5(b"synthetic-fixture-pdq-only")}</md5>
        <pdq>{"0" * 64}</pdq></fingerprints>
    </image>
  </images>
</queryResult>
""",
        "utf-8",
    )


@pytest.fixture
def case(tmp_path: Path) -> Case:
    files = tmp_path / "exhibit"
    files.mkdir()
    for name, data in (
        ("original.txt", ORIGINAL),
        ("near.txt", NEAR),
        ("other.txt", OTHER),
        ("empty.txt", b""),
    ):
        (files / name).write_bytes(data)
    manifest = tmp_path / "device.md5"
    manifest.write_text(
        f"{md5(ORIGINAL)}  original.txt\n"
        f"{md5(NEAR)}  near.txt\n"
        f"{md5(OTHER)}  other.txt\n"
        f"{md5(b'')}  empty.txt\n"
        f"{md5(MISSING)}  missing.txt\n",
        "utf-8",
    )
    licences = tmp_path / "licences.toml"
    licences.write_text(f'[test-vendor]\nkey = "{KEY}"\nmax_distance = 8\n', "utf-8")
    licences.chmod(0o600)
    list_file = tmp_path / "ncmec.xml"
    ncmec_list(list_file)
    return Case(
        root=tmp_path,
        files=files,
        manifest=manifest,
        licences=licences,
        list_file=list_file,
        home=tmp_path / "home",
    )


def open_service(
    case: Case, registry: AdapterRegistry | None = None, **settings: object
) -> Service:
    chosen = Settings(
        home=case.home, operator="examiner-7", perceptual_licences=case.licences, **settings
    )
    return Service(chosen, registry=registry)


@pytest.fixture
def service(case: Case) -> Iterator[Service]:
    with open_service(case) as opened:
        opened.add_list("ncmec-list", Purpose.CONCERN)
        opened.ingest("ncmec-list", case.list_file)
        yield opened


def verdicts(result: CheckResult) -> list[tuple[int, str, str | None]]:
    return [(r["line"], r["verdict"], r["reason"]) for r in result.verdicts.to_pylist()]


EXPECTED_VERDICTS = [
    (1, "known", None),
    (2, "unknown", None),
    (3, "unknown", None),
    (
        4,
        "not_assessable",
        "zero-length file digest: it matches nothing, so the file cannot be assessed",
    ),
    (5, "unknown", None),
]


def tree(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``folder``: its bytes, modification time and mode."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- the done-means ---------------------------------------------------------------------------


def test_a_check_shows_the_similar_entry_beside_the_exact_verdict(
    service: Service, case: Case
) -> None:
    before = tree(case.files)
    reports = {ext: case.root / f"run.{ext}" for ext in ("json", "html", "csv")}
    results = [
        service.check(
            [case.manifest],
            case_ref="CASE-P1",
            report=path,
            perceptual="test-vendor",
            files_root=case.files,
        )
        for path in reports.values()
    ]
    assert tree(case.files) == before, "the evidence is untouched"
    assert sorted(p.name for p in case.files.iterdir()) == sorted(before)
    result = results[0]
    assert verdicts(result) == EXPECTED_VERDICTS

    # JSON: the section, with the one result beside the row's exact verdict
    report = json.loads(reports["json"].read_text("utf-8"))
    jsonschema.validate(report, json.loads((SCHEMAS / "report.schema.json").read_text("utf-8")))
    section = report["perceptual"]
    assert section["used"] is True
    assert (section["vendor"], section["vendor_version"], section["adapter_version"]) == (
        "test-vendor",
        "simhash-64/1",
        "1",
    )
    assert (section["fingerprint"], section["max_distance"], section["rows"]) == (
        "test-simhash",
        8.0,
        "unknown",
    )
    assert (section["considered"], section["hashed"], section["similar_files"]) == (3, 2, 1)
    assert section["not_hashed"] == {"file not available": 1}
    assert section["fingerprints_compared"] == 1, "the pdq-only entry is not read as one"
    assert section["note"] == list(PERCEPTUAL_NOTE)
    [similar] = section["results"]
    distance = TestVendor(VendorLicence(vendor="test-vendor", key=KEY)).distance(
        simhash(NEAR), simhash(ORIGINAL)
    )
    assert 0 < distance <= 8
    assert similar == {
        "input": 0,
        "line": 2,
        "path": "near.txt",
        "verdict": "unknown",
        "list": "ncmec-list",
        "list_version": 1,
        "vendor_list": False,
        "entry": "9001-syn-img-1",
        "distance": distance,
        "vendor": "test-vendor",
        "vendor_version": "simhash-64/1",
        "adapter_version": "1",
        "labels": similar["labels"],
        "text": f"similar to entry 9001-syn-img-1 of list ncmec-list version 1 at distance "
        f"{distance:g}, via vendor test-vendor version simhash-64/1",
    }
    assert similar["labels"]["category"] == "B2"
    assert similar["labels"]["perceptual"] == [f"test-simhash:{simhash(ORIGINAL)}"]
    # the row itself is as exact matching left it: unknown, no match
    row = next(r for r in report["rows"] if r["line"] == 2)
    assert (row["verdict"], row["matches"]) == ("unknown", [])
    assert read_report_header(reports["json"]).perceptual.results[0].entry == "9001-syn-img-1"

    # HTML: its own section, the verdict beside the similarity
    html = reports["html"].read_text("utf-8")
    start = html.index('<section id="perceptual"')
    part = html[start : html.index("</section>", start)]
    assert "Perceptual similarity: leads for review, not matches" in part
    assert 'data-line="2"' in part
    assert '<span class="verdict v-unknown">unknown</span>' in part
    assert similar["text"] in part
    assert NO_PERCEPTUAL not in html

    # CSV: the same in '#' lines; the columns of every row are those of any run
    csv_text = reports["csv"].read_text("utf-8")
    assert f"# perceptual: {section['summary']}\n" in csv_text
    assert f"# similar: input 0 line 2 near.txt [verdict unknown]: {similar['text']}\n" in csv_text
    assert "input,line,path,size,md5,sha1,sha256,verdict,reason,lists,matches," in csv_text

    # audit: the vendor, its version and counts; no path, no hash
    runs = [r for r in service.audit_records() if r.action == "run"]
    assert len(runs) == 3
    audited = runs[-1].details["perceptual"]
    assert audited == {
        "vendor": "test-vendor",
        "vendor_version": "simhash-64/1",
        "adapter_version": "1",
        "max_distance": 8.0,
        "rows": "unknown",
        "considered": 3,
        "hashed": 2,
        "not_hashed": 1,
        "similar_files": 1,
        "results": 1,
        "stopped": False,
    }
    trail = json.dumps([r.details for r in service.audit_records()])
    for secret in ("near.txt", simhash(NEAR), simhash(OTHER), KEY):
        assert secret not in trail


def test_without_a_vendor_the_verdicts_are_the_same_and_the_report_says_none_was_used(
    service: Service, case: Case
) -> None:
    with_vendor = service.check(
        [case.manifest], case_ref="CASE-P1", perceptual="test-vendor", files_root=case.files
    )
    reports = {ext: case.root / f"plain.{ext}" for ext in ("json", "html", "csv")}
    plain = [service.check([case.manifest], case_ref="CASE-P1", report=p) for p in reports.values()]
    assert verdicts(plain[0]) == verdicts(with_vendor) == EXPECTED_VERDICTS
    assert plain[0].verdicts.equals(with_vendor.verdicts)
    assert plain[0].header.counts == with_vendor.header.counts
    stored = service.catalog.verdicts
    assert stored(plain[0].run.run_id) == stored(with_vendor.run.run_id)
    assert plain[0].run.counts == with_vendor.run.counts

    report = json.loads(reports["json"].read_text("utf-8"))
    assert report["perceptual"]["used"] is False
    assert report["perceptual"]["summary"] == NO_PERCEPTUAL
    assert report["perceptual"]["results"] == []
    assert NO_PERCEPTUAL in reports["html"].read_text("utf-8")
    assert f"# perceptual: {NO_PERCEPTUAL}\n" in reports["csv"].read_text("utf-8")
    assert "perceptual" not in service.audit_records()[-3].details  # the plain run's record
    assert service.compare(reports["json"], reports["json"]).agree


def test_a_vendors_own_list_is_reported_as_its_list(service: Service, case: Case) -> None:
    own = case.root / "vendor-list.txt"
    own.write_text(f"vendor-entry-7 {simhash(OTHER)}\n", "utf-8")
    case.licences.write_text(f'[test-vendor]\nkey = "{KEY}"\nlist = "{own}"\n', "utf-8")
    result = service.check(
        [case.manifest], case_ref="CASE-P1", perceptual="test-vendor", files_root=case.files
    )
    texts = {(r.line, r.vendor_list): r.text for r in result.header.perceptual.results}
    assert texts[3, True] == (
        "similar to entry vendor-entry-7 of the vendor's list vendor-list at distance 0, "
        "via vendor test-vendor version simhash-64/1"
    )
    assert (2, False) in texts


# -- what is read, and what is not ----------------------------------------------------------


def test_rows_whose_files_are_not_to_be_read_are_counted_with_their_reason(
    service: Service, case: Case
) -> None:
    outside = case.root / "outside.txt"
    outside.write_bytes(OTHER)
    (case.files / "link.txt").symlink_to(case.files / "near.txt")
    manifest = case.root / "odd.md5"
    unknown = [md5(f"synthetic-fixture-odd-{i}".encode()) for i in range(5)]
    manifest.write_text(
        f"{unknown[0]}  ../outside.txt\n"
        f"{unknown[1]}  link.txt\n"
        f"{unknown[2]}  {case.files / 'near.txt'}\n"  # absolute: read where it is
        f"{unknown[3]}  .\n"
        f"{unknown[4]}  no-such-file.txt\n",
        "utf-8",
    )
    result = service.check(
        [manifest], case_ref="CASE-P2", perceptual="test-vendor", files_root=case.files
    )
    section = result.header.perceptual
    assert (section.considered, section.hashed) == (5, 1)
    assert section.not_hashed == {
        "file not available": 1,
        "not a regular file": 1,
        "path leads out of the folder of files": 1,
        "symbolic link: not followed": 1,
    }
    assert [r.line for r in section.results] == [3]
    relative = service.check([manifest], case_ref="CASE-P2", perceptual="test-vendor")
    assert relative.header.perceptual.not_hashed == {
        "relative path, and no folder of files given": 4
    }


def test_a_folder_of_files_without_a_vendor_is_refused(service: Service, case: Case) -> None:
    with pytest.raises(InputError, match="only read for perceptual matching"):
        service.check([case.manifest], case_ref="CASE-P1", files_root=case.files)
    with pytest.raises(InputError, match="not a folder"):
        service.check(
            [case.manifest],
            case_ref="CASE-P1",
            perceptual="test-vendor",
            files_root=case.root / "absent",
        )


class FailingVendor(PerceptualVendor):
    """Hashes one file, then its service fails."""

    NAME = "failing-vendor"
    DESCRIPTION = "a vendor whose service fails (tests)"
    FINGERPRINT = "test-simhash"
    DEFAULT_MAX_DISTANCE = 64.0

    def __init__(self, licence: VendorLicence) -> None:
        super().__init__(licence)
        self.calls = 0

    @property
    def version(self) -> str:
        return "failing/1"

    def compute(self, path: Path) -> str | None:
        self.calls += 1
        if self.calls > 1:
            raise VendorError("the service answered 503 five times")
        return simhash(path.read_bytes())

    def distance(self, a: str, b: str) -> float:
        return float((int(a, 16) ^ int(b, 16)).bit_count())


def test_a_vendor_failure_stops_only_the_perceptual_part(service: Service, case: Case) -> None:
    registry = AdapterRegistry.from_entry_points()
    registry.register(FailingVendor)
    case.licences.write_text(f'[failing-vendor]\nkey = "{KEY}"\n', "utf-8")
    report = case.root / "failing.html"
    with open_service(case, registry=registry) as failing:
        result = failing.check(
            [case.manifest],
            case_ref="CASE-P3",
            report=report,
            perceptual="failing-vendor",
            files_root=case.files,
        )
    assert verdicts(result) == EXPECTED_VERDICTS
    section = result.header.perceptual
    assert section.stopped == "the service answered 503 five times"
    assert section.not_hashed == {
        "file not available": 1,
        "not reached: the vendor failed before this file": 1,
    }
    assert section.summary.endswith(
        "The vendor's part stopped early: the service answered 503 five times."
    )
    assert 'id="perceptual-stopped"' in report.read_text("utf-8")


# -- licences ---------------------------------------------------------------------------------


def test_a_vendor_without_a_licence_is_refused_before_anything_is_recorded(
    case: Case,
) -> None:
    case.licences.unlink()
    with Service(Settings(home=case.home, operator="examiner-7")) as service:
        service.add_list("ncmec-list", Purpose.CONCERN)
        service.ingest("ncmec-list", case.list_file)
        default = case.home / LICENCE_FILE
        with pytest.raises(NotLicensed) as caught:
            service.check([case.manifest], case_ref="CASE-P4", perceptual="test-vendor")
        message = caught.value.render()
        assert f"the licence file {default} does not exist" in message
        assert '[test-vendor] table in it with key = "<your licence key>"' in message
        assert f"chmod 600 {default}" in message
        assert "HASHMATCH_PERCEPTUAL_LICENCES" in message
        default.write_text('[test-vendor]\nkey = ""\n', "utf-8")
        default.chmod(0o600)
        with pytest.raises(NotLicensed, match="has no key"):
            service.check([case.manifest], case_ref="CASE-P4", perceptual="test-vendor")
        default.write_text('[photodna-cloud]\nkey = "x"\n', "utf-8")
        with pytest.raises(NotLicensed, match="has no table for it"):
            service.check([case.manifest], case_ref="CASE-P4", perceptual="test-vendor")
        manifest = case.root / "scan.hashdeep"
        with pytest.raises(NotLicensed):
            service.scan(
                case.files, case_ref="CASE-P4", manifest=manifest, perceptual="test-vendor"
            )
        assert not manifest.exists(), "refused before anything was hashed"
        with pytest.raises(ConfigurationError, match="unknown perceptual vendor 'nobody'"):
            service.check([case.manifest], case_ref="CASE-P4", perceptual="nobody")
        assert service.runs() == []
        # the default licence file, once it licenses the vendor, is used
        default.write_text(f'[test-vendor]\nkey = "{KEY}"\n', "utf-8")
        result = service.check(
            [case.manifest], case_ref="CASE-P4", perceptual="test-vendor", files_root=case.files
        )
        assert result.header.perceptual.similar_files == 1
        assert [v.name for v in service.perceptual_vendors() if v.licensed] == ["test-vendor"]


def test_a_licence_file_others_can_read_is_refused(service: Service, case: Case) -> None:
    case.licences.chmod(0o644)
    with pytest.raises(ConfigurationError, match=f"chmod 600 {case.licences}"):
        service.check([case.manifest], case_ref="CASE-P5", perceptual="test-vendor")
    assert service.runs() == []


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def run(case: Case, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(case.root)
    monkeypatch.setenv("HASHMATCH_HOME", str(case.home))
    monkeypatch.setenv("HASHMATCH_OPERATOR", "examiner-7")
    monkeypatch.setenv("HASHMATCH_PERCEPTUAL_LICENCES", str(case.licences))
    runner = CliRunner()
    outputs: list[str] = []

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, output
        outputs.append(output)
        return output

    invoke.outputs = outputs  # type: ignore[attr-defined]
    return invoke


def test_check_and_scan_on_the_command_line(run, case: Case) -> None:
    run("lists", "add", "ncmec-list", "--purpose", "concern")
    run("ingest", "ncmec-list", str(case.list_file))
    listed = run("vendors")
    assert "test-vendor" in listed
    assert "NOT an image hash" in " ".join(listed.split())
    out = run(
        "check",
        str(case.manifest),
        "--case",
        "CASE-P6",
        "--perceptual",
        "test-vendor",
        "--files",
        str(case.files),
        "--report",
        "run.json",
    )
    words = " ".join(out.split())
    assert (
        "perceptual via test-vendor simhash-64/1 (distance at most 8): 2 of 3 unknown files "
        "hashed, 1 not; 1 with similar entries (leads for review, not matches; verdicts "
        "unchanged)"
    ) in words
    plain = " ".join(run("check", str(case.manifest), "--case", "CASE-P6").split())
    assert "perceptual: none used (only exact digests were compared)" in plain

    evidence = case.root / "evidence"
    evidence.mkdir()
    for name in ("original.txt", "near.txt", "other.txt"):
        (evidence / name).write_bytes((case.files / name).read_bytes())
    (evidence / "odd\nname.txt").write_bytes(NEAR)  # escaped in the manifest as odd\nname.txt
    before = tree(evidence)
    scanned = run(
        "scan",
        str(evidence),
        "--case",
        "CASE-P7",
        "--perceptual",
        "test-vendor",
        "--report",
        "scan.json",
    )
    assert tree(evidence) == before
    assert "2 with similar entries" in " ".join(scanned.split())
    section = json.loads((case.root / "scan.json").read_text("utf-8"))["perceptual"]
    assert (section["considered"], section["hashed"], section["not_hashed"]) == (3, 3, {})
    assert sorted(r["path"] for r in section["results"]) == ["near.txt", "odd\\nname.txt"]

    refused = run(
        "check",
        str(case.manifest),
        "--case",
        "X",
        "--perceptual",
        "photodna-cloud",
        code=ExitCode.INPUT,
    )
    assert "is not licensed here" in refused


def test_the_key_appears_nowhere(run, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    run("lists", "add", "ncmec-list", "--purpose", "concern")
    run("ingest", "ncmec-list", str(case.list_file))
    for ext in ("json", "html", "csv"):
        run(
            "check",
            str(case.manifest),
            "--case",
            "CASE-P8",
            "--perceptual",
            "test-vendor",
            "--files",
            str(case.files),
            "--report",
            f"key.{ext}",
        )
    run("vendors")
    run("audit", "show", "--json")
    case.licences.chmod(0o640)
    run("check", str(case.manifest), "--case", "X", "--perceptual", "test-vendor", code=2)
    case.licences.chmod(0o600)
    seen: Sequence[str] = [
        *run.outputs,  # type: ignore[attr-defined]
        caplog.text,
        *((case.root / f"key.{ext}").read_text("utf-8") for ext in ("json", "html", "csv")),
    ]
    for text in seen:
        assert KEY not in text
    with Service(Settings(home=case.home, perceptual_licences=case.licences)) as service:
        vendor_cls, licence = service._vendor_licence("test-vendor")
        assert licence.key == KEY, "the key was there to leak"
        made = vendor_cls(licence)
        assert KEY not in repr(made)
        assert KEY not in repr(licence)
        assert KEY not in json.dumps([r.details for r in service.audit_records()])
    for name in os.listdir(case.home):
        path = case.home / name
        if path.is_file() and path.suffix in {".json", ".toml", ".txt"}:
            assert KEY not in path.read_text("utf-8", errors="replace")


def test_a_hostile_file_name_is_text_in_the_perceptual_section(
    service: Service, case: Case
) -> None:
    hostile = "<td><script>alert(1)<script>.txt"  # no '/': it is one file name
    (case.files / hostile).write_bytes(NEAR)
    manifest = case.root / "hostile.md5"
    manifest.write_text(f"{md5(NEAR)}  {hostile}\n", "utf-8")
    report = case.root / "hostile.html"
    service.check(
        [manifest],
        case_ref="CASE-P9",
        report=report,
        perceptual="test-vendor",
        files_root=case.files,
    )
    html = report.read_text("utf-8")
    start = html.index('<section id="perceptual"')
    part = html[start : html.index("</section>", start)]
    assert "&lt;td&gt;&lt;script&gt;alert(1)&lt;script&gt;.txt" in part
    assert "<script>" not in part


class AliasVendor(TestVendor):
    """The test vendor's hashes, read from lists under an alias of its tag."""

    NAME = "alias-vendor"
    FINGERPRINT = "another-tag"
    FINGERPRINT_ALIASES = ("test-simhash",)


class NoAliasVendor(AliasVendor):
    NAME = "no-alias-vendor"
    FINGERPRINT_ALIASES = ()


@pytest.mark.parametrize(("vendor", "similar"), [(AliasVendor, 1), (NoAliasVendor, 0)])
def test_list_fingerprints_are_read_under_the_vendors_aliases_too(
    service: Service, case: Case, vendor: type[TestVendor], similar: int
) -> None:
    registry = AdapterRegistry.from_entry_points()
    registry.register(vendor)
    case.licences.write_text(f'[{vendor.NAME}]\nkey = "{KEY}"\nmax_distance = 8\n', "utf-8")
    with open_service(case, registry=registry) as aliased:
        result = aliased.check(
            [case.manifest], case_ref="CASE-P9", perceptual=vendor.NAME, files_root=case.files
        )
    section = result.header.perceptual
    assert section.fingerprints_compared == similar
    assert section.similar_files == similar
    assert [r.entry for r in section.results] == ["9001-syn-img-1"] * similar
