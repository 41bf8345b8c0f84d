"""The cross-region tables (SQLAlchemy Core), created by migration ``1301`` on the ``crossregion`` branch.

* ``xr_filing`` — 异地就医备案: one row per filing, with its status (active / cancelled / changed).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from yibao.db import metadata

xr_filing = Table(
    "xr_filing",
    metadata,
    Column("filing_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("insu_admdvs", String(6), nullable=False),
    Column("care_admdvs", String(6), nullable=False),
    Column("type_code", String(4), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("begin", String(10), nullable=False),
    Column("end", String(10)),
    Column("filed_on", String(10), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("fixmedins_code", String(30), nullable=False, server_default=""),
    Column("status", String(12), nullable=False),
    Column("replaces", String(40), nullable=False, server_default=""),
    Column("closed_on", String(10)),
)
Index("ix_xr_filing_psn", xr_filing.c.psn_no)

# ---------------------------------------------------------------- migration 1302
# * ``xr_outbound`` — the care region's record of each visitor's settlement sent to an insured region, and
#   whether it stands (settled), is being undone (reversing) or was undone (reversed / refused).
# * ``xr_inbound`` — the insured region's record of each visit settled for a care region (settling →
#   settled / reversed); a reversal that arrives first leaves a tombstone so a late settle is refused.
# * ``xr_route`` — the hub's log of every routed settlement and its outcome (the clearing's source).
xr_outbound = Table(
    "xr_outbound",
    metadata,
    Column("msgid", String(64), primary_key=True),
    Column("insu_admdvs", String(6), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("mdtrt_id", String(40), nullable=False),
    Column("status", String(12), nullable=False),
    Column("setl_id", String(40), nullable=False, server_default=""),
    Column("medfee_sumamt", BigInteger, nullable=False, server_default="0"),
    Column("fund_pay_sumamt", BigInteger, nullable=False, server_default="0"),
    Column("acct_pay", BigInteger, nullable=False, server_default="0"),
    Column("psn_cash_pay", BigInteger, nullable=False, server_default="0"),
    Column("output", Text, nullable=False, server_default=""),
    Column("setl_date", String(10), nullable=False),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)
Index("ix_xr_outbound_status", xr_outbound.c.status)

xr_inbound = Table(
    "xr_inbound",
    metadata,
    Column("msgid", String(64), primary_key=True),
    Column("care_admdvs", String(6), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("status", String(12), nullable=False),
    Column("setl_id", String(40), nullable=False, server_default=""),
    Column("medfee_sumamt", BigInteger, nullable=False, server_default="0"),
    Column("fund_pay_sumamt", BigInteger, nullable=False, server_default="0"),
    Column("acct_pay", BigInteger, nullable=False, server_default="0"),
    Column("setl_date", String(10), nullable=False, server_default=""),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)

xr_route = Table(
    "xr_route",
    metadata,
    Column("msgid", String(64), primary_key=True),
    Column("care_admdvs", String(6), nullable=False),
    Column("insu_admdvs", String(6), nullable=False),
    Column("status", String(12), nullable=False),
    Column("setl_id", String(40), nullable=False, server_default=""),
    Column("medfee_sumamt", BigInteger, nullable=False, server_default="0"),
    Column("fund_pay_sumamt", BigInteger, nullable=False, server_default="0"),
    Column("acct_pay", BigInteger, nullable=False, server_default="0"),
    Column("setl_date", String(10), nullable=False, server_default=""),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)
Index("ix_xr_route_pair", xr_route.c.care_admdvs, xr_route.c.insu_admdvs, xr_route.c.setl_date)

# ---------------------------------------------------------------- migration 1303 (the hub's clearing)
# * ``xr_dispute`` — a settlement the insured region disputes (疑点), carried until accepted or rejected.
# * ``xr_clearing`` — one row per region and cleared month: position, prepayment before / after, top-up.
xr_dispute = Table(
    "xr_dispute",
    metadata,
    Column("msgid", String(64), primary_key=True),
    Column("raised", String(7), nullable=False),
    Column("state", String(10), nullable=False),
    Column("resolved", String(7), nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
)

xr_clearing = Table(
    "xr_clearing",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("region", String(6), primary_key=True),
    Column("receivable", BigInteger, nullable=False),
    Column("payable", BigInteger, nullable=False),
    Column("net", BigInteger, nullable=False),
    Column("opening", BigInteger, nullable=False),
    Column("after_clearing", BigInteger, nullable=False),
    Column("target", BigInteger, nullable=False),
    Column("top_up", BigInteger, nullable=False),
    Column("closed", String(40), nullable=False),
)

# ---------------------------------------------------------------- migration 1304 (a region's break handling)
# * ``xr_break_action`` — every action a clearing clerk took on a reconciliation break (对账差异处理): which
#   break, what was done, why, by whom and when, and how it ended (done / refused, with the note).
xr_break_action = Table(
    "xr_break_action",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("msgid", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("at", String(40), nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
)
Index("ix_xr_break_action_msgid", xr_break_action.c.msgid, xr_break_action.c.side)
