"""Counts over a run's verdict table: by verdict, list, category and flag, with and without
copies; and which crosswalks a run's mapped categories came from.

:func:`count_verdicts` reduces each row's identity to an integer once and counts with
numpy; :func:`count_verdicts_by_text`, the reference twin, counts the identity texts, and
the tests hold the two to the same counts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
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

__all__ = ["count_verdicts", "count_verdicts_by_text", "report_mapping"]


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

    Each row's identity (:func:`_identity`) is reduced once to a small integer, so each
    count is a numpy pass over integers; :func:`count_verdicts_by_text`, the reference
    twin, counts the identity texts themselves and gives the same counts.
    """
    ids, distinct = _identity_ids(table)

    def count(chosen: npt.NDArray[np.bool_] | None) -> Count:
        picked = ids if chosen is None else ids[chosen]
        if len(picked) * 16 < distinct:
            unique = len(np.unique(picked))
        else:
            seen = np.zeros(distinct, dtype=bool)
            seen[picked] = True
            unique = int(np.count_nonzero(seen))
        return Count(total=len(picked), unique=unique)

    verdicts = _codes_of(table.column("verdict"))
    by_verdict = {v.value: count(verdicts.equal(v.value)) for v in Verdict}
    matches = _codes_of(table.column("matches"))
    known = verdicts.equal(Verdict.KNOWN.value)
    owners = _match_owners(matches.values)

    def counted(codes: list[int], *, known_only: bool) -> Count:
        chosen = np.isin(matches.codes, codes)
        return count(chosen & known if known_only else chosen)

    return _assemble(count(None), by_verdict, owners, counted)


def count_verdicts_by_text(table: pa.Table) -> ReportCounts:
    """:func:`count_verdicts` over the identity texts with Arrow kernels: the reference twin."""
    identity = _identity(table)
    verdicts = table.column("verdict")
    by_verdict = {v.value: _count(identity.filter(pc.equal(verdicts, v.value))) for v in Verdict}
    matches = pc.dictionary_encode(table.column("matches")).combine_chunks()
    known = pc.equal(verdicts, Verdict.KNOWN.value).combine_chunks()
    owners = _match_owners(matches.dictionary.to_pylist())

    def counted(codes: list[int], *, known_only: bool) -> Count:
        chosen = pc.fill_null(
            pc.is_in(matches.indices, pa.array(codes, matches.indices.type)), False
        )
        if known_only:
            chosen = pc.and_(chosen, known)
        return _count(identity.filter(chosen))

    return _assemble(_count(identity), by_verdict, owners, counted)


def _assemble(
    total: Count,
    by_verdict: dict[str, Count],
    owners: _Owners,
    counted: Callable[..., Count],
) -> ReportCounts:
    """The counts by list, category and flag, from a way to count the rows whose matches
    text is one of some codes (``known_only``: and whose verdict is ``known``)."""

    def nested(found: dict[tuple[str, str], list[int]]) -> dict[str, dict[str, Count]]:
        out: dict[str, dict[str, Count]] = {}
        for scheme, code in sorted(found):
            out.setdefault(scheme, {})[code] = counted(found[scheme, code], known_only=True)
        return out

    return ReportCounts(
        total=total,
        by_verdict=by_verdict,
        by_list={
            name: counted(owners.lists[name], known_only=False) for name in sorted(owners.lists)
        },
        review_queue=by_verdict[Verdict.UNKNOWN.value].total,
        by_category=nested(owners.categories),
        by_mapped_category=nested(owners.mapped),
        by_flag={
            flag: counted(owners.flags[flag], known_only=True) for flag in sorted(owners.flags)
        },
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Owners:
    """Which distinct ``matches`` texts (by their code) name each list, category and flag."""

    lists: dict[str, list[int]]
    categories: dict[tuple[str, str], list[int]]
    mapped: dict[tuple[str, str], list[int]]
    flags: dict[str, list[int]]


def _match_owners(texts: list[str]) -> _Owners:
    """Parse each distinct ``matches`` text once; a text's code is its place in ``texts``."""
    owners = _Owners(lists={}, categories={}, mapped={}, flags={})
    for code, text in enumerate(texts):
        items = json.loads(text)
        for name in {item["list"] for item in items}:
            owners.lists.setdefault(name, []).append(code)
        if not any(item["purpose"] == Purpose.CONCERN.value for item in items):
            continue  # no row with these matches can be known
        found_categories, found_mapped, found_flags = _keys(items)
        for key in found_categories:
            owners.categories.setdefault(key, []).append(code)
        for key in found_mapped:
            owners.mapped.setdefault(key, []).append(code)
        for flag in found_flags:
            owners.flags.setdefault(flag, []).append(code)
    return owners


@dataclass(frozen=True, slots=True, kw_only=True)
class _Coded:
    """A text column as one integer code per row (-1 for null) and the distinct values."""

    codes: npt.NDArray[np.int64]
    values: list[str]

    def equal(self, value: str) -> npt.NDArray[np.bool_]:
        """Rows holding ``value``."""
        if value not in self.values:
            return np.zeros(len(self.codes), dtype=bool)
        found: npt.NDArray[np.bool_] = self.codes == self.values.index(value)
        return found


def _codes_of(column: pa.ChunkedArray | pa.Array) -> _Coded:
    encoded = pc.dictionary_encode(_combined(column))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return _Coded(codes=codes, values=encoded.dictionary.to_pylist())


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _identity_ids(table: pa.Table) -> tuple[npt.NDArray[np.int64], int]:
    """Each row's :func:`_identity` as an integer in ``[0, distinct)``, and ``distinct``.

    Two rows get the same integer exactly when their identity texts are equal: each digest
    column is dictionary-encoded over the rows it decides (those with no stronger digest),
    and rows with no digest are numbered by their distinct ``(input, line)``.
    """
    n = table.num_rows
    ids = np.zeros(n, dtype=np.int64)
    undecided = np.ones(n, dtype=bool)
    distinct = 0
    for name in ("sha256", "sha1", "md5"):
        column = _combined(table.column(name))
        decided = column.is_valid().to_numpy(zero_copy_only=False) & undecided
        if not decided.any():
            continue
        rows = np.flatnonzero(decided)
        values = column if len(rows) == n else column.take(pa.array(rows))
        encoded = pc.dictionary_encode(values)
        ids[rows] = encoded.indices.to_numpy(zero_copy_only=False) + distinct
        distinct += len(encoded.dictionary)
        undecided &= ~decided
    rest = np.flatnonzero(undecided)
    if len(rest):
        keys = np.stack(
            [
                _combined(table.column("input")).to_numpy()[rest].astype(np.int64),
                _combined(table.column("line")).to_numpy()[rest].astype(np.int64),
            ],
            axis=1,
        )
        _, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        ids[rest] = inverse + distinct
        distinct += int(inverse.max()) + 1
    return ids, distinct


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
