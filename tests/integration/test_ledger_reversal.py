"""2208 cancel and 2601 reversal restore accumulators and balances exactly, and refuse out-of-order undo."""

from __future__ import annotations

import pytest
from ledger_support import money, msgid, open_ledger, person, snapshot, visit

from yibao.ledger import Ledger, LedgerError
from yibao.policy.book import PolicyBook

IP = [("A01", 100_000, 40), ("B10", 50_000, 20), ("M01", 140_000, 2), ("C01", 10_000, 3)]  # 40,000 + … 元
OP = [("A01", 10_000, 8), ("S01", 1_000, 1)]


def _people() -> list:  # type: ignore[type-arg]
    return [
        person("E1", balance=300_000, family=["E2"]),
        person("E2", psn_type="21", balance=120_000, family=["E1"]),
    ]


@pytest.mark.parametrize("how", ["cancel", "reverse"])
def test_undo_restores_state_and_what_follows_is_as_if_it_never_happened(
    db_url: str, book: PolicyBook, tmp_path: object, how: str
) -> None:
    led = open_ledger(db_url)
    led.add_persons(_people())
    v1 = visit("E1", IP, med_type="21", hosp_lv="3")
    v2 = visit("E1", IP, med_type="21", hosp_lv="2")
    v3 = visit("E1", OP, account_psn_no="E2")
    later = visit("E1", IP, med_type="21", hosp_lv="1")
    led.settle(book, v1, msgid())
    before = snapshot(led, ["E1", "E2"])
    m2 = msgid()
    o2 = led.settle(book, v2, m2)
    m3 = msgid()
    o3 = led.settle(book, v3, m3)
    # undo newest first (倒序撤销)
    if how == "cancel":
        led.cancel(o3.setl_id, msgid())
        led.cancel(o2.setl_id, msgid())
    else:
        led.reverse(m3, msgid())
        led.reverse(m2, msgid())
    after = snapshot(led, ["E1", "E2"])
    assert after["acc"] == before["acc"]
    assert after["balance"] == before["balance"]
    assert led.get_settlement(o2.setl_id).status == "cancelled"
    assert led.totals()["count"] == 1
    got = led.settle(book, later, msgid()).settlement
    assert led.verify().ok, led.verify().problems
    got_acc = snapshot(led, ["E1", "E2"])["acc"]
    led.close()

    # the same history without v2 and v3, on a second ledger of the same backend
    other_url = _other_url(db_url, tmp_path)
    try:
        ref = open_ledger(other_url)
        ref.migrate()
        ref.add_persons(_people())
        ref.settle(book, v1, msgid())
        want = ref.settle(book, later, msgid()).settlement
        assert money(got) == money(want)
        assert got.deltas == want.deltas
        assert snapshot(ref, ["E1", "E2"])["acc"] == got_acc
        ref.close()
    finally:
        _drop_other(other_url)


def _other_url(db_url: str, tmp_path: object) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/reference.db"
    from ledger_support import create_pg_database

    return create_pg_database()[1]


def _drop_other(url: str) -> None:
    if url.startswith("postgresql"):
        from ledger_support import drop_pg_database

        drop_pg_database(url.rsplit("/", 1)[1])


def test_undoing_an_earlier_settlement_is_refused_while_a_later_one_is_active(
    ledger: Ledger, book: PolicyBook
) -> None:
    ledger.add_persons(_people())
    m1 = msgid()
    o1 = ledger.settle(book, visit("E1", IP, med_type="21", hosp_lv="3"), m1)
    # the stay emptied E1's account: naming E1's own account keeps E2's (agreed 家庭共济) out of it
    o2 = ledger.settle(book, visit("E1", OP, account_psn_no="E1"), msgid())
    before = snapshot(ledger, ["E1", "E2"])
    with pytest.raises(LedgerError) as err:
        ledger.cancel(o1.setl_id, msgid())
    assert err.value.code == "not_latest" and o2.setl_id in err.value.reason
    with pytest.raises(LedgerError) as err:
        ledger.reverse(m1, msgid())
    assert err.value.code == "not_latest"
    assert snapshot(ledger, ["E1", "E2"]) == before
    # another person's settlement on their own account does not block E1's undo
    ledger.settle(book, visit("E2", OP), msgid())
    ledger.cancel(o2.setl_id, msgid())
    ledger.cancel(o1.setl_id, msgid())
    assert ledger.accumulators("E1", 2025) == {}
    assert ledger.account_balance("E1") == 300_000


def test_a_later_settlement_debiting_the_same_account_blocks_undo(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons(_people())
    # E1 pays from E2's account (家庭共济), then E2 pays from their own account
    o1 = ledger.settle(book, visit("E1", OP, account_psn_no="E2"), msgid())
    assert o1.settlement.acct_mulaid_pay > 0
    o2 = ledger.settle(book, visit("E2", OP), msgid())
    with pytest.raises(LedgerError) as err:
        ledger.cancel(o1.setl_id, msgid())
    assert err.value.code == "not_latest"
    ledger.cancel(o2.setl_id, msgid())
    ledger.cancel(o1.setl_id, msgid())
    assert ledger.account_balance("E2") == 120_000
    assert ledger.verify().ok


def test_reversing_a_cancel_restores_the_settlement(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons(_people())
    o = ledger.settle(book, visit("E1", IP, med_type="21", hosp_lv="3"), msgid())
    settled = snapshot(ledger, ["E1", "E2"])
    c = msgid()
    ledger.cancel(o.setl_id, c)
    r = ledger.reverse(c, msgid())
    assert (r.action, r.status, r.acct_change) == ("restore", "active", -o.settlement.acct_pay)
    restored = snapshot(ledger, ["E1", "E2"])
    assert restored["acc"] == settled["acc"] and restored["balance"] == settled["balance"]
    assert ledger.get_settlement(o.setl_id).status == "active"
    # the same cancel cannot be reversed twice, the reversal cannot be reversed
    with pytest.raises(LedgerError) as err:
        ledger.reverse(c, msgid())
    assert err.value.code == "already_reversed"
    with pytest.raises(LedgerError) as err:
        ledger.reverse(r.msgid, msgid())
    assert err.value.code == "not_reversible"
    # it can be cancelled again
    ledger.cancel(o.setl_id, msgid())
    assert ledger.accumulators("E1", 2025) == {}
    assert ledger.verify().ok


def test_a_cancel_cannot_be_reversed_once_something_was_settled_after_it(
    ledger: Ledger, book: PolicyBook
) -> None:
    ledger.add_persons(_people())
    o = ledger.settle(book, visit("E1", IP, med_type="21", hosp_lv="3"), msgid())
    c = msgid()
    ledger.cancel(o.setl_id, c)
    ledger.settle(book, visit("E1", OP), msgid())
    before = snapshot(ledger, ["E1", "E2"])
    with pytest.raises(LedgerError) as err:
        ledger.reverse(c, msgid())
    assert err.value.code == "not_latest"
    assert snapshot(ledger, ["E1", "E2"]) == before
