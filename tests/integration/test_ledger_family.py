"""家庭共济 consent reaching the ledger: ``Ledger.set_family`` adds and drops the relatives whose accounts
may pay for a person (the list the engine checks ``acct_psn_no`` against), moves no money, and refuses an
unknown person."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.ledger import Ledger, LedgerError
from yibao.ledger.types import PersonRecord


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
