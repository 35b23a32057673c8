"""The catalog's tables as SQLAlchemy declarative models.

These rows never leave the store package: :mod:`hashmatch.store.sql` turns them into the
dataclasses of :mod:`hashmatch.model`. The schema in the database is made by the Alembic
migrations in ``migrations/versions``; a test checks that they build exactly these models.
Change a model, then add a migration.

Structured values (ingest counts, warnings, run inputs) are JSON columns. Strings are
unbounded (``TEXT``/``VARCHAR``) so that SQLite and PostgreSQL accept the same values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hashmatch.model import Purpose, UpdateMode, Verdict
from hashmatch.store._types import UtcDateTime

__all__ = [
    "ApiKeyRow",
    "AuditRow",
    "Base",
    "GradingRow",
    "ListRow",
    "RunRow",
    "SnapshotRow",
    "TrustedKeyRow",
    "VerdictRow",
    "VersionRow",
    "verdicts_table",
]

# Named constraints, so that later migrations can find and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_PURPOSES = ", ".join(f"'{p.value}'" for p in Purpose)
_VERDICTS = ", ".join(f"'{v.value}'" for v in Verdict)
_MODES = ", ".join(f"'{m.value}'" for m in UpdateMode)
_ALGORITHMS = "'md5', 'sha1', 'sha256'"  # Algorithm's values; spelt out to keep numpy out


class Base(DeclarativeBase):
    """Declarative base of the catalog tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 (SQLAlchemy reads it as a class attr)
        datetime: UtcDateTime(),
        str: Text(),
    }


class ListRow(Base):
    """A named list: ``lists``."""

    __tablename__ = "lists"
    __table_args__ = (CheckConstraint(f"purpose IN ({_PURPOSES})", name="purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    description: Mapped[str]
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    require_signature: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    max_age_days: Mapped[int | None]


class TrustedKeyRow(Base):
    """A publisher key a list trusts: ``trusted_keys``."""

    __tablename__ = "trusted_keys"
    __table_args__ = (UniqueConstraint("list_id", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"))
    key_id: Mapped[str]
    publisher: Mapped[str]
    public_key: Mapped[str]
    added_by: Mapped[str]
    added_at: Mapped[datetime]


class VersionRow(Base):
    """One immutable load of a list: ``list_versions``.

    At most one version of a list is active; a partial unique index holds that line.
    """

    __tablename__ = "list_versions"
    __table_args__ = (
        UniqueConstraint("list_id", "number"),
        CheckConstraint(f"purpose IN ({_PURPOSES})", name="purpose"),
        CheckConstraint(f"mode IN ({_MODES})", name="mode"),
        Index(
            "uq_list_versions_one_active",
            "list_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    version_id: Mapped[str] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"))
    number: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str]
    source_sha256: Mapped[str]
    adapter: Mapped[str]
    adapter_version: Mapped[str]
    loaded_by: Mapped[str]
    loaded_at: Mapped[datetime]
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    warning_count: Mapped[int]
    entry_file: Mapped[str]
    active: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(16), server_default=text("'replace'"))
    base_version_id: Mapped[str | None]
    vetting: Mapped[dict[str, Any]] = mapped_column(JSON, server_default=text("'{}'"))


class SnapshotRow(Base):
    """A built lookup index, identified by its content hash: ``snapshots``."""

    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(primary_key=True)
    built_at: Mapped[datetime]
    path: Mapped[str]
    list_version_ids: Mapped[list[str]] = mapped_column(JSON)


class RunRow(Base):
    """One check of manifests against a snapshot: ``runs``."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(primary_key=True)
    case_ref: Mapped[str]
    operator: Mapped[str]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    tool_version: Mapped[str]
    snapshot_id: Mapped[str]
    algorithms: Mapped[list[str]] = mapped_column(JSON)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)


class VerdictRow(Base):
    """One verdict of a run, keyed by the row's position in the input: ``verdicts``."""

    __tablename__ = "verdicts"
    __table_args__ = (CheckConstraint(f"verdict IN ({_VERDICTS})", name="verdict"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None]
    labels: Mapped[str | None]
    path: Mapped[str | None]


class AuditRow(Base):
    """One record of the append-only audit chain: ``audit_records``.

    The store inserts rows and never updates or deletes them. Appenders are serialised
    (SQLite's write lock, a table lock on PostgreSQL); ``seq`` as the primary key is the
    backstop that refuses a second record at one position, so the chain cannot fork.
    """

    __tablename__ = "audit_records"
    __table_args__ = (UniqueConstraint("hash"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str]
    action: Mapped[str]
    subject: Mapped[str]
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str]
    hash: Mapped[str]


class GradingRow(Base):
    """A reviewer's grading of a digest: ``gradings``. Re-gradings add rows; none is changed.

    ``id`` keeps the order of insertion, which breaks ties between gradings made at the
    same instant (the one added later supersedes).
    """

    __tablename__ = "gradings"
    __table_args__ = (
        UniqueConstraint("grading_id"),
        CheckConstraint(f"algorithm IN ({_ALGORITHMS})", name="algorithm"),
        Index(None, "algorithm", "digest"),
        Index(None, "graded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grading_id: Mapped[str]
    algorithm: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str]
    scheme: Mapped[str]
    category: Mapped[str]
    flags: Mapped[list[str]] = mapped_column(JSON)
    reviewer: Mapped[str]
    graded_at: Mapped[datetime]
    case_ref: Mapped[str | None]
    run_id: Mapped[str | None]
    note: Mapped[str | None]
    size: Mapped[int | None] = mapped_column(BigInteger)


class ApiKeyRow(Base):
    """A key of the HTTP API: ``api_keys``. Holds the SHA-256 of the token, never the token.

    The unique constraint on ``token_hash`` is also the index that finds the key of a
    request in one lookup. ``roles`` is comma-separated text in ``Role`` order. A revoked
    key keeps its row, with ``revoked_at`` set.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("token_hash"),)

    key_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    roles: Mapped[str]
    token_hash: Mapped[str]
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    revoked_at: Mapped[datetime | None]


class ExchangeStateRow(Base):
    """What is kept of one list exchange: ``exchange_states``.

    ``checkpoint`` says up to when the changes are in version ``version_id`` of the list;
    ``fetch`` is a fetch under way as JSON text (:meth:`ExchangeFetch.as_json`), or null.
    """

    __tablename__ = "exchange_states"

    exchange: Mapped[str] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id"))
    api_root: Mapped[str]
    checkpoint: Mapped[datetime | None]
    version_id: Mapped[str | None]
    fetch: Mapped[str | None]
    updated_at: Mapped[datetime]


verdicts_table: Table = Base.metadata.tables["verdicts"]
"""The ``verdicts`` table for bulk Core inserts (no ORM objects per row)."""
