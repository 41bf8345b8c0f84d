"""message.fingerprint: SHA-256 of the canonical request stored with its msgid, so a msgid used again
with any difference is refused (yibao.ledger.schema).

Revision ID: 0010
Revises: 0003
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message") as b:
        b.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as b:
        b.drop_column("fingerprint")
