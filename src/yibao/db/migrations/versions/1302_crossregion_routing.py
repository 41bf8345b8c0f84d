"""Cross-region routing tables (yibao.crossregion.schema): xr_outbound (care region), xr_inbound (insured
region), xr_route (the clearing hub).

Revision ID: 1302
Revises: 1301
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1302"
down_revision = "1301"
branch_labels = None
depends_on = None


def _money() -> list[sa.Column[int]]:
    return [
        sa.Column("medfee_sumamt", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("fund_pay_sumamt", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("acct_pay", sa.BigInteger, nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    op.create_table(
        "xr_outbound",
        sa.Column("msgid", sa.String(64), primary_key=True),
        sa.Column("insu_admdvs", sa.String(6), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("mdtrt_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False, server_default=""),
        *_money(),
        sa.Column("psn_cash_pay", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("output", sa.Text, nullable=False, server_default=""),
        sa.Column("setl_date", sa.String(10), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
    )
    op.create_index("ix_xr_outbound_status", "xr_outbound", ["status"])
    op.create_table(
        "xr_inbound",
        sa.Column("msgid", sa.String(64), primary_key=True),
        sa.Column("care_admdvs", sa.String(6), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False, server_default=""),
        *_money(),
        sa.Column("setl_date", sa.String(10), nullable=False, server_default=""),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
    )
    op.create_table(
        "xr_route",
        sa.Column("msgid", sa.String(64), primary_key=True),
        sa.Column("care_admdvs", sa.String(6), nullable=False),
        sa.Column("insu_admdvs", sa.String(6), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False, server_default=""),
        *_money(),
        sa.Column("setl_date", sa.String(10), nullable=False, server_default=""),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
    )
    op.create_index("ix_xr_route_pair", "xr_route", ["care_admdvs", "insu_admdvs", "setl_date"])


def downgrade() -> None:
    op.drop_index("ix_xr_route_pair", table_name="xr_route")
    op.drop_table("xr_route")
    op.drop_table("xr_inbound")
    op.drop_index("ix_xr_outbound_status", table_name="xr_outbound")
    op.drop_table("xr_outbound")
