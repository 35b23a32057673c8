"""Helpers the adapter tests share: where the fixtures are, reading bytes into rows, and
holding an adapter's chunked ``read`` to its line-at-a-time ``read_by_line`` twin."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pytest

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import HashmatchError
from hashmatch.records import RECORD_SCHEMA

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "adapters"

Rows = list[dict[str, Any]]
Reader = Callable[..., tuple[Rows, ReadContext]]
Observation = dict[str, Any]
Twins = Callable[..., tuple[Observation, Observation]]


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


def _observe(
    read: Callable[[BinaryIO, ReadContext], Iterator[pa.RecordBatch]],
    data: bytes,
    *,
    strict: bool = False,
    batch_size: int = 65_536,
    keep_warnings: int = 200,
) -> Observation:
    """Everything a consumer of ``read`` can see: each batch's rows with the warning count
    at the moment it was yielded, the warnings kept and counted, and the error that ended
    the read (class, line, reason) if one did."""
    context = ReadContext(
        source="twin", strict=strict, batch_size=batch_size, keep_warnings=keep_warnings
    )
    batches = []
    error = None
    try:
        for batch in read(io.BytesIO(data), context):
            assert batch.schema.equals(RECORD_SCHEMA, check_metadata=True)
            batches.append((batch.num_rows, context.warning_count, batch.to_pylist()))
    except HashmatchError as exc:
        error = (type(exc).__name__, exc.line, exc.reason)
    return {
        "batches": batches,
        "warnings": [(w.line, w.reason) for w in context.warnings],
        "warning_count": context.warning_count,
        "error": error,
    }


def _read_twins(
    adapter: type[FormatAdapter], data: bytes, **options: Any
) -> tuple[Observation, Observation]:
    reader = adapter()
    fast = _observe(reader.read, data, **options)
    reference = _observe(reader.read_by_line, data, **options)
    return fast, reference


@pytest.fixture(name="twins", scope="session")
def _twins() -> Twins:
    """Read bytes with an adapter's ``read`` and with its ``read_by_line`` reference twin:
    ``twins(adapter, data, strict=, batch_size=, keep_warnings=)`` gives what a consumer
    sees of each (batches and the warning count as each came, warnings, the error)."""
    return _read_twins
