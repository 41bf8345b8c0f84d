"""Appeal evidence (申诉材料) an institution uploads for an audit case (yibao.audit.schema).

Revision ID: 1510
Revises: 0101
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1510"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_appeal_evidence",
        sa.Column("evidence_id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(80), nullable=False),
        sa.Column("item_no", sa.Integer, nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("uploaded_at", sa.String(40), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_audit_appeal_evidence_case", "audit_appeal_evidence", ["case_id", "item_no"])


def downgrade() -> None:
    op.drop_index("ix_audit_appeal_evidence_case", "audit_appeal_evidence")
    op.drop_table("audit_appeal_evidence")
