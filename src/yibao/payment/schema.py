"""Stored payment results (SQLAlchemy Core; Alembic branch ``payment``, revision 0401).

* ``payment_run`` — one row per DRG or DIP payment of a year: the pool, the point values (exact
  fractions as ``numerator/denominator`` text, fen per 1/10000 point) and when it was computed.
* ``payment_clearing`` — the run's annual clearing (清算) per institution: cases, CMI (1/10000, DRG),
  points (1/10000 point), actual cost, amount due, monthly pre-settlement paid and withheld, balance, 盈亏.

Money is BIGINT fen.  A run is written in one transaction (all rows or none)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from yibao.db import metadata

payment_run = Table(
    "payment_run",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("year", Integer, nullable=False),
    Column("policy", String(200), nullable=False),
    Column("pool_fen", BigInteger, nullable=False),
    Column("budget_point_value", String(80), nullable=False),
    Column("settlement_point_value", String(80), nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("created", String(40), nullable=False),
)

payment_clearing = Table(
    "payment_clearing",
    metadata,
    Column("run_id", String(40), ForeignKey("payment_run.run_id"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("hosp_lv", String(8), nullable=False),
    Column("cases", BigInteger, nullable=False),
    Column("cmi", Integer),
    Column("points_pu", BigInteger, nullable=False),
    Column("cost_fen", BigInteger, nullable=False),
    Column("due_fen", BigInteger, nullable=False),
    Column("pre_paid_fen", BigInteger, nullable=False),
    Column("withheld_fen", BigInteger, nullable=False),
    Column("balance_fen", BigInteger, nullable=False),
    Column("profit_fen", BigInteger, nullable=False),
)
Index("ix_payment_run_year", payment_run.c.year, payment_run.c.method)
