"""The fund capability's tables (SQLAlchemy Core; Alembic branch ``fund``, revision 0601).

* ``fund_batch`` / ``fund_entry`` — the fund accounts: every booked movement (opening balance, income by
  source, interest, transfers, payments) of one fund in one month, grouped in batches so a booking is all
  rows or none and never twice (the batch id is the idempotency key).  Balances are sums of entries.
* ``fund_activity`` / ``fund_members`` / ``fund_institution_year`` — booked with the payments: settled care
  per month (visits, cost, fund paid by scheme, visit type and locality), insured persons per year (and, from
  revision 0610, per month), and each
  institution's payments per fund and year — the warnings and the budget read these, so prior years
  restated outside the ledger count like the ledger's own.
* ``fund_reading`` — the early-warning indicators as last computed for each month.
* ``fund_alert`` / ``fund_alert_event`` — early-warning alerts and their lifecycle (raised → acknowledged →
  followed up → closed), every step with who, when and a note.
* ``fund_projection`` — stored projection runs (fan chart, band crossings, scenarios, backtest) as JSON.
* ``fund_budget`` / ``fund_budget_line`` / ``fund_budget_month`` / ``fund_clearing`` — the global budget
  (总额预算) of a year split by fund and institution, its monthly advances, and the annual clearing.

Money is BIGINT fen; ratios INTEGER 1/10000; months 'YYYY-MM' text; timestamps ISO text (UTC)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from yibao.db import metadata

fund_batch = Table(
    "fund_batch",
    metadata,
    Column("batch_id", String(80), primary_key=True),
    Column("kind", String(16), nullable=False),  # opening / income / interest / transfer / payments
    Column("period", String(10), nullable=False),  # 'YYYY' or 'YYYY-MM'
    Column("label", String(200), nullable=False),
    Column("source", Text, nullable=False),  # where the figures come from
    Column("entries", Integer, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("created", String(40), nullable=False),
    Column("created_by", String(100), nullable=False),
)

fund_entry = Table(
    "fund_entry",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("batch_id", String(80), ForeignKey("fund_batch.batch_id"), nullable=False),
    Column("month", String(7), nullable=False),
    Column("fund_pay_type", String(6), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(40), nullable=False),
    Column("counterpart", String(6), nullable=False, server_default=""),
    Column("amount_fen", BigInteger, nullable=False),
    Index("ix_fund_entry_fund_month", "fund_pay_type", "month"),
    Index("ix_fund_entry_batch", "batch_id"),
)

fund_activity = Table(
    "fund_activity",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("batch_id", String(80), ForeignKey("fund_batch.batch_id"), nullable=False),
    Column("month", String(7), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("locality", String(20), nullable=False),
    Column("visits", BigInteger, nullable=False),
    Column("medfee_fen", BigInteger, nullable=False),
    Column("fund_fen", BigInteger, nullable=False),
    Index("ix_fund_activity_month", "month"),
)

fund_members = Table(
    "fund_members",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("batch_id", String(80), ForeignKey("fund_batch.batch_id"), nullable=False),
    Column("in_service", BigInteger, nullable=False),
    Column("retired", BigInteger, nullable=False),
    Column("residents", BigInteger, nullable=False),
)

# ---------------------------------------------------------------- migration 0610
# * ``fund_members_month`` — insured persons at each month's end by contribution group (from enrolment's
#   relation history when the region keeps it, else the register), booked with the payments.
# * ``fund_cleared_outflow`` — this region's insured persons' care elsewhere as cleared with the other
#   regions (跨省异地就医清算), per month and scheme: the fund part cleared that month (``cleared_fen``) and
#   the fund part of the routed settlements this region's own ledger holds for that settlement month
#   (``routed_fen``), which the warning takes out so that nothing counts twice.
fund_members_month = Table(
    "fund_members_month",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("batch_id", String(80), ForeignKey("fund_batch.batch_id"), nullable=False),
    Column("in_service", BigInteger, nullable=False),
    Column("retired", BigInteger, nullable=False),
    Column("residents", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
)

fund_cleared_outflow = Table(
    "fund_cleared_outflow",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("insutype", String(6), primary_key=True),
    Column("cleared_fen", BigInteger, nullable=False),
    Column("cleared_lines", Integer, nullable=False),
    Column("routed_fen", BigInteger, nullable=False),
    Column("routed_lines", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("recorded", String(40), nullable=False),
    Column("recorded_by", String(100), nullable=False),
)

fund_institution_year = Table(
    "fund_institution_year",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("fund_pay_type", String(6), primary_key=True),
    Column("batch_id", String(80), ForeignKey("fund_batch.batch_id"), nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
    Column("inpatient_fen", BigInteger, nullable=False),
)

fund_reading = Table(
    "fund_reading",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("indicator", String(40), primary_key=True),
    Column("scope", String(20), primary_key=True),
    Column("value", BigInteger, nullable=True),
    Column("unit", String(12), nullable=False),
    Column("level", String(10), nullable=False),
    Column("threshold", BigInteger, nullable=True),
    Column("national", BigInteger, nullable=True),
    Column("source", Text, nullable=False),
    Column("note_zh", Text, nullable=False),
    Column("note_en", Text, nullable=False),
    Column("computed_at", String(40), nullable=False),
)

fund_alert = Table(
    "fund_alert",
    metadata,
    Column("alert_id", String(40), primary_key=True),
    Column("indicator", String(40), nullable=False),
    Column("scope", String(20), nullable=False),  # a fund code or a scheme code
    Column("first_month", String(7), nullable=False),
    Column("last_month", String(7), nullable=False),
    Column("level", String(8), nullable=False),  # red / amber
    Column("value", BigInteger, nullable=True),
    Column("unit", String(12), nullable=False),
    Column("threshold", BigInteger, nullable=True),
    Column("message_zh", Text, nullable=False),
    Column("message_en", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("raised_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("ix_fund_alert_key", "indicator", "scope", "status"),
)

fund_alert_event = Table(
    "fund_alert_event",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("alert_id", String(40), ForeignKey("fund_alert.alert_id"), nullable=False),
    Column("at", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Index("ix_fund_alert_event_alert", "alert_id", "id"),
)

fund_projection = Table(
    "fund_projection",
    metadata,
    Column("run_id", String(80), primary_key=True),
    Column("created", String(40), nullable=False),
    Column("label", String(200), nullable=False),
    Column("base_month", String(7), nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("paths", Integer, nullable=False),
    Column("result", Text, nullable=False),  # JSON (yibao.fund-projection-result/1)
)

fund_budget = Table(
    "fund_budget",
    metadata,
    Column("run_id", String(80), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("projection_run", String(80), nullable=True),
    Column("total_fen", BigInteger, nullable=False),  # projected payments of the budgeted funds
    Column("reserve_fen", BigInteger, nullable=False),  # 调剂金
    Column("region_budget_fen", BigInteger, nullable=False),  # = Σ institution budgets
    Column("basis", Text, nullable=False),  # JSON: rules and sources used
)

fund_budget_line = Table(
    "fund_budget_line",
    metadata,
    Column("run_id", String(80), ForeignKey("fund_budget.run_id"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("fund_pay_type", String(6), primary_key=True),
    Column("history_fen", BigInteger, nullable=False),
    Column("growth", Integer, nullable=False),  # the institution's growth as counted (capped), 1/10000
    Column("weight", BigInteger, nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("drg_dip_fen", BigInteger, nullable=False),
    Column("other_fen", BigInteger, nullable=False),
)

fund_budget_month = Table(
    "fund_budget_month",
    metadata,
    Column("run_id", String(80), ForeignKey("fund_budget.run_id"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("advance_fen", BigInteger, nullable=False),
    Column("withheld_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
)

fund_clearing = Table(
    "fund_clearing",
    metadata,
    Column("run_id", String(80), ForeignKey("fund_budget.run_id"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("budget_fen", BigInteger, nullable=False),
    Column("actual_fen", BigInteger, nullable=False),
    Column("determined_fen", BigInteger, nullable=False),
    Column("coefficient", Integer, nullable=False),
    Column("adjusted_fen", BigInteger, nullable=False),
    Column("withheld_fen", BigInteger, nullable=False),
    Column("release_ratio", Integer, nullable=False),
    Column("released_fen", BigInteger, nullable=False),
    Column("forfeited_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
    Column("balance_fen", BigInteger, nullable=False),
    Column("score_x100", Integer, nullable=True),
    Column("assess_run", String(80), nullable=True),
    Column("explanation", Text, nullable=False),  # JSON list of Chinese / English lines
)
