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

settlement = Table(
    "settlement",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("setl_id", String(40), nullable=False, unique=True),
    Column("msgid", String(64), nullable=False),
    Column("psn_no", String(40), ForeignKey("person.psn_no"), nullable=False),
    Column("mdtrt_id", String(64), nullable=False),
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
    Index("ix_settlement_psn_year", "psn_no", "year", "id"),
    Index("ix_settlement_account", "account_psn_no", "id"),
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
)

journal = Table(
    "journal",
    metadata,
    Column("chain", String(40), primary_key=True),  # person.psn_no; no FK (verify() checks it)
    Column("seq", BigInteger, primary_key=True),
    Column("setl_id", String(40), nullable=False),
    Column("msgid", String(64), nullable=False),  # the transaction (2207/2208/2601) that wrote the row
    Column("kind", String(8), nullable=False),  # fund / acct / cash
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
)
