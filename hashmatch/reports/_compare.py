"""Comparing two runs: does a triage run at the scene agree with the lab's later run?

Two runs *should* agree when they read the same manifests (by SHA-256) against the same
list versions; :func:`compare_reports` checks both of those preconditions and then every
row: its verdict and the list versions it matched, keyed by (manifest SHA-256, line), so
the manifests may be given in another order. It reports agreement, or exactly where the
runs differ: a precondition that does not hold, and each row whose verdict or matches
differ (the first ``limit`` of them are kept; all are counted).

Rows are streamed from the JSON reports; only the first report's per-row verdicts are
held in memory (a few dozen bytes a row).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashmatch.reports._files import iter_report_rows, read_report_header
from hashmatch.reports._model import ReportHeader

__all__ = ["Comparison", "RowDifference", "compare_reports"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RowDifference:
    """One file the two runs judged differently (or that only one of them holds)."""

    input_sha256: str
    line: int
    path: str | None
    verdict_a: str | None
    """None when run A has no such row."""
    verdict_b: str | None
    matches_a: tuple[str, ...] = ()
    """``list vN`` of each match in run A."""
    matches_b: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """The outcome of comparing two runs."""

    run_a: str
    run_b: str
    rows_a: int
    rows_b: int
    same_inputs: bool
    same_lists: bool
    same_algorithms: bool
    notes: list[str] = field(default_factory=list)
    """Each precondition that does not hold, in words."""
    differing_rows: int = 0
    differences: list[RowDifference] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        """Same inputs, same list versions, same algorithms and the same verdict on every row."""
        return (
            self.same_inputs
            and self.same_lists
            and self.same_algorithms
            and self.differing_rows == 0
            and self.rows_a == self.rows_b
        )


def _lists_of(header: ReportHeader) -> dict[str, tuple[int, str]]:
    return {item.name: (item.version, item.source_sha256) for item in header.run.lists}


def _rows(
    path: Path, inputs: list[str] | None
) -> Iterator[tuple[tuple[str, int], Any, dict[str, Any]]]:
    """Rows keyed by (manifest SHA-256, line), or by (manifest position, line) when the
    runs' manifests differ (two scans of one folder write manifests that differ in their
    comment lines)."""
    for row in iter_report_rows(path):
        number = int(row["input"])
        if inputs is not None and 0 <= number < len(inputs):
            sha = inputs[number]
        else:
            sha = f"input {number}"
        matches = tuple(sorted(f"{m['list']} v{m['version']}" for m in row.get("matches") or []))
        yield (sha, int(row["line"])), (row["verdict"], matches), row


def compare_reports(path_a: Path, path_b: Path, *, limit: int = 1000) -> Comparison:
    """Compare two JSON reports row by row (see the module docstring)."""
    header_a, header_b = read_report_header(path_a), read_report_header(path_b)
    inputs_a = [item.sha256 for item in header_a.run.inputs]
    inputs_b = [item.sha256 for item in header_b.run.inputs]
    notes: list[str] = []
    same_inputs = sorted(inputs_a) == sorted(inputs_b)
    if not same_inputs:
        only_a = sorted(set(inputs_a) - set(inputs_b))
        only_b = sorted(set(inputs_b) - set(inputs_a))
        notes.append(
            "the runs read different manifests: "
            + "; ".join(
                [f"only in A: {', '.join(s[:16] for s in only_a)}"] * bool(only_a)
                + [f"only in B: {', '.join(s[:16] for s in only_b)}"] * bool(only_b)
            )
        )
    lists_a, lists_b = _lists_of(header_a), _lists_of(header_b)
    same_lists = lists_a == lists_b
    if not same_lists:
        for name in sorted(set(lists_a) | set(lists_b)):
            a, b = lists_a.get(name), lists_b.get(name)
            if a != b:
                notes.append(
                    f"list {name}: "
                    + (f"v{a[0]} (source {a[1][:16]})" if a else "not loaded")
                    + " in A, "
                    + (f"v{b[0]} (source {b[1][:16]})" if b else "not loaded")
                    + " in B"
                )
    same_algorithms = sorted(header_a.run.algorithms) == sorted(header_b.run.algorithms)
    if not same_algorithms:
        notes.append(
            f"algorithms differ: {', '.join(header_a.run.algorithms)} in A, "
            f"{', '.join(header_b.run.algorithms)} in B"
        )

    seen_a: dict[tuple[str, int], tuple[Any, str | None]] = {}
    rows_a = 0
    key_a, key_b = (inputs_a, inputs_b) if same_inputs else (None, None)
    if not same_inputs:
        notes.append("rows are compared by manifest position and line")
    for key, outcome, row in _rows(path_a, key_a):
        seen_a[key] = (outcome, row.get("path"))
        rows_a += 1
    differences: list[RowDifference] = []
    differing = 0
    rows_b = 0
    for key, outcome, row in _rows(path_b, key_b):
        rows_b += 1
        found = seen_a.pop(key, None)
        if found is not None and found[0] == outcome:
            continue
        differing += 1
        if len(differences) < limit:
            differences.append(
                RowDifference(
                    input_sha256=key[0],
                    line=key[1],
                    path=row.get("path"),
                    verdict_a=None if found is None else found[0][0],
                    verdict_b=outcome[0],
                    matches_a=() if found is None else found[0][1],
                    matches_b=outcome[1],
                )
            )
    for key, ((verdict, matches), path) in seen_a.items():
        differing += 1
        if len(differences) < limit:
            differences.append(
                RowDifference(
                    input_sha256=key[0],
                    line=key[1],
                    path=path,
                    verdict_a=verdict,
                    verdict_b=None,
                    matches_a=matches,
                )
            )
    return Comparison(
        run_a=header_a.run.run_id,
        run_b=header_b.run.run_id,
        rows_a=rows_a,
        rows_b=rows_b,
        same_inputs=same_inputs,
        same_lists=same_lists,
        same_algorithms=same_algorithms,
        notes=notes,
        differing_rows=differing,
        differences=differences,
    )
