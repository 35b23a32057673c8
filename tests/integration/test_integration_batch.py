"""A Dask batch job gives the verdicts ``check`` gives, row for row, on a local cluster.

The same synthetic lists and Parquet manifests go through ``Service.check`` (the local
path) and ``Service.batch`` (a ``LocalCluster`` of two worker processes, rows shuffled by
digest prefix, each worker mapping only the shards it needs); every column of every
verdict row must agree. The manifests hold every kind of row: known on one list, on both,
by SHA-256 only, benign, unknown, a zero-length file, no digest, a malformed digest,
upper-case hex, a repaired size, across several row groups and two files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hashmatch.config import Settings
from hashmatch.model import Purpose
from hashmatch.scaleout import read_verdicts
from hashmatch.service import Service

pytestmark = pytest.mark.slow

EMPTY_MD5 = hashlib.md5(b"").hexdigest()


def digest(algorithm: str, n: int) -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{n:05d}".encode()).hexdigest()


def hashdeep_list(path: Path, numbers: range, label: str) -> Path:
    lines = ["%%%% HASHDEEP-1.0", "%%%% size,md5,sha1,sha256,filename"]
    lines += [
        f"{n},{digest('md5', n)},{digest('sha1', n)},{digest('sha256', n)},/{label}/{n}.bin"
        for n in numbers
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def manifest_rows(rng: np.random.Generator, count: int, start: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(count):
        n = int(rng.integers(1, 4000))
        kind = int(rng.integers(0, 10))
        row: dict[str, object] = {"path": f"/exhibit/{start + i}.bin", "size": int(n)}
        if kind <= 3:  # md5 only: known, benign, both or unknown, as n falls
            row["md5"] = digest("md5", n)
        elif kind == 4:
            row["sha256"] = digest("sha256", n)
        elif kind == 5:
            row["md5"] = digest("md5", n).upper()
            row["sha1"] = digest("sha1", n)
        elif kind == 6:
            row["md5"], row["size"] = EMPTY_MD5, 0
        elif kind == 7:
            row["md5"] = "zz" + digest("md5", n)[2:]
        elif kind == 8:
            row["md5"], row["size"] = digest("md5", n), -5  # a repaired size: a noted row
        rows.append(row)
    return rows


def write_manifest(path: Path, rows: list[dict[str, object]]) -> Path:
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("path", pa.string()),
                ("size", pa.int64()),
                ("md5", pa.string()),
                ("sha1", pa.string()),
                ("sha256", pa.string()),
            ]
        ),
    )
    pq.write_table(table, path, row_group_size=700)
    return path


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(home=tmp_path / "home", operator="tester")
    with Service(settings) as service:
        service.add_list("concern", Purpose.CONCERN)
        service.add_list("benign", Purpose.BENIGN)
        service.ingest("concern", hashdeep_list(tmp_path / "c.txt", range(1, 1200), "c"))
        service.ingest("benign", hashdeep_list(tmp_path / "b.txt", range(900, 2600), "b"))
        yield service


def test_a_batch_job_on_a_local_cluster_gives_the_verdicts_check_gives(
    service: Service, tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    manifests = [
        write_manifest(tmp_path / "one.parquet", manifest_rows(rng, 3000, 0)),
        write_manifest(tmp_path / "two.parquet", manifest_rows(rng, 1500, 3000)),
    ]
    local = service.check(manifests, case_ref="CASE-1").verdicts
    outcome = service.batch(manifests, tmp_path / "verdicts", workers=2, partitions=5)
    distributed = read_verdicts(tmp_path / "verdicts")

    assert outcome.rows == local.num_rows == 4500
    assert distributed.num_rows == local.num_rows
    assert distributed.equals(local.sort_by([("input", "ascending"), ("line", "ascending")]))
    verdicts = set(local.column("verdict").to_pylist())
    assert verdicts == {"known", "known_benign", "unknown", "not_assessable", "invalid"}
    both = [m for m in local.column("matches").to_pylist() if m and '"benign"' in m]
    assert any('"concern"' in m for m in both)  # rows on both lists keep both matches
    assert sum(outcome.counts.values()) == 4500
    assert len(list((tmp_path / "verdicts").glob("part-*.parquet"))) <= 5
    assert outcome.shards_opened > 0

    record = service.audit_records()[-1]
    assert record.action == "batch"
    assert record.details["rows"] == 4500
    assert record.details["counts"] == outcome.counts
    assert "/exhibit/" not in json.dumps(record.details)  # no paths in the trail
    assert str(tmp_path) not in json.dumps(record.details)


def test_the_batch_command_runs_on_a_local_cluster_and_refuses_a_used_folder(
    service: Service, tmp_path: Path
) -> None:
    manifest = write_manifest(
        tmp_path / "rows.parquet", manifest_rows(np.random.default_rng(3), 800, 0)
    )
    shards = tmp_path / "shards"
    command = [sys.executable, "-m", "hashmatch", "--home", str(service.home)]
    exported = subprocess.run(
        [*command, "snapshot", "shards", str(shards)], capture_output=True, text=True, check=False
    )
    assert exported.returncode == 0, exported.stderr
    assert (shards / "shards.json").is_file()
    args = [*command, "batch", str(manifest), "--out", str(tmp_path / "v"), "--shards"]
    result = subprocess.run(
        [*args, str(shards), "--workers", "1", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == 800
    assert sum(summary["counts"].values()) == 800
    again = subprocess.run(
        [*args, str(shards), "--workers", "1"], capture_output=True, text=True, check=False
    )
    assert again.returncode != 0
    assert "already holds verdict files" in again.stderr + again.stdout
