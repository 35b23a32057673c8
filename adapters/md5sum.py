"""md5sum / sha1sum / sha256sum output (GNU coreutils, BSD ``--tag``, md5deep plain lists).

Line forms (FORMATS.md §5.3), one record per line:

* text mode ``HEX  name`` and binary mode ``HEX *name`` (md5deep's ``-k`` too); a single
  space or a tab after the digest is accepted as well;
* BSD / ``--tag``: ``MD5 (name) = HEX``, also ``SHA1``, ``SHA256``, ``SHA2-256``, and the
  base64 values ``cksum --base64`` writes after the ``=``;
* GNU escaped names: a line starting with ``\\`` has ``\\\\``, ``\\n`` and ``\\r`` escapes in its
  name (both forms above);
* a digest alone on its line (no name);
* untagged base64 values (``cksum --untagged --base64``), told from their length;
* md5deep ``-I`` lines, whose digest is a run of ``*``: the file was not hashed, so the row
  has a name and no digest.

Comment lines (``#``) and blank lines are skipped. The algorithm comes from the BSD tag,
or else from the length of the value (32 md5, 40 sha1, 64 sha256).

:meth:`Md5sumAdapter.read` works a chunk of lines at a time: lines of the usual forms
(a hex digest, then ``"  "``, ``" *"`` or ``" "`` and a name starting with a printable ASCII
character, or the digest alone) are found, cut and placed by vectorised Arrow compute;
every other line goes one by one through :func:`_parse_record`, the rule that
:meth:`Md5sumAdapter.read_by_line`, the line-at-a-time reference reader, applies to
every line. Both give the same batches and the same warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import make_batch
from hashmatch.textio import iter_line_batches, iter_lines

from ._common import (
    BatchAssembler,
    TextColumn,
    algorithm_column,
    choose,
    column_for_digest,
    describe_bad_digest,
    digest_columns,
    head_lines,
    is_hex_digest,
)

__all__ = ["Md5sumAdapter"]

_NO_DIGEST = -1
"""Column index of an md5deep ``-I`` placeholder: a named row without a digest."""

_COLUMN_BY_SPACE = {32: 0, 40: 1, 64: 2}
"""Digest column by the position of a line's first space: the fast path's whole test."""
_MARKS = frozenset({" ", "*"})
_SLOW_STARTS = frozenset({"\\", "*"})
"""First characters that need _parse_line: an escaped name, an md5deep -I placeholder."""

_Cut = Callable[[int], pa.BinaryArray]
"""Cuts every line of a chunk at one byte position (see :meth:`TextColumn.cut`)."""

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"\\": "\\", "n": "\n", "r": "\r"}

_Parsed = tuple[int, str, str | None, bool]
"""(digest column, digest text, name, whether the line was a BSD tag line)."""
_Record = tuple[int, str, str | None]
"""(digest column, digest text, name) of one record."""

_FAST = (
    r"^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})"
    r"(?:$| [!-)+-~]|  [!-~]| \*[!-~])"
)
"""The lines the vectorised path reads: a hex digest alone, or followed by one space, two
spaces or a space and ``*``, then a name that starts with printable ASCII other than a
space (so it is neither empty nor all whitespace, and the cut before it is at an ASCII
byte). :func:`_parse_record` gives exactly what the vectorised path gives for these.
Deciding takes at most :data:`_FAST_WITHIN` bytes of a line, and no ``$`` can match where
those bytes are cut short of the line's end: 67 bytes is no digest length."""
_FAST_WITHIN = 67
_SPACE, _STAR = ord(" "), ord("*")


def _unescape(name: str) -> str:
    # An escape GNU does not write is kept as it stands rather than guessed at.
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m[1], m[0]), name)


