"""Exchange states: ``exchange_states``, one row per list exchange (NCMEC hash sharing ...).

``exchange`` (``ncmec-industry``) is the primary key; ``list_id`` the list its fetches load.
``checkpoint`` says up to when the exchange's changes are in list version ``version_id``;
``api_root`` where they were fetched from. ``fetch`` is a fetch under way, as JSON text
(range, pages journalled, the client's cursor), so that an interrupted one goes on.

Frozen like 0001: plain SQLAlchemy types; later changes get a new revision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ``exchange_states`` table."""
    op.create_table(
        "exchange_states",
        sa.Column("exchange", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("api_root", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version_id", sa.Text(), nullable=True),
        sa.Column("fetch", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"], name="fk_exchange_states_list_id_lists"),
        sa.PrimaryKeyConstraint("exchange", name="pk_exchange_states"),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("exchange_states")
