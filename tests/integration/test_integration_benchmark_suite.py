"""The benchmark suite: its results page from hand-built results, and one tiny real run.

The renderer is tested on a results document built here (a failed step, a missing peer,
figures behind and ahead of their targets), so the page's claims are checked against
known numbers; then the suite runs two real steps at the quick scale end to end.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT.parent / "shared" / "DESIGN.md"


def _load_suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_suite", ROOT / "benchmarks/suite.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


suite = _load_suite()


def ok(result: dict[str, Any], seconds: float = 1.0) -> dict[str, Any]:
    return {
        "status": "ok",
        "command": "python benchmarks/x.py",
        "wall_seconds": seconds,
        "result": result,
    }


def engine(
    rate: float, ram: float, disk: float | None, build: float, load: float
) -> dict[str, Any]:
    return {
        "status": "ok",
        "lookups_per_second": rate,
        "bytes_per_entry_memory": ram,
        "bytes_per_entry_disk": disk,
        "build_seconds": build,
        "load_seconds": load,
        "hits": 10_000,
        "agrees": True,
    }


def results_document() -> dict[str, Any]:
    """A run at full scale, with known figures: some targets met, some behind."""
    lookup = {
        "params": {"entries": 100_000_000, "batch": 1_000_000, "threads": 2},
        "hashmatch": {
            "batch_lookups_per_second_1_thread": 10_100_000,
            "batch_lookups_per_second_2_threads": 13_600_000,  # 0.68 of 20 M
            "single_lookups_per_second": 380_000,  # 0.76 of 0.5 M
            "bytes_per_entry": 24.0,  # "at most 24": met
            "open_seconds_median": 0.0014,
            "build_seconds": 61.2,  # "under 60 s": 1.02 over
            "build_peak_rss_gib": 9.5,
        },
        "baseline_python_set": {
            "batch_lookups_per_second": 2_000_000,  # 13.6 / 2 = 6.8x, 0.85 of 8x
            "bytes_per_entry": 107.0,
            "build_seconds": 78.0,
        },
    }
    delta = {
        "entries": 100_000_000,
        "delta": 10_000,
        "baseline_full_build_seconds": 60.8,
        "add": {"matchable_after_seconds": 0.446, "delta_digests_served_correctly": True},
        "remove": {"matchable_after_seconds": 0.315, "delta_digests_served_correctly": True},
    }
    ingest = {
        "params": {"lines": 2_000_000},
        "results": {
            "md5sum": {"stage_records_per_second": 670_000, "baseline_lines_per_second": 1_500_000},
            "hashdeep": {
                "stage_records_per_second": 500_000,
                "baseline_lines_per_second": 1_200_000,
            },
            "nsrl": {"stage_records_per_second": 260_000, "baseline_lines_per_second": 400_000},
            "vics": {
                "stage_records_per_second": 250_000,
                "baseline_lines_per_second": 300_000,
                "adapter_peak_traced_mib": 3.6,
            },
        },
        "targets": {"stage_records_per_second": {"md5sum": 1_000_000, "vics": 200_000}},
    }
    http = {
        "params": {"workers": 2},
        "data": {"entries": 1_000_000, "items_per_request": 10_000},
        "results": {
            "hashmatch": {
                "bulk_json": {"digests_per_second": 890_000},
                "bulk_arrow": {"digests_per_second": 2_070_000},
                "lookup": {
                    "rate_target": 1000,
                    "rate_achieved": 995.0,
                    "latency_ms_from_schedule": {"p50": 1.0, "p99": 4.1},
                },
            },
            "baseline": {
                "bulk_json": {"digests_per_second": 590_000},
                "bulk_arrow": {"digests_per_second": 1_730_000},
                "lookup": {
                    "rate_target": 1000,
                    "rate_achieved": 999.0,
                    "latency_ms_from_schedule": {"p50": 0.8, "p99": 2.0},
                },
            },
        },
        "failed_requests": 0,
    }
    scan = {
        "params": {"repeats": 3},
        "tree": {"bytes": 1 << 30, "files": 8122},
        "results": {
            "hashmatch": {"median_seconds": 2.98, "mib_per_second": 344.0},
            "hashdeep": {"median_seconds": 9.76, "mib_per_second": 105.0, "available": True},
            "baseline_naive": {"median_seconds": 5.34, "mib_per_second": 192.0},
        },
        "ratios": {"hashmatch_over_hashdeep": 3.28},
        "digests_agree": {"hashdeep": True, "naive": True},
    }
    check = {
        "params": {"rows": 1_000_000, "entries": 10_000_000},
        "hashmatch": {
            "json": {
                "seconds": 14.3,
                "rows_per_second": 70_000,
                "stages_seconds": {"store_verdicts": 9.4, "write_report": 1.3},
                "counts_match_planted": True,
            }
        },
        "baseline_python_csv_set_json": {
            "seconds": 8.5,
            "set_build_seconds": 9.1,
            "counts_match_planted": True,
        },
        "store_alternatives": {
            "sqlite_seconds": 9.4,
            "sqlite_bytes_added": 104 << 20,
            "parquet_zstd_seconds": 0.13,
            "parquet_bytes": 1400 << 10,
        },
        "target": {"json_check_seconds": 30.0},
    }
    peers = {
        "benchmark": "peers",
        "params": {"entries": 10_000_000, "queries": 1_000_000},
        "engines": {
            "hashmatch": engine(14e6, 23.0, 23.3, 4.0, 0.002),
            # Loads faster than hashmatch: a figure with no entry in WHY.
            "python-set": engine(2.3e6, 107.0, None, 7.0, 0.001),
            "sqlite": engine(0.2e6, 5.0, 40.0, 30.0, 0.0005),
            "duckdb": {"status": "timeout", "detail": "stopped after 1800 s"},
            "hfind": {"status": "missing", "detail": "hfind is not installed"},
            "hashdeep": engine(40_000, 600.0, 50.0, 2.0, 5.0),
        },
        "baseline": "python-set",
    }
    dask = {
        "params": {"rows": 8_000_000, "entries": 2_000_000, "prefix_bits": 8},
        "workers": {
            "1": {"seconds": 20.0, "rows_per_second": 400_000},
            "2": {"seconds": 12.5, "rows_per_second": 640_000},
        },
        "local_baseline": {"seconds": 8.0, "rows_per_second": 1_000_000},
        "speedup_2_over_1": 1.6,
        "cost": {
            "usd_per_core_hour": 0.04,
            "usd_per_billion_lookups": 0.0347,
            "core_hours_per_billion": 0.868,
            "assumption": "2 cores busy for the whole job at an assumed USD 0.04 per core-hour",
        },
    }
    return {
        "command": "benchmarks/run",
        "scale": "full",
        "seed": None,
        "started": "2026-11-22T10:00:00+00:00",
        "finished": "2026-11-22T14:00:00+00:00",
        "wall_seconds": 14400.0,
        "machine": {
            "cpu": "Synthetic CPU",
            "cores": 2,
            "memory_gib": 23.5,
            "python": "3.11.7",
            "numpy": "2.4.6",
            "pyarrow": "26.0.1",
            "os": "Debian GNU/Linux 12 (bookworm)",
            "versions": {"hashdeep": "4.4", "hfind": None, "sqlite": "3.40.1", "duckdb": "2.0.0"},
        },
        "steps": {
            "lookup": ok(lookup),
            "delta": ok(delta),
            "ingest": ok(ingest),
            "scan": ok(scan),
            "http": ok(http),
            "check": ok(check),
            "peers-10m": ok(peers),
            "peers-100m": {
                "status": "failed",
                "command": "python benchmarks/peers.py --entries 100000000",
                "returncode": 1,
                "wall_seconds": 12.0,
                "detail": "exit status 1",
                "result": None,
                "stderr_tail": "Traceback (most recent call last):\nMemoryError: synthetic\n",
            },
            "dask": ok(dask),
        },
    }


@pytest.fixture(scope="module")
def page() -> str:
    return suite.render_markdown(results_document())


def design_table(page: str) -> dict[str, list[str]]:
    """The DESIGN.md section's rows of the page, by their first cell."""
    section = page.split('## DESIGN.md targets ("Numbers to reach")', 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| what |"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells
    return rows


def test_every_design_row_is_on_the_page_with_a_verdict(page: str) -> None:
    rows = design_table(page)
    assert len(suite.DESIGN_ROWS) == 11
    assert [what for _, what, _, _ in suite.DESIGN_ROWS] == list(rows)
    for cells in rows.values():
        assert cells[-1].strip("*").startswith(("met", "behind: ", "not measured")), cells


@pytest.mark.skipif(not DESIGN.exists(), reason="../shared/DESIGN.md is not beside the checkout")
def test_the_rows_are_design_mds_own_words() -> None:
    text = DESIGN.read_text(encoding="utf-8").split("## Numbers to reach", 1)[1]
    table = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.split("\n## ", 1)[0].splitlines()
        if line.startswith("| ") and not line.startswith("| what |")
    ]
    assert [(what, target) for _, what, target, _ in suite.DESIGN_ROWS] == [
        (row[0], row[1]) for row in table
    ]