def _parse_line(line: str) -> _Parsed | str:
    """One non-blank, non-comment line: the parsed record, or why it is not one."""
    escaped = line.startswith("\\")
    if escaped:
        line = line[1:]
    space = line.find(" ")
    if space > 0 and line.startswith("(", space + 1):
        tag = line[:space]
        column = algorithm_column(tag)
        if column is not None:
            close = line.rfind(") = ")
            if close < space:
                return f"BSD tag line without ') = ': {line[:60]!r}"
            name = line[space + 2 : close]
            value = line[close + 4 :].strip()
            if not value:
                return "empty digest"
            return column, value, _unescape(name) if escaped else name, True
        if line.rfind(") = ") > space and column_for_digest(tag) is None:
            return f"unsupported algorithm {tag[:20]!r}"
    if space < 0:
        # A digest alone, or "HEX<TAB>name" (whose name then has no space).
        token, _, name = line.rstrip().partition("\t")
    else:
        token = line[:space]
        if "\t" in token:
            token, _, name = line.partition("\t")
        elif line.startswith((" ", "*"), space + 1):
            name = line[space + 2 :]
        else:
            name = line[space + 1 :]
    if not token:
        return "line does not start with a digest"
    column = _NO_DIGEST if token.strip("*") == "" else column_for_digest(token)
    if column is None:
        return describe_bad_digest(token)
    if not name or name.isspace():
        return column, token, None, False
    return column, token, _unescape(name) if escaped else name, False


def _sniff_kind(line: str) -> bool | None:
    """None: not an md5sum line; False: a digest alone; True: a digest with a name or tag.

    Sniffing asks more than reading does: an untagged value must really be hex.
    """
    parsed = _parse_line(line)
    if isinstance(parsed, str):
        return None
    _, value, name, tagged = parsed
    if tagged:
        return True
    if not is_hex_digest(value):
        return None
    return name is not None


class Md5sumAdapter(FormatAdapter):
    """md5sum, sha1sum and sha256sum output in every line form, BSD tags included.

    Reads one record per line into the md5, sha1 or sha256 column (by tag or by length)
    with the file name in ``path``; there is no size.
    """

    NAME: ClassVar[str] = "md5sum"
    DESCRIPTION: ClassVar[str] = (
        "md5sum/sha1sum/sha256sum output: 'HEX  name', 'HEX *name', BSD 'MD5 (name) = HEX'"
    )
    PRIORITY: ClassVar[int] = 50

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first data line is an md5sum line, and some line carries a name or a tag.

        A file of bare digests is left to the ``bare`` adapter.
        """
        lines, last_may_be_cut = head_lines(head)
        last = len(lines) - 1
        seen_record = False
        for index, line in enumerate(lines):
            if not line.strip() or line.startswith("#"):
                continue
            kind = _sniff_kind(line)
            if kind is None:
                if seen_record or (last_may_be_cut and index == last):
                    continue
                return False
            if kind:
                return True
            seen_record = True
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield the records of an md5sum-style file, skipping comments and blank lines.

        A first line that is no md5sum line raises :class:`UnsupportedFormat`; a later one
        is a warning, and the line is skipped.
        """
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
        numbers: list[int] = []
        values: list[str | None] = []
        columns: list[int] = []
        paths: list[str | None] = []
        seen_record = False
        for number, line in iter_lines(stream):
            parsed = _parse_record(line)
            if parsed is None:
                continue
            if isinstance(parsed, str):
                if not seen_record:
                    raise _not_md5sum(parsed, context.source, number)
                context.warn(number, parsed)
                continue
            seen_record = True
            column, value, name = parsed
            numbers.append(number)
            values.append(value)
            columns.append(column)
            paths.append(name)
            if len(numbers) >= context.batch_size:
                yield _batch(numbers, values, columns, paths)
        if numbers:
            yield _batch(numbers, values, columns, paths)


def _not_md5sum(reason: str, source: str, line: int) -> UnsupportedFormat:
    return UnsupportedFormat(f"not an md5sum line: {reason}", source=source, line=line)


def _parse_record(line: str) -> _Record | str | None:
    """One line: its record, why it is none, or None for a line to skip (comment, blank)."""
    if not line:
        return None
    first = line[0]
    if first == "#":
        return None
    # The usual "HEX  name" / "HEX *name": the first space right after a digest-length
    # token. Everything else goes through _parse_line.
    space = line.find(" ")
    column = _COLUMN_BY_SPACE.get(space)
    value = line[:space]
    if column is not None and first not in _SLOW_STARTS and "\t" not in value:
        mark = line[space + 1 : space + 2]
        name: str | None = line[space + 2 :] if mark in _MARKS else line[space + 1 :]
        if not name or name.isspace():
            name = None
        return column, value, name
    if first in " \t" and line.isspace():
        return None
    parsed = _parse_line(line)
    if isinstance(parsed, str):
        return parsed
    column, value, name, _ = parsed
    return column, value, name


