"""Vetting and updates: list policies, trusted publisher keys, version modes and vetting.

Adds to ``lists`` whether a list requires a trusted signature and how old it may grow;
a ``trusted_keys`` table of publisher keys per list; and to ``list_versions`` how each
version was made (``replace``, ``add``, ``remove``, ``rollback``), the version a delta or
rollback builds on, and what was checked about its source (``vetting``, JSON).

Frozen like 0001: plain SQLAlchemy types; later changes get a new revision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MODES = "mode IN ('replace', 'add', 'remove', 'rollback')"


def upgrade() -> None:
    """Add the policy columns, the version columns and the trusted-keys table."""
    with op.batch_alter_table("lists") as batch:
        batch.add_column(
            sa.Column(
                "require_signature", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
        batch.add_column(sa.Column("max_age_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("list_versions") as batch:
        batch.add_column(
            sa.Column("mode", sa.String(16), server_default=sa.text("'replace'"), nullable=False)
        )
        batch.add_column(sa.Column("base_version_id", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("vetting", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch.create_check_constraint("ck_list_versions_mode", sa.text(_MODES))
    op.create_table(
        "trusted_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"], name="fk_trusted_keys_list_id_lists"),
        sa.PrimaryKeyConstraint("id", name="pk_trusted_keys"),
        sa.UniqueConstraint("list_id", "key_id", name="uq_trusted_keys_list_id_key_id"),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("trusted_keys")
    with op.batch_alter_table("list_versions") as batch:
        batch.drop_constraint("ck_list_versions_mode", type_="check")
        batch.drop_column("vetting")
        batch.drop_column("base_version_id")
        batch.drop_column("mode")
    with op.batch_alter_table("lists") as batch:
        batch.drop_column("max_age_days")
        batch.drop_column("require_signature")
