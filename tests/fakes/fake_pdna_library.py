"""A stand-in for a licensee's PhotoDNA hashing library, for tests only.

NOT PhotoDNA and not an image hash of any kind: :func:`hash_file` stretches the SHA-256 of
the file's bytes to 144 bytes (the length of a PhotoDNA hash), so that the client's
plumbing (loading ``module:function``, base64, length checks) can be tested with no
licensed code and no images. Two files that differ in one byte get unrelated values.

The functions show each way a real library may answer, as ``photodna_cloud`` documents it.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

__version__ = "0.0-synthetic"

HASH_BYTES = 144


def _stretch(data: bytes) -> bytes:
    blocks = b"".join(hashlib.sha256(bytes([i]) + data).digest() for i in range(5))
    return blocks[:HASH_BYTES]


def hash_file(path: str) -> bytes | None:
    """144 bytes derived from the file's SHA-256. Raises ValueError for an empty file;
    None for a ``.skip`` file (a kind this "library" does not hash)."""
    if path.endswith(".skip"):
        return None
    data = Path(path).read_bytes()
    if not data:
        raise ValueError("empty file")
    return _stretch(data)


def hash_file_text(path: str) -> str | None:
    """As :func:`hash_file`, as base64 text."""
    raw = hash_file(path)
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def broken(path: str) -> bytes:
    """A library that fails in a way that is no fault of the file."""
    raise RuntimeError("licence dongle not found")


def wrong_length(path: str) -> bytes:
    """A library that returns something that is not a 144-byte hash."""
    return b"\x00" * 10


def not_base64(path: str) -> str:
    """A library that returns text that is not base64."""
    return "not a hash!"


def hamming(a: bytes, b: bytes) -> int:
    """A stand-in comparison: differing bits (not PhotoDNA's measure)."""
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))


def word_distance(a: bytes, b: bytes) -> str:
    """A comparison that answers with a word, not a number."""
    return "near"


def synthetic_hash(label: str) -> str:
    """A 144-byte value (base64) derived from a label such as ``synthetic-fixture-001``."""
    return base64.b64encode(_stretch(label.encode("utf-8"))).decode("ascii")
