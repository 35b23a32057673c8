"""From adapter records to parsed digests: one pass per batch, shared by ingest and match.

Every digest column of a :data:`~hashmatch.records.RECORD_SCHEMA` batch is parsed with
:func:`~hashmatch.digests.parse_digest_column`; the outcome says, per row, which digests
are usable, which values were malformed (and why), and which are the digests of a
zero-length file (usable as values, but they match nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm, digest_matrix, parse_digest_column

__all__ = ["ParsedBatch", "hex_column", "parse_batch"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedBatch:
    """A record batch with its digests parsed."""

    records: pa.RecordBatch
    """The batch as the adapter gave it."""
    digests: dict[Algorithm, pa.FixedSizeBinaryArray]
    """Parsed digests per algorithm; null where absent or malformed."""
    problems: dict[int, list[str]]
    """Row -> what was wrong with each malformed value of that row."""
    empty_file: dict[Algorithm, BoolArray]
    """Per algorithm, rows whose digest is the zero-length-file digest."""

    @property
    def num_rows(self) -> int:
        return int(self.records.num_rows)

    def usable(self, algorithm: Algorithm) -> BoolArray:
        """Rows with a parsed digest of ``algorithm`` that is not the empty-file one."""
        present: BoolArray = self.digests[algorithm].is_valid().to_numpy(zero_copy_only=False)
        return present & ~self.empty_file[algorithm]

    def any_usable(self) -> BoolArray:
        """Rows with at least one usable digest."""
        out = np.zeros(self.num_rows, dtype=bool)
        for algorithm in Algorithm:
            out |= self.usable(algorithm)
        return out

    def any_empty_file(self) -> BoolArray:
        """Rows with at least one zero-length-file digest."""
        out = np.zeros(self.num_rows, dtype=bool)
        for algorithm in Algorithm:
            out |= self.empty_file[algorithm]
        return out


def parse_batch(records: pa.RecordBatch) -> ParsedBatch:
    """Parse every digest column of ``records``."""
    digests: dict[Algorithm, pa.FixedSizeBinaryArray] = {}
    problems: dict[int, list[str]] = {}
    empty: dict[Algorithm, BoolArray] = {}
    n = records.num_rows
    for algorithm in Algorithm:
        parsed = parse_digest_column(records.column(algorithm.value), algorithm)
        digests[algorithm] = parsed.values
        for row, reason in parsed.errors.items():
            problems.setdefault(row, []).append(reason)
        empty[algorithm] = _equals_constant(parsed.values, EMPTY_FILE_DIGESTS[algorithm], n)
    return ParsedBatch(records=records, digests=digests, problems=problems, empty_file=empty)


def _equals_constant(values: pa.FixedSizeBinaryArray, constant: bytes, n: int) -> BoolArray:
    out = np.zeros(n, dtype=bool)
    if values.null_count == n:
        return out
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    matrix = digest_matrix(values)
    out[np.flatnonzero(valid)] = np.all(matrix == np.frombuffer(constant, np.uint8), axis=1)
    return out


_HEX_PAIRS = np.array(
    [int.from_bytes(f"{b:02x}".encode(), "little") for b in range(256)], dtype=np.uint16
)


def hex_column(values: pa.FixedSizeBinaryArray) -> pa.StringArray:
    """Lower-case hex strings of a fixed-size-binary column, nulls kept, in one numpy pass."""
    n = len(values)
    width = values.type.byte_width
    if values.null_count == n:
        empty = pa.nulls(n, pa.string())
        assert isinstance(empty, pa.StringArray)
        return empty
    validity = None
    if values.null_count:
        valid = values.is_valid()
        out = np.zeros((n, width), dtype=np.uint16)
        out[valid.to_numpy(zero_copy_only=False)] = _HEX_PAIRS[digest_matrix(values)]
        validity = valid.buffers()[1]
    else:
        out = _HEX_PAIRS[digest_matrix(values)]
    # Every string is 2 * width characters: offsets are a plain arithmetic sequence.
    offsets = np.arange(0, (n + 1) * 2 * width, 2 * width, dtype=np.int32)
    strings = pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets),
        pa.py_buffer(np.ascontiguousarray(out)),
        validity,
        values.null_count,
    )
    assert isinstance(strings, pa.StringArray)
    return strings
