"""Assessment tables: assess_run, assess_score, assess_survey, assess_appeal, assess_appeal_event
(yibao.assess.schema).

Revision ID: 0602
Revises: 0001
Create Date: 2026-12-01

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0602"
down_revision = "0001"
branch_labels = ("assess",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assess_run",
        sa.Column("run_id", sa.String(80), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("notified_on", sa.String(10), nullable=False),
        sa.Column("institutions", sa.Integer, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
    )
    op.create_table(
        "assess_score",
        sa.Column("run_id", sa.String(80), sa.ForeignKey("assess_run.run_id"), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("score_x100", sa.Integer, nullable=False),
        sa.Column("release_ratio", sa.Integer, nullable=False),
        sa.Column("coefficient", sa.Integer, nullable=False),
        sa.Column("satisfaction", sa.Integer, nullable=True),
        sa.Column("values", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "assess_survey",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("surveyor", sa.String(100), primary_key=True),
        sa.Column("respondents", sa.Integer, nullable=False),
        sa.Column("satisfied", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
        sa.Column("file", sa.String(300), nullable=False),
    )
    op.create_table(
        "assess_appeal",
        sa.Column("appeal_id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("indicator", sa.String(60), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_on", sa.String(10), nullable=False),
        sa.Column("filed_by", sa.String(100), nullable=False),
        sa.Column("decide_by", sa.String(10), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("revised_value", sa.BigInteger, nullable=True),
        sa.Column("score_before", sa.Integer, nullable=False),
        sa.Column("score_after", sa.Integer, nullable=True),
    )
    op.create_index("ix_assess_appeal_inst", "assess_appeal", ["run_id", "fixmedins_code"])
    op.create_table(
        "assess_appeal_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("appeal_id", sa.String(40), sa.ForeignKey("assess_appeal.appeal_id"), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_assess_appeal_event_appeal", "assess_appeal_event", ["appeal_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_assess_appeal_event_appeal", table_name="assess_appeal_event")
    op.drop_table("assess_appeal_event")
    op.drop_index("ix_assess_appeal_inst", table_name="assess_appeal")
    op.drop_table("assess_appeal")
    op.drop_table("assess_survey")
    op.drop_table("assess_score")
    op.drop_table("assess_run")
