"""Alembic environment of the catalog: runs the revisions in ``versions/``.

hashmatch runs it in process (:mod:`hashmatch.store._migrate`), handing over an open
connection in ``config.attributes["connection"]``; no ``alembic.ini`` is needed. A developer
can also run the ``alembic`` command with ``hashmatch/store/alembic.ini`` and a database
URL (``-x url=...`` or the ini's ``sqlalchemy.url``). SQLite gets batch mode ("move and
copy"), since it cannot alter most of a table in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from hashmatch.store._engine import create_store_engine
from hashmatch.store.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    x_arguments = context.get_x_argument(as_dictionary=True)
    url = x_arguments.get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection handed over, no -x url=... and no sqlalchemy.url")
    engine = create_store_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
_run_online()
