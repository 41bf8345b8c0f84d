"""Enrolment: persons (with their current relation), relation events, employers, households, contributions,
resident premiums, collection periods, import batches (yibao.enrolment.schema).

Revision ID: 0501
Revises: 0001
Create Date: 2026-12-01

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0501"
down_revision = "0001"
branch_labels = ("enrolment",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrol_person",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("certno", sa.String(18), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("district", sa.String(50), nullable=False, server_default=""),
        sa.Column("household_no", sa.String(40), nullable=False, server_default=""),
        sa.Column("identities", sa.Text, nullable=False, server_default="[]"),
        sa.Column("rel_state", sa.String(16), nullable=False, server_default=""),
        sa.Column("rel_insutype", sa.String(6), nullable=False, server_default=""),
        sa.Column("rel_psn_type", sa.String(6), nullable=False, server_default=""),
        sa.Column("rel_emp_no", sa.String(40), nullable=False, server_default=""),
        sa.Column("rel_since", sa.Date, nullable=True),
        sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("batch_id", sa.String(40), nullable=False, server_default=""),
    )
    op.create_table(
        "enrol_event",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False, server_default=""),
        sa.Column("psn_type", sa.String(6), nullable=False, server_default=""),
        sa.Column("emp_no", sa.String(40), nullable=False, server_default=""),
        sa.Column("household_no", sa.String(40), nullable=False, server_default=""),
        sa.Column("other_admdvs", sa.String(6), nullable=False, server_default=""),
        sa.Column("months_carried", sa.Integer, nullable=False, server_default="0"),
        sa.Column("years_carried", sa.Integer, nullable=False, server_default="0"),
        sa.Column("insured_until", sa.Date, nullable=True),
        sa.Column("reason", sa.String(100), nullable=False, server_default=""),
        sa.Column("batch_id", sa.String(40), nullable=False, server_default=""),
    )
    op.create_table(
        "enrol_employer",
        sa.Column("emp_no", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("district", sa.String(50), nullable=False, server_default=""),
    )
    op.create_table(
        "enrol_household",
        sa.Column("household_no", sa.String(40), primary_key=True),
        sa.Column("district", sa.String(50), nullable=False, server_default=""),
    )
    op.create_table(
        "enrol_household_member",
        sa.Column("household_no", sa.String(40), primary_key=True),
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("relation", sa.String(16), nullable=False),
    )
    op.create_table(
        "enrol_employee_contribution",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("emp_no", sa.String(40), nullable=False),
        sa.Column("base_fen", sa.BigInteger, nullable=False),
        sa.Column("employer_fen", sa.BigInteger, nullable=False),
        sa.Column("individual_fen", sa.BigInteger, nullable=False),
        sa.Column("account_fen", sa.BigInteger, nullable=False),
        sa.Column("months", sa.Integer, nullable=False, server_default="1"),
        sa.Column("paid_on", sa.Date, nullable=True),
        sa.Column("batch_id", sa.String(40), nullable=False, server_default=""),
    )
    op.create_index("ix_enrol_contribution_emp", "enrol_employee_contribution", ["emp_no", "month"])
    op.create_table(
        "enrol_resident_premium",
        sa.Column("psn_no", sa.String(40), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("individual_fen", sa.BigInteger, nullable=False),
        sa.Column("assistance_fen", sa.BigInteger, nullable=False),
        sa.Column("subsidy_fen", sa.BigInteger, nullable=False),
        sa.Column("identity", sa.String(8), nullable=False, server_default=""),
        sa.Column("batch_id", sa.String(40), nullable=False, server_default=""),
    )
    op.create_table(
        "enrol_collection_period",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("admdvs", sa.String(6), nullable=False),
        sa.Column("opens", sa.Date, nullable=False),
        sa.Column("closes", sa.Date, nullable=False),
        sa.Column("extended_to", sa.Date, nullable=True),
        sa.Column("individual_fen", sa.BigInteger, nullable=False),
        sa.Column("subsidy_fen", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
    )
    op.create_table(
        "enrol_import_batch",
        sa.Column("batch_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("enrol_import_batch")
    op.drop_table("enrol_collection_period")
    op.drop_table("enrol_resident_premium")
    op.drop_index("ix_enrol_contribution_emp", table_name="enrol_employee_contribution")
    op.drop_table("enrol_employee_contribution")
    op.drop_table("enrol_household_member")
    op.drop_table("enrol_household")
    op.drop_table("enrol_employer")
    op.drop_table("enrol_event")
    op.drop_table("enrol_person")
