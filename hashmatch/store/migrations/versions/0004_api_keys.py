"""API keys: ``api_keys``, one row per key of the HTTP API, found by the hash of its token.

``key_id`` (12 hex digits, also the middle of the token) is the primary key. ``roles`` is
the key's roles as comma-separated text (``examiner,auditor``). ``token_hash`` is the
SHA-256 of the token, never the token; its unique constraint is also the index that
authenticates a request in one lookup. A revoked key keeps its row, with ``revoked_at``
set, so that the audit trail's key ids stay explained.

Frozen like 0001: plain SQLAlchemy types; later changes get a new revision.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 12:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ``api_keys`` table."""
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("token_hash", name="uq_api_keys_token_hash"),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("api_keys")
