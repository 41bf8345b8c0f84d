"""The closed complaint loop (yibao.feedback.schema): portal_case.setl_id and portal_case.review_round, and the
notification table portal_notice.

Revision ID: 1501
Revises: 0301
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1501"
down_revision = "0301"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("portal_case", sa.Column("setl_id", sa.String(40)))
    op.add_column("portal_case", sa.Column("review_round", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "portal_notice",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("read_at", sa.String(40)),
    )
    op.create_index("ix_portal_notice_user", "portal_notice", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_portal_notice_user", "portal_notice")
    op.drop_table("portal_notice")
    with op.batch_alter_table("portal_case") as batch:
        batch.drop_column("review_round")
        batch.drop_column("setl_id")
