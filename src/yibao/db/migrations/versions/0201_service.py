"""Service tables: app_user, app_session, access_log (yibao.access.schema).

Revision ID: 0201
Revises: 0001
Create Date: 2026-11-23

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0001"
branch_labels = ("service",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("psn_no", sa.String(40)),
        sa.Column("family_psn_nos", sa.Text, nullable=False, server_default="[]"),
        sa.Column("fixmedins_code", sa.String(30)),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "app_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("expires", sa.String(40), nullable=False),
    )
    op.create_index("ix_app_session_user", "app_session", ["user_id"])
    op.create_table(
        "access_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
    )
    op.create_index("ix_access_log_psn", "access_log", ["psn_no", "id"])


def downgrade() -> None:
    op.drop_table("access_log")
    op.drop_index("ix_app_session_user", "app_session")
    op.drop_table("app_session")
    op.drop_table("app_user")
