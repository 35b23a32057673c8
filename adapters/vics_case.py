"""Project VIC VICS case exports read as manifests: one row per file on the device.

FORMATS.md §1.3. A case export (model ``…#Cases``) lists, per case, the distinct Media of
a seized device (one per MD5), and under each Media the ``MediaFiles`` where that content
was found::

    {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
     "value": [{"CaseNumber": "SYN-0001", "Media": [
        {"MediaID": 1, "Category": 1, "MD5": "8AE3...ACE1", "MediaSize": 21,
         "MediaFiles": [{"FileName": "a.jpg", "FilePath": "\\\\Users\\\\x\\\\Pictures\\\\"},
                        {"FileName": "b.jpg", "FilePath": "\\\\Users\\\\x\\\\Desktop\\\\"}]}]}]}

Everything about the file itself is read as :mod:`hashmatch_adapters.vics` reads it,
through its :func:`~hashmatch_adapters.vics.read_vics`: models 1.2, 1.3 and 2.0 (any
profile), UTF-8 with or without a BOM and UTF-16, keys in any case, digests from ``MD5``,
``SHA1`` and a SHA-256 in ``AlternativeHashes``, ``MediaSize``, the labels (``Category``
and flags, as that module encodes them; a manifest row's labels are kept but the
matcher does not use them), the warnings about a Media record and the rule that a bad
first record means "not this format". The file is streamed (parse events, a chunk of
Media records at a time): memory does not grow with it. What this adapter adds:

* **one row per file**. A Media with *n* usable ``MediaFiles`` entries gives *n* rows,
  each with the Media's digests, size and labels and the entry's own ``path``: copies of
  one content are separate files, each counted (charges are per file).
* a Media with no ``MediaFiles`` (absent, null or ``[]``) gives one row, whose ``path`` is
  the Media's ``FileName``, else its ``RelativeFilePath`` (the exported copy, relative to
  the case folder), verbatim; else none.
* an entry's ``path``: its ``FilePath`` (else ``RelativeFilePath``) joined with its
  ``FileName``. A folder that ends in ``\\`` or ``/`` is followed by the name; a folder
  whose last part already is the name is the whole path (some writers put it there);
  otherwise the folder's last separator (``\\`` when it has none) joins them. Either
  alone is the path; an entry with neither is a file at an unknown place (no path). Text
  that is only white space counts as absent; other text is kept verbatim.
* ``line`` is the 1-based index of the Media record in the file (counted across cases),
  as in the ``vics`` adapter: every row of one Media has the same ``line``.

Bad file entries are warnings about their Media's record (``record 3 (MediaID 3):
MediaFiles entry 2 is a number, not a file object``), never "not this format": an entry
that is no object is skipped (a Media left with no usable entry gives one row, as if it
had none), a ``MediaFiles`` that is no array is read as none, and a path field that is
not text is left out of the path. A Media with no digest is one warning, however many
files it lists.

**Both shapes.** A VICS *hash set* (``#Media``: a flat ``value`` array of Media, usually
without files) read by this adapter gives one row per Media (or per file, if it lists
any): so a hash-set file can be checked as a manifest. :meth:`VicsCaseAdapter.sniff`
claims any VICS JSON, as the ``vics`` adapter's does; the two never compete, because
``vics`` reads lists (role ``list``) and this adapter manifests (role ``manifest``), and
detection looks among the adapters of the role it is asked for (with no role, ``vics``,
tried first, wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.records import RECORD_SCHEMA

from .vics import get_any_case, json_kind, read_vics, sniff_model

__all__ = ["VicsCaseAdapter", "file_path"]

_SEPARATOR = re.compile(r"[\\/]")
_BACKSLASH = "\\"
"""The separator of a folder that has none: VICS case exports come from Windows tools."""
_PATH = RECORD_SCHEMA.get_field_index("path")

Warnings = list[tuple[int, str]]


def file_path(folder: str | None, name: str | None) -> str | None:
    """The path of a file from its folder and its name, as a MediaFiles entry gives them
    (either may be missing); see the module's docstring for the rule."""
    if not folder:
        return name or None
    if not name:
        return folder
    if folder[-1] in "\\/":
        return folder + name
    if _SEPARATOR.split(folder)[-1] == name:
        return folder
    separators = _SEPARATOR.findall(folder)
    return folder + (separators[-1] if separators else _BACKSLASH) + name


