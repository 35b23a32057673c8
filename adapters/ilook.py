"""iLook hash lists, versions 1, 3 and 4 (FORMATS.md §5.4), as md5deep recognises them.

::

    V3Hash,HashSHA1,FileName,FilePath,FileSize,HashSHA256,HashSHA384,HashSHA512
    D44F...265E,5458...96DA,fixture3.bin,C:\\Fixtures,21,9A4D...7290,,

A file is this format when its first non-blank line is exactly one of the three header
lines (case-sensitive, as md5deep compares them; a BOM and CRLF are allowed):

* v1 ``V1Hash,HashType,SetDescription,FileName,FilePath,FileSize``
* v3 ``V3Hash,HashSHA1,FileName,FilePath,FileSize,HashSHA256,HashSHA384,HashSHA512``
* v4 the v3 columns then ``CreateTime,ModTime,LastAccessTime``

Rows are unquoted CSV. The first column is the MD5; v3 and v4 add SHA1 and SHA256
(SHA384 and SHA512 are not matched and are ignored, as are the v4 times). ``path`` is the
``FileName``, ``size`` the ``FileSize``. Labels: ``ilook_version`` (``"1"``, ``"3"``,
``"4"``); v1 adds ``set_name`` (``SetDescription``) and ``ilook_hash_type`` (``HashType``),
verbatim. A header line later in the file (lists concatenated) switches to its columns.

Warnings, with the line: a row with fewer fields than the SHA256 column needs (it is
read as far as it goes), a row with more fields than the header (a comma in a name: the
fields before the names are read from the left, those after from the right, and the
name, which cannot be told from the path, is left out), a size that is no byte count
(left out), a row without any digest (skipped). Missing trailing columns that hashmatch
ignores (SHA384, SHA512, the times) are no warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.labels import Label
from hashmatch.records import LabelValue, encode_labels
from hashmatch.textio import iter_lines

from ._common import BatchBuffer, head_lines, parse_size

__all__ = ["HEADERS", "ILookAdapter"]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields of one iLook version are (indices into a full-length row)."""

    version: str
    fields: int
    md5: int
    sha1: int | None
    sha256: int | None
    set_name: int | None
    hash_type: int | None
    name: int
    size: int
    used: int
    """How many leading fields a row must have to hold every field read."""


_V1 = "V1Hash,HashType,SetDescription,FileName,FilePath,FileSize"
_V3 = "V3Hash,HashSHA1,FileName,FilePath,FileSize,HashSHA256,HashSHA384,HashSHA512"
_V4 = _V3 + ",CreateTime,ModTime,LastAccessTime"

HEADERS: dict[str, str] = {"1": _V1, "3": _V3, "4": _V4}
"""The header line of each iLook version, exactly as md5deep matches it."""

_LAYOUTS: dict[str, _Layout] = {
    _V1: _Layout(
        version="1",
        fields=6,
        md5=0,
        sha1=None,
        sha256=None,
        set_name=2,
        hash_type=1,
        name=3,
        size=5,
        used=6,
    ),
    _V3: _Layout(
        version="3",
        fields=8,
        md5=0,
        sha1=1,
        sha256=5,
        set_name=None,
        hash_type=None,
        name=2,
        size=4,
        used=6,
    ),
    _V4: _Layout(
        version="4",
        fields=11,
        md5=0,
        sha1=1,
        sha256=5,
        set_name=None,
        hash_type=None,
        name=2,
        size=4,
        used=6,
    ),
}
_NAME_FIELDS = 2
"""FileName and FilePath: the fields whose commas shift the rest of a row."""
_RECORD_COLUMNS = ("md5", "sha1", "sha256", "size", "path", "labels")

_Record = tuple[str | None, str | None, str | None, int | None, str | None, str | None]


class ILookAdapter(FormatAdapter):
    """iLook v1, v3 and v4 hash lists: MD5 (and SHA1, SHA256), file name and size.

    The header line is what makes a file this format: any other first line is
    :class:`UnsupportedFormat`.
    """

    NAME: ClassVar[str] = "ilook"
    DESCRIPTION: ClassVar[str] = "iLook hash lists (V1Hash, V3Hash, V4Hash headers)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})
    PRIORITY: ClassVar[int] = 15
    """Before ``csv`` (30), which would take a v3 or v4 header for its own."""

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first non-blank line is one of the three iLook header lines."""
        lines, _ = head_lines(head)
        for line in lines:
            if line.strip():
                return line in _LAYOUTS
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per row that has a digest, in file order."""
        lines = iter_lines(stream)
        layout = _read_header(lines, context.source)
        buffer = BatchBuffer(_RECORD_COLUMNS)
        adders = [buffer.columns[name].append for name in ("line", *_RECORD_COLUMNS)]
        labels = _labels(layout, None, None)
        for number, line in lines:
            if not line.strip():
                continue
            header = _LAYOUTS.get(line)
            if header is not None:
                layout = header
                labels = _labels(layout, None, None)
                continue
            record, warnings = _parse_row(line, layout, labels)
            for reason in warnings:
                context.warn(number, reason)
            if record is None:
                continue
            for add, value in zip(adders, (number, *record), strict=True):
                add(value)
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()


def _read_header(lines: Iterator[tuple[int, str]], source: str) -> _Layout:
    """Consume the header line (the first non-blank line) and give its layout."""
    for number, line in lines:
        if not line.strip():
            continue
        layout = _LAYOUTS.get(line)
        if layout is None:
            raise UnsupportedFormat(
                f"expected an iLook header (V1Hash, V3Hash or V4Hash), got {line[:80]!r}",
                source=source,
                line=number,
            )
        return layout
    raise UnsupportedFormat("no iLook header line", source=source)


def _labels(layout: _Layout, set_name: str | None, hash_type: str | None) -> str | None:
    labels: dict[str, LabelValue] = {
        "ilook_version": layout.version,
        Label.SET_NAME: set_name,
        "ilook_hash_type": hash_type,
    }
    return encode_labels(labels)


def _parse_row(line: str, layout: _Layout, labels: str | None) -> tuple[_Record | None, list[str]]:
    """One data row: its record (None to skip it) and the reasons to warn about it."""
    warnings: list[str] = []
    fields = line.split(",")
    extra = len(fields) - layout.fields
    name: str | None
    if extra > 0:
        warnings.append(
            f"long row: {len(fields)} fields, the header has {layout.fields} "
            "(a comma in a name?): the file name is left out"
        )
        # Fields after FileName and FilePath are where they would be without the extra
        # commas: count them from the right.
        after = layout.name + _NAME_FIELDS
        fields = fields[:after] + fields[after + extra :]
        name = None
    else:
        if len(fields) < layout.used:
            warnings.append(
                f"short row: {len(fields)} fields, expected at least {layout.used} "
                f"of the header's {layout.fields}"
            )
            fields += [""] * (layout.used - len(fields))
        name = fields[layout.name] or None

    def cell(at: int | None) -> str | None:
        return (fields[at].strip() or None) if at is not None else None

    md5, sha1, sha256 = cell(layout.md5), cell(layout.sha1), cell(layout.sha256)
    if md5 is None and sha1 is None and sha256 is None:
        warnings.append("no digest on this row: skipped")
        return None, warnings
    try:
        size = parse_size(fields[layout.size])
    except ValueError as exc:
        warnings.append(str(exc))
        size = None
    if layout.set_name is not None:
        labels = _labels(layout, fields[layout.set_name] or None, cell(layout.hash_type))
    return (md5, sha1, sha256, size, name, labels), warnings
