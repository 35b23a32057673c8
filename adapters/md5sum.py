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
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import make_batch
from hashmatch.textio import iter_lines

from ._common import (
    DIGEST_COLUMNS,
    algorithm_column,
    column_for_digest,
    describe_bad_digest,
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

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"\\": "\\", "n": "\n", "r": "\r"}

_Parsed = tuple[int, str, str | None, bool]
"""(digest column, digest text, name, whether the line was a BSD tag line)."""


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
        lines: list[int] = []
        values: list[str | None] = []
        columns: list[int] = []
        paths: list[str | None] = []
        add_line, add_value, add_column, add_path = (
            lines.append,
            values.append,
            columns.append,
            paths.append,
        )
        by_position = _COLUMN_BY_SPACE
        batch_size = context.batch_size
        seen_record = False
        for number, line in iter_lines(stream):
            if not line:
                continue
            first = line[0]
            if first == "#":
                continue
            # Fast path for the usual "HEX  name" / "HEX *name": the first space right after
            # a digest-length token. Everything else goes through _parse_line.
            space = line.find(" ")
            column = by_position.get(space)
            value = line[:space]
            if column is not None and first not in _SLOW_STARTS and "\t" not in value:
                mark = line[space + 1 : space + 2]
                name: str | None = line[space + 2 :] if mark in _MARKS else line[space + 1 :]
                if not name or name.isspace():
                    name = None
            else:
                if first in " \t" and line.isspace():
                    continue
                parsed = _parse_line(line)
                if isinstance(parsed, str):
                    if not seen_record:
                        raise UnsupportedFormat(
                            f"not an md5sum line: {parsed}", source=context.source, line=number
                        )
                    context.warn(number, parsed)
                    continue
                column, value, name, _ = parsed
            seen_record = True
            add_line(number)
            add_value(value)
            add_column(column)
            add_path(name)
            if len(lines) >= batch_size:
                yield _batch(lines, values, columns, paths)
        if lines:
            yield _batch(lines, values, columns, paths)


def _batch(
    lines: list[int], values: list[str | None], columns: list[int], paths: list[str | None]
) -> pa.RecordBatch:
    """A record batch from the buffered rows (then emptied): each value goes to its column."""
    text = pa.array(values, pa.string())
    which = np.array(columns, dtype=np.int8)
    no_text = pa.scalar(None, pa.string())
    digests = {
        name: pc.if_else(pa.array(which == index), text, no_text)
        for index, name in enumerate(DIGEST_COLUMNS)
    }
    batch = make_batch({"line": lines, "path": paths, **digests})
    for buffered in (lines, values, columns, paths):
        buffered.clear()
    return batch
