"""Matching for a long-running server: the serving snapshot, followed as it is republished.

A server process keeps one opened :class:`~hashmatch.index.Snapshot` and its
:class:`~hashmatch.match.Matcher`. At most every ``poll_seconds`` it reads the publish
pointer; when another process (an ingest, a rollback) has published a new snapshot, the
next request opens it and swaps it in. A request holds the :class:`Serving` it started
with, so it finishes on the snapshot it began on: old snapshots stay mapped until their
last reader drops them, and unlinking mapped files does not disturb those readers.

Two shapes of request:

* :meth:`LiveMatcher.lookup`: one digest, a plain-Python path over the index's
  memoryviews (a numpy call costs more than the whole lookup);
* :meth:`LiveMatcher.match`: a batch of items as Arrow columns (``id``, ``md5``,
  ``sha1``, ``sha256`` as hex text), through the same :class:`Matcher` the CLI uses, so a
  verdict over HTTP is the verdict a check gives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.errors import InputError, NotFound, SnapshotError
from hashmatch.index import MISS, Snapshot, SnapshotStore
from hashmatch.ingest.parse import parse_batch
from hashmatch.match.matcher import Matcher
from hashmatch.model import Verdict
from hashmatch.records import RECORD_SCHEMA

__all__ = ["ITEM_COLUMNS", "MATCH_SCHEMA", "LiveMatcher", "Lookup", "Serving", "verdict_counts"]

ITEM_COLUMNS = ("id", "md5", "sha1", "sha256")
"""Columns a match batch may carry (all text; at least one digest column)."""

MATCH_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("matches", pa.string()),
    ],
    metadata={
        "id": "the caller's id of the item, as given (null if none was given)",
        "matches": "canonical JSON list of {list, version, purpose, matched_on, labels}",
    },
)
"""One row per item of a match batch, in the items' order."""

_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    """The verdict on one digest, and the matches behind it as canonical JSON."""

    verdict: Verdict
    reason: str | None
    matches: str | None
    snapshot_id: str


@dataclass(frozen=True, slots=True)
class Serving:
    """One opened snapshot and its matcher: what a request works with from start to end."""

    snapshot: Snapshot
    matcher: Matcher

    def lookup(self, algorithm: Algorithm, digest: str) -> Lookup:
        """The verdict on one hex ``digest`` (any case; surrounding blanks ignored)."""
        text = digest.strip()
        width = algorithm.hex_length
        if len(text) != width or not _HEX.issuperset(text):
            return Lookup(
                verdict=Verdict.INVALID,
                reason=f"{algorithm.value}: not {width} hexadecimal characters",
                matches=None,
                snapshot_id=self.snapshot.id,
            )
        raw = bytes.fromhex(text)
        if raw == EMPTY_FILE_DIGESTS[algorithm]:
            return Lookup(
                verdict=Verdict.NOT_ASSESSABLE,
                reason="zero-length file digest: it matches nothing, so the file cannot be "
                "assessed",
                matches=None,
                snapshot_id=self.snapshot.id,
            )
        set_id = self.snapshot.index.lookup(algorithm, raw)
        if set_id == MISS:
            return Lookup(
                verdict=Verdict.UNKNOWN, reason=None, matches=None, snapshot_id=self.snapshot.id
            )
        verdict, matches = self.matcher.describe_one(algorithm, set_id)
        return Lookup(verdict=verdict, reason=None, matches=matches, snapshot_id=self.snapshot.id)

    def match(self, items: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
        """Verdicts for a batch of items, as a :data:`MATCH_SCHEMA` batch in the same order.

        ``items`` has text columns among :data:`ITEM_COLUMNS`; InputError for any other
        column, a column that is not text, or no digest column at all.
        """
        n = items.num_rows
        columns = _item_columns(items)
        ids = columns.pop("id", None)
        records = pa.RecordBatch.from_arrays(
            [
                pa.array(np.arange(1, n + 1, dtype=np.int64)),
                *(columns.get(a.value, pa.nulls(n, pa.string())) for a in Algorithm),
                pa.nulls(n, pa.int64()),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.string()),
            ],
            schema=RECORD_SCHEMA,
        )
        verdicts, reasons, matches = self.matcher.decide(parse_batch(records))
        return pa.RecordBatch.from_arrays(
            [ids if ids is not None else pa.nulls(n, pa.string()), verdicts, reasons, matches],
            schema=MATCH_SCHEMA.with_metadata(
                {**_metadata(MATCH_SCHEMA), "snapshot_id": self.snapshot.id}
            ),
        )


