"""Initial catalog: lists, list versions, snapshots, runs and verdicts.

Written by hand to match :mod:`hashmatch.store.tables` as of this revision, and frozen:
later model changes get a new revision, never an edit here. Plain SQLAlchemy types only
(the model's ``UtcDateTime`` is a Python-side decorator over ``DateTime(timezone=True)``),
so that this file keeps working whatever the models become.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PURPOSES = "purpose IN ('concern', 'benign')"
_VERDICTS = "verdict IN ('known', 'known_benign', 'unknown', 'not_assessable', 'invalid')"


def upgrade() -> None:
    """Create the five tables, their keys and the one-active-version index."""
    op.create_table(
        "lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lists"),
        sa.UniqueConstraint("name", name="uq_lists_name"),
        sa.CheckConstraint(_PURPOSES, name="ck_lists_purpose"),
    )
    op.create_table(
        "list_versions",
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.Text(), nullable=False),
        sa.Column("adapter", sa.Text(), nullable=False),
        sa.Column("adapter_version", sa.Text(), nullable=False),
        sa.Column("loaded_by", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("entry_file", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name="pk_list_versions"),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"], name="fk_list_versions_list_id_lists"),
        sa.UniqueConstraint("list_id", "number", name="uq_list_versions_list_id_number"),
        sa.CheckConstraint(_PURPOSES, name="ck_list_versions_purpose"),
    )
    op.create_index(
        "uq_list_versions_one_active",
        "list_versions",
        ["list_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("list_version_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("case_ref", sa.Text(), nullable=False),
        sa.Column("operator", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tool_version", sa.Text(), nullable=False),
        sa.Column("snapshot_id", sa.Text(), nullable=False),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_table(
        "verdicts",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("row", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("labels", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "row", name="pk_verdicts"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_verdicts_run_id_runs"),
        sa.CheckConstraint(_VERDICTS, name="ck_verdicts_verdict"),
    )


def downgrade() -> None:
    """Drop everything, dependants first."""
    op.drop_table("verdicts")
    op.drop_table("runs")
    op.drop_table("snapshots")
    op.drop_index("uq_list_versions_one_active", table_name="list_versions")
    op.drop_table("list_versions")
    op.drop_table("lists")
