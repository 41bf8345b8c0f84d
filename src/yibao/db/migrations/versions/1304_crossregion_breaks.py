"""A region's handling of cross-region reconciliation breaks (yibao.crossregion.schema): xr_break_action.

Revision ID: 1304
Revises: 1303
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1304"
down_revision = "1303"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xr_break_action",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("msgid", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_xr_break_action_msgid", "xr_break_action", ["msgid", "side"])


def downgrade() -> None:
    op.drop_index("ix_xr_break_action_msgid", "xr_break_action")
    op.drop_table("xr_break_action")
