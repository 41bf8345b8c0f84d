"""The hash-chained journal: verify() passes after a workload and reports every kind of tampering."""

from __future__ import annotations

import pytest
from ledger_support import msgid, open_ledger, person, visit

from yibao.ledger import Ledger
from yibao.ledger.journal import row_hash
from yibao.policy.book import PolicyBook

OP = [("A01", 10_000, 9), ("B10", 3_000, 4), ("C01", 1_000, 2)]
IP = [("A01", 100_000, 30), ("B10", 50_000, 6), ("M01", 140_000, 1)]


def _workload(led: Ledger, book: PolicyBook) -> None:
    led.add_persons(
        [
            person("E1", balance=100_000, family=["E2"]),
            person("E2", psn_type="21", balance=60_000, family=["E1"]),
            person("R1", insutype="390", psn_type="31"),
        ]
    )
    outs = []
    for i in range(6):
        outs.append(led.settle(book, visit("E1", OP, account_psn_no="E2" if i % 2 else None), msgid()))
        outs.append(led.settle(book, visit("R1", IP, med_type="21", hosp_lv=str(1 + i % 3)), msgid()))
    led.settle(book, visit("E2", IP, med_type="21", hosp_lv="3"), msgid())
    led.cancel(outs[-1].setl_id, msgid())  # R1's latest


def _rows(led: Ledger, chain: str) -> list[tuple[object, ...]]:
    rows = led.conn.execute(
        "SELECT chain, seq, setl_id, msgid, kind, item, field, amount, created, prev_hash, hash "
        "FROM journal WHERE chain = %s ORDER BY seq",
        (chain,),
    ).fetchall()
    led.conn.end_read()
    return [tuple(r) for r in rows]


def _exec(led: Ledger, sql: str, params: tuple[object, ...]) -> None:
    """Tamper behind the ledger's back (autocommit on SQLite, explicit commit on PostgreSQL)."""
    led.conn.execute(sql, params)
    if led.kind == "pg":
        led.conn.commit()


def test_a_clean_workload_verifies_and_the_root_moves_with_history(ledger: Ledger, book: PolicyBook) -> None:
    _workload(ledger, book)
    r1 = ledger.verify()
    assert r1.ok, r1.problems
    assert r1.chains == 3 and r1.rows == ledger.row_counts()["journal"] and len(r1.root) == 64
    assert ledger.verify().root == r1.root  # deterministic
    ledger.settle(book, visit("R1", OP), msgid())
    assert ledger.verify().root != r1.root


@pytest.mark.parametrize(
    "tamper", ["edit_amount", "insert_linked", "insert_forged", "delete_middle", "delete_last"]
)
def test_tampering_is_reported(db_url: str, book: PolicyBook, tamper: str) -> None:
    led = open_ledger(db_url)
    _workload(led, book)
    assert led.verify().ok
    rows = _rows(led, "E1")
    assert len(rows) >= 6
    mid, last = rows[len(rows) // 2], rows[-1]
    if tamper == "edit_amount":
        _exec(led, "UPDATE journal SET amount = amount + 1 WHERE chain = %s AND seq = %s", (mid[0], mid[1]))
        expect = [f"journal[E1#{mid[1]}]: hash mismatch", f"settlement[{mid[2]}]"]
    elif tamper == "insert_linked":
        # a forger who knows the hash scheme appends a properly linked row to E1's chain
        seq = int(last[1]) + 1  # type: ignore[call-overload]
        h = row_hash(
            str(last[10]),
            "E1",
            seq,
            str(last[2]),
            str(last[3]),
            "cash",
            "",
            "psn_cash_pay",
            -500,
            str(last[8]),
        )
        _exec(
            led,
            "INSERT INTO journal VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            ("E1", seq, last[2], last[3], "cash", "", "psn_cash_pay", -500, last[8], last[10], h),
        )
        expect = ["person[E1]: chain head", f"settlement[{last[2]}]"]
    elif tamper == "insert_forged":
        seq = int(last[1]) + 1  # type: ignore[call-overload]
        _exec(
            led,
            "INSERT INTO journal VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                "E1",
                seq,
                "forged",
                "forged",
                "fund",
                "310100",
                "hifp_pay",
                99_999,
                last[8],
                "0" * 64,
                "f" * 64,
            ),
        )
        expect = [
            f"journal[E1#{seq}]: prev_hash",
            f"journal[E1#{seq}]: hash mismatch",
            "person[E1]: chain head",
            "journal[setl_id=forged]",
        ]
    elif tamper == "delete_middle":
        _exec(led, "DELETE FROM journal WHERE chain = %s AND seq = %s", (mid[0], mid[1]))
        expect = [f"journal[E1#{int(mid[1]) + 1}]: seq gap", f"settlement[{mid[2]}]"]  # type: ignore[call-overload]
    else:
        _exec(led, "DELETE FROM journal WHERE chain = %s AND seq = %s", (last[0], last[1]))
        expect = ["person[E1]: chain head", f"settlement[{last[2]}]"]
    report = led.verify()
    assert not report.ok
    for e in expect:
        assert any(p.startswith(e) for p in report.problems), (e, report.problems)
    led.close()


def test_a_stored_settlement_changed_behind_the_ledger_is_reported(ledger: Ledger, book: PolicyBook) -> None:
    _workload(ledger, book)
    s = ledger.list_settlements("E1", limit=1)[0]
    _exec(ledger, "UPDATE settlement SET hifp_pay = hifp_pay + 100 WHERE setl_id = %s", (s.setl_id,))
    report = ledger.verify()
    assert not report.ok
    assert any(p.startswith(f"settlement[{s.setl_id}]: hifp_pay") for p in report.problems), report.problems
