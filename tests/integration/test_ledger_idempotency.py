"""Same msgid retried — sequentially and concurrently — returns the first result and changes nothing."""

from __future__ import annotations

import threading

import pytest
from ledger_support import money, msgid, open_ledger, person, snapshot, visit

from yibao.ledger import Ledger, LedgerError
from yibao.policy.book import PolicyBook

LINES = [("A01", 10_000, 30), ("B10", 5_000, 10), ("C01", 2_000, 5)]  # 3,000 + 500 + 100 元


def test_a_retried_msgid_returns_the_first_result_and_writes_nothing(
    ledger: Ledger, book: PolicyBook
) -> None:
    ledger.add_persons([person("P1", balance=50_000)])
    m = msgid()
    v = visit("P1", LINES, med_type="21", hosp_lv="2")
    first = ledger.settle(book, v, m)
    assert not first.replayed and first.setl_id
    before = snapshot(ledger, ["P1"])
    again = ledger.settle(book, v, m)
    assert again.replayed and again.setl_id == first.setl_id
    assert money(again.settlement) == money(first.settlement)
    assert again.settlement.setldetail == first.settlement.setldetail
    assert again.settlement.deltas == first.settlement.deltas
    assert again.settlement.line_parts == first.settlement.line_parts
    assert again.settlement.steps == first.settlement.steps
    assert snapshot(ledger, ["P1"]) == before
    # the same msgid carrying a different visit is a client error, not a retry: refused, nothing written
    with pytest.raises(LedgerError) as ei:
        ledger.settle(book, visit("P1", LINES[:1], med_type="21", hosp_lv="2"), m)
    assert ei.value.code == "msgid_conflict"
    assert snapshot(ledger, ["P1"]) == before


def test_a_pre_settlement_writes_nothing_not_even_the_msgid(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=50_000)])
    before = snapshot(ledger, ["P1"])
    m = msgid()
    pre = ledger.settle(book, visit("P1", LINES), m, pre=True)
    assert pre.setl_id == "" and not pre.replayed
    assert snapshot(ledger, ["P1"]) == before
    real = ledger.settle(book, visit("P1", LINES), m)
    assert not real.replayed
    assert money(real.settlement) == money(pre.settlement)


def test_two_threads_racing_with_one_msgid_make_exactly_one_settlement(db_url: str, book: PolicyBook) -> None:
    setup = open_ledger(db_url)
    setup.add_persons([person("P1", balance=80_000), person("P2", balance=10_000)])
    for _round in range(10):
        m = msgid()
        v = visit("P1", LINES, med_type="21", hosp_lv="3")
        barrier = threading.Barrier(2)
        results: list[object] = [None, None]

        def run(
            i: int,
            m: str = m,
            v: object = v,
            barrier: threading.Barrier = barrier,
            results: list[object] = results,
        ) -> None:
            led = open_ledger(db_url)
            try:
                barrier.wait()
                results[i] = led.settle(book, v, m)  # type: ignore[arg-type]
            except Exception as exc:  # surfaced by the assertions below
                results[i] = exc
            finally:
                led.close()

        before = setup.row_counts()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        a, b = results
        assert not isinstance(a, Exception) and not isinstance(b, Exception), results
        assert a.setl_id == b.setl_id  # type: ignore[union-attr]
        assert sorted([a.replayed, b.replayed]) == [False, True]  # type: ignore[union-attr]
        assert money(a.settlement) == money(b.settlement)  # type: ignore[union-attr]
        after = setup.row_counts()
        assert after["settlement"] == before["settlement"] + 1
        assert after["message"] == before["message"] + 1
    assert setup.verify().ok
    # and a retry after the race still changes nothing
    before_all = snapshot(setup, ["P1", "P2"])
    setup.settle(book, v, m)  # type: ignore[arg-type]
    assert snapshot(setup, ["P1", "P2"]) == before_all
    setup.close()


def test_a_retried_cancel_msgid_returns_the_first_outcome(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=50_000)])
    out = ledger.settle(book, visit("P1", LINES), msgid())
    c = msgid()
    first = ledger.cancel(out.setl_id, c)
    before = snapshot(ledger, ["P1"])
    again = ledger.cancel(out.setl_id, c)
    assert again.replayed and (again.setl_id, again.action, again.acct_change) == (
        first.setl_id,
        "cancel",
        first.acct_change,
    )
    assert snapshot(ledger, ["P1"]) == before
    r = msgid()
    ledger.reverse(c, r)
    before = snapshot(ledger, ["P1"])
    assert ledger.reverse(c, r).replayed
    assert snapshot(ledger, ["P1"]) == before
