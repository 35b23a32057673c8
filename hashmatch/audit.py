"""The audit trail: an append-only chain of records, each sealed by the hash of the one before.

Every action that changes what hashmatch answers, or that hands data out (an ingest, a
rollback, a run, a report, a grading, an export, a policy or trust change, a key), is one
:class:`AuditRecord`. Records are numbered ``seq`` = 1, 2, 3 ... and each carries
``prev_hash``, the ``hash`` of the record before it (:data:`GENESIS` for the first), and its
own ``hash``: the SHA-256 of its content and ``prev_hash``. The store appends records
(:meth:`hashmatch.store.Catalog.append_audit`) and never updates or deletes them;
:func:`verify_chain` checks a chain as read back.

The hash, exactly (so that another tool can recompute it)::

    sha256(utf8(json({"action": ..., "actor": ..., "at": ..., "details": ...,
                      "prev_hash": ..., "seq": ..., "subject": ...})))

as lowercase hex, where ``json`` has sorted keys at every level, the separators ``,`` and
``:`` with no spaces, non-ASCII characters written as themselves (UTF-8, not ``\\u`` escapes),
and ``at`` as UTC ISO 8601 with microseconds and a ``Z``: ``2025-03-01T12:00:00.123456Z``.
``details`` holds JSON values only (objects with text keys, arrays, text, integers, finite
floats, booleans, null); NUL characters are refused everywhere, since PostgreSQL cannot
store them.

What :func:`verify_chain` detects, each reported with the ``seq`` and a plain reason:

- **edited**: a record whose stored hash is not the hash of its content (its content, its
  ``seq`` or its ``prev_hash`` was changed, or the hash itself was);
- **deleted**: a gap in ``seq`` (including a chain that does not start at 1), or a record
  whose ``prev_hash`` is not the hash of the record before it (a record between them was
  deleted and the rest renumbered, or the record before it was rewritten, hash and all);
- **reordered**: records not stored in ``seq`` order, or a record whose ``prev_hash`` is
  the hash of some other record of the chain (records swapped their places);
- **duplicated**: two records with one ``seq`` (a forked or inserted record);
- with the expected head (the last ``seq`` and ``hash``, kept outside the database, for
  example in a file the service rewrites after each append): **truncated**, a chain that
  ends before the head's ``seq`` (its last records were deleted), and **replaced**, a
  record at the head's ``seq`` whose hash is not the head's (the tail was rewritten).

What it cannot detect: without the expected head, the deletion of the *last* records (the
shortened chain is still a valid chain), or the last record rewritten with its hash
recomputed; and, even with the head, someone who can write both the database and the head
file and rewrites the whole chain from the changed record on, recomputing every hash, and
the head to match. The hash proves that the chain is internally consistent, not who wrote
it: anyone who can write the database can append well-formed records. Signing the head
(or copying it somewhere the database's writers cannot reach) is what closes that gap.
Records appended after the head was last written (a crash between the database commit and
the head file) are not a problem: :attr:`AuditVerification.after_head` counts them.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, TypeAlias

__all__ = [
    "GENESIS",
    "AuditAction",
    "AuditEntry",
    "AuditHead",
    "AuditProblem",
    "AuditProblemKind",
    "AuditRecord",
    "AuditVerification",
    "JsonValue",
    "audit_hash",
    "canonical_json",
    "chain_entries",
    "make_record",
    "verify_chain",
]

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"
"""A JSON value as Python holds it after ``json.loads``."""

GENESIS = "0" * 64
"""The ``prev_hash`` of the first record: 64 zeros (no SHA-256 output is expected to be it)."""


class AuditAction(enum.StrEnum):
    """The actions hashmatch records. ``action`` is plain text: others may be added."""

    INGEST = "ingest"
    ROLLBACK = "rollback"
    RUN = "run"
    REPORT = "report"
    GRADING = "grading"
    EXPORT = "export"
    POLICY = "policy"
    TRUST = "trust"
    KEY = "key"
    MATCH = "match"
    EXCHANGE = "exchange"
    BATCH = "batch"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """What a caller appends: a record before the chain gives it its seq and hashes."""

    at: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditHead:
    """The last record of a chain, as its ``seq`` and ``hash``: what a head file keeps.

    The head of an empty chain is ``seq=0`` with the :data:`GENESIS` hash.
    """

    seq: int
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One entry of the audit trail: who did what to what, when, sealed into the chain.

    Build new records with :func:`make_record` (which validates and computes the hash);
    the constructor checks nothing, so that a tampered record read back can be represented
    and reported by :func:`verify_chain`.
    """

    seq: int
    """Position in the chain: 1 for the first record, then one more each time."""
    at: datetime
    """When it happened, in UTC."""
    actor: str
    """Who did it (the operator or curator name, or the service's own name)."""
    action: str
    """What was done: an :class:`AuditAction` value (or another short name)."""
    subject: str
    """What it was done to: a list name, a run id, a digest, a key id ..."""
    details: dict[str, JsonValue]
    """Anything else worth keeping, as JSON (counts, version ids, the old and new policy)."""
    prev_hash: str
    """The ``hash`` of the record before it; :data:`GENESIS` for the first."""
    hash: str
    """SHA-256 (lowercase hex) of this record's content and ``prev_hash``."""

    @property
    def head(self) -> AuditHead:
        """This record as the head of the chain it ends."""
        return AuditHead(seq=self.seq, hash=self.hash)

    def computed_hash(self) -> str:
        """The hash this record's content calls for (ValueError if it is not valid JSON)."""
        return audit_hash(
            seq=self.seq,
            at=self.at,
            actor=self.actor,
            action=self.action,
            subject=self.subject,
            details=self.details,
            prev_hash=self.prev_hash,
        )