def test_behind_by_figures_are_computed_from_the_targets(page: str) -> None:
    rows = design_table(page)
    verdict = {what: cells[-1].strip("*") for what, cells in rows.items()}
    batch = "batch lookup, 100 M MD5 index, 1 M-digest batches, 1 % hits"
    # 13.6 M/s of 20 M/s; 13.6 / 2.0 = 6.8x a set, of 8x: 0.85
    assert verdict[batch] == "behind: 0.68× of target (20 M/s); 0.85× of target (8× a Python set)"
    assert rows[batch][5] == "6.80×"
    assert verdict["single-digest lookup in process"] == "behind: 0.76× of target"
    # "at most 24 bytes": exactly 24 meets it
    assert verdict["memory per MD5 entry (keys + directory + label reference)"] == "met"
    assert verdict["opening a snapshot of 100 M entries"] == "met"
    assert verdict["building a 100 M-entry snapshot"] == "behind: 1.02× over target"
    assert verdict["a 10 k-entry delta on a 100 M index"] == "met"
    # the slowest line format counts: NSRL at 0.26 M/s
    assert verdict["ingest, line formats (md5sum, hashdeep, NSRL text)"] == (
        "behind: 0.26× of target"
    )
    assert "slowest: nsrl" in rows["ingest, line formats (md5sum, hashdeep, NSRL text)"][2]
    assert verdict["ingest, VICS JSON"] == "met"
    assert verdict["HTTP bulk match (JSON), 10 k digests a request"] == "behind: 0.89× of target"
    assert verdict["HTTP single lookup"] == "met"  # 995 of 1,000 scheduled: kept up
    scan = "local scan (md5 + sha1 + sha256 in one read)"
    assert verdict[scan] == "met"
    assert rows[scan][5] == "3.28×"


