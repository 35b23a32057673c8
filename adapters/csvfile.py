"""Delimited text with a header row: vendor exports, PowerShell ``Get-FileHash``, ICSE baselines.

The header row says which column is which, through the alias table of FORMATS.md §6.10
(matched case-insensitively, ignoring spaces and a byte-order mark):

* md5: ``MD5``, ``MD5 Hash``, ``Hash Value``; sha1: ``SHA1``, ``SHA-1``, ``SHA1 Hash``,
  ``HashSHA1``; sha256: ``SHA256``, ``SHA-256``, ``SHA-256 Hash``, ``SHA256 Hash``,
  ``HashSHA256``;
* ``Hash``: a digest whose algorithm the row's ``Algorithm`` column names (PowerShell
  ``Get-FileHash | Export-Csv``) or, without one, its length tells (32 md5, 40 sha1,
  64 sha256);
* size: ``Size``, ``File Size``, ``FileSize``, ``Size (bytes)``, ``Logical Size``, read
  leniently (``1,234`` and ``1 234`` are 1234);
* path: ``Path``, ``Location``, ``Full Path``, ``FilePath``, ``Directory Path``,
  ``FileNames``, ``File Location``; name: ``Name``, ``File Name``, ``FileName``. With
  both, a path that does not already end in the name is taken for its directory and
  joined to it with the separator the directory uses;
* ``Category``: kept as the label ``category``, verbatim.

The delimiter is whichever of ``,`` ``;`` and tab makes the header row a header; quoting
follows the stdlib :mod:`csv` module (doubled quotes, newlines inside quoted fields). A
leading ``#TYPE ...`` line (Windows PowerShell 5.1) is skipped. Other columns are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import encode_labels
from hashmatch.textio import iter_lines

from ._common import BatchBuffer, algorithm_column, column_for_digest, head_lines, parse_size

__all__ = ["CsvAdapter"]

DELIMITERS = (",", ";", "\t")

_ALIASES: dict[str, tuple[str, ...]] = {
    "md5": ("MD5", "MD5 Hash", "Hash Value"),
    "sha1": ("SHA1", "SHA-1", "SHA1 Hash", "HashSHA1"),
    "sha256": ("SHA256", "SHA-256", "SHA-256 Hash", "SHA256 Hash", "HashSHA256"),
    "hash": ("Hash",),
    "algorithm": ("Algorithm",),
    "size": ("Size", "File Size", "FileSize", "Size (bytes)", "Logical Size"),
    "path": (
        "Path",
        "Location",
        "Full Path",
        "FilePath",
        "Directory Path",
        "FileNames",
        "File Location",
    ),
    "name": ("Name", "File Name", "FileName"),
    "category": ("Category",),
}
"""Header names per role, in order of preference when a file has more than one."""


def _key(header: str) -> str:
    return "".join(header.replace("\ufeff", "").split()).lower()


_ROLE_OF = {_key(alias): role for role, aliases in _ALIASES.items() for alias in aliases}
_RANK_OF = {
    _key(alias): rank for aliases in _ALIASES.values() for rank, alias in enumerate(aliases)
}
_DIGEST_ROLES = ("md5", "sha1", "sha256", "hash")
_LABEL_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which field of a row plays which role (None: no such column)."""

    delimiter: str
    fields: int
    md5: int | None = None
    sha1: int | None = None
    sha256: int | None = None
    hash: int | None = None
    algorithm: int | None = None
    size: int | None = None
    path: int | None = None
    name: int | None = None
    category: int | None = None


def _layout(headers: Sequence[str], delimiter: str) -> _Layout | None:
    """The layout a header row declares, or None when it names no digest column."""
    chosen: dict[str, tuple[int, int]] = {}
    for index, header in enumerate(headers):
        key = _key(header)
        role = _ROLE_OF.get(key)
        if role is None:
            continue
        rank = _RANK_OF[key]
        if role not in chosen or rank < chosen[role][0]:
            chosen[role] = (rank, index)
    if not any(role in chosen for role in _DIGEST_ROLES):
        return None
    roles = {role: index for role, (_, index) in chosen.items()}
    return _Layout(delimiter=delimiter, fields=len(headers), **roles)


def _parse_header(line: str) -> _Layout | None:
    """The delimiter and layout of a header line: the delimiter that gives the most fields
    among those that make a header with a digest column."""
    best: _Layout | None = None
    for delimiter in DELIMITERS:
        if delimiter not in line and best is not None:
            continue
        headers = next(csv.reader([line], delimiter=delimiter), [])
        layout = _layout(headers, delimiter)
        if layout is not None and (best is None or layout.fields > best.fields):
            best = layout
    return best


def _join(directory: str, name: str) -> str:
    """``directory`` and ``name`` as one path, unless ``directory`` already ends in ``name``."""
    if not directory:
        return name
    if not name or directory == name:
        return directory
    separator = "\\" if "\\" in directory and "/" not in directory else "/"
    if directory.endswith(separator + name):
        return directory
    if directory.endswith(separator):
        return directory + name
    return directory + separator + name


