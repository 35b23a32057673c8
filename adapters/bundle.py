"""The entries file of a hashmatch bundle: ``entries.parquet`` (``hashmatch-entries/1``).

A bundle (:mod:`hashmatch.bundle`) is a folder with a manifest, its signature and this
Parquet file; the service checks the manifest and signature first, then reads the
entries through this adapter like any other list file. The file holds
:data:`hashmatch.records.ENTRY_SCHEMA` rows (binary digests, the entry's file name, its
labels as canonical JSON) and says so in its schema metadata (``schema:
hashmatch-entries/1``); a Parquet file without that is not this format. The entries file
of a list version that hashmatch itself stored is in the same format and reads too.

Records are numbered by row (1-based), which is what ``line`` means here. Digests are
handed on as lower-case hex text, to be parsed and checked by the core as from any other
format. Rows the writer should never have produced (no digest at all, a negative size,
labels that are not a JSON object) are warnings with their row number, and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.ingest.parse import hex_column
from hashmatch.records import ENTRY_SCHEMA, RECORD_SCHEMA

from ._common import local_path

__all__ = ["BundleAdapter"]

MAGIC = b"PAR1"
"""Every Parquet file starts (and ends) with these bytes."""
SCHEMA_NAME = ENTRY_SCHEMA.metadata[b"schema"]
"""``hashmatch-entries/1``: what the file's schema metadata must say."""

BoolArray = npt.NDArray[np.bool_]


class BundleAdapter(FormatAdapter):
    """Reads the ``entries.parquet`` of a hashmatch bundle (``hashmatch-entries/1``).

    Parquet needs random access (its index is at the end), so the stream is read from
    the file itself when ``context.path`` is set, or copied to a temporary file first.
    """

    NAME: ClassVar[str] = "hashmatch-bundle"
    DESCRIPTION: ClassVar[str] = "hashmatch bundle entries (entries.parquet, hashmatch-entries/1)"
    PRIORITY: ClassVar[int] = 5
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A Parquet file: it starts with ``PAR1``. (Whether it holds entries is only
        known from its footer, which :meth:`read` checks.)"""
        return head.startswith(MAGIC)

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield the entries as records, ``context.batch_size`` rows at a time at most."""
        with local_path(stream, context) as path:
            try:
                entries = pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise UnsupportedFormat(
                    f"not a Parquet file ({_first_line(exc)})", source=context.source
                ) from None
            with entries:
                _check_schema(entries.schema_arrow, context.source)
                first = 1
                for batch in entries.iter_batches(
                    batch_size=context.batch_size, columns=ENTRY_SCHEMA.names
                ):
                    records = _records(batch, first, context)
                    first += batch.num_rows
                    if records.num_rows:
                        yield records


def _check_schema(schema: pa.Schema, source: str) -> None:
    """Raise :class:`UnsupportedFormat` unless ``schema`` is a ``hashmatch-entries/1`` one."""
    said = (schema.metadata or {}).get(b"schema")
    if said != SCHEMA_NAME:
        raise UnsupportedFormat(
            "not a hashmatch bundle entries file (a Parquet file whose schema metadata "
            f"does not say {SCHEMA_NAME.decode()})",
            source=source,
        )
    for field in ENTRY_SCHEMA:
        index = schema.get_field_index(field.name)
        if index < 0 or not schema.field(index).type.equals(field.type):
            raise UnsupportedFormat(
                f"a {SCHEMA_NAME.decode()} file whose column {field.name!r} is missing "
                f"or not {field.type}",
                source=source,
            )


def _records(batch: pa.RecordBatch, first: int, context: ReadContext) -> pa.RecordBatch:
    """The rows of ``batch`` (whose first row is number ``first``) as records; a warning
    for each row that cannot be one."""
    n = batch.num_rows
    lines = np.arange(first, first + n, dtype=np.int64)
    problems: dict[int, str] = {}
    no_digest = np.ones(n, dtype=bool)
    for name in ("md5", "sha1", "sha256"):
        no_digest &= batch.column(name).is_null().to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(no_digest).tolist():
        problems[row] = "no digest in this entry"
    sizes = batch.column("size")
    negative = pc.fill_null(pc.less(sizes, 0), False).to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(negative).tolist():
        problems.setdefault(row, f"size is negative: {sizes[row].as_py()}")
    for row, text in _bad_labels(batch.column("labels")):
        problems.setdefault(row, f"labels are not a JSON object: {text[:70]!r}")
    for row in sorted(problems):
        context.warn(int(lines[row]), problems[row])
    keep = np.ones(n, dtype=bool)
    keep[list(problems)] = False
    records = pa.RecordBatch.from_arrays(
        [
            pa.array(lines, pa.int64()),
            hex_column(batch.column("md5")),
            hex_column(batch.column("sha1")),
            hex_column(batch.column("sha256")),
            sizes,
            batch.column("name"),
            batch.column("labels"),
        ],
        schema=RECORD_SCHEMA,
    )
    return records if not problems else records.filter(pa.array(keep))


def _bad_labels(labels: pa.Array) -> Iterator[tuple[int, str]]:
    """(row, text) of every labels value that is not a JSON object.

    Each distinct text is decoded once: a list repeats a few label sets many times.
    """
    distinct = pc.unique(labels).drop_null()
    bad = [text for text in distinct.to_pylist() if not _is_object(text)]
    if not bad:
        return
    rows = pc.is_in(labels, value_set=pa.array(bad, pa.string()))
    found: BoolArray = pc.fill_null(rows, False).to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(found).tolist():
        yield row, labels[row].as_py()


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
