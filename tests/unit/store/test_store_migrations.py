"""The Alembic migrations build exactly the models' schema, and undo it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, inspect

from hashmatch.store import _migrate
from hashmatch.store._engine import create_store_engine
from hashmatch.store.tables import Base


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh, empty SQLite file."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield engine
    engine.dispose()


def _differences(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_head_builds_exactly_the_models_schema(engine: Engine) -> None:
    _migrate.upgrade(engine)
    assert _migrate.current_revision(engine) == _migrate.head()
    assert _differences(engine, Base.metadata) == []


def test_the_schema_comparison_can_see_a_difference(engine: Engine) -> None:
    _migrate.upgrade(engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["runs"].append_column(Column("extra", Integer, nullable=True))
    assert [diff[0] for diff in _differences(engine, changed)] == ["add_column"]


def test_at_most_one_version_per_list_is_active_by_a_partial_unique_index(
    engine: Engine,
) -> None:
    _migrate.upgrade(engine)
    (index,) = (
        found
        for found in inspect(engine).get_indexes("list_versions")
        if found["name"] == "uq_list_versions_one_active"
    )
    assert index["column_names"] == ["list_id"]
    assert index["unique"]
    where = index.get("dialect_options", {}).get("sqlite_where")
    assert str(where).strip().lower() == "active"


def test_downgrade_to_base_then_upgrade_to_head(engine: Engine) -> None:
    _migrate.upgrade(engine)
    _migrate.downgrade(engine, "base")
    assert _migrate.current_revision(engine) is None
    assert _tables(engine) <= {"alembic_version"}
    _migrate.upgrade(engine, "head")
    assert _tables(engine) == {"alembic_version", *Base.metadata.tables}
    assert _differences(engine, Base.metadata) == []


def test_upgrading_an_up_to_date_database_changes_nothing(engine: Engine) -> None:
    _migrate.upgrade(engine)
    _migrate.upgrade(engine)
    assert _migrate.current_revision(engine) == _migrate.head()
    assert _differences(engine, Base.metadata) == []


def test_migrations_are_found_from_the_package_with_one_head_and_docstrings() -> None:
    assert (_migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert (_migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    scripts = ScriptDirectory.from_config(_migrate.alembic_config())
    assert scripts.get_heads() == [_migrate.head()]
    revisions = list(scripts.walk_revisions())
    assert [rev.down_revision for rev in revisions][-1] is None
    for revision in revisions:
        assert revision.path is not None
        module = ast.parse(Path(revision.path).read_text(encoding="utf-8"))
        assert ast.get_docstring(module), f"{revision.path} has no docstring"


def test_pinned_head_is_alembics_head() -> None:
    """Opening a current catalog skips Alembic by trusting HEAD: it must be the real head."""
    assert _migrate.head() == _migrate.HEAD


def test_is_at_head_only_after_upgrade(tmp_path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert not _migrate.is_at_head(engine)
    _migrate.upgrade(engine)
    assert _migrate.is_at_head(engine)
    _migrate.downgrade(engine, "base")
    assert not _migrate.is_at_head(engine)
