"""HashKeeper hash sets (``.hsh``): quoted CSV with a fixed 12-column header (FORMATS.md §5.2).

::

    "file_id","hashset_id","file_name","directory","hash","file_size","date_modified",...
    1,100,"fixture1.jpg","C:\\Fixtures","8AE3352BE594F4C2FC4B7D527A79ACE1",21,01/02/2024,...
    2,100,"fixture2.jpg",,"D2504396CF387B78901922B22F3F31F5",21,,,,,,

The header line is the signature (TSK checks that the first line starts with these
columns): a file whose first line is not it is :class:`UnsupportedFormat`. Text fields are
quoted (a comma inside a quoted name is part of the name), ids and sizes unquoted, an
empty ``directory`` is an unquoted empty field; Windows writes CRLF. Each data row gives
the MD5 (``hash``), the size, and ``directory\\file_name`` as the path; ``hashset_id``
becomes the ``set_name`` label, a non-empty ``comments`` the ``comments`` label, and
``file_id`` the ``hashkeeper_file_id`` label, all as the text the file holds.

Rows are parsed by the stdlib :mod:`csv` module, one at a time, over lines decoded a
chunk at a time (:func:`hashmatch.textio.iter_line_batches`: BOM, UTF-16 and CP1252 aware).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.textio import iter_line_batches

from ._common import BatchBuffer, head_lines, parse_size

__all__ = ["COLUMNS", "HEADER", "HashKeeperAdapter"]

COLUMNS: tuple[str, ...] = (
    "file_id",
    "hashset_id",
    "file_name",
    "directory",
    "hash",
    "file_size",
    "date_modified",
    "time_modified",
    "time_zone",
    "comments",
    "date_accessed",
    "time_accessed",
)
"""The columns of a HashKeeper file, in their fixed order."""

HEADER = ",".join(f'"{name}"' for name in COLUMNS)
"""The header line, exactly as HashKeeper writes it."""

_HASH = COLUMNS.index("hash")
_COMMENTS = COLUMNS.index("comments")
_SIZE_DIGITS = 18
"""Sizes of up to this many decimal digits fit an int64: read them without a second look."""
_FILE_ID_LABEL = "hashkeeper_file_id"
_json_text = json.encoder.encode_basestring
"""A JSON string literal, as :func:`hashmatch.records.encode_labels` writes one."""

# The canonical label JSON (sorted keys, no spaces, non-ASCII as is) of the three labels,
# put together without json.dumps, which costs more than the rest of a row: every row has
# its own file_id, so nothing can be cached. The tests hold it equal to encode_labels.
_KEY_COMMENTS = f'"{Label.COMMENTS}":'
_KEY_FILE_ID = f'"{_FILE_ID_LABEL}":'
_KEY_SET_NAME = f'"{Label.SET_NAME}":'


def _labels(set_id: str, comments: str, file_id: str) -> str | None:
    """``encode_labels({"set_name": set_id, "comments": comments, "hashkeeper_file_id":
    file_id})``, quicker: empty values are left out, and no labels at all are None."""
    parts = []
    if comments:
        parts.append(_KEY_COMMENTS + _json_text(comments))
    if file_id:
        parts.append(_KEY_FILE_ID + _json_text(file_id))
    if set_id:
        parts.append(_KEY_SET_NAME + _json_text(set_id))
    return "{" + ",".join(parts) + "}" if parts else None


def _join(directory: str, name: str) -> str | None:
    """``directory\\name`` as HashKeeper displays it, with the separator the directory uses
    and no doubled one; the name alone when there is no directory, None without a name."""
    if not name:
        return None
    if not directory:
        return name
    separator = "/" if "/" in directory and "\\" not in directory else "\\"
    if directory.endswith(separator):
        return directory + name
    return directory + separator + name


def _numbered(stream: BinaryIO, batch_size: int) -> Iterator[str]:
    """The stream's lines, each with the ``\\n`` the csv module needs to see where a quoted
    field runs over a line break."""
    for _, lines in iter_line_batches(stream, batch_size=batch_size):
        for line in lines:
            yield line + "\n"


class HashKeeperAdapter(FormatAdapter):
    """HashKeeper ``.hsh`` sets: MD5, size and ``directory\\file_name`` per row.

    The header is the signature, so a first line that is not the HashKeeper header is
    :class:`UnsupportedFormat`; after it, a row with more or fewer fields than the header
    (read as far as it goes; skipped when it stops before ``hash``), or a size that is not
    a byte count (read as no size), is a warning with its line. Blank lines are skipped.
    """

    NAME: ClassVar[str] = "hashkeeper"
    DESCRIPTION: ClassVar[str] = "HashKeeper hash sets (.hsh)"
    PRIORITY: ClassVar[int] = 20
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first line starts with the HashKeeper header (a byte-order mark allowed)."""
        lines, _ = head_lines(head)
        return bool(lines) and lines[0].startswith(HEADER)

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per data row: ``md5``, ``size``, ``path`` and labels."""
        lines = _numbered(stream, context.batch_size)
        first = next(lines, "").removesuffix("\n")
        if not first.startswith(HEADER):
            raise UnsupportedFormat(
                f"expected the HashKeeper header, got {first[:60]!r}",
                source=context.source,
                line=1,
            )
        # A header may go on with columns of its own after the twelve: rows then have them too.
        expected = len(next(csv.reader([first])))
        buffer = BatchBuffer(("md5", "size", "path", "labels"))
        columns = buffer.columns
        add_line, add_md5 = columns["line"].append, columns["md5"].append
        add_size, add_path = columns["size"].append, columns["path"].append
        add_labels = columns["labels"].append
        reader = csv.reader(lines)
        # The header took line 1; the reader counts the lines it consumes from there.
        done = 1
        for row in reader:
            number = done + 1
            done = reader.line_num + 1
            fields = row
            if len(row) != expected:
                if not row or row == [""]:
                    continue
                context.warn(number, f"expected {expected} fields, got {len(row)}")
                if len(row) <= _HASH:
                    continue
                fields = row + [""] * (len(COLUMNS) - len(row))
            file_id, set_id, name, directory, digest, size_text = fields[:6]
            if size_text.isascii() and size_text.isdigit() and len(size_text) <= _SIZE_DIGITS:
                add_size(int(size_text))
            else:
                try:
                    add_size(parse_size(size_text))
                except ValueError as exc:
                    add_size(None)
                    context.warn(number, f"file_size: {exc}")
            add_line(number)
            add_md5(digest.strip())
            add_path(_join(directory, name))
            add_labels(_labels(set_id.strip(), fields[_COMMENTS], file_id.strip()))
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()
