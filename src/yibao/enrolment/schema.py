"""Enrolment tables (SQLAlchemy Core on the shared metadata; Alembic branch ``enrolment``, revision 0501).

* ``enrol_person`` — the registered person (参保人员登记): ID, name, gender, birth date, district, household,
  identities (JSON ``[[code, begin, end|null]]``) and the current relation (``rel_state``, ``rel_insutype``,
  ``rel_psn_type``, ``rel_emp_no``, ``rel_since``, ``last_seq`` — kept in step with ``enrol_event`` in the
  same transaction; imports check against it).
* ``enrol_event`` — the relation history (参保关系变更), append-only, one row per event, ordered by ``seq``
  per person.
* ``enrol_employer`` (参保单位), ``enrol_household`` and ``enrol_household_member`` (居民家庭, 家庭共济).
* ``enrol_employee_contribution`` — one row per person, month and kind (normal / top_up); ``paid_on`` NULL
  is a month due and unpaid (欠费).
* ``enrol_resident_premium`` — one row per person and benefit year (annual or repair).
* ``enrol_collection_period`` — the collection period and standards in force for each benefit year.
* ``enrol_import_batch`` — every imported file (kind, name, SHA-256, rows): a file is imported once.

Money is BIGINT fen; dates are DATE; months are ``YYYY-MM`` text.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Text

from yibao.db import metadata

enrol_person = Table(
    "enrol_person",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("certno", String(18), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("district", String(50), nullable=False, server_default=""),
    Column("household_no", String(40), nullable=False, server_default=""),
    Column("identities", Text, nullable=False, server_default="[]"),
    Column("rel_state", String(16), nullable=False, server_default=""),
    Column("rel_insutype", String(6), nullable=False, server_default=""),
    Column("rel_psn_type", String(6), nullable=False, server_default=""),
    Column("rel_emp_no", String(40), nullable=False, server_default=""),
    Column("rel_since", Date, nullable=True),
    Column("last_seq", Integer, nullable=False, server_default="0"),
    Column("batch_id", String(40), nullable=False, server_default=""),
)

enrol_event = Table(
    "enrol_event",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("day", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("insutype", String(6), nullable=False, server_default=""),
    Column("psn_type", String(6), nullable=False, server_default=""),
    Column("emp_no", String(40), nullable=False, server_default=""),
    Column("household_no", String(40), nullable=False, server_default=""),
    Column("other_admdvs", String(6), nullable=False, server_default=""),
    Column("months_carried", Integer, nullable=False, server_default="0"),
    Column("years_carried", Integer, nullable=False, server_default="0"),
    Column("insured_until", Date, nullable=True),
    Column("reason", String(100), nullable=False, server_default=""),
    Column("batch_id", String(40), nullable=False, server_default=""),
)

enrol_employer = Table(
    "enrol_employer",
    metadata,
    Column("emp_no", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("district", String(50), nullable=False, server_default=""),
)

enrol_household = Table(
    "enrol_household",
    metadata,
    Column("household_no", String(40), primary_key=True),
    Column("district", String(50), nullable=False, server_default=""),
)

enrol_household_member = Table(
    "enrol_household_member",
    metadata,
    Column("household_no", String(40), primary_key=True),
    Column("psn_no", String(40), primary_key=True),
    Column("relation", String(16), nullable=False),
)

enrol_employee_contribution = Table(
    "enrol_employee_contribution",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("emp_no", String(40), nullable=False),
    Column("base_fen", BigInteger, nullable=False),
    Column("employer_fen", BigInteger, nullable=False),
    Column("individual_fen", BigInteger, nullable=False),
    Column("account_fen", BigInteger, nullable=False),
    Column("months", Integer, nullable=False, server_default="1"),
    Column("paid_on", Date, nullable=True),
    Column("batch_id", String(40), nullable=False, server_default=""),
)
Index("ix_enrol_contribution_emp", enrol_employee_contribution.c.emp_no, enrol_employee_contribution.c.month)

enrol_resident_premium = Table(
    "enrol_resident_premium",
    metadata,
    Column("psn_no", String(40), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("individual_fen", BigInteger, nullable=False),
    Column("assistance_fen", BigInteger, nullable=False),
    Column("subsidy_fen", BigInteger, nullable=False),
    Column("identity", String(8), nullable=False, server_default=""),
    Column("batch_id", String(40), nullable=False, server_default=""),
)

enrol_collection_period = Table(
    "enrol_collection_period",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("admdvs", String(6), nullable=False),
    Column("opens", Date, nullable=False),
    Column("closes", Date, nullable=False),
    Column("extended_to", Date, nullable=True),
    Column("individual_fen", BigInteger, nullable=False),
    Column("subsidy_fen", BigInteger, nullable=False),
    Column("source", String(300), nullable=False),
)

enrol_import_batch = Table(
    "enrol_import_batch",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("file_name", String(300), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("rows", BigInteger, nullable=False),
    Column("created", String(40), nullable=False),
)

TABLES = (
    enrol_person,
    enrol_event,
    enrol_employer,
    enrol_household,
    enrol_household_member,
    enrol_employee_contribution,
    enrol_resident_premium,
    enrol_collection_period,
    enrol_import_batch,
)
