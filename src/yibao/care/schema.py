"""The internet-care tables (SQLAlchemy Core), created by migration ``0702`` on the ``care`` branch.

* ``care_condition`` — registered chronic conditions (慢病登记) from an offline visit.
* ``care_followup`` — online follow-up requests (线上复诊) and where each stands.
* ``care_rx`` — e-prescriptions (电子处方) and their one dispensing (处方流转).
* ``care_delivery`` — deliveries of dispensed prescriptions (药品配送).
* ``care_bill`` — one bill per payment (一单制): every payer in order, the patient's part last.
* ``care_credit`` — credit bills (先诊疗后付费): the patient's part as a receivable.
* ``care_credit_payment`` — repayments of credit bills.
* ``care_consult`` — remote consultations (远程会诊): requester, consultant, fee split, the one visit.
* ``care_contract`` — family-doctor contracts (家庭医生签约) with their package and who paid for it.
* ``care_outcome`` — monthly control results of contracted chronic patients (血压/血糖控制).
* ``care_capitation`` — capitation months computed for a consortium (按人头付费).
* ``care_cover`` — commercial cover held by a person (商保参保).
* ``care_claim`` — commercial claims paid in the one bill (商保理赔).
* ``care_statement`` — statements to an insurer and their reconciliation (清算对账).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from yibao.db import metadata

care_condition = Table(
    "care_condition",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("code", String(10), primary_key=True),
    Column("registered_on", String(10), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
)

care_followup = Table(
    "care_followup",
    metadata,
    Column("followup_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("requested_by", String(40), nullable=False),
    Column("internet_hospital", String(30), nullable=False),
    Column("diagnosis", String(20), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pay_mode", String(10)),
    Column("rx_id", String(40)),
    Column("bill_id", String(40)),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Index("ix_care_followup_psn", "psn_no", "created"),
    Index("ix_care_followup_ih", "internet_hospital", "status"),
)

care_rx = Table(
    "care_rx",
    metadata,
    Column("rx_id", String(40), primary_key=True),
    Column("followup_id", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("internet_hospital", String(30), nullable=False),
    Column("prescriber", String(30), nullable=False),
    Column("issued_on", String(10), nullable=False),
    Column("diagnosis", String(20), nullable=False),
    Column("target", String(30), nullable=False),
    Column("lines", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("dispensed_at", String(40)),
    Column("dispensed_by", String(30)),
    Index("ix_care_rx_target", "target", "status"),
)

care_delivery = Table(
    "care_delivery",
    metadata,
    Column("rx_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("address", Text, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("shipped_at", String(40)),
    Column("delivered_on", String(10)),
)

care_bill = Table(
    "care_bill",
    metadata,
    Column("bill_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ref_id", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("setl_id", String(40), nullable=False),
    Column("medfee_sumamt", BigInteger, nullable=False),
    Column("extras", BigInteger, nullable=False),
    Column("hifp_pay", BigInteger, nullable=False),
    Column("other_funds", BigInteger, nullable=False),
    Column("commercial_pay", BigInteger, nullable=False),
    Column("insurer", String(20), nullable=False, server_default=""),
    Column("acct_pay", BigInteger, nullable=False, server_default="0"),  # personal account (0710)
    Column("patient_pay", BigInteger, nullable=False),
    Column("pay_mode", String(10), nullable=False),
    Column("created", String(40), nullable=False),
    Index("ix_care_bill_psn", "psn_no", "created"),
)

care_credit = Table(
    "care_credit",
    metadata,
    Column("bill_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("created_on", String(10), nullable=False),
    Column("due_on", String(10)),
    Column("status", String(16), nullable=False),
    Column("closed_on", String(10)),
    Index("ix_care_credit_psn", "psn_no", "status"),
)

care_credit_payment = Table(
    "care_credit_payment",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("bill_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("at", String(40), nullable=False),
    Column("by_user", String(40), nullable=False),
    Index("ix_care_credit_payment_bill", "bill_id"),
)

care_consult = Table(
    "care_consult",
    metadata,
    Column("consult_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("requester", String(30), nullable=False),
    Column("consultant", String(30), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("consultant_share", BigInteger, nullable=False),
    Column("requester_share", BigInteger, nullable=False),
    Column("advice", Text, nullable=False, server_default=""),
    Column("ordered", Text, nullable=False, server_default=""),
    Column("mdtrt_id", String(40)),
    Column("bill_id", String(40)),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
    Index("ix_care_consult_req", "requester", "status"),
    Index("ix_care_consult_cons", "consultant", "status"),
)

care_contract = Table(
    "care_contract",
    metadata,
    Column("contract_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("doctor", String(40), nullable=False),
    Column("consortium", String(30), nullable=False),
    Column("package", String(30), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("payer", String(12), nullable=False),
    Column("start_on", String(10), nullable=False),
    Column("end_on", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created", String(40), nullable=False),
    Column("bill_id", String(40), nullable=True),  # the package fee's bill (0711; none for fund packages)
    Index("ix_care_contract_psn", "psn_no", "status"),
    Index("ix_care_contract_cons", "consortium", "status"),
)

care_outcome = Table(
    "care_outcome",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("measure", String(10), primary_key=True),
    Column("controlled", Integer, nullable=False),
    Column("recorded_by", String(40), nullable=False),
)

care_capitation = Table(
    "care_capitation",
    metadata,
    Column("consortium", String(30), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("members", Integer, nullable=False),
    Column("budget", BigInteger, nullable=False),
    Column("pool", BigInteger, nullable=False),
    Column("withheld", BigInteger, nullable=False),
    Column("bonus", BigInteger, nullable=False),
    Column("payable", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    Column("computed_at", String(40), nullable=False),
)

care_cover = Table(
    "care_cover",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("product", String(30), primary_key=True),
    Column("valid_from", String(10), nullable=False),
    Column("valid_to", String(10), nullable=False),
)

care_claim = Table(
    "care_claim",
    metadata,
    Column("claim_id", String(40), primary_key=True),
    Column("product", String(30), nullable=False),
    Column("insurer", String(20), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("bill_id", String(40), nullable=False),
    Column("year", Integer, nullable=False),
    Column("base", BigInteger, nullable=False),
    Column("deductible", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("claimed_on", String(10), nullable=False),
    Column("statement_id", String(40)),
    # the ledger settlement the product paid in (0710), and claimed / void (that settlement was cancelled)
    Column("setl_id", String(40), nullable=True),
    Column("status", String(10), nullable=False, server_default="claimed"),
    Index("ix_care_claim_ins", "insurer", "claimed_on"),
    Index("ix_care_claim_psn", "psn_no", "year"),
)

care_statement = Table(
    "care_statement",
    metadata,
    Column("statement_id", String(40), primary_key=True),
    Column("insurer", String(20), nullable=False),
    Column("period_from", String(10), nullable=False),
    Column("period_to", String(10), nullable=False),
    Column("claims", Integer, nullable=False),
    Column("base", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", Text, nullable=False, server_default=""),
    Column("created", String(40), nullable=False),
)
