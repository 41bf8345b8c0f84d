"""Adapter: logins, sessions and the access log on the ledger's database (SQLAlchemy Core, pooled,
thread-safe — unlike the ledger's single raw connection)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from yibao.access.passwords import (
    DUMMY_HASH,
    KNOWN_PASSWORDS,
    hash_password,
    password_problem,
    verify_password,
)
from yibao.access.schema import access_log, app_meta, app_session, app_user
from yibao.db import make_engine
from yibao.errors import FieldError

log = logging.getLogger(__name__)
# built once: building a statement costs more than running it
_USER_FOR_TOKEN = (
    sa.select(app_user, app_session.c.expires)
    .join(app_session, app_session.c.user_id == app_user.c.user_id)
    .where(app_session.c.token_hash == sa.bindparam("digest"), app_user.c.active == 1)
)

ROLES = ("insured", "institution", "employer", "auditor", "admin")


class UserError(FieldError):
    """A login that cannot be created as asked; nothing was written."""


@dataclass(frozen=True)
class UserRow:
    user_id: str
    username: str
    role: str
    display_name: str
    psn_no: str | None
    family_psn_nos: tuple[str, ...]
    fixmedins_code: str | None
    must_change_password: bool = False
    active: bool = True
    emp_no: str | None = None  # employer: its 参保单位


@dataclass(frozen=True)
class AccessEntry:
    id: int
    at: str
    user_id: str
    role: str
    display_name: str
    psn_no: str
    what: str
    path: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: Any) -> UserRow:
    return UserRow(
        row.user_id,
        row.username,
        row.role,
        row.display_name,
        row.psn_no,
        tuple(json.loads(row.family_psn_nos or "[]")),
        row.fixmedins_code,
        bool(row.must_change_password),
        bool(row.active),
        row.emp_no,
    )


class ServiceStore:
    """Users, sessions, access log.  ``sa_url`` is a SQLAlchemy URL (``Ledger.sa_url``)."""

    # access-log rows wait at most this long (or until this many are waiting) before one INSERT writes
    # them all: one row per read would cost a transaction each on the hot path
    ACCESS_FLUSH_SECONDS = 0.2
    ACCESS_FLUSH_ROWS = 200

    def __init__(
        self,
        sa_url: str,
        *,
        session_hours: float = 8.0,
        cache_seconds: float = 5.0,
        access_flush_seconds: float | None = None,
    ) -> None:
        self.engine = make_engine(sa_url)
        if access_flush_seconds is not None:  # 0: every row written before log_access returns
            self.ACCESS_FLUSH_SECONDS = access_flush_seconds
        # single-statement reads on the hot path: no transaction, no ROLLBACK round trip on return
        self._reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.session_hours = session_hours
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, UserRow]] = {}
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer at a time, so rows reach the table in order
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush_access()
        self.engine.dispose()

    # ------------------------------------------------------------------ users
    def create_user(
        self,
        username: str,
        password: str,
        role: str,
        display_name: str,
        *,
        psn_no: str | None = None,
        family_psn_nos: Sequence[str] = (),
        fixmedins_code: str | None = None,
        user_id: str | None = None,
        must_change_password: bool = False,
        emp_no: str | None = None,
    ) -> UserRow:
        """Create a login.  An insured login needs ``psn_no`` (its own number is always in the family
        list); an institution login needs ``fixmedins_code``; an employer login (参保单位) needs ``emp_no``.  The password must pass
        :func:`~yibao.access.passwords.password_problem` (a published demo password only in a demo
        database); ``must_change_password``: the login must choose a new password before anything else."""
        if role not in ROLES:
            raise UserError("role", f"角色无效 {role!r} is not one of {', '.join(ROLES)}")
        if not username.strip():
            raise UserError("username", "用户名必填 is required", "missing")
        problem = password_problem(password, username=username, demo_db=self.is_demo_db())
        if problem:
            raise UserError("password", problem, "weak_password")
        if role == "insured" and not psn_no:
            raise UserError(
                "psn_no", "参保人账号须填写人员编号 an insured login must name its person (psn_no)", "missing"
            )
        if role == "institution" and not fixmedins_code:
            raise UserError(
                "fixmedins_code",
                "机构账号须填写定点机构编号 an institution login must name its institution",
                "missing",
            )
        if role == "employer" and not (emp_no or "").strip():
            raise UserError(
                "emp_no",
                "单位账号须填写参保单位编号 an employer login must name its employer (emp_no)",
                "missing",
            )
        family = (
            tuple(dict.fromkeys(([psn_no] if psn_no else []) + list(family_psn_nos)))
            if role == "insured"
            else ()
        )
        row = UserRow(
            user_id or uuid.uuid4().hex,
            username,
            role,
            display_name,
            psn_no if role == "insured" else None,
            family,
            fixmedins_code if role == "institution" else None,
            must_change_password,
            emp_no=emp_no if role == "employer" else None,
        )
        try:
            with self.engine.begin() as c:
                c.execute(
                    app_user.insert().values(
                        user_id=row.user_id,
                        username=username,
                        password_hash=hash_password(password),
                        role=role,
                        display_name=display_name,
                        psn_no=row.psn_no,
                        family_psn_nos=json.dumps(list(family)),
                        fixmedins_code=row.fixmedins_code,
                        active=1,
                        created=_now().isoformat(),
                        must_change_password=int(must_change_password),
                        emp_no=row.emp_no,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise UserError(
                "username", f"用户名已被占用 {username!r} is already taken", "duplicate_user"
            ) from exc
        return row

    def get_user(self, user_id: str) -> UserRow | None:
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(app_user).where(app_user.c.user_id == user_id, app_user.c.active == 1)
            ).first()
        return _user(r) if r else None

    def list_users(self) -> list[UserRow]:
        """Every login, enabled or not."""
        with self.engine.connect() as c:
            return [_user(r) for r in c.execute(sa.select(app_user).order_by(app_user.c.username))]

    def user_by_name(self, username: str) -> UserRow | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(app_user).where(app_user.c.username == username)).first()
        return _user(r) if r else None

    def _forget_user(self, c: sa.Connection, user_id: str) -> None:
        c.execute(app_session.delete().where(app_session.c.user_id == user_id))
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1].user_id != user_id}

    def forget_cached(self, user_id: str) -> None:
        """Drop this worker's cached copy of a login (its sessions stay): the next request reads it again."""
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1].user_id != user_id}

    def set_password(
        self, username: str, password: str, *, must_change: bool = False, keep_session: str | None = None
    ) -> UserRow:
        """Set a login's password (an administrator's reset when ``must_change``: the user must choose a
        new one at the next login).  Every other session of the login ends; ``keep_session`` (a token)
        stays open (the session that made the change)."""
        user = self.user_by_name(username)
        if user is None:
            raise UserError("username", f"没有此用户 no login {username!r}", "unknown_user")
        problem = password_problem(password, username=username, demo_db=self.is_demo_db())
        if problem:
            raise UserError("password", problem, "weak_password")
        with self.engine.begin() as c:
            c.execute(
                app_user.update()
                .where(app_user.c.user_id == user.user_id)
                .values(
                    password_hash=hash_password(password),
                    must_change_password=int(must_change),
                    password_changed=_now().isoformat(timespec="seconds"),
                )
            )
            keep = token_digest(keep_session) if keep_session else None
            c.execute(
                app_session.delete().where(
                    app_session.c.user_id == user.user_id,
                    *([app_session.c.token_hash != keep] if keep else []),
                )
            )
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1].user_id != user.user_id}
        return self.user_by_name(username) or user

    def change_password(
        self, user_id: str, old: str, new: str, *, keep_session: str | None = None
    ) -> UserRow:
        """The user's own change: the current password is required; the new one must differ from it."""
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(app_user).where(app_user.c.user_id == user_id, app_user.c.active == 1)
            ).first()
        if r is None or not verify_password(old, r.password_hash):
            raise UserError("old_password", "当前密码错误 the current password is wrong", "wrong_password")
        if old == new:
            raise UserError("new_password", "新密码须与旧密码不同 must differ from the current password")
        try:
            return self.set_password(r.username, new, keep_session=keep_session)
        except UserError as exc:
            raise UserError("new_password", exc.reason, exc.code) from exc

    def set_active(self, username: str, active: bool) -> UserRow:
        """Disable (every session ends at once) or enable a login."""
        user = self.user_by_name(username)
        if user is None:
            raise UserError("username", f"没有此用户 no login {username!r}", "unknown_user")
        with self.engine.begin() as c:
            c.execute(app_user.update().where(app_user.c.user_id == user.user_id).values(active=int(active)))
            if not active:
                self._forget_user(c, user.user_id)
        return self.user_by_name(username) or user

    # ------------------------------------------------------------------ demo databases
    def is_demo_db(self) -> bool:
        """Is this a demonstration database (marked by :meth:`mark_demo`)?"""
        with self.engine.connect() as c:
            v = c.execute(sa.select(app_meta.c.value).where(app_meta.c.key == "demo")).scalar()
        return v == "1"

    def mark_demo(self) -> None:
        """Mark this database as a demonstration database, where the published demo logins may exist.
        Refused when it already holds logins and is not a demo database (a real deployment)."""
        if self.is_demo_db():
            return
        if self.list_users():
            raise UserError(
                "database",
                "此数据库已有正式用户，不能标为演示库 this database has real logins and cannot become a demo database",
                "not_demo",
            )
        with self.engine.begin() as c:
            c.execute(app_meta.insert().values(key="demo", value="1"))

    def users_with_known_password(self) -> list[str]:
        """Usernames of enabled logins whose password is a published one (see
        :data:`~yibao.access.passwords.KNOWN_PASSWORDS`)."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(app_user.c.username, app_user.c.password_hash).where(app_user.c.active == 1)
            ).all()
        return [r.username for r in rows if any(verify_password(k, r.password_hash) for k in KNOWN_PASSWORDS)]

    def authenticate(self, username: str, password: str) -> UserRow | None:
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(app_user).where(app_user.c.username == username, app_user.c.active == 1)
            ).first()
        ok = verify_password(password, r.password_hash if r else DUMMY_HASH)
        return _user(r) if r and ok else None

    # ------------------------------------------------------------------ sessions
    def open_session(self, user_id: str) -> str:
        """A new opaque token (256 random bits); only its SHA-256 is stored."""
        token = secrets.token_urlsafe(32)
        now = _now()
        with self.engine.begin() as c:
            c.execute(
                app_session.insert().values(
                    token_hash=token_digest(token),
                    user_id=user_id,
                    created=now.isoformat(),
                    expires=(now + dt.timedelta(hours=self.session_hours)).isoformat(),
                )
            )
        return token

    def close_session(self, token: str) -> None:
        digest = token_digest(token)
        with self._lock:
            self._cache.pop(digest, None)
        with self.engine.begin() as c:
            c.execute(app_session.delete().where(app_session.c.token_hash == digest))

    def cached_user(self, token: str) -> UserRow | None:
        """The user of a session this worker checked within ``cache_seconds``, else None (ask
        :meth:`user_for_token`)."""
        hit = self._cache.get(token_digest(token))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def user_for_token(self, token: str) -> UserRow | None:
        """The user of a live session, or None (unknown, expired or user disabled)."""
        digest = token_digest(token)
        mono = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > mono:
            return hit[1]
        with self._reads.connect() as c:
            r = c.execute(_USER_FOR_TOKEN, {"digest": digest}).first()
        if r is None or r.expires <= _now().isoformat():
            return None
        user = _user(r)
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (mono + self.cache_seconds, user)
        return user

    # ------------------------------------------------------------------ access log
    def log_access(self, user: UserRow, psn_no: str, what: str, path: str) -> None:
        """Record that ``user`` read ``psn_no``'s data.  The row is written within
        :attr:`ACCESS_FLUSH_SECONDS` together with the others logged meanwhile (one INSERT), at once when
        :attr:`ACCESS_FLUSH_ROWS` are waiting, and before this store reads the log or closes."""
        row = {
            "at": _now().isoformat(timespec="seconds"),
            # every column cut to its width: a row the table cannot take would hold up the rows behind it
            "user_id": user.user_id[:40],
            "role": user.role[:16],
            "display_name": user.display_name[:100],
            "psn_no": psn_no[:40],
            "what": what[:200],
            "path": path[:300],
        }
        with self._pending_lock:
            self._pending.append(row)
            # written at once when the batch is full, batching is off, or the writer has stopped (shutting down)
            full = (
                len(self._pending) >= self.ACCESS_FLUSH_ROWS or self.ACCESS_FLUSH_SECONDS <= 0 or self._closed
            )
            if self._flusher is None and not self._closed and self.ACCESS_FLUSH_SECONDS > 0:
                self._flusher = threading.Thread(target=self._flush_loop, name="access-log", daemon=True)
                self._flusher.start()
        if full:
            self.flush_access()

    def flush_access(self) -> int:
        """Write the waiting access-log rows now (one INSERT); returns how many.  A failed write puts
        them back at the head of the queue and raises."""
        with self._flush_lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                with self.engine.begin() as c:
                    c.execute(access_log.insert(), rows)
            except Exception:
                written = self._write_one_by_one(rows)
                if not written:  # none went in: the database is away, keep them all for the next try
                    with self._pending_lock:
                        self._pending[:0] = rows
                    raise
                return written
            return len(rows)

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        """After a batch failed: each row on its own, so that one row the table refuses does not hold up the
        others (it is logged, without the person's number, and dropped); returns how many went in."""
        written = failed = 0
        for row in rows:
            try:
                with self.engine.begin() as c:
                    c.execute(access_log.insert(), [row])
                written += 1
            except Exception:
                failed += 1
                if not written and failed >= 3:
                    return 0  # three refusals and no success: the database is away, not a row
                log.exception(
                    "访问记录写入失败，已丢弃 access-log row refused by the database (%s)", row["path"]
                )
        return written

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.ACCESS_FLUSH_SECONDS)
            try:
                self.flush_access()
            except Exception:  # the database away for a moment: the rows stay queued for the next try
                log.warning("access log not written yet; retrying", exc_info=True)

    def access_entries(self, psn_no: str | None = None, limit: int = 100) -> list[AccessEntry]:
        """Newest first; every person when ``psn_no`` is None (rows this store logged are written first)."""
        self.flush_access()
        q = sa.select(access_log).order_by(access_log.c.id.desc()).limit(limit)
        if psn_no is not None:
            q = q.where(access_log.c.psn_no == psn_no)
        with self.engine.connect() as c:
            return [
                AccessEntry(r.id, r.at, r.user_id, r.role, r.display_name, r.psn_no, r.what, r.path)
                for r in c.execute(q)
            ]
