"""The settling institution on the settlement row, and each line's allocation to its payers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

``settlement.fixmedins_code`` was only inside the stored visit JSON; it is copied out so that an
institution's settlements and its 3201 totals are an indexed query.  ``settlement_line`` gains what
each payer paid for the line (deductible share, funds as JSON, account, cash): the one per-line
answer the explanation, a deduction's cap, FHIR adjudication and the portal read.  Rows stored before
this revision keep NULL there and are read as allocated by the same rule.

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("settlement") as batch:
        batch.add_column(sa.Column("fixmedins_code", sa.String(30), nullable=False, server_default=""))
        batch.create_index("ix_settlement_institution", ["fixmedins_code", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE settlement SET fixmedins_code = COALESCE(visit::json->>'fixmedins_code', '')")
    else:
        op.execute(
            "UPDATE settlement SET fixmedins_code = COALESCE(json_extract(visit, '$.fixmedins_code'), '')"
        )
    with op.batch_alter_table("settlement_line") as batch:
        batch.add_column(sa.Column("act_pay_dedc", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("fund_pay", sa.Text, nullable=True))
        batch.add_column(sa.Column("acct_pay", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("psn_cash_pay", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("settlement_line") as batch:
        for c in ("psn_cash_pay", "acct_pay", "fund_pay", "act_pay_dedc"):
            batch.drop_column(c)
    with op.batch_alter_table("settlement") as batch:
        batch.drop_index("ix_settlement_institution")
        batch.drop_column("fixmedins_code")
