"""Audit cases and the ledger's deduction journal (yibao.audit.schema).

Revision ID: 0101
Revises: 0001
Create Date: 2026-11-23

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0101"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_case",
        sa.Column("case_id", sa.String(80), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("opened_at", sa.String(40), nullable=False),
        sa.Column("notified_at", sa.String(40), nullable=True),
        sa.Column("deadline", sa.String(10), nullable=True),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.Column("deduction_id", sa.String(100), nullable=True),
        sa.Column("flagged_fen", sa.BigInteger, nullable=False),
        sa.Column("upheld_fen", sa.BigInteger, nullable=False),
        sa.Column("deducted_fen", sa.BigInteger, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("event_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_case_inst", "audit_case", ["fixmedins_code", "period"])
    op.create_index("ix_audit_case_state", "audit_case", ["state"])
    op.create_table(
        "audit_case_item",
        sa.Column("case_id", sa.String(80), primary_key=True),
        sa.Column("item_no", sa.Integer, primary_key=True),
        sa.Column("flag_ids", sa.Text, nullable=False),
        sa.Column("rule_codes", sa.Text, nullable=False),
        sa.Column("psn_id", sa.BigInteger, nullable=False),
        sa.Column("visit_id", sa.BigInteger, nullable=False),
        sa.Column("feedetl_sn", sa.Integer, nullable=True),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("reason_zh", sa.Text, nullable=False),
        sa.Column("reason_en", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("appeal_at", sa.String(40), nullable=True),
        sa.Column("appeal_reason", sa.Text, nullable=True),
        sa.Column("decision", sa.String(12), nullable=True),
        sa.Column("decided_fen", sa.BigInteger, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("deducted_fen", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "audit_case_event",
        sa.Column("case_id", sa.String(80), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("state_before", sa.String(12), nullable=False),
        sa.Column("state_after", sa.String(12), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_deduction",
        sa.Column("deduction_id", sa.String(100), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ux_ledger_deduction_chain", "ledger_deduction", ["fixmedins_code", "seq"], unique=True)
    op.create_table(
        "ledger_deduction_item",
        sa.Column("deduction_id", sa.String(100), primary_key=True),
        sa.Column("item_no", sa.Integer, primary_key=True),
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("feedetl_sn", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ledger_deduction_item_setl", "ledger_deduction_item", ["setl_id"])
    op.create_table(
        "ledger_inst_chain",
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("chain_seq", sa.BigInteger, nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_inst_chain")
    op.drop_index("ix_ledger_deduction_item_setl", "ledger_deduction_item")
    op.drop_table("ledger_deduction_item")
    op.drop_index("ux_ledger_deduction_chain", "ledger_deduction")
    op.drop_table("ledger_deduction")
    op.drop_table("audit_case_event")
    op.drop_table("audit_case_item")
    op.drop_index("ix_audit_case_state", "audit_case")
    op.drop_index("ix_audit_case_inst", "audit_case")
    op.drop_table("audit_case")
