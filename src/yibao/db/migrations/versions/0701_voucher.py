"""Voucher tables: voucher_key, voucher_issued, voucher_nonce, voucher_revocation (yibao.voucher.schema).

Revision ID: 0701
Revises: 0001
Create Date: 2026-12-01

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0701"
down_revision = "0001"
branch_labels = ("voucher",)
depends_on = None


def _big_id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "voucher_key",
        sa.Column("kid", sa.String(40), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("private_key", sa.String(64)),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("signing_until", sa.BigInteger),
        sa.Column("retired_at", sa.String(40)),
    )
    op.create_table(
        "voucher_issued",
        sa.Column("nonce", sa.String(32), primary_key=True),
        sa.Column("kid", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(40), nullable=False),
        sa.Column("issued_by", sa.String(40), nullable=False),
        sa.Column("issued_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_voucher_issued_psn", "voucher_issued", ["psn_no", "issued_at"])
    op.create_table(
        "voucher_nonce",
        sa.Column("nonce", sa.String(32), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_voucher_nonce_expires", "voucher_nonce", ["expires_at"])
    op.create_table(
        "voucher_revocation",
        sa.Column("id", _big_id(), primary_key=True, autoincrement=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("nonce", sa.String(32)),
        sa.Column("before_at", sa.BigInteger),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("by_user", sa.String(40), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_voucher_revocation_at", "voucher_revocation", ["at"])


def downgrade() -> None:
    op.drop_index("ix_voucher_revocation_at", "voucher_revocation")
    op.drop_table("voucher_revocation")
    op.drop_index("ix_voucher_nonce_expires", "voucher_nonce")
    op.drop_table("voucher_nonce")
    op.drop_index("ix_voucher_issued_psn", "voucher_issued")
    op.drop_table("voucher_issued")
    op.drop_table("voucher_key")
