"""From parsed manifest records to verdicts: one verdict per row, in input order.

The rules (DOMAIN.md):

* a malformed digest value makes the row ``invalid``, with every reason;
* a row with no usable digest is ``not_assessable``: no digest at all, or only the digest
  of a zero-length file (which is on many lists and means nothing);
* a digest on any list of material of concern makes the row ``known``; on lists of known
  ordinary files only, ``known_benign``; on none, ``unknown``.

Every algorithm the row carries is looked up, and the row's matches are the union of the
members found: a file on a concern list and on a benign list is ``known``, and its row
names both, each with its own labels, version and the algorithms it matched on.

On request (``map_to``), each match whose labels carry a category also gets a ``mapped``
object beside its ``labels``: the category as a crosswalk suggests it in another scheme
(:mod:`hashmatch.crosswalk`). ``labels`` stay the source's own, byte for byte.

:class:`Matcher` works out each distinct combination of label sets once for a whole batch
(a million rows share a handful); :class:`RowMatcher`, its plain reference twin, works out
every matched row on its own, and the tests hold the two to the same batches.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.crosswalk import CrosswalkSet, load_crosswalks
from hashmatch.digests import Algorithm, digest_matrix
from hashmatch.index import MISS, Snapshot
from hashmatch.ingest.parse import ParsedBatch, hex_column
from hashmatch.model import Purpose, Verdict
from hashmatch.records import decode_labels

__all__ = ["VERDICTS", "VERDICT_SCHEMA", "Matcher", "RowMatcher", "join_reason", "with_notes"]

VERDICTS: tuple[Verdict, ...] = tuple(Verdict)
"""Verdicts in the order their codes are assigned."""

VERDICT_SCHEMA = pa.schema(
    [
        pa.field("input", pa.int32(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("md5", pa.string()),
        pa.field("sha1", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("matches", pa.string()),
    ],
    # a run with ``map_to`` adds ``mapped`` beside ``labels`` in matches that have a category
    metadata={"matches": "canonical JSON list of {list, version, purpose, matched_on, labels}"},
)
"""One row per input row: what it was, and its verdict with the matches behind it."""

_CODE = {v: i for i, v in enumerate(VERDICTS)}
_VERDICT_TEXT = pa.array([v.value for v in VERDICTS], pa.string())
_ZERO_LENGTH = "zero-length file digest: it matches nothing, so the file cannot be assessed"
_NO_DIGEST = "no digest given"


class Matcher:
    """Matches parsed batches against one snapshot, optionally mapping categories for display.

    ``map_to`` names the scheme to map categories to; ``crosswalks`` defaults to the shipped
    ones. An unknown target raises InputError here, before any row is read.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        map_to: str | None = None,
        crosswalks: CrosswalkSet | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.map_to = map_to
        if map_to is not None and crosswalks is None:
            crosswalks = load_crosswalks()
        self.crosswalks = crosswalks
        if map_to is not None and crosswalks is not None:
            crosswalks.require_target(map_to)
        self._concern: dict[int, bool] = {}
        self._matches: dict[tuple[tuple[Algorithm, int], ...], str] = {}

    def match(self, parsed: ParsedBatch, *, input_no: int = 0) -> pa.RecordBatch:
        """Verdicts for every row of ``parsed``, as a :data:`VERDICT_SCHEMA` batch."""
        verdicts, reasons, matches = self.decide(parsed)
        records = parsed.records
        n = parsed.num_rows
        return pa.RecordBatch.from_arrays(
            [
                pa.array(np.full(n, input_no, dtype=np.int32)),
                records.column("line"),
                records.column("path"),
                records.column("size"),
                *(_shown_digest(parsed, a) for a in Algorithm),
                verdicts,
                reasons,
                matches,
            ],
            schema=VERDICT_SCHEMA,
        )

    def decide(self, parsed: ParsedBatch) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Each row's verdict, reason and matches (canonical JSON), as three text columns."""
        n = parsed.num_rows
        index = self.snapshot.index
        hits: dict[Algorithm, npt.NDArray[np.int64]] = {}
        for algorithm in Algorithm:
            if parsed.digests[algorithm].null_count == n:
                continue
            usable = parsed.usable(algorithm)
            if not usable.any():
                continue
            ids = np.full(n, MISS, dtype=np.int64)
            rows = np.flatnonzero(usable)
            values = parsed.digests[algorithm].filter(pa.array(usable))
            ids[rows] = index.lookup_batch(algorithm, digest_matrix(values))
            hits[algorithm] = ids
        codes, described, texts = self._combine(hits, n)
        reasons = np.full(n, None, dtype=object)
        unassessable = ~parsed.any_usable()
        if unassessable.any():
            empty_any = parsed.any_empty_file()
            codes[unassessable] = _CODE[Verdict.NOT_ASSESSABLE]
            reasons[unassessable & empty_any] = _ZERO_LENGTH
            reasons[unassessable & ~empty_any] = _NO_DIGEST
        for row, problems in parsed.problems.items():
            codes[row] = _CODE[Verdict.INVALID]
            reasons[row] = "; ".join(problems)
            described[row] = -1
        return (
            _VERDICT_TEXT.take(pa.array(codes)),
            pa.array(reasons, pa.string()),
            pa.array(texts, pa.string()).take(pa.array(described, mask=described < 0)),
        )

    def _combine(
        self, hits: dict[Algorithm, npt.NDArray[np.int64]], n: int
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], list[str]]:
        """Each row's verdict code from its lookups, and its matches text (by index, -1: none).

        Rows found on the same label sets share one key: the keys are made distinct with
        numpy, and each distinct key is worked out once (:class:`RowMatcher`, the reference
        twin, works out every matched row on its own).
        """
        codes = np.full(n, _CODE[Verdict.UNKNOWN], dtype=np.int8)
        described = np.full(n, -1, dtype=np.int64)
        matched = np.zeros(n, dtype=bool)
        for ids in hits.values():
            matched |= ids != MISS
        rows = np.flatnonzero(matched)
        if not len(rows):
            return codes, described, []
        algorithms = list(hits)
        combos = np.stack([hits[a][rows] for a in algorithms], axis=1)
        distinct, inverse = np.unique(combos, axis=0, return_inverse=True)
        texts = []
        verdicts = np.empty(len(distinct), dtype=np.int8)
        for k, combo in enumerate(distinct.tolist()):
            key = tuple(
                (a, set_id) for a, set_id in zip(algorithms, combo, strict=True) if set_id != MISS
            )
            concern = any(self._is_concern(set_id) for _, set_id in key)
            verdicts[k] = _CODE[Verdict.KNOWN if concern else Verdict.KNOWN_BENIGN]
            texts.append(self._describe(key))
        inverse = inverse.reshape(-1)
        codes[rows] = verdicts[inverse]
        described[rows] = inverse
        return codes, described, texts

    def describe_one(self, algorithm: Algorithm, set_id: int) -> tuple[Verdict, str]:
        """The verdict and matches text of one digest found on label set ``set_id``."""
        key = ((algorithm, set_id),)
        verdict = Verdict.KNOWN if self._is_concern(set_id) else Verdict.KNOWN_BENIGN
        return verdict, self._describe(key)

    def _is_concern(self, set_id: int) -> bool:
        found = self._concern.get(set_id)
        if found is None:
            lists = self.snapshot.lists
            members = self.snapshot.index.label_set(set_id)
            found = any(lists[m.slot].purpose is Purpose.CONCERN for m in members)
            self._concern[set_id] = found
        return found

    def _describe(self, key: tuple[tuple[Algorithm, int], ...]) -> str:
        """Canonical JSON of every match behind one combination of label sets."""
        found = self._matches.get(key)
        if found is None:
            by_member: dict[tuple[int, str | None], list[str]] = {}
            for algorithm, set_id in key:
                for member in self.snapshot.index.label_set(set_id):
                    by_member.setdefault((member.slot, member.labels), []).append(algorithm.value)
            found = json.dumps(
                _match_items(self.snapshot, by_member.items(), self._mapper()),
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            )
            self._matches[key] = found
        return found

    def _mapper(self) -> Callable[[dict[str, Any]], dict[str, Any] | None] | None:
        if self.map_to is None or self.crosswalks is None:
            return None
        return functools.partial(self.crosswalks.map, target=self.map_to)


