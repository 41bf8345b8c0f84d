"""Internet-care tables (yibao.care.schema): care_condition, care_followup, care_rx, care_delivery, care_bill, care_credit, care_credit_payment, care_consult, care_contract, care_outcome, care_capitation, care_cover, care_claim, care_statement.

Revision ID: 0702
Revises: 0001
Create Date: 2026-12-01

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0702"
down_revision = "0001"
branch_labels = ("care",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_condition",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("registered_on", sa.String(10), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
    )
    op.create_table(
        "care_followup",
        sa.Column("followup_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=False),
        sa.Column("internet_hospital", sa.String(30), nullable=False),
        sa.Column("diagnosis", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pay_mode", sa.String(10)),
        sa.Column("rx_id", sa.String(40)),
        sa.Column("bill_id", sa.String(40)),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_care_followup_psn", "care_followup", ["psn_no", "created"])
    op.create_index("ix_care_followup_ih", "care_followup", ["internet_hospital", "status"])
    op.create_table(
        "care_rx",
        sa.Column("rx_id", sa.String(40), primary_key=True),
        sa.Column("followup_id", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("internet_hospital", sa.String(30), nullable=False),
        sa.Column("prescriber", sa.String(30), nullable=False),
        sa.Column("issued_on", sa.String(10), nullable=False),
        sa.Column("diagnosis", sa.String(20), nullable=False),
        sa.Column("target", sa.String(30), nullable=False),
        sa.Column("lines", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dispensed_at", sa.String(40)),
        sa.Column("dispensed_by", sa.String(30)),
    )
    op.create_index("ix_care_rx_target", "care_rx", ["target", "status"])
    op.create_table(
        "care_delivery",
        sa.Column("rx_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shipped_at", sa.String(40)),
        sa.Column("delivered_on", sa.String(10)),
    )
    op.create_table(
        "care_bill",
        sa.Column("bill_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger, nullable=False),
        sa.Column("extras", sa.BigInteger, nullable=False),
        sa.Column("hifp_pay", sa.BigInteger, nullable=False),
        sa.Column("other_funds", sa.BigInteger, nullable=False),
        sa.Column("commercial_pay", sa.BigInteger, nullable=False),
        sa.Column("insurer", sa.String(20), nullable=False, server_default=""),
        sa.Column("patient_pay", sa.BigInteger, nullable=False),
        sa.Column("pay_mode", sa.String(10), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_index("ix_care_bill_psn", "care_bill", ["psn_no", "created"])
    op.create_table(
        "care_credit",
        sa.Column("bill_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.Column("created_on", sa.String(10), nullable=False),
        sa.Column("due_on", sa.String(10)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_on", sa.String(10)),
    )
    op.create_index("ix_care_credit_psn", "care_credit", ["psn_no", "status"])
    op.create_table(
        "care_credit_payment",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("bill_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("by_user", sa.String(40), nullable=False),
    )
    op.create_index("ix_care_credit_payment_bill", "care_credit_payment", ["bill_id"])
    op.create_table(
        "care_consult",
        sa.Column("consult_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("requester", sa.String(30), nullable=False),
        sa.Column("consultant", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("consultant_share", sa.BigInteger, nullable=False),
        sa.Column("requester_share", sa.BigInteger, nullable=False),
        sa.Column("advice", sa.Text, nullable=False, server_default=""),
        sa.Column("ordered", sa.Text, nullable=False, server_default=""),
        sa.Column("mdtrt_id", sa.String(40)),
        sa.Column("bill_id", sa.String(40)),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
    )
    op.create_index("ix_care_consult_req", "care_consult", ["requester", "status"])
    op.create_index("ix_care_consult_cons", "care_consult", ["consultant", "status"])
    op.create_table(
        "care_contract",
        sa.Column("contract_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("doctor", sa.String(40), nullable=False),
        sa.Column("consortium", sa.String(30), nullable=False),
        sa.Column("package", sa.String(30), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("payer", sa.String(12), nullable=False),
        sa.Column("start_on", sa.String(10), nullable=False),
        sa.Column("end_on", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_index("ix_care_contract_psn", "care_contract", ["psn_no", "status"])
    op.create_index("ix_care_contract_cons", "care_contract", ["consortium", "status"])
    op.create_table(
        "care_outcome",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("measure", sa.String(10), primary_key=True),
        sa.Column("controlled", sa.Integer, nullable=False),
        sa.Column("recorded_by", sa.String(40), nullable=False),
    )
    op.create_table(
        "care_capitation",
        sa.Column("consortium", sa.String(30), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("budget", sa.BigInteger, nullable=False),
        sa.Column("pool", sa.BigInteger, nullable=False),
        sa.Column("withheld", sa.BigInteger, nullable=False),
        sa.Column("bonus", sa.BigInteger, nullable=False),
        sa.Column("payable", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("computed_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "care_cover",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("product", sa.String(30), primary_key=True),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_to", sa.String(10), nullable=False),
    )
    op.create_table(
        "care_claim",
        sa.Column("claim_id", sa.String(40), primary_key=True),
        sa.Column("product", sa.String(30), nullable=False),
        sa.Column("insurer", sa.String(20), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("bill_id", sa.String(40), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("base", sa.BigInteger, nullable=False),
        sa.Column("deductible", sa.BigInteger, nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.Column("claimed_on", sa.String(10), nullable=False),
        sa.Column("statement_id", sa.String(40)),
    )
    op.create_index("ix_care_claim_ins", "care_claim", ["insurer", "claimed_on"])
    op.create_index("ix_care_claim_psn", "care_claim", ["psn_no", "year"])
    op.create_table(
        "care_statement",
        sa.Column("statement_id", sa.String(40), primary_key=True),
        sa.Column("insurer", sa.String(20), nullable=False),
        sa.Column("period_from", sa.String(10), nullable=False),
        sa.Column("period_to", sa.String(10), nullable=False),
        sa.Column("claims", sa.Integer, nullable=False),
        sa.Column("base", sa.BigInteger, nullable=False),
        sa.Column("paid", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=False, server_default=""),
        sa.Column("created", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("care_statement")
    op.drop_index("ix_care_claim_ins", "care_claim")
    op.drop_index("ix_care_claim_psn", "care_claim")
    op.drop_table("care_claim")
    op.drop_table("care_cover")
    op.drop_table("care_capitation")
    op.drop_table("care_outcome")
    op.drop_index("ix_care_contract_psn", "care_contract")
    op.drop_index("ix_care_contract_cons", "care_contract")
    op.drop_table("care_contract")
    op.drop_index("ix_care_consult_req", "care_consult")
    op.drop_index("ix_care_consult_cons", "care_consult")
    op.drop_table("care_consult")
    op.drop_index("ix_care_credit_payment_bill", "care_credit_payment")
    op.drop_table("care_credit_payment")
    op.drop_index("ix_care_credit_psn", "care_credit")
    op.drop_table("care_credit")
    op.drop_index("ix_care_bill_psn", "care_bill")
    op.drop_table("care_bill")
    op.drop_table("care_delivery")
    op.drop_index("ix_care_rx_target", "care_rx")
    op.drop_table("care_rx")
    op.drop_index("ix_care_followup_psn", "care_followup")
    op.drop_index("ix_care_followup_ih", "care_followup")
    op.drop_table("care_followup")
    op.drop_table("care_condition")