def _text(value: object, what: str, where: str, index: int, warnings: Warnings) -> str | None:
    """A path field's text (None when absent, null or blank); a warning when it is no text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    warnings.append((index, f"{where}: {what} is {json_kind(value)}, not text"))
    return None


def _own_path(media: dict[str, Any], where: str, index: int, warnings: Warnings) -> str | None:
    """The path of a Media that lists no files: FileName, else RelativeFilePath."""
    name = _text(media.get("FileName"), "FileName", where, index, warnings)
    relative = _text(media.get("RelativeFilePath"), "RelativeFilePath", where, index, warnings)
    return name or relative


def _entry_path(
    entry: dict[str, Any], number: int, where: str, index: int, warnings: Warnings
) -> str | None:
    """The path of MediaFiles entry ``number`` (1-based)."""
    what = f"MediaFiles entry {number}:"
    name = _text(get_any_case(entry, "FileName"), f"{what} FileName", where, index, warnings)
    folder = _text(get_any_case(entry, "FilePath"), f"{what} FilePath", where, index, warnings)
    if folder is None:
        folder = _text(
            get_any_case(entry, "RelativeFilePath"),
            f"{what} RelativeFilePath",
            where,
            index,
            warnings,
        )
    return file_path(folder, name)


def _file_paths(media: dict[str, Any], index: int, warnings: Warnings) -> list[str | None]:
    """The path of each file a Media record stands for (at least one)."""
    media_id = media.get("MediaID")
    where = f"record {index}"
    if media_id is not None and not isinstance(media_id, dict | list):
        where += f" (MediaID {str(media_id)[:40]})"
    files = media.get("MediaFiles")
    if files is not None and not isinstance(files, list):
        reason = f"{where}: MediaFiles is {json_kind(files)}, not an array: read as no files"
        warnings.append((index, reason))
        files = None
    paths: list[str | None] = []
    for number, entry in enumerate(files or (), start=1):
        if isinstance(entry, dict):
            paths.append(_entry_path(entry, number, where, index, warnings))
        else:
            reason = f"{where}: MediaFiles entry {number} is {json_kind(entry)}, not a file object"
            warnings.append((index, reason))
    return paths or [_own_path(media, where, index, warnings)]


def _one_row_per_file(
    objects: list[dict[str, Any]], batch: pa.RecordBatch
) -> tuple[pa.RecordBatch, Warnings]:
    """The rows of a chunk of Media records, one per file (the ``expand`` hook of
    :func:`~hashmatch_adapters.vics.read_vics`), and the warnings about their files."""
    warnings: Warnings = []
    rows: list[int] = []
    paths: list[str | None] = []
    for row, (media, index) in enumerate(
        zip(objects, batch.column("line").to_pylist(), strict=True)
    ):
        found = _file_paths(media, index, warnings)
        rows.extend([row] * len(found))
        paths.extend(found)
    if len(rows) != batch.num_rows:
        batch = batch.take(pa.array(rows, pa.int64()))
    columns = batch.columns
    columns[_PATH] = pa.array(paths, pa.string())
    return pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA), warnings


class VicsCaseAdapter(FormatAdapter):
    """Project VIC VICS case exports as manifests: one row per file (per ``MediaFiles``
    entry), with its Media's digests, size and labels; hash sets give a row per Media."""

    NAME: ClassVar[str] = "vics-case"
    DESCRIPTION: ClassVar[str] = (
        "Project VIC VICS JSON case exports as manifests: one row per file (1.2, 1.3, 2.0)"
    )
    # Right after ``vics`` (6): that one reads lists, this one manifests, so they meet only
    # in a detection that names no role, which ``vics`` should win.
    PRIORITY: ClassVar[int] = 7
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.MANIFEST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A JSON object whose model key names a ProjectVic DataModels URL (either shape)."""
        try:
            return sniff_model(head) is not None
        except Exception:
            return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per file of every Media record with a digest (``line``: the
        Media's record index)."""
        return read_vics(stream, context, expand=_one_row_per_file)
