"""National-interface flow tables (yibao.encounter.schema): enc_visit, enc_line, enc_sign, enc_msg, enc_card,
enc_presented, enc_file, enc_institution.

Revision ID: 1101
Revises: 0001
Create Date: 2026-12-07

Written out explicitly so that it stays what it was when the live schema changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1101"
down_revision = "0001"
branch_labels = ("encounter",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enc_visit",
        sa.Column("mdtrt_id", sa.String(30), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("insutype", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("med_type", sa.String(6), nullable=False),
        sa.Column("ipt_otp_no", sa.String(30), nullable=False),
        sa.Column("hosp_lv", sa.String(6), nullable=False),
        sa.Column("mdtrt_cert_type", sa.String(3), nullable=False),
        sa.Column("begntime", sa.String(19), nullable=False),
        sa.Column("endtime", sa.String(19)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("diagnoses", sa.Text, nullable=False),
        sa.Column("info", sa.Text, nullable=False),
        sa.Column("created_msgid", sa.String(64), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
    )
    op.create_table(
        "enc_line",
        sa.Column("mdtrt_id", sa.String(30), primary_key=True),
        sa.Column("feedetl_sn", sa.String(30), primary_key=True),
        sa.Column("chrg_bchno", sa.String(30), nullable=False),
        sa.Column("med_list_codg", sa.String(50), nullable=False),
        sa.Column("medins_list_codg", sa.String(150), nullable=False),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.Column("pric", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger, nullable=False),
        sa.Column("overlmt_amt", sa.BigInteger, nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger, nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger, nullable=False),
        sa.Column("fee_ocur_time", sa.String(19), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("setl_id", sa.String(40)),
        sa.Column("msgid", sa.String(64), nullable=False),
        sa.Column("info", sa.Text, nullable=False),
    )
    op.create_table(
        "enc_sign",
        sa.Column("sign_no", sa.String(30), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("opter", sa.String(30), nullable=False),
        sa.Column("sign_time", sa.String(19), nullable=False),
        sa.Column("signout_time", sa.String(19)),
    )
    op.create_table(
        "enc_msg",
        sa.Column("msgid", sa.String(64), primary_key=True),
        sa.Column("infno", sa.String(6), nullable=False),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("request_key", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("undo", sa.Text, nullable=False),
        sa.Column("reversed_by", sa.String(64)),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "enc_card",
        sa.Column("card_no", sa.String(50), primary_key=True),
        sa.Column("card_sn", sa.String(32), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
    )
    op.create_table(
        "enc_presented",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("psn_no", sa.String(30), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "enc_file",
        sa.Column("file_qury_no", sa.String(30), primary_key=True),
        sa.Column("fixmedins_code", sa.String(30), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "enc_institution",
        sa.Column("fixmedins_code", sa.String(30), primary_key=True),
        sa.Column("fixmedins_name", sa.String(200), nullable=False),
        sa.Column("hosp_lv", sa.String(6), nullable=False),
        sa.Column("admdvs", sa.String(6), nullable=False),
        sa.Column("sm2_public_key", sa.String(130)),
    )
    op.create_index("ix_enc_visit_inst", "enc_visit", ["fixmedins_code", "ipt_otp_no"])
    op.create_index("ix_enc_line_setl", "enc_line", ["setl_id"])
    op.create_index("ix_enc_presented_psn", "enc_presented", ["fixmedins_code", "psn_no"])


def downgrade() -> None:
    op.drop_index("ix_enc_presented_psn", "enc_presented")
    op.drop_index("ix_enc_line_setl", "enc_line")
    op.drop_index("ix_enc_visit_inst", "enc_visit")
    op.drop_table("enc_institution")
    op.drop_table("enc_file")
    op.drop_table("enc_presented")
    op.drop_table("enc_card")
    op.drop_table("enc_msg")
    op.drop_table("enc_sign")
    op.drop_table("enc_line")
    op.drop_table("enc_visit")
