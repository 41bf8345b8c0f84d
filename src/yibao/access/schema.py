"""The service's tables (SQLAlchemy Core): logins, sessions and the access log.

* ``app_user`` — one login: role, the person it is (insured), the persons it may act for (亲情账户,
  JSON list incl. its own psn_no), the institution it works for, or the employer (参保单位) it is; the
  password as an scrypt hash.
* ``app_session`` — opaque session tokens, stored as their SHA-256 only (a token is 256 random bits, so
  a fast hash is enough; a leaked table gives no usable token).
* ``access_log`` — who read whose record, when and what (个人信息访问记录): queryable by an admin and
  by the insured person themself.

* ``app_meta`` — facts about this database, e.g. ``demo`` = ``1`` for a demonstration database (the
  only kind of database where the published demo logins may exist).

Created by migration ``0201`` on the ``service`` branch; ``0210`` adds ``must_change_password``,
``password_changed`` and ``app_meta``; ``0510`` (enrolment branch) adds ``emp_no``, the 参保单位 of an employer
login; ``1530`` adds ``family_link`` and ``family_event`` (亲情账户 and 家庭共济 links made with consent).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from yibao.db import metadata

app_user = Table(
    "app_user",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("username", String(80), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("psn_no", String(40)),
    Column("family_psn_nos", Text, nullable=False, server_default="[]"),
    Column("fixmedins_code", String(30)),
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created", String(40), nullable=False),
    Column("must_change_password", Integer, nullable=False, server_default="0"),
    Column("password_changed", String(40)),
    Column("emp_no", String(40)),  # employer login: its 参保单位 (migration 0510)
)

app_meta = Table(
    "app_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

app_session = Table(
    "app_session",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("created", String(40), nullable=False),
    Column("expires", String(40), nullable=False),
    Index("ix_app_session_user", "user_id"),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("role", String(16), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("what", String(200), nullable=False),
    Column("path", String(300), nullable=False),
    Index("ix_access_log_psn", "psn_no", "id"),
)

# 亲情账户 / 家庭共济 links made with consent (migration 1530): one row per request, its state and dates …
family_link = Table(
    "family_link",
    metadata,
    Column("link_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),  # proxy | mutual_aid
    Column("requester_user_id", String(40), nullable=False),
    Column("requester_psn_no", String(40), nullable=False),
    Column("relative_user_id", String(40), nullable=False),
    Column("relative_psn_no", String(40), nullable=False),
    Column("relation", String(16), nullable=False),  # the relative is the requester's …
    Column("state", String(16), nullable=False),
    Column("requested_at", String(40), nullable=False),
    Column("decided_at", String(40)),
    Column("ended_at", String(40)),
    Index("ix_family_link_requester", "requester_user_id"),
    Index("ix_family_link_relative", "relative_user_id"),
)

# … and every step, for the history and as a notice to the other side (read_at: when they saw it)
family_event = Table(
    "family_event",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("link_id", String(40), nullable=False),
    Column("at", String(40), nullable=False),
    Column("by_user_id", String(40), nullable=False),
    Column("action", String(16), nullable=False),
    Column("notify_user_id", String(40), nullable=False),
    Column("read_at", String(40)),
    Index("ix_family_event_link", "link_id", "id"),
    Index("ix_family_event_notify", "notify_user_id", "id"),
)
