"""Login hardening: forced password change, when a password was last changed, and ``app_meta`` (marks a
demonstration database) (yibao.access.schema).

Revision ID: 0210
Revises: 0201
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0210"
down_revision = "0201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as b:
        b.add_column(sa.Column("must_change_password", sa.Integer, nullable=False, server_default="0"))
        b.add_column(sa.Column("password_changed", sa.String(40)))
    op.create_table(
        "app_meta",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_meta")
    with op.batch_alter_table("app_user") as b:
        b.drop_column("password_changed")
        b.drop_column("must_change_password")
