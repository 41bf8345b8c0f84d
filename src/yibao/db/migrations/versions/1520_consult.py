"""Public consultations on draft policies (yibao.consult.schema): consult_consultation, consult_opinion,
consult_theme, consult_hearing and consult_event.

Revision ID: 1520
Revises: 1501
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1520"
down_revision = "1501"
branch_labels = None
depends_on = None


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "consult_consultation",
        sa.Column("consult_id", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("published_at", sa.String(40)),
        sa.Column("deadline", sa.String(40)),
        sa.Column("period_days", sa.Integer),
        sa.Column("short_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("impact", sa.Text),
        sa.Column("impact_note", sa.Text, nullable=False, server_default=""),
        sa.Column("result", sa.Text, nullable=False, server_default=""),
        sa.Column("closed_at", sa.String(40)),
        sa.Column("withdrawn_reason", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_consult_status", "consult_consultation", ["status", "published_at"])
    op.create_table(
        "consult_opinion",
        _id(),
        sa.Column("consult_id", sa.String(40), nullable=False),
        sa.Column("author_id", sa.String(40), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("author_zh", sa.String(200), nullable=False),
        sa.Column("author_en", sa.String(200), nullable=False),
        sa.Column("about", sa.String(200), nullable=False, server_default=""),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("hidden_reason", sa.Text),
        sa.Column("hidden_at", sa.String(40)),
        sa.Column("theme_id", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    )
    op.create_index("ix_consult_opinion_consult", "consult_opinion", ["consult_id", "id"])
    op.create_table(
        "consult_theme",
        _id(),
        sa.Column("consult_id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16)),
        sa.Column("response", sa.Text, nullable=False, server_default=""),
        sa.Column("answered_at", sa.String(40)),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_consult_theme_consult", "consult_theme", ["consult_id", "id"])
    op.create_table(
        "consult_hearing",
        _id(),
        sa.Column("consult_id", sa.String(40), nullable=False),
        sa.Column("held_on", sa.String(10), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("participants", sa.Text, nullable=False),
        sa.Column("observers", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_consult_hearing_consult", "consult_hearing", ["consult_id", "id"])
    op.create_table(
        "consult_event",
        _id(),
        sa.Column("consult_id", sa.String(40), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_consult_event_consult", "consult_event", ["consult_id", "id"])


def downgrade() -> None:
    for table, index in (
        ("consult_event", "ix_consult_event_consult"),
        ("consult_hearing", "ix_consult_hearing_consult"),
        ("consult_theme", "ix_consult_theme_consult"),
        ("consult_opinion", "ix_consult_opinion_consult"),
        ("consult_consultation", "ix_consult_status"),
    ):
        op.drop_index(index, table)
        op.drop_table(table)
