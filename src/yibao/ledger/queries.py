"""Reading the ledger: stored settlements, persons, an institution's settlements, 3201 totals.

Plain reads on a :class:`~yibao.db.connection.Connection`; each ends its implicit read transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from yibao.db.connection import Connection
from yibao.ledger.journal import GENESIS, row_hash
from yibao.ledger.rows import (
    ACTIVE,
    HEADER_COLS,
    LINE_COLS,
    SQL_ACC,
    SQL_INS_JOURNAL,
    SQL_INS_PERSON,
    SQL_MSG,
    SQL_PERSON,
    SQL_UPSERT_ACC,
    TABLES,
    MessageRow,
    dumps,
    message_row,
    now,
    person_of,
    person_row,
    split_of,
)
from yibao.ledger.types import LedgerError, PersonRecord, StoredLine, StoredSettlement
from yibao.settlement.allocation import allocate
from yibao.settlement.model import (
    MONEY_FIELDS,
    AuditFinding,
    FundDetail,
    Line,
    Person,
    RxRef,
    Settlement,
    Visit,
)
from yibao.settlement.trace import AuditFindingStep, read_steps

_LINE_READ = LINE_COLS[1:]  # setl_id is the key


# ---------------------------------------------------------------------------- persons
def add_persons(conn: Connection, persons: Iterable[PersonRecord]) -> int:
    """Insert persons in one transaction; a psn_no already present (or repeated) → ``duplicate_person``.
    A non-zero opening account balance is the first row of the person's journal chain (kind ``open``),
    so the balance is always the journal's sum and an edit of it is found by :meth:`Ledger.verify`."""
    rows = []
    jrows: list[tuple[object, ...]] = []
    at = now()
    seen: set[str] = set()
    for p in persons:
        if p.psn_no in seen:
            raise LedgerError(
                "psn_no", f"人员 {p.psn_no!r} 在输入中出现两次 appears twice in the input", "duplicate_person"
            )
        seen.add(p.psn_no)
        idents = [[c, b.isoformat(), e.isoformat() if e else None] for c, b, e in p.identities]
        rows.append(
            (
                p.psn_no,
                p.name,
                p.certno,
                p.gender,
                conn.date(p.birth_date),
                p.insutype,
                p.psn_type,
                p.insuplc_admdvs,
                dumps(idents),
                dumps(list(p.family)),
                p.account_balance,
                *_opening(p, at, jrows),
            )
        )
    conn.begin(write=True)
    try:
        if conn.pg:
            with conn.raw.cursor() as cur:
                cur.executemany(SQL_INS_PERSON, rows)
                if jrows:
                    cur.executemany(SQL_INS_JOURNAL, jrows)
        else:
            conn.raw.executemany(conn.sql(SQL_INS_PERSON), rows)
            if jrows:
                conn.raw.executemany(conn.sql(SQL_INS_JOURNAL), jrows)
        conn.commit()
    except BaseException as exc:
        conn.rollback()
        if conn.is_unique_violation(exc):
            raise LedgerError(
                "psn_no", f"人员已在账本中 person already in the ledger ({exc})", "duplicate_person"
            ) from exc
        raise
    return len(rows)


def person_schemes(conn: Connection) -> dict[str, tuple[str, str]]:
    """Every person's (insutype, psn_type)."""
    rows = conn.execute("SELECT psn_no, insutype, psn_type FROM person").fetchall()
    conn.end_read()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


def set_family(
    conn: Connection, psn_no: str, *, add: Sequence[str] = (), drop: Sequence[str] = ()
) -> tuple[str, ...]:
    """Add and drop relatives in a person's 家庭共济 list (whose personal accounts may pay for them), in one
    write transaction that holds the person row as a settlement does; returns the list after.  An unknown
    person → ``unknown_person``.  No money moves: no journal row."""
    conn.begin(write=True)
    try:
        lock = "SELECT family FROM person WHERE psn_no = %s" + (" FOR UPDATE" if conn.pg else "")
        row = conn.execute_in_write(lock, (psn_no,)).fetchone()
        if row is None:
            raise LedgerError("psn_no", f"账本中没有该人员 unknown person {psn_no!r}", "unknown_person")
        family = [str(x) for x in json.loads(row[0] or "[]")]
        after = [x for x in family if x not in set(drop)] + [x for x in dict.fromkeys(add) if x not in family]
        if after != family:
            conn.execute_in_write("UPDATE person SET family = %s WHERE psn_no = %s", (dumps(after), psn_no))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return tuple(after)


