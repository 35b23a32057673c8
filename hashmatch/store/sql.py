"""The catalog in a SQL database through SQLAlchemy: SQLite by default, PostgreSQL when shared.

Each public method is one transaction. Driver errors are translated here, once: an
integrity violation (a duplicate key) becomes :class:`~hashmatch.errors.Conflict`, anything
else from the database a :class:`~hashmatch.errors.StoreError` naming the operation.
Verdicts go in through SQLAlchemy Core ``executemany`` (no ORM object per row); the rest
through the ORM models of :mod:`hashmatch.store.tables`.

Sorting by names and ids happens in Python, not in ``ORDER BY``: PostgreSQL would sort text
by the database's collation, and the twins must agree on one order (code points).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, delete, func, insert, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from hashmatch.audit import AuditEntry, AuditHead, AuditRecord, chain_entries, make_record
from hashmatch.errors import Conflict, InputError, NotFound, StoreError
from hashmatch.keys import ApiKey, Role
from hashmatch.model import (
    ExchangeFetch,
    ExchangeState,
    Grading,
    IngestCounts,
    ListInfo,
    ListPolicy,
    ListVersionInfo,
    Purpose,
    RecordWarning,
    RunInfo,
    RunInput,
    TrustedKey,
    UpdateMode,
    Verdict,
    Vetting,
)
from hashmatch.store._base import (
    Catalog,
    VerdictRecord,
    as_utc,
    check_limit,
    check_token_hash,
    new_list,
    plain_counts,
)
from hashmatch.store._engine import BEGIN_MODE, create_store_engine, driver_reason
from hashmatch.store.tables import (
    ApiKeyRow,
    AuditRow,
    ExchangeStateRow,
    GradingRow,
    ListRow,
    RunRow,
    SnapshotRow,
    TrustedKeyRow,
    VersionRow,
    verdicts_table,
)

__all__ = ["SqlCatalog"]

R = TypeVar("R")

# Verdict (or its plain-string value) -> plain string: validates, and is faster per row
# than Verdict(...).value. Drivers get a plain str, not the enum.
_VERDICT_TEXT: dict[str, str] = {verdict.value: verdict.value for verdict in Verdict}

_APPEND_ATTEMPTS = 20
"""How often an audit append tries when another appender takes its seq first (a backend
that neither SQLite's write lock nor PostgreSQL's table lock serialises)."""


class SqlCatalog(Catalog):
    """The catalog and verdict store in the database at a SQLAlchemy URL.

    The constructor connects lazily and does not create or migrate the schema: use
    :func:`hashmatch.store.open_catalog`, which runs the Alembic migrations first.
    """

    def __init__(self, url: str | URL) -> None:
        self._engine = create_store_engine(url)
        # Same pool; transactions of this engine take SQLite's write lock when they begin.
        self._write_engine = self._engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for migrations and tests inside the store package)."""
        return self._engine

    def __repr__(self) -> str:
        return f"SqlCatalog({self._engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def _session(self, operation: str, *, write: bool = False) -> Iterator[Session]:
        """One transaction, committed on success; database errors translated once."""
        engine = self._write_engine if write else self._engine
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                yield session
        except IntegrityError as exc:
            raise Conflict(f"{operation}: already stored ({driver_reason(exc)})") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{operation} failed: {driver_reason(exc)}") from exc

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
        with self._session(f"create list {name!r}", write=True) as session:
            if _list_id(session, name) is not None:
                raise Conflict(f"a list called {name!r} exists already")
            session.add(
                ListRow(
                    name=info.name,
                    purpose=info.purpose.value,
                    description=info.description,
                    created_by=info.created_by,
                    created_at=info.created_at,
                )
            )
        return info

    def get_list(self, name: str) -> ListInfo:
        with self._session(f"read list {name!r}") as session:
            found = _select_lists(session, name)
        if not found:
            raise NotFound(f"no list called {name!r}")
        return found[0]

    def lists(self) -> list[ListInfo]:
        with self._session("read lists") as session:
            found = _select_lists(session, None)
        return sorted(found, key=lambda info: info.name)

    def set_policy(self, name: str, policy: ListPolicy) -> ListInfo:
        with self._session(f"set the policy of list {name!r}", write=True) as session:
            list_id = _require_list_id(session, name, lock=True)
            session.execute(
                update(ListRow)
                .where(ListRow.id == list_id)
                .values(
                    require_signature=policy.require_signature,
                    max_age_days=policy.max_age_days,
                )
            )
        return self.get_list(name)

    # Trusted publisher keys

    def add_trusted_key(self, list_name: str, key: TrustedKey) -> None:
        added_at = as_utc(key.added_at, "added_at")
        operation = f"trust key {key.key_id} for list {list_name!r}"
        try:
            with self._session(operation, write=True) as session:
                list_id = _require_list_id(session, list_name, lock=True)
                session.add(
                    TrustedKeyRow(
                        list_id=list_id,
                        key_id=key.key_id,
                        publisher=key.publisher,
                        public_key=key.public_key,
                        added_by=key.added_by,
                        added_at=added_at,
                    )
                )
        except Conflict as exc:
            raise Conflict(f"list {list_name!r} already trusts key {key.key_id}") from exc

    def remove_trusted_key(self, list_name: str, key_id: str) -> None:
        with self._session(f"untrust key {key_id} for {list_name!r}", write=True) as session:
            list_id = _require_list_id(session, list_name, lock=True)
            removed = session.execute(
                delete(TrustedKeyRow).where(
                    TrustedKeyRow.list_id == list_id, TrustedKeyRow.key_id == key_id
                )
            )
            if not getattr(removed, "rowcount", 0):
                raise NotFound(f"list {list_name!r} does not trust key {key_id}")

    def trusted_keys(self, list_name: str) -> list[TrustedKey]:
        with self._session(f"read trusted keys of list {list_name!r}") as session:
            list_id = _require_list_id(session, list_name)
            rows = session.scalars(
                select(TrustedKeyRow).where(TrustedKeyRow.list_id == list_id)
            ).all()
        return sorted(
            (
                TrustedKey(
                    key_id=row.key_id,
                    publisher=row.publisher,
                    public_key=row.public_key,
                    added_by=row.added_by,
                    added_at=row.added_at,
                )
                for row in rows
            ),
            key=lambda key: key.key_id,
        )

    # List versions

    def next_version_number(self, list_name: str) -> int:
        with self._session(f"read versions of list {list_name!r}") as session:
            list_id = _require_list_id(session, list_name)
            highest = session.scalar(
                select(func.max(VersionRow.number)).where(VersionRow.list_id == list_id)
            )
        return 1 if highest is None else highest + 1

    def add_version(self, version: ListVersionInfo, *, activate: bool = True) -> None:
        loaded_at = as_utc(version.loaded_at, "loaded_at")
        operation = f"add version {version.number} of list {version.list_name!r}"
        try:
            with self._session(operation, write=True) as session:
                list_id = _require_list_id(session, version.list_name, lock=True)
                if activate:
                    # Deactivate first: the one-active-version index checks every statement.
                    session.execute(
                        update(VersionRow)
                        .where(VersionRow.list_id == list_id, VersionRow.active)
                        .values(active=False)
                    )
                session.add(_version_row(version, list_id, loaded_at, active=activate))
        except Conflict as exc:
            raise Conflict(
                f"list {version.list_name!r} already has a version {version.number}, "
                f"or version id {version.version_id!r} exists",
            ) from exc

    def versions(self, list_name: str) -> list[ListVersionInfo]:
        with self._session(f"read versions of list {list_name!r}") as session:
            list_id = _require_list_id(session, list_name)
            rows = session.scalars(
                select(VersionRow).where(VersionRow.list_id == list_id).order_by(VersionRow.number)
            ).all()
        return [_version_info(row, list_name) for row in rows]

    def get_version(self, version_id: str) -> ListVersionInfo:
        with self._session(f"read version {version_id!r}") as session:
            found = session.execute(
                select(VersionRow, ListRow.name)
                .join(ListRow, ListRow.id == VersionRow.list_id)
                .where(VersionRow.version_id == version_id)
            ).one_or_none()
        if found is None:
            raise NotFound(f"no list version with id {version_id!r}")
        return _version_info(found[0], found[1])

    def active_versions(self) -> list[ListVersionInfo]:
        with self._session("read active versions") as session:
            rows = session.execute(
                select(VersionRow, ListRow.name)
                .join(ListRow, ListRow.id == VersionRow.list_id)
                .where(VersionRow.active)
            ).all()
        return sorted((_version_info(row, name) for row, name in rows), key=lambda v: v.list_name)

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
        ids = list(version_ids)
        with self._session(f"record snapshot {snapshot_id!r}", write=True) as session:
            if session.get(SnapshotRow, snapshot_id) is not None:
                return
            known = set(
                session.scalars(
                    select(VersionRow.version_id).where(VersionRow.version_id.in_(set(ids)))
                )
            )
            missing = sorted(set(ids) - known)
            if missing:
                raise NotFound(f"snapshot {snapshot_id!r} names unknown versions {missing}")
            session.add(
                SnapshotRow(id=snapshot_id, built_at=built_at, path=path, list_version_ids=ids)
            )

    def snapshot_ids(self) -> list[str]:
        with self._session("read snapshots") as session:
            rows = session.execute(select(SnapshotRow.built_at, SnapshotRow.id)).all()
        return [snapshot_id for _, snapshot_id in sorted(rows, key=lambda r: (r[0], r[1]))]

    # Runs and verdicts

    def add_run(self, run: RunInfo) -> None:
        started_at = as_utc(run.started_at, "started_at")
        finished_at = None if run.finished_at is None else as_utc(run.finished_at, "finished_at")
        with self._session(f"add run {run.run_id!r}", write=True) as session:
            if session.get(RunRow, run.run_id) is not None:
                raise Conflict(f"a run with id {run.run_id!r} exists already")
            session.add(
                RunRow(
                    run_id=run.run_id,
                    case_ref=run.case_ref,
                    operator=run.operator,
                    started_at=started_at,
                    finished_at=finished_at,
                    tool_version=run.tool_version,
                    snapshot_id=run.snapshot_id,
                    algorithms=list(run.algorithms),
                    inputs=[dataclasses.asdict(item) for item in run.inputs],
                    counts=plain_counts(run.counts),
                )
            )

    def finish_run(self, run_id: str, *, finished_at: datetime, counts: dict[str, int]) -> None:
        finished_at = as_utc(finished_at, "finished_at")
        with self._session(f"finish run {run_id!r}", write=True) as session:
            row = _require_run(session, run_id, lock=True)
            if row.finished_at is not None:
                raise Conflict(f"run {run_id!r} finished already, at {row.finished_at}")
            row.finished_at = finished_at
            row.counts = plain_counts(counts)

    def get_run(self, run_id: str) -> RunInfo:
        with self._session(f"read run {run_id!r}") as session:
            row = _require_run(session, run_id)
        return _run_info(row)

    def runs(self) -> list[RunInfo]:
        with self._session("read runs") as session:
            rows = session.scalars(select(RunRow)).all()
        infos = [_run_info(row) for row in rows]
        return sorted(infos, key=lambda run: (run.started_at, run.run_id), reverse=True)

    def add_verdicts(self, run_id: str, rows: Sequence[VerdictRecord]) -> None:
        # A run has a million rows. Per row, SQLAlchemy's parameter processing (a dict each)
        # and the driver's executemany step each cost more than SQLite's own insert. So,
        # with a positional paramstyle (SQLite's), a Core INSERT of `group` rows per
        # statement is compiled once and executed for slices of plain tuples; other
        # backends (PostgreSQL batches executemany itself) get Core executemany of dicts.
        # All slices go in one transaction: the call stays all or nothing.
        columns = ("run_id", "row", "verdict", "reason", "labels", "path")
        group = 100  # 600 parameters a statement: under SQLite's oldest limit of 999
        with self._session(f"add {len(rows)} verdicts to run {run_id!r}", write=True) as session:
            _require_run(session, run_id)
            connection = session.connection()
            grouped = None
            if connection.dialect.positional:
                many = insert(verdicts_table).values([dict.fromkeys(columns)] * group)
                compiled = many.compile(dialect=connection.dialect)
                # parameters row by row, in column order (else: the plain path below)
                wanted = [f"{name}_m{i}" for i in range(group) for name in columns]
                if list(compiled.positiontup or ()) == wanted:
                    grouped = compiled.string
            width = len(columns)
            for start in range(0, len(rows), 50_000):
                try:
                    # every row's cells, one after the other: a statement takes a slice
                    cells = [
                        cell
                        for record in rows[start : start + 50_000]
                        for cell in (
                            run_id,
                            record.row,
                            _VERDICT_TEXT[record.verdict],
                            record.reason,
                            record.labels,
                            record.path,
                        )
                    ]
                except KeyError as exc:
                    # raised inside the transaction: nothing of this call is kept
                    raise ValueError(f"{exc.args[0]!r} is not a valid Verdict") from None
                step = group * width
                whole = len(cells) // step * step if grouped is not None else 0
                if grouped is not None and whole:
                    connection.exec_driver_sql(
                        grouped, [tuple(cells[i : i + step]) for i in range(0, whole, step)]
                    )
                if whole < len(cells):
                    connection.execute(
                        insert(verdicts_table),
                        [
                            dict(zip(columns, cells[i : i + width], strict=True))
                            for i in range(whole, len(cells), width)
                        ],
                    )

    def verdicts(self, run_id: str) -> list[VerdictRecord]:
        table = verdicts_table.c
        with self._session(f"read verdicts of run {run_id!r}") as session:
            _require_run(session, run_id)
            result = session.connection().execute(
                select(table.row, table.verdict, table.reason, table.labels, table.path)
                .where(table.run_id == run_id)
                .order_by(table.row)
            )
            return [
                VerdictRecord(
                    row=row, verdict=Verdict(verdict), reason=reason, labels=labels, path=path
                )
                for row, verdict, reason, labels, path in result
            ]

    # Gradings

    def add_grading(self, grading: Grading) -> None:
        graded_at = as_utc(grading.graded_at, "graded_at")
        operation = f"add grading {grading.grading_id}"
        with self._session(operation, write=True) as session:
            known = session.scalar(
                select(GradingRow.id).where(GradingRow.grading_id == grading.grading_id)
            )
            if known is not None:
                raise Conflict(f"a grading with id {grading.grading_id} exists already")
            session.add(
                GradingRow(
                    grading_id=grading.grading_id,
                    algorithm=str(grading.algorithm),
                    digest=grading.digest,
                    scheme=grading.scheme,
                    category=grading.category,
                    flags=list(grading.flags),
                    reviewer=grading.reviewer,
                    graded_at=graded_at,
                    case_ref=grading.case_ref,
                    run_id=grading.run_id,
                    note=grading.note,
                    size=grading.size,
                )
            )

    def gradings(self, *, since: datetime | None = None) -> list[Grading]:
        query = select(GradingRow).order_by(GradingRow.graded_at, GradingRow.id)
        if since is not None:
            query = query.where(GradingRow.graded_at >= as_utc(since, "since"))
        with self._session("read gradings") as session:
            rows = session.scalars(query).all()
        return [_grading(row) for row in rows]

    def latest_gradings(self) -> list[Grading]:
        # Rank each digest's gradings newest first; keep rank 1 (window functions:
        # SQLite 3.25+ and PostgreSQL), so that superseded gradings never leave the database.
        rank = (
            func.row_number()
            .over(
                partition_by=(GradingRow.algorithm, GradingRow.digest),
                order_by=(GradingRow.graded_at.desc(), GradingRow.id.desc()),
            )
            .label("rank")
        )
        ranked = select(GradingRow.id, rank).subquery("ranked")
        query = (
            select(GradingRow)
            .join(ranked, ranked.c.id == GradingRow.id)
            .where(ranked.c.rank == 1)
            .order_by(GradingRow.graded_at, GradingRow.id)
        )
        with self._session("read the latest gradings") as session:
            rows = session.scalars(query).all()
        return [_grading(row) for row in rows]

    # API keys of the HTTP API

    def add_api_key(self, key: ApiKey, *, token_hash: str) -> None:
        check_token_hash(token_hash)
        created_at = as_utc(key.created_at, "created_at")
        revoked_at = None if key.revoked_at is None else as_utc(key.revoked_at, "revoked_at")
        operation = f"add API key {key.key_id}"
        with self._session(operation, write=True) as session:
            if session.get(ApiKeyRow, key.key_id) is not None:
                raise Conflict(f"an API key with id {key.key_id} exists already")
            if session.scalar(_key_by_hash(token_hash)) is not None:
                raise Conflict(f"{operation}: its token is stored already for another key")
            session.add(
                ApiKeyRow(
                    key_id=key.key_id,
                    name=key.name,
                    roles=_roles_text(key.roles),
                    token_hash=token_hash,
                    created_at=created_at,
                    created_by=key.created_by,
                    revoked_at=revoked_at,
                )
            )

    def api_key_for(self, token_hash: str) -> ApiKey | None:
        with self._session("authenticate an API key") as session:
            row = session.scalar(_key_by_hash(token_hash))
        return None if row is None else _api_key(row)

    def api_keys(self) -> list[ApiKey]:
        with self._session("read API keys") as session:
            rows = session.scalars(select(ApiKeyRow)).all()
        keys = [_api_key(row) for row in rows]
        return sorted(keys, key=lambda key: (key.created_at, key.key_id))

    def revoke_api_key(self, key_id: str, *, at: datetime) -> ApiKey:
        at = as_utc(at, "at")
        with self._session(f"revoke API key {key_id}", write=True) as session:
            row = session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.key_id == key_id).with_for_update()
            )
            if row is None:
                raise NotFound(f"no API key with id {key_id!r}")
            if row.revoked_at is not None:
                raise Conflict(f"API key {key_id} was revoked already, at {row.revoked_at}")
            row.revoked_at = at
            return _api_key(row)

    # Exchanges

    def exchange_state(self, exchange: str) -> ExchangeState | None:
        with self._session(f"read the state of exchange {exchange!r}") as session:
            found = session.execute(
                select(ExchangeStateRow, ListRow.name)
                .join(ListRow, ListRow.id == ExchangeStateRow.list_id)
                .where(ExchangeStateRow.exchange == exchange)
            ).one_or_none()
        return None if found is None else _exchange_state(found[0], found[1])

    def save_exchange_state(self, state: ExchangeState) -> None:
        with self._session(f"save the state of exchange {state.exchange!r}", write=True) as s:
            _put_exchange_state(s, state)

    def add_exchange_version(self, version: ListVersionInfo, state: ExchangeState) -> None:
        operation = (
            f"add version {version.number} of list {version.list_name!r} with its checkpoint"
        )
        loaded_at = as_utc(version.loaded_at, "loaded_at")
        try:
            with self._session(operation, write=True) as session:
                list_id = _require_list_id(session, version.list_name, lock=True)
                session.execute(
                    update(VersionRow)
                    .where(VersionRow.list_id == list_id, VersionRow.active)
                    .values(active=False)
                )
                session.add(_version_row(version, list_id, loaded_at, active=True))
                _put_exchange_state(session, state)
        except Conflict as exc:
            raise Conflict(
                f"list {version.list_name!r} already has a version {version.number}, "
                f"or version id {version.version_id!r} exists",
            ) from exc

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
        # Refuse bad arguments before taking the write lock.
        make_record(None, at=at, actor=actor, action=action, subject=subject, details=details)
        return self._retrying(
            lambda: self._append_audit_once(
                at=at, actor=actor, action=action, subject=subject, details=details
            )
        )

    def append_audit_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Append ``entries`` in order in one transaction: one wait for the write lock.

        All or nothing: a bad entry (ValueError, as :meth:`append_audit` says) or a
        database failure appends none of them.
        """
        batch = list(entries)
        for e in batch:  # refuse bad arguments before taking the write lock
            make_record(
                None, at=e.at, actor=e.actor, action=e.action, subject=e.subject, details=e.details
            )
        if not batch:
            return []
        return self._retrying(lambda: self._append_audit_batch(batch))

    def _retrying(self, append: Callable[[], R]) -> R:
        attempt = 0
        while True:
            attempt += 1
            try:
                return append()
            except Conflict as exc:
                # SQLite (BEGIN IMMEDIATE) and PostgreSQL (the table lock) serialise appenders
                # and never get here; on another backend, a second appender that read the same
                # last record is refused by the primary key on seq instead of forking the
                # chain: read the new last record and try again, after a short random pause.
                if attempt >= _APPEND_ATTEMPTS:
                    raise StoreError(
                        f"append to the audit trail failed: lost the race for the next seq "
                        f"{_APPEND_ATTEMPTS} times"
                    ) from exc
                time.sleep(random.uniform(0.001, 0.005 * attempt))

    def _append_audit_once(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any],
    ) -> AuditRecord:
        entry = AuditEntry(at=at, actor=actor, action=action, subject=subject, details=details)
        (record,) = self._append_audit_batch([entry])
        return record

    def _append_audit_batch(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Chain ``entries`` onto the last record and insert them, in one transaction."""
        with self._session("append to the audit trail", write=True) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Appenders queue here instead of racing for the seq and retrying; readers
                # are not blocked (EXCLUSIVE mode still admits plain SELECTs).
                session.execute(text("LOCK TABLE audit_records IN EXCLUSIVE MODE"))
            last = session.execute(
                select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).one_or_none()
            previous = None if last is None else AuditHead(seq=last[0], hash=last[1])
            records = chain_entries(previous, entries)
            session.add_all(
                AuditRow(
                    seq=record.seq,
                    at=record.at,
                    actor=record.actor,
                    action=record.action,
                    subject=record.subject,
                    details=record.details,
                    prev_hash=record.prev_hash,
                    hash=record.hash,
                )
                for record in records
            )
        return records

    def audit_records(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        check_limit(since_seq, limit)
        query = select(AuditRow).where(AuditRow.seq > since_seq).order_by(AuditRow.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._session("read the audit trail") as session:
            rows = session.scalars(query).all()
        return [
            AuditRecord(
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                details=_fields(row.details),
                prev_hash=row.prev_hash,
                hash=row.hash,
            )
            for row in rows
        ]

    def close(self) -> None:
        self._engine.dispose()


# Reading and writing rows


def _list_id(session: Session, name: str, *, lock: bool = False) -> int | None:
    query = select(ListRow.id).where(ListRow.name == name)
    if lock:
        query = query.with_for_update()  # PostgreSQL: one writer per list; SQLite ignores it
    return session.scalar(query)


def _require_list_id(session: Session, name: str, *, lock: bool = False) -> int:
    list_id = _list_id(session, name, lock=lock)
    if list_id is None:
        raise NotFound(f"no list called {name!r}")
    return list_id


def _require_run(session: Session, run_id: str, *, lock: bool = False) -> RunRow:
    query = select(RunRow).where(RunRow.run_id == run_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"no run with id {run_id!r}")
    return row


def _select_lists(session: Session, name: str | None) -> list[ListInfo]:
    active = (
        select(VersionRow.list_id, VersionRow.number).where(VersionRow.active).subquery("active")
    )
    query = select(ListRow, active.c.number).outerjoin(active, active.c.list_id == ListRow.id)
    if name is not None:
        query = query.where(ListRow.name == name)
    return [
        ListInfo(
            name=row.name,
            purpose=Purpose(row.purpose),
            description=row.description,
            created_by=row.created_by,
            created_at=row.created_at,
            active_version=number,
            policy=ListPolicy(
                require_signature=bool(row.require_signature), max_age_days=row.max_age_days
            ),
        )
        for row, number in session.execute(query)
    ]


def _version_row(
    version: ListVersionInfo, list_id: int, loaded_at: datetime, *, active: bool
) -> VersionRow:
    return VersionRow(
        version_id=version.version_id,
        list_id=list_id,
        number=version.number,
        purpose=Purpose(version.purpose).value,
        source_name=version.source_name,
        source_sha256=version.source_sha256,
        adapter=version.adapter,
        adapter_version=version.adapter_version,
        loaded_by=version.loaded_by,
        loaded_at=loaded_at,
        counts=dataclasses.asdict(version.counts),
        warnings=[dataclasses.asdict(warning) for warning in version.warnings],
        warning_count=version.warning_count,
        entry_file=version.entry_file,
        active=active,
        mode=UpdateMode(version.mode).value,
        base_version_id=version.base_version_id,
        vetting=dataclasses.asdict(version.vetting),
    )


def _version_info(row: VersionRow, list_name: str) -> ListVersionInfo:
    return ListVersionInfo(
        list_name=list_name,
        number=row.number,
        version_id=row.version_id,
        purpose=Purpose(row.purpose),
        source_name=row.source_name,
        source_sha256=row.source_sha256,
        adapter=row.adapter,
        adapter_version=row.adapter_version,
        loaded_by=row.loaded_by,
        loaded_at=row.loaded_at,
        counts=IngestCounts(**row.counts),
        warnings=tuple(RecordWarning(**_fields(item)) for item in row.warnings),
        warning_count=row.warning_count,
        entry_file=row.entry_file,
        active=row.active,
        mode=UpdateMode(row.mode),
        base_version_id=row.base_version_id,
        vetting=Vetting(**_fields(row.vetting)),
    )


def _run_info(row: RunRow) -> RunInfo:
    return RunInfo(
        run_id=row.run_id,
        case_ref=row.case_ref,
        operator=row.operator,
        started_at=row.started_at,
        finished_at=row.finished_at,
        tool_version=row.tool_version,
        snapshot_id=row.snapshot_id,
        algorithms=tuple(row.algorithms),
        inputs=tuple(RunInput(**_fields(item)) for item in row.inputs),
        counts=dict(row.counts),
    )


def _grading(row: GradingRow) -> Grading:
    return Grading(
        grading_id=row.grading_id,
        algorithm=row.algorithm,  # type: ignore[arg-type]  # Grading makes it an Algorithm
        digest=row.digest,
        scheme=row.scheme,
        category=row.category,
        flags=tuple(row.flags),
        reviewer=row.reviewer,
        graded_at=row.graded_at,
        case_ref=row.case_ref,
        run_id=row.run_id,
        note=row.note,
        size=row.size,
    )


def _key_by_hash(token_hash: str) -> Select[ApiKeyRow]:
    """The one query that authenticates a request: by the unique index on ``token_hash``."""
    return select(ApiKeyRow).where(ApiKeyRow.token_hash == token_hash)


def _roles_text(roles: Sequence[Role]) -> str:
    return ",".join(Role(role).value for role in roles)


def _api_key(row: ApiKeyRow) -> ApiKey:
    try:
        return ApiKey(
            key_id=row.key_id,
            name=row.name,
            roles=tuple(row.roles.split(",")),  # type: ignore[arg-type]  # ApiKey parses them
            created_at=row.created_at,
            created_by=row.created_by,
            revoked_at=row.revoked_at,
        )
    except InputError as exc:
        raise StoreError(f"malformed API key {row.key_id!r} in the catalog: {exc}") from exc


def _fields(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise StoreError(f"malformed JSON in the catalog: expected an object, got {item!r}")
    return item


def _put_exchange_state(session: Session, state: ExchangeState) -> None:
    list_id = _require_list_id(session, state.list_name)
    checkpoint = None if state.checkpoint is None else as_utc(state.checkpoint, "checkpoint")
    row = session.get(ExchangeStateRow, state.exchange)
    if row is None:
        row = ExchangeStateRow(exchange=state.exchange)
        session.add(row)
    row.list_id = list_id
    row.api_root = state.api_root
    row.checkpoint = checkpoint
    row.version_id = state.version_id
    row.fetch = None if state.fetch is None else state.fetch.as_json()
    row.updated_at = as_utc(state.updated_at, "updated_at")


def _exchange_state(row: ExchangeStateRow, list_name: str) -> ExchangeState:
    return ExchangeState(
        exchange=row.exchange,
        list_name=list_name,
        api_root=row.api_root,
        checkpoint=row.checkpoint,
        version_id=row.version_id,
        fetch=None if row.fetch is None else ExchangeFetch.from_json(row.fetch),
        updated_at=row.updated_at,
    )
