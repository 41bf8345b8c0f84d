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
login.
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
