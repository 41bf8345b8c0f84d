"""Adapter: voucher keys, issued vouchers, used nonces and revocations on the shared database
(SQLAlchemy Core), plus the randomness the pure core leaves to its caller (key seeds, nonces).

Single use is decided by the database: a nonce is INSERTed into ``voucher_nonce`` and a primary-key conflict
means it was already used, on any node.  An in-memory :class:`~yibao.voucher.core.MemoryNonceStore` in front
refuses a replay it has already seen without a round trip.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from yibao.db import make_engine
from yibao.errors import FieldError
from yibao.voucher.core import (
    ALG_ED25519,
    KeyRing,
    MemoryNonceStore,
    Revocations,
    SigningKey,
    VerifyKey,
    VoucherClaims,
    VoucherParams,
    issue,
    parse_params,
    peek,
    private_from_raw,
    public_from_raw,
    verify,
)
from yibao.voucher.schema import voucher_issued, voucher_key, voucher_nonce, voucher_revocation

PARAMS_FILE = Path(__file__).with_name("params.yaml")


def load_params(path: Path = PARAMS_FILE) -> VoucherParams:
    """The voucher settings from ``path`` (default: the shipped ``params.yaml``)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise FieldError(str(path), "不是 YAML 映射 is not a YAML mapping")
    return parse_params(data)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(now: dt.datetime) -> int:
    return int(now.timestamp())


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    state: str
    created: str
    signing_until: int | None
    retired_at: str | None
    public_key: str


@dataclass(frozen=True)
class IssuedVoucher:
    token: str
    claims: VoucherClaims


class SqlNonceStore:
    """The :class:`~yibao.voucher.core.NonceStore` of one counter (``fixmedins_code``) on the database."""

    def __init__(self, engine: sa.Engine, cache: MemoryNonceStore, fixmedins_code: str, psn_no: str) -> None:
        self.engine, self.cache, self.fixmedins_code, self.psn_no = engine, cache, fixmedins_code, psn_no

    def claim(self, nonce: str, expires_at: int, now: int) -> bool:
        """True the first time ``nonce`` reaches any counter; the row is the proof."""
        if nonce in self.cache:
            return False
        try:
            with self.engine.begin() as c:
                c.execute(
                    voucher_nonce.insert().values(
                        nonce=nonce,
                        psn_no=self.psn_no,
                        fixmedins_code=self.fixmedins_code,
                        used_at=now,
                        expires_at=expires_at,
                    )
                )
        except sa.exc.IntegrityError:
            self.cache.remember(nonce, expires_at, now)
            return False
        self.cache.remember(nonce, expires_at, now)
        return True


