"""Portal tables: portal_case, portal_case_event, portal_rating (yibao.feedback.schema).

Revision ID: 0301
Revises: 0001
Create Date: 2026-11-23

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0301"
down_revision = "0001"
branch_labels = ("portal",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_case",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("filed_by", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False, server_default=""),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("opened_on", sa.String(10), nullable=False),
        sa.Column("sla_days", sa.Integer, nullable=False),
        sa.Column("due_on", sa.String(10), nullable=False),
        sa.Column("decided_on", sa.String(10)),
    )
    op.create_index("ix_portal_case_psn", "portal_case", ["psn_no", "created"])
    op.create_index("ix_portal_case_status", "portal_case", ["status", "due_on"])
    op.create_table(
        "portal_case_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(40), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_portal_case_event_case", "portal_case_event", ["case_id", "id"])
    op.create_table(
        "portal_rating",
        sa.Column("setl_id", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("stars", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("portal_rating")
    op.drop_index("ix_portal_case_event_case", "portal_case_event")
    op.drop_table("portal_case_event")
    op.drop_index("ix_portal_case_status", "portal_case")
    op.drop_index("ix_portal_case_psn", "portal_case")
    op.drop_table("portal_case")
