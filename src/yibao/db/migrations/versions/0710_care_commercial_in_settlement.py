"""Commercial cover inside the settlement (医保+商保一单制): what a commercial product paid of the personal
burden, and which product, on the settlement row and each line's share on the line row; the personal
account's part on the care bill (the account now pays after the commercial product); on a care claim the
settlement it was paid in and its status (void when that settlement was cancelled).

Revision ID: 0710
Revises: 0702
Create Date: 2026-12-07

The engine pays the product after every public layer and before the personal account, so the amount belongs
to the settlement itself (its journal carries a ``commercial`` row in the patient's chain).  Rows stored
before keep 0 / NULL.  Depends on 0002, which gave ``settlement_line`` its allocation columns.

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0710"
down_revision = "0702"
branch_labels = None
depends_on = ("0002",)


def upgrade() -> None:
    with op.batch_alter_table("settlement") as batch:
        batch.add_column(sa.Column("commercial_pay", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("commercial_product", sa.String(40), nullable=True))
    with op.batch_alter_table("settlement_line") as batch:
        batch.add_column(sa.Column("commercial_pay", sa.BigInteger, nullable=True))
    with op.batch_alter_table("care_bill") as batch:
        batch.add_column(sa.Column("acct_pay", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("care_claim") as batch:
        batch.add_column(sa.Column("setl_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("status", sa.String(10), nullable=False, server_default="claimed"))


def downgrade() -> None:
    with op.batch_alter_table("care_claim") as batch:
        batch.drop_column("status")
        batch.drop_column("setl_id")
    with op.batch_alter_table("care_bill") as batch:
        batch.drop_column("acct_pay")
    with op.batch_alter_table("settlement_line") as batch:
        batch.drop_column("commercial_pay")
    with op.batch_alter_table("settlement") as batch:
        batch.drop_column("commercial_product")
        batch.drop_column("commercial_pay")
