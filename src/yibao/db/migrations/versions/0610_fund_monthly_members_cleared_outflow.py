"""Fund tables: insured persons month by month (fund_members_month) and the cross-region outflow cleared
with other regions (fund_cleared_outflow) — yibao.fund.schema.

Revision ID: 0610
Revises: 0601
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0610"
down_revision = "0601"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fund_members_month",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("batch_id", sa.String(80), sa.ForeignKey("fund_batch.batch_id"), nullable=False),
        sa.Column("in_service", sa.BigInteger, nullable=False),
        sa.Column("retired", sa.BigInteger, nullable=False),
        sa.Column("residents", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.create_table(
        "fund_cleared_outflow",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("insutype", sa.String(6), primary_key=True),
        sa.Column("cleared_fen", sa.BigInteger, nullable=False),
        sa.Column("cleared_lines", sa.Integer, nullable=False),
        sa.Column("routed_fen", sa.BigInteger, nullable=False),
        sa.Column("routed_lines", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded", sa.String(40), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fund_cleared_outflow")
    op.drop_table("fund_members_month")
