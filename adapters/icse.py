"""INTERPOL ICSE baseline lists: semicolon-separated CSV (FORMATS.md §6.10).

::

    MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;
        Series name;Number of submissions;File Available;Media Type;Baseline
    D44F...265E;5458...96DA;<base64>;1003;yes;no;no;"Series ""A""; part 2";2;true;
        Image;Baseline

(each shown on two lines here, one line in the file).

The header row names the columns; they may come in any order and any case (spaces in a
name do not count, so IPED's renamed ``ImageID``, ``IsDistributed``... are read too).
Quoting follows the stdlib :mod:`csv` module (doubled quotes; a ``;`` or a newline inside
quotes). UTF-8 with or without a BOM, UTF-16 with a BOM, CP1252; LF or CRLF.

Each data row with an MD5 or SHA1 is one record (the digests go to their columns as
written) with these labels:

* ``scheme`` ``interpol``; ``category``: the ``Baseline`` cell verbatim (``Baseline``,
  ``true``, ``1``...), and ``icse_baseline`` as a boolean when that cell is a yes/no word;
* ``distributed``, ``victim_identified``, ``offender_identified``, ``icse_file_available``:
  booleans from ``yes``/``no``, ``true``/``false``, ``1``/``0`` (any case);
* ``series`` (``Series name``), ``source_id`` (``Image ID``), ``confirmations`` (``Number of
  submissions``, an integer), ``icse_media_type`` (``Media Type``), ``perceptual``
  ``["photodna:<value>"]`` (never matched).

Warnings (the row is still read): a flag that is no yes/no word or a count that is no
whole number (that label is left out), a row with too few or too many fields. A row with
neither MD5 nor SHA1 (PhotoDNA only) is a warning and is skipped: it cannot be matched.
Other columns are ignored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.labels import Label, Scheme
from hashmatch.records import LabelValue
from hashmatch.textio import iter_lines

from ._common import BatchBuffer, head_lines

__all__ = ["IcseAdapter"]

DELIMITER = ";"

_COLUMNS: dict[str, str] = {
    "md5": "MD5",
    "sha1": "SHA1",
    "photodna": "PhotoDNA",
    "imageid": "Image ID",
    "isdistributed": "Is distributed",
    "victimidentified": "Victim identified",
    "offenderidentified": "Offender identified",
    "seriesname": "Series name",
    "numberofsubmissions": "Number of submissions",
    "fileavailable": "File Available",
    "mediatype": "Media Type",
    "baseline": "Baseline",
}
"""Column keys (header names lower-cased, spaces removed) and the name FORMATS.md gives."""

_ALIASES = {"numsubmissions": "numberofsubmissions"}
"""Other spellings of a column key (IPED renames the columns of the files it imports)."""

_FLAGS: dict[str, str] = {
    "isdistributed": Label.DISTRIBUTED,
    "victimidentified": Label.VICTIM_IDENTIFIED,
    "offenderidentified": Label.OFFENDER_IDENTIFIED,
    "fileavailable": "icse_file_available",
}
"""Boolean columns and the label each becomes."""

_TEXTS: dict[str, str] = {
    "imageid": Label.SOURCE_ID,
    "seriesname": Label.SERIES,
    "mediatype": "icse_media_type",
}
"""Free-text columns kept verbatim, and the label each becomes."""

_SCHEME = Scheme.INTERPOL.value
# What encode_labels writes (no empty values are put in), without an encoder per row.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_BOOLEANS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
_RECORD_COLUMNS = ("md5", "sha1", "labels")


def _key(header: str) -> str:
    return "".join(header.replace("\ufeff", "").split()).lower()


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each column is in a row. A column the file lacks points one past the last
    field, where :func:`_parse_row` puts an empty cell."""

    fields: int
    md5: int
    sha1: int
    photodna: int
    baseline: int
    submissions: int
    texts: tuple[tuple[int, str], ...]
    """(field index, label) of the free-text columns the file has."""
    flags: tuple[tuple[int, str, str], ...]
    """(field index, label, column name) of the yes/no columns the file has."""

    @classmethod
    def of(cls, fields: int, index: dict[str, int]) -> _Layout:
        """The layout of a header of ``fields`` fields, given the index of each column key."""
        return cls(
            fields=fields,
            md5=index.get("md5", fields),
            sha1=index.get("sha1", fields),
            photodna=index.get("photodna", fields),
            baseline=index.get("baseline", fields),
            submissions=index.get("numberofsubmissions", fields),
            texts=tuple((index[key], label) for key, label in _TEXTS.items() if key in index),
            flags=tuple(
                (index[key], label, _COLUMNS[key]) for key, label in _FLAGS.items() if key in index
            ),
        )


