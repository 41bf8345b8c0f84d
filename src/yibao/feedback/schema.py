"""The portal's tables (SQLAlchemy Core), created by migration ``0301`` on the ``portal`` branch.

* ``portal_case`` — a filing (备案), complaint (投诉) or fraud report (举报): who it is for, who filed
  it, its status, and the SLA clock's fixed points (opened, due, decided).
* ``portal_case_event`` — every status change with who made it and when (the progress a person sees).
* ``portal_rating`` — one satisfaction rating per settlement (满意度评价), 1–5 stars and a comment.
* ``portal_notice`` — a notification to the login that filed a case, one per status change, read or not
  (migration ``1501``).

Migration ``1501`` also adds ``portal_case.setl_id`` (the visit a complaint is about, optional) and
``portal_case.review_round`` (0 before any review; n during and after the n-th 复核, whose clock then fills
``opened_on`` / ``sla_days`` / ``due_on`` / ``decided_on``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from yibao.db import metadata

portal_case = Table(
    "portal_case",
    metadata,
    Column("case_id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("psn_no", String(40), nullable=False),  # the person the case is for
    Column("filed_by", String(40), nullable=False),  # app_user.user_id
    Column("subject", String(200), nullable=False, server_default=""),  # institution, visit, destination …
    Column("detail", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created", String(40), nullable=False),  # ISO timestamp, UTC
    Column("opened_on", String(10), nullable=False),  # ISO date the SLA clock starts from
    Column("sla_days", Integer, nullable=False),
    Column("due_on", String(10), nullable=False),
    Column("decided_on", String(10)),  # the decision (a complaint: the answer) that stops the clock
    Column("setl_id", String(40)),  # the visit (settlement) the case is about, if any
    Column("review_round", Integer, nullable=False, server_default="0"),
    Index("ix_portal_case_psn", "psn_no", "created"),
    Index("ix_portal_case_status", "status", "due_on"),
)

portal_case_event = Table(
    "portal_case_event",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(40), nullable=False),
    Column("at", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor_id", String(40), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Index("ix_portal_case_event_case", "case_id", "id"),
)

portal_rating = Table(
    "portal_rating",
    metadata,
    Column("setl_id", String(40), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("stars", Integer, nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("at", String(40), nullable=False),
)

portal_notice = Table(
    "portal_notice",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", String(40), nullable=False),  # the login told (the case's filer)
    Column("case_id", String(40), nullable=False),
    Column("at", String(40), nullable=False),  # ISO timestamp, UTC
    Column("status", String(16), nullable=False),  # the status the case moved to
    Column("note", Text, nullable=False, server_default=""),
    Column("read_at", String(40)),
    Index("ix_portal_notice_user", "user_id", "id"),
)
