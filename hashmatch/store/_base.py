"""The catalog contract: what the core may ask of the store, and what each call raises.

:class:`Catalog` is the only face of the store that the rest of hashmatch sees. It takes and
returns the frozen dataclasses of :mod:`hashmatch.model` (and :class:`VerdictRecord`), never
SQL rows or dicts. Two implementations keep the same behaviour and raise the same errors:
:class:`~hashmatch.store.sql.SqlCatalog` (SQLAlchemy: SQLite by default, PostgreSQL when shared)
and :class:`~hashmatch.store.memory.MemoryCatalog` (plain dicts, the reference twin).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from hashmatch.audit import AuditEntry, AuditRecord
from hashmatch.keys import ApiKey, is_token_hash
from hashmatch.model import (
    ExchangeState,
    Grading,
    ListInfo,
    ListPolicy,
    ListVersionInfo,
    Purpose,
    RunInfo,
    TrustedKey,
    Verdict,
)

__all__ = [
    "Catalog",
    "VerdictRecord",
    "as_utc",
    "check_limit",
    "check_token_hash",
    "latest_per_digest",
    "new_list",
    "plain_counts",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictRecord:
    """One stored verdict of a run: the row it answers, the verdict and what backs it."""

    row: int
    """0-based position in the run's input order."""
    verdict: Verdict
    reason: str | None = None
    """Why the row is ``invalid`` or ``not_assessable``; None otherwise."""
    labels: str | None = None
    """Canonical JSON text of the matched lists and their labels (opaque to the store)."""
    path: str | None = None
    """The file path, only when the operator turned ``record_paths`` on."""


