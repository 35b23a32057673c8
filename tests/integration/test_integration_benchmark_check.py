"""The check benchmark runs at a tiny size and prints the JSON its readers use (not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGES = {
    "read_parse",
    "match",
    "apply_warnings",
    "concat_sort",
    "count",
    "store_verdicts",
    "write_report",
    "other",
}


def test_check_benchmark_finds_the_planted_verdicts_in_every_report_format(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "check.py"),
            *("--entries", "20000", "--rows", "3000", "--known-rate", "0.05", "--seed", "7"),
            *("--verify", "--workdir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    assert report["benchmark"] == "check"
    assert report["machine"]["cores"] >= 1
    assert report["params"]["rows"] == 3000
    planted = report["planted"]
    assert planted == {
        "known": 150,
        "known_benign": 0,
        "unknown": 3000 - 150 - 3 - 2,
        "not_assessable": 3,
        "invalid": 2,
    }
    assert {"json", "csv"} <= set(report["hashmatch"])
    for fmt, figures in report["hashmatch"].items():
        assert figures["verdict_counts"] == planted, fmt
        assert figures["counts_match_planted"] is True, fmt
        assert set(figures["stages_seconds"]) == STAGES, fmt
        assert figures["seconds"] > 0, fmt
        assert figures["report_bytes"] > 0, fmt
    assert report["verified"] == {
        "report_valid": True,
        "report_rows_match": True,
        "stored_verdicts_match": True,
    }
    baseline = report["baseline_python_csv_set_json"]
    assert baseline["counts_match_planted"] is True
    assert baseline["verdict_counts"]["known"] == planted["known"]
    assert report["store_alternatives"]["sqlite_seconds"] > 0
    assert report["store_alternatives"]["parquet_bytes"] > 0
    assert isinstance(report["meets_target"], bool)
    assert "json_check_over_baseline" in report["ratios"]
    assert list(tmp_path.iterdir()) == []  # the temporary home is gone
