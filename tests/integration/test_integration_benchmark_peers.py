"""The peers benchmark runs every engine at tiny sizes and prints its JSON (not a timing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINES = {"hashmatch", "python-set", "sqlite", "duckdb", "hfind", "hashdeep"}


def run(*args: str, env: dict[str, str] | None = None) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_peers_benchmark_measures_every_engine_on_the_same_keys(tmp_path: Path) -> None:
    work = tmp_path / "work"
    report = run(
        "--entries", "20000", "--queries", "5000", "--files", "200", "--repeats", "1",
        "--single", "1000", "--work", str(work),
    )  # fmt: skip
    assert report["benchmark"] == "peers"
    assert report["baseline"] == "python-set"
    assert report["machine"]["cores"] >= 1
    assert report["params"]["entries"] == 20000
    assert report["params"]["planted"] == 2
    engines = report["engines"]
    assert set(engines) == ENGINES
    for name, figures in engines.items():
        expected = {"ok", "missing"} if name in {"hfind", "hashdeep"} else {"ok"}
        assert figures["status"] in expected, (name, figures.get("detail"))
        if figures["status"] == "missing":
            assert shutil.which(name) is None
            continue
        # Every engine that ran found exactly the keys planted in its queries.
        assert figures["agrees"] is True, (name, figures["hits_per_batch"])
        assert figures["hits"] == figures["expected_hits"] > 0, name
        assert figures["load_seconds"] >= 0, name
        assert figures["bytes_per_entry_memory"] >= 0, name
    assert engines["hashmatch"]["expected_hits"] == 50  # 1 % of 5,000
    assert engines["hfind"]["status"] == "missing" or engines["hfind"]["queries_used"] == 5000
    if engines["hashdeep"]["status"] == "ok":
        assert engines["hashdeep"]["hits"] == 2  # the planted files
    fast, base = engines["hashmatch"], engines["python-set"]
    assert fast["bytes_per_entry_memory"] < base["bytes_per_entry_memory"]
    assert fast["bytes_per_entry_disk"] > 0
    assert base["bytes_per_entry_disk"] is None
    for key in ("build_seconds", "batch_lookups_per_second_2_threads", "single_lookups_per_second"):
        assert fast[key] > 0, key
    ratios = report["ratios"]
    for name in ("hashmatch", "sqlite", "duckdb"):
        assert ratios[f"{name}_lookups_vs_python_set"] > 0, name
        assert f"{name}_memory_vs_python_set" in ratios, name
    assert ratios["hashmatch_memory_vs_python_set"] < 1
    # The work folder given was emptied of what the run wrote (no --keep).
    assert list(work.iterdir()) == []


def test_peers_benchmark_reports_an_engine_out_of_time_without_stopping(tmp_path: Path) -> None:
    report = run(
        "--entries", "5000", "--queries", "1000", "--files", "100", "--repeats", "2",
        "--engines", "python-set,hashmatch", "--threads", "1", "--timeout", "0.01",
        "--work", str(tmp_path), "--keep",
    )  # fmt: skip
    assert set(report["engines"]) == {"python-set", "hashmatch"}
    for figures in report["engines"].values():
        assert figures["status"] == "timeout"
        assert "limit" in figures["detail"]
    assert report["ratios"] == {}
    assert (tmp_path / "data" / "keys.npy").exists()  # --keep


def test_peers_benchmark_reports_a_tool_not_installed_as_missing() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    report = run(
        "--entries", "2000", "--queries", "500", "--files", "100", "--repeats", "1",
        "--engines", "hfind,hashdeep,python-set", env=env,
    )  # fmt: skip
    for name in ("hfind", "hashdeep"):
        assert report["engines"][name]["status"] == "missing"
        assert "not installed" in report["engines"][name]["detail"]
    assert report["engines"]["python-set"]["status"] == "ok"
    assert set(report["ratios"]) == set()
