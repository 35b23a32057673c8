"""The one vocabulary every adapter speaks: Arrow record batches of digest-bearing rows.

Adapters turn each file format into batches of :data:`RECORD_SCHEMA`; the rest of the
system never knows which format a record came from. Digests arrive as the text the
source holds; :mod:`hashmatch.ingest` and :mod:`hashmatch.match` parse them.

Labels travel as one canonical JSON object per row (sorted keys, no spaces), so that equal
label sets compare equal as strings and group in one vectorised pass. Their content is
the source's own words, verbatim: :func:`encode_labels` never maps or renames.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from hashmatch.digests import Algorithm

__all__ = [
    "ENTRY_SCHEMA",
    "RECORD_SCHEMA",
    "LabelValue",
    "decode_labels",
    "encode_labels",
    "make_batch",
]

LabelValue = str | int | bool | None | list[str]
"""What one label may hold: the source's value, verbatim (a list for multi-valued fields)."""

RECORD_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64(), nullable=False),
        pa.field("md5", pa.string()),
        pa.field("sha1", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("path", pa.string()),
        pa.field("labels", pa.string()),
    ],
    metadata={
        "line": "1-based line (text formats) or record index where the record starts",
        "labels": "canonical JSON object of the source's labels, verbatim, or null",
    },
)
"""What adapters yield. ``line`` is where a warning or error about the row points."""

ENTRY_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64(), nullable=False),
        pa.field("md5", Algorithm.MD5.arrow_type),
        pa.field("sha1", Algorithm.SHA1.arrow_type),
        pa.field("sha256", Algorithm.SHA256.arrow_type),
        pa.field("size", pa.int64()),
        pa.field("name", pa.string()),
        pa.field("labels", pa.string()),
    ],
    metadata={"schema": "hashmatch-entries/1"},
)
"""The rows of a list version's Parquet file: parsed digests, the source's labels."""


def encode_labels(labels: Mapping[str, LabelValue] | None) -> str | None:
    """Canonical JSON for a row's labels; None when there are none."""
    if not labels:
        return None
    clean = {k: v for k, v in labels.items() if v is not None and v not in ("", [])}
    if not clean:
        return None
    return _ENCODER.encode(clean)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""One encoder for every row: ``json.dumps`` with options builds a new one per call."""


def decode_labels(text: str | None) -> dict[str, Any]:
    """The labels object back from its canonical JSON (empty when there are none)."""
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("labels must be a JSON object")
    return value


def make_batch(columns: Mapping[str, Sequence[Any]]) -> pa.RecordBatch:
    """A :data:`RECORD_SCHEMA` batch from the columns an adapter has; the rest are null.

    ``line`` is required; every given column must be as long as it.
    """
    if "line" not in columns:
        raise ValueError("a record batch needs a 'line' column")
    n = len(columns["line"])
    unknown = set(columns) - set(RECORD_SCHEMA.names)
    if unknown:
        raise ValueError(f"unknown record columns: {sorted(unknown)}")
    arrays = []
    for field in RECORD_SCHEMA:
        values = columns.get(field.name)
        if values is None:
            arrays.append(pa.nulls(n, field.type))
        else:
            if len(values) != n:
                raise ValueError(f"column {field.name!r} has {len(values)} values, expected {n}")
            arrays.append(pa.array(values, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=RECORD_SCHEMA)
