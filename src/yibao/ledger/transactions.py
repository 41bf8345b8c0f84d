"""The ledger's money transactions: settle (2207) and pre-settle (2206), cancel (2208) and reverse (2601).

Each is one unit of work on a :class:`~yibao.db.connection.Connection`:

* **Lock.** Every money movement first locks the person rows it touches — the patient and, for 家庭共济,
  the paying family member — with ``SELECT … FOR UPDATE`` in sorted ``psn_no`` order (SQLite:
  ``BEGIN IMMEDIATE``), so settlements of one person serialise and those of different persons run in
  parallel.  Accumulators, the account balance and the person's journal chain head are only written
  under that lock.
* **Idempotency.** Every 2207 / 2208 / 2601 msgid is recorded in ``message`` in the same transaction
  as its effect; a repeated msgid returns the first result.  Two racing calls with one msgid cannot
  both win: the ``message`` primary key rejects the loser, which rolls back and returns the winner's.
* **Undo in reverse order (倒序撤销).** A settlement may be cancelled or reversed only while it is the
  latest active settlement of its person-year and, if it debited an account, the latest using that
  account, so undo restores accumulators and balance exactly.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from yibao.db.connection import Connection, Op, insert, insert_sql
from yibao.ledger import deduction
from yibao.ledger.journal import row_hash
from yibao.ledger.rows import (
    ACTIVE,
    CANCELLED,
    DIGEST_HEADER_COLS,
    HEADER_COLS,
    JOURNAL_COLS,
    LINE_COLS,
    MSG_COLS,
    SQL_ACC,
    SQL_MSG,
    SQL_PERSON,
    SQL_PG_LOCK_READ,
    SQL_SQLITE_LOCK_READ,
    SQL_UPD_PERSON,
    SQL_UPSERT_ACC,
    ChainHead,
    ContentDigest,
    MessageRow,
    PersonRow,
    dumps,
    dumps_ordered,
    message_row,
    new_setl_id,
    now,
    person_of,
    person_row,
    setldetail_json,
    undo_fingerprint,
    visit_fingerprint,
)
from yibao.ledger.types import LedgerError, ReversalOutcome, SettleOutcome, StoredSettlement
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement import family_aid
from yibao.settlement.allocation import allocate
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import (
    FUND_FIELDS,
    MONEY_FIELDS,
    AuditHook,
    CommercialProduct,
    Entitlement,
    Settlement,
    Visit,
)
from yibao.settlement.trace import step_to_json

Entry = tuple[str, str, str, str, int]  # chain, kind, item, field, amount
ReadSettlement = Callable[[str], StoredSettlement]

_FUND_FIELD_MAPS: dict[str, dict[str, str]] = {}


# ---------------------------------------------------------------------------- settle (2206 / 2207)
def settle(
    conn: Connection,
    book: PolicyBook,
    visit: Visit,
    msgid: str,
    read: ReadSettlement,
    *,
    pre: bool = False,
    audit: AuditHook | None = None,
    entitlement: Entitlement | None = None,
    covers: Sequence[CommercialProduct] = (),
) -> SettleOutcome:
    """Settle ``visit`` (2207) in one transaction, or pre-settle it (2206, ``pre=True``: nothing is
    written, not even the msgid).  A msgid seen before returns the stored first result with
    ``replayed=True`` (``read`` fetches it).  Engine errors propagate unchanged, nothing written.
    ``audit``: the in-event audit hook (事中审核) passed to the engine; ``entitlement``: the benefit
    check's answer for the visit date (:class:`~yibao.settlement.model.Entitlement`), passed to the engine;
    ``covers``: the commercial products the patient holds on the visit date (一单制), passed to the engine."""
    # the region decides which date picks the policy version and the accumulator year: the admission date,
    # or the discharge date (a stay settled through the national flow counts on its discharge or mid-stay
    # settlement day, ``counts_on``, only where the region settles by discharge)
    day = book.settlement_day(visit.begin_date, visit.counts_on)
    policy = book.for_date(day, "visit.end_date" if book.by_discharge else "visit.begin_date")
    year = day.year
    patient = visit.psn_no
    named = visit.account_psn_no if visit.account_psn_no not in (None, patient) else None
    # 家庭共济 by default (settlement.family_aid): when the visit asks for the account, names none, and the
    # locked patient row shows a zero balance and one agreed payer, settle again with that payer's row
    # locked too (rows are always locked in psn_no order, so the second attempt starts afresh)
    agreed: str | None = None
    while True:
        payer = named or agreed
        keys = sorted((patient, payer)) if payer else [patient]
        conn.begin(write=not pre)
        try:
            persons, counters, seen = _lock_read(conn, keys, patient, year, msgid, lock=not pre)
            if seen is not None and not pre:
                conn.end_unwritten()  # nothing written: the locks go, the prepared statements stay
                return _replay_settle(seen, visit, read)
            prow = persons.get(patient)
            if prow is None:
                raise LedgerError("psn_no", f"人员 {patient!r} 不存在 unknown person", "unknown_person")
            want = None
            if named is None and visit.use_account and int(prow.account_balance) <= 0:
                family = tuple(json.loads(prow.family or "[]"))
                want = family_aid.default_payer(visit, int(prow.account_balance), family, entitlement)
            if agreed is None and want is not None:
                conn.rollback()
                agreed = want
                continue
            if payer is not None and payer not in persons:
                raise LedgerError(
                    "visit.account_psn_no", f"人员 {payer!r} 不存在 unknown person", "unknown_person"
                )
            engine_visit = visit
            if agreed is not None:
                # re-checked under both locks: the balance or the binding may have changed meanwhile
                arow = persons[agreed]
                if want == agreed and family_aid.payer_may_pay(
                    policy, visit, arow.insutype, int(arow.account_balance)
                ):
                    engine_visit = replace(visit, account_psn_no=agreed)
                else:
                    payer = None
            payer_row = persons[payer] if payer else prow
            person = person_of(prow, visit.begin_date)
            s = settle_visit(
                policy,
                person,
                engine_visit,
                counters,
                int(payer_row.account_balance),
                payer_row.insutype,
                audit=audit,
                entitlement=entitlement,
                covers=covers,
            )
            if pre:
                conn.end_unwritten()  # a pre-settlement wrote nothing
                return SettleOutcome(s, "", False)
            setl_id = new_setl_id()
            s.line_splits = allocate(s, visit.lines)
            # the visit is stored as settled (with the account that paid), the message keeps the request's
            # fingerprint so that a retry of the very request the hospital sent is recognised
            ops = _settle_ops(
                policy, engine_visit, s, msgid, setl_id, year, persons, counters, visit_fingerprint(visit)
            )
            conn.write(ops)
            return SettleOutcome(s, setl_id, False)
        except BaseException as exc:
            conn.rollback()
            if conn.is_unique_violation(exc):
                again = message_row(conn.execute(SQL_MSG, (msgid,)).fetchone())
                conn.end_read()
                if again is not None:
                    return _replay_settle(again, visit, read)
            raise


def _lock_read(
    conn: Connection, keys: Sequence[str], acc_psn: str, year: int, msgid: str, lock: bool
) -> tuple[dict[str, PersonRow], dict[str, int], MessageRow | None]:
    """Lock the person rows (sorted), read the patient's accumulators and the msgid record.

    One statement, one round trip (:func:`yibao.ledger.rows.lock_read_sql`).  PostgreSQL: plus a re-read
    of the accumulators only when the lock was contended and the row read is older than the lock holder's
    write; a pre-settlement (``lock=False``) takes no lock and reads three times.  SQLite: the write lock
    is already held (``BEGIN IMMEDIATE``), or a pre-settlement reads one snapshot."""
    if conn.pg and not lock:
        fragment, args = conn.in_list(keys)
        prows = conn.execute(f"{SQL_PERSON} WHERE psn_no {fragment} ORDER BY psn_no", args).fetchall()
        arow = conn.execute(SQL_ACC, (acc_psn, year)).fetchone()
        seen = message_row(conn.execute(SQL_MSG, (msgid,)).fetchone())
        return {r[0]: person_row(r) for r in prows}, (orjson.loads(arow[0]) if arow else {}), seen
    if conn.pg:
        conn.tick()
        rows = conn.raw.execute(SQL_PG_LOCK_READ, (list(keys), acc_psn, year, msgid)).fetchall()
    else:
        rows = conn.execute_in_write(
            SQL_SQLITE_LOCK_READ[len(keys)], (*keys, acc_psn, year, msgid)
        ).fetchall()
    persons = {r[0]: person_row(r) for r in rows}
    width = len(PersonRow._fields)
    seen = message_row(rows[0][width + 2 :]) if rows and rows[0][width + 2] is not None else None
    counters: dict[str, int] = {}
    prow = persons.get(acc_psn)
    if prow is not None:
        arow = next(r for r in rows if r[0] == acc_psn)
        acc_text, acc_version = arow[width], arow[width + 1]
        if conn.pg and (acc_version if acc_text is not None else 0) != prow.version:
            conn.tick()
            fresh = conn.raw.execute(SQL_ACC, (acc_psn, year)).fetchone()
            acc_text = fresh[0] if fresh else None
        counters = orjson.loads(acc_text) if acc_text else {}
    return persons, counters, seen


def _conflict(msg: MessageRow, what: str, en: str = "request") -> LedgerError:
    return LedgerError(
        "msgid",
        f"报文编号 {msg.msgid!r} 已用于另一笔请求（{msg.infno}，{what}） msgid was already used for a different "
        f"{en}; a retry must repeat the request exactly",
        "msgid_conflict",
    )


def _replay_settle(msg: MessageRow, visit: Visit, read: ReadSettlement) -> SettleOutcome:
    """A retry returns the first result; the same msgid with any difference in the request (visit,
    level, locality, dates, diagnoses, account choice, lines) is refused with ``msgid_conflict``."""
    if msg.action != "settle" or msg.infno != "2207":
        raise _conflict(msg, f"{msg.action} {msg.setl_id}")
    if msg.fingerprint is not None:
        if msg.fingerprint != visit_fingerprint(visit):
            raise _conflict(msg, f"结算 {msg.setl_id}", "visit")
        stored = read(msg.setl_id)
        return SettleOutcome(stored.settlement, msg.setl_id, True)
    # a message stored before fingerprints: compare with the visit stored with its settlement
    stored = read(msg.setl_id)
    if visit_fingerprint(stored.visit) != visit_fingerprint(visit):
        raise _conflict(msg, f"就诊 {stored.visit.mdtrt_id}", "visit")
    return SettleOutcome(stored.settlement, msg.setl_id, True)


def _fund_field_map(policy: CompiledPolicy) -> dict[str, str]:
    """fund_pay_type → the 2207 money field it is reported in (hifp_pay, hifmi_pay …)."""
    key = policy.version_id + policy.admdvs
    m = _FUND_FIELD_MAPS.get(key)
    if m is None:
        m = {}
        for b in policy.benefits.values():
            m.setdefault(b.fund_pay_type, "hifp_pay")
        for layers in policy.layers.values():
            for layer in layers:
                m.setdefault(layer.fund_pay_type, layer.field)
        _FUND_FIELD_MAPS[key] = m
    return m


def _entries(policy: CompiledPolicy, s: Settlement) -> list[Entry]:
    """The journal movements of a settlement: each fund payment, the account debit, the cash."""
    fmap = _fund_field_map(policy)
    out: list[Entry] = [
        (s.psn_no, "fund", d.fund_pay_type, fmap.get(d.fund_pay_type, "oth_pay"), d.fund_payamt)
        for d in s.setldetail
        if d.fund_payamt
    ]
    sums: dict[str, int] = {}
    for e in out:
        sums[e[3]] = sums.get(e[3], 0) + e[4]
    if any(sums.get(f, 0) != getattr(s, f) for f in FUND_FIELDS):  # ambiguous fund types: one row per field
        out = [(s.psn_no, "fund", "", f, getattr(s, f)) for f in FUND_FIELDS if getattr(s, f)]
    if s.acct_pay:
        assert s.account_psn_no is not None
        out.append((s.account_psn_no, "acct", s.account_psn_no, "acct_pay", s.acct_pay))
    if s.psn_cash_pay:
        out.append((s.psn_no, "cash", "", "psn_cash_pay", s.psn_cash_pay))
    if s.commercial_pay:  # the insurer paid this part of the patient's burden (一单制)
        out.append((s.psn_no, "insurer", s.commercial_product or "", "commercial_pay", s.commercial_pay))
    return out


def _chain(
    entries: Sequence[Entry], heads: dict[str, ChainHead], setl_id: str, msgid: str, at: str
) -> list[tuple[Any, ...]]:
    """Journal rows for ``entries``, advancing the chain heads in ``heads``."""
    rows = []
    for chain, kind, item, field, amount in entries:
        head = heads[chain]
        seq = head.seq + 1
        h = row_hash(head.hash, chain, seq, setl_id, msgid, kind, item, field, amount, at)
        rows.append((chain, seq, setl_id, msgid, kind, item, field, amount, at, head.hash, h))
        heads[chain] = ChainHead(head.balance, seq, h)
    return rows


def add_counters(counters: dict[str, int], deltas: dict[str, int], sign: int) -> str:
    """``counters`` + ``sign`` × ``deltas`` as stored JSON (zero counters dropped)."""
    new = dict(counters)
    for k, d in deltas.items():
        v = new.get(k, 0) + sign * d
        if v:
            new[k] = v
        else:
            new.pop(k, None)
    return dumps(new)


def _visit_json(visit: Visit) -> str:
    prd_days = [ln.prd_days for ln in visit.lines]
    line_dr = [ln.bilg_dr_codg for ln in visit.lines]
    return dumps(
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
            **({"scene": visit.scene} if visit.scene else {}),  # a care scene (commercial cover)
            # the e-prescription the visit dispensed (处方流转), for the audit's prescription rules
            **(
                {
                    "rx": {
                        "rx_id": visit.rx.rx_id,
                        "prescriber": visit.rx.prescriber,
                        "internet_hospital": visit.rx.internet_hospital,
                        "issued_on": visit.rx.issued_on.isoformat(),
                        "dispensed_on": visit.rx.dispensed_on.isoformat(),
                        "dispensed_before": visit.rx.dispensed_before,
                    }
                }
                if visit.rx is not None
                else {}
            ),
            # a line's prescribed days and ordering physician (2204 prd_days / bilg_dr_codg), kept with
            # the visit: the line table has no columns for them
            **({"prd_days": prd_days} if prd_days.count(None) != len(prd_days) else {}),
            **({"line_dr": line_dr} if line_dr.count(None) != len(line_dr) else {}),
        }
    )


# the settle path's statements and column pickers, built once (this runs for every stored settlement)
_INS_MSG = insert_sql("message", MSG_COLS)
_INS_HEADER = insert_sql("settlement", HEADER_COLS)
_INS_LINE = insert_sql("settlement_line", LINE_COLS)
_INS_JOURNAL = insert_sql("journal", JOURNAL_COLS)
_MONEY = operator.attrgetter(*MONEY_FIELDS)
# a stored line (LINE_COLS): setl_id, line_no, five columns of the visit's line, then the split's four parts and
# act_pay_dedc, fund_pay (as JSON) and three more of the split's columns
_LINE = operator.attrgetter(*LINE_COLS[2:7])
_SPLIT_PARTS = operator.attrgetter(*LINE_COLS[7 : LINE_COLS.index("fund_pay")])
_SPLIT_PAID = operator.attrgetter(*LINE_COLS[LINE_COLS.index("fund_pay") + 1 :])
_DIGEST_HEADER = operator.itemgetter(*[HEADER_COLS.index(c) for c in DIGEST_HEADER_COLS])


def _settle_ops(
    policy: CompiledPolicy,
    visit: Visit,
    s: Settlement,
    msgid: str,
    setl_id: str,
    year: int,
    persons: dict[str, PersonRow],
    counters: dict[str, int],
    fingerprint: str,
) -> list[Op]:
    at = now()
    heads = {k: ChainHead(int(r.account_balance), int(r.chain_seq), r.chain_hash) for k, r in persons.items()}
    header = (
        setl_id,
        msgid,
        s.psn_no,
        s.mdtrt_id,
        visit.fixmedins_code,
        year,
        ACTIVE,
        at,
        None,
        s.policy_version,
        s.admdvs,
        s.insutype,
        s.psn_type,
        s.med_type,
        s.account_psn_no,
        s.pool_prop_selfpay,
        *_MONEY(s),
        dumps(s.deltas),
        setldetail_json(s.setldetail),
        dumps_ordered([step_to_json(x) for x in s.steps]),
        _visit_json(visit),
        s.commercial_pay,
        s.commercial_product,
    )
    splits = s.line_splits
    try:
        fund_pays = [orjson.dumps(sp.fund_pay, option=orjson.OPT_SORT_KEYS).decode() for sp in splits]
    except orjson.JSONEncodeError:  # what orjson refuses: the standard writer decides (rows.dumps)
        fund_pays = [dumps(sp.fund_pay) for sp in splits]
    lines = [
        (setl_id, i, *_LINE(ln), *_SPLIT_PARTS(sp), fund_pay, *_SPLIT_PAID(sp))
        for i, (ln, sp, fund_pay) in enumerate(zip(visit.lines, splits, fund_pays, strict=True), 1)
    ]
    digest = ContentDigest(_DIGEST_HEADER(header), (s.commercial_pay, s.commercial_product))
    digest.lines(lines)
    entries = [*_entries(policy, s), (s.psn_no, "digest", digest.hex(), "settlement", 0)]
    jrows = _chain(entries, heads, setl_id, msgid, at)
    if s.acct_pay:
        assert s.account_psn_no is not None
        h = heads[s.account_psn_no]
        heads[s.account_psn_no] = ChainHead(h.balance - s.acct_pay, h.seq, h.hash)
    msg = (msgid, "2207", setl_id, "settle", None, -s.acct_pay, ACTIVE, at, fingerprint)
    ops: list[Op] = [
        Op(_INS_MSG, msg, False, "message", MSG_COLS),
        Op(_INS_HEADER, header, False, "settlement", HEADER_COLS),
    ]
    if lines:
        ops.append(Op(_INS_LINE, lines, True, "settlement_line", LINE_COLS))
    if jrows:
        ops.append(Op(_INS_JOURNAL, jrows, True, "journal", JOURNAL_COLS))
    if s.deltas:
        acc = add_counters(counters, s.deltas, 1)
        ops.append(Op(SQL_UPSERT_ACC, (s.psn_no, year, acc, int(persons[s.psn_no].version) + 1)))
    ops.extend(_person_updates(persons, heads, s.psn_no))
    return ops


def _person_updates(persons: dict[str, PersonRow], heads: dict[str, ChainHead], patient: str) -> list[Op]:
    """Write back balance and chain head, bumping ``version`` — always for the patient (whose
    accumulator row records that version), for others only when something changed."""
    ops: list[Op] = []
    for k, head in sorted(heads.items()):
        r = persons[k]
        if k == patient or head.balance != r.account_balance or head.seq != r.chain_seq:
            ops.append(Op(SQL_UPD_PERSON, (head.balance, head.seq, head.hash, int(r.version) + 1, k)))
    return ops


# ---------------------------------------------------------------------------- cancel / reverse (2208 / 2601)
def cancel(conn: Connection, setl_id: str, msgid: str) -> ReversalOutcome:
    """2208 门诊结算撤销: undo settlement ``setl_id`` — negated accumulator deltas, account credited back,
    negating journal rows, status ``cancelled`` — recorded under ``msgid`` (idempotent).

    Refused with ``not_latest`` while a later active settlement of the same person-year, or a later
    active settlement using the same account, exists (undo newest first, 倒序撤销); with
    ``unknown_settlement`` / ``already_reversed`` as the names say."""
    return _undo(conn, setl_id, msgid, "2208", None, restore=False)


def reverse(conn: Connection, omsgid: str, msgid: str) -> ReversalOutcome:
    """2601 冲正 of the transaction recorded under ``omsgid``.

    * a 2207 settlement → undone exactly like :func:`cancel`;
    * a 2208 cancel → the settlement is restored (active again, deltas and account debit re-applied,
      journal rows re-written), provided nothing was settled for that person-year or account after it;
    * a 2601 reversal cannot itself be reversed (``not_reversible``)."""
    seen = message_row(conn.execute(SQL_MSG, (msgid,)).fetchone())
    orig = message_row(conn.execute(SQL_MSG, (omsgid,)).fetchone())
    conn.end_read()
    if seen is not None:
        return _replay_undo(seen, "2601", omsgid)
    if orig is None:
        raise LedgerError(
            "omsgid", f"没有报文编号为 {omsgid!r} 的交易 no such transaction", "unknown_settlement"
        )
    if orig.infno == "2601":
        raise LedgerError(
            "omsgid",
            f"{omsgid!r} 是一笔冲正交易，不能再冲正 a 2601 reversal cannot be reversed",
            "not_reversible",
        )
    if orig.action == "settle":
        return _undo(conn, orig.setl_id, msgid, "2601", omsgid, restore=False)
    if orig.action == "cancel":
        return _undo(conn, orig.setl_id, msgid, "2601", omsgid, restore=True)
    raise LedgerError(
        "omsgid",
        f"{omsgid!r} 是一笔冲正交易，不能再冲正 a 2601 reversal cannot be reversed",
        "not_reversible",
    )


def _replay_undo(msg: MessageRow, infno: str, target: str) -> ReversalOutcome:
    """A retry of a 2208 (``target`` the settlement) or 2601 (``target`` the original msgid) returns the
    first result; the msgid used for anything else is ``msgid_conflict``."""
    same = (
        msg.infno == infno
        and msg.action in ("cancel", "restore")
        and (
            msg.fingerprint == undo_fingerprint(infno, target)
            if msg.fingerprint is not None
            else (msg.setl_id if infno == "2208" else msg.omsgid) == target
        )
    )
    if not same:
        raise _conflict(msg, f"{msg.action} {msg.setl_id}")
    return ReversalOutcome(msg.setl_id, msg.msgid, msg.action, msg.status, int(msg.acct_change), True)


def _undo(
    conn: Connection, setl_id: str, msgid: str, infno: str, omsgid: str | None, *, restore: bool
) -> ReversalOutcome:
    target = setl_id if infno == "2208" else str(omsgid)
    conn.begin(write=True)
    try:
        seen = message_row(conn.execute_in_write(SQL_MSG, (msgid,)).fetchone())
        if seen is not None:
            conn.rollback()
            return _replay_undo(seen, infno, target)
        hdr = conn.execute_in_write(
            "SELECT psn_no, account_psn_no FROM settlement WHERE setl_id = %s", (setl_id,)
        ).fetchone()
        if hdr is None:
            raise LedgerError("setl_id", f"结算 {setl_id!r} 不存在 unknown settlement", "unknown_settlement")
        keys = sorted({hdr[0], hdr[1]} - {None})
        fragment, args = conn.in_list(keys)
        lock = f"{SQL_PERSON} WHERE psn_no {fragment} ORDER BY psn_no" + (" FOR UPDATE" if conn.pg else "")
        persons = {r[0]: person_row(r) for r in conn.execute_in_write(lock, args).fetchall()}
        # under the person lock, which a deduction also takes: a racing deduction is either seen here or waits
        if not restore and deduction.settled_deductions(conn, setl_id) > 0:
            raise LedgerError(
                "setl_id",
                f"结算 {setl_id} 已有稽核扣款，不能撤销 the settlement has audit deductions (扣款) recovering its "
                "fund payment; it cannot be undone",
                "deducted",
            )
        row = conn.execute_in_write(
            "SELECT id, msgid, psn_no, year, status, cancel_msgid, account_psn_no, acct_pay, deltas "
            "FROM settlement WHERE setl_id = %s",
            (setl_id,),
        ).fetchone()
        sid, smsgid, psn_no, year, status, cancel_msgid, acct_psn, acct_pay, deltas_json = row
        if restore:
            if status != CANCELLED or cancel_msgid != omsgid:
                raise LedgerError(
                    "omsgid",
                    f"结算 {setl_id} 的撤销 {omsgid!r} 已被冲正 the cancel was already reversed",
                    "already_reversed",
                )
            source = cancel_msgid
        else:
            if status != ACTIVE:
                raise LedgerError(
                    "setl_id",
                    f"结算 {setl_id} 已撤销 the settlement is already cancelled",
                    "already_reversed",
                )
            source = smsgid
        later = conn.execute_in_write(
            "SELECT setl_id FROM settlement WHERE id > %s AND status = 'active' AND "
            "((psn_no = %s AND year = %s) OR account_psn_no = %s) ORDER BY id LIMIT 1",
            (sid, psn_no, year, acct_psn if acct_pay else None),
        ).fetchone()
        if later is not None:
            raise LedgerError(
                "setl_id",
                f"须先撤销同一人同一年度（或同一账户）之后的结算 {later[0]}（倒序撤销） a later active settlement of "
                "the same person-year or account must be undone first",
                "not_latest",
            )
        arow = conn.execute_in_write(SQL_ACC, (psn_no, year)).fetchone()
        counters: dict[str, int] = json.loads(arow[0]) if arow else {}
        src = conn.execute_in_write(
            "SELECT chain, kind, item, field, amount FROM journal WHERE msgid = %s AND setl_id = %s "
            "AND kind <> 'digest' "
            "ORDER BY chain, seq",
            (source, setl_id),
        ).fetchall()
        at = now()
        sign = 1 if restore else -1
        heads = {
            k: ChainHead(int(r.account_balance), int(r.chain_seq), r.chain_hash) for k, r in persons.items()
        }
        jrows = _chain([(c, k, i, f, -int(a)) for c, k, i, f, a in src], heads, setl_id, msgid, at)
        acct_change = -sign * int(acct_pay)
        if acct_pay:
            h = heads[acct_psn]
            heads[acct_psn] = h._replace(balance=h.balance + acct_change)
            if heads[acct_psn].balance < 0:
                raise LedgerError(
                    "setl_id",
                    f"账户 {acct_psn} 余额不足以再次支付 {acct_pay} insufficient balance",
                    "insufficient_balance",
                )
        new_status = ACTIVE if restore else CANCELLED
        action = "restore" if restore else "cancel"
        ops: list[Op] = [
            insert(
                "message",
                MSG_COLS,
                (
                    msgid,
                    infno,
                    setl_id,
                    action,
                    omsgid,
                    acct_change,
                    new_status,
                    at,
                    undo_fingerprint(infno, target),
                ),
            ),
            Op(
                "UPDATE settlement SET status = %s, cancel_msgid = %s WHERE setl_id = %s",
                (new_status, None if restore else msgid, setl_id),
            ),
        ]
        deltas = json.loads(deltas_json)
        if deltas:
            acc = add_counters(counters, deltas, sign)
            ops.append(Op(SQL_UPSERT_ACC, (psn_no, year, acc, int(persons[psn_no].version) + 1)))
        if jrows:
            ops.append(insert("journal", JOURNAL_COLS, jrows, many=True))
        ops.extend(_person_updates(persons, heads, psn_no))
        conn.write(ops)
        return ReversalOutcome(setl_id, msgid, action, new_status, acct_change, False)
    except BaseException as exc:
        conn.rollback()
        if conn.is_unique_violation(exc):
            again = message_row(conn.execute(SQL_MSG, (msgid,)).fetchone())
            conn.end_read()
            if again is not None:
                return _replay_undo(again, infno, target)
        raise
