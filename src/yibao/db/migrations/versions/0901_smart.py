"""App authorisation tables: smart_app, smart_grant, smart_code, smart_token, smart_pending
(yibao.smart.schema).

Revision ID: 0901
Revises: 0001
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0901"
down_revision = "0001"
branch_labels = ("smart",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_app",
        sa.Column("client_id", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("public", sa.Integer, nullable=False),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "smart_grant",
        sa.Column("grant_id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(80), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("revoked", sa.String(40)),
    )
    op.create_index("ix_smart_grant_user", "smart_grant", ["user_id", "created"])
    op.create_table(
        "smart_code",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(80), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("challenge", sa.String(128), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("expires", sa.String(40), nullable=False),
        sa.Column("used", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "smart_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(40), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("expires", sa.String(40), nullable=False),
        sa.Column("revoked", sa.String(40)),
    )
    op.create_index("ix_smart_token_grant", "smart_token", ["grant_id"])
    op.create_table(
        "smart_pending",
        sa.Column("pending_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("expires", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for t in ("smart_pending", "smart_token", "smart_code", "smart_grant", "smart_app"):
        op.drop_table(t)
