"""The voucher's tables (SQLAlchemy Core), created by migration ``0701`` on the ``voucher`` branch.

* ``voucher_key`` — signing / verification keys (Ed25519, raw bytes in base64url): one ``signing`` key, any
  number of ``verify`` keys still honoured after a rotation, ``retired`` keys kept for the record with their
  private half erased.
* ``voucher_issued`` — every voucher the portal issued: for whom, shown by whom, by which login (the record a
  person sees and the list a revocation draws from).
* ``voucher_nonce`` — nonces already used at a counter (single use); rows past their expiry may be purged.
* ``voucher_revocation`` — one voucher (by nonce) or every voucher of a person issued up to a moment.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from yibao.db import metadata

voucher_key = Table(
    "voucher_key",
    metadata,
    Column("kid", String(40), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("private_key", String(64)),  # erased (NULL) once the key no longer signs
    Column("state", String(10), nullable=False),  # signing / verify / retired
    Column("created", String(40), nullable=False),  # ISO timestamp, UTC
    Column("signing_until", BigInteger),  # Unix seconds it stopped signing
    Column("retired_at", String(40)),
)

voucher_issued = Table(
    "voucher_issued",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("kid", String(40), nullable=False),
    Column("psn_no", String(40), nullable=False),
    Column("holder", String(40), nullable=False),
    Column("issued_by", String(40), nullable=False),  # app_user.user_id or "cli"
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_voucher_issued_psn", "psn_no", "issued_at"),
)

voucher_nonce = Table(
    "voucher_nonce",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("psn_no", String(40), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("used_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_voucher_nonce_expires", "expires_at"),
)

voucher_revocation = Table(
    "voucher_revocation",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("psn_no", String(40), nullable=False),
    Column("nonce", String(32)),  # one voucher, or NULL for every voucher up to ``before_at``
    Column("before_at", BigInteger),
    Column("reason", Text, nullable=False, server_default=""),
    Column("by_user", String(40), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_voucher_revocation_at", "at"),
)
