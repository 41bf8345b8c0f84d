"""Filings on the shared database (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa

from yibao.crossregion.filing import Filing, FilingError
from yibao.crossregion.schema import xr_break_action, xr_filing


def _d(v: str | None) -> dt.date | None:
    return dt.date.fromisoformat(v) if v else None


def _row(f: Filing) -> dict[str, Any]:
    return {
        "filing_id": f.filing_id,
        "psn_no": f.psn_no,
        "insu_admdvs": f.insu_admdvs,
        "care_admdvs": f.care_admdvs,
        "type_code": f.type_code,
        "channel": f.channel,
        "begin": f.begin.isoformat(),
        "end": f.end.isoformat() if f.end else None,
        "filed_on": f.filed_on.isoformat(),
        "reason": f.reason,
        "fixmedins_code": f.fixmedins_code,
        "status": f.status,
        "replaces": f.replaces,
        "closed_on": f.closed_on.isoformat() if f.closed_on else None,
    }


def _filing(r: Any) -> Filing:
    m = r._mapping
    begin = _d(m["begin"])
    filed = _d(m["filed_on"])
    assert begin is not None and filed is not None
    return Filing(
        filing_id=m["filing_id"],
        psn_no=m["psn_no"],
        insu_admdvs=m["insu_admdvs"],
        care_admdvs=m["care_admdvs"],
        type_code=m["type_code"],
        channel=m["channel"],
        begin=begin,
        end=_d(m["end"]),
        filed_on=filed,
        reason=m["reason"],
        fixmedins_code=m["fixmedins_code"],
        status=m["status"],
        replaces=m["replaces"],
        closed_on=_d(m["closed_on"]),
    )


class FilingStore:
    """Filings of the insured region's persons.  ``engine``: a SQLAlchemy engine on the migrated database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, *filings: Filing) -> None:
        """Insert new filings and update changed ones, all in one transaction."""
        with self.engine.begin() as c:
            for f in filings:
                exists = c.execute(
                    sa.select(xr_filing.c.filing_id).where(xr_filing.c.filing_id == f.filing_id)
                ).first()
                if exists:
                    c.execute(xr_filing.update().where(xr_filing.c.filing_id == f.filing_id).values(_row(f)))
                else:
                    c.execute(xr_filing.insert().values(_row(f)))

    def get(self, filing_id: str) -> Filing:
        with self.engine.connect() as c:
            r = c.execute(sa.select(xr_filing).where(xr_filing.c.filing_id == filing_id)).first()
        if r is None:
            raise FilingError("filing_id", f"备案 {filing_id!r} 不存在 unknown filing", "unknown_filing")
        return _filing(r)

    # built once: a statement object keeps its cache key, so a call does not rebuild and re-key it
    _FOR_PERSON = (
        sa.select(xr_filing)
        .where(xr_filing.c.psn_no == sa.bindparam("b_psn_no"))
        .order_by(xr_filing.c.filed_on)
    )

    def for_person(self, psn_no: str) -> list[Filing]:
        """Every filing of ``psn_no`` (on the path of every visitor's settlement at the insured region)."""
        with self.engine.connect() as c:
            rows = c.execute(self._FOR_PERSON, {"b_psn_no": psn_no}).fetchall()
        return [_filing(r) for r in rows]

    def queue(self, status: str = "active", limit: int = 200) -> list[Filing]:
        """The bureau's list of filings, newest first."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(xr_filing)
                .where(xr_filing.c.status == status)
                .order_by(xr_filing.c.filed_on.desc())
                .limit(limit)
            ).fetchall()
        return [_filing(r) for r in rows]


# ---------------------------------------------------------------- routing records
def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


MONEY = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


class RouteTable:
    """One of the three routing tables (``xr_outbound`` / ``xr_inbound`` / ``xr_route``), keyed by msgid,
    whose status only moves by conditional updates (``UPDATE … WHERE status = expected``), so two
    racing actors on one msgid (a late settle and its reversal) cannot both win."""

    def __init__(
        self, engine: sa.Engine, table: sa.Table, write_lock: AbstractContextManager[Any] | None = None
    ) -> None:
        self.engine = engine
        self.t = table
        # On SQLite one writer holds the file at a time; writers of one process queue on this lock (shared with
        # the ledger's, which writes the same file) instead of meeting SQLITE_BUSY and the busy handler's
        # back-off sleeps (1, 2, 5, 10 … ms), which set the tail latency of a routed settlement.
        self._write = write_lock if write_lock is not None else (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )  # fmt: skip

        # statements built once (each keeps its cache key): on the path of every routed settlement, building
        # and keying a statement per call cost more than running it.  The values come as parameters: an
        # UPDATE without .values() sets the columns its parameters name.
        t = table
        self._insert = t.insert()
        self._get = sa.select(t).where(t.c.msgid == sa.bindparam("b_msgid"))
        # one UPDATE per number of expected statuses, each status its own bound parameter: an "expanding" IN
        # parameter is rendered into the SQL again on every call (its cache key does not cover the values)
        self._moves: dict[int, sa.Update] = {}
        # On a SQLite file the two writes of every routed settlement (insert, then the move) go through one
        # sqlite3 connection of this table's own, used only under the write lock: the same statements and
        # transactions at about a third of the CPU of SQLAlchemy's connection, transaction and compiled-cache
        # round per call.  Reads stay on the engine (WAL: they see every committed write).
        self._file = _sqlite_file(engine)
        self._raw: sqlite3.Connection | None = None
        self._raw_lock = threading.Lock()
        self._columns = frozenset(c.name for c in table.c)

    def _raw_write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one write in its own transaction on this table's sqlite3 connection; its row count."""
        assert self._file is not None
        with self._raw_lock:
            if self._raw is None:
                # the engine's own connection settings: its synchronous level and busy timeout
                with self.engine.connect() as c:
                    sync_level = c.exec_driver_sql("PRAGMA synchronous").scalar()
                    busy = int(c.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
                sync = 2 if sync_level is None else int(sync_level)
                conn = sqlite3.connect(
                    self._file, timeout=busy / 1000, check_same_thread=False, isolation_level=None
                )
                conn.execute(f"PRAGMA synchronous={sync:d}")
                self._raw = conn
            conn = self._raw
            conn.execute("BEGIN")
            try:
                n = conn.execute(sql, params).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (a full disk …)
                    conn.execute("ROLLBACK")
                raise
            return n

    def _names(self, keys: Any) -> list[str]:
        names = list(keys)
        unknown = [k for k in names if k not in self._columns]
        if unknown:
            raise sa.exc.CompileError(f"Unconsumed column names: {', '.join(unknown)}")
        return names

    def insert(self, msgid: str, status: str, **values: Any) -> bool:
        """Insert a new record; False when the msgid is already there."""
        now = _now()
        if self._file is not None:
            row = {"msgid": msgid, "status": status, "created": now, "updated": now, **values}
            names = self._names(row)
            cols = ", ".join(_q(k) for k in names)
            sql = f"INSERT INTO {_q(self.t.name)} ({cols}) VALUES ({', '.join('?' for _ in names)})"
            try:
                with self._write:
                    self._raw_write(sql, tuple(row.values()))
            except sqlite3.IntegrityError:
                return False
            return True
        try:
            with self._write, self.engine.begin() as c:
                c.execute(
                    self._insert, {"msgid": msgid, "status": status, "created": now, "updated": now, **values}
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def get(self, msgid: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            r = c.execute(self._get, {"b_msgid": msgid}).first()
        return dict(r._mapping) if r is not None else None

    def msgid_of(self, setl_id: str) -> str | None:
        """The msgid of the record holding ``setl_id`` (None: none)."""
        with self.engine.connect() as c:
            r = c.execute(sa.select(self.t.c.msgid).where(self.t.c.setl_id == setl_id)).first()
        return None if r is None else str(r[0])

    def move(self, msgid: str, expected: tuple[str, ...], status: str, **values: Any) -> bool:
        """Move ``msgid`` from one of ``expected`` to ``status``; False when it was not in one of them."""
        if self._file is not None:
            sets = {"status": status, "updated": _now(), **values}
            names = self._names(sets)
            cols = ", ".join(f"{_q(k)} = ?" for k in names)
            sql = (f"UPDATE {_q(self.t.name)} SET {cols} "
                   f"WHERE msgid = ? AND status IN ({', '.join('?' for _ in expected)})")  # fmt: skip
            with self._write:
                return bool(self._raw_write(sql, (*sets.values(), msgid, *expected)))
        stmt = self._moves.get(len(expected))
        if stmt is None:
            t = self.t
            slots: list[sa.BindParameter[str]] = [
                sa.bindparam(f"b_expected{i}") for i in range(len(expected))
            ]
            stmt = self._moves[len(expected)] = t.update().where(
                t.c.msgid == sa.bindparam("b_msgid"), t.c.status.in_(slots)
            )
        params = {
            "b_msgid": msgid,
            **{f"b_expected{i}": s for i, s in enumerate(expected)},
            "status": status,
            "updated": _now(),
            **values,
        }
        with self._write, self.engine.begin() as c:
            n = c.execute(stmt, params).rowcount
        return bool(n)

    def delete(self, msgid: str, expected: str) -> bool:
        with self._write, self.engine.begin() as c:
            n = c.execute(
                self.t.delete().where(self.t.c.msgid == msgid, self.t.c.status == expected)
            ).rowcount
        return bool(n)

    def with_status(self, *statuses: str, limit: int = 10_000) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(self.t).where(self.t.c.status.in_(statuses)).order_by(self.t.c.created).limit(limit)
            ).fetchall()
        return [dict(r._mapping) for r in rows]

    def all(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(self.t).order_by(self.t.c.created)).fetchall()
        return [dict(r._mapping) for r in rows]


class BreakLog:
    """What clearing clerks did about reconciliation breaks (对账差异处理), newest first when read."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record(self, **row: str) -> None:
        """One action: ``msgid, side, kind, action, reason, actor, outcome, note``; stamped now (UTC)."""
        with self.engine.begin() as c:
            c.execute(xr_break_action.insert().values(at=_now(), **row))

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        t = xr_break_action
        with self.engine.connect() as c:
            rows = c.execute(sa.select(t).order_by(t.c.id.desc()).limit(limit)).fetchall()
        return [dict(r._mapping) for r in rows]


def _q(name: str) -> str:
    """A table or column name of the schema, quoted for SQLite."""
    return '"' + name.replace('"', '""') + '"'


def _sqlite_file(engine: sa.Engine) -> str | None:
    """The file of a SQLite engine on a plain file path (None: another database, in memory, or a URI)."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.query:
        return None
    db = url.database or ""
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return os.path.abspath(db)  # as the engine opens it: a later chdir must not open another file


def engine_for(sa_url: str) -> sa.Engine:
    """A SQLAlchemy engine for the routing tables: on SQLite in WAL mode with ``synchronous=NORMAL`` (the
    ledger's own setting) and a generous busy timeout, since the region's ledger writes the same file."""
    if not sa_url.startswith("sqlite"):
        return sa.create_engine(sa_url, pool_size=8, max_overflow=8, pool_pre_ping=True)
    engine = sa.create_engine(sa_url, connect_args={"timeout": 60, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine
