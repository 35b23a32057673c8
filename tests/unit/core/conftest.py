"""A small real snapshot for the matcher and report tests: one concern list, one benign list.

Every digest is of a synthetic string (``synthetic-fixture-...``). The entries:

concern-list (slot 1, concern)
    md5 + sha256 of ``synthetic-fixture-001``      labels {"category": "A", "series": "s-1"}
    md5 of ``synthetic-fixture-both``              labels {"category": "B"}
    sha1 of ``synthetic-fixture-sha1``             labels {"category": 0}
    md5 of the zero-length file                    labels {"category": "C"}
benign-list (slot 0, benign)
    md5 of ``synthetic-fixture-benign``            no labels
    md5 + sha1 of ``synthetic-fixture-both``       labels {"product": "Synthetic Suite"}
    sha256 of ``synthetic-fixture-other``          no labels
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.index import ChainLink, Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.model import Purpose
from hashmatch.records import ENTRY_SCHEMA, encode_labels

LOADED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _digest(algorithm: str, name: str) -> bytes:
    return hashlib.new(algorithm, f"synthetic-fixture-{name}".encode()).digest()


def _write_entries(path: Path, rows: list[dict[str, object]]) -> None:
    columns = {field.name: [row.get(field.name) for row in rows] for field in ENTRY_SCHEMA}
    pq.write_table(pa.Table.from_pydict(columns, schema=ENTRY_SCHEMA), path)


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    root = tmp_path_factory.mktemp("core-snapshot")
    _write_entries(
        root / "concern.parquet",
        [
            {
                "line": 1,
                "md5": _digest("md5", "001"),
                "sha256": _digest("sha256", "001"),
                "labels": encode_labels({"category": "A", "series": "s-1"}),
            },
            {"line": 2, "md5": _digest("md5", "both"), "labels": encode_labels({"category": "B"})},
            {"line": 3, "sha1": _digest("sha1", "sha1"), "labels": encode_labels({"category": 0})},
            {
                "line": 4,
                "md5": EMPTY_FILE_DIGESTS[Algorithm.MD5],
                "labels": encode_labels({"category": "C"}),
            },
        ],
    )
    _write_entries(
        root / "benign.parquet",
        [
            {"line": 1, "md5": _digest("md5", "benign")},
            {
                "line": 2,
                "md5": _digest("md5", "both"),
                "sha1": _digest("sha1", "both"),
                "labels": encode_labels({"product": "Synthetic Suite"}),
            },
            {"line": 3, "sha256": _digest("sha256", "other")},
        ],
    )

    def listed(slot: int, name: str, purpose: Purpose, entries: int) -> SnapshotList:
        return SnapshotList(
            slot=slot,
            name=name,
            version=slot + 1,
            version_id=f"{name}-version",
            purpose=purpose,
            source_name=f"{name}.txt",
            source_sha256=hashlib.sha256(name.encode()).hexdigest(),
            loaded_at=LOADED_AT,
            entries=entries,
        )

    store = SnapshotStore(root / "snapshots")
    snapshot_id = store.build(
        [
            SnapshotSource(
                list=listed(0, "benign-list", Purpose.BENIGN, 3),
                chain=(ChainLink(path=root / "benign.parquet"),),
            ),
            SnapshotSource(
                list=listed(1, "concern-list", Purpose.CONCERN, 4),
                chain=(ChainLink(path=root / "concern.parquet"),),
            ),
        ]
    )
    return store.open(snapshot_id)
