"""The family-doctor package fee settled through the ledger: the contract keeps the bill it was paid on.

Revision ID: 0711
Revises: 0710
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0711"
down_revision = "0710"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("care_contract") as batch:
        batch.add_column(sa.Column("bill_id", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("care_contract") as batch:
        batch.drop_column("bill_id")
