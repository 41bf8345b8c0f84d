"""Tables of the audit case workflow and of the ledger's deduction journal (SQLAlchemy Core).

Created by the Alembic migration ``0101`` on its own branch (``audit``) off the ledger's first revision;
its tables are registered on the shared :data:`yibao.db.metadata`.

* ``audit_case`` / ``audit_case_item`` — one case per institution and audit period, its suspect items
  and their appeal / decision / deduction; ``version`` is the number of logged events (optimistic lock).
* ``audit_case_event`` — the append-only, hash-chained case log (who, when, what, state before / after).
* ``audit_appeal_evidence`` — files an institution uploads with its appeal (申诉材料), per case and item,
  with their sha256 (migration ``1510``).
(The deductions a decided case posts — ``ledger_deduction`` and its items — are the ledger's tables,
:mod:`yibao.ledger.schema`; the audit migration ``0101`` created them first.)

Timestamps are ISO-8601 text (they enter hashes); money is BIGINT fen.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from yibao.db import metadata

audit_case = Table(
    "audit_case",
    metadata,
    Column("case_id", String(80), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("period", String(20), nullable=False),
    Column("state", String(12), nullable=False),
    Column("opened_at", String(40), nullable=False),
    Column("notified_at", String(40), nullable=True),
    Column("deadline", String(10), nullable=True),  # ISO date: last local day an appeal is accepted
    Column("decided_at", String(40), nullable=True),
    Column("deduction_id", String(100), nullable=True),
    Column("flagged_fen", BigInteger, nullable=False),
    Column("upheld_fen", BigInteger, nullable=False),
    Column("deducted_fen", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("event_hash", String(64), nullable=False),
    Index("ix_audit_case_inst", "fixmedins_code", "period"),
    Index("ix_audit_case_state", "state"),
)

audit_case_item = Table(
    "audit_case_item",
    metadata,
    Column("case_id", String(80), primary_key=True),
    Column("item_no", Integer, primary_key=True),
    Column("flag_ids", Text, nullable=False),  # JSON list
    Column("rule_codes", Text, nullable=False),  # JSON list
    Column("psn_id", BigInteger, nullable=False),
    Column("visit_id", BigInteger, nullable=False),
    Column("feedetl_sn", Integer, nullable=True),  # null: the whole visit
    Column("amount_fen", BigInteger, nullable=False),
    Column("reason_zh", Text, nullable=False),
    Column("reason_en", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("appeal_at", String(40), nullable=True),
    Column("appeal_reason", Text, nullable=True),
    Column("decision", String(12), nullable=True),
    Column("decided_fen", BigInteger, nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("deducted_fen", BigInteger, nullable=True),
)

audit_case_event = Table(
    "audit_case_event",
    metadata,
    Column("case_id", String(80), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("event", String(16), nullable=False),
    Column("state_before", String(12), nullable=False),
    Column("state_after", String(12), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: what changed, per item before / after
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_appeal_evidence = Table(
    "audit_appeal_evidence",
    metadata,
    Column("evidence_id", String(32), primary_key=True),
    Column("case_id", String(80), nullable=False),
    Column("item_no", Integer, nullable=True),  # null: for the case as a whole
    Column("filename", String(200), nullable=False),
    Column("content_type", String(80), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("uploaded_at", String(40), nullable=False),
    Column("uploaded_by", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Index("ix_audit_appeal_evidence_case", "case_id", "item_no"),
)