class RowMatcher(Matcher):
    """:class:`Matcher` working out every matched row on its own: the reference twin."""

    def _combine(
        self, hits: dict[Algorithm, npt.NDArray[np.int64]], n: int
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], list[str]]:
        codes = np.full(n, _CODE[Verdict.UNKNOWN], dtype=np.int8)
        described = np.full(n, -1, dtype=np.int64)
        texts: list[str] = []
        for row in range(n):
            key = tuple((a, int(ids[row])) for a, ids in hits.items() if ids[row] != MISS)
            if not key:
                continue
            concern = any(self._is_concern(set_id) for _, set_id in key)
            codes[row] = _CODE[Verdict.KNOWN if concern else Verdict.KNOWN_BENIGN]
            described[row] = len(texts)
            texts.append(self._describe(key))
        return codes, described, texts


def _match_items(
    snapshot: Snapshot,
    members: Iterable[tuple[tuple[int, str | None], list[str]]],
    mapper: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
) -> list[dict[str, Any]]:
    items = []
    for (slot, labels), algorithms in members:
        listed = snapshot.list_at(slot)
        item: dict[str, Any] = {
            "list": listed.name,
            "version": listed.version,
            "purpose": listed.purpose.value,
            "matched_on": sorted(set(algorithms)),
            "labels": decode_labels(labels),
        }
        if mapper is not None:
            mapped = mapper(item["labels"])
            if mapped is not None:
                item["mapped"] = mapped
        items.append(item)
    items.sort(
        key=lambda item: (
            item["purpose"] != Purpose.CONCERN.value,
            item["list"],
            json.dumps(item["labels"], sort_keys=True),
        )
    )
    return items


def _shown_digest(parsed: ParsedBatch, algorithm: Algorithm) -> pa.Array:
    """The parsed digest as lower-case hex; a malformed value as the text that was given."""
    given = pc.utf8_trim_whitespace(parsed.records.column(algorithm.value))
    given = pc.if_else(pc.equal(given, ""), pa.nulls(len(given), pa.string()), given)
    return pc.coalesce(hex_column(parsed.digests[algorithm]), given)


def join_reason(reason: str | None, notes: str) -> str:
    """A row's reason with the adapter's notes about the row (a repaired size...) after it."""
    return f"{reason}; {notes}" if reason else notes


def with_notes(verdicts: pa.RecordBatch, notes: pa.Array) -> pa.RecordBatch:
    """``verdicts`` with each row's notes (null: none) joined to its reason."""
    if notes.null_count == len(notes):
        return verdicts
    at = VERDICT_SCHEMA.get_field_index("reason")
    reasons = verdicts.column(at).to_pylist()
    for row, note in enumerate(notes.to_pylist()):
        if note is not None:
            reasons[row] = join_reason(reasons[row], note)
    return verdicts.set_column(at, "reason", pa.array(reasons, pa.string()))
