"""The national reconciliation answers (yibao.encounter.schema): enc_reconciliation — every 3201 总账对账 and
3202 明细对账 outcome, read by the institution assessment's reconciliation break rate.

Revision ID: 1110
Revises: 1101
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1110"
down_revision = "1101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enc_reconciliation",
        sa.Column("recon_id", sa.String(40), primary_key=True),
        sa.Column("infno", sa.String(6), nullable=False),
        sa.Column("msgid", sa.String(64), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("begndate", sa.String(10), nullable=False),
        sa.Column("enddate", sa.String(10), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("clr_type", sa.String(6), nullable=False),
        sa.Column("setl_optins", sa.String(6), nullable=False),
        sa.Column("hosp_medfee", sa.BigInteger, nullable=False),
        sa.Column("hosp_fund", sa.BigInteger, nullable=False),
        sa.Column("hosp_acct", sa.BigInteger, nullable=False),
        sa.Column("hosp_cnt", sa.BigInteger, nullable=False),
        sa.Column("ledger_medfee", sa.BigInteger, nullable=False),
        sa.Column("ledger_fund", sa.BigInteger, nullable=False),
        sa.Column("ledger_acct", sa.BigInteger, nullable=False),
        sa.Column("ledger_cnt", sa.BigInteger, nullable=False),
        sa.Column("agreed", sa.Boolean, nullable=False),
        sa.Column("diff_fields", sa.Text, nullable=False),
        sa.Column("rows_checked", sa.BigInteger, nullable=False),
        sa.Column("unmatched", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("ix_enc_reconciliation_inst", "enc_reconciliation", ["fixmedins_code", "enddate"])


def downgrade() -> None:
    op.drop_index("ix_enc_reconciliation_inst", "enc_reconciliation")
    op.drop_table("enc_reconciliation")
