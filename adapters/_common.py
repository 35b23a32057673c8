"""Helpers the line-based adapters share: batch buffers, digest routing, head lines, sizes.

Nothing here knows a file format. It exists so that each adapter module stays about its
own format: how rows are gathered into :data:`hashmatch.records.RECORD_SCHEMA` batches,
which column a digest of unknown algorithm goes to, and how a sniffer looks at the
first lines of a file without tripping over a line the 64 KiB head cut in two.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from hashmatch.digests import Algorithm
from hashmatch.errors import DigestError
from hashmatch.records import make_batch
from hashmatch.textio import decode_head

__all__ = [
    "DIGEST_COLUMNS",
    "BatchBuffer",
    "algorithm_column",
    "column_for_digest",
    "describe_bad_digest",
    "head_lines",
    "is_hex_digest",
    "parse_size",
]

DIGEST_COLUMNS: tuple[str, str, str] = ("md5", "sha1", "sha256")
"""The record columns that hold digests, in the order the column indices below use."""

_COLUMN_BY_HEX_LENGTH = {32: 0, 40: 1, 64: 2}
# Base64 of 16, 20 and 32 bytes is 24, 28 and 44 characters, always ending in "=";
# no hex length collides with these.
_COLUMN_BY_B64_LENGTH = {24: 0, 28: 1, 44: 2}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def column_for_digest(token: str) -> int | None:
    """Which digest column (0 md5, 1 sha1, 2 sha256) a value of unknown algorithm goes to.

    Told from the length alone: 32, 40 or 64 characters of (supposed) hex, or 24, 28 or
    44 characters of base64 ending in ``=``. The characters are not checked: the core
    parses every digest column in one pass and reports what is not hex. None when the
    length fits no algorithm.
    """
    column = _COLUMN_BY_HEX_LENGTH.get(len(token))
    if column is None and token.endswith("="):
        column = _COLUMN_BY_B64_LENGTH.get(len(token))
    return column


def describe_bad_digest(token: str) -> str:
    """Why ``token``, which :func:`column_for_digest` placed nowhere, is not a digest."""
    if _HEX_DIGITS.issuperset(token):
        return f"{len(token)} hex digits is no md5, sha1 or sha256 digest: {token[:70]!r}"
    return f"not a digest: {token[:70]!r}"


def is_hex_digest(token: str) -> bool:
    """True for 32, 40 or 64 hex digits (any case): what a sniffer may insist on."""
    return len(token) in _COLUMN_BY_HEX_LENGTH and _HEX_DIGITS.issuperset(token)


@functools.lru_cache(maxsize=256)
def algorithm_column(name: str) -> int | None:
    """The digest column for an algorithm named in a file (``MD5``, ``SHA2-256``, ``sha-1``).

    None for an algorithm hashmatch does not match (SHA-512, BLAKE2, Tiger...).
    """
    try:
        return DIGEST_COLUMNS.index(Algorithm.parse(name).value)
    except DigestError:
        return None


class BatchBuffer:
    """Column lists for the rows of one batch, turned into a record batch by :meth:`flush`.

    Adapters append to the lists in :attr:`columns` directly (binding ``list.append``
    once per read keeps the per-line cost down); :meth:`flush` empties the lists in place,
    so those bound methods stay valid.
    """

    __slots__ = ("_line", "columns")

    def __init__(self, names: Iterable[str]) -> None:
        self.columns: dict[str, list[Any]] = {"line": []}
        for name in names:
            self.columns[name] = []
        self._line = self.columns["line"]

    def __len__(self) -> int:
        return len(self._line)

    def flush(self) -> pa.RecordBatch:
        """The buffered rows as a record batch; the buffer is empty afterwards."""
        batch = make_batch(self.columns)
        for values in self.columns.values():
            values.clear()
        return batch


def head_lines(head: bytes) -> tuple[list[str], bool]:
    """The lines of a sniffed head (BOM and UTF-16 aware, ``\\r`` stripped), never raising.

    Also says whether the last line may be incomplete: the head is the first 64 KiB of a
    file, so unless it ends with a newline its last line may have been cut in two. Lines
    are split on ``\\n`` only, as the readers do.
    """
    text = decode_head(head).removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
        return lines, False
    return lines, True


# Sizes are whole bytes, so a dot between groups of three digits is a thousands separator too.
_SIZE_GROUPED = re.compile(r"[0-9]{1,3}([,.' _\u00a0\u202f])[0-9]{3}(?:\1[0-9]{3})*")


_NO_SEPARATORS = str.maketrans("", "", ",.' _\u00a0\u202f")


def parse_size(text: str) -> int | None:
    """A file size in bytes from its text, accepting thousands separators (``1,234``, ``1 234``).

    Raises :class:`ValueError` for text that is no byte count; empty text is None.
    """
    value = text.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    if _SIZE_GROUPED.fullmatch(value):
        return int(value.translate(_NO_SEPARATORS))
    raise ValueError(f"size is not a byte count: {value[:40]!r}")
