"""Deductions (扣款): fund money recovered from an institution after an audit decision.

How a deduction is recorded, and why:

* It is **institution-side**.  The fund paid the institution for the settled items; the deduction takes
  (part of) that payment back from the institution (违规费用由定点机构承担).  The patient is not charged:
  person rows, account balances, the person journal and the settlements themselves are not touched.
* **Person accumulators are unchanged.**  The patient's deductible, ceilings and counters were consumed
  by a settlement that was lawful from the patient's side; recomputing them would re-open settled
  visits of an innocent patient (and every later visit of the year) for a dispute between the fund and
  the institution.  If a bureau decides otherwise the settlement is cancelled / reversed (2208 / 2601)
  instead, which restores them exactly.
* It has **its own hash chain per institution**: each ``ledger_deduction`` row is one link
  (``seq`` 1, 2, 3 … per ``fixmedins_code``), hashed over its header and its items; the head is kept
  in ``ledger_inst_chain``.  :func:`check` (run by ``Ledger.verify``) recomputes the chains and finds
  edited, inserted and deleted rows like the person journal check does.
* It is **idempotent** by ``deduction_id``: posting the same id again returns the first result; the same
  id with different content is refused (``deduction_conflict``).
* It **never recovers more than the fund paid**: per settlement at most ``fund_pay_sumamt`` over all
  deductions, and per line at most what the funds paid for that line — the line's allocation stored
  with the settlement (:mod:`yibao.settlement.allocation`), the same amounts the patient's itemised
  explanation shows.  Only active settlements of
  the deducting institution can be deducted, and a settlement with deductions cannot be cancelled.

Concurrency: the institution's chain row is locked first (``SELECT … FOR UPDATE``; SQLite ``BEGIN
IMMEDIATE``), then the persons of the settlements concerned in ``psn_no`` order — the lock a 2208 / 2601
takes — so a deduction and a cancel of the same settlement serialise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yibao.db.connection import Connection
from yibao.ledger.journal import GENESIS
from yibao.ledger.queries import read_settlement
from yibao.ledger.types import LedgerError
from yibao.settlement.allocation import line_fund_paid

WHOLE = ""  # feedetl_sn of an item that concerns the settlement as a whole


@dataclass(frozen=True, slots=True)
class DeductionItem:
    setl_id: str
    feedetl_sn: str  # the settlement line, or "" for the settlement as a whole
    amount: int  # fen recovered, > 0


@dataclass(frozen=True, slots=True)
class DeductionOutcome:
    deduction_id: str
    fixmedins_code: str
    reference: str
    amount: int
    memo: str
    seq: int
    created: str
    hash: str
    items: tuple[DeductionItem, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class SettlementCap:
    """What may still be recovered from one settlement: ``remaining`` in total, ``lines`` per line."""

    setl_id: str
    fixmedins_code: str
    status: str
    fund_paid: int
    remaining: int
    lines: dict[str, int]


def deduction_hash(
    prev_hash: str,
    deduction_id: str,
    fixmedins_code: str,
    seq: int,
    reference: str,
    amount: int,
    memo: str,
    created: str,
    items: Sequence[DeductionItem],
) -> str:
    body = json.dumps(
        [
            deduction_id,
            fixmedins_code,
            seq,
            reference,
            amount,
            memo,
            created,
            [[i.setl_id, i.feedetl_sn, i.amount] for i in items],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def tables_present(conn: Connection) -> bool:
    """True when the deduction tables exist (the ``audit`` migration branch has run)."""
    if conn.pg:
        row = conn.execute("SELECT to_regclass('ledger_deduction') IS NOT NULL").fetchone()
    else:
        row = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_deduction'"
        ).fetchone()
    return bool(row[0])


def _caps(conn: Connection, setl_ids: Sequence[str]) -> dict[str, SettlementCap]:
    out: dict[str, SettlementCap] = {}
    for setl_id in sorted(set(setl_ids)):
        row = conn.execute(
            "SELECT status, fund_pay_sumamt, fixmedins_code FROM settlement WHERE setl_id = %s", (setl_id,)
        ).fetchone()
        if row is None:
            raise LedgerError(
                "items.setl_id", f"结算 {setl_id!r} 不存在 unknown settlement", "unknown_settlement"
            )
        status, fund_paid, code = row[0], int(row[1]), str(row[2])
        shares: dict[str, int] = {}
        for sp in read_settlement(conn, setl_id).settlement.line_splits:
            shares[sp.feedetl_sn] = shares.get(sp.feedetl_sn, 0) + line_fund_paid(sp)
        done = conn.execute(
            "SELECT feedetl_sn, SUM(amount) FROM ledger_deduction_item WHERE setl_id = %s GROUP BY feedetl_sn",
            (setl_id,),
        ).fetchall()
        taken = {str(sn): int(a) for sn, a in done}
        remaining = fund_paid - sum(taken.values())
        per_line = {sn: share - taken.get(sn, 0) for sn, share in shares.items()}
        out[setl_id] = SettlementCap(setl_id, code, str(status), fund_paid, remaining, per_line)
    return out


def caps(conn: Connection, setl_ids: Sequence[str]) -> dict[str, SettlementCap]:
    """Recoverable amounts per settlement as of now (read only)."""
    try:
        return _caps(conn, setl_ids)
    finally:
        conn.end_read()


def _validate(fixmedins_code: str, items: Sequence[DeductionItem], cap: dict[str, SettlementCap]) -> None:
    left = {k: c.remaining for k, c in cap.items()}
    line_left = {(k, sn): v for k, c in cap.items() for sn, v in c.lines.items()}
    for n, it in enumerate(items):
        where = f"items[{n}]"
        c = cap[it.setl_id]
        if c.status != "active":
            raise LedgerError(
                f"{where}.setl_id",
                f"该笔结算已撤销，基金支付已退回 settlement {it.setl_id} is {c.status}: "
                "its fund payment was already undone",
                "not_active",
            )
        if c.fixmedins_code != fixmedins_code:
            raise LedgerError(
                f"{where}.setl_id",
                f"该笔结算不是本机构结算的 settlement {it.setl_id} was settled by {c.fixmedins_code!r}, "
                f"not by {fixmedins_code!r}",
                "wrong_institution",
            )
        if it.feedetl_sn != WHOLE:
            key = (it.setl_id, it.feedetl_sn)
            if key not in line_left:
                raise LedgerError(
                    f"{where}.feedetl_sn",
                    f"该笔结算没有这条明细 settlement {it.setl_id} has no line {it.feedetl_sn!r}",
                    "unknown_line",
                )
            if it.amount > line_left[key]:
                raise LedgerError(
                    f"{where}.amount",
                    f"扣款超过该明细尚未追回的基金支付 {it.amount} fen exceeds what the fund paid for line "
                    f"{it.feedetl_sn} of {it.setl_id} and is not yet recovered "
                    f"({line_left[key]} fen)",
                    "over_fund_paid",
                )
            line_left[key] -= it.amount
        if it.amount > left[it.setl_id]:
            raise LedgerError(
                f"{where}.amount",
                f"扣款超过该笔结算尚未追回的基金支付 {it.amount} fen exceeds what the fund paid for {it.setl_id} and "
                f"is not yet recovered ({left[it.setl_id]} fen)",
                "over_fund_paid",
            )
        left[it.setl_id] -= it.amount


def _stored(conn: Connection, deduction_id: str, replayed: bool = True) -> DeductionOutcome | None:
    row = conn.execute(
        "SELECT deduction_id, fixmedins_code, reference, amount, memo, seq, created, hash "
        "FROM ledger_deduction WHERE deduction_id = %s",
        (deduction_id,),
    ).fetchone()
    if row is None:
        return None
    items = conn.execute(
        "SELECT setl_id, feedetl_sn, amount FROM ledger_deduction_item WHERE deduction_id = %s "
        "ORDER BY item_no",
        (deduction_id,),
    ).fetchall()
    return DeductionOutcome(
        row[0],
        row[1],
        row[2],
        int(row[3]),
        row[4],
        int(row[5]),
        row[6],
        row[7],
        tuple(DeductionItem(a, b, int(c)) for a, b, c in items),
        replayed,
    )


def _replay(
    first: DeductionOutcome, fixmedins_code: str, reference: str, items: Sequence[DeductionItem]
) -> DeductionOutcome:
    if (first.fixmedins_code, first.reference, first.items) != (fixmedins_code, reference, tuple(items)):
        raise LedgerError(
            "deduction_id",
            f"该扣款编号已入账且内容不同 deduction {first.deduction_id!r} was already posted with different content",
            "deduction_conflict",
        )
    return first


def post(
    conn: Connection,
    deduction_id: str,
    fixmedins_code: str,
    reference: str,
    items: Sequence[DeductionItem],
    memo: str = "",
) -> DeductionOutcome:
    """Record deduction ``deduction_id`` against ``fixmedins_code`` in one transaction (see module doc)."""
    if not deduction_id or len(deduction_id) > 100:
        raise LedgerError("deduction_id", "扣款编号须为 1–100 个字符 must be 1–100 characters")
    if not fixmedins_code or len(fixmedins_code) > 30:
        raise LedgerError("fixmedins_code", "机构编码须为 1–30 个字符 must be 1–30 characters")
    if not items:
        raise LedgerError("items", "扣款至少须有一项明细 a deduction needs at least one item")
    for n, it in enumerate(items):
        if not isinstance(it.amount, int) or isinstance(it.amount, bool) or it.amount <= 0:
            raise LedgerError(
                f"items[{n}].amount",
                f"金额须为正整数（分） must be a positive integer of fen, got {it.amount!r}",
            )

    items = tuple(items)
    conn.begin(write=True)
    try:
        seen = _stored(conn, deduction_id)
        if seen is not None:
            conn.rollback()
            return _replay(seen, fixmedins_code, reference, items)
        conn.execute(
            "INSERT INTO ledger_inst_chain (fixmedins_code, chain_seq, chain_hash) VALUES (%s, 0, %s) "
            "ON CONFLICT (fixmedins_code) DO NOTHING",
            (fixmedins_code, GENESIS),
        )
        lock = "SELECT chain_seq, chain_hash FROM ledger_inst_chain WHERE fixmedins_code = %s"
        head = conn.execute(lock + (" FOR UPDATE" if conn.pg else ""), (fixmedins_code,)).fetchone()
        seen = _stored(conn, deduction_id)  # again under the lock: a racing post of this id may have won
        if seen is not None:
            conn.rollback()
            return _replay(seen, fixmedins_code, reference, items)
        setl_ids = sorted({it.setl_id for it in items})
        if conn.pg:
            conn.execute(
                "SELECT p.psn_no FROM person p WHERE p.psn_no IN (SELECT psn_no FROM settlement WHERE setl_id = "
                "ANY(%s)) ORDER BY p.psn_no FOR UPDATE",
                (setl_ids,),
            ).fetchall()
        _validate(fixmedins_code, items, _caps(conn, setl_ids))
        seq, now = int(head[0]) + 1, dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        total = sum(it.amount for it in items)
        h = deduction_hash(head[1], deduction_id, fixmedins_code, seq, reference, total, memo, now, items)
        conn.execute(
            "INSERT INTO ledger_deduction (deduction_id, fixmedins_code, seq, reference, amount, memo, created, "
            "prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (deduction_id, fixmedins_code, seq, reference, total, memo, now, head[1], h),
        )
        for n, it in enumerate(items, 1):
            conn.execute(
                "INSERT INTO ledger_deduction_item (deduction_id, item_no, setl_id, feedetl_sn, amount) "
                "VALUES (%s, %s, %s, %s, %s)",
                (deduction_id, n, it.setl_id, it.feedetl_sn, it.amount),
            )
        conn.execute(
            "UPDATE ledger_inst_chain SET chain_seq = %s, chain_hash = %s WHERE fixmedins_code = %s",
            (seq, h, fixmedins_code),
        )
        conn.commit()
        return DeductionOutcome(
            deduction_id, fixmedins_code, reference, total, memo, seq, now, h, items, False
        )
    except BaseException as exc:
        conn.rollback()
        if conn.is_unique_violation(exc):  # a racing post of the same id won
            seen = _stored(conn, deduction_id)
            conn.end_read()
            if seen is not None:
                return _replay(seen, fixmedins_code, reference, items)
        raise


def list_deductions(conn: Connection, fixmedins_code: str | None = None) -> list[DeductionOutcome]:
    """Deductions in chain order (by institution, then seq)."""
    sql = "SELECT deduction_id FROM ledger_deduction"
    args: tuple[Any, ...] = ()
    if fixmedins_code is not None:
        sql, args = sql + " WHERE fixmedins_code = %s", (fixmedins_code,)
    ids = [r[0] for r in conn.execute(sql + " ORDER BY fixmedins_code, seq", args).fetchall()]
    out = [d for d in (_stored(conn, i, replayed=False) for i in ids) if d is not None]
    conn.end_read()
    return out


def settled_deductions(conn: Connection, setl_id: str) -> int:
    """Fen already recovered from settlement ``setl_id`` (0 when the deduction tables are absent)."""
    if not tables_present(conn):
        return 0
    row = conn.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger_deduction_item WHERE setl_id = %s", (setl_id,)
    ).fetchone()
    return int(row[0])


def totals(conn: Connection) -> dict[str, int]:
    """``deduction_count`` and ``deduction_amt`` (fen) over every posted deduction."""
    if not tables_present(conn):
        return {"deduction_count": 0, "deduction_amt": 0}
    row = conn.execute("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger_deduction").fetchone()
    return {"deduction_count": int(row[0]), "deduction_amt": int(row[1])}


def check(conn: Connection, problems: list[str]) -> tuple[int, dict[str, str]]:
    """Recompute every institution chain and the caps; append problems.  Returns (rows, heads) where
    ``heads`` maps ``inst:<code>`` to the head hash kept in ``ledger_inst_chain`` (for the root)."""
    if not tables_present(conn):
        return 0, {}
    heads = {
        str(c): (int(s), str(h))
        for c, s, h in conn.execute(
            "SELECT fixmedins_code, chain_seq, chain_hash FROM ledger_inst_chain"
        ).fetchall()
    }
    items: dict[str, list[tuple[int, DeductionItem]]] = {}
    for did, no, setl_id, sn, amount in conn.execute(
        "SELECT deduction_id, item_no, setl_id, feedetl_sn, amount FROM ledger_deduction_item"
    ).fetchall():
        items.setdefault(str(did), []).append((int(no), DeductionItem(str(setl_id), str(sn), int(amount))))
    rows = conn.execute(
        "SELECT deduction_id, fixmedins_code, seq, reference, amount, memo, created, prev_hash, hash "
        "FROM ledger_deduction ORDER BY fixmedins_code, seq"
    ).fetchall()
    chain: str | None = None
    seq, prev = 0, GENESIS
    seen: set[str] = set()
    by_inst: dict[str, list[DeductionItem]] = {}

    def close() -> None:
        if chain is None:
            return
        seen.add(chain)
        if heads.get(chain) != (seq, prev):
            problems.append(
                f"deduction_chain[{chain}]: head is {heads.get(chain)} but the last deduction is "
                f"seq {seq} (rows deleted or appended outside the ledger?)"
            )

    for did, code, s, ref, amount, memo, created, prev_hash, stored in rows:
        if code != chain:
            close()
            chain, seq, prev = code, 0, GENESIS
        key = f"deduction[{code}#{s}]"
        if int(s) != seq + 1:
            problems.append(f"{key}: expected seq {seq + 1} (row inserted or deleted?)")
        if prev_hash != prev:
            problems.append(f"{key}: prev_hash does not link to the previous deduction")
        its = [it for _n, it in sorted(items.pop(str(did), []), key=lambda x: x[0])]
        if sum(it.amount for it in its) != int(amount) or not its:
            problems.append(f"{key}: amount {amount} but its items sum to {sum(it.amount for it in its)}")
        if (
            deduction_hash(
                str(prev_hash),
                str(did),
                str(code),
                int(s),
                str(ref),
                int(amount),
                str(memo),
                str(created),
                its,
            )
            != stored
        ):
            problems.append(f"{key}: hash mismatch (deduction {did} or its items edited)")
        by_inst.setdefault(str(code), []).extend(its)
        seq, prev = int(s), str(stored)
    close()
    for code, (s, _h) in sorted(heads.items()):
        if s and code not in seen:
            problems.append(f"deduction_chain[{code}]: head is seq {s} but there are no deductions")
    for did in sorted(items):
        problems.append(f"deduction_item[{did}]: items of a deduction that does not exist")
    for code, its in sorted(by_inst.items()):
        _validate_totals(code, its, _caps_for_check(conn, code, its, problems), problems)
    return len(rows), {f"inst:{c}": h for c, (s, h) in heads.items() if s}


def _caps_for_check(
    conn: Connection, code: str, its: Sequence[DeductionItem], problems: list[str]
) -> dict[str, SettlementCap]:
    out: dict[str, SettlementCap] = {}
    for setl_id in sorted({it.setl_id for it in its}):
        try:
            out.update(_caps(conn, [setl_id]))
        except LedgerError:
            problems.append(f"deduction_chain[{code}]: deducts from settlement {setl_id} that does not exist")
    return out


def _validate_totals(
    code: str, its: Sequence[DeductionItem], cap: dict[str, SettlementCap], problems: list[str]
) -> None:
    """The stored deductions against the caps (the caps already subtract them, so none may be < 0)."""
    for setl_id, c in cap.items():
        if c.status != "active":
            problems.append(f"settlement[{setl_id}]: {c.status} but deductions recover money from it")
        if c.fixmedins_code != code:
            problems.append(
                f"settlement[{setl_id}]: settled by {c.fixmedins_code!r} but deducted from {code!r}"
            )
        if c.remaining < 0:
            problems.append(
                f"settlement[{setl_id}]: deductions exceed the fund payment by {-c.remaining} fen"
            )
        for sn, left in sorted(c.lines.items()):
            if left < 0:
                problems.append(
                    f"settlement[{setl_id}] line {sn}: deductions exceed its fund share by {-left} fen"
                )
    for it in its:
        found = cap.get(it.setl_id)
        if found is not None and it.feedetl_sn != WHOLE and it.feedetl_sn not in found.lines:
            problems.append(
                f"settlement[{it.setl_id}]: deduction on line {it.feedetl_sn!r} that does not exist"
            )
