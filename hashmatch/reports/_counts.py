"""Counts over a run's verdict table: by verdict, list, category and flag, with and without
copies; and which crosswalks a run's mapped categories came from."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.crosswalk import Crosswalk, CrosswalkSet
from hashmatch.labels import BOOLEAN_FLAGS, Label
from hashmatch.model import Purpose, Verdict
from hashmatch.reports._model import (
    MAPPING_NOTE,
    NO_SCHEME,
    REVIEW,
    Count,
    ReportCounts,
    ReportCrosswalk,
    ReportMapping,
)

__all__ = ["count_verdicts", "report_mapping"]


def _identity(table: pa.Table) -> pa.ChunkedArray:
    """What makes two rows "the same file": the strongest digest given, else the row itself."""
    row_key = pc.binary_join_element_wise(
        pc.cast(table.column("input"), pa.string()),
        pc.cast(table.column("line"), pa.string()),
        "row:",
        ":",
    )
    return pc.coalesce(
        pc.binary_join_element_wise("sha256:", table.column("sha256"), ""),
        pc.binary_join_element_wise("sha1:", table.column("sha1"), ""),
        pc.binary_join_element_wise("md5:", table.column("md5"), ""),
        row_key,
    )


def _count(identity: pa.ChunkedArray | pa.Array) -> Count:
    return Count(total=len(identity), unique=int(pc.count_distinct(identity).as_py()))


def _codes(value: Any) -> list[str]:
    """A category label's codes as text: some sources write them as integers."""
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if v is not None and not isinstance(v, bool) and str(v) != ""]


def _mapped_key(mapped: dict[str, Any]) -> str:
    """One mapped suggestion as one bucket: ``A|B`` is "A or B", never a file in each."""
    codes = "|".join(mapped.get("category") or [])
    if not codes:
        return REVIEW
    return f"{codes} {REVIEW}" if mapped.get("review") else codes


def _keys(
    items: list[dict[str, Any]],
) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[str]]:
    """The (scheme, code), (target, mapped) and flags that one row's matches carry."""
    categories: set[tuple[str, str]] = set()
    mapped: set[tuple[str, str]] = set()
    flags: set[str] = set()
    for item in items:
        labels = item.get("labels") or {}
        scheme = labels.get(Label.SCHEME)
        scheme = str(scheme) if scheme not in (None, "") else NO_SCHEME
        categories.update((scheme, code) for code in _codes(labels.get(Label.CATEGORY)))
        flags.update(k for k in BOOLEAN_FLAGS if labels.get(k) is True)
        if item.get("mapped"):
            mapped.add((str(item["mapped"]["scheme"]), _mapped_key(item["mapped"])))
    return categories, mapped, flags


def count_verdicts(table: pa.Table) -> ReportCounts:
    """Counts for a table of :data:`~hashmatch.match.matcher.VERDICT_SCHEMA` rows.

    Categories and flags are counted over ``known`` files only: that is where a charge or a
    review starts. Each distinct ``matches`` text is parsed once, however many rows share it.
    """
    identity = _identity(table)
    verdicts = table.column("verdict")
    by_verdict = {v.value: _count(identity.filter(pc.equal(verdicts, v.value))) for v in Verdict}
    matches = pc.dictionary_encode(table.column("matches")).combine_chunks()
    known = pc.equal(verdicts, Verdict.KNOWN.value).combine_chunks()
    lists: dict[str, list[int]] = {}
    categories: dict[tuple[str, str], list[int]] = {}
    mapped: dict[tuple[str, str], list[int]] = {}
    flags: dict[str, list[int]] = {}
    for code, text in enumerate(matches.dictionary.to_pylist()):
        items = json.loads(text)
        for name in {item["list"] for item in items}:
            lists.setdefault(name, []).append(code)
        if not any(item["purpose"] == Purpose.CONCERN.value for item in items):
            continue  # no row with these matches can be known
        found_categories, found_mapped, found_flags = _keys(items)
        for key in found_categories:
            categories.setdefault(key, []).append(code)
        for key in found_mapped:
            mapped.setdefault(key, []).append(code)
        for flag in found_flags:
            flags.setdefault(flag, []).append(code)

    def counted(codes: list[int], *, known_only: bool) -> Count:
        chosen = pc.fill_null(
            pc.is_in(matches.indices, pa.array(codes, matches.indices.type)), False
        )
        if known_only:
            chosen = pc.and_(chosen, known)
        return _count(identity.filter(chosen))

    def nested(owners: dict[tuple[str, str], list[int]]) -> dict[str, dict[str, Count]]:
        out: dict[str, dict[str, Count]] = {}
        for scheme, code in sorted(owners):
            out.setdefault(scheme, {})[code] = counted(owners[scheme, code], known_only=True)
        return out

    return ReportCounts(
        total=_count(identity),
        by_verdict=by_verdict,
        by_list={name: counted(lists[name], known_only=False) for name in sorted(lists)},
        review_queue=by_verdict[Verdict.UNKNOWN.value].total,
        by_category=nested(categories),
        by_mapped_category=nested(mapped),
        by_flag={flag: counted(flags[flag], known_only=True) for flag in sorted(flags)},
    )


def _applied(table: pa.Table) -> list[str]:
    found: set[str] = set()
    for text in pc.unique(table.column("matches")).to_pylist():
        for item in json.loads(text) if text else ():
            basis = (item.get("mapped") or {}).get("crosswalk")
            if basis:
                found.add(basis)
    return sorted(found)


def report_mapping(crosswalks: CrosswalkSet, target: str, table: pa.Table) -> ReportMapping:
    """What a report says about a run that mapped categories to ``target``.

    ``crosswalks`` lists every table into ``target`` that was in force, ``applied`` those
    (and any source profile tables) that mapped at least one match of ``table``.
    """
    return ReportMapping(
        target=target,
        note=MAPPING_NOTE,
        crosswalks=_report_crosswalks(crosswalks.leading_to(target)),
        applied=_applied(table),
    )


def _report_crosswalks(crosswalks: Iterable[Crosswalk]) -> list[ReportCrosswalk]:
    return [
        ReportCrosswalk(
            name=c.name,
            version=c.version,
            from_scheme=c.from_scheme,
            to_scheme=c.to_scheme,
            title=c.title,
            origin=c.origin,
            sha256=c.sha256,
            replaces=c.replaces,
        )
        for c in crosswalks
    ]
