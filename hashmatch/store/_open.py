"""Opening the catalog named by a URL, with its schema brought up to date."""

from __future__ import annotations

from hashmatch.errors import StoreError
from hashmatch.store import _migrate
from hashmatch.store._base import Catalog
from hashmatch.store._engine import parse_url, sqlite_file
from hashmatch.store.memory import MemoryCatalog
from hashmatch.store.sql import SqlCatalog

__all__ = ["MEMORY_URL", "open_catalog"]

MEMORY_URL = "memory://"
"""The URL of a fresh in-memory catalog (:class:`MemoryCatalog`)."""


def open_catalog(url: str) -> Catalog:
    """The catalog at ``url``, migrated to the newest schema.

    ``memory://`` gives a fresh :class:`MemoryCatalog`. Anything else is a SQLAlchemy URL
    (``sqlite:///path/catalog.sqlite``; ``postgresql+psycopg://...`` once that driver is
    installed): the SQLite file's folder is created if needed, and Alembic upgrades the
    database to ``head`` before the catalog is returned.

    Raises ConfigurationError if the URL or its driver is unusable, StoreError if the
    database cannot be reached or migrated.
    """
    if url == MEMORY_URL:
        return MemoryCatalog()
    parsed = parse_url(url)
    path = sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the catalog's folder: {exc}") from exc
    catalog = SqlCatalog(parsed)
    try:
        _migrate.upgrade(catalog.engine)
    except BaseException:
        catalog.close()
        raise
    return catalog
