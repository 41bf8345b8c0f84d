"""亲情账户 and 家庭共济 links made with consent (yibao.access.schema): family_link and family_event.

Revision ID: 1530
Revises: 1501
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1530"
down_revision = "1501"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "family_link",
        sa.Column("link_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requester_user_id", sa.String(40), nullable=False),
        sa.Column("requester_psn_no", sa.String(40), nullable=False),
        sa.Column("relative_user_id", sa.String(40), nullable=False),
        sa.Column("relative_psn_no", sa.String(40), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("decided_at", sa.String(40)),
        sa.Column("ended_at", sa.String(40)),
    )
    op.create_index("ix_family_link_requester", "family_link", ["requester_user_id"])
    op.create_index("ix_family_link_relative", "family_link", ["relative_user_id"])
    op.create_table(
        "family_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("link_id", sa.String(40), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("by_user_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("notify_user_id", sa.String(40), nullable=False),
        sa.Column("read_at", sa.String(40)),
    )
    op.create_index("ix_family_event_link", "family_event", ["link_id", "id"])
    op.create_index("ix_family_event_notify", "family_event", ["notify_user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_family_event_notify", "family_event")
    op.drop_index("ix_family_event_link", "family_event")
    op.drop_table("family_event")
    op.drop_index("ix_family_link_relative", "family_link")
    op.drop_index("ix_family_link_requester", "family_link")
    op.drop_table("family_link")
