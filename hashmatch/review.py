"""The review queue and reviewers' gradings: what is left to look at, and what was decided.

* :func:`review_queue` reads the ``unknown`` rows of a run's JSON report (path, size,
  digests) for the examiner's own viewer; hashmatch never opens or shows the files.
* A grading (:class:`hashmatch.model.Grading`) records a reviewer's category and flags for
  a digest. :func:`grading_entries` turns gradings into list entries, so that the next run
  marks those files ``known`` with the reviewer as the source and nobody reviews them twice.
* :func:`write_vics_gradings` exports gradings for submission to a national database as a
  VICS 2.0 hash set (the format the ``vics`` adapter reads), and :func:`grading_entries`
  with ``for_export`` feeds the signed bundle; both leave out paths and free text (notes).

Gradings made together for one file (its MD5, SHA-1 and SHA-256) share reviewer,
``graded_at``, scheme, category and flags; :func:`group_gradings` puts them back together.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from hashmatch.digests import Algorithm
from hashmatch.errors import InputError
from hashmatch.labels import Label, Scheme
from hashmatch.model import Grading
from hashmatch.records import ENTRY_SCHEMA, encode_labels
from hashmatch.reports import iter_report_rows

__all__ = [
    "VICS_PROFILES",
    "GradedFile",
    "QueueItem",
    "grading_entries",
    "grading_labels",
    "group_gradings",
    "review_queue",
    "write_queue",
    "write_vics_gradings",
]

VICS_PROFILES: dict[str, str] = {Scheme.VICS_US.value: "US", Scheme.VICS_UK.value: "UK"}
"""The VICS 2.0 profile a scheme's gradings are exported under."""

_VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#Media"

