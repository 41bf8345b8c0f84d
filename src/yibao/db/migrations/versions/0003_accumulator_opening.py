"""Opening accumulators: a person-year's counters at the start of the period.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

A region that starts mid-year, or the rest of a year re-settled, states each person's accumulators as
they were at the start (deductible met, cap used, admissions).  The accumulator row starts from them,
and verification expects opening + the active settlements' deltas.

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accumulator_opening",
        sa.Column("psn_no", sa.String(40), sa.ForeignKey("person.psn_no"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("counters", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accumulator_opening")
