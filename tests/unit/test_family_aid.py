"""家庭共济 when a 2207 names no paying account: the agreed relative's account only when the patient's own is
empty and exactly one relative agreed, and only where the relative's account rule allows it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from yibao.policy.compiled import CompiledAccount
from yibao.settlement.family_aid import default_payer, payer_may_pay
from yibao.settlement.model import Entitlement, Visit

DAY = dt.date(2025, 5, 1)
VISIT = Visit("MD1", "A", "11", "H61010000001", "1", DAY, DAY, ())


def test_an_empty_own_account_and_one_agreed_payer_default_to_that_payer() -> None:
    assert default_payer(VISIT, 0, ("B",)) == "B"


def test_otherwise_the_own_account_pays() -> None:
    assert default_payer(VISIT, 1, ("B",)) is None  # own account first, even with one fen
    assert default_payer(VISIT, 0, ()) is None
    assert default_payer(VISIT, 0, ("B", "C")) is None  # several agreed: the hospital names one
    assert default_payer(replace(VISIT, use_account=False), 0, ("B",)) is None
    assert default_payer(replace(VISIT, account_psn_no="C"), 0, ("B",)) is None  # named: as named
    assert default_payer(replace(VISIT, account_psn_no="A"), 0, ("B",)) is None
    assert default_payer(VISIT, 0, ("A",)) is None  # a person is not their own relative


def test_a_benefit_check_that_closes_the_account_closes_the_default_too() -> None:
    assert default_payer(VISIT, 0, ("B",), Entitlement(self_pay=True, account_usable=False)) is None
    assert default_payer(VISIT, 0, ("B",), Entitlement(self_pay=True, account_usable=True)) == "B"


class _Policy:
    def __init__(self, accounts: dict[str, CompiledAccount]) -> None:
        self.accounts = accounts


def _rule(aid: bool, types: frozenset[str] = frozenset({"11", "21"})) -> CompiledAccount:
    return CompiledAccount("310", True, True, types, aid, None, None)


def test_the_relatives_rule_and_balance_decide_whether_the_default_stands() -> None:
    ok = _Policy({"310": _rule(True)})
    assert payer_may_pay(ok, VISIT, "310", 100)  # type: ignore[arg-type]
    assert not payer_may_pay(ok, VISIT, "310", 0)  # type: ignore[arg-type]
    assert not payer_may_pay(ok, VISIT, "390", 100)  # type: ignore[arg-type]  # no account rule
    assert not payer_may_pay(_Policy({"310": _rule(False)}), VISIT, "310", 100)  # type: ignore[arg-type]
    only_ip = _Policy({"310": _rule(True, frozenset({"21"}))})
    assert not payer_may_pay(only_ip, VISIT, "310", 100)  # type: ignore[arg-type]