def as_utc(value: datetime, what: str) -> datetime:
    """``value`` as the same instant in UTC; ValueError if it is naive (no time zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def new_list(
    *, name: str, purpose: Purpose, description: str, created_by: str, created_at: datetime
) -> ListInfo:
    """The record of a list about to be created, checked the same way by every catalog."""
    return ListInfo(
        name=name,
        purpose=Purpose(purpose),
        description=description,
        created_by=created_by,
        created_at=as_utc(created_at, "created_at"),
    )


def plain_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """A fresh dict with plain ``str`` keys (a ``Verdict`` key becomes its value) and ints."""
    return {str(key): int(value) for key, value in counts.items()}


def check_limit(since_seq: int, limit: int | None) -> None:
    """ValueError unless ``since_seq`` and ``limit`` (when given) are at least 0."""
    if since_seq < 0:
        raise ValueError(f"since_seq must be 0 or more, got {since_seq}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")


def check_token_hash(token_hash: str) -> None:
    """ValueError unless ``token_hash`` is what :func:`hashmatch.keys.hash_token` gives.

    The message never shows the value: a caller that passed the token by mistake would
    otherwise put a secret into a log.
    """
    if not isinstance(token_hash, str) or not is_token_hash(token_hash):
        raise ValueError("token_hash must be a SHA-256 as 64 lower-case hex digits")


def latest_per_digest(gradings: Sequence[Grading]) -> list[Grading]:
    """The last grading of each (algorithm, digest) in ``gradings``, kept in their order.

    ``gradings`` must be in the order :meth:`Catalog.gradings` gives (oldest first, ties in
    the order they were added), so the last one seen of a digest is its newest.
    """
    newest: dict[tuple[str, str], int] = {}
    for position, grading in enumerate(gradings):
        newest[(grading.algorithm, grading.digest)] = position
    return [gradings[position] for position in sorted(newest.values())]


class Catalog(abc.ABC):
    """The catalog of lists, versions, snapshots and runs, verdicts, gradings and the audit trail.

    Errors, the same in every implementation:

    - :class:`~hashmatch.errors.NotFound`: a named list, version id, run id or API key id
      does not exist.
    - :class:`~hashmatch.errors.Conflict`: the thing to create exists already (list name,
      version number within its list, version id, run id, verdict row of a run, grading
      id, API key id or token hash), or a run is finished (an API key revoked) twice.
      Nothing of the failed call is stored.
    - :class:`~hashmatch.errors.StoreError`: the database failed (locked, gone, full); the
      message names the operation. Nothing of the failed call is stored.
    - ``ValueError``: a datetime argument is naive. Datetimes come back as aware UTC.

    Every method is one transaction. Listing methods return new lists the caller may keep.
    A catalog is a context manager that closes it on exit.
    """

    # Lists

    @abc.abstractmethod
    def create_list(
        self,
        *,
        name: str,
        purpose: Purpose,
        description: str,
        created_by: str,
        created_at: datetime,
    ) -> ListInfo:
        """Record a new list with no version yet. Conflict if ``name`` exists."""

    @abc.abstractmethod
    def get_list(self, name: str) -> ListInfo:
        """The list called ``name``, with its active version number. NotFound if none."""

    @abc.abstractmethod
    def lists(self) -> list[ListInfo]:
        """Every list, sorted by name (code-point order)."""

    @abc.abstractmethod
    def set_policy(self, name: str, policy: ListPolicy) -> ListInfo:
        """Replace the list's policy; returns the list as it now is. NotFound if none."""

    # Trusted publisher keys

    @abc.abstractmethod
    def add_trusted_key(self, list_name: str, key: TrustedKey) -> None:
        """Trust ``key`` for the list. NotFound: no list; Conflict: the key id is trusted."""

    @abc.abstractmethod
    def remove_trusted_key(self, list_name: str, key_id: str) -> None:
        """Stop trusting a key. NotFound if the list does not exist or does not trust it."""

    @abc.abstractmethod
    def trusted_keys(self, list_name: str) -> list[TrustedKey]:
        """The keys the list trusts, by key id. NotFound if the list does not exist."""

    # List versions

    @abc.abstractmethod
    def next_version_number(self, list_name: str) -> int:
        """One more than the list's highest version number: 1 for a list without versions.

        NotFound if the list does not exist.
        """

    @abc.abstractmethod
    def add_version(self, version: ListVersionInfo, *, activate: bool = True) -> None:
        """Store ``version`` of list ``version.list_name``, and serve it if ``activate``.

        In one transaction: insert the version and, if ``activate``, make it the list's
        only active version (the previous one becomes inactive). ``version.active`` is
        ignored: ``activate`` decides. NotFound if the list does not exist; Conflict if the
        list already has that version number or the version id exists; in either case the
        previously active version still serves.
        """

    @abc.abstractmethod
    def versions(self, list_name: str) -> list[ListVersionInfo]:
        """The list's versions by number. NotFound if the list does not exist."""

    @abc.abstractmethod
    def get_version(self, version_id: str) -> ListVersionInfo:
        """The version with id ``version_id``. NotFound if none."""

    @abc.abstractmethod
    def active_versions(self) -> list[ListVersionInfo]:
        """The active version of every list that has one, sorted by list name."""

    # Snapshots

    @abc.abstractmethod
    def record_snapshot(
        self,
        snapshot_id: str,
        *,
        built_at: datetime,
        path: str,
        version_ids: Sequence[str],
    ) -> None:
        """Record that snapshot ``snapshot_id`` (a content hash) was built from ``version_ids``.

        Idempotent: recording an id that exists does nothing (the same id is the same
        content). NotFound if one of ``version_ids`` does not exist.
        """

    @abc.abstractmethod
    def snapshot_ids(self) -> list[str]:
        """The ids of every recorded snapshot, oldest first (then by id)."""

    # Runs and verdicts

    @abc.abstractmethod
    def add_run(self, run: RunInfo) -> None:
        """Record a run as it starts. Conflict if ``run.run_id`` exists."""

    @abc.abstractmethod
    def finish_run(self, run_id: str, *, finished_at: datetime, counts: dict[str, int]) -> None:
        """Record the end time and the counts of a run.

        NotFound if the run does not exist; Conflict if it is finished already.
        """

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunInfo:
        """The run with id ``run_id``. NotFound if none."""

    @abc.abstractmethod
    def runs(self) -> list[RunInfo]:
        """Every run, newest first (by start time, then by run id, both descending)."""

    @abc.abstractmethod
    def add_verdicts(self, run_id: str, rows: Sequence[VerdictRecord]) -> None:
        """Store a chunk of a run's verdicts (chunks of about 100k rows are expected).

        All or nothing: NotFound if the run does not exist; Conflict if a row number is
        already stored for the run or repeats within ``rows``.
        """

    @abc.abstractmethod
    def verdicts(self, run_id: str) -> list[VerdictRecord]:
        """The run's verdicts ordered by row. NotFound if the run does not exist."""

    # Gradings

    @abc.abstractmethod
    def add_grading(self, grading: Grading) -> None:
        """Store a reviewer's grading. Conflict if ``grading.grading_id`` exists.

        A grading of a digest that is graded already is stored beside the earlier one and
        supersedes it in :meth:`latest_gradings`; nothing is ever changed or deleted.
        ``grading.run_id`` is not checked against the runs (gradings may be imported).
        """

    @abc.abstractmethod
    def gradings(self, *, since: datetime | None = None) -> list[Grading]:
        """Every grading with ``graded_at`` at or after ``since`` (None: all), oldest first.

        Gradings made at the same instant come in the order they were added. ``since`` is
        inclusive: a caller that resumes from the last ``graded_at`` it saw gets that
        grading again (recognise it by ``grading_id``) rather than missing a twin of it.
        """

    @abc.abstractmethod
    def latest_gradings(self) -> list[Grading]:
        """The newest grading of each (algorithm, digest), in the order of :meth:`gradings`.

        Newest: the latest ``graded_at``; of gradings made at the same instant, the one
        added last.
        """

    # API keys of the HTTP API (see hashmatch.keys): the token's hash is kept, never the token

    @abc.abstractmethod
    def add_api_key(self, key: ApiKey, *, token_hash: str) -> None:
        """Store ``key`` with the hash of its token (:func:`hashmatch.keys.hash_token`).

        Conflict if ``key.key_id`` or ``token_hash`` is stored already; ValueError if
        ``token_hash`` is not 64 lower-case hex digits (the message never shows it).
        """

    @abc.abstractmethod
    def api_key_for(self, token_hash: str) -> ApiKey | None:
        """The key whose token hashes to ``token_hash``, revoked or not; None if none.

        One lookup by an index: this runs on every request of the HTTP API. Any text is
        accepted (no match is simply None).
        """

    @abc.abstractmethod
    def api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first (by ``created_at``, then key id)."""

    @abc.abstractmethod
    def revoke_api_key(self, key_id: str, *, at: datetime) -> ApiKey:
        """Mark the key revoked at ``at``; returns it as it now is.

        NotFound if no key has that id; Conflict if it is revoked already (the first
        revocation time is kept). Revoked keys are kept, never deleted.
        """

    # Exchanges (see hashmatch.exchange_sync): one state per exchange

    @abc.abstractmethod
    def exchange_state(self, exchange: str) -> ExchangeState | None:
        """What is kept of ``exchange`` (its checkpoint, a fetch under way); None if never."""

    @abc.abstractmethod
    def save_exchange_state(self, state: ExchangeState) -> None:
        """Store ``state`` in place of the exchange's earlier one (or as its first).

        NotFound if ``state.list_name`` names no list.
        """

    @abc.abstractmethod
    def add_exchange_version(self, version: ListVersionInfo, state: ExchangeState) -> None:
        """Add ``version`` (active) and store ``state`` in one transaction.

        A fetch's list version and the checkpoint that says what it holds are kept together
        or not at all: :meth:`add_version`'s errors, and nothing stored on any of them.
        """

    # The audit trail (see hashmatch.audit); append-only: no call updates or deletes.

    @abc.abstractmethod
    def append_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any],
    ) -> AuditRecord:
        """Append one record to the audit chain and return it as stored.

        Its ``seq`` is one more than the last record's (1 for the first) and its
        ``prev_hash`` is the last record's ``hash``, both read in the same transaction as
        the insert: concurrent appenders, in threads or processes, never fork the chain.
        ValueError as :func:`hashmatch.audit.make_record` says (naive ``at``, empty actor or
        action, ``details`` that is not JSON); StoreError if the database fails.
        """

    def append_audit_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Append ``entries`` in order, as :meth:`append_audit` appends one.

        The SQL catalog appends them in one transaction (one wait for the write lock);
        this plain version appends one at a time.
        """
        return [
            self.append_audit(
                at=e.at, actor=e.actor, action=e.action, subject=e.subject, details=e.details
            )
            for e in entries
        ]

    @abc.abstractmethod
    def audit_records(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        """The records with ``seq`` above ``since_seq``, in ``seq`` order, at most ``limit``.

        ``since_seq=0`` starts at the first record. ValueError if either is negative.
        Verify what comes back with :func:`hashmatch.audit.verify_chain`.
        """

    # Lifetime

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and files. The catalog is not used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