def set_schemes(conn: Connection, rows: Iterable[tuple[str, str, str]]) -> list[str]:
    """Set each person's scheme and person type, ``rows`` of (psn_no, insutype, psn_type), in one
    transaction; a person not in the ledger or already so is left alone.  Returns the psn_nos changed.
    Only the person row's scheme and type change: no money moves, no journal row, no version step (the
    row lock of the UPDATE waits for a settlement holding the person)."""
    want = {psn: (ins, typ) for psn, ins, typ in rows if ins and typ}
    if not want:
        return []
    keys = sorted(want)
    have: dict[str, tuple[str, str]] = {}
    for i in range(0, len(keys), 5_000):
        frag, params = conn.in_list(keys[i : i + 5_000])
        for psn, ins, typ in conn.execute(
            f"SELECT psn_no, insutype, psn_type FROM person WHERE psn_no {frag}", params
        ).fetchall():
            have[str(psn)] = (str(ins), str(typ))
    conn.end_read()
    changed = [psn for psn in keys if psn in have and have[psn] != want[psn]]
    if not changed:
        return []
    conn.begin(write=True)
    try:
        for psn in changed:
            ins, typ = want[psn]
            conn.execute_in_write(
                "UPDATE person SET insutype = %s, psn_type = %s WHERE psn_no = %s", (ins, typ, psn)
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return changed


def _opening(p: PersonRecord, at: str, jrows: list[tuple[object, ...]]) -> tuple[int, str]:
    """The chain head after the opening-balance row (appended to ``jrows``), or the empty chain."""
    if not p.account_balance:
        return 0, GENESIS
    h = row_hash(GENESIS, p.psn_no, 1, "", "", "open", "", "opening_balance", p.account_balance, at)
    jrows.append((p.psn_no, 1, "", "", "open", "", "opening_balance", p.account_balance, at, GENESIS, h))
    return 1, h


def get_person(conn: Connection, psn_no: str, on: dt.date) -> Person:
    """The person with the identities valid on ``on``; unknown → ``unknown_person``."""
    row = conn.read_one(f"{SQL_PERSON} WHERE psn_no = %s", (psn_no,))
    if row is None:
        raise LedgerError("psn_no", f"人员 {psn_no!r} 不存在 unknown person", "unknown_person")
    return person_of(person_row(row), on)


def account_balance(conn: Connection, psn_no: str) -> int:
    row = conn.read_one("SELECT account_balance FROM person WHERE psn_no = %s", (psn_no,))
    if row is None:
        raise LedgerError("psn_no", f"人员 {psn_no!r} 不存在 unknown person", "unknown_person")
    return int(row[0])


def accumulators(conn: Connection, psn_no: str, year: int) -> dict[str, int]:
    row = conn.execute(SQL_ACC, (psn_no, year)).fetchone()
    exists = row is not None or conn.execute("SELECT 1 FROM person WHERE psn_no = %s", (psn_no,)).fetchone()
    conn.end_read()
    if not exists:
        raise LedgerError("psn_no", f"人员 {psn_no!r} 不存在 unknown person", "unknown_person")
    return dict(json.loads(row[0])) if row else {}


def open_accumulators(
    conn: Connection, psn_no: str, year: int, counters: dict[str, int], source: str
) -> None:
    """State ``psn_no``'s accumulators at the start of ``year``'s period, before any settlement of that
    person-year (a region that starts mid-year; the rest of a year re-settled).  Refused once the
    person-year has an accumulator row (``already_open``): figures stated after settlements would
    make undo inexact."""
    bad = next(
        (k for k, v in counters.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0), None
    )
    if bad is not None:
        raise LedgerError(
            f"counters.{bad}", "期初累计须为非负整数 must be a non-negative integer (fen or count)"
        )
    if not source.strip():
        raise LedgerError("source", "须说明期初累计的来源 state where the figures come from")
    conn.begin(write=True)
    try:
        row = conn.execute("SELECT version FROM person WHERE psn_no = %s", (psn_no,)).fetchone()
        if row is None:
            raise LedgerError("psn_no", f"人员 {psn_no!r} 不存在 unknown person", "unknown_person")
        if conn.execute(SQL_ACC, (psn_no, year)).fetchone() is not None:
            raise LedgerError(
                "year", f"{psn_no} {year} 年已有累计 the person-year already has accumulators", "already_open"
            )
        text = dumps({k: v for k, v in sorted(counters.items()) if v})
        conn.execute(
            "INSERT INTO accumulator_opening (psn_no, year, counters, source) VALUES (%s, %s, %s, %s)",
            (psn_no, year, text, source),
        )
        conn.execute(SQL_UPSERT_ACC, (psn_no, year, text, int(row[0])))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def psn_no_by_certno(conn: Connection, certno: str) -> str | None:
    """The person holding ID number ``certno`` (公民身份号码), if any."""
    row = conn.read_one("SELECT psn_no FROM person WHERE certno = %s", (certno,))
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class PersonSummary:
    psn_no: str
    name: str
    certno: str
    insutype: str
    psn_type: str
    insuplc_admdvs: str


def list_persons(conn: Connection, limit: int, offset: int) -> list[PersonSummary]:
    rows = conn.execute(
        "SELECT psn_no, name, certno, insutype, psn_type, insuplc_admdvs FROM person ORDER BY psn_no "
        "LIMIT %s OFFSET %s",
        (limit, offset),
    ).fetchall()
    conn.end_read()
    return [PersonSummary(*r) for r in rows]


# ---------------------------------------------------------------------------- settlements
def get_settlement(conn: Connection, setl_id: str) -> StoredSettlement:
    """Header, lines, ``setldetail``, trace and per-line allocation of one settlement."""
    try:
        return read_settlement(conn, setl_id)
    finally:
        conn.end_read()


def read_settlement(conn: Connection, setl_id: str) -> StoredSettlement:
    """:func:`get_settlement` inside the caller's transaction (which is left open)."""
    row = conn.execute(
        f"SELECT {', '.join(HEADER_COLS)} FROM settlement WHERE setl_id = %s", (setl_id,)
    ).fetchone()
    lines = conn.execute(
        f"SELECT {', '.join(_LINE_READ)} FROM settlement_line WHERE setl_id = %s ORDER BY line_no", (setl_id,)
    ).fetchall()
    if row is None:
        raise LedgerError("setl_id", f"结算 {setl_id!r} 不存在 unknown settlement", "unknown_settlement")
    return stored_settlement(row, lines)


def stored_settlement(row: Sequence[Any], line_rows: Sequence[Sequence[Any]]) -> StoredSettlement:
    """A settlement header row and its line rows as the engine's result and the visit it settled."""
    h = dict(zip(HEADER_COLS, row, strict=True))
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
    s.commercial_pay = int(h["commercial_pay"] or 0)
    s.commercial_product = h["commercial_product"]
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
    named = [dict(zip(_LINE_READ, r, strict=True)) for r in line_rows]
    lines = [StoredLine(*(r[c] for c in _LINE_READ[:10])) for r in named]
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
        scene=v.get("scene", ""),
        rx=_rx(v.get("rx")),
    )
    splits = [split_of(r) for r in named]
    s.line_splits = (
        [x for x in splits if x is not None]
        if all(x is not None for x in splits)
        else allocate(s, visit.lines)
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


def list_settlements(conn: Connection, psn_no: str | None = None, limit: int = 100) -> list[StoredSettlement]:
    """Newest first; all persons when ``psn_no`` is None."""
    if psn_no is None:
        ids = conn.execute("SELECT setl_id FROM settlement ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
    else:
        ids = conn.execute(
            "SELECT setl_id FROM settlement WHERE psn_no = %s ORDER BY id DESC LIMIT %s", (psn_no, limit)
        ).fetchall()
    conn.end_read()
    return [get_settlement(conn, r[0]) for r in ids]


def institution_settlements(
    conn: Connection, fixmedins_code: str, psn_no: str | None, limit: int
) -> list[StoredSettlement]:
    """An institution's settlements, newest first (optionally of one person)."""
    sql = "SELECT setl_id FROM settlement WHERE fixmedins_code = %s"
    args: tuple[Any, ...] = (fixmedins_code,)
    if psn_no is not None:
        sql, args = sql + " AND psn_no = %s", (*args, psn_no)
    ids = conn.execute(sql + " ORDER BY id DESC LIMIT %s", (*args, limit)).fetchall()
    conn.end_read()
    return [get_settlement(conn, r[0]) for r in ids]


@dataclass(frozen=True)
class SettlementQuery:
    """A filtered, paged read of settlements, newest first (``id`` descending).

    ``psn_nos`` / ``fixmedins_code`` / ``setl_ids`` / ``statuses`` / ``med_types``: None = any.
    ``dates``: (field, operator, ISO value) with field ``begin_date`` / ``end_date`` (the visit's service
    dates) or ``last_updated`` (when the stored settlement last changed: its cancellation, else its
    creation) and operator one of ``<`` ``<=`` ``>`` ``>=``.  ``upto_id``: only rows stored up to this
    row id (a snapshot, so that paging is not shifted by settlements stored meanwhile)."""

    psn_nos: tuple[str, ...] | None = None
    fixmedins_code: str | None = None
    setl_ids: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    med_types: tuple[str, ...] | None = None
    dates: tuple[tuple[str, str, str], ...] = ()
    upto_id: int | None = None


@dataclass(frozen=True)
class SettlementPage:
    """``total`` rows match; ``rows`` is the page; ``upto_id`` the snapshot the page was read under."""

    total: int
    upto_id: int
    rows: list[StoredSettlement]


_DATE_OPS = frozenset({"<", "<=", ">", ">="})


def _visit_date(conn: Connection, key: str) -> str:
    return f"(s.visit::json->>'{key}')" if conn.pg else f"json_extract(s.visit, '$.{key}')"


def search_settlements(conn: Connection, q: SettlementQuery, limit: int, offset: int) -> SettlementPage:
    """Settlements matching ``q``, newest first: the count of all matches and one page of them."""
    where: list[str] = []
    args: list[Any] = []
    for col, values in (
        ("s.psn_no", q.psn_nos),
        ("s.setl_id", q.setl_ids),
        ("s.status", q.statuses),
        ("s.med_type", q.med_types),
    ):
        if values is not None:
            if not values:
                where.append("1 = 0")
                continue
            frag, params = conn.in_list(values)
            where.append(f"{col} {frag}")
            args.extend(params)
    if q.fixmedins_code is not None:
        where.append("s.fixmedins_code = %s")
        args.append(q.fixmedins_code)
    columns = {
        "begin_date": _visit_date(conn, "begin_date"),
        "end_date": _visit_date(conn, "end_date"),
        "last_updated": "COALESCE(m.created, s.created)",
    }
    for field, op, value in q.dates:
        if field not in columns or op not in _DATE_OPS:
            raise LedgerError("dates", f"不支持的日期条件 unsupported date condition {field} {op}", "invalid")
        where.append(f"{columns[field]} {op} %s")
        args.append(value)
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM settlement").fetchone()
    upto = int(row[0]) if q.upto_id is None else q.upto_id
    where.append("s.id <= %s")
    args.append(upto)
    body = (
        "FROM settlement s LEFT JOIN message m ON m.msgid = s.cancel_msgid AND s.status = 'cancelled' "
        "WHERE " + " AND ".join(where)
    )
    total = int(conn.execute(f"SELECT COUNT(*) {body}", args).fetchone()[0])
    ids = conn.execute(
        f"SELECT s.setl_id {body} ORDER BY s.id DESC LIMIT %s OFFSET %s", (*args, limit, offset)
    ).fetchall()
    conn.end_read()
    return SettlementPage(total, upto, [get_settlement(conn, r[0]) for r in ids])


def last_updated(conn: Connection, setl_ids: Sequence[str]) -> dict[str, str]:
    """When each stored settlement last changed: its cancellation (2208) if cancelled, else its creation."""
    if not setl_ids:
        return {}
    frag, params = conn.in_list(setl_ids)
    rows = conn.execute(
        "SELECT s.setl_id, COALESCE(m.created, s.created) FROM settlement s "
        "LEFT JOIN message m ON m.msgid = s.cancel_msgid AND s.status = 'cancelled' "
        f"WHERE s.setl_id {frag}",
        params,
    ).fetchall()
    conn.end_read()
    return {str(r[0]): str(r[1]) for r in rows}


def person_last_changed(conn: Connection, psn_no: str) -> str | None:
    """When the ledger last wrote to the person's record (their newest journal row), if ever."""
    row = conn.execute("SELECT MAX(created) FROM journal WHERE chain = %s", (psn_no,)).fetchone()
    conn.end_read()
    return None if row is None or row[0] is None else str(row[0])


def find_settlement(conn: Connection, mdtrt_id: str) -> str | None:
    """The active settlement of visit ``mdtrt_id`` (its ``setl_id``), or None."""
    row = conn.execute(
        "SELECT setl_id FROM settlement WHERE mdtrt_id = %s AND status = 'active' ORDER BY id DESC",
        (mdtrt_id,),
    ).fetchone()
    conn.end_read()
    return None if row is None else str(row[0])


def message(conn: Connection, msgid: str) -> MessageRow | None:
    """What the ledger did under ``msgid`` (2207 / 2208 / 2601), if anything."""
    row = message_row(conn.execute(SQL_MSG, (msgid,)).fetchone())
    conn.end_read()
    return row


@dataclass(frozen=True)
class Statement:
    """3201 对总账 figures: totals over a set of active settlements."""

    medfee_sumamt: int
    fund_pay_sumamt: int
    acct_pay: int
    count: int


def statement(
    conn: Connection,
    *,
    fixmedins_code: str | None,
    insutype: str,
    begin: dt.date | None,
    end: dt.date | None,
) -> Statement:
    """Totals over active settlements created in [begin, end] (UTC dates), of one institution and one
    insutype when given."""
    sql = (
        "SELECT COALESCE(SUM(medfee_sumamt), 0), COALESCE(SUM(fund_pay_sumamt), 0), COALESCE(SUM(acct_pay), 0), "
        "COUNT(*) FROM settlement WHERE status = %s"
    )
    args: list[Any] = [ACTIVE]
    if fixmedins_code:
        sql += " AND fixmedins_code = %s"
        args.append(fixmedins_code)
    if insutype:
        sql += " AND insutype = %s"
        args.append(insutype)
    if begin is not None:
        sql += " AND created >= %s"
        args.append(begin.isoformat())
    if end is not None:
        sql += " AND created < %s"
        args.append((end + dt.timedelta(days=1)).isoformat())
    row = conn.execute(sql, args).fetchone()
    conn.end_read()
    return Statement(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def statement_by_med_type(
    conn: Connection, *, fixmedins_code: str, insutype: str, since: str, until: str
) -> dict[str, Statement]:
    """3201 figures per med_type over active settlements of one institution (and one insutype when given)
    created in [since, until) (ISO instants in UTC, as ``created`` is stored)."""
    sql = (
        "SELECT med_type, COALESCE(SUM(medfee_sumamt), 0), COALESCE(SUM(fund_pay_sumamt), 0), "
        "COALESCE(SUM(acct_pay), 0), COUNT(*) FROM settlement WHERE status = %s AND fixmedins_code = %s "
        "AND created >= %s AND created < %s"
    )
    args: list[Any] = [ACTIVE, fixmedins_code, since, until]
    if insutype:
        sql += " AND insutype = %s"
        args.append(insutype)
    rows = conn.execute(sql + " GROUP BY med_type", args).fetchall()
    conn.end_read()
    return {str(r[0]): Statement(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def totals(conn: Connection) -> dict[str, int]:
    """Sums of the money fields over active settlements, plus ``count`` (3201 对总账 figures)."""
    sums = ", ".join(f"COALESCE(SUM({f}), 0)" for f in MONEY_FIELDS)
    row = conn.execute(f"SELECT COUNT(*), {sums} FROM settlement WHERE status = 'active'").fetchone()
    conn.end_read()
    out = {"count": int(row[0])}
    out.update({f: int(v) for f, v in zip(MONEY_FIELDS, row[1:], strict=True)})
    out.pop("balc", None)  # a balance after, not an amount: summing it means nothing
    return out


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows per ledger table (for checks that a refused call wrote nothing)."""
    out = {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    conn.end_read()
    return out


def _rx(raw: dict[str, Any] | None) -> RxRef | None:
    """The stored visit's e-prescription (see ``transactions._visit_json``), when it dispensed one."""
    if not raw:
        return None
    return RxRef(
        raw["rx_id"],
        raw["prescriber"],
        raw["internet_hospital"],
        dt.date.fromisoformat(raw["issued_on"]),
        dt.date.fromisoformat(raw["dispensed_on"]),
        int(raw["dispensed_before"]),
    )
