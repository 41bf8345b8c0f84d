"""Verification: recompute every journal chain and cross-check settlements, accumulators and deductions.

Reports edited rows (hash mismatch), inserted rows (duplicate seq, broken prev link, or a chain longer
than its head), deleted rows (seq gap, or head on the person row ≠ last row), settlements whose money
fields disagree with the sum of their journal rows, settlements whose stored columns or lines (money,
deltas, the stored visit with its institution, line amounts and allocations) no longer match the
content digest their journal ``digest`` row carries, account balances that differ from the journal
(opening row minus account payments), and accumulators that differ from the sum of their active
settlements' deltas (which the digest covers) and the period's opening figures.  ``root`` digests the chain heads kept on the person rows (and the
institutions' deduction chains): publish it, and any later rewrite of history changes it.
"""

from __future__ import annotations

import json

from yibao.db.connection import Connection
from yibao.ledger import deduction
from yibao.ledger.journal import ChainCheck, root_digest
from yibao.ledger.rows import (
    ACTIVE,
    COMMERCIAL_COLS,
    DIGEST_HEADER_COLS,
    DIGEST_LINE_COLS,
    JOURNAL_COLS,
    JOURNAL_FIELDS,
    ContentDigest,
)
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
        "SELECT setl_id, field, SUM(amount) FROM journal WHERE kind NOT IN ('open', 'digest') "
        "GROUP BY setl_id, field"
    ).fetchall():
        sums.setdefault(setl_id, {})[field] = int(total)
    _balances(conn, problems)
    _digests(conn, problems)
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


def _balances(conn: Connection, problems: list[str]) -> None:
    """Every account balance equals its journal: the opening row minus the account payments (a
    cancellation's negating row gives the money back)."""
    journal: dict[str, int] = {}
    for chain, kind, total in conn.execute(
        "SELECT chain, kind, SUM(amount) FROM journal WHERE kind IN ('open', 'acct') GROUP BY chain, kind"
    ).fetchall():
        journal[chain] = journal.get(chain, 0) + (int(total) if kind == "open" else -int(total))
    for psn_no, balance in conn.execute("SELECT psn_no, account_balance FROM person").fetchall():
        want = journal.get(psn_no, 0)
        if int(balance) != want:
            problems.append(
                f"person[{psn_no}]: account balance {int(balance)} but the journal gives {want} "
                "(opening balance minus account payments)"
            )


def _digests(conn: Connection, problems: list[str]) -> None:
    """Recompute every settlement's content digest (header then lines, streamed in setl_id order) and
    compare it with the ``digest`` row its journal chain carries."""
    recorded: dict[str, str] = {}
    for setl_id, item in conn.execute(
        "SELECT j.setl_id, j.item FROM journal j JOIN settlement s "
        "ON s.setl_id = j.setl_id AND s.msgid = j.msgid WHERE j.kind = 'digest'"
    ).fetchall():
        recorded[str(setl_id)] = str(item)
    # settlements written with a request fingerprint were written with a digest row too
    required = {
        str(r[0])
        for r in conn.execute(
            "SELECT s.setl_id FROM settlement s JOIN message m ON m.msgid = s.msgid WHERE m.fingerprint IS NOT NULL"
        ).fetchall()
    }
    for setl_id, amount in conn.execute(
        "SELECT setl_id, amount FROM journal WHERE kind = 'digest' AND amount <> 0"
    ).fetchall():
        problems.append(f"settlement[{setl_id}]: its digest row carries an amount ({int(amount)})")
    by = 'setl_id COLLATE "C"' if conn.pg else "setl_id"  # the order Python compares strings in
    width = len(DIGEST_HEADER_COLS)
    headers = conn.execute(
        f"SELECT {', '.join((*DIGEST_HEADER_COLS, *COMMERCIAL_COLS))} FROM settlement ORDER BY {by}"
    ).fetchall()
    lines = iter(
        conn.execute(
            f"SELECT setl_id, {', '.join(DIGEST_LINE_COLS)}, commercial_pay FROM settlement_line "
            f"ORDER BY {by}, line_no"
        ).fetchall()
    )
    line = next(lines, None)
    key = DIGEST_HEADER_COLS.index("setl_id")
    for header in headers:
        setl_id = str(header[key])
        d = ContentDigest(header[:width], (header[width], header[width + 1]))
        while line is not None and str(line[0]) < setl_id:
            problems.append(f"settlement_line[{line[0]}#{line[1]}]: a line of no settlement")
            line = next(lines, None)
        while line is not None and str(line[0]) == setl_id:
            d.line(line[1:-1], line[-1])
            line = next(lines, None)
        want = recorded.pop(setl_id, None)
        if want is None:
            if setl_id in required:
                problems.append(
                    f"settlement[{setl_id}]: its journal has no content digest row (row deleted?)"
                )
            continue  # stored before settlements carried a digest
        if d.hex() != want:
            problems.append(
                f"settlement[{setl_id}]: stored columns or lines differ from the content digest in its "
                "journal (money, deltas, the stored visit or a line edited)"
            )
    while line is not None:
        problems.append(f"settlement_line[{line[0]}#{line[1]}]: a line of no settlement")
        line = next(lines, None)
    for setl_id in sorted(recorded):
        problems.append(f"journal[setl_id={setl_id}]: a digest row for a settlement that does not exist")
