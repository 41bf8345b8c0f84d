"""家庭共济 consent reaching the ledger: ``Ledger.set_family`` adds and drops the relatives whose accounts
may pay for a person (the list the engine checks ``acct_psn_no`` against), moves no money, and refuses an
unknown person."""

from __future__ import annotations

import datetime as dt

import pytest
from ledger_support import DAY, msgid, person, visit

from yibao.ledger import Ledger, LedgerError
from yibao.ledger.types import PersonRecord
from yibao.policy.book import PolicyBook


def _person(psn_no: str, family: list[str]) -> PersonRecord:
    return PersonRecord(
        psn_no, "张三", "610100199001010011", "M", dt.date(1990, 1, 1), "310", "11", family=family
    )


def test_a_payer_is_added_once_dropped_and_nothing_else_changes(db_url: str) -> None:
    with Ledger.open(db_url) as led:
        led.migrate()
        led.add_persons([_person("PF1", ["PF0"]), _person("PF2", [])])
        balance = led.account_balance("PF1")
        assert led.set_family("PF1", add=("PF2",)) == ("PF0", "PF2")
        assert led.set_family("PF1", add=("PF2",)) == ("PF0", "PF2")  # agreeing twice adds it once
        assert led.get_person("PF1", dt.date.today()).family == ("PF0", "PF2")
        assert led.set_family("PF1", drop=("PF2",)) == ("PF0",)
        assert led.get_person("PF1", dt.date.today()).family == ("PF0",)
        assert led.account_balance("PF1") == balance
        assert led.verify().ok  # no money moved, the journal still verifies
        with pytest.raises(LedgerError) as e:
            led.set_family("NOBODY", add=("PF2",))
        assert e.value.code == "unknown_person"


# ---------------------------------------------------------------------------- 2207 without acct_psn_no
def test_an_empty_own_account_defaults_to_the_one_agreed_payer(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("A", family=["B"]), person("B", psn_type="21", balance=90_000)])
    v = visit("A", [("A01", 10_000, 3)])  # asks for the account, names none
    pre = ledger.settle(book, v, msgid(), pre=True).settlement
    mid = msgid()
    out = ledger.settle(book, v, mid)
    s = out.settlement
    assert pre.account_psn_no == s.account_psn_no == "B"
    assert s.acct_pay > 0 and s.acct_mulaid_pay == s.acct_pay == pre.acct_pay
    assert ledger.account_balance("B") == 90_000 - s.acct_pay and ledger.account_balance("A") == 0
    stored = ledger.get_settlement(out.setl_id)
    assert stored.settlement.account_psn_no == "B"  # the bill names whose account paid
    assert stored.visit.account_psn_no == "B"  # stored as settled: replaying the stored visit gives the same
    again = ledger.settle(book, v, mid)  # a retry of the same request is the same settlement
    assert again.replayed and again.setl_id == out.setl_id
    assert ledger.account_balance("B") == 90_000 - s.acct_pay
    assert ledger.verify().ok
    ledger.cancel(out.setl_id, msgid())
    assert ledger.account_balance("B") == 90_000
    assert ledger.verify().ok


def test_the_own_account_pays_first(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("A", balance=500, family=["B"]), person("B", balance=90_000)])
    s = ledger.settle(book, visit("A", [("A01", 10_000, 3)]), msgid()).settlement
    assert s.account_psn_no == "A" and s.acct_pay == 500 and s.acct_mulaid_pay == 0
    assert ledger.account_balance("B") == 90_000
    assert ledger.verify().ok


@pytest.mark.parametrize(
    ("family", "b_balance", "use_account"),
    [
        (["B", "C"], 90_000, True),  # two agreed payers: the hospital must name one
        (["B"], 0, True),  # the relative's account is empty too
        (["B"], 90_000, False),  # the visit does not ask for the account
    ],
)
def test_no_default_payer(
    ledger: Ledger, book: PolicyBook, family: list[str], b_balance: int, use_account: bool
) -> None:
    ledger.add_persons(
        [person("A", family=family), person("B", balance=b_balance), person("C", balance=90_000)]
    )
    s = ledger.settle(book, visit("A", [("A01", 10_000, 3)], use_account=use_account), msgid()).settlement
    assert s.acct_pay == 0 and s.account_psn_no in (("A",) if use_account else (None,))
    assert s.psn_cash_pay == s.psn_part_amt
    assert (ledger.account_balance("B"), ledger.account_balance("C")) == (b_balance, 90_000)
    assert ledger.verify().ok


def test_a_payer_whose_scheme_has_no_account_rule_is_not_defaulted(ledger: Ledger, book: PolicyBook) -> None:
    """The fixture's resident scheme (390) has no account rule, so its member's account cannot pay for a
    relative (the engine would refuse it if named): the patient's own, empty, account is used instead."""
    assert book.for_date(DAY).accounts.get("390") is None
    ledger.add_persons([person("A", family=["R"]), person("R", insutype="390", psn_type="31", balance=9_000)])
    s = ledger.settle(book, visit("A", [("A01", 10_000, 3)]), msgid()).settlement
    assert s.account_psn_no == "A" and s.acct_pay == 0 and ledger.account_balance("R") == 9_000
    assert ledger.verify().ok
