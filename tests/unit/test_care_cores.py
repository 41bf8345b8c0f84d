"""The internet-care cores: prescription checks, credit rules and clock, capitation, commercial cover, one bill,
reconciliation, figures — pure functions on the shipped parameters."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.audit.rules.model import load_library
from yibao.care import capitation as cap
from yibao.care import commercial, consult, credit, online
from yibao.care.figures import credit_summary, online_share
from yibao.care.policy import CareError
from yibao.care.store import load_params
from yibao.money import apply_ratio
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Person

P = load_params()
DAY = dt.date(2025, 6, 2)
RX = online.Prescription(
    "rx1", "P1", "IH61000000001", "D610100001", DAY, "E11.9",
    (online.RxLine("XA10BAA049A001010198648", 60, 4, 30),), "D61000000001",
)  # fmt: skip


def codes(rx: online.Prescription, today: dt.date = DAY, **kw: int) -> list[str]:
    return [f.code for f in online.check_prescription(P, rx, today, **kw)]


def test_a_good_prescription_passes_and_each_rule_names_its_code() -> None:
    assert codes(RX) == []
    # validity, one dispensing and the prescriber are the audit library's rules (one definition)
    valid = load_library().by_code("GZ-YB-019").params.valid_days
    assert codes(RX, DAY + dt.timedelta(days=valid - 1)) == []
    assert codes(RX, DAY + dt.timedelta(days=valid)) == ["GZ-YB-019"]
    assert codes(RX, dispensed_before=1) == ["GZ-YB-020"]
    assert codes(dataclasses.replace(RX, prescriber="NOPE")) == ["GZ-YB-021"]
    later = dt.date(2025, 7, 1)  # D610100002's registration ended on 2025-06-30
    assert codes(dataclasses.replace(RX, prescriber="D610100002", issued_on=later), later) == ["GZ-YB-021"]
    assert codes(dataclasses.replace(RX, prescriber="D610100002")) == []
    injection = online.RxLine("XJ01DDA003B002010119046", 1, 350, 1)
    assert codes(dataclasses.replace(RX, lines=(injection,))) == ["CARE-RX-04"]
    too_long = online.RxLine("XA10BAA049A001010198648", 60, 4, P.rx_max_supply_days + 1)
    assert codes(dataclasses.replace(RX, lines=(too_long,))) == ["CARE-RX-06"]


def test_follow_up_only_for_a_condition_registered_offline() -> None:
    assert online.check_followup(P, "IH61000000001", "E11.9", {"E11"}).code == "E11"
    with pytest.raises(CareError) as ei:
        online.check_followup(P, "IH61000000001", "E11.9", set())
    assert ei.value.code == "first_visit_online"
    with pytest.raises(CareError) as ei:
        online.check_followup(P, "IH61000000001", "J18.9", {"E11"})
    assert ei.value.code == "not_chronic"


def test_the_online_visit_is_the_attached_hospital_s_with_the_offline_item_for_the_consultation() -> None:
    v = online.online_visit(P, RX, "MD1", {"E11"})
    ih = P.internet_hospitals["IH61000000001"]
    assert (v.fixmedins_code, v.hosp_lv, v.med_type) == (ih.attached_to, ih.level, P.chronic_med_type)
    assert v.lines[0].code == P.consult_item and v.lines[0].amount == P.consult_price
    assert sum(ln.amount for ln in v.lines[1:]) == 60 * 4 and v.lines[1].prd_days == 30
    assert online.online_visit(P, RX, "MD1", set()).med_type == P.other_med_type


def test_credit_eligibility_refuses_for_each_reason() -> None:
    ok = credit.CreditHistory(paid_followups=1, year_used=0, unpaid_overdue=0, suspended_until=None)
    credit.check_credit(P, ok, P.credit_per_visit, DAY)
    cases = {
        "credit_not_eligible": (dataclasses.replace(ok, paid_followups=0), 100),
        "credit_visit_limit": (ok, P.credit_per_visit + 1),
        "credit_year_limit": (dataclasses.replace(ok, year_used=P.credit_per_year - 10), 11),
        "credit_overdue": (dataclasses.replace(ok, unpaid_overdue=1), 100),
        "credit_suspended": (dataclasses.replace(ok, suspended_until=DAY), 100),
    }
    for code, (history, amount) in cases.items():
        with pytest.raises(CareError) as ei:
            credit.check_credit(P, history, amount, DAY)
        assert ei.value.code == code


def test_a_bill_moves_open_overdue_default_written_off_by_the_calendar() -> None:
    due = credit.due_date(P, DAY)
    assert due == DAY + dt.timedelta(days=P.credit_days)

    def at(days: int, paid: int = 0) -> str:
        return credit.bill_status(P, due, 1000, paid, due + dt.timedelta(days=days))

    assert [at(0), at(1), at(P.credit_default_after), at(P.credit_default_after + 1)] == [
        "open",
        "overdue",
        "overdue",
        "default",
    ]
    assert at(P.credit_write_off_after + 1) == "written_off" and at(500, paid=1000) == "paid"
    assert credit.bill_status(P, None, 1000, 0, DAY) == "pending"
    assert credit.suspended_until(P, due) > credit.default_date(P, due)


@given(fee=st.integers(0, 10_000_000))
def test_the_consultation_split_adds_up_to_the_fee(fee: int) -> None:
    a, b = consult.split_fee(P, fee)
    assert a + b == fee and a >= 0 and b >= 0


def test_capitation_weights_withholding_and_bonus() -> None:
    c = P.capitation
    month = dt.date(2025, 5, 1)
    young = cap.Member("A", "M", dt.date(1990, 1, 1))
    old = cap.Member("B", "F", dt.date(1950, 1, 1), ("E11",))
    assert cap.risk_weight(c, old, month) > cap.risk_weight(c, young, month)
    none = cap.capitation_month(P, "YLT-XA-01", month, [young, old], 0, [])
    assert none.budget == sum(none.per_member.values()) and none.bonus == 0
    assert none.payable == none.budget - none.pool
    met = cap.capitation_month(P, "YLT-XA-01", month, [young, old], 10**9, [cap.Outcome("glucose", 1, 1)])
    assert met.withheld == apply_ratio(met.budget, c.referral_withhold_cap) > 0
    assert met.bonus == met.pool and met.payable == met.budget - met.withheld
    half = cap.capitation_month(
        P, "YLT-XA-01", month, [young, old], 0, [cap.Outcome("glucose", 1, 1), cap.Outcome("bp", 0, 4)]
    )
    assert half.bonus == half.pool // 2 and half.outcome_rates == {"glucose": 10_000, "bp": 0}
    with pytest.raises(CareError):
        cap.capitation_month(P, "YLT-XA-01", dt.date(2025, 5, 2), [young], 0, [])
    with pytest.raises(CareError) as ei:
        cap.check_package_payment(P.packages["basic"], "self")
    assert ei.value.code == "bad_payer"


def test_the_shipped_product_covers_diabetes_follow_ups_online_and_the_online_package_only() -> None:
    p = P.products["DM-ONLINE"]
    assert p.applies("online_followup", ["E11.9"]) and not p.applies("online_followup", ["I10"])
    assert p.applies("family_doctor", ["E11"]) and not p.applies("family_doctor", [])
    assert not p.applies("remote_consult", ["E11.9"]) and not p.applies("", ["E11.9"])
    assert (p.ratio, p.deductible, p.out_of_scope) == (8000, 0, True)


POLICY = PolicyBook.from_file(example_path("xian")).for_date(DAY)
PERSON = Person("P1", "测试", "610100195501010011", "F", dt.date(1955, 1, 1), "310", "21")


@given(
    units=st.integers(1, 400), extras=st.integers(0, 10_000), ratio=st.integers(0, 10_000), acct=st.booleans()
)
def test_the_one_bill_accounts_for_every_fen(units: int, extras: int, ratio: int, acct: bool) -> None:
    rx = dataclasses.replace(RX, lines=(online.RxLine("XA10BAA049A001010198648", units, 4, 30),))
    v = online.online_visit(P, rx, "MD1", {"E11"}, use_account=acct)
    product = dataclasses.replace(P.products["DM-ONLINE"], ratio=ratio)
    s = settle_visit(POLICY, PERSON, v, {}, 2_000 if acct else 0, covers=(product,))
    bill = commercial.one_bill(s, extras, product.insurer)
    assert (
        bill.total
        == bill.hifp_pay + bill.other_funds + bill.commercial_pay + bill.acct_pay + bill.patient_pay
    )
    assert bill.commercial_pay == s.commercial_pay and bill.patient_pay == s.psn_cash_pay + extras
    assert 0 <= bill.patient_pay <= s.psn_part_amt + extras


def test_reconciliation_names_every_difference() -> None:
    r = commercial.reconcile({"a": 100, "b": 200, "c": 5}, {"a": 100, "b": 150, "d": 7})
    assert (r.matched, r.missing_at_insurer, r.unknown_to_us, r.amount_differs) == (
        1,
        ("c",),
        ("d",),
        (("b", 200, 150),),
    )
    assert not r.balanced and commercial.reconcile({"a": 1}, {"a": 1}).balanced
    s = commercial.statement("INS-01", "2025-01-01", "2025-12-31", [("b", 10, 8), ("a", 5, 4)])
    assert (s.claims, s.base, s.paid, s.lines) == (2, 15, 12, (("a", 4), ("b", 8)))


def test_bureau_figures() -> None:
    assert online_share(3, 12).ratio == 2500 and online_share(0, 0).ratio == 0
    summary = credit_summary(
        [
            {"status": "paid", "amount": 100, "paid": 100},
            {"status": "default", "amount": 300, "paid": 0},
            {"status": "overdue", "amount": 100, "paid": 40},
        ]
    )
    assert (summary["billed"], summary["repaid"], summary["outstanding"]) == (500, 140, 360)
    assert (summary["default"], summary["overdue"], summary["default_rate"]) == (300, 60, 6000)
