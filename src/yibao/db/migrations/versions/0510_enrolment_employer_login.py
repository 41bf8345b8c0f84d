"""Employer logins: ``app_user.emp_no``, the 参保单位 an ``employer`` login acts for (yibao.access.schema).

Revision ID: 0510
Revises: 0501
Create Date: 2026-12-07

On the enrolment branch (the employer is the enrolment capability's); it needs the service branch's
``app_user`` table, hence ``depends_on`` 0210.  Written out explicitly so that it stays what it was when the
live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0510"
down_revision = "0501"
branch_labels = None
depends_on = "0210"


def upgrade() -> None:
    with op.batch_alter_table("app_user") as b:
        b.add_column(sa.Column("emp_no", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as b:
        b.drop_column("emp_no")