def test_where_behind_lists_targets_and_peers_with_their_why(page: str) -> None:
    behind = page.split("## Where hashmatch is behind", 1)[1].split("\n## ", 1)[0]
    items = [line for line in behind.splitlines() if line.startswith("- **")]
    text = "\n".join(items)
    assert "batch lookup, 100 M MD5 index" in text
    assert "two random memory reads" in text  # the batch-lookup explanation
    assert "building a 100 M-entry snapshot" in text
    assert "(not yet explained)" in text  # the snapshot build and the set's load have none
    # Peers in the same run: SQLite holds less in RAM and opens faster; the set loads faster.
    assert "RAM per entry at 10 M entries: hashmatch 23 B, sqlite 5 B**: 4.60× sqlite's" in text
    assert "load time at 10 M entries: hashmatch 2 ms, python-set 1 ms**: 2.00× python-set's" in (
        text
    )
    # The HTTP reference's p99 was lower; the check's plain-Python floor was faster.
    assert "HTTP single lookup p99: hashmatch 4.1 ms, reference 2 ms" in text
    assert "examiner check, JSON report: hashmatch 14.3 s, plain-Python baseline 8.5 s" in text
    assert "SQLite" in text  # the check's explanation
    assert "Dask batch: best 640 k rows/s, in-process 1 M rows/s" in text
    # Met figures and faster-than-peer figures are not listed.
    assert "HTTP bulk JSON: hashmatch" not in text
    assert "local scan: hashmatch" not in text
    assert "single-digest lookup in process" in text
    assert "memory per MD5 entry" not in text