class CsvAdapter(FormatAdapter):
    """Delimited exports with a header row naming at least one digest column.

    The header row is what makes a file this format: without a digest column it is
    :class:`UnsupportedFormat`. Rows with too few or too many fields are warnings (their
    fields are still read where they are), as are sizes that are not byte counts.
    """

    NAME: ClassVar[str] = "csv"
    DESCRIPTION: ClassVar[str] = "CSV/TSV with a header row (MD5, SHA1, SHA256, Hash, Path...)"
    PRIORITY: ClassVar[int] = 30

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first line (after an optional ``#TYPE`` line) is a header with a digest column."""
        lines, _ = head_lines(head)
        for line in lines[:2]:
            if line.startswith("#TYPE"):
                continue
            try:
                return _parse_header(line) is not None
            except csv.Error:
                return False
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per data row; ``line`` is the physical line the row starts on."""
        source = context.source
        lines = iter_lines(stream)
        for header_number, text in lines:
            if header_number == 1 and text.startswith("#TYPE"):
                continue
            if not text.strip():
                raise UnsupportedFormat("no header row", source=source, line=header_number)
            try:
                layout = _parse_header(text)
            except csv.Error as exc:
                raise UnsupportedFormat(
                    f"unreadable header row: {exc}", source=source, line=header_number
                ) from None
            if layout is None:
                raise UnsupportedFormat(
                    f"no digest column in the header row {text[:80]!r}",
                    source=source,
                    line=header_number,
                )
            break
        else:
            raise UnsupportedFormat("no header row", source=source)
        yield from self._rows(lines, header_number, layout, context)

    @staticmethod
    def _rows(
        lines: Iterator[tuple[int, str]], after: int, layout: _Layout, context: ReadContext
    ) -> Iterator[pa.RecordBatch]:
        buffer = BatchBuffer(("md5", "sha1", "sha256", "size", "path", "labels"))
        columns = buffer.columns
        digests = (columns["md5"], columns["sha1"], columns["sha256"])
        fixed = (layout.md5, layout.sha1, layout.sha256)
        # iter_lines drops line ends; the csv module needs them back to keep a newline
        # that sits inside a quoted field (CRLF comes back as LF, so no "\r" leaks in).
        reader = csv.reader((text + "\n" for _, text in lines), delimiter=layout.delimiter)
        width = layout.fields
        # Categories repeat; their canonical JSON is worth keeping rather than re-encoding.
        label_cache: dict[str, str | None] = {}
        while True:
            number = after + reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                context.warn(number, f"unreadable row: {exc}")
                continue
            if len(row) != width:
                if not "".join(row).strip():
                    continue
                kind = "short" if len(row) < width else "long"
                context.warn(number, f"{kind} row: {len(row)} fields, the header has {width}")
                if len(row) < width:
                    row.extend([""] * (width - len(row)))
            elif not "".join(row).strip():
                continue
            values: list[str | None] = [
                None if at is None else (row[at].strip() or None) for at in fixed
            ]
            if layout.hash is not None:
                _route_hash(
                    row,
                    values,
                    hash_at=layout.hash,
                    algorithm_at=layout.algorithm,
                    number=number,
                    context=context,
                )
            size = None
            if layout.size is not None:
                try:
                    size = parse_size(row[layout.size])
                except ValueError as exc:
                    context.warn(number, str(exc))
            path = row[layout.path] if layout.path is not None else ""
            if layout.name is not None:
                path = _join(path, row[layout.name])
            labels = None
            if layout.category is not None:
                category = row[layout.category].strip()
                labels = label_cache.get(category)
                if labels is None:
                    labels = encode_labels({"category": category})
                    if len(label_cache) < _LABEL_CACHE_SIZE:
                        label_cache[category] = labels
            columns["line"].append(number)
            for values_of, value in zip(digests, values, strict=True):
                values_of.append(value)
            columns["size"].append(size)
            columns["path"].append(path or None)
            columns["labels"].append(labels)
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()


def _route_hash(
    row: list[str],
    values: list[str | None],
    *,
    hash_at: int,
    algorithm_at: int | None,
    number: int,
    context: ReadContext,
) -> None:
    """Put the generic ``Hash`` value into the column its ``Algorithm`` (or length) says."""
    value = row[hash_at].strip()
    if not value:
        return
    named = row[algorithm_at].strip() if algorithm_at is not None else ""
    if named:
        column = algorithm_column(named)
        if column is None:
            context.warn(number, f"unsupported algorithm {named[:20]!r}")
            return
    else:
        column = column_for_digest(value)
        if column is None:
            context.warn(
                number, f"cannot tell the algorithm of a {len(value)}-character Hash value"
            )
            return
    if values[column] is None:
        values[column] = value
