"""Cross-region filing table (yibao.crossregion.schema): xr_filing.

Revision ID: 1301
Revises: 0001
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1301"
down_revision = "0001"
branch_labels = ("crossregion",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xr_filing",
        sa.Column("filing_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("insu_admdvs", sa.String(6), nullable=False),
        sa.Column("care_admdvs", sa.String(6), nullable=False),
        sa.Column("type_code", sa.String(4), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("begin", sa.String(10), nullable=False),
        sa.Column("end", sa.String(10)),
        sa.Column("filed_on", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("fixmedins_code", sa.String(30), nullable=False, server_default=""),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("replaces", sa.String(40), nullable=False, server_default=""),
        sa.Column("closed_on", sa.String(10)),
    )
    op.create_index("ix_xr_filing_psn", "xr_filing", ["psn_no"])


def downgrade() -> None:
    op.drop_index("ix_xr_filing_psn", table_name="xr_filing")
    op.drop_table("xr_filing")
