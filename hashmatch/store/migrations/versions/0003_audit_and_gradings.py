"""Audit trail and gradings: the append-only ``audit_records`` chain and reviewers' ``gradings``.

``audit_records`` holds one row per audited action, numbered by ``seq`` (the primary key:
two appenders cannot both write the same position) and chained by ``prev_hash`` and
``hash`` (unique). ``gradings`` holds every grading a reviewer made, re-gradings included,
indexed by (algorithm, digest) to find the newest grading of a digest, and by time.

Frozen like 0001: plain SQLAlchemy types; later changes get a new revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALGORITHMS = "algorithm IN ('md5', 'sha1', 'sha256')"


def upgrade() -> None:
    """Create the two tables and the gradings' indexes."""
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_records"),
        sa.UniqueConstraint("hash", name="uq_audit_records_hash"),
    )
    op.create_table(
        "gradings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grading_id", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("scheme", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_ref", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gradings"),
        sa.UniqueConstraint("grading_id", name="uq_gradings_grading_id"),
        sa.CheckConstraint(_ALGORITHMS, name="ck_gradings_algorithm"),
    )
    op.create_index("ix_gradings_algorithm_digest", "gradings", ["algorithm", "digest"])
    op.create_index("ix_gradings_graded_at", "gradings", ["graded_at"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index("ix_gradings_graded_at", table_name="gradings")
    op.drop_index("ix_gradings_algorithm_digest", table_name="gradings")
    op.drop_table("gradings")
    op.drop_table("audit_records")
