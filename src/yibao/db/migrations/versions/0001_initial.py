"""Initial ledger schema: person, accumulator, settlement, settlement_line, journal, message.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written out explicitly (not imported from ``yibao.ledger.schema``) so that this migration stays what it
was when later revisions change the live schema; ``tests/unit/test_ledger_schema.py`` checks that the
migrated database matches ``schema.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64
MONEY_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
)


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("certno", sa.String(50), nullable=False),
        sa.Column("gender", sa.String(2), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("psn_type", sa.String(6), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(6), nullable=False, server_default=""),
        sa.Column("identities", sa.Text, nullable=False, server_default="[]"),
        sa.Column("family", sa.Text, nullable=False, server_default="[]"),
        sa.Column("account_balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("chain_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("chain_hash", sa.String(64), nullable=False, server_default=GENESIS),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "accumulator",
        sa.Column("psn_no", sa.String(40), sa.ForeignKey("person.psn_no"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("counters", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "settlement",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("setl_id", sa.String(40), nullable=False, unique=True),
        sa.Column("msgid", sa.String(64), nullable=False),
        sa.Column("psn_no", sa.String(40), sa.ForeignKey("person.psn_no"), nullable=False),
        sa.Column("mdtrt_id", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("cancel_msgid", sa.String(64), nullable=True),
        sa.Column("policy_version", sa.String(40), nullable=False),
        sa.Column("admdvs", sa.String(6), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("psn_type", sa.String(6), nullable=False),
        sa.Column("med_type", sa.String(6), nullable=False),
        sa.Column("account_psn_no", sa.String(40), nullable=True),
        sa.Column("pool_prop_selfpay", sa.Integer, nullable=False),
        *[sa.Column(f, sa.BigInteger, nullable=False) for f in MONEY_FIELDS],
        sa.Column("deltas", sa.Text, nullable=False),
        sa.Column("setldetail", sa.Text, nullable=False),
        sa.Column("steps", sa.Text, nullable=False),
        sa.Column("visit", sa.Text, nullable=False),
    )
    op.create_index("ix_settlement_psn_year", "settlement", ["psn_no", "year", "id"])
    op.create_index("ix_settlement_account", "settlement", ["account_psn_no", "id"])
    op.create_table(
        "settlement_line",
        sa.Column("setl_id", sa.String(40), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("feedetl_sn", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger, nullable=False),
        sa.Column("overlmt_selfpay", sa.BigInteger, nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger, nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "journal",
        sa.Column("chain", sa.String(40), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("msgid", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("item", sa.String(40), nullable=False),
        sa.Column("field", sa.String(24), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_journal_setl", "journal", ["setl_id"])
    op.create_table(
        "message",
        sa.Column("msgid", sa.String(64), primary_key=True),
        sa.Column("infno", sa.String(6), nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("omsgid", sa.String(64), nullable=True),
        sa.Column("acct_change", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for name in ("message", "journal", "settlement_line", "settlement", "accumulator", "person"):
        op.drop_table(name)
