"""Digest values: algorithms, parsing of hex and base64 text, and the empty-file digests.

Two paths share one set of rules:

* :func:`parse_digest` parses one value and says exactly what is wrong with a bad one;
* :func:`parse_digest_column` parses a whole Arrow column at once (the ingest and match
  hot path), taking the vectorised route for well-formed hex and falling back to
  :func:`parse_digest` only for the values that need a reason or a second look.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.errors import DigestError

__all__ = [
    "EMPTY_FILE_DIGESTS",
    "Algorithm",
    "ColumnParse",
    "Digest",
    "detect_algorithm",
    "digest_matrix",
    "is_empty_file_digest",
    "parse_digest",
    "parse_digest_column",
]


class Algorithm(enum.StrEnum):
    """A digest algorithm that hashmatch matches exactly."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"

    @property
    def width(self) -> int:
        """Digest length in bytes."""
        return _WIDTHS[self]

    @property
    def hex_length(self) -> int:
        """Digest length in hex digits."""
        return 2 * _WIDTHS[self]

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type digests of this algorithm are stored as."""
        return pa.binary(_WIDTHS[self])

    @classmethod
    def parse(cls, name: str) -> Algorithm:
        """Accept the spellings found in the wild: ``MD5``, ``sha-1``, ``SHA256``, ``sha2_256``."""
        key = re.sub(r"[^a-z0-9]", "", name.strip().lower())
        key = {"sha2256": "sha256", "sha2": "sha256"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(a.value for a in cls)
            raise DigestError(f"unknown algorithm {name!r} (expected one of {known})") from None


_WIDTHS = {Algorithm.MD5: 16, Algorithm.SHA1: 20, Algorithm.SHA256: 32}
_BY_HEX_LENGTH = {2 * w: a for a, w in _WIDTHS.items()}
_BY_B64_LENGTH = {len(base64.b64encode(bytes(w))): a for a, w in _WIDTHS.items()}
_HEX = re.compile(r"[0-9a-fA-F]+")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")

EMPTY_FILE_DIGESTS: dict[Algorithm, bytes] = {
    Algorithm.MD5: bytes.fromhex("d41d8cd98f00b204e9800998ecf8427e"),
    Algorithm.SHA1: bytes.fromhex("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    Algorithm.SHA256: bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
}
"""Digests of a zero-length file: on many lists, and a match on them means nothing."""


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest: an algorithm and the raw bytes."""

    algorithm: Algorithm
    value: bytes

    def __post_init__(self) -> None:
        if len(self.value) != self.algorithm.width:
            raise DigestError(
                f"{self.algorithm.value} digest must be {self.algorithm.width} bytes, "
                f"got {len(self.value)}"
            )

    @property
    def hex(self) -> str:
        """Lower-case hex, the form every report uses."""
        return self.value.hex()

    @property
    def is_empty_file(self) -> bool:
        """True for the digest of a zero-length file."""
        return EMPTY_FILE_DIGESTS[self.algorithm] == self.value

    def __str__(self) -> str:
        return f"{self.algorithm.value}:{self.hex}"


def is_empty_file_digest(algorithm: Algorithm, value: bytes) -> bool:
    """True when ``value`` is the digest of a zero-length file."""
    return EMPTY_FILE_DIGESTS[algorithm] == value


def detect_algorithm(text: str) -> Algorithm | None:
    """Guess the algorithm from the length of a hex value (32, 40 or 64 digits)."""
    return _BY_HEX_LENGTH.get(len(_clean(text)))


def _clean(text: str) -> str:
    """Strip what surrounds a digest in the wild: spaces, quotes, an md5sum ``*`` marker.

    ``certutil`` on older Windows puts a space between byte pairs; those go too.
    """
    value = text.strip().strip("\"'").strip().lstrip("*")
    if " " in value and _HEX.fullmatch(value.replace(" ", "")):
        value = value.replace(" ", "")
    return value


def parse_digest(text: str, algorithm: Algorithm | None = None) -> Digest:
    """Parse one digest from hex (any case) or base64.

    Without ``algorithm`` the algorithm is told from the hex length. Raises
    :class:`DigestError` with the reason: empty, wrong length for the algorithm, not hex.
    """
    value = _clean(text)
    if not value:
        raise DigestError("empty digest")
    if algorithm is None:
        algorithm = _BY_HEX_LENGTH.get(len(value))
        if algorithm is None:
            if _HEX.fullmatch(value):
                raise DigestError(
                    f"{len(value)} hex digits is no known digest length "
                    "(md5 32, sha1 40, sha256 64)"
                )
            raise DigestError(f"not a hex digest: {_show(value)}")
    if len(value) == algorithm.hex_length:
        if _HEX.fullmatch(value):
            return Digest(algorithm, bytes.fromhex(value))
        raise DigestError(f"{algorithm.value} digest is not hex: {_show(value)}")
    if len(value) == _b64_length(algorithm) and _B64.fullmatch(value):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == algorithm.width:
            return Digest(algorithm, raw)
    if _HEX.fullmatch(value):
        raise DigestError(
            f"{algorithm.value} digest must have {algorithm.hex_length} hex digits, "
            f"got {len(value)}"
        )
    raise DigestError(f"{algorithm.value} digest is not hex or base64: {_show(value)}")


