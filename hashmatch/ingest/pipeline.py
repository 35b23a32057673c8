"""Ingest: adapter -> parse -> validate -> stage. Committing is the service's job.

:func:`stage_list_file` reads a list file once: it hashes the bytes as they pass (the
source SHA-256 that provenance records), lets the adapter turn them into records, parses
and checks every digest, drops what cannot be matched (malformed values, zero-length-file
digests, rows with no digest: each counted, each malformed one a warning with its line),
and writes the entries to a Parquet file in a staging name. Nothing else is touched: if
anything fails, the staging file is removed and the caller has nothing to undo.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, ReadContext, Role
from hashmatch.digests import Algorithm, digest_matrix
from hashmatch.errors import HashmatchError, IngestError, InputError
from hashmatch.index.sorted_array import leading_words
from hashmatch.ingest.parse import ParsedBatch, parse_batch
from hashmatch.model import IngestCounts, RecordWarning
from hashmatch.records import ENTRY_SCHEMA
from hashmatch.registry import AdapterRegistry

__all__ = [
    "HashingReader",
    "StagedVersion",
    "choose_adapter",
    "count_distinct",
    "read_records",
    "stage_entries",
    "stage_list_file",
]

ProgressCallback = Callable[[int], None]
"""Called with the number of source bytes read so far."""


class HashingReader(io.RawIOBase):
    """A read-only binary stream that hashes (SHA-256) and counts every byte read."""

    def __init__(self, stream: BinaryIO, progress: ProgressCallback | None = None) -> None:
        super().__init__()
        self._stream = stream
        self._sha256 = hashlib.sha256()
        self.bytes_read = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self._sha256.update(data)
        self.bytes_read += size
        if self._progress is not None and size:
            self._progress(self.bytes_read)
        return size

    def finish(self) -> str:
        """Read whatever the adapter left, and return the SHA-256 of the whole stream."""
        while chunk := self._stream.read(1 << 20):
            self._sha256.update(chunk)
            self.bytes_read += len(chunk)
            if self._progress is not None:
                self._progress(self.bytes_read)
        return self._sha256.hexdigest()


def choose_adapter(
    registry: AdapterRegistry, path: Path, fmt: str | None, role: Role
) -> type[FormatAdapter]:
    """The adapter named by ``fmt``, or the one whose sniff accepts the file's head."""
    if fmt:
        adapter = registry.get(fmt)
        if role not in adapter.ROLES:
            raise InputError(f"format {fmt!r} cannot be read as a {role.value}")
        return adapter
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    return registry.detect(head, role=role, source=path.name)


def read_records(
    adapter: FormatAdapter, stream: BinaryIO, context: ReadContext
) -> Iterator[ParsedBatch]:
    """The adapter's batches, parsed; errors are re-raised with the source name."""
    try:
        for records in adapter.read(stream, context):
            yield parse_batch(records)
    except HashmatchError as exc:
        if exc.source is None:
            exc.source = context.source
            exc.args = (exc.render(),)
        raise
    except UnicodeError as exc:
        raise InputError(f"cannot decode the file: {exc}", source=context.source) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedVersion:
    """A list file read, checked and written to a staging Parquet file, not yet committed."""

    path: Path
    source_name: str
    source_sha256: str
    source_bytes: int
    adapter: str
    adapter_version: str
    counts: IngestCounts
    warnings: tuple[RecordWarning, ...]
    warning_count: int

    def discard(self) -> None:
        """Remove the staging file (after a failure, or when the caller gives up)."""
        self.path.unlink(missing_ok=True)


