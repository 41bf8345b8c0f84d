"""The ledger: settle, cancel and reverse visits against stored persons, accounts and accumulators.

One :class:`Ledger` holds one raw DBAPI connection (psycopg 3 for PostgreSQL, sqlite3 for SQLite) and is
not thread-safe: give every thread or process its own.  The hot path never touches the ORM.

Concurrency.  Every money movement first locks the person rows it touches — the patient and, for 家庭
共济, the paying family member — with ``SELECT … FOR UPDATE`` in sorted ``psn_no`` order (SQLite:
``BEGIN IMMEDIATE``), so settlements of one person serialise and those of different persons run in
parallel.  Accumulators, the account balance and the person's journal chain head are only written
under that lock.

Round trips on PostgreSQL: one statement locks the person rows and reads the accumulators and the
msgid record; one statement of data-modifying CTEs writes everything, sent with COMMIT in one
pipelined round trip (``YIBAO_LEDGER_PIPELINE=0`` sends them separately).

Idempotency.  Every 2207 / 2208 / 2601 msgid is recorded in ``message`` in the same transaction as its
effect; a repeated msgid returns the first result.  Two racing calls with one msgid cannot both win:
the ``message`` primary key rejects the loser, which rolls back and returns the winner's result.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors

from yibao.db import DEFAULT_SQLITE, parse_url
from yibao.ledger import deduction
from yibao.ledger.deduction import DeductionItem, DeductionOutcome, SettlementCap
from yibao.ledger.journal import ChainCheck, root_digest, row_hash
from yibao.ledger.types import (
    LedgerError,
    PersonRecord,
    ReversalOutcome,
    SettleOutcome,
    StoredLine,
    StoredSettlement,
    VerifyReport,
)
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import (
    FUND_FIELDS,
    MONEY_FIELDS,
    AuditFinding,
    AuditHook,
    FundDetail,
    Line,
    Person,
    Settlement,
    Visit,
)
from yibao.settlement.trace import AuditFindingStep, read_steps, step_to_json

ACTIVE, CANCELLED = "active", "cancelled"
JOURNAL_FIELDS = (*FUND_FIELDS, "acct_pay", "psn_cash_pay")
TABLES = ("person", "accumulator", "settlement", "settlement_line", "journal", "message")

_PERSON_COLS = (
    "psn_no, name, certno, gender, birth_date, insutype, psn_type, insuplc_admdvs, identities, "
    "family, account_balance, chain_seq, chain_hash, version"
)
_HEADER_COLS = (
    "setl_id",
    "msgid",
    "psn_no",
    "mdtrt_id",
    "year",
    "status",
    "created",
    "cancel_msgid",
    "policy_version",
    "admdvs",
    "insutype",
    "psn_type",
    "med_type",
    "account_psn_no",
    "pool_prop_selfpay",
    *MONEY_FIELDS,
    "deltas",
    "setldetail",
    "steps",
    "visit",
)
_LINE_COLS = (
    "setl_id",
    "line_no",
    "feedetl_sn",
    "code",
    "qty",
    "price",
    "amount",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
)
_JOURNAL_COLS = (
    "chain",
    "seq",
    "setl_id",
    "msgid",
    "kind",
    "item",
    "field",
    "amount",
    "created",
    "prev_hash",
    "hash",
)
_MSG_COLS = ("msgid", "infno", "setl_id", "action", "omsgid", "acct_change", "status", "created")


def _ins(table: str, cols: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"


_SQL_INS_HEADER = _ins("settlement", _HEADER_COLS)
_SQL_INS_LINE = _ins("settlement_line", _LINE_COLS)
_SQL_INS_JOURNAL = _ins("journal", _JOURNAL_COLS)
_SQL_INS_MSG = _ins("message", _MSG_COLS)
_SQL_INS_PERSON = _ins(
    "person",
    (
        "psn_no",
        "name",
        "certno",
        "gender",
        "birth_date",
        "insutype",
        "psn_type",
        "insuplc_admdvs",
        "identities",
        "family",
        "account_balance",
    ),
)
_SQL_UPSERT_ACC = (
    "INSERT INTO accumulator (psn_no, year, counters, version) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (psn_no, year) DO UPDATE SET counters = excluded.counters, version = excluded.version"
)
_SQL_UPD_PERSON = (
    "UPDATE person SET account_balance = %s, chain_seq = %s, chain_hash = %s, version = %s WHERE psn_no = %s"
)
# PostgreSQL lock + read in one statement: lock the person rows in psn_no order, and join the patient's
# accumulator row and the msgid record.  Under READ COMMITTED a statement that waited for the lock sees
# the locked rows as committed by the previous holder but the joined rows as of its own start; the
# accumulator's ``version`` (= person.version when written) tells whether it is current — if not, it is
# read again by a second statement.  A stale "msgid unseen" is caught by the message primary key.
_SQL_PG_LOCK_READ = (
    f"WITH p AS (SELECT {_PERSON_COLS} FROM person WHERE psn_no = ANY(%s) ORDER BY psn_no FOR UPDATE) "
    "SELECT p.*, a.counters, a.version, m.msgid, m.infno, m.setl_id, m.action, m.omsgid, m.acct_change, m.status "
    "FROM p LEFT JOIN accumulator a ON a.psn_no = p.psn_no AND a.psn_no = %s AND a.year = %s "
    "LEFT JOIN message m ON m.msgid = %s ORDER BY p.psn_no"
)
_V = 13  # index of person.version in a person row
_SQL_ACC = "SELECT counters FROM accumulator WHERE psn_no = %s AND year = %s"
_SQL_MSG = "SELECT msgid, infno, setl_id, action, omsgid, acct_change, status FROM message WHERE msgid = %s"

_INSERTS = {  # insert statement -> (table, columns), for the PostgreSQL single-statement write
    _SQL_INS_HEADER: ("settlement", _HEADER_COLS),
    _SQL_INS_LINE: ("settlement_line", _LINE_COLS),
    _SQL_INS_JOURNAL: ("journal", _JOURNAL_COLS),
    _SQL_INS_MSG: ("message", _MSG_COLS),
}

Entry = tuple[str, str, str, str, int]  # chain, kind, item, field, amount
Op = tuple[str, Any, bool]  # sql, params, executemany


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Ledger:
    """Persons, accounts, accumulators, settlements and the journal, on SQLite or PostgreSQL.

    Reversals and ordering (倒序撤销): a settlement may be cancelled (2208) or reversed (2601) only while
    it is the *latest* active settlement of its person-year and, if it debited an account, the latest
    active settlement using that account.  Otherwise the call is refused with code ``not_latest`` and
    the later settlements must be undone first, newest first.  This is what makes undo exact: the
    accumulators and balance come back to what they were, so anything settled afterwards is settled as
    if the undone settlement had never happened.
    """

    def __init__(self, kind: str, target: str, sa_url: str) -> None:
        self.kind, self.target, self.sa_url = kind, target, sa_url
        self._pg = kind == "pg"
        self._conn: Any
        if self._pg:
            self._conn = psycopg.connect(target, autocommit=False, prepare_threshold=0)
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(target, isolation_level=None, timeout=60, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        self._sql_cache: dict[str, str] = {}
        self._fund_fields: dict[str, dict[str, str]] = {}
        # test hook (crash safety): die with os._exit(1) just before statement number _fault_after
        # (0-based, COMMIT included) of the next money transaction; _stmts counts statements issued.
        self._fault_after: int | None = None
        # PostgreSQL: send the write statement and COMMIT in one pipelined round trip (saves a round
        # trip per settlement; on a local socket the gain is small).  YIBAO_LEDGER_PIPELINE=0 turns it off.
        self.pipeline = os.environ.get("YIBAO_LEDGER_PIPELINE", "1") != "0"
        self._stmts = 0

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None) -> Ledger:
        """Open ``url``; None → env ``YIBAO_DATABASE_URL`` → SQLite file ``.yibao/yibao.db``."""
        if url is None:
            url = os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"
        return cls(*parse_url(url))

    def migrate(self) -> None:
        """``alembic upgrade heads`` (idempotent; each capability adds its tables on its own branch)."""
        from yibao.db import migrate  # alembic and SQLAlchemy load only when migrating

        migrate.upgrade(self.sa_url)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ low level
    def _q(self, sql: str) -> str:
        if self._pg:
            return sql
        out = self._sql_cache.get(sql)
        if out is None:
            out = self._sql_cache[sql] = sql.replace("%s", "?")
        return out

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._q(sql), params)

    def _rx(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """``_x`` inside a money transaction (counted for the crash-safety hook)."""
        self._tick()
        return self._x(sql, params)

    def _begin(self, write: bool) -> None:
        self._stmts = 0
        if not self._pg:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _rollback(self) -> None:
        if self._pg:
            self._conn.rollback()
        elif self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _commit(self) -> None:
        if self._pg:
            self._conn.commit()
        else:
            self._conn.execute("COMMIT")

    def _tick(self, pipeline: Any = None) -> None:
        if self._fault_after is None:
            return
        if pipeline is not None:
            pipeline.sync()  # make sure the statements so far really ran on the server
        if self._stmts == self._fault_after:
            os._exit(1)
        self._stmts += 1

    def _date(self, d: dt.date) -> Any:
        return d if self._pg else d.isoformat()

    def _write(self, ops: Sequence[Op]) -> None:
        """Run ``ops`` and COMMIT.

        PostgreSQL: all ops become one statement of data-modifying CTEs (the multi-row inserts via
        ``unnest`` of column arrays), sent with the COMMIT in one pipelined round trip.  SQLite: one
        statement per op (``executemany`` for the multi-row ones)."""
        conn = self._conn
        if self._pg:
            sql, params = self._pg_statement(ops)
            if self.pipeline:
                with conn.pipeline() as p, conn.cursor() as cur:
                    self._tick(p)
                    cur.execute(sql, params)
                    self._tick(p)
                    conn.commit()
            else:
                self._tick()
                conn.execute(sql, params)
                self._tick()
                conn.commit()
        else:
            for sql, params, many in ops:
                self._tick()
                if many:
                    conn.executemany(self._q(sql), params)
                else:
                    conn.execute(self._q(sql), params)
            self._tick()
            conn.execute("COMMIT")

    def _pg_statement(self, ops: Sequence[Op]) -> tuple[str, list[Any]]:
        """One statement for all ``ops``: inserts carry their rows as one JSON parameter each
        (``json_populate_record[set]`` on the table's row type), so the statement has few parameters,
        is parsed once by psycopg and prepared once by the server."""
        key = "\x00".join(f"{sql}{many}" for sql, _p, many in ops)
        stmt = self._sql_cache.get(key)
        params: list[Any] = []
        parts: list[str] = []
        for i, (sql, p, many) in enumerate(ops):
            target = _INSERTS.get(sql)
            if target is None:
                assert not many
                params.extend(p)
                part = sql
            else:
                table, cols = target
                if many:
                    params.append(json.dumps([dict(zip(cols, row, strict=True)) for row in p]))
                else:
                    params.append(json.dumps(dict(zip(cols, p, strict=True))))
                fn = "json_populate_recordset" if many else "json_populate_record"
                part = (
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} "
                    f"FROM {fn}(NULL::{table}, %s::json)"
                )
            parts.append(f"w{i} AS ({part})")
        if stmt is None:
            stmt = self._sql_cache[key] = "WITH " + ", ".join(parts) + " SELECT 1"
        return stmt, params

    def _is_dup(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation | sqlite3.IntegrityError)

    def _lock_read(
        self, keys: Sequence[str], acc_psn: str, year: int, msgid: str, lock: bool
    ) -> tuple[dict[str, Any], dict[str, int], Any]:
        """Lock the person rows (sorted), read the patient's accumulators and the msgid record.

        PostgreSQL: one statement, one round trip (plus a re-read of the accumulators only when the
        lock was contended and the row read is older than the lock holder's write).  SQLite: the
        write lock is already held (``BEGIN IMMEDIATE``), three plain reads."""
        if self._pg and lock:
            self._tick()
            rows = self._conn.execute(_SQL_PG_LOCK_READ, (list(keys), acc_psn, year, msgid)).fetchall()
            persons = {r[0]: r[: _V + 1] for r in rows}
            mrow = rows[0][_V + 3 :] if rows and rows[0][_V + 3] is not None else None
            counters: dict[str, int] = {}
            prow = persons.get(acc_psn)
            if prow is not None:
                arow = next(r for r in rows if r[0] == acc_psn)
                acc_text, acc_version = arow[_V + 1], arow[_V + 2]
                if (acc_version if acc_text is not None else 0) != prow[_V]:
                    self._tick()
                    fresh = self._conn.execute(_SQL_ACC, (acc_psn, year)).fetchone()
                    acc_text = fresh[0] if fresh else None
                counters = json.loads(acc_text) if acc_text else {}
            return persons, counters, mrow
        in_list = "= ANY(%s)" if self._pg else f"IN ({', '.join(['%s'] * len(keys))})"
        sql = f"SELECT {_PERSON_COLS} FROM person WHERE psn_no {in_list} ORDER BY psn_no"
        args: tuple[Any, ...] = (list(keys),) if self._pg else tuple(keys)
        self._tick()
        prows = self._x(sql, args).fetchall()
        self._tick()
        arow = self._x(_SQL_ACC, (acc_psn, year)).fetchone()
        self._tick()
        mrow = self._x(_SQL_MSG, (msgid,)).fetchone()
        return {r[0]: r for r in prows}, (json.loads(arow[0]) if arow else {}), mrow

    # ------------------------------------------------------------------ persons
    def add_persons(self, persons: Iterable[PersonRecord]) -> int:
        """Insert persons in one transaction; a psn_no already present (or repeated) → ``duplicate_person``."""
        rows = []
        seen: set[str] = set()
        for p in persons:
            if p.psn_no in seen:
                raise LedgerError("psn_no", f"{p.psn_no!r} appears twice in the input", "duplicate_person")
            seen.add(p.psn_no)
            idents = [[c, b.isoformat(), e.isoformat() if e else None] for c, b, e in p.identities]
            rows.append(
                (
                    p.psn_no,
                    p.name,
                    p.certno,
                    p.gender,
                    self._date(p.birth_date),
                    p.insutype,
                    p.psn_type,
                    p.insuplc_admdvs,
                    _dumps(idents),
                    _dumps(list(p.family)),
                    p.account_balance,
                )
            )
        self._begin(write=True)
        try:
            if self._pg:
                with self._conn.cursor() as cur:
                    cur.executemany(_SQL_INS_PERSON, rows)
            else:
                self._conn.executemany(self._q(_SQL_INS_PERSON), rows)
            self._commit()
        except BaseException as exc:
            self._rollback()
            if self._is_dup(exc):
                raise LedgerError(
                    "psn_no", f"person already in the ledger ({exc})", "duplicate_person"
                ) from exc
            raise
        return len(rows)

    @staticmethod
    def _person(row: Sequence[Any], on: dt.date) -> Person:
        (psn_no, name, certno, gender, birth, insutype, psn_type, admdvs, idents, family) = row[:10]
        if isinstance(birth, str):
            birth = dt.date.fromisoformat(birth)
        day = on.isoformat()
        valid = frozenset(c for c, b, e in json.loads(idents) if b <= day and (e is None or day <= e))
        return Person(
            psn_no, name, certno, gender, birth, insutype, psn_type, valid, admdvs, tuple(json.loads(family))
        )

    def get_person(self, psn_no: str, on: dt.date) -> Person:
        """The person with the identities valid on ``on``; unknown → ``unknown_person``."""
        row = self._x(f"SELECT {_PERSON_COLS} FROM person WHERE psn_no = %s", (psn_no,)).fetchone()
        self._end_read()
        if row is None:
            raise LedgerError("psn_no", f"unknown person {psn_no!r}", "unknown_person")
        return self._person(row, on)

    def _end_read(self) -> None:
        if self._pg:
            self._conn.rollback()  # end the implicit read transaction

    def account_balance(self, psn_no: str) -> int:
        row = self._x("SELECT account_balance FROM person WHERE psn_no = %s", (psn_no,)).fetchone()
        self._end_read()
        if row is None:
            raise LedgerError("psn_no", f"unknown person {psn_no!r}", "unknown_person")
        return int(row[0])

    def accumulators(self, psn_no: str, year: int) -> dict[str, int]:
        row = self._x(_SQL_ACC, (psn_no, year)).fetchone()
        exists = row is not None or self._x("SELECT 1 FROM person WHERE psn_no = %s", (psn_no,)).fetchone()
        self._end_read()
        if not exists:
            raise LedgerError("psn_no", f"unknown person {psn_no!r}", "unknown_person")
        return dict(json.loads(row[0])) if row else {}

    # ------------------------------------------------------------------ settle (2206 / 2207)
    def settle(
        self, book: PolicyBook, visit: Visit, msgid: str, *, pre: bool = False, audit: AuditHook | None = None
    ) -> SettleOutcome:
        """Settle ``visit`` (2207) in one transaction, or pre-settle it (2206, ``pre=True``: nothing is
        written, not even the msgid).  A msgid seen before returns the stored first result with
        ``replayed=True``.  Engine errors (``SettlementError``) propagate unchanged, nothing written.
        ``audit``: the in-event audit hook (事中审核) passed to the engine — blocked lines are settled as
        fully self-paid and the findings come back on ``settlement.audit``."""
        policy = book.for_date(visit.begin_date)
        year = visit.begin_date.year
        patient = visit.psn_no
        payer = visit.account_psn_no if visit.account_psn_no not in (None, patient) else None
        keys = sorted((patient, payer)) if payer else [patient]
        self._begin(write=not pre)
        try:
            persons, counters, seen = self._lock_read(keys, patient, year, msgid, lock=not pre)
            if seen is not None and not pre:
                self._rollback()
                return self._replay_settle(seen, visit)
            prow = persons.get(patient)
            if prow is None:
                raise LedgerError("psn_no", f"unknown person {patient!r}", "unknown_person")
            if payer is not None and payer not in persons:
                raise LedgerError("visit.account_psn_no", f"unknown person {payer!r}", "unknown_person")
            payer_row = persons[payer] if payer else prow
            person = self._person(prow, visit.begin_date)
            s = settle_visit(policy, person, visit, counters, int(payer_row[10]), payer_row[5], audit=audit)
            if pre:
                self._rollback()
                return SettleOutcome(s, "", False)
            setl_id = uuid.uuid4().hex
            self._write(self._settle_ops(policy, visit, s, msgid, setl_id, year, persons, counters))
            return SettleOutcome(s, setl_id, False)
        except BaseException as exc:
            self._rollback()
            if self._is_dup(exc):
                seen = self._x(_SQL_MSG, (msgid,)).fetchone()
                self._end_read()
                if seen is not None:
                    return self._replay_settle(seen, visit)
            raise

    def _replay_settle(self, msg: Sequence[Any], visit: Visit) -> SettleOutcome:
        """A retry returns the first result; the same msgid carrying a different visit is refused."""
        if msg[3] != "settle":
            raise LedgerError(
                "msgid", f"msgid {msg[0]!r} was already used by a {msg[1]} {msg[3]}", "msgid_conflict"
            )
        stored = self.get_settlement(msg[2])
        first = stored.visit

        def key(v: Visit) -> tuple[object, ...]:  # what the settlement and its audit depend on
            return (
                v.mdtrt_id,
                v.psn_no,
                v.med_type,
                v.bilg_dr_codg,
                [(x.code, x.qty, x.amount, x.prd_days, x.bilg_dr_codg) for x in v.lines],
            )

        if key(first) != key(visit):
            raise LedgerError(
                "msgid",
                f"msgid {msg[0]!r} was already used for a different visit ({first.mdtrt_id}, {first.psn_no})",
                "msgid_conflict",
            )
        return SettleOutcome(stored.settlement, msg[2], True)

    def _fund_field_map(self, policy: CompiledPolicy) -> dict[str, str]:
        m = self._fund_fields.get(policy.version_id + policy.admdvs)
        if m is None:
            m = {}
            for b in policy.benefits.values():
                m.setdefault(b.fund_pay_type, "hifp_pay")
            for layers in policy.layers.values():
                for layer in layers:
                    m.setdefault(layer.fund_pay_type, layer.field)
            self._fund_fields[policy.version_id + policy.admdvs] = m
        return m

    def _entries(self, policy: CompiledPolicy, s: Settlement) -> list[Entry]:
        """The journal movements of a settlement: each fund payment, the account debit, the cash."""
        fmap = self._fund_field_map(policy)
        out: list[Entry] = [
            (s.psn_no, "fund", d.fund_pay_type, fmap.get(d.fund_pay_type, "oth_pay"), d.fund_payamt)
            for d in s.setldetail
            if d.fund_payamt
        ]
        sums: dict[str, int] = {}
        for e in out:
            sums[e[3]] = sums.get(e[3], 0) + e[4]
        if any(
            sums.get(f, 0) != getattr(s, f) for f in FUND_FIELDS
        ):  # ambiguous fund types: one row per field
            out = [(s.psn_no, "fund", "", f, getattr(s, f)) for f in FUND_FIELDS if getattr(s, f)]
        if s.acct_pay:
            assert s.account_psn_no is not None
            out.append((s.account_psn_no, "acct", s.account_psn_no, "acct_pay", s.acct_pay))
        if s.psn_cash_pay:
            out.append((s.psn_no, "cash", "", "psn_cash_pay", s.psn_cash_pay))
        return out

    @staticmethod
    def _chain(
        entries: Sequence[Entry], state: dict[str, list[Any]], setl_id: str, msgid: str, now: str
    ) -> list[tuple[Any, ...]]:
        """Journal rows for ``entries``, advancing the chain heads in ``state`` ([balance, seq, hash])."""
        rows = []
        for chain, kind, item, field, amount in entries:
            head = state[chain]
            seq = head[1] + 1
            h = row_hash(head[2], chain, seq, setl_id, msgid, kind, item, field, amount, now)
            rows.append((chain, seq, setl_id, msgid, kind, item, field, amount, now, head[2], h))
            head[1], head[2] = seq, h
        return rows

    @staticmethod
    def _add_counters(counters: dict[str, int], deltas: dict[str, int], sign: int) -> str:
        new = dict(counters)
        for k, d in deltas.items():
            v = new.get(k, 0) + sign * d
            if v:
                new[k] = v
            else:
                new.pop(k, None)
        return _dumps(new)

    def _settle_ops(
        self,
        policy: CompiledPolicy,
        visit: Visit,
        s: Settlement,
        msgid: str,
        setl_id: str,
        year: int,
        persons: dict[str, Any],
        counters: dict[str, int],
    ) -> list[Op]:
        now = _now()
        state = {k: [int(r[10]), int(r[11]), r[12]] for k, r in persons.items()}  # balance, seq, hash
        jrows = self._chain(self._entries(policy, s), state, setl_id, msgid, now)
        if s.acct_pay:
            assert s.account_psn_no is not None
            state[s.account_psn_no][0] -= s.acct_pay
        vjson = _dumps(
            {
                "med_type": visit.med_type,
                "fixmedins_code": visit.fixmedins_code,
                "hosp_lv": visit.hosp_lv,
                "begin_date": visit.begin_date.isoformat(),
                "end_date": visit.end_date.isoformat(),
                "locality": visit.locality,
                "emergency": visit.emergency,
                "diagnoses": list(visit.diagnoses),
                "use_account": visit.use_account,
                "account_psn_no": visit.account_psn_no,
                "bilg_dr_codg": visit.bilg_dr_codg,
                # a line's prescribed days and ordering physician (2204 prd_days / bilg_dr_codg), kept with the
                # visit: the line table has no columns for them
                **(
                    {"prd_days": [ln.prd_days for ln in visit.lines]}
                    if any(ln.prd_days is not None for ln in visit.lines)
                    else {}
                ),
                **(
                    {"line_dr": [ln.bilg_dr_codg for ln in visit.lines]}
                    if any(ln.bilg_dr_codg is not None for ln in visit.lines)
                    else {}
                ),
            }
        )
        header = (
            setl_id,
            msgid,
            s.psn_no,
            s.mdtrt_id,
            year,
            ACTIVE,
            now,
            None,
            s.policy_version,
            s.admdvs,
            s.insutype,
            s.psn_type,
            s.med_type,
            s.account_psn_no,
            s.pool_prop_selfpay,
            *[getattr(s, f) for f in MONEY_FIELDS],
            _dumps(s.deltas),
            _dumps(
                [
                    [
                        d.fund_pay_type,
                        d.fund_pay_type_name,
                        d.inscp_scp_amt,
                        d.crt_payb_lmt_amt,
                        d.fund_payamt,
                        d.setl_proc_info,
                    ]
                    for d in s.setldetail
                ]
            ),
            json.dumps([step_to_json(x) for x in s.steps], ensure_ascii=False, separators=(",", ":")),
            vjson,
        )
        lines = [
            (setl_id, i, ln.feedetl_sn, ln.code, ln.qty, ln.price, ln.amount, *parts)
            for i, (ln, parts) in enumerate(zip(visit.lines, s.line_parts, strict=True), 1)
        ]
        ops: list[Op] = [
            (_SQL_INS_MSG, (msgid, "2207", setl_id, "settle", None, -s.acct_pay, ACTIVE, now), False),
            (_SQL_INS_HEADER, header, False),
        ]
        if lines:
            ops.append((_SQL_INS_LINE, lines, True))
        if jrows:
            ops.append((_SQL_INS_JOURNAL, jrows, True))
        if s.deltas:
            acc = self._add_counters(counters, s.deltas, 1)
            ops.append((_SQL_UPSERT_ACC, (s.psn_no, year, acc, int(persons[s.psn_no][_V]) + 1), False))
        ops.extend(self._person_updates(persons, state, s.psn_no))
        return ops

    @staticmethod
    def _person_updates(persons: dict[str, Any], state: dict[str, list[Any]], patient: str) -> list[Op]:
        """Write back balance and chain head, bumping ``version`` — always for the patient (whose
        accumulator row records that version), for others only when something changed."""
        ops: list[Op] = []
        for k, (bal, seq, h) in sorted(state.items()):
            r = persons[k]
            if k == patient or bal != r[10] or seq != r[11]:
                ops.append((_SQL_UPD_PERSON, (bal, seq, h, int(r[_V]) + 1, k), False))
        return ops

    # ------------------------------------------------------------------ cancel / reverse (2208 / 2601)
    def cancel(self, setl_id: str, msgid: str) -> ReversalOutcome:
        """2208 门诊结算撤销: undo settlement ``setl_id`` — negated accumulator deltas, account credited
        back, negating journal rows, status ``cancelled`` — recorded under ``msgid`` (idempotent).

        Refused with ``not_latest`` while a later active settlement of the same person-year, or a later
        active settlement using the same account, exists (undo newest first, 倒序撤销); with
        ``unknown_settlement`` / ``already_reversed`` as the names say."""
        return self._undo(setl_id, msgid, "2208", None, restore=False)

    def reverse(self, omsgid: str, msgid: str) -> ReversalOutcome:
        """2601 冲正 of the transaction recorded under ``omsgid``.

        * a 2207 settlement → undone exactly like :meth:`cancel`;
        * a 2208 cancel → the settlement is restored (active again, deltas and account debit
          re-applied, journal rows re-written), provided nothing was settled for that person-year or
          account after it (``not_latest`` otherwise);
        * a 2601 reversal cannot itself be reversed (``not_reversible``).
        Same ``not_latest`` / ``already_reversed`` rules and idempotency as :meth:`cancel`."""
        seen = self._x(_SQL_MSG, (msgid,)).fetchone()
        orig = self._x(_SQL_MSG, (omsgid,)).fetchone()
        self._end_read()
        if seen is not None:
            return self._replay_undo(seen)
        if orig is None:
            raise LedgerError("omsgid", f"no transaction with msgid {omsgid!r}", "unknown_settlement")
        if orig[3] == "settle":
            return self._undo(orig[2], msgid, "2601", omsgid, restore=False)
        if orig[3] == "cancel":
            return self._undo(orig[2], msgid, "2601", omsgid, restore=True)
        raise LedgerError(
            "omsgid", f"{omsgid!r} is a 2601 reversal, which cannot be reversed", "not_reversible"
        )

    def _replay_undo(self, msg: Sequence[Any]) -> ReversalOutcome:
        if msg[3] not in ("cancel", "restore"):
            raise LedgerError(
                "msgid", f"msgid {msg[0]!r} was already used by a {msg[1]} {msg[3]}", "msgid_conflict"
            )
        return ReversalOutcome(msg[2], msg[0], msg[3], msg[6], int(msg[5]), True)

    def _undo(
        self, setl_id: str, msgid: str, infno: str, omsgid: str | None, *, restore: bool
    ) -> ReversalOutcome:
        self._begin(write=True)
        try:
            seen = self._rx(_SQL_MSG, (msgid,)).fetchone()
            if seen is not None:
                self._rollback()
                return self._replay_undo(seen)
            hdr = self._rx(
                "SELECT psn_no, account_psn_no FROM settlement WHERE setl_id = %s", (setl_id,)
            ).fetchone()
            if hdr is None:
                raise LedgerError("setl_id", f"unknown settlement {setl_id!r}", "unknown_settlement")
            keys = sorted({hdr[0], hdr[1]} - {None})
            in_list = "= ANY(%s)" if self._pg else f"IN ({', '.join(['%s'] * len(keys))})"
            lock = f"SELECT {_PERSON_COLS} FROM person WHERE psn_no {in_list} ORDER BY psn_no"
            if self._pg:
                lock += " FOR UPDATE"
            prows = self._rx(lock, (keys,) if self._pg else tuple(keys)).fetchall()
            persons = {r[0]: r for r in prows}
            # under the person lock, which a deduction also takes: a racing deduction is either seen here or waits
            if not restore and self._deducted(setl_id):
                raise LedgerError(
                    "setl_id",
                    f"settlement {setl_id} has audit deductions (扣款) recovering its fund "
                    "payment; it cannot be undone",
                    "deducted",
                )
            row = self._rx(
                "SELECT id, msgid, psn_no, year, status, cancel_msgid, account_psn_no, acct_pay, deltas "
                "FROM settlement WHERE setl_id = %s",
                (setl_id,),
            ).fetchone()
            sid, smsgid, psn_no, year, status, cancel_msgid, acct_psn, acct_pay, deltas_json = row
            if restore:
                if status != CANCELLED or cancel_msgid != omsgid:
                    raise LedgerError(
                        "omsgid",
                        f"the cancel {omsgid!r} of {setl_id} was already reversed",
                        "already_reversed",
                    )
                source = cancel_msgid
            else:
                if status != ACTIVE:
                    raise LedgerError(
                        "setl_id", f"settlement {setl_id} is already cancelled", "already_reversed"
                    )
                source = smsgid
            later = self._rx(
                "SELECT setl_id FROM settlement WHERE id > %s AND status = 'active' AND "
                "((psn_no = %s AND year = %s) OR account_psn_no = %s) ORDER BY id LIMIT 1",
                (sid, psn_no, year, acct_psn if acct_pay else None),
            ).fetchone()
            if later is not None:
                what = "restore" if restore else "undo"
                raise LedgerError(
                    "setl_id",
                    f"cannot {what} {setl_id}: later active settlement {later[0]} of the "
                    "same person-year or account must be undone first (倒序撤销)",
                    "not_latest",
                )
            arow = self._rx(_SQL_ACC, (psn_no, year)).fetchone()
            counters: dict[str, int] = json.loads(arow[0]) if arow else {}
            src = self._rx(
                "SELECT chain, kind, item, field, amount FROM journal WHERE msgid = %s AND setl_id = %s "
                "ORDER BY chain, seq",
                (source, setl_id),
            ).fetchall()
            now = _now()
            sign = 1 if restore else -1
            state = {k: [int(r[10]), int(r[11]), r[12]] for k, r in persons.items()}
            jrows = self._chain([(c, k, i, f, -int(a)) for c, k, i, f, a in src], state, setl_id, msgid, now)
            acct_change = -sign * int(acct_pay)
            if acct_pay:
                state[acct_psn][0] += acct_change
                if state[acct_psn][0] < 0:
                    raise LedgerError(
                        "setl_id", f"account {acct_psn} cannot pay {acct_pay} again", "insufficient_balance"
                    )
            new_status = ACTIVE if restore else CANCELLED
            action = "restore" if restore else "cancel"
            ops: list[Op] = [
                (_SQL_INS_MSG, (msgid, infno, setl_id, action, omsgid, acct_change, new_status, now), False),
                (
                    "UPDATE settlement SET status = %s, cancel_msgid = %s WHERE setl_id = %s",
                    (new_status, None if restore else msgid, setl_id),
                    False,
                ),
            ]
            deltas = json.loads(deltas_json)
            if deltas:
                acc = self._add_counters(counters, deltas, sign)
                ops.append((_SQL_UPSERT_ACC, (psn_no, year, acc, int(persons[psn_no][_V]) + 1), False))
            if jrows:
                ops.append((_SQL_INS_JOURNAL, jrows, True))
            ops.extend(self._person_updates(persons, state, psn_no))
            self._write(ops)
            return ReversalOutcome(setl_id, msgid, action, new_status, acct_change, False)
        except BaseException as exc:
            self._rollback()
            if self._is_dup(exc):
                seen = self._x(_SQL_MSG, (msgid,)).fetchone()
                self._end_read()
                if seen is not None:
                    return self._replay_undo(seen)
            raise

    def _deducted(self, setl_id: str) -> bool:
        return deduction.settled_deductions(self, setl_id) > 0

    # ------------------------------------------------------------------ deductions (扣款)
    def post_deduction(
        self,
        deduction_id: str,
        fixmedins_code: str,
        reference: str,
        items: Sequence[DeductionItem],
        memo: str = "",
    ) -> DeductionOutcome:
        """Recover fund money from institution ``fixmedins_code`` (see :mod:`yibao.ledger.deduction`):
        idempotent by ``deduction_id``, capped by what the fund paid, patient and accumulators untouched."""
        return deduction.post(self, deduction_id, fixmedins_code, reference, items, memo)

    def deduction_caps(self, setl_ids: Sequence[str]) -> dict[str, SettlementCap]:
        """What may still be recovered per settlement and per line."""
        return deduction.caps(self, setl_ids)

    def list_deductions(self, fixmedins_code: str | None = None) -> list[DeductionOutcome]:
        return deduction.list_deductions(self, fixmedins_code)

    def find_settlement(self, mdtrt_id: str) -> str | None:
        """The active settlement of visit ``mdtrt_id`` (its ``setl_id``), or None."""
        row = self._x(
            "SELECT setl_id FROM settlement WHERE mdtrt_id = %s AND status = 'active' ORDER BY id DESC",
            (mdtrt_id,),
        ).fetchone()
        self._end_read()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ reading settlements
    def get_settlement(self, setl_id: str) -> StoredSettlement:
        """Header, lines, ``setldetail`` and trace of one settlement; unknown → ``unknown_settlement``."""
        cols = ", ".join(_HEADER_COLS)
        row = self._x(f"SELECT {cols} FROM settlement WHERE setl_id = %s", (setl_id,)).fetchone()
        lines = self._x(
            f"SELECT {', '.join(_LINE_COLS[1:])} FROM settlement_line WHERE setl_id = %s ORDER BY line_no",
            (setl_id,),
        ).fetchall()
        self._end_read()
        if row is None:
            raise LedgerError("setl_id", f"unknown settlement {setl_id!r}", "unknown_settlement")
        return self._stored(row, lines)

    @staticmethod
    def _stored(row: Sequence[Any], line_rows: Sequence[Sequence[Any]]) -> StoredSettlement:
        h = dict(zip(_HEADER_COLS, row, strict=True))
        s = Settlement(
            h["mdtrt_id"],
            h["psn_no"],
            h["insutype"],
            h["psn_type"],
            h["med_type"],
            h["admdvs"],
            h["policy_version"],
        )
        for f in MONEY_FIELDS:
            setattr(s, f, int(h[f]))
        s.pool_prop_selfpay = int(h["pool_prop_selfpay"])
        s.account_psn_no = h["account_psn_no"]
        s.setldetail = [FundDetail(*d) for d in json.loads(h["setldetail"])]
        s.deltas = {k: int(v) for k, v in json.loads(h["deltas"]).items()}
        s.steps = read_steps(json.loads(h["steps"]), s.setldetail)
        s.audit = [
            AuditFinding(x.feedetl_sn, x.rule_code, x.severity, x.reason_zh, x.reason_en)
            for x in s.steps
            if isinstance(x, AuditFindingStep)
        ]
        lines = [StoredLine(*r) for r in line_rows]
        s.line_parts = [
            (ln.fulamt_ownpay_amt, ln.overlmt_selfpay, ln.preselfpay_amt, ln.inscp_scp_amt) for ln in lines
        ]
        v = json.loads(h["visit"])
        days = v.get("prd_days") or [None] * len(lines)
        doctors = v.get("line_dr") or [None] * len(lines)
        visit = Visit(
            h["mdtrt_id"],
            h["psn_no"],
            v["med_type"],
            v["fixmedins_code"],
            v["hosp_lv"],
            dt.date.fromisoformat(v["begin_date"]),
            dt.date.fromisoformat(v["end_date"]),
            tuple(
                Line(ln.feedetl_sn, ln.code, ln.qty, ln.price, ln.amount, d, dr)
                for ln, d, dr in zip(lines, days, doctors, strict=True)
            ),
            v["locality"],
            v["emergency"],
            tuple(v["diagnoses"]),
            v["use_account"],
            v["account_psn_no"],
            v.get("bilg_dr_codg"),
        )
        return StoredSettlement(
            h["setl_id"],
            h["msgid"],
            h["psn_no"],
            h["mdtrt_id"],
            int(h["year"]),
            h["status"],
            h["created"],
            h["cancel_msgid"],
            s,
            visit,
            lines,
        )

    def list_settlements(self, psn_no: str | None = None, limit: int = 100) -> list[StoredSettlement]:
        """Newest first; all persons when ``psn_no`` is None."""
        if psn_no is None:
            ids = self._x("SELECT setl_id FROM settlement ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
        else:
            ids = self._x(
                "SELECT setl_id FROM settlement WHERE psn_no = %s ORDER BY id DESC LIMIT %s", (psn_no, limit)
            ).fetchall()
        self._end_read()
        return [self.get_settlement(r[0]) for r in ids]

    def totals(self) -> dict[str, int]:
        """Sums of the money fields over active settlements, plus ``count`` (3201 对总账 figures)."""
        sums = ", ".join(f"COALESCE(SUM({f}), 0)" for f in MONEY_FIELDS)
        row = self._x(f"SELECT COUNT(*), {sums} FROM settlement WHERE status = 'active'").fetchone()
        self._end_read()
        out = {"count": int(row[0])}
        out.update({f: int(v) for f, v in zip(MONEY_FIELDS, row[1:], strict=True)})
        out.pop("balc", None)  # a balance after, not an amount: summing it means nothing
        out.update(deduction.totals(self))  # fund money recovered from institutions (扣款)
        self._end_read()
        return out

    def row_counts(self) -> dict[str, int]:
        """Rows per ledger table (for checks that a refused call wrote nothing)."""
        out = {t: int(self._x(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
        self._end_read()
        return out

    # ------------------------------------------------------------------ verification
    def verify(self) -> VerifyReport:
        """Recompute every journal chain and cross-check settlements and accumulators.

        Reports edited rows (hash mismatch), inserted rows (duplicate seq, broken prev link, or a
        chain longer than its head), deleted rows (seq gap, or head on the person row ≠ last row),
        settlements whose money fields disagree with the sum of their journal rows, and accumulators
        that differ from the sum of their active settlements' deltas.  ``root`` digests the chain heads
        kept on the person rows."""
        problems: list[str] = []
        # one consistent snapshot, so that a live ledger (settlements committing meanwhile) verifies
        if self._pg:
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            self._conn.execute("BEGIN")
        try:
            return self._verify(problems)
        finally:
            self._rollback()

    def _verify(self, problems: list[str]) -> VerifyReport:
        heads = {
            r[0]: (int(r[1]), r[2])
            for r in self._x("SELECT psn_no, chain_seq, chain_hash FROM person").fetchall()
        }
        check = ChainCheck(heads, problems)
        sql = f"SELECT {', '.join(_JOURNAL_COLS)} FROM journal ORDER BY chain, seq"
        if self._pg:  # stream through a server-side cursor instead of loading the journal at once
            cur = self._conn.cursor(name="yibao_verify_journal")
            cur.itersize = 10_000
            cur.execute(sql)
        else:
            cur = self._x(sql)
        for r in cur:
            check.feed(r)
        cur.close()
        check.finish()
        sums: dict[str, dict[str, int]] = {}
        for setl_id, field, total in self._x(
            "SELECT setl_id, field, SUM(amount) FROM journal GROUP BY setl_id, field"
        ).fetchall():
            sums.setdefault(setl_id, {})[field] = int(total)
        cols = ", ".join(JOURNAL_FIELDS)
        acc_sum: dict[tuple[str, int], dict[str, int]] = {}
        for row in self._x(
            f"SELECT setl_id, status, psn_no, year, deltas, {cols} FROM settlement"
        ).fetchall():
            setl_id, status, psn_no, year, deltas = row[:5]
            got = sums.pop(setl_id, {})
            active = status == ACTIVE
            for f, v in zip(JOURNAL_FIELDS, row[5:], strict=True):
                want = int(v) if active else 0
                if got.get(f, 0) != want:
                    problems.append(
                        f"settlement[{setl_id}]: {f} is {want if active else 0} ({status}) but its "
                        f"journal rows sum to {got.get(f, 0)}"
                    )
            if active:
                acc = acc_sum.setdefault((psn_no, int(year)), {})
                for k, d in json.loads(deltas).items():
                    acc[k] = acc.get(k, 0) + int(d)
        for setl_id in sorted(sums):
            problems.append(f"journal[setl_id={setl_id}]: rows for a settlement that does not exist")
        for psn_no, year, counters in self._x("SELECT psn_no, year, counters FROM accumulator").fetchall():
            expect = {k: v for k, v in acc_sum.pop((psn_no, int(year)), {}).items() if v}
            have = {k: int(v) for k, v in json.loads(counters).items() if v}
            if expect != have:
                problems.append(
                    f"accumulator[{psn_no}/{year}]: {have} but active settlements add up to {expect}"
                )
        for (psn_no, year), expect in sorted(acc_sum.items()):
            if any(expect.values()):
                problems.append(
                    f"accumulator[{psn_no}/{year}]: missing, active settlements add up to {expect}"
                )
        ded_rows, inst_heads = deduction.check(self, problems)
        root = root_digest([*((psn, h) for psn, (seq, h) in heads.items() if seq), *inst_heads.items()])
        return VerifyReport(
            not problems, sum(1 for s, _ in heads.values() if s), check.rows, problems, root, ded_rows
        )