def test_failures_and_missing_peers_are_shown(page: str) -> None:
    steps = page.split("## Steps", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"\| peers-100m \|.*\| \*\*FAILED\*\* \|", steps)
    assert "**Steps that did not succeed: peers-100m**" in page
    assert "Not measured: step failed." in page
    failures = page.split("## Failures", 1)[1]
    assert "### peers-100m: failed" in failures
    assert "MemoryError: synthetic" in failures
    peers = page.split("(`peers-10m`)", 1)[1].split("###", 1)[0]
    assert re.search(r"\| hfind \| missing \|.*hfind is not installed", peers)
    assert re.search(r"\| duckdb \| timeout \|.*stopped after 1800 s", peers)
    assert re.search(r"\| python-set \| ok \| 2.3 M/s \| 1.00× \| 107 B \|", peers)
    assert re.search(r"\| \*\*hashmatch\*\* \| ok \| 14 M/s \| 6.09× \| 23 B \| 23.3 B \|", peers)
    assert "| hfind (`hfind -V`) | not installed |" in page


def test_the_other_sections_carry_their_figures(page: str) -> None:
    assert "![Lookup throughput" in page
    assert "(results/chart.svg)" in page
    assert "| CPU | Synthetic CPU |" in page
    assert "Speed-up of 2 workers over 1: 1.60×." in page
    assert "$0.0347 per billion lookups (0.868 core-hours) at $0.0400 per core-hour" in page
    assert "assumed USD 0.04 per core-hour" in page
    assert "in a Parquet file (zstd): 130 ms (1.37 MiB)" in page
    assert "| bulk Arrow, digests/s | 2.07 M/s | 1.73 M/s |" in page
    assert "hashmatch over hashdeep: 3.28×" in page


def test_a_missing_step_leaves_its_rows_unmeasured() -> None:
    document = results_document()
    del document["steps"]["http"]
    document["steps"]["scan"]["result"]["results"]["hashdeep"] = {"available": False}
    rows = design_table(suite.render_markdown(document))
    assert rows["HTTP single lookup"][-1] == "**not measured (step http not run)**"
    scan = rows["local scan (md5 + sha1 + sha256 in one read)"]
    assert scan[-1] == "**not measured (hashdeep is not installed)**"


def test_figures_are_formatted_readably() -> None:
    assert suite.fmt_rate(13_500_000) == "13.5 M/s"
    assert suite.fmt_rate(850_000) == "850 k/s"
    assert suite.fmt_rate(42) == "42/s"
    assert suite.fmt_rate(1_200_000, " rows/s") == "1.2 M rows/s"
    assert suite.fmt_seconds(0.0014) == "1.4 ms"
    assert suite.fmt_seconds(46.5) == "46.5 s"
    assert suite.fmt_seconds(0.00085) == "850 µs"
    assert suite.fmt_seconds(4000) == "4,000 s (66.7 min)"
    assert suite.fmt_seconds(None) == "–"
    assert suite.fmt_bytes_per_entry(22.66) == "22.7 B"
    assert suite.fmt_ratio(0.675001) == "0.68×"
    assert suite.fmt_ratio(136.4) == "136×"
    assert suite.fmt_count(100_000_000) == "100 M"
    assert suite.fmt_count(200_000) == "200 k"
    assert suite.dig({"a": [{"b": 1}]}, "a", 0, "b") == 1
    assert suite.dig({"a": None}, "a", "b") is None
    assert suite.number(True) is None


