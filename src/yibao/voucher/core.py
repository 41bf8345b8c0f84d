"""The electronic insurance voucher (医保电子凭证) as pure functions: token format, claims, signing and the
validation rules.  No database, no clock, no randomness: the caller passes ``now``, the key ring, the nonce
and the nonce store.

Token (the QR code's text; ASCII, four dot-separated parts)::

    YBV1.<kid>.<payload>.<signature>

* ``kid`` — the signing key's id (key rotation: several keys verify at once, one signs);
* ``payload`` — base64url (no padding) of compact JSON claims
  ``{"p": psn_no, "h": holder, "a": admdvs, "i": issued_at, "e": expires_at, "n": nonce}``
  (times are Unix seconds, UTC; ``h`` is the person showing the code — the insured themself or the family
  member acting for them, 亲情账户);
* ``signature`` — base64url Ed25519 signature over the ASCII bytes ``YBV1.<kid>.<payload>``.

Why Ed25519 and not SM2/SM3: docs/INTERNET_CARE.md §Voucher records the check of the ``gmssl`` package
(its SM2/SM3 arithmetic matches the GB/T 32918.2 and GM/T 0003.5 annex vectors, but it mangles ``04``-prefixed
public keys, draws signing nonces from ``random``, skips the r, s range checks and verifies about 60 tokens a
second).  The ``alg`` of each key is recorded so an SM2 verifier can be added beside Ed25519 later.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from yibao.errors import FieldError

PREFIX = "YBV1"
ALG_ED25519 = "Ed25519"
KEY_STATES = ("signing", "verify", "retired")  # signing also verifies; retired does neither

# code -> (中文, English): every reason a voucher is refused
REASONS: dict[str, tuple[str, str]] = {
    "malformed": ("凭证格式错误", "malformed voucher"),
    "unknown_key": ("凭证签名密钥未知", "unknown signing key"),
    "key_retired": ("凭证签名密钥已停用", "signing key retired"),
    "signed_after_rotation": ("凭证签发时间晚于密钥轮换", "signed after its key stopped signing"),
    "bad_signature": ("凭证签名无效", "invalid signature"),
    "not_yet_valid": ("凭证签发时间在未来", "voucher issued in the future"),
    "expired": ("凭证已过期，请刷新二维码", "voucher expired; refresh the code"),
    "lifetime_too_long": ("凭证有效期超过规定", "voucher lifetime longer than allowed"),
    "revoked": ("凭证已作废", "voucher revoked"),
    "replayed": ("凭证已使用，请刷新二维码", "voucher already used; refresh the code"),
    "wrong_person": ("凭证与就诊人不符", "voucher is for another person"),
    "wrong_region": ("凭证不属于本统筹区", "voucher from another pooling region"),
}


class VoucherError(FieldError):
    """A voucher refused: ``code`` is a key of :data:`REASONS`, ``reason`` says it in Chinese then English."""

    def __init__(self, code: str, detail: str = "", field: str = "mdtrt_cert_no") -> None:
        zh, en = REASONS[code]
        super().__init__(field, f"{zh} {en}" + (f" ({detail})" if detail else ""), code)


@dataclass(frozen=True)
class VoucherParams:
    """Security settings of the voucher (``voucher/params.yaml``)."""

    lifetime_seconds: int  # how long a shown code stays valid
    max_lifetime_seconds: int  # a verifier refuses any token claiming longer
    clock_skew_seconds: int  # tolerated difference between the issuer's and the verifier's clocks
    admdvs: str  # the pooling region that issues (参保地区划)
    sources: dict[str, str] = field(default_factory=dict)


# local_setting: a value the bureau chooses; national_rule: a figure a national text sets
PARAM_BASES = ("local_setting", "national_rule")


def parse_params(data: Mapping[str, Any]) -> VoucherParams:
    """Validate the parameter mapping; each bad entry is named."""

    def seconds(name: str) -> int:
        entry = data.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), int) or entry["value"] <= 0:
            raise FieldError(name, "须为正整数秒并注明来源 must be {value: positive seconds, source}")
        if not str(entry.get("source", "")).strip():
            raise FieldError(f"{name}.source", "缺少来源 a source is required")
        if entry.get("basis", "local_setting") not in PARAM_BASES:
            raise FieldError(
                f"{name}.basis",
                f"依据类型无效 must be one of {', '.join(PARAM_BASES)}, not {entry['basis']!r}",
            )
        return int(entry["value"])

    life, longest, skew = seconds("lifetime"), seconds("max_lifetime"), seconds("clock_skew")
    if life > longest:
        raise FieldError("lifetime", "不得长于 max_lifetime must not exceed max_lifetime")
    admdvs = str(data.get("admdvs", "")).strip()
    if len(admdvs) != 6 or not admdvs.isdigit():
        raise FieldError("admdvs", "须为6位区划代码 must be a 6-digit region code")
    sources = {k: str(data[k]["source"]) for k in ("lifetime", "max_lifetime", "clock_skew")}
    return VoucherParams(life, longest, skew, admdvs, sources)


# ---------------------------------------------------------------------------- keys
@dataclass(frozen=True)
class VerifyKey:
    """One verification key: ``signing_until`` (Unix seconds) is when it stopped signing, ``None`` while it
    still signs; a token claiming to be issued after that is refused."""

    kid: str
    alg: str
    public: Ed25519PublicKey
    state: str
    signing_until: int | None = None


@dataclass(frozen=True)
class KeyRing:
    """The verification keys a hospital or pharmacy trusts, by key id."""

    keys: Mapping[str, VerifyKey]

    @staticmethod
    def of(keys: list[VerifyKey]) -> KeyRing:
        """A ring from a list of keys (later entries win on a repeated kid)."""
        return KeyRing({k.kid: k for k in keys})


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey


def public_from_raw(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 raw bytes."""
    return Ed25519PublicKey.from_public_bytes(raw)


