"""The catalog and verdict store: lists, list versions, snapshots, runs and their verdicts.

The rest of hashmatch talks to the store through :class:`Catalog` and gets the frozen
dataclasses of :mod:`hashmatch.model` (and :class:`VerdictRecord`) back. This package is
the only one that imports SQLAlchemy and Alembic.

- :func:`open_catalog`: the catalog at a URL, migrated (``memory://`` for the twin).
- :class:`SqlCatalog`: SQLAlchemy; SQLite by default, PostgreSQL when shared.
- :class:`MemoryCatalog`: plain dicts, the reference twin with the same behaviour.
"""

from __future__ import annotations

from hashmatch.store._base import Catalog, VerdictRecord
from hashmatch.store._open import open_catalog
from hashmatch.store.memory import MemoryCatalog
from hashmatch.store.sql import SqlCatalog

__all__ = ["Catalog", "MemoryCatalog", "SqlCatalog", "VerdictRecord", "open_catalog"]
