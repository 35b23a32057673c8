"""Engines for the catalog: SQLite tuned for one laptop, any other SQLAlchemy URL as given.

SQLite (through the standard ``sqlite3`` driver) gets, on every new connection:
write-ahead logging (readers do not block the writer), foreign keys (off by default in
SQLite), and a busy timeout (a second process waits for the lock instead of failing at
once). SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN``, so that the reads and writes
of one call share one real transaction; calls that write begin ``IMMEDIATE`` and take the
write lock up front, which avoids the deadlock of two readers upgrading to writers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from hashmatch.errors import ConfigurationError

__all__ = [
    "BEGIN_MODE",
    "BUSY_TIMEOUT_MS",
    "create_store_engine",
    "driver_reason",
    "parse_url",
    "sqlite_file",
]

BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for another process's lock before failing."""

BEGIN_MODE = "hashmatch_begin"
"""Execution option naming the SQLite ``BEGIN`` mode (``DEFERRED`` or ``IMMEDIATE``)."""

_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE"})


def driver_reason(exc: SQLAlchemyError) -> str:
    """The driver's own message, never the statement's parameters (they may hold paths)."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__}: {orig}"
    return f"{type(exc).__name__}: {exc}"


def parse_url(url: str) -> URL:
    """``url`` parsed; ConfigurationError if it is not a database URL."""
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {exc}", source="database_url") from exc


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for other backends and in-memory SQLite."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_store_engine(url: str | URL) -> Engine:
    """An engine for ``url``, with the SQLite settings above when it is SQLite.

    Parameters are hidden from error messages: verdict rows may hold file paths, which
    belong in reports only.
    """
    parsed = parse_url(url) if isinstance(url, str) else url
    try:
        engine = create_engine(parsed, hide_parameters=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigurationError(f"cannot use database URL: {exc}", source="database_url") from exc
    if engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        raise TypeError(f"expected a sqlite3 connection, got {type(dbapi_connection).__name__}")
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_MODE, "DEFERRED")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
