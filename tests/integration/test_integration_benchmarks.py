"""The benchmarks run and print the JSON their users read (tiny sizes: not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lookup_benchmark_reports_against_its_baselines() -> None:
    report = run(
        "lookup.py", "--entries", "200000", "--batch", "50000", "--repeats", "2", "--single", "1000"
    )
    assert report["machine"]["cores"] >= 1
    fast = report["hashmatch"]
    assert (
        fast["batch_hits_last_batch_2_threads"] == report["baseline_python_set"]["hits_last_batch"]
    )
    assert fast["bytes_per_entry"] < report["baseline_python_set"]["bytes_per_entry"]
    assert set(report["ratios"]) >= {"batch_vs_python_set", "memory_python_set_over_hashmatch"}


def test_ingest_benchmark_covers_every_list_format_it_times() -> None:
    report = run("ingest.py", "--lines", "5000", "--repeats", "1")
    assert set(report["results"]) == {
        "bare",
        "md5sum",
        "hashdeep",
        "csv",
        "nsrl",
        "vics",
        "nsrl-rdsv3",
        "ncmec-xml",
    }
    for fmt, result in report["results"].items():
        assert result["stage_records_per_second"] > 0, fmt
        assert result["baseline_distinct"] > 0, fmt
        assert result["entries"] <= result["records"], fmt
    assert set(report["meets_target"]) == set(report["results"]) - {"ncmec-xml"}


def test_delta_benchmark_serves_the_delta_from_an_overlay() -> None:
    report = run("delta.py", "--entries", "100000", "--delta", "1000")
    for step in ("add", "remove"):
        assert report[step]["delta_snapshot"] is True
        assert report[step]["delta_digests_served_correctly"] is True
    assert report["baseline_full_build_seconds"] > 0