# VICS 2.0 field for each boolean flag it has a word for; other flags are not exported to
# VICS (the signed bundle keeps them all).
_VICS_FLAGS: dict[str, str] = {
    Label.VICTIM_IDENTIFIED.value: "VictimIdentified",
    Label.OFFENDER_IDENTIFIED.value: "OffenderIdentified",
    Label.DISTRIBUTED.value: "IsDistributed",
    Label.SUSPECTED.value: "IsSuspected",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueItem:
    """One file of a run's review queue: where it is and its digests (never its content)."""

    input: int
    line: int
    path: str | None
    size: int | None
    md5: str | None
    sha1: str | None
    sha256: str | None

    def digests(self) -> dict[Algorithm, str]:
        """The file's digests by algorithm (those the manifest gave)."""
        found = {Algorithm.MD5: self.md5, Algorithm.SHA1: self.sha1, Algorithm.SHA256: self.sha256}
        return {algorithm: value for algorithm, value in found.items() if value}


@dataclass(frozen=True, slots=True, kw_only=True)
class GradedFile:
    """The gradings of one file made together: its digests, one grading each."""

    gradings: tuple[Grading, ...]

    @property
    def first(self) -> Grading:
        """The grading whose scheme, category, flags, reviewer and time all of them share."""
        return self.gradings[0]

    def digest(self, algorithm: Algorithm) -> str | None:
        """The file's digest of ``algorithm``, if it was graded by it."""
        for grading in self.gradings:
            if grading.algorithm is algorithm:
                return grading.digest
        return None


def review_queue(report: Path) -> Iterator[QueueItem]:
    """The ``unknown`` rows of a JSON report, in input order."""
    for row in iter_report_rows(report):
        if row.get("verdict") != "unknown":
            continue
        yield QueueItem(
            input=int(row["input"]),
            line=int(row["line"]),
            path=row.get("path"),
            size=None if row.get("size") is None else int(row["size"]),
            md5=row.get("md5"),
            sha1=row.get("sha1"),
            sha256=row.get("sha256"),
        )


def write_queue(path: Path, items: Iterable[QueueItem]) -> int:
    """Write a review queue for a viewer, as ``.csv`` or ``.json`` (by the extension),
    atomically; return how many files it lists. InputError for another extension."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError("the queue is written as .csv or .json", source=str(path))
    fields = [f.name for f in dataclasses.fields(QueueItem)]
    rows = [dataclasses.asdict(item) for item in items]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            if suffix == ".json":
                json.dump(rows, handle, indent=1, ensure_ascii=False)
                handle.write("\n")
            else:
                writer = csv.DictWriter(handle, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return len(rows)


def group_gradings(gradings: Iterable[Grading]) -> list[GradedFile]:
    """Gradings made together for one file, grouped, in the order of their first grading."""
    groups: dict[tuple[Any, ...], list[Grading]] = {}
    for grading in gradings:
        key: tuple[Any, ...] = (
            grading.reviewer,
            grading.graded_at,
            grading.scheme,
            grading.category,
            grading.flags,
            grading.case_ref,
            grading.run_id,
        )
        group = groups.setdefault(key, [])
        if any(g.algorithm is grading.algorithm for g in group):
            # a second digest of one algorithm is another file graded at the same instant
            key = (*key, grading.grading_id)
            group = groups.setdefault(key, [])
        group.append(grading)
    return [GradedFile(gradings=tuple(group)) for group in groups.values()]


def grading_labels(grading: Grading, *, for_export: bool = False) -> dict[str, Any]:
    """A grading as list labels: scheme, category, flags, who graded it and when.

    ``for_export`` leaves out what must not leave the unit: the case reference, the run and
    the note (free text).
    """
    labels: dict[str, Any] = {
        Label.SCHEME.value: grading.scheme,
        Label.CATEGORY.value: grading.category,
        Label.GRADED_BY.value: grading.reviewer,
        Label.GRADED_AT.value: grading.graded_at.isoformat(),
    }
    labels.update(dict.fromkeys(grading.flags, True))
    if not for_export:
        if grading.case_ref:
            labels[Label.CASE_REF.value] = grading.case_ref
        if grading.note:
            labels[Label.COMMENTS.value] = grading.note
    return labels


def grading_entries(gradings: Sequence[Grading], *, for_export: bool = False) -> pa.RecordBatch:
    """:data:`ENTRY_SCHEMA` rows, one per grading: its digest and :func:`grading_labels`."""
    columns: dict[str, list[Any]] = {name: [] for name in ENTRY_SCHEMA.names}
    for number, grading in enumerate(gradings, start=1):
        columns["line"].append(number)
        for algorithm in Algorithm:
            columns[algorithm.value].append(
                bytes.fromhex(grading.digest) if grading.algorithm is algorithm else None
            )
        columns["size"].append(grading.size)
        columns["name"].append(None)
        columns["labels"].append(encode_labels(grading_labels(grading, for_export=for_export)))
    return pa.RecordBatch.from_pydict(columns, schema=ENTRY_SCHEMA)


def write_vics_gradings(path: Path, files: Sequence[GradedFile], *, scheme: str) -> int:
    """Write the graded files of ``scheme`` as a VICS 2.0 hash set; return how many.

    VICS keys a Media by its MD5, so a file graded without one cannot be written (InputError
    names it). The category is written as an integer when it is one. Flags VICS has no
    field for, notes, case references and paths are left out. Written atomically.
    """
    profile = VICS_PROFILES.get(scheme)
    if profile is None:
        known = ", ".join(sorted(VICS_PROFILES))
        raise InputError(f"VICS exports gradings in {known}, not {scheme!r}")
    media: list[dict[str, Any]] = []
    for number, graded in enumerate((f for f in files if f.first.scheme == scheme), start=1):
        md5 = graded.digest(Algorithm.MD5)
        if md5 is None:
            raise InputError(
                f"a file graded by {graded.first.reviewer} at "
                f"{graded.first.graded_at:%Y-%m-%d %H:%M:%S} has no MD5, which VICS requires: "
                "export it as a bundle instead"
            )
        first = graded.first
        record: dict[str, Any] = {
            "MediaID": number,
            "Category": int(first.category) if first.category.isdigit() else first.category,
            "MD5": md5.upper(),
        }
        sha1 = graded.digest(Algorithm.SHA1)
        if sha1:
            record["SHA1"] = sha1.upper()
        sha256 = graded.digest(Algorithm.SHA256)
        if sha256:
            record["AlternativeHashes"] = [
                {"MD5": md5.upper(), "HashName": "SHA256", "HashValue": sha256.upper()}
            ]
        if first.size is not None:
            record["MediaSize"] = first.size
        record["DateUpdated"] = first.graded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for flag, field_name in _VICS_FLAGS.items():
            if flag in first.flags:
                record[field_name] = "true"
        media.append(record)
    document = {"@odata.context": _VICS_CONTEXT.format(profile), "value": media}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=1)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return len(media)
