"""Payment results: payment_run, payment_clearing (yibao.payment.schema).

Revision ID: 0401
Revises: 0001
Create Date: 2026-11-23

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0401"
down_revision = "0001"
branch_labels = ("payment",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_run",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("policy", sa.String(200), nullable=False),
        sa.Column("pool_fen", sa.BigInteger, nullable=False),
        sa.Column("budget_point_value", sa.String(80), nullable=False),
        sa.Column("settlement_point_value", sa.String(80), nullable=False),
        sa.Column("cases", sa.BigInteger, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_index("ix_payment_run_year", "payment_run", ["year", "method"])
    op.create_table(
        "payment_clearing",
        sa.Column("run_id", sa.String(40), sa.ForeignKey("payment_run.run_id"), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("hosp_lv", sa.String(8), nullable=False),
        sa.Column("cases", sa.BigInteger, nullable=False),
        sa.Column("cmi", sa.Integer),
        sa.Column("points_pu", sa.BigInteger, nullable=False),
        sa.Column("cost_fen", sa.BigInteger, nullable=False),
        sa.Column("due_fen", sa.BigInteger, nullable=False),
        sa.Column("pre_paid_fen", sa.BigInteger, nullable=False),
        sa.Column("withheld_fen", sa.BigInteger, nullable=False),
        sa.Column("balance_fen", sa.BigInteger, nullable=False),
        sa.Column("profit_fen", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("payment_clearing")
    op.drop_index("ix_payment_run_year", table_name="payment_run")
    op.drop_table("payment_run")
