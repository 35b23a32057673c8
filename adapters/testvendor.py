"""``test-vendor``: the perceptual vendor the test suite uses. NOT an image hash.

It stands in for a licensed vendor (PhotoDNA and the like) so that the perceptual path of
hashmatch (licence, hashing, matching, reports, audit) can be tested end to end with
synthetic text files. Its "perceptual hash" is a 64-bit SimHash of a file's *bytes*: two
files that share most of their 4-byte sequences get hashes a few bits apart, so a copy of
a file with a few bytes changed (whose exact digests all differ) is found near the
original. It knows nothing of images: a re-encoded or resized picture shares no bytes with
the original and is not found. Never use it for real casework.

The hash, exactly: take every distinct 4-byte sequence of the file (at every offset), hash
each with BLAKE2b to 8 bytes read as a big-endian unsigned integer; bit ``i`` of the
SimHash is set when more than half of those integers have bit ``i`` set. It is written as
16 lower-case hex digits. :meth:`TestVendor.distance` is the Hamming distance (0 to 64).

Like any vendor, it is enabled only by a licence table with a non-empty key (any text)::

    [test-vendor]
    key = "anything"
    max_distance = 8            # optional; default 8 bits
    list = "/path/to/list.txt"  # optional: a vendor-side list, "<id> <hash>" per line
    list_name = "my-list"       # optional: its name in reports (default: the file's stem)
    kinds = ".txt,.bin"         # optional: hash only files with these suffixes
    max_bytes = 1048576         # optional: larger files are not hashed (default 1 MiB)

Files it does not hash: empty files, files of fewer than 4 bytes, files over ``max_bytes``,
anything that is not a regular file (a symbolic link is not followed, a FIFO is never
read), all :class:`~hashmatch.errors.FileNotHashable` with the reason; and files whose
suffix is not among ``kinds``, when it is set (``compute`` returns None).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from hashmatch.errors import ConfigurationError, FileNotHashable, NotLicensed
from hashmatch.perceptual import PerceptualVendor, VendorLicence, VendorMatch

__all__ = ["HASH_BITS", "TestVendor", "simhash"]

HASH_BITS = 64
_SHINGLE = 4
_DEFAULT_MAX_BYTES = 1 << 20
_HEX_DIGITS = HASH_BITS // 4
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_BITS = np.arange(HASH_BITS, dtype=np.uint64)


def simhash(data: bytes) -> str:
    """The 64-bit SimHash of ``data``'s distinct 4-byte sequences, as 16 hex digits.

    Raises ValueError for fewer than 4 bytes.
    """
    if len(data) < _SHINGLE:
        raise ValueError(f"fewer than {_SHINGLE} bytes")
    shingles = {data[i : i + _SHINGLE] for i in range(len(data) - _SHINGLE + 1)}
    values = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(s, digest_size=8).digest(), "big")
            for s in sorted(shingles)
        ),
        dtype=np.uint64,
        count=len(shingles),
    )
    ones = ((values[:, None] >> _BITS) & np.uint64(1)).sum(axis=0)
    bits = sum(1 << i for i in range(HASH_BITS) if 2 * int(ones[i]) > len(shingles))
    return f"{bits:0{_HEX_DIGITS}x}"


def _parse(value: str) -> int:
    text = value.strip().lower()
    if len(text) != _HEX_DIGITS or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"not a {HASH_BITS}-bit test-simhash ({_HEX_DIGITS} hex digits)")
    return int(text, 16)


class TestVendor(PerceptualVendor):
    """The test suite's vendor: a 64-bit SimHash over a file's bytes. NOT an image hash."""

    __test__ = False  # not a pytest test class, whatever its name says

    NAME: ClassVar[str] = "test-vendor"
    DESCRIPTION: ClassVar[str] = (
        "test vendor for the test suite: a 64-bit SimHash of a file's bytes, NOT an image hash"
    )
    VERSION: ClassVar[str] = "1"
    FINGERPRINT: ClassVar[str] = "test-simhash"
    DEFAULT_MAX_DISTANCE: ClassVar[float] = 8.0

    def __init__(self, licence: VendorLicence) -> None:
        if not licence.key.strip():
            raise NotLicensed(
                f"{self.NAME} needs a licence table with a non-empty key (any text does for "
                "this test vendor)"
            )
        super().__init__(licence)
        options = licence.options
        self._kinds = frozenset(
            k.strip().lower() for k in options.get("kinds", "").split(",") if k.strip()
        )
        try:
            self._max_bytes = int(options.get("max_bytes", _DEFAULT_MAX_BYTES))
        except ValueError:
            raise ConfigurationError(f"[{self.NAME}] max_bytes must be a whole number") from None
        if self._max_bytes < _SHINGLE:
            raise ConfigurationError(f"[{self.NAME}] max_bytes must be at least {_SHINGLE}")
        self._list: list[tuple[str, int]] = []
        self._list_name = ""
        listed = options.get("list")
        if listed:
            path = Path(listed)
            self._list_name = options.get("list_name") or path.stem
            self._list = _read_list(path)

    def __repr__(self) -> str:
        return f"TestVendor(licence={self.licence!r})"

    @property
    def version(self) -> str:
        """``simhash-64/1``: the algorithm and its revision."""
        return "simhash-64/1"

    def compute(self, path: Path) -> str | None:
        """The SimHash of the file's bytes; the file is opened read-only, links not followed."""
        if self._kinds and path.suffix.lower() not in self._kinds:
            return None
        try:
            descriptor = os.open(path, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileNotHashable("a symbolic link: not followed") from None
            raise FileNotHashable(f"cannot open: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise FileNotHashable("not a regular file")
        with os.fdopen(descriptor, "rb") as handle:
            try:
                data = handle.read(self._max_bytes + 1)
            except OSError as exc:
                raise FileNotHashable(f"cannot read: {exc.strerror}") from None
        if not data:
            raise FileNotHashable("empty file")
        if len(data) < _SHINGLE:
            raise FileNotHashable(f"too small: fewer than {_SHINGLE} bytes")
        if len(data) > self._max_bytes:
            raise FileNotHashable(f"larger than {self._max_bytes} bytes (max_bytes)")
        return simhash(data)

    def distance(self, a: str, b: str) -> float:
        """The Hamming distance between two hashes: how many of the 64 bits differ."""
        return float((_parse(a) ^ _parse(b)).bit_count())

    def match(self, hashes: Sequence[str]) -> list[list[VendorMatch]]:
        """Each hash's entries in the ``list`` option's file within ``max_distance``."""
        limit = self.max_distance
        out: list[list[VendorMatch]] = []
        for value in hashes:
            mine = _parse(value)
            hits = []
            for entry, listed in self._list:
                distance = float((mine ^ listed).bit_count())
                if distance <= limit:
                    hits.append(
                        VendorMatch(list_name=self._list_name, entry=entry, distance=distance)
                    )
            out.append(sorted(hits, key=lambda h: (h.distance, h.entry)))
        return out


def _read_list(path: Path) -> list[tuple[str, int]]:
    """``<id> <hash>`` lines; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(
            f"cannot read the test vendor's list: {reason}", source=str(path)
        ) from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split()
        if len(parts) != 2:
            raise ConfigurationError("expected '<id> <hash>'", source=str(path), line=number)
        try:
            entries.append((parts[0], _parse(parts[1])))
        except ValueError as exc:
            raise ConfigurationError(str(exc), source=str(path), line=number) from None
    return entries
