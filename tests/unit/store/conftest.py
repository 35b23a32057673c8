"""Fixtures for the store tests: a catalog of each implementation, and record builders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hashmatch.model import (
    IngestCounts,
    ListVersionInfo,
    Purpose,
    RecordWarning,
    RunInfo,
    RunInput,
)
from hashmatch.store import Catalog, MemoryCatalog, SqlCatalog, _migrate, open_catalog

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
"""The time the builders start from (the tests keep their own copy: never import conftest)."""


POSTGRES_URL = os.environ.get("HASHMATCH_TEST_POSTGRES_URL", "")
"""A scratch PostgreSQL database: when set, every contract test also runs on it (and empties it)."""


_BACKENDS: list[Any] = ["sqlite", "memory"]
if POSTGRES_URL:
    _BACKENDS.append(pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(params=_BACKENDS)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A fresh catalog: SqlCatalog on a SQLite file (or PostgreSQL), or the in-memory twin."""
    if request.param == "memory":
        store = open_catalog("memory://")
        assert isinstance(store, MemoryCatalog)
        yield store
        store.close()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        url = POSTGRES_URL
        _empty_database(url)
    store = open_catalog(url)
    assert isinstance(store, SqlCatalog)
    yield store
    store.close()


def _empty_database(url: str) -> None:
    scratch = SqlCatalog(url)
    try:
        _migrate.downgrade(scratch.engine, "base")
    finally:
        scratch.close()


@pytest.fixture
def make_version() -> Callable[..., ListVersionInfo]:
    """Build a ListVersionInfo with synthetic values; keyword arguments override fields."""

    def build(list_name: str, number: int, **overrides: Any) -> ListVersionInfo:
        fields: dict[str, Any] = {
            "list_name": list_name,
            "number": number,
            "version_id": f"{list_name}-v{number}",
            "purpose": Purpose.CONCERN,
            "source_name": f"synthetic-fixture-{number:03d}.md5",
            "source_sha256": f"{number:064x}",
            "adapter": "md5sum",
            "adapter_version": "1",
            "loaded_by": "curator",
            "loaded_at": T0 + timedelta(minutes=number),
            "counts": IngestCounts(rows=10, entries=9, md5=9, invalid=1),
            "warnings": (RecordWarning(source="synthetic.md5", line=4, reason="not hex"),),
            "warning_count": 1,
            "entry_file": f"lists/{list_name}/{number}.parquet",
        }
        fields.update(overrides)
        return ListVersionInfo(**fields)

    return build


@pytest.fixture
def make_run() -> Callable[..., RunInfo]:
    """Build a RunInfo with synthetic values; keyword arguments override fields."""

    def build(run_id: str, **overrides: Any) -> RunInfo:
        fields: dict[str, Any] = {
            "run_id": run_id,
            "case_ref": "CASE-0001",
            "operator": "examiner",
            "started_at": T0,
            "tool_version": "0.1.0",
            "snapshot_id": "snap-0001",
            "algorithms": ("md5", "sha256"),
            "inputs": (RunInput(name="device.md5", sha256="ab" * 32, format="md5sum", rows=3),),
        }
        fields.update(overrides)
        return RunInfo(**fields)

    return build
