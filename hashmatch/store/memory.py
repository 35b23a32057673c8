"""The catalog in plain dicts: the reference twin of :class:`~hashmatch.store.sql.SqlCatalog`.

Same behaviour, same errors, same orders, nothing kept after the process ends. Tests use it
as the oracle the SQL store must agree with, and ``open_catalog("memory://")`` gives one for
throw-away runs. Each method holds one lock for its whole body, so a failed call changes
nothing and threads see whole calls.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hashmatch.audit import AuditEntry, AuditRecord, chain_entries, make_record
from hashmatch.errors import Conflict, NotFound
from hashmatch.keys import ApiKey
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
from hashmatch.store._base import (
    Catalog,
    VerdictRecord,
    as_utc,
    check_limit,
    check_token_hash,
    latest_per_digest,
    new_list,
    plain_counts,
)

__all__ = ["MemoryCatalog"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Snapshot:
    built_at: datetime
    path: str
    version_ids: tuple[str, ...]


class MemoryCatalog(Catalog):
    """The catalog and verdict store in memory, for tests and throw-away runs."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._lists: dict[str, ListInfo] = {}
        self._versions: dict[str, ListVersionInfo] = {}
        """By version id; ``active`` is kept up to date."""
        self._numbers: dict[str, dict[int, str]] = {}
        """List name -> version number -> version id."""
        self._snapshots: dict[str, _Snapshot] = {}
        self._runs: dict[str, RunInfo] = {}
        self._keys: dict[str, dict[str, TrustedKey]] = {}
        """List name -> key id -> trusted key."""
        self._verdicts: dict[str, dict[int, VerdictRecord]] = {}
        self._gradings: list[Grading] = []
        """In the order they were added."""
        self._grading_ids: set[str] = set()
        self._audit: list[AuditRecord] = []
        """The chain: ``self._audit[i].seq == i + 1``."""
        self._api_keys: dict[str, ApiKey] = {}
        """Key id -> key; ``revoked_at`` is kept up to date."""
        self._token_hashes: dict[str, str] = {}
        """Token hash -> key id."""
        self._exchanges: dict[str, ExchangeState] = {}

    def __repr__(self) -> str:
        return "MemoryCatalog()"

    # Lists

    def create_list(
        self,
        *,
        name: str,
        purpose: Purpose,
        description: str,
        created_by: str,
        created_at: datetime,
    ) -> ListInfo:
        info = new_list(
            name=name,
            purpose=purpose,
            description=description,
            created_by=created_by,
            created_at=created_at,
        )
        with self._lock:
            if name in self._lists:
                raise Conflict(f"a list called {name!r} exists already")
            self._lists[name] = info
            self._numbers[name] = {}
        return info

    def get_list(self, name: str) -> ListInfo:
        with self._lock:
            return self._list_info(self._require_list(name))

    def lists(self) -> list[ListInfo]:
        with self._lock:
            return [self._list_info(self._lists[name]) for name in sorted(self._lists)]

    def set_policy(self, name: str, policy: ListPolicy) -> ListInfo:
        with self._lock:
            info = self._require_list(name)
            self._lists[name] = dataclasses.replace(info, policy=policy)
            return self._list_info(self._lists[name])

    # Trusted publisher keys

    def add_trusted_key(self, list_name: str, key: TrustedKey) -> None:
        added_at = as_utc(key.added_at, "added_at")
        with self._lock:
            self._require_list(list_name)
            keys = self._keys.setdefault(list_name, {})
            if key.key_id in keys:
                raise Conflict(f"list {list_name!r} already trusts key {key.key_id}")
            keys[key.key_id] = dataclasses.replace(key, added_at=added_at)

    def remove_trusted_key(self, list_name: str, key_id: str) -> None:
        with self._lock:
            self._require_list(list_name)
            if self._keys.get(list_name, {}).pop(key_id, None) is None:
                raise NotFound(f"list {list_name!r} does not trust key {key_id}")

    def trusted_keys(self, list_name: str) -> list[TrustedKey]:
        with self._lock:
            self._require_list(list_name)
            keys = self._keys.get(list_name, {})
            return [keys[key_id] for key_id in sorted(keys)]

    # List versions

    def next_version_number(self, list_name: str) -> int:
        with self._lock:
            self._require_list(list_name)
            return max(self._numbers[list_name], default=0) + 1

    def add_version(self, version: ListVersionInfo, *, activate: bool = True) -> None:
        loaded_at = as_utc(version.loaded_at, "loaded_at")
        with self._lock:
            self._require_list(version.list_name)
            stored = dataclasses.replace(
                version,
                purpose=Purpose(version.purpose),
                loaded_at=loaded_at,
                warnings=tuple(version.warnings),
                active=activate,
            )
            numbers = self._numbers[version.list_name]
            if version.number in numbers or version.version_id in self._versions:
                raise Conflict(
                    f"list {version.list_name!r} already has a version {version.number}, "
                    f"or version id {version.version_id!r} exists",
                )
            if activate:
                for version_id in numbers.values():
                    old = self._versions[version_id]
                    if old.active:
                        self._versions[version_id] = dataclasses.replace(old, active=False)
            numbers[version.number] = version.version_id
            self._versions[version.version_id] = stored

    def versions(self, list_name: str) -> list[ListVersionInfo]:
        with self._lock:
            self._require_list(list_name)
            numbers = self._numbers[list_name]
            return [self._versions[numbers[number]] for number in sorted(numbers)]

    def get_version(self, version_id: str) -> ListVersionInfo:
        with self._lock:
            try:
                return self._versions[version_id]
            except KeyError:
                raise NotFound(f"no list version with id {version_id!r}") from None

    def active_versions(self) -> list[ListVersionInfo]:
        with self._lock:
            active = [version for version in self._versions.values() if version.active]
        return sorted(active, key=lambda version: version.list_name)

    # Snapshots

    def record_snapshot(
        self,
        snapshot_id: str,
        *,
        built_at: datetime,
        path: str,
        version_ids: Sequence[str],
    ) -> None:
        built_at = as_utc(built_at, "built_at")
        with self._lock:
            if snapshot_id in self._snapshots:
                return
            missing = sorted(set(version_ids) - set(self._versions))
            if missing:
                raise NotFound(f"snapshot {snapshot_id!r} names unknown versions {missing}")
            self._snapshots[snapshot_id] = _Snapshot(
                built_at=built_at, path=path, version_ids=tuple(version_ids)
            )

    def snapshot_ids(self) -> list[str]:
        with self._lock:
            items = [(snap.built_at, snap_id) for snap_id, snap in self._snapshots.items()]
        return [snap_id for _, snap_id in sorted(items)]

    # Runs and verdicts

    def add_run(self, run: RunInfo) -> None:
        stored = dataclasses.replace(
            run,
            started_at=as_utc(run.started_at, "started_at"),
            finished_at=None if run.finished_at is None else as_utc(run.finished_at, "finished_at"),
            algorithms=tuple(run.algorithms),
            inputs=tuple(run.inputs),
            counts=plain_counts(run.counts),
        )
        with self._lock:
            if run.run_id in self._runs:
                raise Conflict(f"a run with id {run.run_id!r} exists already")
            self._runs[run.run_id] = stored
            self._verdicts[run.run_id] = {}

    def finish_run(self, run_id: str, *, finished_at: datetime, counts: dict[str, int]) -> None:
        finished_at = as_utc(finished_at, "finished_at")
        with self._lock:
            run = self._require_run(run_id)
            if run.finished_at is not None:
                raise Conflict(f"run {run_id!r} finished already, at {run.finished_at}")
            self._runs[run_id] = dataclasses.replace(
                run, finished_at=finished_at, counts=plain_counts(counts)
            )

    def get_run(self, run_id: str) -> RunInfo:
        with self._lock:
            return _copy_run(self._require_run(run_id))

    def runs(self) -> list[RunInfo]:
        with self._lock:
            runs = [_copy_run(run) for run in self._runs.values()]
        return sorted(runs, key=lambda run: (run.started_at, run.run_id), reverse=True)

    def add_verdicts(self, run_id: str, rows: Sequence[VerdictRecord]) -> None:
        records = [
            record
            if type(record.verdict) is Verdict
            else dataclasses.replace(record, verdict=Verdict(record.verdict))
            for record in rows
        ]
        with self._lock:
            self._require_run(run_id)
            stored = self._verdicts[run_id]
            fresh: dict[int, VerdictRecord] = {}
            for record in records:
                if record.row in stored or record.row in fresh:
                    raise Conflict(
                        f"add {len(records)} verdicts to run {run_id!r}: "
                        f"row {record.row} is already stored"
                    )
                fresh[record.row] = record
            stored.update(fresh)

    def verdicts(self, run_id: str) -> list[VerdictRecord]:
        with self._lock:
            self._require_run(run_id)
            stored = self._verdicts[run_id]
            return [stored[row] for row in sorted(stored)]

    # Gradings

    def add_grading(self, grading: Grading) -> None:
        stored = dataclasses.replace(grading, graded_at=as_utc(grading.graded_at, "graded_at"))
        with self._lock:
            if grading.grading_id in self._grading_ids:
                raise Conflict(f"a grading with id {grading.grading_id} exists already")
            self._grading_ids.add(grading.grading_id)
            self._gradings.append(stored)

    def gradings(self, *, since: datetime | None = None) -> list[Grading]:
        start = None if since is None else as_utc(since, "since")
        with self._lock:
            chosen = [g for g in self._gradings if start is None or g.graded_at >= start]
        return sorted(chosen, key=lambda grading: grading.graded_at)  # stable: ties as added

    def latest_gradings(self) -> list[Grading]:
        return latest_per_digest(self.gradings())

    # API keys of the HTTP API

    def add_api_key(self, key: ApiKey, *, token_hash: str) -> None:
        check_token_hash(token_hash)
        stored = dataclasses.replace(
            key,
            created_at=as_utc(key.created_at, "created_at"),
            revoked_at=None if key.revoked_at is None else as_utc(key.revoked_at, "revoked_at"),
        )
        with self._lock:
            if key.key_id in self._api_keys:
                raise Conflict(f"an API key with id {key.key_id} exists already")
            if token_hash in self._token_hashes:
                raise Conflict(
                    f"add API key {key.key_id}: its token is stored already for another key"
                )
            self._api_keys[key.key_id] = stored
            self._token_hashes[token_hash] = key.key_id

    def api_key_for(self, token_hash: str) -> ApiKey | None:
        with self._lock:
            key_id = self._token_hashes.get(token_hash)
            return None if key_id is None else self._api_keys[key_id]

    def api_keys(self) -> list[ApiKey]:
        with self._lock:
            keys = list(self._api_keys.values())
        return sorted(keys, key=lambda key: (key.created_at, key.key_id))

    def revoke_api_key(self, key_id: str, *, at: datetime) -> ApiKey:
        at = as_utc(at, "at")
        with self._lock:
            key = self._api_keys.get(key_id)
            if key is None:
                raise NotFound(f"no API key with id {key_id!r}")
            if key.revoked_at is not None:
                raise Conflict(f"API key {key_id} was revoked already, at {key.revoked_at}")
            revoked = dataclasses.replace(key, revoked_at=at)
            self._api_keys[key_id] = revoked
            return revoked

    # Exchanges

    def exchange_state(self, exchange: str) -> ExchangeState | None:
        with self._lock:
            return self._exchanges.get(exchange)

    def save_exchange_state(self, state: ExchangeState) -> None:
        with self._lock:
            self._require_list(state.list_name)
            self._exchanges[state.exchange] = _stored_state(state)

    def add_exchange_version(self, version: ListVersionInfo, state: ExchangeState) -> None:
        with self._lock:
            self._require_list(state.list_name)
            stored = _stored_state(state)
            self.add_version(version, activate=True)
            self._exchanges[state.exchange] = stored

    # The audit trail

    def append_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any],
    ) -> AuditRecord:
        with self._lock:
            previous = self._audit[-1].head if self._audit else None
            record = make_record(
                previous, at=at, actor=actor, action=action, subject=subject, details=details
            )
            self._audit.append(record)
        return _copy_audit(record)

    def append_audit_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Append ``entries`` in order, together: all or none, no other record between them."""
        with self._lock:
            previous = self._audit[-1].head if self._audit else None
            records = chain_entries(previous, entries)
            self._audit.extend(records)
        return [_copy_audit(record) for record in records]

    def audit_records(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        check_limit(since_seq, limit)
        with self._lock:
            end = None if limit is None else since_seq + limit
            chosen = self._audit[since_seq:end]  # seq n sits at index n - 1
            return [_copy_audit(record) for record in chosen]

    def close(self) -> None:
        """Nothing to release; the data stays until the object is dropped."""

    # Helpers (call with the lock held)

    def _require_list(self, name: str) -> ListInfo:
        try:
            return self._lists[name]
        except KeyError:
            raise NotFound(f"no list called {name!r}") from None

    def _require_run(self, run_id: str) -> RunInfo:
        try:
            return self._runs[run_id]
        except KeyError:
            raise NotFound(f"no run with id {run_id!r}") from None

    def _list_info(self, info: ListInfo) -> ListInfo:
        numbers = self._numbers[info.name]
        active = [n for n, vid in numbers.items() if self._versions[vid].active]
        return dataclasses.replace(info, active_version=active[0] if active else None)


def _copy_audit(record: AuditRecord) -> AuditRecord:
    """A record whose ``details`` the caller may change without changing the chain."""
    return dataclasses.replace(record, details=copy.deepcopy(record.details))


def _copy_run(run: RunInfo) -> RunInfo:
    """A run whose ``counts`` dict the caller may change without changing the store."""
    return dataclasses.replace(run, counts=plain_counts(run.counts))


def _stored_state(state: ExchangeState) -> ExchangeState:
    """``state`` as a store keeps it: aware UTC instants (ValueError if naive)."""
    checkpoint = None if state.checkpoint is None else as_utc(state.checkpoint, "checkpoint")
    fetch = state.fetch
    if fetch is not None and fetch.cursor is not None:
        fetch = dataclasses.replace(fetch, cursor=dict(fetch.cursor))  # no sharing with callers
    return dataclasses.replace(
        state,
        checkpoint=checkpoint,
        fetch=fetch,
        updated_at=as_utc(state.updated_at, "updated_at"),
    )
