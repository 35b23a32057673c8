"""The HTTP benchmark drives both servers at a tiny size and prints its JSON (not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("bulk_json", "bulk_arrow", "lookup")
LATENCIES = {"p50", "p90", "p99", "p999", "max", "mean"}


@pytest.mark.slow
def test_http_benchmark_measures_hashmatch_beside_the_set_baseline(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "http_api.py"),
            *("--quick", "--seed", "7", "--workdir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    assert report["benchmark"] == "http"
    assert report["machine"]["cores"] >= 1
    assert "share" in report["note"]
    assert report["baseline"] == "minimal FastAPI+uvicorn over a Python set"
    data = report["data"]
    assert data["items_per_request"] == 1000
    assert data["hits_per_request"] == 10
    assert set(report["results"]) == {"baseline", "hashmatch"}
    for name, server in report["results"].items():
        assert server["workers"] == 2, name
        assert server["load_generator"]["library"].startswith("aiohttp"), name
        for phase in PHASES:
            figures = server[phase]
            where = f"{name} {phase}"
            assert figures["failed"] == 0, (where, figures["errors"])
            # Every answer kept for checking had one result per item, in order, and the
            # planted digests (and only those) known.
            assert figures["answers_checked"] > 0, where
            assert figures["answers_right"] == figures["answers_checked"], (
                where,
                figures["answer_problems"],
            )
            assert figures["completed"] > 0, where
            assert figures["client_cpu_cores"] >= 0, where
            assert figures["server_cpu_cores"] >= 0, where
            assert figures["server_cpu_ms_per_request"] > 0, where
            assert len(figures["server_cpu_cores_per_process"]) >= 3, where  # supervisor + 2
        for fmt in ("bulk_json", "bulk_arrow"):
            assert server[fmt]["digests_per_second"] > 0, name
            assert set(server[fmt]["latency_ms"]) == LATENCIES, name
        lookup = server["lookup"]
        assert lookup["completed"] == lookup["scheduled"] == data["lookups_scheduled"], name
        assert set(lookup["latency_ms_from_schedule"]) == LATENCIES, name
        assert lookup["known_answers"] > 0, name
    assert report["failed_requests"] == 0
    assert report["all_answers_right"] is True
    assert set(report["ratios"]) == {
        "baseline_arrow_over_json_digests_per_second",
        "hashmatch_arrow_over_json_digests_per_second",
        "bulk_json_digests_per_second_hashmatch_over_baseline",
        "bulk_arrow_digests_per_second_hashmatch_over_baseline",
        "lookup_p99_hashmatch_over_baseline",
    }
    assert set(report["meets_target"]) == {"bulk_json_digests_per_second", "lookup_p99_ms"}
    assert list(tmp_path.iterdir()) == []  # the temporary home and files are gone
    leftovers = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or ())
    ]
    assert leftovers == []  # both servers were stopped, workers included
