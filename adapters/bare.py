"""Bare digest lists: one digest per line and nothing else.

The plainest list there is (Autopsy's "Text" import, ``cut -c1-32`` of anything): each
non-blank line that is not a ``#`` comment holds one MD5, SHA-1 or SHA-256 value, the
algorithm told by its length (32, 40 or 64 hex digits; base64 of 24, 28 or 44 characters
is read too, though only hex is sniffed). Surrounding whitespace is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.textio import iter_lines

from ._common import (
    BatchBuffer,
    column_for_digest,
    describe_bad_digest,
    head_lines,
    is_hex_digest,
)

__all__ = ["BareDigestAdapter"]


def _problem(token: str) -> str:
    if any(c.isspace() for c in token):
        return f"expected one digest per line, got {token[:70]!r}"
    return describe_bad_digest(token)


class BareDigestAdapter(FormatAdapter):
    """One digest per line (MD5, SHA-1 or SHA-256 by length), with ``#`` comments allowed.

    Only digests: no names, no sizes. Tried last by auto-detection, since many formats
    look like this one for a line or two.
    """

    NAME: ClassVar[str] = "bare"
    DESCRIPTION: ClassVar[str] = "one hex digest per line (md5, sha1 or sha256 by length)"
    PRIORITY: ClassVar[int] = 90

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """Every data line of the head is a single 32, 40 or 64 digit hex token.

        The head's last line may have been cut by the 64 KiB limit, so it is ignored when
        it does not fit.
        """
        lines, last_may_be_cut = head_lines(head)
        last = len(lines) - 1
        seen = False
        for index, line in enumerate(lines):
            token = line.strip()
            if not token or token.startswith("#"):
                continue
            if not is_hex_digest(token):
                if last_may_be_cut and index == last:
                    break
                return False
            seen = True
        return seen

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per digest line; a line that is not one digest is a warning."""
        buffer = BatchBuffer(("md5", "sha1", "sha256"))
        add_line = buffer.columns["line"].append
        add_md5 = buffer.columns["md5"].append
        add_sha1 = buffer.columns["sha1"].append
        add_sha256 = buffer.columns["sha256"].append
        batch_size = context.batch_size
        seen_record = False
        for number, line in iter_lines(stream):
            token = line.strip()
            if not token or token[0] == "#":
                continue
            column = column_for_digest(token)
            if column is None or " " in token or "\t" in token:
                reason = _problem(token)
                if not seen_record:
                    raise UnsupportedFormat(
                        f"not a bare digest line: {reason}", source=context.source, line=number
                    )
                context.warn(number, reason)
                continue
            seen_record = True
            add_line(number)
            add_md5(token if column == 0 else None)
            add_sha1(token if column == 1 else None)
            add_sha256(token if column == 2 else None)
            if len(buffer) >= batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()
