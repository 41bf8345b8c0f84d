"""Password hashing with the standard library's scrypt (RFC 7914); no extra dependency."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: N=2^14, r=8, p=1 (16 MiB, the interactive-login setting of RFC 7914 §2 / OWASP's minimum).
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), salted with 16 random bytes."""
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string; malformed → False."""
    try:
        algo, n, r, p, salt, dk = stored.split("$")
        if algo != "scrypt":
            return False
        want = base64.b64decode(dk)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# A fixed hash to verify against when the username is unknown, so a wrong username costs as much time as
# a wrong password (no user enumeration by timing).
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# Passwords published with the software (the demo logins printed by ``yibao demo``).  A login with one of
# these may exist only in a database marked as a demonstration database; ``yibao serve`` refuses to start
# otherwise, and no password may be set to one of them outside a demo database.
DEMO_PASSWORD = "yibao-demo-2026"
KNOWN_PASSWORDS = (DEMO_PASSWORD,)
MIN_LENGTH, MAX_LENGTH = 8, 200


def password_problem(password: str, *, username: str = "", demo_db: bool = False) -> str | None:
    """Why ``password`` may not be used for a login (Chinese first with English), or None if it may."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符 must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"密码最多 {MAX_LENGTH} 个字符 must be at most {MAX_LENGTH} characters"
    if username and password.strip().lower() == username.strip().lower():
        return "密码不能与用户名相同 must differ from the username"
    if not demo_db and password in KNOWN_PASSWORDS:
        return "不能使用公开的演示密码 a published demo password may not be used outside a demo database"
    return None