def test_why_falls_back_to_the_figure_then_says_unexplained() -> None:
    assert suite.why("ingest.baseline.md5sum") == suite.WHY["ingest.baseline"]
    assert suite.why("peers.memory_ram.hfind") == suite.WHY["peers.memory_ram.hfind"]
    assert suite.why("peers.lookups.some-new-engine") == "(not yet explained)"
    assert suite.why("design.snapshot_build") == "(not yet explained)"


def test_the_chart_is_a_deterministic_svg(tmp_path: Path) -> None:
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    suite.render_chart(results_document(), first)
    suite.render_chart(results_document(), second)
    svg = first.read_text()
    assert "<svg" in svg
    assert "Dask batch matching" in svg
    assert first.read_bytes() == second.read_bytes()
    empty = tmp_path / "empty.svg"
    suite.render_chart({"steps": {}}, empty)
    assert "<svg" in empty.read_text()


def test_steps_are_chosen_by_name_or_group() -> None:
    names = [s.name for s in suite.select_steps("lookup,peers", None)]
    assert names == ["lookup", "peers-10m", "peers-100m"]
    assert "peers-100m" not in [s.name for s in suite.select_steps(None, "peers-100m")]
    with pytest.raises(suite.UsageError, match="nope"):
        suite.select_steps("nope", None)


def test_a_failing_or_hanging_step_is_recorded_not_raised() -> None:
    step = suite.Step("demo", "lookup.py", (), ())
    boom = "import sys; print('boom', file=sys.stderr); sys.exit(3)"
    failed = suite.run_step(step, [sys.executable, "-c", boom], None)
    assert failed["status"] == "failed"
    assert failed["returncode"] == 3
    assert "boom" in failed["stderr_tail"]
    slow = suite.run_step(step, [sys.executable, "-c", "import time; time.sleep(60)"], 1)
    assert slow["status"] == "timeout"
    missing = suite.run_step(suite.Step("x", "no-such-benchmark.py", (), ()), ["x"], None)
    assert missing["status"] == "missing"
    fine = suite.run_step(step, [sys.executable, "-c", "print('{\"a\": 1}')"], None)
    assert fine["status"] == "ok"
    assert fine["result"] == {"a": 1}


@pytest.mark.slow
def test_a_quick_run_writes_the_results_the_page_and_the_chart(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, str(ROOT / "benchmarks" / "suite.py")),
            *("--scale", "quick", "--out", str(tmp_path), "--only", "lookup,peers"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert list(results["steps"]) == ["lookup", "peers-10m", "peers-100m"]
    assert results["steps"]["lookup"]["status"] == "ok", results["steps"]["lookup"]
    assert results["scale"] == "quick"
    assert results["machine"]["cores"] >= 1
    assert results["started"] <= results["finished"]
    assert "--only lookup,peers" in results["command"]
    for name in ("peers-10m", "peers-100m"):
        step = results["steps"][name]
        assert step["wall_seconds"] >= 0
        if (ROOT / "benchmarks" / "peers.py").exists():
            assert step["status"] == "ok", step.get("stderr_tail")
            for engine_name, found in step["result"]["engines"].items():
                # hfind and hashdeep are system tools that may be absent
                assert found["status"] in {"ok", "missing"}, (engine_name, found)
        else:
            assert step["status"] == "missing"
    assert done.returncode == (0 if not results["failures"] else 1), done.stderr[-3000:]
    page = (tmp_path / "RESULTS.md").read_text()
    assert "## DESIGN.md targets" in page
    assert "**Scale quick" in page
    chart = (tmp_path / "results" / "chart.svg").read_text()
    assert chart.lstrip().startswith("<?xml")
    assert "<svg" in chart