class AuditProblemKind(enum.StrEnum):
    """What :func:`verify_chain` found wrong (the module docstring says what each means)."""

    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    DUPLICATED = "duplicated"
    TRUNCATED = "truncated"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditProblem:
    """One thing wrong with a chain, at the ``seq`` where it shows."""

    seq: int
    kind: AuditProblemKind
    reason: str

    def render(self) -> str:
        """``seq N: kind: reason``."""
        return f"seq {self.seq}: {self.kind.value}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerification:
    """What :func:`verify_chain` found: the problems, by ``seq``, and what it checked."""

    checked: int
    """How many records were read."""
    last: AuditHead | None
    """The record with the highest ``seq`` as stored; None for an empty chain."""
    head: AuditHead | None
    """The expected head the chain was checked against, if one was given."""
    after_head: int
    """Records whose ``seq`` is above the expected head's (appended after the head was
    written); 0 without a head."""
    problems: tuple[AuditProblem, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing was found wrong."""
        return not self.problems


def canonical_json(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, JsonValue],
    prev_hash: str,
) -> bytes:
    """The bytes a record's hash is taken over (module docstring). ValueError if not JSON."""
    document = {
        "action": action,
        "actor": actor,
        "at": _render_time(at),
        "details": details,
        "prev_hash": prev_hash,
        "seq": seq,
        "subject": subject,
    }
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"audit record {seq} is not valid JSON: {exc}") from exc