def _b64_length(algorithm: Algorithm) -> int:
    return next(n for n, a in _BY_B64_LENGTH.items() if a is algorithm)


def _show(value: str, limit: int = 80) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


# Maps an ASCII byte to its nibble value; 255 marks a byte that is not a hex digit.
_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


@dataclass(frozen=True, slots=True)
class ColumnParse:
    """The outcome of parsing one column of digest text.

    ``values`` holds the parsed digests (null where the input was null or bad);
    ``errors`` maps the row index of each bad value to the reason.
    """

    values: pa.FixedSizeBinaryArray
    errors: dict[int, str]


def parse_digest_column(column: pa.Array | pa.ChunkedArray, algorithm: Algorithm) -> ColumnParse:
    """Parse a string column of digests into a fixed-width binary column.

    Null and empty values stay null without error (a missing digest is not a malformed
    one). Well-formed hex is decoded in one vectorised pass; anything else goes through
    :func:`parse_digest`, so that base64 and quoted values parse and bad values get a reason.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    width = algorithm.width
    if column.null_count == n:
        return ColumnParse(
            values=_fixed_binary(np.zeros((n, width), np.uint8), np.zeros(n, bool)), errors={}
        )
    if column.type != pa.string():
        column = column.cast(pa.string())
    raw_lengths = pc.binary_length(column)
    if column.null_count == 0 and pc.all(pc.equal(raw_lengths, algorithm.hex_length)).as_py():
        # The usual case, every value exactly one digest long: nothing to trim (a value
        # with blanks in it is not hex and takes the slow path, which strips it).
        trimmed = column
    else:
        trimmed = pc.utf8_trim_whitespace(column)
    # Byte lengths: a value of exactly 2 * width bytes is a candidate for the fast path,
    # which decodes every candidate at once through the nibble table; a candidate with
    # any byte that is not a hex digit (non-ASCII included) goes to the exact slow path.
    lengths = pc.fill_null(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False)
    present = lengths > 0
    candidates = np.flatnonzero(lengths == algorithm.hex_length)
    fast_np = np.zeros(n, dtype=bool)
    out = np.zeros((n, width), dtype=np.uint8)
    if candidates.size:
        # Every value a candidate (the usual case): no gather needed.
        chosen = trimmed if candidates.size == n else trimmed.take(pa.array(candidates))
        offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int32)
        start = int(offsets[chosen.offset])
        count = len(chosen)
        text = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[
            start : start + count * algorithm.hex_length
        ]
        nibbles = _NIBBLE[text].reshape(count, width, 2)
        hex_ok = (nibbles != 255).all(axis=(1, 2))
        if candidates.size == n and hex_ok.all():
            fast_np[:] = True
            out[:] = (nibbles[:, :, 0] << 4) | nibbles[:, :, 1]
        else:
            rows = candidates[hex_ok]
            fast_np[rows] = True
            good = nibbles[hex_ok]
            out[rows] = (good[:, :, 0] << 4) | good[:, :, 1]
    valid = fast_np.copy()
    errors: dict[int, str] = {}
    slow = np.flatnonzero(present & ~fast_np)
    if slow.size:
        texts = trimmed.take(pa.array(slow)).to_pylist()
        for row, text in zip(slow.tolist(), texts, strict=True):
            if not _clean(text):
                continue  # only quotes or a lone marker: a missing digest, as a blank cell
            try:
                out[row] = np.frombuffer(parse_digest(text, algorithm).value, dtype=np.uint8)
                valid[row] = True
            except DigestError as exc:
                errors[row] = exc.reason
    return ColumnParse(values=_fixed_binary(out, valid), errors=errors)


def _fixed_binary(
    rows: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_]
) -> pa.FixedSizeBinaryArray:
    n, width = rows.shape
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), n, [validity, pa.py_buffer(np.ascontiguousarray(rows))]
    )
    assert isinstance(array, pa.FixedSizeBinaryArray)
    return array


def digest_matrix(column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint8]:
    """The non-null values of a fixed-size-binary column as an (n, width) uint8 matrix."""
    width = column.type.byte_width
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    present = column.drop_null() if column.null_count else column
    data = np.frombuffer(present.buffers()[1], dtype=np.uint8)
    start = present.offset * width
    return data[start : start + len(present) * width].reshape(len(present), width)
