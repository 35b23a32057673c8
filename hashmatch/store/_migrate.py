"""Alembic, run in process: bring a catalog database to the newest schema (or back).

The scripts live in the ``migrations`` folder next to this module and are found from
``__file__``, so this works from a source checkout, an editable install and a wheel alike;
no ``alembic.ini`` is read.
"""

from __future__ import annotations

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
    if revision == "head":
        try:
            if _at_head(engine):
                return
        except SQLAlchemyError as exc:
            raise StoreError(
                f"migrate the catalog to {revision} failed: {driver_reason(exc)}"
            ) from exc
    from alembic import command  # noqa: PLC0415

    config = alembic_config()
    with _translated(f"migrate the catalog to {revision}"), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


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