class VoucherStore:
    """Keys, issuing, verifying and revoking on ``engine`` (the shared, migrated database)."""

    def __init__(self, engine: sa.Engine, params: VoucherParams, *, cache_seconds: float = 2.0) -> None:
        self.engine, self.params, self.cache_seconds = engine, params, cache_seconds
        self.nonces = MemoryNonceStore()
        self._lock = threading.Lock()
        self._ring: tuple[float, KeyRing] | None = None
        self._revoked: tuple[float, Revocations] | None = None

    @staticmethod
    def open(sa_url: str, params: VoucherParams | None = None) -> VoucherStore:
        """A store on the database at ``sa_url`` with the shipped parameters unless given."""
        return VoucherStore(make_engine(sa_url), params or load_params())

    # ------------------------------------------------------------------ keys
    def rotate(self, now: dt.datetime) -> str:
        """Create a new signing key; the previous one keeps verifying (state ``verify``) and stops signing
        at ``now``, its private half erased.  Returns the new key id."""
        seed = secrets.token_bytes(32)
        private = private_from_raw(seed)
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = f"k{now.astimezone(dt.UTC):%Y%m%d%H%M%S}{secrets.token_hex(2)}"
        with self.engine.begin() as c:
            c.execute(
                voucher_key.update()
                .where(voucher_key.c.state == "signing")
                .values(state="verify", signing_until=_epoch(now), private_key=None)
            )
            c.execute(
                voucher_key.insert().values(
                    kid=kid,
                    alg=ALG_ED25519,
                    public_key=_b64(public),
                    private_key=_b64(seed),
                    state="signing",
                    created=now.isoformat(timespec="seconds"),
                    signing_until=None,
                    retired_at=None,
                )
            )
        self._ring = None
        return kid

    def ensure_key(self, now: dt.datetime) -> str:
        """The signing key's id, creating the first key when there is none (a new service's first start)."""
        with self.engine.connect() as c:
            kid = c.execute(sa.select(voucher_key.c.kid).where(voucher_key.c.state == "signing")).scalar()
        return str(kid) if kid else self.rotate(now)

    def retire(self, now: dt.datetime, kid: str | None = None) -> list[str]:
        """Retire ``kid`` (a ``verify`` key), or when no kid is given every ``verify`` key whose last token
        has expired (stopped signing more than the maximum lifetime plus the clock skew ago)."""
        with self.engine.begin() as c:
            q = sa.select(voucher_key.c.kid, voucher_key.c.state, voucher_key.c.signing_until)
            rows = list(c.execute(q.where(voucher_key.c.kid == kid) if kid else q))
            if kid and not rows:
                raise FieldError("kid", f"密钥不存在 unknown key {kid!r}", "unknown_key")
            if kid and rows[0].state == "signing":
                raise FieldError("kid", "签名密钥须先轮换 rotate before retiring the signing key", "signing")
            limit = _epoch(now) - self.params.max_lifetime_seconds - self.params.clock_skew_seconds
            chosen = [
                r.kid
                for r in rows
                if r.state == "verify" and (kid is not None or (r.signing_until or 0) < limit)
            ]
            if chosen:
                c.execute(
                    voucher_key.update()
                    .where(voucher_key.c.kid.in_(chosen))
                    .values(state="retired", private_key=None, retired_at=now.isoformat(timespec="seconds"))
                )
        self._ring = None
        return chosen

    def keys(self) -> list[KeyInfo]:
        """Every key, newest first."""
        q = sa.select(voucher_key).order_by(voucher_key.c.created.desc(), voucher_key.c.kid.desc())
        with self.engine.connect() as c:
            return [
                KeyInfo(r.kid, r.alg, r.state, r.created, r.signing_until, r.retired_at, r.public_key)
                for r in c.execute(q)
            ]

    def key_ring(self) -> KeyRing:
        """The verification keys (cached for ``cache_seconds``; a rotation here clears the cache)."""
        cached = self._ring
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        ring = KeyRing.of(
            [
                VerifyKey(k.kid, k.alg, public_from_raw(_unb64(k.public_key)), k.state, k.signing_until)
                for k in self.keys()
            ]
        )
        self._ring = (time.monotonic(), ring)
        return ring

    def signing_key(self) -> SigningKey:
        """The one key that signs now (refused when none was created: run ``yibao voucher keys rotate``)."""
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(voucher_key.c.kid, voucher_key.c.private_key).where(
                    voucher_key.c.state == "signing"
                )
            ).first()
        if r is None or not r.private_key:
            raise FieldError("voucher_key", "尚无签名密钥，请先轮换 no signing key; rotate first", "no_key")
        return SigningKey(r.kid, private_from_raw(_unb64(r.private_key)))

    # ------------------------------------------------------------------ issue / verify / revoke
    def issue(self, *, psn_no: str, holder: str, issued_by: str, now: dt.datetime) -> IssuedVoucher:
        """Issue a voucher for ``psn_no`` shown by ``holder`` and record it.  Whether ``holder`` may act for
        ``psn_no`` (亲情账户) is the caller's check (the portal's login knows the family)."""
        token = issue(
            psn_no=psn_no,
            holder=holder,
            now=now,
            key=self.signing_key(),
            nonce=secrets.token_bytes(16),
            params=self.params,
        )
        claims = peek(token)
        with self.engine.begin() as c:
            c.execute(
                voucher_issued.insert().values(
                    nonce=claims.nonce,
                    kid=claims.kid,
                    psn_no=psn_no,
                    holder=holder,
                    issued_by=issued_by,
                    issued_at=claims.issued_at,
                    expires_at=claims.expires_at,
                )
            )
        return IssuedVoucher(token, claims)

    def revocations(self, now: dt.datetime) -> Revocations:
        """Revocations that can still matter (made within the maximum lifetime), cached briefly."""
        cached = self._revoked
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        since = _epoch(now) - self.params.max_lifetime_seconds - self.params.clock_skew_seconds
        nonces: set[str] = set()
        before: dict[str, int] = {}
        with self.engine.connect() as c:
            for r in c.execute(sa.select(voucher_revocation).where(voucher_revocation.c.at >= since)):
                if r.nonce:
                    nonces.add(r.nonce)
                elif r.before_at is not None:
                    before[r.psn_no] = max(before.get(r.psn_no, 0), int(r.before_at))
        out = Revocations(frozenset(nonces), before)
        self._revoked = (time.monotonic(), out)
        return out

    def revoke(
        self, *, psn_no: str, by_user: str, now: dt.datetime, nonce: str | None = None, reason: str = ""
    ) -> None:
        """Revoke one voucher of ``psn_no`` (``nonce``) or, without a nonce, every voucher issued up to now."""
        if nonce is not None:
            with self.engine.connect() as c:
                owner = c.execute(
                    sa.select(voucher_issued.c.psn_no).where(voucher_issued.c.nonce == nonce)
                ).scalar()
            if owner != psn_no:
                raise FieldError("nonce", "凭证不存在 no such voucher for this person", "unknown_voucher")
        with self.engine.begin() as c:
            c.execute(
                voucher_revocation.insert().values(
                    psn_no=psn_no,
                    nonce=nonce,
                    before_at=None if nonce else _epoch(now),
                    reason=reason[:500],
                    by_user=by_user,
                    at=_epoch(now),
                )
            )
        self._revoked = None

    def verify(
        self, token: str, *, now: dt.datetime, fixmedins_code: str, expect_psn_no: str | None = None
    ) -> VoucherClaims:
        """Verify ``token`` at the counter ``fixmedins_code`` (1101 / 2201) and use it up."""
        try:
            psn = peek(token).psn_no
        except FieldError:
            psn = ""
        return verify(
            token,
            now,
            self.key_ring(),
            SqlNonceStore(self.engine, self.nonces, fixmedins_code, psn),
            params=self.params,
            revocations=self.revocations(now),
            expect_psn_no=expect_psn_no,
        )

    def issued_for(self, psn_no: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest vouchers issued for ``psn_no`` with whether each was used, and where."""
        q = (
            sa.select(voucher_issued, voucher_nonce.c.fixmedins_code, voucher_nonce.c.used_at)
            .select_from(
                voucher_issued.outerjoin(voucher_nonce, voucher_nonce.c.nonce == voucher_issued.c.nonce)
            )
            .where(voucher_issued.c.psn_no == psn_no)
            .order_by(voucher_issued.c.issued_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def purge(self, now: dt.datetime) -> int:
        """Delete used nonces whose vouchers have expired (their expiry refuses them anyway)."""
        with self.engine.begin() as c:
            res = c.execute(voucher_nonce.delete().where(voucher_nonce.c.expires_at < _epoch(now)))
        return int(res.rowcount or 0)


def new_signing_key(kid: str) -> SigningKey:
    """A fresh in-memory signing key (tests, benchmarks; the store's :meth:`VoucherStore.rotate` for real)."""
    return SigningKey(kid, Ed25519PrivateKey.generate())
