"""App authorisation tables (SQLAlchemy Core), created by migration ``0901`` on the ``smart`` branch.

* ``smart_app`` — a registered third-party app: name, redirect URIs, public (PKCE only) or confidential
  (secret stored as SHA-256), the scopes it may ask for.
* ``smart_grant`` — one person's consent: which login allowed which app to read which patient's data
  with which scopes, and when it was revoked.
* ``smart_code`` — authorisation codes (SHA-256 only), bound to the grant, redirect URI and the PKCE
  challenge; single use, ten minutes.
* ``smart_token`` — access tokens (SHA-256 only) of a grant; they die with the grant.
* ``smart_pending`` — an authorisation request waiting for the person's decision on the consent page
  (its random id is also the page's CSRF token).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from yibao.db import metadata

smart_app = Table(
    "smart_app",
    metadata,
    Column("client_id", String(80), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("redirect_uris", Text, nullable=False),  # JSON list
    Column("public", Integer, nullable=False),
    Column("secret_hash", String(64)),
    Column("scope", Text, nullable=False),  # the scopes it may request (space separated)
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created", String(40), nullable=False),
)

smart_grant = Table(
    "smart_grant",
    metadata,
    Column("grant_id", String(40), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("client_id", String(80), nullable=False),
    Column("psn_no", String(40), nullable=False),  # the patient in context
    Column("scope", Text, nullable=False),
    Column("created", String(40), nullable=False),
    Column("revoked", String(40)),
    Index("ix_smart_grant_user", "user_id", "created"),
)

smart_code = Table(
    "smart_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", String(40), nullable=False),
    Column("client_id", String(80), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("challenge", String(128), nullable=False),
    Column("method", String(10), nullable=False),
    Column("expires", String(40), nullable=False),
    Column("used", Integer, nullable=False, server_default="0"),
)

smart_token = Table(
    "smart_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("grant_id", String(40), nullable=False),
    Column("created", String(40), nullable=False),
    Column("expires", String(40), nullable=False),
    Column("revoked", String(40)),
    Index("ix_smart_token_grant", "grant_id"),
)

smart_pending = Table(
    "smart_pending",
    metadata,
    Column("pending_id", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("params", Text, nullable=False),  # JSON: the validated authorisation request
    Column("expires", String(40), nullable=False),
)