def audit_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, JsonValue],
    prev_hash: str,
) -> str:
    """SHA-256, lowercase hex, of :func:`canonical_json` of these fields."""
    content = canonical_json(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=details,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(content).hexdigest()


def chain_entries(previous: AuditHead | None, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
    """The records that append ``entries``, in order, after ``previous`` (None: none yet).

    ValueError as :func:`make_record` says, for the first entry that it refuses.
    """
    records = []
    for entry in entries:
        record = make_record(
            previous,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            details=entry.details,
        )
        records.append(record)
        previous = record.head
    return records


def make_record(
    previous: AuditHead | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any],
) -> AuditRecord:
    """The record that follows ``previous`` (None: the first record), hash computed.

    ``at`` becomes UTC; ``details`` is copied into plain JSON values (tuples become lists,
    string and integer enums their values). ValueError if ``at`` is naive, ``actor`` or
    ``action`` is empty, ``details`` holds something JSON cannot (a non-text key, NaN, an
    object), or any text holds a NUL character.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got naive {at.isoformat()}")
    for name, value in (("actor", actor), ("action", action), ("subject", subject)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text, got {type(value).__name__}")
        _check_text(value, name)
    if not actor.strip():
        raise ValueError("actor must not be empty")
    if not action.strip():
        raise ValueError("action must not be empty")
    if not isinstance(details, Mapping):
        raise ValueError(f"details must be a JSON object, got {type(details).__name__}")
    plain = _json_object(details, "details")
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS if previous is None else previous.hash
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at.astimezone(UTC),
        "actor": str(actor),
        "action": str(action),
        "subject": str(subject),
        "details": plain,
        "prev_hash": prev_hash,
    }
    return AuditRecord(**fields, hash=audit_hash(**fields))


def verify_chain(
    records: Sequence[AuditRecord], *, head: AuditHead | None = None
) -> AuditVerification:
    """Check a whole chain, as stored (seq 1 first), against itself and an expected head.

    ``records`` is the whole chain in the order it was read. Returns every problem found,
    ordered by ``seq``; the module docstring lists what is detected and what cannot be.
    In short: edits, deletions, reordering and duplicates anywhere are found from the chain
    alone, except at its end: deleting the last records, or rewriting the last one with a
    recomputed hash, is found only with ``head``. Nobody can detect a rewrite of the whole
    chain from the first changed record on together with the head. A chain longer than
    the head is not a problem (``after_head`` counts the extra records).
    """
    problems: list[AuditProblem] = []
    for before, after in pairwise(records):
        if after.seq < before.seq:
            problems.append(
                _problem(
                    after.seq, AuditProblemKind.REORDERED, f"it is stored after seq {before.seq}"
                )
            )

    ordered = sorted(records, key=lambda record: record.seq)  # stable: duplicates keep order
    by_seq: dict[int, list[AuditRecord]] = {}
    # Any hash a record has or should have -> the seq of that record.
    owner: dict[str, int] = {}
    # seq -> the hashes a follower's prev_hash may name: the stored and the recomputed one.
    # Accepting both reports one edited record once, not again at the record after it.
    accepted: dict[int, set[str]] = {}
    for record in ordered:
        by_seq.setdefault(record.seq, []).append(record)
        hashes = accepted.setdefault(record.seq, set())
        hashes.add(record.hash)
        owner.setdefault(record.hash, record.seq)
        try:
            computed = record.computed_hash()
        except ValueError as exc:
            problems.append(
                _problem(
                    record.seq, AuditProblemKind.EDITED, f"its content cannot be hashed: {exc}"
                )
            )
            continue
        hashes.add(computed)
        owner.setdefault(computed, record.seq)
        if computed != record.hash:
            problems.append(
                _problem(
                    record.seq,
                    AuditProblemKind.EDITED,
                    "its hash does not match its content (its content, seq or prev_hash, "
                    "or the hash itself, was changed after it was written)",
                )
            )

    previous_seq = 0
    for seq, group in by_seq.items():
        if len(group) > 1:
            problems.append(
                _problem(
                    seq,
                    AuditProblemKind.DUPLICATED,
                    f"{len(group)} records have this seq (a forked or inserted record)",
                )
            )
        if seq < 1:
            problems.append(
                _problem(
                    seq, AuditProblemKind.EDITED, "seq must be 1 or more (the chain starts at 1)"
                )
            )
            continue
        if seq > previous_seq + 1:
            missing = (
                f"seq {previous_seq + 1} is missing"
                if seq == previous_seq + 2
                else f"seq {previous_seq + 1} to {seq - 1} are missing"
            )
            problems.append(
                _problem(seq, AuditProblemKind.DELETED, f"{missing} (deleted from the chain)")
            )
        else:
            expected = {GENESIS} if seq == 1 else accepted[seq - 1]
            problems.extend(
                _link_problem(record, owner) for record in group if record.prev_hash not in expected
            )
        previous_seq = seq

    last = ordered[-1].head if ordered else None
    after_head = 0
    if head is not None:
        last_seq = ordered[-1].seq if ordered else 0
        after_head = max(0, last_seq - head.seq)
        if head.seq > last_seq:
            ends = "the chain is empty" if not ordered else f"the chain ends at seq {last_seq}"
            problems.append(
                _problem(
                    last_seq + 1,
                    AuditProblemKind.TRUNCATED,
                    f"{ends} but the expected head is seq {head.seq}: its last records "
                    "were deleted",
                )
            )
        elif head.seq in by_seq and head.hash not in {r.hash for r in by_seq[head.seq]}:
            problems.append(
                _problem(
                    head.seq,
                    AuditProblemKind.REPLACED,
                    "its hash is not the expected head's: the chain was rewritten up to here",
                )
            )
    problems.sort(key=lambda problem: problem.seq)  # stable: kinds keep the order found
    return AuditVerification(
        checked=len(records),
        last=last,
        head=head,
        after_head=after_head,
        problems=tuple(problems),
    )


def _link_problem(record: AuditRecord, owner: Mapping[str, int]) -> AuditProblem:
    named = owner.get(record.prev_hash)
    if named is not None and named != record.seq - 1:
        return _problem(
            record.seq,
            AuditProblemKind.REORDERED,
            f"its prev_hash is the hash of seq {named}, not of seq {record.seq - 1}: "
            "records changed places",
        )
    if record.seq == 1:
        return _problem(
            record.seq,
            AuditProblemKind.DELETED,
            "its prev_hash is not the genesis value: the start of the chain was deleted "
            "or rewritten",
        )
    return _problem(
        record.seq,
        AuditProblemKind.DELETED,
        f"its prev_hash is not the hash of seq {record.seq - 1}: a record between them was "
        f"deleted, or seq {record.seq - 1} was rewritten",
    )


def _problem(seq: int, kind: AuditProblemKind, reason: str) -> AuditProblem:
    return AuditProblem(seq=seq, kind=kind, reason=reason)


def _render_time(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"audit time must be timezone-aware, got naive {at.isoformat()}")
    # isoformat pads the year to four digits, which strftime("%Y") does not on every libc.
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise ValueError(f"{where} holds a NUL character, which the database cannot store")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{where} is not valid Unicode text: {exc.reason}") from None


def _json_object(value: Mapping[Any, Any], where: str) -> dict[str, JsonValue]:
    copied: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{where} has a key {key!r} that is not text")
        _check_text(key, f"a key of {where}")
        copied[str(key)] = _json_value(item, f"{where}.{key}")
    return copied


def _json_value(value: Any, where: str) -> JsonValue:
    # bool before int (bool is an int); enum subclasses become their plain values.
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return float(value)
    if isinstance(value, str):
        _check_text(value, where)
        return str(value)
    if isinstance(value, Mapping):
        return _json_object(value, where)
    if isinstance(value, list | tuple):
        return [_json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, which is not a JSON value")
