"""The encounter's records on the shared, migrated database (SQLAlchemy Core): visits, fee lines,
sign-ins, the messages a 2601 may reverse, social-security cards, files and institutions.

Every change and the record of the message that made it are written in one transaction, so a retry or a
reversal finds either both or neither."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from yibao.encounter.core import LIVE, EncounterError, FeeLine, Figures, Reconciliation, VisitRecord
from yibao.encounter.schema import (
    enc_card,
    enc_file,
    enc_institution,
    enc_line,
    enc_msg,
    enc_presented,
    enc_reconciliation,
    enc_sign,
    enc_visit,
)

T = TypeVar("T")


def _ping_if_idle(engine: sa.Engine) -> Callable[[Any, Any, Any], None]:
    """A pool checkout hook: ping a connection that sat idle longer than :data:`PING_IDLE_SECONDS` (the
    dialect's own ping, as ``pool_pre_ping`` would send on every checkout); a dead one is replaced."""

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        now = time.monotonic()
        if now - record.info.get("yibao_used", now) > PING_IDLE_SECONDS:
            try:
                alive = engine.dialect.do_ping(dbapi_conn)
            except Exception:
                alive = False
            if not alive:
                raise sa.exc.DisconnectionError("idle connection failed its ping")
        record.info["yibao_used"] = now

    return checkout


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def request_key(infno: str, payload: Any) -> str:
    """A digest of a request's input: a msgid reused with another input is a conflict."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{infno}|{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Message:
    """A message of this capability as recorded (its answer and what a reversal undoes)."""

    msgid: str
    infno: str
    fixmedins_code: str
    request_key: str
    answer: dict[str, Any]
    undo: dict[str, Any]
    reversed_by: str | None


@dataclass(frozen=True)
class Institution:
    fixmedins_code: str
    fixmedins_name: str
    hosp_lv: str
    admdvs: str
    sm2_public_key: str = ""


def _visit(r: Any) -> VisitRecord:
    return VisitRecord(
        r.mdtrt_id,
        r.fixmedins_code,
        r.psn_no,
        r.insutype,
        r.kind,
        r.med_type,
        r.ipt_otp_no,
        r.hosp_lv,
        r.mdtrt_cert_type,
        r.begntime,
        r.endtime,
        r.status,
        tuple(json.loads(r.diagnoses)),
        json.loads(r.info),
    )


def _line(r: Any) -> FeeLine:
    return FeeLine(
        r.mdtrt_id,
        r.feedetl_sn,
        r.chrg_bchno,
        r.med_list_codg,
        r.medins_list_codg,
        int(r.qty),
        int(r.pric),
        int(r.amount),
        r.fee_ocur_time,
        int(r.fulamt_ownpay_amt),
        int(r.overlmt_amt),
        int(r.preselfpay_amt),
        int(r.inscp_scp_amt),
        r.status,
        r.setl_id,
        r.msgid,
        json.loads(r.info),
    )


class _Read:
    """A read built once with Core, compiled once per dialect and run straight on the driver's connection.
    For these short reads SQLAlchemy's execution (the compiled-statement cache, the execution context, the
    result and its column objects) cost twice what the driver spends sending the statement and reading the
    rows.  The rows are named tuples of the selected columns: every column here is text or an integer,
    which the driver returns as SQLAlchemy would (no result processing).  A driver error goes through
    SQLAlchemy's own handling — wrapped, and the connection invalidated when it is gone — as from
    ``Connection.execute``."""

    def __init__(self, stmt: sa.Select[Any]) -> None:
        self.stmt = stmt
        self.row: Any = namedtuple("_Row", list(stmt.selected_columns.keys()), rename=True)  # type: ignore[misc]
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def rows(self, c: sa.Connection, params: Mapping[str, Any]) -> list[Any]:
        got = self._compiled.get(c.dialect.name)
        if got is None:
            compiled = self.stmt.compile(dialect=c.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            got = self._compiled[c.dialect.name] = (compiled.string, order, dict(compiled.params))
        sql, order, defaults = got
        values = {**defaults, **params}
        args: Any = values if order is None else tuple(values[k] for k in order)
        cursor = None
        try:
            cursor = c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(sql, args)
            rows = cursor.fetchall()
            cursor.close()
        except Exception as exc:
            c._handle_dbapi_exception(exc, sql, args, cursor, None)  # raises, as Connection.execute would
        make = self.row._make
        return [make(r) for r in rows]

    def first(self, c: sa.Connection, params: Mapping[str, Any]) -> Any:
        rows = self.rows(c, params)
        return rows[0] if rows else None


# built once: building a statement (and its cache key) costs more than running it
_PRESENTED_AT = (  # through SQLAlchemy: a positive answer is kept in the worker for a minute
    sa.select(enc_presented.c.digest)
    .where(enc_presented.c.fixmedins_code == sa.bindparam("f"), enc_presented.c.psn_no == sa.bindparam("p"))
    .limit(1)
)
_PRESENTED_PSN = _Read(sa.select(enc_presented.c.psn_no).where(enc_presented.c.digest == sa.bindparam("k")))
_INSTITUTION = _Read(sa.select(enc_institution).where(enc_institution.c.fixmedins_code == sa.bindparam("k")))
_CARD = _Read(sa.select(enc_card).where(enc_card.c.card_no == sa.bindparam("k")))
_SIGN = _Read(sa.select(enc_sign).where(enc_sign.c.sign_no == sa.bindparam("k")))
_MESSAGE = _Read(sa.select(enc_msg).where(enc_msg.c.msgid == sa.bindparam("k")))
_VISIT = _Read(sa.select(enc_visit).where(enc_visit.c.mdtrt_id == sa.bindparam("k")))
_FIND_VISIT = _Read(
    sa.select(enc_visit).where(
        enc_visit.c.fixmedins_code == sa.bindparam("f"),
        enc_visit.c.ipt_otp_no == sa.bindparam("n"),
        enc_visit.c.status != "cancelled",
    )
)
_LINES = sa.select(enc_line).where(enc_line.c.mdtrt_id == sa.bindparam("k"))
_ORDER = (enc_line.c.fee_ocur_time, enc_line.c.feedetl_sn)
_LIVE_LINES = _Read(_LINES.where(enc_line.c.status == LIVE).order_by(*_ORDER))
_ALL_LINES = _Read(_LINES.order_by(*_ORDER))
_SETTLED_LINES = _Read(sa.select(enc_line).where(enc_line.c.setl_id == sa.bindparam("k")))
_SNS: sa.BindParameter[str] = sa.bindparam("w_sns", expanding=True)
_USED_SN = sa.select(enc_line.c.feedetl_sn).where(
    enc_line.c.mdtrt_id == sa.bindparam("w_id"), enc_line.c.feedetl_sn.in_(_SNS)
)
_INSERT_MSG = enc_msg.insert()
_INSERT_VISIT = enc_visit.insert()
_INSERT_LINE = enc_line.insert()
_INSERT_PRESENTED = enc_presented.insert()
_DELETE_PRESENTED = (
    enc_presented.delete()
    .where(enc_presented.c.digest == sa.bindparam("w_digest"))
    .returning(enc_presented.c.psn_no)
)
_UPDATE_VISIT = enc_visit.update().where(
    enc_visit.c.mdtrt_id == sa.bindparam("w_id"), enc_visit.c.status == sa.bindparam("w_status")
)
_LINES_OF = (enc_line.c.mdtrt_id == sa.bindparam("w_id"), enc_line.c.feedetl_sn.in_(_SNS))
_LINE_STATUS = enc_line.update().where(*_LINES_OF, enc_line.c.setl_id.is_(None))
_TAKE_LINES = enc_line.update().where(*_LINES_OF, enc_line.c.setl_id.is_(None), enc_line.c.status == LIVE)
_FREE_LINES = enc_line.update().where(*_LINES_OF)
_MARK_REVERSED = enc_msg.update().where(enc_msg.c.msgid == sa.bindparam("w_msgid"))

# a pooled connection idle longer than this is pinged before use (a database restart leaves it dead); one
# in steady use is not — a dead one is met by the read, which is retried once on a fresh connection
PING_IDLE_SECONDS = 10.0


class EncounterStore:
    """Visits, lines, sign-ins and messages on ``engine``."""

    # a person once presented at an institution stays presented: a positive answer is kept this long
    # in the process (a 2207 follows its 1101 within minutes; each check otherwise costs a pooled query)
    PRESENTED_CACHE_SECONDS = 60.0
    PRESENTED_CACHE_MAX = 100_000

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        # single-statement reads on the hot path: no transaction, so returning the connection to the pool
        # costs no ROLLBACK round trip
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._presented_cache: dict[tuple[str, str], float] = {}
        self._presented_lock = threading.Lock()
        # bumped whenever a credential moves to another person: a check whose database read began before
        # the move must not remember its (possibly stale) answer
        self._presented_generation = 0

    @staticmethod
    def open(sa_url: str) -> EncounterStore:
        args: dict[str, Any] = {"timeout": 30} if sa_url.startswith("sqlite") else {}
        engine = sa.create_engine(sa_url, connect_args=args)
        sa.event.listen(engine, "checkout", _ping_if_idle(engine))
        return EncounterStore(engine)

    def _read(self, work: Callable[[sa.Connection], T]) -> T:
        """Run the reads ``work`` on a pooled connection in autocommit mode — no BEGIN and no ROLLBACK
        round trip around them (each statement sees the data committed when it starts, as it does under
        READ COMMITTED in a transaction) — once more on a fresh connection when the pooled one turns out
        to be dead (the database restarted)."""
        try:
            with self._reads.connect() as c:
                return work(c)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self._reads.connect() as c:
            return work(c)

    def _first(self, q: _Read, key: Any) -> Any:
        return self._read(lambda c: q.first(c, {"k": key}))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A write transaction; a unique key taken meanwhile by a concurrent request (the same msgid, the
        same feedetl_sn) is a refusal naming it, not a server error."""
        try:
            with self.engine.begin() as c:
                yield c
        except sa.exc.IntegrityError:
            raise EncounterError(
                "msgid",
                "同一报文或明细正由另一笔交易处理 the same message or line is being processed",
                "duplicate",
            ) from None

    # ------------------------------------------------------------------ reference data
    def add_institution(self, inst: Institution) -> None:
        with self._begin() as c:
            c.execute(enc_institution.delete().where(enc_institution.c.fixmedins_code == inst.fixmedins_code))
            c.execute(
                enc_institution.insert().values(
                    fixmedins_code=inst.fixmedins_code,
                    fixmedins_name=inst.fixmedins_name,
                    hosp_lv=inst.hosp_lv,
                    admdvs=inst.admdvs,
                    sm2_public_key=inst.sm2_public_key or None,
                )
            )

    def institution(self, code: str) -> Institution | None:
        r = self._first(_INSTITUTION, code)
        if r is None:
            return None
        return Institution(r.fixmedins_code, r.fixmedins_name, r.hosp_lv, r.admdvs, r.sm2_public_key or "")

    def add_card(self, card_no: str, card_sn: str, psn_no: str) -> None:
        """Register a social-security card (社会保障卡) of ``psn_no``."""
        with self._begin() as c:
            c.execute(enc_card.delete().where(enc_card.c.card_no == card_no))
            c.execute(
                enc_card.insert().values(card_no=card_no, card_sn=card_sn, psn_no=psn_no, status="valid")
            )

    def card(self, card_no: str) -> tuple[str, str, str] | None:
        """(card_sn, psn_no, status) of a card number."""
        r = self._first(_CARD, card_no)
        return None if r is None else (r.card_sn, r.psn_no, r.status)

    @staticmethod
    def _digest(fixmedins_code: str, cert_type: str, cert_no: str) -> str:
        return hashlib.sha256(f"{fixmedins_code}|{cert_type}|{cert_no}".encode()).hexdigest()

    def presented(self, fixmedins_code: str, cert_type: str, cert_no: str, psn_no: str) -> None:
        """Record that a credential naming ``psn_no`` was presented (1101) at ``fixmedins_code``."""
        digest = self._digest(fixmedins_code, cert_type, cert_no)
        with self._begin() as c:
            gone = c.execute(_DELETE_PRESENTED, {"w_digest": digest}).all()
            moved = [str(old) for (old,) in gone if str(old) != psn_no]
            if moved:
                self._forget_presented(fixmedins_code, moved)
            c.execute(
                _INSERT_PRESENTED,
                {"digest": digest, "fixmedins_code": fixmedins_code, "psn_no": psn_no, "at": now_utc()},
            )
        if moved:  # again once committed: a check that read the old row meanwhile stores nothing
            self._forget_presented(fixmedins_code, moved)

    def _forget_presented(self, fixmedins_code: str, persons: Sequence[str]) -> None:
        """A credential now naming someone else: forget the old person's answer in this worker, and make
        every check already reading the database leave its answer unremembered."""
        with self._presented_lock:
            self._presented_generation += 1
            for old in persons:
                self._presented_cache.pop((fixmedins_code, old), None)

    def present_many(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """Bulk :meth:`presented`: (fixmedins_code, cert_type, cert_no, psn_no) rows (fixtures, benchmarks)."""
        at = now_utc()
        with self._begin() as c:
            c.execute(
                enc_presented.insert(),
                [
                    {"digest": self._digest(f, t, n), "fixmedins_code": f, "psn_no": p, "at": at}
                    for f, t, n, p in rows
                ],
            )

    def presented_at(self, fixmedins_code: str, psn_no: str) -> bool:
        """Whether any credential of ``psn_no`` was presented at ``fixmedins_code``."""
        key = (fixmedins_code, psn_no)
        until = self._presented_cache.get(key)
        if until is not None and until > time.monotonic():
            return True
        generation = self._presented_generation
        found = (
            self._read(lambda c: c.execute(_PRESENTED_AT, {"f": fixmedins_code, "p": psn_no}).first())
            is not None
        )
        if found and self.PRESENTED_CACHE_SECONDS > 0:
            with self._presented_lock:
                if generation != self._presented_generation:
                    return found  # a credential moved while we read: answer, but do not remember
                if len(self._presented_cache) >= self.PRESENTED_CACHE_MAX:
                    self._presented_cache.clear()
                self._presented_cache[key] = time.monotonic() + self.PRESENTED_CACHE_SECONDS
        return found

    def presented_psn(self, fixmedins_code: str, cert_type: str, cert_no: str) -> str | None:
        """The person a credential presented at ``fixmedins_code`` named, if it was presented there."""
        digest = self._digest(fixmedins_code, cert_type, cert_no)
        r = self._first(_PRESENTED_PSN, digest)
        return None if r is None else str(r[0])

    # ------------------------------------------------------------------ sign-in
    def sign_in(self, fixmedins_code: str, opter: str, when: str) -> str:
        sign_no = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)
        with self._begin() as c:
            c.execute(
                enc_sign.insert().values(
                    sign_no=sign_no, fixmedins_code=fixmedins_code, opter=opter, sign_time=when
                )
            )
        return sign_no

    def sign(self, sign_no: str) -> tuple[str, str, str | None] | None:
        """(fixmedins_code, opter, signout_time) of a sign_no."""
        r = self._first(_SIGN, sign_no)
        return None if r is None else (r.fixmedins_code, r.opter, r.signout_time)

    def sign_out(self, sign_no: str, when: str) -> None:
        with self._begin() as c:
            c.execute(enc_sign.update().where(enc_sign.c.sign_no == sign_no).values(signout_time=when))

    # ------------------------------------------------------------------ messages
    def message(self, msgid: str) -> Message | None:
        r = self._first(_MESSAGE, msgid)
        if r is None:
            return None
        return Message(
            r.msgid,
            r.infno,
            r.fixmedins_code,
            r.request_key,
            json.loads(r.answer),
            json.loads(r.undo),
            r.reversed_by,
        )

    def snapshot(
        self, msgid: str, mdtrt_id: str, *, with_lines: bool
    ) -> tuple[Message | None, VisitRecord | None, list[FeeLine]]:
        """The message under ``msgid``, the visit and (``with_lines``) its live lines in one connection —
        what most transactions read before they decide."""

        def work(c: sa.Connection) -> tuple[Any, Any, Sequence[Any]]:
            m = _MESSAGE.first(c, {"k": msgid})
            v = _VISIT.first(c, {"k": mdtrt_id})
            rows = _LIVE_LINES.rows(c, {"k": mdtrt_id}) if with_lines and v is not None else []
            return m, v, rows

        m, v, rows = self._read(work)
        msg = (
            None
            if m is None
            else Message(
                m.msgid,
                m.infno,
                m.fixmedins_code,
                m.request_key,
                json.loads(m.answer),
                json.loads(m.undo),
                m.reversed_by,
            )
        )
        return msg, None if v is None else _visit(v), [_line(r) for r in rows]

    @staticmethod
    def _record(c: sa.Connection, msg: Message | None) -> None:
        if msg is None:
            return
        c.execute(
            _INSERT_MSG,
            {
                "msgid": msg.msgid,
                "infno": msg.infno,
                "fixmedins_code": msg.fixmedins_code,
                "request_key": msg.request_key,
                "answer": json.dumps(msg.answer, ensure_ascii=False, default=str),
                "undo": json.dumps(msg.undo, ensure_ascii=False),
                "reversed_by": None,
                "at": now_utc(),
            },
        )

    def mark_reversed(self, c: sa.Connection, msgid: str, by: str) -> None:
        c.execute(_MARK_REVERSED, {"w_msgid": msgid, "reversed_by": by})

    # ------------------------------------------------------------------ visits
    def visit(self, mdtrt_id: str) -> VisitRecord | None:
        r = self._first(_VISIT, mdtrt_id)
        return None if r is None else _visit(r)

    def find_visit(self, fixmedins_code: str, ipt_otp_no: str) -> VisitRecord | None:
        """The live visit of a hospital's 门诊号/住院号, if any (a number is registered once)."""
        r = self._read(lambda c: _FIND_VISIT.first(c, {"f": fixmedins_code, "n": ipt_otp_no}))
        return None if r is None else _visit(r)

    def has_visit(self, fixmedins_code: str, psn_no: str) -> bool:
        """Whether the institution has (had) a visit of the person."""
        q = sa.select(enc_visit.c.mdtrt_id).where(
            enc_visit.c.fixmedins_code == fixmedins_code, enc_visit.c.psn_no == psn_no
        )
        return self._read(lambda c: c.execute(q.limit(1)).first()) is not None

    def create_visit(self, v: VisitRecord, msg: Message | None) -> None:
        with self._begin() as c:
            c.execute(
                _INSERT_VISIT,
                {
                    "mdtrt_id": v.mdtrt_id,
                    "fixmedins_code": v.fixmedins_code,
                    "psn_no": v.psn_no,
                    "insutype": v.insutype,
                    "kind": v.kind,
                    "med_type": v.med_type,
                    "ipt_otp_no": v.ipt_otp_no,
                    "hosp_lv": v.hosp_lv,
                    "mdtrt_cert_type": v.mdtrt_cert_type,
                    "begntime": v.begntime,
                    "endtime": v.endtime,
                    "status": v.status,
                    "diagnoses": json.dumps(list(v.diagnoses)),
                    "info": json.dumps(v.info, ensure_ascii=False, default=str),
                    "created_msgid": msg.msgid if msg else "",
                    "updated": now_utc(),
                },
            )
            self._record(c, msg)

    def update_visit(
        self,
        mdtrt_id: str,
        changes: Mapping[str, Any],
        msg: Message | None,
        *,
        expect_status: str,
        reversal_of: str = "",
    ) -> None:
        """Change a visit that is still in ``expect_status`` (a concurrent change makes this refuse)."""
        values = dict(changes)
        if "diagnoses" in values:
            values["diagnoses"] = json.dumps(list(values["diagnoses"]))
        if "info" in values:
            values["info"] = json.dumps(values["info"], ensure_ascii=False, default=str)
        values["updated"] = now_utc()
        with self._begin() as c:
            res = c.execute(_UPDATE_VISIT, {"w_id": mdtrt_id, "w_status": expect_status, **values})
            if res.rowcount != 1:
                raise EncounterError(
                    "input.data.mdtrt_id", "就诊状态已被另一笔交易改变 the visit changed meanwhile", "state"
                )
            if reversal_of and msg is not None:
                self.mark_reversed(c, reversal_of, msg.msgid)
            self._record(c, msg)

    # ------------------------------------------------------------------ lines
    def lines(self, mdtrt_id: str, *, live_only: bool = True) -> list[FeeLine]:
        q = _LIVE_LINES if live_only else _ALL_LINES
        return [_line(r) for r in self._read(lambda c: q.rows(c, {"k": mdtrt_id}))]

    def settled_lines(self, setl_id: str) -> list[FeeLine]:
        return [_line(r) for r in self._read(lambda c: _SETTLED_LINES.rows(c, {"k": setl_id}))]

    def add_lines(self, lines: Sequence[FeeLine], msg: Message | None) -> None:
        """Insert uploaded lines; a feedetl_sn already used in the visit (even cancelled) is refused."""
        with self._begin() as c:
            for mdtrt_id in {ln.mdtrt_id for ln in lines}:
                sns = [ln.feedetl_sn for ln in lines if ln.mdtrt_id == mdtrt_id]
                dup = c.execute(_USED_SN, {"w_id": mdtrt_id, "w_sns": sns}).first()
                if dup is not None:
                    raise EncounterError(
                        "input.feedetail.feedetl_sn",
                        f"费用明细流水号 {dup[0]} 在本次就诊内已使用 feedetl_sn already used in the visit",
                        "duplicate",
                    )
            c.execute(
                _INSERT_LINE,
                [
                    {
                        "mdtrt_id": ln.mdtrt_id,
                        "feedetl_sn": ln.feedetl_sn,
                        "chrg_bchno": ln.chrg_bchno,
                        "med_list_codg": ln.med_list_codg,
                        "medins_list_codg": ln.medins_list_codg,
                        "qty": ln.qty,
                        "pric": ln.pric,
                        "amount": ln.amount,
                        "fulamt_ownpay_amt": ln.fulamt_ownpay_amt,
                        "overlmt_amt": ln.overlmt_amt,
                        "preselfpay_amt": ln.preselfpay_amt,
                        "inscp_scp_amt": ln.inscp_scp_amt,
                        "fee_ocur_time": ln.fee_ocur_time,
                        "status": LIVE,
                        "setl_id": None,
                        "msgid": ln.msgid,
                        "info": json.dumps(ln.info, ensure_ascii=False, default=str),
                    }
                    for ln in lines
                ],
            )
            self._record(c, msg)

    def set_line_status(
        self, mdtrt_id: str, sns: Iterable[str], status: str, msg: Message | None, *, reversal_of: str = ""
    ) -> int:
        """Cancel (``cancelled``) or restore (``live``) unsettled lines; returns how many changed."""
        sns = list(sns)
        with self._begin() as c:
            res = c.execute(_LINE_STATUS, {"w_id": mdtrt_id, "w_sns": sns, "status": status})
            if reversal_of and msg is not None:
                self.mark_reversed(c, reversal_of, msg.msgid)
            self._record(c, msg)
            return int(res.rowcount or 0)

    def mark_settled(
        self,
        mdtrt_id: str,
        sns: Iterable[str],
        setl_id: str | None,
        msg: Message | None,
        *,
        reversal_of: str = "",
    ) -> None:
        """Lines taken by a settlement (``setl_id``) or freed again (None: cancelled or reversed).  Taking
        lines only takes live unsettled ones: when another settlement took one meanwhile nothing changes
        and :class:`EncounterError` ``taken`` is raised (the caller undoes its settlement)."""
        sns = list(sns)
        with self._begin() as c:
            q = _TAKE_LINES if setl_id is not None and not reversal_of else _FREE_LINES
            res = c.execute(q, {"w_id": mdtrt_id, "w_sns": sns, "setl_id": setl_id})
            if setl_id is not None and not reversal_of and res.rowcount != len(sns):
                raise EncounterError(
                    "input.data.mdtrt_id",
                    "费用明细已被另一笔结算占用 the lines were settled by another request meanwhile",
                    "taken",
                )
            if reversal_of and msg is not None:
                self.mark_reversed(c, reversal_of, msg.msgid)
            self._record(c, msg)

    def record(self, msg: Message, *, reversal_of: str = "") -> None:
        """Record a message (and, for a 2601, the reversal of ``reversal_of``) on its own."""
        with self._begin() as c:
            if reversal_of:
                self.mark_reversed(c, reversal_of, msg.msgid)
            self._record(c, msg)

    # ------------------------------------------------------------------ files
    def put_file(
        self,
        fixmedins_code: str,
        filename: str,
        content: bytes,
        kind: str,
        *,
        reconciliation: Reconciliation | None = None,
    ) -> str:
        """Store a file; with ``reconciliation`` (a 3202 result) its outcome is kept in the same transaction."""
        file_qury_no = "F" + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(7)
        with self._begin() as c:
            if reconciliation is not None:
                self._add_reconciliation(c, reconciliation)
            c.execute(
                enc_file.insert().values(
                    file_qury_no=file_qury_no,
                    fixmedins_code=fixmedins_code,
                    filename=filename,
                    content=content,
                    kind=kind,
                    created=now_utc(),
                )
            )
        return file_qury_no

    def file(self, file_qury_no: str) -> tuple[str, str, bytes] | None:
        """(fixmedins_code, filename, content) of a stored file."""
        r = self._read(
            lambda c: c.execute(sa.select(enc_file).where(enc_file.c.file_qury_no == file_qury_no)).first()
        )
        return None if r is None else (r.fixmedins_code, r.filename, bytes(r.content))

    # ------------------------------------------------------------------ reconciliations (3201 / 3202)
    @staticmethod
    def _add_reconciliation(c: sa.Connection, r: Reconciliation) -> str:
        """Insert one outcome; the same message again (a retry: same infno and msgid) keeps the first."""
        t = enc_reconciliation
        known = c.execute(
            sa.select(t.c.recon_id).where(t.c.infno == r.infno, t.c.msgid == r.msgid)
        ).scalar_one_or_none()
        if known is not None:
            return str(known)
        recon_id = "R" + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)
        h, led = r.hospital, r.ledger
        c.execute(
            enc_reconciliation.insert().values(
                recon_id=recon_id,
                infno=r.infno,
                msgid=r.msgid,
                fixmedins_code=r.fixmedins_code,
                begndate=r.begndate,
                enddate=r.enddate,
                insutype=r.insutype,
                clr_type=r.clr_type,
                setl_optins=r.setl_optins,
                hosp_medfee=h.medfee_sumamt,
                hosp_fund=h.fund_pay_sumamt,
                hosp_acct=h.acct_pay,
                hosp_cnt=h.fixmedins_setl_cnt,
                ledger_medfee=led.medfee_sumamt,
                ledger_fund=led.fund_pay_sumamt,
                ledger_acct=led.acct_pay,
                ledger_cnt=led.fixmedins_setl_cnt,
                agreed=r.agreed,
                diff_fields=json.dumps(list(r.differing)),
                rows_checked=r.rows_checked,
                unmatched=json.dumps(list(r.unmatched)),
                at=now_utc(),
            )
        )
        return recon_id

    def add_reconciliation(self, r: Reconciliation) -> str:
        """Keep one reconciliation outcome (its own transaction); returns its id."""
        with self._begin() as c:
            return self._add_reconciliation(c, r)

    def reconciliations(
        self, *, ended_from: str = "", ended_to: str = "", fixmedins_code: str = ""
    ) -> list[Reconciliation]:
        """The stored outcomes whose period ends in [ended_from, ended_to] (ISO dates, inclusive; "" = open),
        of one institution when given, oldest first."""
        t = enc_reconciliation
        q = sa.select(t).order_by(t.c.at, t.c.recon_id)
        if ended_from:
            q = q.where(t.c.enddate >= ended_from)
        if ended_to:
            q = q.where(t.c.enddate <= ended_to)
        if fixmedins_code:
            q = q.where(t.c.fixmedins_code == fixmedins_code)
        rows = self._read(lambda c: c.execute(q).all())
        return [
            Reconciliation(
                r.infno,
                r.msgid,
                r.fixmedins_code,
                r.begndate,
                r.enddate,
                r.insutype,
                r.clr_type,
                r.setl_optins,
                Figures(int(r.hosp_medfee), int(r.hosp_fund), int(r.hosp_acct), int(r.hosp_cnt)),
                Figures(int(r.ledger_medfee), int(r.ledger_fund), int(r.ledger_acct), int(r.ledger_cnt)),
                int(r.rows_checked),
                tuple(json.loads(r.unmatched)),
            )
            for r in rows
        ]