def _parse_header(line: str) -> _Layout | str:
    """The layout of an ICSE header line, or why the line is not one."""
    if DELIMITER not in line:
        return f"not a semicolon-separated header: {line[:80]!r}"
    try:
        names = next(csv.reader([line], delimiter=DELIMITER), [])
    except csv.Error as exc:
        return f"unreadable header row: {exc}"
    index: dict[str, int] = {}
    for at, name in enumerate(names):
        key = _key(name)
        key = _ALIASES.get(key, key)
        if key in _COLUMNS:
            index.setdefault(key, at)
    if "md5" not in index or "sha1" not in index:
        return f"no MD5 and SHA1 columns in the header row {line[:80]!r}"
    if "imageid" not in index and "baseline" not in index:
        return "no 'Image ID' or 'Baseline' column: not an ICSE baseline list"
    return _Layout.of(len(names), index)


class IcseAdapter(FormatAdapter):
    """INTERPOL ICSE baseline lists: MD5, SHA1 and ICSE flags, one row per image.

    The header row makes a file this format: ``MD5`` and ``SHA1`` columns and an ``Image
    ID`` or ``Baseline`` column, separated by ``;``. Without it, :class:`UnsupportedFormat`.
    """

    NAME: ClassVar[str] = "icse"
    DESCRIPTION: ClassVar[str] = "INTERPOL ICSE baseline CSV (semicolon-separated)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})
    PRIORITY: ClassVar[int] = 25
    """Before ``csv`` (30), which would read these files too, without their labels."""

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first non-blank line is an ICSE header (see the class docstring)."""
        lines, _ = head_lines(head)
        for line in lines:
            if line.strip():
                return isinstance(_parse_header(line), _Layout)
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per row with a digest; ``line`` is the line the row starts on."""
        lines = iter_lines(stream)
        header_number, layout = _read_header(lines, context.source)
        buffer = BatchBuffer(_RECORD_COLUMNS)
        add_line, add_md5, add_sha1, add_labels = (
            buffer.columns[name].append for name in ("line", *_RECORD_COLUMNS)
        )
        # iter_lines drops line ends; the csv module needs them back to keep a newline
        # inside a quoted field (CRLF comes back as LF, so no "\r" leaks in).
        reader = csv.reader((text + "\n" for _, text in lines), delimiter=DELIMITER)
        while True:
            number = header_number + reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                context.warn(number, f"unreadable row: {exc}")
                continue
            if not "".join(row).strip():
                continue
            record, warnings = _parse_row(row, layout)
            for reason in warnings:
                context.warn(number, reason)
            if record is None:
                continue
            add_line(number)
            add_md5(record[0])
            add_sha1(record[1])
            add_labels(record[2])
            if len(buffer) >= context.batch_size:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()


def _read_header(lines: Iterator[tuple[int, str]], source: str) -> tuple[int, _Layout]:
    """Consume the header row (the first non-blank line): its number and layout."""
    for number, text in lines:
        if not text.strip():
            continue
        layout = _parse_header(text)
        if isinstance(layout, str):
            raise UnsupportedFormat(layout, source=source, line=number)
        return number, layout
    raise UnsupportedFormat("no header row", source=source)


def _parse_row(
    row: list[str], layout: _Layout
) -> tuple[tuple[str | None, str | None, str] | None, list[str]]:
    """One data row: (md5, sha1, labels JSON), or None to skip it, and what to warn about."""
    warnings: list[str] = []
    fields = layout.fields
    if len(row) != fields:
        kind = "short" if len(row) < fields else "long"
        warnings.append(f"{kind} row: {len(row)} fields, the header has {fields}")
        row = row[:fields] + [""] * (fields - len(row))
    # The empty cell that columns missing from the file (and from a short row) point at.
    row.append("")
    md5 = row[layout.md5].strip() or None
    sha1 = row[layout.sha1].strip() or None
    if md5 is None and sha1 is None:
        warnings.append("no MD5 or SHA1 on this row: it cannot be matched and is skipped")
        return None, warnings
    labels: dict[str, LabelValue] = {Label.SCHEME: _SCHEME}
    for at, label in layout.texts:
        value = row[at].strip()
        if value:
            labels[label] = value
    for at, label, column in layout.flags:
        value = row[at].strip()
        if value:
            flag = _BOOLEANS.get(value.lower())
            if flag is None:
                warnings.append(f"{column!r} is not yes/no, true/false or 1/0: {value[:40]!r}")
            else:
                labels[label] = flag
    baseline = row[layout.baseline].strip()
    if baseline:
        labels[Label.CATEGORY] = baseline
        flag = _BOOLEANS.get(baseline.lower())
        if flag is not None:
            labels["icse_baseline"] = flag
    submissions = row[layout.submissions].strip()
    if submissions:
        if submissions.isascii() and submissions.isdigit():
            labels[Label.CONFIRMATIONS] = int(submissions)
        else:
            warnings.append(f"'Number of submissions' is not a whole number: {submissions[:40]!r}")
    photodna = row[layout.photodna].strip()
    if photodna:
        labels[Label.PERCEPTUAL] = [f"photodna:{photodna}"]
    return (md5, sha1, _ENCODE(labels)), warnings
