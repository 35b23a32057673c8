"""Bare digest lists: one digest per line and nothing else.

The plainest list there is (Autopsy's "Text" import, ``cut -c1-32`` of anything): each
non-blank line that is not a ``#`` comment holds one MD5, SHA-1 or SHA-256 value, the
algorithm told by its length (32, 40 or 64 hex digits; base64 of 24, 28 or 44 characters
is read too, though only hex is sniffed). Surrounding whitespace is ignored.

Lists run to hundreds of millions of lines, so :meth:`BareDigestAdapter.read` works a
chunk of lines at a time: the lines that are exactly one hex digest, nearly all of them,
are found and placed by vectorised Arrow compute, and only the others (comments, blank
or padded lines, base64, junk) go one by one through :func:`_parse_line`, the rule that
:meth:`BareDigestAdapter.read_by_line`, the line-at-a-time reference reader, applies to
every line. Both give the same batches and the same warnings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import make_batch
from hashmatch.textio import iter_line_batches, iter_lines

from ._common import (
    BatchAssembler,
    BatchBuffer,
    TextColumn,
    column_for_digest,
    describe_bad_digest,
    digest_columns,
    head_lines,
    is_hex_digest,
)

__all__ = ["BareDigestAdapter"]

_FAST = r"^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$"
"""A line that is one hex digest and nothing else: the fast path's whole test. It needs
only the first 65 bytes of a line to decide (65 is no digest length, so ``$`` cannot match
where those bytes are cut short of the line's end)."""
_FAST_WITHIN = 65


def _problem(token: str) -> str:
    if any(c.isspace() for c in token):
        return f"expected one digest per line, got {token[:70]!r}"
    return describe_bad_digest(token)


def _parse_line(line: str) -> tuple[int, str] | str | None:
    """One line: (digest column, digest) for a record, why it is none, or None to skip it."""
    token = line.strip()
    if not token or token[0] == "#":
        return None
    column = column_for_digest(token)
    if column is None or " " in token or "\t" in token:
        return _problem(token)
    return column, token


def _not_bare(reason: str, source: str, line: int) -> UnsupportedFormat:
    return UnsupportedFormat(f"not a bare digest line: {reason}", source=source, line=line)


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
        assembler = BatchAssembler(context)
        seen_record = False
        for first, lines in iter_line_batches(stream, batch_size=context.batch_size):
            records, warnings, seen_record = _read_chunk(first, lines, seen_record, context)
            yield from assembler.add(records, warnings)
        yield from assembler.finish()

    def read_by_line(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, found one line at a time: its reference twin.

        Slower, and plain enough to check by eye; the tests hold :meth:`read` to it.
        """
        buffer = BatchBuffer(("md5", "sha1", "sha256"))
        columns = buffer.columns
        adders = (columns["md5"].append, columns["sha1"].append, columns["sha256"].append)
        seen_record = False
        for number, line in iter_lines(stream):
            parsed = _parse_line(line)
            if parsed is None:
                continue
            if isinstance(parsed, str):
                if not seen_record:
                    raise _not_bare(parsed, context.source, number)
                context.warn(number, parsed)
                continue
            seen_record = True
            column, token = parsed
            columns["line"].append(number)
            for index, add in enumerate(adders):
                add(token if index == column else None)
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()


def _read_chunk(
    first: int, lines: list[str], seen_record: bool, context: ReadContext
) -> tuple[pa.RecordBatch, list[tuple[int, str]], bool]:
    """The records and warnings of one chunk of lines (numbered from ``first``).

    Also says whether a record has been seen by the end of the chunk: a bad line before
    the first record means the file is not this format.
    """
    text = TextColumn.of(lines)
    keep = text.matches(_FAST, within=_FAST_WITHIN)
    lengths = text.lengths
    which = np.where(lengths == 32, 0, np.where(lengths == 40, 1, 2)).astype(np.int8)
    values: pa.Array = text.array
    warnings: list[tuple[int, str]] = []
    slow = np.flatnonzero(~keep)
    if slow.size:
        # A bad line is "not this format" only when no record came before it.
        first_fast = int(np.argmax(keep)) if keep.any() else len(lines)
        found: list[int] = []
        tokens: list[str] = []
        for index in slow.tolist():
            parsed = _parse_line(lines[index])
            if parsed is None:
                continue
            if isinstance(parsed, str):
                if not seen_record and index < first_fast:
                    raise _not_bare(parsed, context.source, first + index)
                warnings.append((first + index, parsed))
                continue
            seen_record = True
            which[index], token = parsed
            found.append(index)
            tokens.append(token)
        if found:
            mask = np.zeros(len(lines), dtype=bool)
            mask[found] = True
            keep |= mask
            values = pc.replace_with_mask(values, pa.array(mask), pa.array(tokens, pa.string()))
    if not keep.all():
        values = values.filter(pa.array(keep))
    numbers = np.arange(first, first + len(lines), dtype=np.int64)[keep]
    records = make_batch({"line": pa.array(numbers), **digest_columns(values, which[keep])})
    return records, warnings, seen_record or bool(keep.any())
