"""Cross-region clearing tables of the hub (yibao.crossregion.schema): xr_dispute, xr_clearing.

Revision ID: 1303
Revises: 1302
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1303"
down_revision = "1302"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xr_dispute",
        sa.Column("msgid", sa.String(64), primary_key=True),
        sa.Column("raised", sa.String(7), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("resolved", sa.String(7), nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "xr_clearing",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("receivable", sa.BigInteger, nullable=False),
        sa.Column("payable", sa.BigInteger, nullable=False),
        sa.Column("net", sa.BigInteger, nullable=False),
        sa.Column("opening", sa.BigInteger, nullable=False),
        sa.Column("after_clearing", sa.BigInteger, nullable=False),
        sa.Column("target", sa.BigInteger, nullable=False),
        sa.Column("top_up", sa.BigInteger, nullable=False),
        sa.Column("closed", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("xr_clearing")
    op.drop_table("xr_dispute")
