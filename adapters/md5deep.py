"""md5deep / sha1deep / sha256deep output in the forms the ``md5sum`` adapter does not read.

Layouts as the real tools write them, observed with md5deep, sha1deep and sha256deep
4.4 (Debian package ``hashdeep`` 4.4-7.1) on a synthetic tree, and matching
``md5deep_display_hash`` in jessek/hashdeep ``src/display.cpp``. A line is built from
these pieces, in this order (``HEX`` is the digest; 32, 40 or 64 hex digits by tool)::

    [triage]  [size]  HEX  [time]  separator  name

* triage (``-Z``): ``SIZE<TAB>HEX-OF-THE-FIRST-512-BYTES<TAB>``. The 512-byte digest is
  never read as the file's digest: the whole-file digest is the one after it. For a file
  the tool did not hash (``-I``) the triage fields are missing and the line starts with
  a tab;
* size (``-z``): the size right-aligned in ten characters, then two spaces (``-c``: a
  comma and a space): ``         0  d41d...``;
* time (``-t``): a space (``-c``: a comma) and ``YYYY:MM:DD:HH:MM:SS``;
* separator: two spaces (plain), `` *`` (``-k``), a tab (``-Z``) or a comma (``-c``);
  hashing standard input, or ``-q``, writes no name (the line may end in two spaces).

So ``md5deep -z -k`` writes ``        21  HEX *name``, ``md5deep -c -z -t`` writes
``        21, HEX,2026:11:22:08:56:32,name``, ``md5deep -Z -z`` writes
``21<TAB>HEX512<TAB>        21  HEX<TAB>name``. The name is the rest of the line: commas,
tabs and leading spaces in it are kept. A ``-c`` name that itself starts with a
timestamp and a comma is read as ``-c -t`` output: the line does not say otherwise.

Files the tool did not hash (``-I``) have a run of ``*`` for a digest: they are read as
named rows without a digest (and without a size: md5deep writes ``0`` for them whatever
their size). Error messages go to standard error; when it was merged into the file
(``2>&1``), lines such as ``/x/a.bin: Permission denied`` or ``md5deep: ...`` are
warnings wherever they stand, and not rows. Piecewise output (``-p``) is read as it
stands: its ``offset a-b`` suffix stays in the name, and the digest is the piece's.

The plain ``HEX  name`` and ``-k`` ``HEX *name`` lines are the ``md5sum`` adapter's, and
``HASHDEEP-1.0`` files the ``hashdeep`` adapter's: this adapter reads such lines too when
it is named, but its sniffer claims a file only when a line shows a size, triage field,
timestamp or comma separator. The algorithm comes from the digest's length. ``#`` lines
and blank lines are skipped. NUL-terminated output (``-0``) is not read.

:func:`_parse_line` is the rule, piece by piece as above. :meth:`Md5deepAdapter.read` first
tries :func:`_quick`, one regular expression for a whole well-formed line (several times
quicker); any line it does not settle goes through :func:`_parse_line`, and the tests
hold the two to the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.textio import iter_line_batches

from ._common import (
    DIGEST_COLUMNS,
    MAX_SIZE,
    BatchBuffer,
    describe_bad_digest,
    head_lines,
    is_hex_digest,
)

__all__ = ["Md5deepAdapter"]

_COLUMN_BY_LENGTH = {32: 0, 40: 1, 64: 2}
"""Digest column by hex length: md5deep writes hex only, never base64."""

_TRIAGE = re.compile(r"([0-9]{1,20})\t([0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})\t")
# Twenty digits hold any 64-bit size; a digest (32 characters or more) never fits here.
_SIZE = re.compile(r" *([0-9]{1,20})(  |, )")
_TOKEN_END = re.compile(r"[ ,\t]")
_TIME = re.compile(r"[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}:[0-9]{2}:[0-9]{2}")
_TIME_LENGTH = 19

_TOOL_MESSAGE = re.compile(r"(?:md5|sha1|sha256|tiger|whirlpool|hash)deep(?:64)?(?:\.exe)?: ")
_FILE_ERROR = re.compile(
    r".+: (?:No such file or directory|Is a directory|Permission denied|"
    r"Input/output error|Too many levels of symbolic links|File name too long|"
    r"Operation not permitted|No such device or address|Resource busy|"
    r"Device or resource busy|Stale file handle)$"
)
"""What md5deep writes to standard error about a file it cannot read: its name, then the
system's reason (``strerror``)."""


