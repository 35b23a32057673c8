"""Counts over a run's verdict table: by verdict and by list, with and without copies."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.model import Verdict
from hashmatch.reports._model import Count, ReportCounts

__all__ = ["count_verdicts"]


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


def count_verdicts(table: pa.Table) -> ReportCounts:
    """Counts for a table of :data:`~hashmatch.match.matcher.VERDICT_SCHEMA` rows."""
    identity = _identity(table)
    verdicts = table.column("verdict")
    by_verdict = {v.value: _count(identity.filter(pc.equal(verdicts, v.value))) for v in Verdict}
    matches = pc.dictionary_encode(table.column("matches")).combine_chunks()
    by_list: dict[str, Count] = {}
    owners: dict[str, list[int]] = {}
    for code, text in enumerate(matches.dictionary.to_pylist()):
        for item in json.loads(text):
            owners.setdefault(item["list"], []).append(code)
    for name in sorted(owners):
        chosen = pc.is_in(matches.indices, pa.array(owners[name], matches.indices.type))
        by_list[name] = _count(identity.filter(pc.fill_null(chosen, False)))
    return ReportCounts(
        total=_count(identity),
        by_verdict=by_verdict,
        by_list=by_list,
        review_queue=by_verdict[Verdict.UNKNOWN.value].total,
    )
