"""The encounter's tables (SQLAlchemy Core), created by migration ``1101`` on the ``encounter`` branch.

* ``enc_visit`` — one visit (outpatient 2201) or stay (inpatient 2401): who, where, the state and its times.
* ``enc_line`` — every uploaded fee line (2204 / 2301) with its split at upload and, once settled, its
  ``setl_id``; cancelled lines (2205 / 2302) keep their row with ``status`` ``cancelled``.
* ``enc_sign`` — operator sign-ins (9001) and sign-outs (9002).
* ``enc_msg`` — every state-changing national message of this capability by ``msgid``: the answer given (a
  retry gets the same answer) and what a 2601 reversal must undo.
* ``enc_card`` — social-security cards (社会保障卡: card number and card identification code) per person.
* ``enc_presented`` — credentials presented at an institution's 1101 (by digest) and the person they named:
  a later 2201 / 2401 there must carry one of them for that person.
* ``enc_file`` — files uploaded with 9101 or produced for 9102 (3202 results).
* ``enc_institution`` — the hospital level (hosp_lv) and name of each designated institution.
* ``enc_reconciliation`` — every 3201 (总账对账) and 3202 (明细对账) answer: the institution's figures
  against the ledger's for a period, 险种 and 清算类别, whether they agreed, the fields that differ and,
  for 3202, the settlements that did not match (migration ``1110``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, LargeBinary, String, Table, Text

from yibao.db import metadata

enc_visit = Table(
    "enc_visit",
    metadata,
    Column("mdtrt_id", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("kind", String(12), nullable=False),  # outpatient / inpatient
    Column("med_type", String(6), nullable=False),
    Column("ipt_otp_no", String(30), nullable=False),
    Column("hosp_lv", String(6), nullable=False),
    Column("mdtrt_cert_type", String(3), nullable=False),
    Column("begntime", String(19), nullable=False),
    Column("endtime", String(19)),
    Column("status", String(12), nullable=False),
    Column("diagnoses", Text, nullable=False),  # JSON list of ICD-10 codes, main first
    Column("info", Text, nullable=False),  # JSON: the rest of the 2201/2203/2401/2403/2402 input
    Column("created_msgid", String(64), nullable=False),
    Column("updated", String(40), nullable=False),
)
Index("ix_enc_visit_inst", enc_visit.c.fixmedins_code, enc_visit.c.ipt_otp_no)

enc_line = Table(
    "enc_line",
    metadata,
    Column("mdtrt_id", String(30), primary_key=True),
    Column("feedetl_sn", String(30), primary_key=True),
    Column("chrg_bchno", String(30), nullable=False),
    Column("med_list_codg", String(50), nullable=False),
    Column("medins_list_codg", String(150), nullable=False),
    Column("qty", BigInteger, nullable=False),  # cnt × 10000
    Column("pric", BigInteger, nullable=False),  # fen
    Column("amount", BigInteger, nullable=False),  # det_item_fee_sumamt, fen
    Column("fulamt_ownpay_amt", BigInteger, nullable=False),
    Column("overlmt_amt", BigInteger, nullable=False),
    Column("preselfpay_amt", BigInteger, nullable=False),
    Column("inscp_scp_amt", BigInteger, nullable=False),
    Column("fee_ocur_time", String(19), nullable=False),
    Column("status", String(10), nullable=False),  # live / cancelled
    Column("setl_id", String(40)),
    Column("msgid", String(64), nullable=False),
    Column("info", Text, nullable=False),  # JSON: the rest of the uploaded row
)
Index("ix_enc_line_setl", enc_line.c.setl_id)

enc_sign = Table(
    "enc_sign",
    metadata,
    Column("sign_no", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("opter", String(30), nullable=False),
    Column("sign_time", String(19), nullable=False),
    Column("signout_time", String(19)),
)

enc_msg = Table(
    "enc_msg",
    metadata,
    Column("msgid", String(64), primary_key=True),
    Column("infno", String(6), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("request_key", Text, nullable=False),  # digest of the input (a reused msgid must carry the same)
    Column("answer", Text, nullable=False),  # JSON output given
    Column("undo", Text, nullable=False),  # JSON: what a 2601 must undo
    Column("reversed_by", String(64)),
    Column("at", String(40), nullable=False),
)

enc_card = Table(
    "enc_card",
    metadata,
    Column("card_no", String(50), primary_key=True),
    Column("card_sn", String(32), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("status", String(10), nullable=False),  # valid / lost
)

enc_presented = Table(
    "enc_presented",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of institution | cert type | cert number
    Column("fixmedins_code", String(30), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("at", String(40), nullable=False),
)
Index("ix_enc_presented_psn", enc_presented.c.fixmedins_code, enc_presented.c.psn_no)

enc_file = Table(
    "enc_file",
    metadata,
    Column("file_qury_no", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("kind", String(16), nullable=False),  # upload / result
    Column("created", String(40), nullable=False),
)

enc_institution = Table(
    "enc_institution",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("fixmedins_name", String(200), nullable=False),
    Column("hosp_lv", String(6), nullable=False),
    Column("admdvs", String(6), nullable=False),
    Column("sm2_public_key", String(130)),  # hex x‖y: verifies the institution's SM2-signed envelopes
)

enc_reconciliation = Table(
    "enc_reconciliation",
    metadata,
    Column("recon_id", String(40), primary_key=True),
    Column("infno", String(6), nullable=False),  # 3201 / 3202
    Column("msgid", String(64), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("begndate", String(10), nullable=False),  # stmt_begndate, Beijing date
    Column("enddate", String(10), nullable=False),
    Column("insutype", String(6), nullable=False),  # "" = every 险种
    Column("clr_type", String(6), nullable=False),  # "" = every 清算类别
    Column("setl_optins", String(6), nullable=False),
    Column("hosp_medfee", BigInteger, nullable=False),  # the institution's figures, fen
    Column("hosp_fund", BigInteger, nullable=False),
    Column("hosp_acct", BigInteger, nullable=False),
    Column("hosp_cnt", BigInteger, nullable=False),
    Column("ledger_medfee", BigInteger, nullable=False),  # the ledger's over the same window, fen
    Column("ledger_fund", BigInteger, nullable=False),
    Column("ledger_acct", BigInteger, nullable=False),
    Column("ledger_cnt", BigInteger, nullable=False),
    Column("agreed", Boolean, nullable=False),
    Column("diff_fields", Text, nullable=False),  # JSON list of the figures that differ
    Column("rows_checked", BigInteger, nullable=False),  # 3202: rows compared (file + ledger-only); 3201: 0
    Column("unmatched", Text, nullable=False),  # JSON list of setl_id that did not match (3202)
    Column("at", String(40), nullable=False),  # UTC
)
Index("ix_enc_reconciliation_inst", enc_reconciliation.c.fixmedins_code, enc_reconciliation.c.enddate)