_LINE = re.compile(
    r"(?:(\t)|([0-9]{1,20})\t([0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})\t)?+"
    r"(?: *([0-9]{1,20})(  |, ))?+"
    r"([^ ,\t#*]++)"
    r"(?:([ ,])[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}:[0-9]{2}:[0-9]{2})?+"
    r"(?:(,| \*|  |\t)(.*))?+",
    re.DOTALL,
)
"""A whole line in the grammar :func:`_parse_line` follows: the optional pieces are
possessive, so that, as there, a piece once found is never given back to read the line
another way. No ``#`` in the digest, so that a comment line is never one, and no ``*``:
placeholders for files not hashed are :func:`_parse_line`'s."""

_Quick = tuple[int, str, int | None, str | None, bool]
"""(digest column, digest, size, name, whether the line is distinctive) of a line."""


def _quick(line: str) -> _Quick | None:
    """The row of a well-formed line with a digest, found by one regular expression; None
    for every other line (comments, placeholders, odd lines), left to :func:`_parse_line`."""
    found = _LINE.fullmatch(line)
    if found is None:
        return None
    empty_triage, triage_size, triage_digest, size_text, size_sep, token, time_sep, sep, name = (
        found.groups()
    )
    column = _COLUMN_BY_LENGTH.get(len(token))
    if column is None or (triage_digest is not None and len(triage_digest) != len(token)):
        return None
    commas = size_sep == ", " or time_sep == "," or sep == ","
    if commas and (size_sep == "  " or time_sep == " " or sep in ("  ", " *")):
        return None
    size = None
    text = triage_size or size_text
    if text is not None:
        size = int(text)
        if size > MAX_SIZE:
            return None
    distinctive = bool(empty_triage or triage_size or size_text or time_sep or commas)
    return column, token, size, name or None, distinctive


@dataclass(frozen=True, slots=True)
class _Record:
    """One line's row, and whether the line shows a form only md5deep writes."""

    column: int
    """Digest column (0 md5, 1 sha1, 2 sha256), or -1 for a file the tool did not hash."""
    digest: str | None
    size: int | None
    name: str | None
    distinctive: bool
    warning: str | None = None
    """A problem that still leaves a row (a size out of range)."""


def _is_tool_message(line: str) -> bool:
    """An md5deep error message (from standard error, merged into the file)."""
    return bool(_TOOL_MESSAGE.match(line) or _FILE_ERROR.fullmatch(line))


def _parse_line(line: str) -> _Record | str:
    """One non-blank, non-comment line: its record, or why it is no md5deep line."""
    rest = line
    triage = False
    triage_digest: str | None = None
    size_text: str | None = None
    csv_marks: set[bool] = set()
    """Whether each separator seen is the ``-c`` one: they must agree."""
    if rest.startswith("\t"):
        # Triage output for a file it did not hash (-I): no size, no 512-byte digest.
        triage, rest = True, rest[1:]
    else:
        found = _TRIAGE.match(rest)
        if found is not None:
            triage, size_text, triage_digest = True, found[1], found[2]
            rest = rest[found.end() :]
    sized = _SIZE.match(rest)
    if sized is not None:
        if size_text is None:
            size_text = sized[1]
        csv_marks.add(sized[2] == ", ")
        rest = rest[sized.end() :]
    end = _TOKEN_END.search(rest)
    cut = end.start() if end is not None else len(rest)
    token, after = rest[:cut], rest[cut:]
    if not token:
        return f"no digest where one was expected: {line[:60]!r}"
    if token.strip("*"):
        column = _COLUMN_BY_LENGTH.get(len(token))
        if column is None:
            return describe_bad_digest(token)
        digest: str | None = token
        if triage_digest is not None and len(triage_digest) != len(token):
            return "the triage (first 512 bytes) digest and the file digest differ in length"
    else:
        column, digest = -1, None
    timed = after[:1] in (" ", ",") and _TIME.match(after, 1) is not None
    if timed:
        csv_marks.add(after[0] == ",")
        after = after[1 + _TIME_LENGTH :]
    name: str | None
    if not after or after == "  ":
        name = None  # standard input, or -q: no name
    elif after[0] == ",":
        csv_marks.add(True)
        name = after[1:]
    elif after.startswith((" *", "  ")):
        csv_marks.add(False)
        name = after[2:]
    elif after[0] == "\t":
        name = after[1:]
    else:
        return f"unexpected text after the digest: {after[:40]!r}"
    if len(csv_marks) > 1:
        return "mixes the comma (-c) and space separators"
    size: int | None = None
    warning = None
    if size_text is not None and column >= 0:
        # md5deep writes 0 as the size of a file it did not hash: that is no size.
        size = int(size_text)
        if size > MAX_SIZE:
            size, warning = None, f"size is out of range: {size_text!r}"
    return _Record(
        column=column,
        digest=digest,
        size=size,
        name=name or None,
        distinctive=triage or sized is not None or timed or True in csv_marks,
        warning=warning,
    )


