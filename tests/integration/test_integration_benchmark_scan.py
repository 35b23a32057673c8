"""The scan benchmark runs on a tiny tree and prints the JSON its users read (not a timing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scan.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_scan_benchmark_times_hashmatch_beside_hashdeep_and_a_naive_loop() -> None:
    report = run(
        "--total-mib", "3", "--large-mib", "1", "2", "--medium-mib", "1", "1",
        "--repeats", "2", "--seed", "7",
    )  # fmt: skip
    assert report["benchmark"] == "scan"
    assert report["machine"]["cores"] >= 1
    tree = report["tree"]
    assert tree["bytes"] == 3 << 20
    assert tree["files"] == tree["small_files"] + tree["medium_files"] + tree["large_files"]
    assert tree["small_files"] > 10
    results = report["results"]
    for name in ("hashmatch", "baseline_naive", "hashmatch_processes"):
        assert len(results[name]["seconds"]) == 2, name
        assert results[name]["files_per_second"] > 0, name
        assert results[name]["mib_per_second"] > 0, name
    assert report["digests_agree"]["naive"] is True
    assert report["ratios"]["hashmatch_over_naive"] > 0
    if shutil.which("hashdeep"):
        assert results["hashdeep"]["available"] is True
        assert results["hashdeep"]["files_per_second"] > 0
        # The point of the comparison: the same digests as the reference tool, file by file.
        assert report["digests_agree"]["hashdeep"] is True
        assert report["ratios"]["hashmatch_over_hashdeep"] > 0
        assert isinstance(report["meets_target"], bool)
    else:
        assert results["hashdeep"] == {"available": False, "reason": "hashdeep is not installed"}
        assert report["digests_agree"]["hashdeep"] is None
        assert report["meets_target"] is None


def test_scan_benchmark_trees_are_reproducible_from_the_seed() -> None:
    small = ("--total-mib", "1", "--large-mib", "1", "1", "--medium-mib", "1", "1")
    options = (*small, "--repeats", "1", "--no-processes")
    first, second = run(*options, "--seed", "3"), run(*options, "--seed", "3")
    assert first["tree"] == second["tree"]  # counts, sizes and a digest of every file
    other = run(*options, "--seed", "4")
    assert other["tree"]["tree_sha256"] != first["tree"]["tree_sha256"]
    assert "hashmatch_processes" not in first["results"]