def private_from_raw(raw: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from its 32 raw bytes (the seed)."""
    return Ed25519PrivateKey.from_private_bytes(raw)


# ---------------------------------------------------------------------------- claims and tokens
@dataclass(frozen=True, slots=True)
class VoucherClaims:
    """What a verified voucher says: who it is for, who shows it, the region, when, and its nonce."""

    kid: str
    psn_no: str  # 人员编号 of the insured the voucher stands for
    holder: str  # who shows it: the same psn_no, or the family member acting for them
    admdvs: str  # 参保地区划
    issued_at: int  # Unix seconds
    expires_at: int
    nonce: str  # base64url, single use

    @property
    def by_proxy(self) -> bool:
        """True when a family member shows the voucher for the insured (亲情账户代办)."""
        return self.holder != self.psn_no


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(now: dt.datetime) -> int:
    if now.tzinfo is None:
        raise FieldError("now", "须带时区 must be timezone-aware")
    return int(now.timestamp())


def issue(
    *,
    psn_no: str,
    holder: str,
    now: dt.datetime,
    key: SigningKey,
    nonce: bytes,
    params: VoucherParams,
) -> str:
    """A signed voucher for ``psn_no`` shown by ``holder`` (``holder == psn_no`` for oneself), valid for
    ``params.lifetime_seconds`` from ``now``.  ``nonce`` must be at least 16 random bytes, new each time."""
    if not psn_no or not psn_no.strip():
        raise FieldError("psn_no", "人员编号不能为空 person number is required")
    if not holder or not holder.strip():
        raise FieldError("holder", "出示人不能为空 holder is required")
    if len(nonce) < 16:
        raise FieldError("nonce", "随机数至少16字节 nonce must be at least 16 bytes")
    if "." in key.kid or not key.kid:
        raise FieldError("kid", "密钥编号不能含点 key id must be non-empty without dots")
    at = _epoch(now)
    claims = {
        "p": psn_no,
        "h": holder,
        "a": params.admdvs,
        "i": at,
        "e": at + params.lifetime_seconds,
        "n": _b64(nonce),
    }
    signed = f"{PREFIX}.{key.kid}.{_b64(orjson.dumps(claims))}"
    return f"{signed}.{_b64(key.private.sign(signed.encode('ascii')))}"


def peek(token: str) -> VoucherClaims:
    """The claims of ``token`` WITHOUT checking anything (for display and logs only)."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise VoucherError("malformed", "需要4段 expected 4 dot-separated parts")
    return _claims(parts[1], parts[2])


def _claims(kid: str, payload: str) -> VoucherClaims:
    try:
        c = orjson.loads(_unb64(payload))
        out = VoucherClaims(kid, c["p"], c["h"], c["a"], c["i"], c["e"], c["n"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise VoucherError("malformed", "声明无法解析 claims unreadable") from exc
    if not (
        isinstance(out.psn_no, str)
        and isinstance(out.holder, str)
        and isinstance(out.admdvs, str)
        and isinstance(out.nonce, str)
        and type(out.issued_at) is int
        and type(out.expires_at) is int
    ):
        raise VoucherError("malformed", "声明类型错误 claim of the wrong type")
    return out


class NonceStore(Protocol):
    """Single-use nonces: ``claim`` is True the first time a nonce is presented, False ever after (until
    ``expires_at`` has passed, when the expiry rule refuses the token anyway)."""

    def claim(self, nonce: str, expires_at: int, now: int) -> bool: ...


@dataclass(frozen=True)
class Revocations:
    """Revoked vouchers: single nonces, and per person every voucher issued before a moment (a lost phone)."""

    nonces: frozenset[str] = frozenset()
    before: Mapping[str, int] = field(default_factory=dict)  # psn_no -> Unix seconds

    def revoked(self, claims: VoucherClaims) -> bool:
        """True when ``claims`` is on the list."""
        cutoff = self.before.get(claims.psn_no)
        return claims.nonce in self.nonces or (cutoff is not None and claims.issued_at <= cutoff)


NO_REVOCATIONS = Revocations()


def verify(
    token: str,
    now: dt.datetime,
    keys: KeyRing,
    nonce_store: NonceStore,
    *,
    params: VoucherParams,
    revocations: Revocations = NO_REVOCATIONS,
    expect_psn_no: str | None = None,
) -> VoucherClaims:
    """Check ``token`` and use up its nonce; the claims when every rule passes, else :class:`VoucherError`.

    Order: format → key (known, not retired) → signature → claims → time (not in the future beyond the
    clock skew, not expired, lifetime within the maximum, not issued after its key stopped signing) →
    region → person (when ``expect_psn_no`` is given) → revocation → single use.  The nonce is used up
    only by a token that passed every other rule, so a refused token never burns a good one."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise VoucherError("malformed", "需要4段 expected 4 dot-separated parts")
    _, kid, payload, sig = parts
    key = keys.keys.get(kid)
    if key is None:
        raise VoucherError("unknown_key", kid)
    if key.state == "retired":
        raise VoucherError("key_retired", kid)
    try:
        key.public.verify(_unb64(sig), f"{PREFIX}.{kid}.{payload}".encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise VoucherError("bad_signature") from exc
    claims = _claims(kid, payload)
    at = _epoch(now)
    skew = params.clock_skew_seconds
    if claims.issued_at > at + skew:
        raise VoucherError("not_yet_valid")
    if claims.expires_at - claims.issued_at > params.max_lifetime_seconds:
        raise VoucherError("lifetime_too_long")
    if at > claims.expires_at + skew:
        raise VoucherError("expired")
    if key.signing_until is not None and claims.issued_at > key.signing_until + skew:
        raise VoucherError("signed_after_rotation", kid)
    if claims.admdvs != params.admdvs:
        raise VoucherError("wrong_region", claims.admdvs)
    if expect_psn_no is not None and claims.psn_no != expect_psn_no:
        raise VoucherError("wrong_person")
    if revocations.revoked(claims):
        raise VoucherError("revoked")
    if not nonce_store.claim(claims.nonce, claims.expires_at + skew, at):
        raise VoucherError("replayed")
    return claims


class MemoryNonceStore:
    """Nonces in a dict (nonce → expiry), pruned of expired entries as it grows.  Alone it serves one
    process (the benchmark, a single-node demo); :class:`yibao.voucher.store.SqlNonceStore` puts it in
    front of the database table as a cache of nonces already seen."""

    def __init__(self, prune_at: int = 100_000) -> None:
        self.seen: dict[str, int] = {}
        self.prune_at = prune_at

    def __contains__(self, nonce: str) -> bool:
        return nonce in self.seen

    def remember(self, nonce: str, expires_at: int, now: int) -> None:
        """Record ``nonce`` as used (pruning expired ones first when the dict is full)."""
        if len(self.seen) >= self.prune_at:
            self.seen = {n: e for n, e in self.seen.items() if e >= now}
        self.seen[nonce] = expires_at

    def claim(self, nonce: str, expires_at: int, now: int) -> bool:
        """True the first time ``nonce`` is seen."""
        if nonce in self.seen:
            return False
        self.remember(nonce, expires_at, now)
        return True
