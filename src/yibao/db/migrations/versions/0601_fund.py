"""Fund tables: accounts (fund_batch, fund_entry, with fund_activity, fund_members, fund_institution_year),
readings (fund_reading), alerts (fund_alert, fund_alert_event), projections
(fund_projection), global budget and clearing (fund_budget, fund_budget_line, fund_budget_month,
fund_clearing) — yibao.fund.schema.

Revision ID: 0601
Revises: 0001
Create Date: 2026-12-01

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0601"
down_revision = "0001"
branch_labels = ("fund",)
depends_on = None


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "fund_batch",
        sa.Column("batch_id", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("total_fen", sa.BigInteger, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "fund_entry",
        _id(),
        sa.Column("batch_id", sa.String(80), sa.ForeignKey("fund_batch.batch_id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("fund_pay_type", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("counterpart", sa.String(6), nullable=False, server_default=""),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_fund_entry_fund_month", "fund_entry", ["fund_pay_type", "month"])
    op.create_index("ix_fund_entry_batch", "fund_entry", ["batch_id"])
    op.create_table(
        "fund_activity",
        _id(),
        sa.Column("batch_id", sa.String(80), sa.ForeignKey("fund_batch.batch_id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("med_type", sa.String(6), nullable=False),
        sa.Column("locality", sa.String(20), nullable=False),
        sa.Column("visits", sa.BigInteger, nullable=False),
        sa.Column("medfee_fen", sa.BigInteger, nullable=False),
        sa.Column("fund_fen", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_fund_activity_month", "fund_activity", ["month"])
    op.create_table(
        "fund_members",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("batch_id", sa.String(80), sa.ForeignKey("fund_batch.batch_id"), nullable=False),
        sa.Column("in_service", sa.BigInteger, nullable=False),
        sa.Column("retired", sa.BigInteger, nullable=False),
        sa.Column("residents", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fund_institution_year",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("fund_pay_type", sa.String(6), primary_key=True),
        sa.Column("batch_id", sa.String(80), sa.ForeignKey("fund_batch.batch_id"), nullable=False),
        sa.Column("paid_fen", sa.BigInteger, nullable=False),
        sa.Column("inpatient_fen", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fund_reading",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("indicator", sa.String(40), primary_key=True),
        sa.Column("scope", sa.String(20), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=True),
        sa.Column("unit", sa.String(12), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=True),
        sa.Column("national", sa.BigInteger, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("note_zh", sa.Text, nullable=False),
        sa.Column("note_en", sa.Text, nullable=False),
        sa.Column("computed_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "fund_alert",
        sa.Column("alert_id", sa.String(40), primary_key=True),
        sa.Column("indicator", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("first_month", sa.String(7), nullable=False),
        sa.Column("last_month", sa.String(7), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=True),
        sa.Column("unit", sa.String(12), nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=True),
        sa.Column("message_zh", sa.Text, nullable=False),
        sa.Column("message_en", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_fund_alert_key", "fund_alert", ["indicator", "scope", "status"])
    op.create_table(
        "fund_alert_event",
        _id(),
        sa.Column("alert_id", sa.String(40), sa.ForeignKey("fund_alert.alert_id"), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_fund_alert_event_alert", "fund_alert_event", ["alert_id", "id"])
    op.create_table(
        "fund_projection",
        sa.Column("run_id", sa.String(80), primary_key=True),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("base_month", sa.String(7), nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("paths", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_table(
        "fund_budget",
        sa.Column("run_id", sa.String(80), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("projection_run", sa.String(80), nullable=True),
        sa.Column("total_fen", sa.BigInteger, nullable=False),
        sa.Column("reserve_fen", sa.BigInteger, nullable=False),
        sa.Column("region_budget_fen", sa.BigInteger, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
    )
    op.create_table(
        "fund_budget_line",
        sa.Column("run_id", sa.String(80), sa.ForeignKey("fund_budget.run_id"), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("fund_pay_type", sa.String(6), primary_key=True),
        sa.Column("history_fen", sa.BigInteger, nullable=False),
        sa.Column("growth", sa.Integer, nullable=False),
        sa.Column("weight", sa.BigInteger, nullable=False),
        sa.Column("budget_fen", sa.BigInteger, nullable=False),
        sa.Column("drg_dip_fen", sa.BigInteger, nullable=False),
        sa.Column("other_fen", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fund_budget_month",
        sa.Column("run_id", sa.String(80), sa.ForeignKey("fund_budget.run_id"), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("advance_fen", sa.BigInteger, nullable=False),
        sa.Column("withheld_fen", sa.BigInteger, nullable=False),
        sa.Column("paid_fen", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "fund_clearing",
        sa.Column("run_id", sa.String(80), sa.ForeignKey("fund_budget.run_id"), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("budget_fen", sa.BigInteger, nullable=False),
        sa.Column("actual_fen", sa.BigInteger, nullable=False),
        sa.Column("determined_fen", sa.BigInteger, nullable=False),
        sa.Column("coefficient", sa.Integer, nullable=False),
        sa.Column("adjusted_fen", sa.BigInteger, nullable=False),
        sa.Column("withheld_fen", sa.BigInteger, nullable=False),
        sa.Column("release_ratio", sa.Integer, nullable=False),
        sa.Column("released_fen", sa.BigInteger, nullable=False),
        sa.Column("forfeited_fen", sa.BigInteger, nullable=False),
        sa.Column("paid_fen", sa.BigInteger, nullable=False),
        sa.Column("balance_fen", sa.BigInteger, nullable=False),
        sa.Column("score_x100", sa.Integer, nullable=True),
        sa.Column("assess_run", sa.String(80), nullable=True),
        sa.Column("explanation", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fund_clearing")
    op.drop_table("fund_budget_month")
    op.drop_table("fund_budget_line")
    op.drop_table("fund_budget")
    op.drop_table("fund_projection")
    op.drop_index("ix_fund_alert_event_alert", table_name="fund_alert_event")
    op.drop_table("fund_alert_event")
    op.drop_index("ix_fund_alert_key", table_name="fund_alert")
    op.drop_table("fund_alert")
    op.drop_table("fund_reading")
    op.drop_table("fund_institution_year")
    op.drop_table("fund_members")
    op.drop_index("ix_fund_activity_month", table_name="fund_activity")
    op.drop_table("fund_activity")
    op.drop_index("ix_fund_entry_batch", table_name="fund_entry")
    op.drop_index("ix_fund_entry_fund_month", table_name="fund_entry")
    op.drop_table("fund_entry")
    op.drop_table("fund_batch")