def stage_list_file(
    path: Path,
    *,
    staging_dir: Path,
    registry: AdapterRegistry,
    fmt: str | None = None,
    strict: bool = False,
    batch_size: int = 262_144,
    progress: ProgressCallback | None = None,
    options: Mapping[str, str] | None = None,
) -> StagedVersion:
    """Read ``path`` as a list and write its entries to a new file in ``staging_dir``.

    Raises :class:`UnsupportedFormat` when the file is in no known format (or not in
    ``fmt``), :class:`RecordError` for a bad record under ``strict``, and
    :class:`IngestError` when the file yields no usable entry. Nothing is left behind on
    failure.
    """
    adapter_cls = choose_adapter(registry, path, fmt, Role.LIST)
    context = ReadContext(
        source=path.name,
        strict=strict,
        batch_size=batch_size,
        path=path,
        options=dict(options or {}),
    )
    staging_dir.mkdir(parents=True, exist_ok=True)
    target = staging_dir / f".staging-{uuid.uuid4().hex}.parquet"
    tally = _Tally()
    try:
        with open(path, "rb") as raw:
            reader = HashingReader(raw, progress)
            stream = io.BufferedReader(reader, buffer_size=1 << 20)
            with pq.ParquetWriter(target, ENTRY_SCHEMA, compression="zstd") as writer:
                for parsed in read_records(adapter_cls(), stream, context):
                    entries = _entries(parsed, context, tally)
                    if entries.num_rows:
                        writer.write_batch(entries)
            sha256 = reader.finish()
        if tally.entries == 0:
            raise IngestError(
                f"no usable digest in {tally.rows} records "
                f"({tally.invalid} malformed, {tally.empty_file} zero-length-file digests)",
                source=path.name,
            )
        counts = _final_counts(target, tally)
        _fsync(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StagedVersion(
        path=target,
        source_name=path.name,
        source_sha256=sha256,
        source_bytes=reader.bytes_read,
        adapter=adapter_cls.NAME,
        adapter_version=adapter_cls.VERSION,
        counts=counts,
        warnings=tuple(context.warnings),
        warning_count=context.warning_count,
    )


def stage_entries(
    *,
    kept: Iterable[pa.RecordBatch],
    records: Iterable[pa.RecordBatch],
    staging_dir: Path,
    source_name: str,
    source_sha256: str,
    source_bytes: int,
    adapter: str,
    adapter_version: str,
) -> StagedVersion:
    """Write a list version made of entries kept from another version and new records.

    ``kept`` are :data:`ENTRY_SCHEMA` batches already checked (an earlier version's rows);
    ``records`` are :data:`RECORD_SCHEMA` batches checked here as a list file's are (bad
    digests are warnings with the record's ``line``, rows without a usable digest are
    dropped). An exchange fetch loads its versions this way. A version may be empty (every
    entry withdrawn). Nothing is left behind on failure.
    """
    staging_dir.mkdir(parents=True, exist_ok=True)
    target = staging_dir / f".staging-{uuid.uuid4().hex}.parquet"
    context = ReadContext(source=source_name)
    tally = _Tally()
    try:
        with pq.ParquetWriter(target, ENTRY_SCHEMA, compression="zstd") as writer:
            for batch in kept:
                if batch.num_rows:
                    writer.write_batch(batch)
                    tally.rows += batch.num_rows
                    tally.entries += batch.num_rows
            for batch in records:
                entries = _entries(parse_batch(batch), context, tally)
                if entries.num_rows:
                    writer.write_batch(entries)
        counts = _final_counts(target, tally)
        _fsync(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StagedVersion(
        path=target,
        source_name=source_name,
        source_sha256=source_sha256,
        source_bytes=source_bytes,
        adapter=adapter,
        adapter_version=adapter_version,
        counts=counts,
        warnings=tuple(context.warnings),
        warning_count=context.warning_count,
    )


@dataclass(slots=True)
class _Tally:
    rows: int = 0
    entries: int = 0
    invalid: int = 0
    empty_file: int = 0


def _entries(parsed: ParsedBatch, context: ReadContext, tally: _Tally) -> pa.RecordBatch:
    """The rows of a parsed batch that can be matched, as ENTRY_SCHEMA; warn about the rest."""
    records = parsed.records
    lines = records.column("line").to_pylist() if parsed.problems else []
    for row, reasons in sorted(parsed.problems.items()):
        tally.invalid += len(reasons)
        for reason in reasons:
            context.warn(lines[row], reason)
    tally.rows += parsed.num_rows
    columns: dict[str, pa.Array] = {}
    for algorithm in Algorithm:
        values = parsed.digests[algorithm]
        empty = parsed.empty_file[algorithm]
        tally.empty_file += int(empty.sum())
        if empty.any():
            values = pc.if_else(pa.array(empty), pa.nulls(len(values), values.type), values)
        columns[algorithm.value] = values
    keep = parsed.any_usable()
    no_digest = ~keep & ~parsed.any_empty_file()
    for row in np.flatnonzero(no_digest).tolist():
        if row not in parsed.problems:
            line = records.column("line")[row].as_py()
            context.warn(line, "no digest on this line")
    tally.entries += int(keep.sum())
    names = _basename(records.column("path"))
    batch = pa.RecordBatch.from_arrays(
        [
            records.column("line"),
            columns["md5"],
            columns["sha1"],
            columns["sha256"],
            records.column("size"),
            names,
            records.column("labels"),
        ],
        schema=ENTRY_SCHEMA,
    )
    return batch.filter(pa.array(keep))


def _basename(paths: pa.Array) -> pa.Array:
    """Only the last component of each path: list entries keep a name, never a directory."""
    return pc.replace_substring_regex(paths, pattern=r"^.*[\\/]", replacement="")


def _final_counts(path: Path, tally: _Tally) -> IngestCounts:
    """Distinct digests per algorithm, read back from the staged file one column at a time."""
    distinct: dict[Algorithm, int] = {}
    duplicates = 0
    entries = pq.ParquetFile(path)
    for algorithm in Algorithm:
        column = entries.read(columns=[algorithm.value]).column(0)
        present = len(column) - column.null_count
        unique = count_distinct(digest_matrix(column)) if present else 0
        distinct[algorithm] = unique
        duplicates += present - unique
    return IngestCounts(
        rows=tally.rows,
        entries=tally.entries,
        md5=distinct[Algorithm.MD5],
        sha1=distinct[Algorithm.SHA1],
        sha256=distinct[Algorithm.SHA256],
        invalid=tally.invalid,
        empty_file=tally.empty_file,
        duplicates=duplicates,
    )


def count_distinct(matrix: npt.NDArray[np.uint8]) -> int:
    """Distinct digests: sort the leading 8 bytes, then settle the ties exactly.

    Ties are rare between different random digests but common in lists that repeat a
    digest on purpose (NSRL has one row per file per product): the rows that share a
    leading word are sorted by all their bytes and counted where a row differs from the
    one before it, vectorised.
    """
    words = np.sort(leading_words(matrix))
    tied = words[1:] == words[:-1]
    distinct = len(words) - int(tied.sum())
    if tied.any():
        shared = np.unique(words[1:][tied])
        leading = leading_words(matrix)
        at = np.minimum(np.searchsorted(shared, leading), len(shared) - 1)
        rows = matrix[shared[at] == leading]
        # Digests with a shared leading word: counted once above, counted exactly here.
        distinct += _distinct_rows(rows) - len(shared)
    return distinct


def _distinct_rows(rows: npt.NDArray[np.uint8]) -> int:
    """Distinct rows of an (n, width) byte matrix, by a lexicographic sort of 8-byte words."""
    if not len(rows):
        return 0
    pad = (-rows.shape[1]) % 8
    if pad:
        rows = np.concatenate([rows, np.zeros((len(rows), pad), dtype=np.uint8)], axis=1)
    words = np.ascontiguousarray(rows).view(np.uint64)
    ordered = words[np.lexsort(words.T[::-1])]
    return 1 + int(np.any(ordered[1:] != ordered[:-1], axis=1).sum())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