def _metadata(schema: pa.Schema) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}


def _item_columns(items: pa.RecordBatch | pa.Table) -> dict[str, pa.Array]:
    unknown = [name for name in items.schema.names if name not in ITEM_COLUMNS]
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(map(repr, unknown))}: a match batch has the "
            f"columns {', '.join(ITEM_COLUMNS)}"
        )
    if len(set(items.schema.names)) != len(items.schema.names):
        raise InputError("a column appears twice in the match batch")
    if not any(a.value in items.schema.names for a in Algorithm):
        raise InputError("a match batch needs at least one digest column: md5, sha1 or sha256")
    out: dict[str, pa.Array] = {}
    for name in items.schema.names:
        column = items.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        elif pa.types.is_null(column.type):
            column = pa.nulls(len(column), pa.string())
        elif not pa.types.is_string(column.type):
            raise InputError(f"column {name!r} must be text (utf8), not {column.type}")
        out[name] = column
    return out


class LiveMatcher:
    """The serving snapshot of a data directory, re-opened when a new one is published.

    ``make_matcher`` builds the matcher for each snapshot opened (the server passes its
    options). Thread-safe: requests on several threads share it.
    """

    def __init__(
        self,
        store: SnapshotStore,
        *,
        threads: int = 1,
        poll_seconds: float = 0.5,
        make_matcher: Callable[[Snapshot], Matcher] = Matcher,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._threads = threads
        self._poll = poll_seconds
        self._make = make_matcher
        self._clock = clock
        self._lock = threading.Lock()
        self._serving: Serving | None = None
        self._checked = float("-inf")
        self.switches = 0
        """How many times a newly published snapshot was swapped in (for tests, metrics)."""

    def current(self) -> Serving | None:
        """The snapshot to serve this request from; None before any list is loaded."""
        serving = self._serving
        if self._clock() - self._checked < self._poll and serving is not None:
            return serving
        with self._lock:
            if self._clock() - self._checked >= self._poll or self._serving is None:
                self._refresh()
            return self._serving

    def expire(self) -> None:
        """Look for a newly published snapshot at the next request, whatever the poll time
        (the process has just published one itself)."""
        with self._lock:
            self._checked = float("-inf")

    def _refresh(self) -> None:
        """Open the published snapshot if it is not the one serving (lock held).

        A snapshot removed between reading the pointer and opening it (two publishes in
        quick succession) is retried with the pointer read again; if the pointer cannot
        be followed at all, the snapshot already serving goes on serving.
        """
        self._checked = self._clock()
        for _attempt in range(5):
            current = self._store.current_id()
            if current is None:
                return
            if self._serving is not None and self._serving.snapshot.id == current:
                return
            try:
                snapshot = self._store.open(current, threads=self._threads)
            except (NotFound, SnapshotError):
                continue
            if self._serving is not None:
                self.switches += 1
            self._serving = Serving(snapshot=snapshot, matcher=self._make(snapshot))
            return
        if self._serving is None:
            raise SnapshotError(f"cannot open the published snapshot in {self._store.root}")


def verdict_counts(batch: pa.RecordBatch) -> dict[str, int]:
    """Items per verdict in a :data:`MATCH_SCHEMA` batch (verdicts with no items left out)."""
    counts = pc.value_counts(batch.column("verdict"))
    return {
        str(value): int(count)
        for value, count in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        )
    }
