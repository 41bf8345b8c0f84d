"""Verification: recompute every journal chain and cross-check settlements, accumulators and deductions.

Reports edited rows (hash mismatch), inserted rows (duplicate seq, broken prev link, or a chain longer
than its head), deleted rows (seq gap, or head on the person row ≠ last row), settlements whose money
fields disagree with the sum of their journal rows, and accumulators that differ from the sum of their
active settlements' deltas.  ``root`` digests the chain heads kept on the person rows (and the
institutions' deduction chains): publish it, and any later rewrite of history changes it.
"""

from __future__ import annotations

import json

from yibao.db.connection import Connection
from yibao.ledger import deduction
from yibao.ledger.journal import ChainCheck, root_digest
from yibao.ledger.rows import ACTIVE, JOURNAL_COLS, JOURNAL_FIELDS
from yibao.ledger.types import VerifyReport


def verify(conn: Connection) -> VerifyReport:
    """Verify the whole ledger in one consistent snapshot (a live ledger may keep settling meanwhile)."""
    problems: list[str] = []
    conn.begin_snapshot()
    try:
        return _verify(conn, problems)
    finally:
        conn.rollback()


def _verify(conn: Connection, problems: list[str]) -> VerifyReport:
    heads = {
        r[0]: (int(r[1]), r[2])
        for r in conn.execute("SELECT psn_no, chain_seq, chain_hash FROM person").fetchall()
    }
    check = ChainCheck(heads, problems)
    sql = f"SELECT {', '.join(JOURNAL_COLS)} FROM journal ORDER BY chain, seq"
    if conn.pg:  # stream through a server-side cursor instead of loading the journal at once
        cur = conn.raw.cursor(name="yibao_verify_journal")
        cur.itersize = 10_000
        cur.execute(sql)
    else:
        cur = conn.execute(sql)
    for r in cur:
        check.feed(r)
    cur.close()
    check.finish()
    sums: dict[str, dict[str, int]] = {}
    for setl_id, field, total in conn.execute(
        "SELECT setl_id, field, SUM(amount) FROM journal GROUP BY setl_id, field"
    ).fetchall():
        sums.setdefault(setl_id, {})[field] = int(total)
    cols = ", ".join(JOURNAL_FIELDS)
    acc_sum: dict[tuple[str, int], dict[str, int]] = {}
    for row in conn.execute(
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
    for psn_no, year, counters in conn.execute(
        "SELECT psn_no, year, counters FROM accumulator_opening"
    ).fetchall():  # the period started from these
        acc = acc_sum.setdefault((psn_no, int(year)), {})
        for k, d in json.loads(counters).items():
            acc[k] = acc.get(k, 0) + int(d)
    for psn_no, year, counters in conn.execute("SELECT psn_no, year, counters FROM accumulator").fetchall():
        expect = {k: v for k, v in acc_sum.pop((psn_no, int(year)), {}).items() if v}
        have = {k: int(v) for k, v in json.loads(counters).items() if v}
        if expect != have:
            problems.append(f"accumulator[{psn_no}/{year}]: {have} but active settlements add up to {expect}")
    for (psn_no, year), expect in sorted(acc_sum.items()):
        if any(expect.values()):
            problems.append(f"accumulator[{psn_no}/{year}]: missing, active settlements add up to {expect}")
    ded_rows, inst_heads = deduction.check(conn, problems)
    root = root_digest([*((psn, h) for psn, (seq, h) in heads.items() if seq), *inst_heads.items()])
    return VerifyReport(
        not problems, sum(1 for s, _ in heads.values() if s), check.rows, problems, root, ded_rows
    )
