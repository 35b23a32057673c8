"""The batch job's pieces: planning from footers, routing rows, per-worker matchers."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hashmatch import scaleout
from hashmatch.config import Settings
from hashmatch.errors import InputError
from hashmatch.ingest.parse import parse_batch
from hashmatch.model import Purpose, UpdateMode
from hashmatch.records import RECORD_SCHEMA
from hashmatch.service import Service


def md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    listed = tmp_path / "list.md5"
    listed.write_text("".join(f"{md5(n)}  f{n}\n" for n in range(20)), "utf-8")
    settings = Settings(home=tmp_path / "home", operator="tester", database_url="memory://")
    with Service(settings) as service:
        service.add_list("concern", Purpose.CONCERN)
        service.ingest("concern", listed)
        yield service


def test_pieces_are_planned_from_the_footers_and_numbered_as_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"md5": [md5(n) for n in range(10)]}), path, row_group_size=4)
    monkeypatch.setattr(scaleout, "_PIECE_ROWS", 3)
    pieces = scaleout.plan([path])
    assert [(p.group, p.offset, p.first, p.rows) for p in pieces] == [
        (0, 0, 0, 3),
        (0, 3, 3, 1),
        (1, 0, 4, 3),
        (1, 3, 7, 1),
        (2, 0, 8, 2),
    ]
    lines = [n for p in pieces for n in scaleout._read_records(p)[0].column("line").to_pylist()]
    assert lines == list(range(1, 11))
    (tmp_path / "not.parquet").write_text("md5\n")
    with pytest.raises(InputError, match="not a Parquet file"):
        scaleout.plan([tmp_path / "not.parquet"])


def test_a_row_is_routed_by_its_first_usable_digest() -> None:
    sha1 = hashlib.sha1(b"synthetic-fixture-001").hexdigest()
    records = pa.RecordBatch.from_pylist(
        [
            {"line": 1, "md5": "ff" + md5(1)[2:], "sha1": "00" + sha1[2:]},
            {"line": 2, "md5": "zz-not-hex", "sha1": "a0" + sha1[2:]},
            {"line": 3},
        ],
        schema=RECORD_SCHEMA,
    )
    assert scaleout.route_rows(parse_batch(records), 8).tolist() == [0xFF, 0xA0, 0]


def test_a_worker_answers_from_a_shard_folder_exported_anew(
    service: Service, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    first = service.export_shards(shards)
    matcher = scaleout._matcher(str(shards), None)
    assert matcher.snapshot.id == first.snapshot_id
    assert scaleout._matcher(str(shards), None) is matcher  # kept across tasks
    added = tmp_path / "added.md5"
    added.write_text(f"{md5(99)}  new\n", "utf-8")
    service.ingest("concern", added, mode=UpdateMode.ADD)
    shutil.rmtree(shards)
    second = service.export_shards(shards)
    assert second.snapshot_id != first.snapshot_id
    again = scaleout._matcher(str(shards), None)
    assert again.snapshot.id == second.snapshot_id
    records = pa.RecordBatch.from_pylist([{"line": 1, "md5": md5(99)}], schema=RECORD_SCHEMA)
    verdicts = again.match(parse_batch(records))
    assert verdicts.column("verdict").to_pylist() == ["known"]