def _batch(
    lines: list[int], values: list[str | None], columns: list[int], paths: list[str | None]
) -> pa.RecordBatch:
    """A record batch from the buffered rows (then emptied): each value goes to its column."""
    which = np.array(columns, dtype=np.int8)
    batch = make_batch(
        {"line": lines, "path": paths, **digest_columns(pa.array(values, pa.string()), which)}
    )
    for buffered in (lines, values, columns, paths):
        buffered.clear()
    return batch


def _read_chunk(
    first: int, lines: list[str], seen_record: bool, context: ReadContext
) -> tuple[pa.RecordBatch, list[tuple[int, str]], bool]:
    """The records and warnings of one chunk of lines (numbered from ``first``).

    Also says whether a record has been seen by the end of the chunk: a bad line before
    the first record means the file is not this format.
    """
    text = TextColumn.of(lines)
    keep = text.matches(_FAST, within=_FAST_WITHIN)
    # Where the digest ends (the line's end or its first space), and where the name starts.
    lengths = text.lengths
    size = np.where(
        (lengths == 32) | (text.byte_at(32) == _SPACE),
        32,
        np.where((lengths == 40) | (text.byte_at(40) == _SPACE), 40, 64),
    )
    mark = text.byte_at(size + 1)
    named = keep & (lengths > size)
    start = size + 1 + ((mark == _SPACE) | (mark == _STAR))
    which = ((size > 32).astype(np.int8) + (size > 40)).astype(np.int8)
    values = _pieces(keep, size, lambda n: text.cut(0, n))
    names = _pieces(named, start, text.cut)
    if not named.all():
        names = choose(named, names)
    warnings: list[tuple[int, str]] = []
    slow = np.flatnonzero(~keep)
    if slow.size:
        # A bad line is "not this format" only when no record came before it.
        first_fast = int(np.argmax(keep)) if keep.any() else len(lines)
        found: list[int] = []
        found_values: list[str] = []
        found_names: list[str | None] = []
        for index in slow.tolist():
            parsed = _parse_record(lines[index])
            if parsed is None:
                continue
            if isinstance(parsed, str):
                if not seen_record and index < first_fast:
                    raise _not_md5sum(parsed, context.source, first + index)
                warnings.append((first + index, parsed))
                continue
            seen_record = True
            which[index], value, name = parsed
            found.append(index)
            found_values.append(value)
            found_names.append(name)
        if found:
            mask = np.zeros(len(lines), dtype=bool)
            mask[found] = True
            keep |= mask
            chosen = pa.array(mask)
            values = pc.replace_with_mask(values, chosen, pa.array(found_values, pa.binary()))
            names = pc.replace_with_mask(names, chosen, pa.array(found_names, pa.binary()))
    if not keep.all():
        chosen = pa.array(keep)
        values, names = values.filter(chosen), names.filter(chosen)
    numbers = np.arange(first, first + len(lines), dtype=np.int64)[keep]
    records = make_batch(
        {
            "line": pa.array(numbers),
            "path": names.view(pa.string()),
            **digest_columns(values.view(pa.string()), which[keep]),
        }
    )
    return records, warnings, seen_record or bool(keep.any())


def _pieces(rows: npt.NDArray[np.bool_], at: npt.NDArray[np.int64], cut: _Cut) -> pa.Array:
    """``cut(at)`` of each line in ``rows`` (other lines get anything), with one vectorised
    cut per distinct value of ``at``: there are a few at most (digest lengths, marks)."""
    positions = np.flatnonzero(np.bincount(at[rows])).tolist() or [0]
    pieces = cut(positions[0])
    for position in positions[1:]:
        pieces = pc.if_else(pa.array(at == position), cut(position), pieces)
    return pieces
