"""Helpers the adapter tests share: where the fixtures are, and reading bytes into rows."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.records import RECORD_SCHEMA

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "adapters"

Rows = list[dict[str, Any]]
Reader = Callable[..., tuple[Rows, ReadContext]]


def _read_rows(
    adapter: type[FormatAdapter],
    data: bytes,
    *,
    strict: bool = False,
    batch_size: int = 65_536,
    source: str = "test-input",
) -> tuple[Rows, ReadContext]:
    """Every row ``adapter`` reads from ``data`` (as dicts), and the context it warned into."""
    # Batches are checked as they come, so a test sees which one broke the contract.
    context = ReadContext(source=source, strict=strict, batch_size=batch_size)
    batches = list(adapter().read(io.BytesIO(data), context))
    for batch in batches:
        assert batch.schema.equals(RECORD_SCHEMA, check_metadata=True)
        assert 0 < batch.num_rows <= batch_size
    return pa.Table.from_batches(batches, schema=RECORD_SCHEMA).to_pylist(), context


@pytest.fixture(name="read", scope="session")
def _read() -> Reader:
    """Read bytes with an adapter: ``read(adapter, data, strict=, batch_size=, source=)``.

    Returns the rows as dicts and the context, after checking every batch's schema and
    that no batch is empty or larger than ``batch_size``.
    """
    return _read_rows


@pytest.fixture(name="fixture_bytes", scope="session")
def _fixture_bytes() -> Callable[[str], bytes]:
    """The bytes of ``<adapter>/<file>`` under ``tests/fixtures/adapters``."""

    def load(relative: str) -> bytes:
        return (FIXTURES / relative).read_bytes()

    return load
