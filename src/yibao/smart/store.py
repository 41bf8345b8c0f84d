"""Adapter: registered apps, consents (grants), codes and access tokens on the service database
(SQLAlchemy Core).  Secrets, codes and tokens are stored as SHA-256 only (each is 256 random bits)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from yibao.errors import FieldError
from yibao.smart import scopes as sc
from yibao.smart.schema import smart_app, smart_code, smart_grant, smart_pending, smart_token

CODE_SECONDS = 600  # RFC 6749 §4.1.2: codes expire shortly, at most ten minutes recommended
PENDING_SECONDS = 900
TOKEN_SECONDS = 3600


class AppError(FieldError):
    """An app registration that cannot be made as asked; nothing was written."""


@dataclass(frozen=True)
class AppRow:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    public: bool
    scope: str
    active: bool
    secret_hash: str | None = None


@dataclass(frozen=True)
class GrantRow:
    grant_id: str
    user_id: str
    client_id: str
    app_name: str
    psn_no: str
    scope: str
    created: str
    revoked: str | None


@dataclass(frozen=True)
class CodeRow:
    grant_id: str
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    scope: str
    psn_no: str
    user_id: str


@dataclass(frozen=True)
class Access:
    """What a live access token allows: one app, for one login, on one patient, within its scopes."""

    grant_id: str
    client_id: str
    app_name: str
    user_id: str
    psn_no: str
    scopes: tuple[str, ...]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _app(r: Any) -> AppRow:
    return AppRow(
        r.client_id,
        r.name,
        tuple(json.loads(r.redirect_uris)),
        bool(r.public),
        r.scope,
        bool(r.active),
        r.secret_hash,
    )


class SmartStore:
    """Apps, grants, codes and tokens on ``engine`` (the service store's engine)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ apps
    def register_app(
        self,
        client_id: str,
        name: str,
        redirect_uris: Sequence[str],
        *,
        scope: str = "launch/patient patient/*.read patient/*.rs",
        secret: str | None = None,
    ) -> AppRow:
        """Register an app; ``secret`` None = a public app (PKCE only)."""
        if not client_id.strip() or len(client_id) > 80:
            raise AppError("client_id", "必填，最长 80 字符 required, at most 80 characters", "missing")
        if not name.strip():
            raise AppError("name", "必填 required", "missing")
        uris = [u for u in redirect_uris if u]
        if not uris:
            raise AppError("redirect_uris", "至少一个回调地址 at least one redirect URI", "missing")
        for u in uris:
            if not (
                u.startswith("https://")
                or u.startswith("http://127.0.0.1")
                or u.startswith("http://localhost")
            ):
                raise AppError(
                    "redirect_uris", f"{u!r}: 须为 https（本机测试可用 http://127.0.0.1） must be https"
                )
        bad = [s for s in sc.split(scope) if not sc.supported(s)]
        if bad:
            raise AppError("scope", f"不支持的权限 unsupported scope {bad[0]!r}")
        row = AppRow(
            client_id, name, tuple(uris), secret is None, scope, True, digest(secret) if secret else None
        )
        try:
            with self.engine.begin() as c:
                c.execute(
                    smart_app.insert().values(
                        client_id=client_id,
                        name=name,
                        redirect_uris=json.dumps(list(uris)),
                        public=1 if secret is None else 0,
                        secret_hash=row.secret_hash,
                        scope=scope,
                        active=1,
                        created=_iso(_now()),
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise AppError(
                "client_id", f"{client_id!r} 已注册 is already registered", "duplicate_app"
            ) from exc
        return row

    def get_app(self, client_id: str) -> AppRow | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(smart_app).where(smart_app.c.client_id == client_id)).first()
        return _app(r) if r is not None else None

    def list_apps(self) -> list[AppRow]:
        with self.engine.connect() as c:
            return [_app(r) for r in c.execute(sa.select(smart_app).order_by(smart_app.c.client_id))]

    @staticmethod
    def check_secret(app: AppRow, secret: str) -> bool:
        return app.secret_hash is not None and hmac.compare_digest(app.secret_hash, digest(secret))

    # ------------------------------------------------------------------ the consent page
    def create_pending(self, user_id: str, params: dict[str, str]) -> str:
        pending_id = secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            c.execute(smart_pending.delete().where(smart_pending.c.expires < _iso(_now())))
            c.execute(
                smart_pending.insert().values(
                    pending_id=pending_id,
                    user_id=user_id,
                    params=json.dumps(params),
                    expires=_iso(_now() + dt.timedelta(seconds=PENDING_SECONDS)),
                )
            )
        return pending_id

    def take_pending(self, pending_id: str, user_id: str) -> dict[str, str] | None:
        """The waiting request if it is this login's and still fresh; used once."""
        with self.engine.begin() as c:
            r = c.execute(sa.select(smart_pending).where(smart_pending.c.pending_id == pending_id)).first()
            if r is None or r.user_id != user_id:
                return None
            c.execute(smart_pending.delete().where(smart_pending.c.pending_id == pending_id))
        if r.expires < _iso(_now()):
            return None
        return dict(json.loads(r.params))

    # ------------------------------------------------------------------ grants and codes
    def save_code(
        self,
        code: str,
        *,
        user_id: str,
        client_id: str,
        psn_no: str,
        scope: str,
        redirect_uri: str,
        challenge: str,
        method: str,
    ) -> str:
        """Record the person's consent (a grant) and the code that lets the app redeem it once."""
        grant_id = uuid.uuid4().hex
        now = _now()
        with self.engine.begin() as c:
            c.execute(
                smart_grant.insert().values(
                    grant_id=grant_id,
                    user_id=user_id,
                    client_id=client_id,
                    psn_no=psn_no,
                    scope=scope,
                    created=_iso(now),
                )
            )
            c.execute(
                smart_code.insert().values(
                    code_hash=digest(code),
                    grant_id=grant_id,
                    client_id=client_id,
                    redirect_uri=redirect_uri,
                    challenge=challenge,
                    method=method,
                    expires=_iso(now + dt.timedelta(seconds=CODE_SECONDS)),
                    used=0,
                )
            )
        return grant_id

    def find_code(self, code: str, client_id: str) -> CodeRow | None:
        """A fresh, unused code of this app whose grant still stands.  A code presented a second time
        revokes its grant and every token issued under it (RFC 6749 §4.1.2)."""
        q = (
            sa.select(
                smart_code,
                smart_grant.c.scope,
                smart_grant.c.psn_no,
                smart_grant.c.user_id,
                smart_grant.c.revoked,
            )
            .join(smart_grant, smart_grant.c.grant_id == smart_code.c.grant_id)
            .where(smart_code.c.code_hash == digest(code))
        )
        with self.engine.connect() as c:
            r = c.execute(q).first()
        if r is None or r.client_id != client_id:
            return None
        if r.used:
            self.revoke_grant(r.grant_id, r.user_id)
            return None
        if r.revoked is not None or r.expires < _iso(_now()):
            return None
        return CodeRow(
            r.grant_id, r.client_id, r.redirect_uri, r.challenge, r.method, r.scope, r.psn_no, r.user_id
        )

    def use_code(self, code: str) -> bool:
        """Mark a code used; False if it already was (a concurrent second redemption)."""
        with self.engine.begin() as c:
            n = c.execute(
                smart_code.update()
                .where(smart_code.c.code_hash == digest(code), smart_code.c.used == 0)
                .values(used=1)
            ).rowcount
        return bool(n)

    # ------------------------------------------------------------------ tokens
    def issue_token(self, grant_id: str) -> tuple[str, int]:
        """A new access token of the grant and its lifetime in seconds."""
        token = secrets.token_urlsafe(32)
        now = _now()
        with self.engine.begin() as c:
            c.execute(
                smart_token.insert().values(
                    token_hash=digest(token),
                    grant_id=grant_id,
                    created=_iso(now),
                    expires=_iso(now + dt.timedelta(seconds=TOKEN_SECONDS)),
                )
            )
        return token, TOKEN_SECONDS

    def access_for_token(self, token: str) -> Access | None:
        """What a live token allows, or None (unknown, expired, revoked, grant revoked, app disabled)."""
        q = (
            sa.select(
                smart_token.c.expires,
                smart_token.c.revoked.label("token_revoked"),
                smart_grant,
                smart_app.c.name,
                smart_app.c.active,
            )
            .join(smart_grant, smart_grant.c.grant_id == smart_token.c.grant_id)
            .join(smart_app, smart_app.c.client_id == smart_grant.c.client_id)
            .where(smart_token.c.token_hash == digest(token))
        )
        with self.engine.connect() as c:
            r = c.execute(q).first()
        if r is None or r.token_revoked is not None or r.revoked is not None or not r.active:
            return None
        if r.expires <= _iso(_now()):
            return None
        return Access(r.grant_id, r.client_id, r.name, r.user_id, r.psn_no, tuple(sc.split(r.scope)))

    def revoke_token(self, token: str, client_id: str) -> bool:
        """RFC 7009: revoke one of this app's tokens (unknown tokens are not an error)."""
        sub = sa.select(smart_grant.c.grant_id).where(smart_grant.c.client_id == client_id)
        with self.engine.begin() as c:
            n = c.execute(
                smart_token.update()
                .where(smart_token.c.token_hash == digest(token), smart_token.c.grant_id.in_(sub))
                .values(revoked=_iso(_now()))
            ).rowcount
        return bool(n)

    # ------------------------------------------------------------------ the person's view
    def grants_for(self, user_id: str) -> list[GrantRow]:
        q = (
            sa.select(smart_grant, smart_app.c.name)
            .join(smart_app, smart_app.c.client_id == smart_grant.c.client_id)
            .where(smart_grant.c.user_id == user_id)
            .order_by(smart_grant.c.created.desc())
        )
        with self.engine.connect() as c:
            return [
                GrantRow(r.grant_id, r.user_id, r.client_id, r.name, r.psn_no, r.scope, r.created, r.revoked)
                for r in c.execute(q)
            ]

    def revoke_grant(self, grant_id: str, user_id: str) -> bool:
        """The person withdraws a consent: the grant and all its tokens stop working at once."""
        now = _iso(_now())
        with self.engine.begin() as c:
            n = c.execute(
                smart_grant.update()
                .where(
                    smart_grant.c.grant_id == grant_id,
                    smart_grant.c.user_id == user_id,
                    smart_grant.c.revoked.is_(None),
                )
                .values(revoked=now)
            ).rowcount
            if n:
                c.execute(
                    smart_token.update()
                    .where(smart_token.c.grant_id == grant_id, smart_token.c.revoked.is_(None))
                    .values(revoked=now)
                )
        return bool(n)
