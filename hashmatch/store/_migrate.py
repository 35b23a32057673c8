"""Alembic, run in process: bring a catalog database to the newest schema (or back).

The scripts live in the ``migrations`` folder next to this module and are found from
``__file__``, so this works from a source checkout, an editable install and a wheel alike;
no ``alembic.ini`` is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from hashmatch.errors import StoreError
from hashmatch.store._engine import driver_reason

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "downgrade", "head", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations, with no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def head() -> str:
    """The newest revision id."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


@contextmanager
def _translated(operation: str) -> Iterator[None]:
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
    config = alembic_config()
    with _translated(f"migrate the catalog to {revision}"), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base``: an empty database). StoreError as above."""
    config = alembic_config()
    with _translated(f"migrate the catalog down to {revision}"), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None if it was never migrated."""
    with _translated("read the catalog's revision"), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
