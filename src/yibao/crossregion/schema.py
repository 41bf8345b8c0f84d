"""The cross-region tables (SQLAlchemy Core), created by migration ``1301`` on the ``crossregion`` branch.

* ``xr_filing`` — 异地就医备案: one row per filing, with its status (active / cancelled / changed).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

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
