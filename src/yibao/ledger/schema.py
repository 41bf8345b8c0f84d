"""The ledger schema (SQLAlchemy Core).  Alembic migrations create it; the hot path uses raw DBAPI.

Tables:

* ``person`` — the insured person, the personal account balance (fen) and the head of the person's
  journal chain (``chain_seq``, ``chain_hash``).  The row is the lock every money movement takes.
* ``accumulator`` — one row per (person, year) with all counters as a JSON object (counter → fen or
  count), only ever written under the person lock; ``version`` is the person's ``version`` when the row
  was written, which lets the locking read tell a fresh row from one read before the lock was granted.
* ``settlement`` / ``settlement_line`` — the stored 2207 result and its lines.
* ``journal`` — append-only, hash-chained money movements, one chain per person.
* ``message`` — every msgid the ledger has acted on (2207 / 2208 / 2601), for idempotency.

Dates and timestamps that enter a hash are ISO-8601 text so that the hash is the same on every
database; money is BIGINT fen.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from yibao.db import metadata
from yibao.ledger.journal import GENESIS
from yibao.settlement.model import MONEY_FIELDS

person = Table(
    "person",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("certno", String(50), nullable=False),
    Column("gender", String(2), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("psn_type", String(6), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False, server_default=""),
    Column("identities", Text, nullable=False, server_default="[]"),  # JSON [[code, begin, end|null]]
    Column("family", Text, nullable=False, server_default="[]"),  # JSON [psn_no]
    Column("account_balance", BigInteger, nullable=False, server_default="0"),
    Column("chain_seq", BigInteger, nullable=False, server_default="0"),
    Column("chain_hash", String(64), nullable=False, server_default=GENESIS),
    Column("version", BigInteger, nullable=False, server_default="0"),  # +1 on every money transaction
)

accumulator = Table(
    "accumulator",
    metadata,
    Column("psn_no", String(40), ForeignKey("person.psn_no"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("counters", Text, nullable=False),  # JSON {counter: int}
    Column("version", BigInteger, nullable=False, server_default="0"),  # person.version when last written
)

accumulator_opening = Table(  # accumulators at the start of the period, stated before any settlement
    "accumulator_opening",
    metadata,
    Column("psn_no", String(40), ForeignKey("person.psn_no"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("counters", Text, nullable=False),  # JSON {counter: int}
    Column("source", Text, nullable=False),  # where the figures come from (the previous system, a file)
)

settlement = Table(
    "settlement",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("setl_id", String(40), nullable=False, unique=True),
    Column("msgid", String(64), nullable=False),
    Column("psn_no", String(40), ForeignKey("person.psn_no"), nullable=False),
    Column("mdtrt_id", String(64), nullable=False),
    Column("fixmedins_code", String(30), nullable=False, server_default=""),  # the settling institution
    Column("year", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # active / cancelled
    Column("created", String(40), nullable=False),
    Column("cancel_msgid", String(64), nullable=True),
    Column("policy_version", String(40), nullable=False),
    Column("admdvs", String(6), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("psn_type", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("account_psn_no", String(40), nullable=True),
    Column("pool_prop_selfpay", Integer, nullable=False),
    *[Column(f, BigInteger, nullable=False) for f in MONEY_FIELDS],
    Column("deltas", Text, nullable=False),
    Column("setldetail", Text, nullable=False),
    Column("steps", Text, nullable=False),
    Column("visit", Text, nullable=False),
    # what a commercial product paid of the personal burden in the same settlement (医保+商保一单制) and which
    # product; migration 0710 (0 and NULL on rows stored before)
    Column("commercial_pay", BigInteger, nullable=False, server_default="0"),
    Column("commercial_product", String(40), nullable=True),
    Index("ix_settlement_psn_year", "psn_no", "year", "id"),
    Index("ix_settlement_account", "account_psn_no", "id"),
    Index("ix_settlement_institution", "fixmedins_code", "id"),
)

settlement_line = Table(
    "settlement_line",
    metadata,
    Column("setl_id", String(40), primary_key=True),  # no FK: checked by verify(), kept off the hot path
    Column("line_no", Integer, primary_key=True),
    Column("feedetl_sn", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fulamt_ownpay_amt", BigInteger, nullable=False),
    Column("overlmt_selfpay", BigInteger, nullable=False),
    Column("preselfpay_amt", BigInteger, nullable=False),
    Column("inscp_scp_amt", BigInteger, nullable=False),
    # what each payer paid for the line (yibao.settlement.allocation), stored with the settlement so the
    # explanation, a deduction's cap, FHIR adjudication and the portal read one answer; NULL on rows
    # stored before migration 0002 (read as allocated by the same rule)
    Column("act_pay_dedc", BigInteger, nullable=True),
    Column("fund_pay", Text, nullable=True),  # JSON {fund_pay_type: fen}
    Column("acct_pay", BigInteger, nullable=True),
    Column("psn_cash_pay", BigInteger, nullable=True),
    Column("commercial_pay", BigInteger, nullable=True),  # the line's commercial share (0710; NULL before)
)

journal = Table(
    "journal",
    metadata,
    Column("chain", String(40), primary_key=True),  # person.psn_no; no FK (verify() checks it)
    Column("seq", BigInteger, primary_key=True),
    Column("setl_id", String(40), nullable=False),
    Column("msgid", String(64), nullable=False),  # the transaction (2207/2208/2601) that wrote the row
    Column(
        "kind", String(8), nullable=False
    ),  # fund / acct / cash / insurer (commercial cover) / open / digest
    Column("item", String(40), nullable=False),  # fund_pay_type, or the paying account's psn_no
    Column("field", String(24), nullable=False),  # the settlement money field the row adds to
    Column("amount", BigInteger, nullable=False),  # signed fen
    Column("created", String(40), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_journal_setl", "setl_id"),
)

message = Table(
    "message",
    metadata,
    Column("msgid", String(64), primary_key=True),
    Column("infno", String(6), nullable=False),  # 2207 / 2208 / 2601
    Column("setl_id", String(40), nullable=False),
    Column("action", String(10), nullable=False),  # settle / cancel / restore
    Column("omsgid", String(64), nullable=True),
    Column("acct_change", BigInteger, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False),  # the settlement's status right after this message
    Column("created", String(40), nullable=False),
    # SHA-256 of the canonical request (migration 0010): a msgid used again with any difference is refused
    Column("fingerprint", String(64), nullable=True),
)

# Deductions (扣款): fund money recovered from an institution after an audit decision, one hash chain per
# institution whose head is kept in ``ledger_inst_chain`` (yibao.ledger.deduction; created by migration 0101).
ledger_deduction = Table(
    "ledger_deduction",
    metadata,
    Column("deduction_id", String(100), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("seq", BigInteger, nullable=False),  # position in the institution's chain (1, 2, 3 …)
    Column("reference", String(100), nullable=False),  # e.g. the audit case id
    Column("amount", BigInteger, nullable=False),  # fen recovered (> 0)
    Column("memo", Text, nullable=False),
    Column("created", String(40), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ux_ledger_deduction_chain", "fixmedins_code", "seq", unique=True),
)

ledger_deduction_item = Table(
    "ledger_deduction_item",
    metadata,
    Column("deduction_id", String(100), primary_key=True),
    Column("item_no", Integer, primary_key=True),
    Column("setl_id", String(40), nullable=False),
    Column("feedetl_sn", String(64), nullable=False),  # '' = the settlement as a whole
    Column("amount", BigInteger, nullable=False),
    Index("ix_ledger_deduction_item_setl", "setl_id"),
)

ledger_inst_chain = Table(
    "ledger_inst_chain",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("chain_seq", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
)
