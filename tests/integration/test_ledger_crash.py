"""Crash safety: a process killed between any two statements of a settlement (or a cancel) leaves
either no trace of it or all of it, and the journal still verifies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ledger_support import msgid, open_ledger, person, snapshot, visit, visit_to_json

from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook

CHILD = Path(__file__).with_name("crash_child.py")
OP = [("A01", 10_000, 12), ("B10", 3_000, 5), ("C01", 1_000, 2)]
PEOPLE = ["E1", "E2"]


def _run(url: str, n: int, *args: str) -> int:
    return subprocess.run([sys.executable, str(CHILD), url, str(n), *args], timeout=120).returncode


def _statements(led: Ledger, book: PolicyBook) -> tuple[int, int]:
    """(statements in a settle, statements in a cancel), COMMIT included, learned by a probe run."""
    led.conn.fault_after = 10**9
    try:
        out = led.settle(book, visit("E1", OP, account_psn_no="E2"), msgid())
        n_settle = led.conn.statements
        led.cancel(out.setl_id, msgid())
        n_cancel = led.conn.statements
    finally:
        led.conn.fault_after = None
    return n_settle, n_cancel


def test_a_settlement_killed_between_any_two_statements_is_all_or_nothing(
    db_url: str, book: PolicyBook
) -> None:
    led = open_ledger(db_url)
    led.add_persons(
        [person("E1", balance=200_000, family=["E2"]), person("E2", balance=150_000, family=["E1"])]
    )
    n_settle, n_cancel = _statements(led, book)
    assert n_settle >= 3 and n_cancel >= 3

    for n in range(n_settle + 1):
        v = visit("E1", OP, account_psn_no="E2")
        m = msgid()
        before = snapshot(led, PEOPLE)
        rc = _run(db_url, n, "settle", visit_to_json(v), m)
        if n < n_settle:
            assert rc == 1, f"child should have died before statement {n}"
            assert snapshot(led, PEOPLE) == before, (
                f"partial settlement left after dying before statement {n}"
            )
            assert not [s for s in led.list_settlements("E1") if s.msgid == m]
        else:
            assert rc == 0
            after = snapshot(led, PEOPLE)
            rows_before, rows_after = before["rows"], after["rows"]
            assert isinstance(rows_before, dict) and isinstance(rows_after, dict)
            assert rows_after["settlement"] == rows_before["settlement"] + 1
            assert rows_after["settlement_line"] == rows_before["settlement_line"] + len(v.lines)
            assert rows_after["message"] == rows_before["message"] + 1
            assert rows_after["journal"] > rows_before["journal"]
            stored = [s for s in led.list_settlements("E1") if s.msgid == m]
            assert len(stored) == 1 and stored[0].active
            assert led.account_balance("E2") == before["balance"]["E2"] - stored[0].settlement.acct_pay  # type: ignore[index]
        report = led.verify()
        assert report.ok, report.problems

    # now the cancel of the settlement just made, killed at every point
    target = led.list_settlements("E1", limit=1)[0]
    for n in range(n_cancel + 1):
        before = snapshot(led, PEOPLE)
        rc = _run(db_url, n, "cancel", target.setl_id, msgid())
        if n < n_cancel:
            assert rc == 1
            assert snapshot(led, PEOPLE) == before, f"partial cancel left after dying before statement {n}"
            assert led.get_settlement(target.setl_id).active
        else:
            assert rc == 0
            assert not led.get_settlement(target.setl_id).active
            assert led.account_balance("E2") == before["balance"]["E2"] + target.settlement.acct_pay  # type: ignore[index]
        report = led.verify()
        assert report.ok, report.problems
    led.close()
