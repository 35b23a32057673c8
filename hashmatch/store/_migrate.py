"""Alembic, run in process: bring a catalog database to the newest schema (or back).

The scripts live in the ``migrations`` folder next to this module and are found from
``__file__``, so this works from a source checkout, an editable install and a wheel alike;
no ``alembic.ini`` is read.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from hashmatch.errors import StoreError
from hashmatch.store._engine import driver_reason

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head",
    "is_at_head",
    "upgrade",
]

HEAD = "0005"
"""The newest revision, pinned so that opening an up-to-date catalog needs no Alembic import
(about half a second of every command). A test checks it against Alembic's own head."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations, with no ini file."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic loads only to migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def head() -> str:
    """The newest revision id."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    from alembic.util import CommandError  # noqa: PLC0415

    try:
        yield
    except CommandError as exc:  # e.g. the database is at a revision this code does not know
        raise StoreError(f"{operation} failed: {exc}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"{operation} failed: {driver_reason(exc)}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``, in one transaction where the backend allows.

    StoreError if the database cannot be reached, or is at a revision this code does not
    know (written by a newer hashmatch).
    """
    if revision == "head" and _already_at_head(engine):
        return
    from alembic import command  # noqa: PLC0415

    config = alembic_config()
    with _translated(f"migrate the catalog to {revision}"), _serialised(engine):
        # Another process (a replica starting at the same moment) may have migrated
        # while this one waited for the lock.
        if revision == "head" and _already_at_head(engine):
            return
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)


def _already_at_head(engine: Engine) -> bool:
    try:
        return _at_head(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"migrate the catalog to head failed: {driver_reason(exc)}") from exc


_MIGRATION_LOCK = 0x686D_6967  # "hmig": the advisory lock that serialises migrations
"""PostgreSQL advisory lock key held while a process migrates the catalog."""


@contextmanager
def _serialised(engine: Engine) -> Iterator[None]:
    """Hold a lock that other processes migrating the same database wait for.

    PostgreSQL: a session advisory lock. A SQLite file: an ``flock`` on a file beside it
    (SQLite serves one machine). An in-memory SQLite database needs none.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK}
                )
                connection.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base``: an empty database). StoreError as above."""
    from alembic import command  # noqa: PLC0415

    config = alembic_config()
    with _translated(f"migrate the catalog down to {revision}"), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None if it was never migrated."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with _translated("read the catalog's revision"), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_at_head(engine: Engine) -> bool:
    """Whether the database is at :data:`HEAD`, read with plain SQL (no Alembic import)."""
    try:
        return _at_head(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"read the catalog's revision failed: {driver_reason(exc)}") from exc


def _at_head(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return [row[0] for row in rows] == [HEAD]