def _skipped(line: str) -> bool:
    """Blank lines and ``#`` comments."""
    return not line.strip() or line.startswith("#")


class Md5deepAdapter(FormatAdapter):
    """md5deep-family output with sizes (``-z``), triage fields (``-Z``), timestamps
    (``-t``) or commas (``-c``), in any combination, ``-k`` included.

    Reads one row per line: the digest into the md5, sha1 or sha256 column by its length,
    the size, and the name into ``path``. A first line that is none of these forms is
    :class:`UnsupportedFormat`; a later one is a warning, and the line is skipped.
    """

    NAME: ClassVar[str] = "md5deep"
    DESCRIPTION: ClassVar[str] = (
        "md5deep/sha1deep/sha256deep output with -z sizes, -Z triage, -t times or -c commas"
    )
    # Before md5sum (50): md5sum would read a -t line's timestamp as part of the name.
    PRIORITY: ClassVar[int] = 40
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.MANIFEST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first data line is an md5deep line, and some line shows a form that only the
        md5deep family writes (plain ``HEX  name`` lines are left to ``md5sum``)."""
        lines, last_may_be_cut = head_lines(head)
        last = len(lines) - 1
        seen_record = False
        for index, line in enumerate(lines):
            if _skipped(line):
                continue
            parsed = _parse_line(line)
            # Sniffing asks more than reading does: a digest must really be hex.
            if isinstance(parsed, str) or not (
                parsed.digest is None or is_hex_digest(parsed.digest)
            ):
                if seen_record or _is_tool_message(line) or (last_may_be_cut and index == last):
                    continue
                return False
            if parsed.distinctive:
                return True
            seen_record = True
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per line, skipping comments, blank lines and error messages."""
        buffer = BatchBuffer(("size", "path", *DIGEST_COLUMNS))
        columns = buffer.columns
        add_line, add_size, add_path = (columns[c].append for c in ("line", "size", "path"))
        digests = [columns[c].append for c in DIGEST_COLUMNS]
        seen_record = False
        batch_size = context.batch_size
        digest: str | None
        for first, lines in iter_line_batches(stream, batch_size=batch_size):
            for number, line in enumerate(lines, start=first):
                quick = _quick(line)
                if quick is not None:
                    column, digest, size, name, _ = quick
                else:
                    if _skipped(line):
                        continue
                    parsed = _parse_line(line)
                    if isinstance(parsed, str):
                        if _is_tool_message(line):
                            context.warn(number, f"an md5deep error message: {line[:120]!r}")
                            continue
                        if not seen_record:
                            raise UnsupportedFormat(
                                f"not an md5deep line: {parsed}",
                                source=context.source,
                                line=number,
                            )
                        context.warn(number, parsed)
                        continue
                    if parsed.warning is not None:
                        context.warn(number, parsed.warning)
                    column, digest, size, name = (
                        parsed.column,
                        parsed.digest,
                        parsed.size,
                        parsed.name,
                    )
                seen_record = True
                add_line(number)
                add_size(size)
                add_path(name)
                for index, add in enumerate(digests):
                    add(digest if index == column else None)
                if len(buffer) >= batch_size:
                    yield buffer.flush()
        if len(buffer):
            yield buffer.flush()
