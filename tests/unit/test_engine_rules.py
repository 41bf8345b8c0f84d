"""Settlement rules one at a time, against tests/fixtures/region.yaml.

Fixture parameters used below (all amounts 元 unless a literal is in fen):

* employee inpatient (310/21): deductible per admission L1 200 / L2 500 / L3 1,200, repeat admissions
  −20% each with a floor of 200; ratio in service 90/85/80%, retired 94/90/85%; remote filed −10 points,
  remote unfiled −20; annual cap 400,000 (counter ``emp-pool-paid``);
* employee outpatient (310/11): deductible 200 per year; 70/60/50%; cap 2,000;
* resident inpatient (390/21): deductible per admission 200/500/1,000; 90/80/65%; cap 130,000;
* 大额补助 (employees, inpatient): 90% of the over-cap base, cap 500,000;
* 大病保险 (residents, inpatient): deductible 10,000 on the cumulative compliant self-pay, 60% to 30,000,
  70% to 100,000, 80% above; cap 300,000.  DB/TK variant: deductible 5,000, 65/75/85%, no cap;
* 医疗救助 (DB/TK only, both schemes): 70% of what is left, pay-first included, cap 50,000; TK 100%, cap 80,000;
* employee account pays in- and out-of-scope amounts; family mutual aid allowed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.policy.loader import load_region_text
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import (
    Line,
    Person,
    Settlement,
    SettlementError,
    Visit,
    identity_violations,
)
from yibao.settlement.trace import Account, BasicFund, Layer, NoBenefit

FIXTURES = Path(__file__).parent.parent / "fixtures"
DAY = dt.date(2025, 5, 1)
SCHEME_OF = {"11": "310", "21": "310", "31": "390"}


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return PolicyBook.from_file(FIXTURES / "region.yaml").for_date(DAY)


def mutated_policy(change: Any) -> CompiledPolicy:
    """The fixture with ``change(raw_dict)`` applied, loaded through the ordinary loader."""
    raw = yaml.safe_load((FIXTURES / "region.yaml").read_text(encoding="utf-8"))
    change(raw)
    loaded = load_region_text(yaml.safe_dump(raw, allow_unicode=True), file="mutated.yaml", base_dir=FIXTURES)
    return PolicyBook(loaded).for_date(DAY)


def person(
    psn_type: str = "11",
    *,
    identities: tuple[str, ...] = (),
    family: tuple[str, ...] = (),
    insutype: str | None = None,
) -> Person:
    return Person(
        "P1",
        "张三",
        "x",
        "M",
        dt.date(1960, 1, 1),
        insutype or SCHEME_OF[psn_type],
        psn_type,
        identities=frozenset(identities),
        family=family,
    )


def ln(code: str, price_fen: int, qty: int = QTY_ONE, amount: int | None = None, sn: str = "") -> Line:
    if amount is None:
        amount = (price_fen * qty + QTY_ONE // 2) // QTY_ONE
    return Line(sn or code, code, qty, price_fen, amount)


def a01(yuan: int) -> Line:
    return ln("A01", yuan * 100)


def visit(
    *lines: Line,
    med_type: str = "21",
    hosp_lv: str = "3",
    locality: str = "local",
    emergency: bool = False,
    use_account: bool = False,
    account_psn_no: str | None = None,
) -> Visit:
    return Visit(
        "M1",
        "P1",
        med_type,
        "H1",
        hosp_lv,
        DAY,
        DAY,
        tuple(lines),
        locality=locality,
        emergency=emergency,
        use_account=use_account,
        account_psn_no=account_psn_no,
    )


WORKED = (ln("C01", 1000_00), ln("M01", 1400_00), ln("B10", 6000_00), ln("A01", 11600_00))


def settle(
    policy: CompiledPolicy,
    p: Person,
    v: Visit,
    acc: dict[str, int] | None = None,
    balance: int = 0,
    payer_insutype: str | None = None,
) -> Settlement:
    s = settle_visit(policy, p, v, acc or {}, balance, payer_insutype)
    assert identity_violations(s) == []
    return s


# --- line splitting --------------------------------------------------------------------------


def test_a_class_c_item_is_fully_self_paid_and_touches_no_fund(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(ln("C01", 500_00)))
    assert s.line_parts == [(500_00, 0, 0, 0)]
    assert (s.fulamt_ownpay_amt, s.inscp_scp_amt, s.act_pay_dedc, s.hifp_pay) == (500_00, 0, 0, 0)
    assert s.fund_pay_sumamt == 0 and s.psn_part_amt == s.psn_cash_pay == 500_00


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        (ln("M01", 1400_00, 2 * QTY_ONE), (0, 800_00, 0, 2000_00)),  # (1,400 − 1,000) × 2 over the cap
        (ln("M01", 900_00), (0, 0, 0, 900_00)),  # under the cap: nothing over
        (ln("M01", 1400_00, QTY_ONE // 2), (0, 200_00, 0, 500_00)),  # half a unit: 200 over
        (ln("M01", 1400_00, QTY_ONE, amount=300_00), (0, 300_00, 0, 0)),  # over-limit never exceeds the line
        # class B with a cap: 60 × 3 = 180; over (60 − 50) × 3 = 30; pay-first 20% of 150 = 30; in scope 120
        (ln("B20", 60_00, 3 * QTY_ONE), (0, 30_00, 30_00, 120_00)),
        (ln("B10", 6000_00), (0, 0, 600_00, 5400_00)),  # class B: 10% pay-first
        (ln("B10", 5, QTY_ONE), (0, 0, 1, 4)),  # 10% of 5 fen = 0.5 fen → 1 fen (half up)
        (ln("B10", 4, QTY_ONE), (0, 0, 0, 4)),  # 0.4 fen → 0
    ],
)
def test_lines_split_into_over_limit_pay_first_and_in_scope(
    policy: CompiledPolicy, line: Line, parts: tuple[int, int, int, int]
) -> None:
    s = settle(policy, person(), visit(line))
    assert s.line_parts == [parts]
    assert (s.fulamt_ownpay_amt, s.overlmt_selfpay, s.preselfpay_amt, s.inscp_scp_amt) == parts


def test_the_over_limit_fraction_of_a_cent_rounds_half_up(policy: CompiledPolicy) -> None:
    # cap 1,000.00, price 1,000.01, qty 0.5: over = 0.005 元 = 0.5 fen → 1 fen
    s = settle(policy, person(), visit(ln("M01", 1000_01, QTY_ONE // 2)))
    assert s.overlmt_selfpay == 1


# --- deductibles -------------------------------------------------------------------------------


def test_a_per_year_deductible_is_consumed_across_visits(policy: CompiledPolicy) -> None:
    # employee outpatient, level 1, 70%, deductible 200 per year
    acc: dict[str, int] = {}
    results = []
    for yuan in (150, 300, 100):
        s = settle(policy, person(), visit(a01(yuan), med_type="11", hosp_lv="1"), acc)
        results.append((s.act_pay_dedc, s.hifp_pay))
        assert "emp-op-ded:n" not in s.deltas  # per-year: visits are not counted
        for k, v in s.deltas.items():
            acc[k] = acc.get(k, 0) + v
    assert results == [
        (150_00, 0),  # all 150 goes to the deductible
        (50_00, 175_00),  # the last 50 of the deductible, then 70% of 250
        (0, 70_00),  # deductible met: 70% of 100
    ]
    assert acc == {"emp-op-ded": 200_00, "emp-op-paid": 245_00}


def test_a_per_year_deductible_already_met_is_not_charged_again(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(a01(100), med_type="11", hosp_lv="3"), {"emp-op-ded": 500_00})
    assert s.act_pay_dedc == 0 and s.hifp_pay == 50_00


@pytest.mark.parametrize(
    ("level", "earlier_admissions", "due"),
    [
        ("3", 0, 1200_00),
        ("3", 1, 960_00),  # −20%
        ("3", 2, 720_00),  # −40%
        ("3", 3, 480_00),
        ("3", 4, 240_00),
        ("3", 5, 200_00),  # −100% → floor 200
        ("3", 9, 200_00),
        ("2", 0, 500_00),
        ("2", 1, 400_00),
        ("2", 3, 200_00),
        ("2", 4, 200_00),  # 100 → floor 200
        ("1", 0, 200_00),
        ("1", 1, 200_00),  # 160 → floor 200
    ],
)
def test_repeat_admissions_lower_the_deductible_by_twenty_percent_each_down_to_the_floor(
    policy: CompiledPolicy, level: str, earlier_admissions: int, due: int
) -> None:
    ratio = {"1": 9_000, "2": 8_500, "3": 8_000}[level]
    s = settle(policy, person(), visit(a01(10_000), hosp_lv=level), {"emp-ip-ded:n": earlier_admissions})
    assert s.act_pay_dedc == due
    assert s.hifp_pay == ((10_000_00 - due) * ratio + 5_000) // 10_000
    assert s.deltas["emp-ip-ded:n"] == 1
    assert s.deltas["emp-ip-ded"] == due


def test_a_per_admission_deductible_ignores_what_earlier_admissions_paid(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(a01(10_000)), {"emp-ip-ded": 10**9})
    assert s.act_pay_dedc == 1200_00


def test_a_bill_smaller_than_the_deductible_goes_wholly_to_the_deductible(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(a01(500)))
    assert (s.act_pay_dedc, s.hifp_pay, s.psn_part_amt) == (500_00, 0, 500_00)
    assert s.deltas == {"emp-ip-ded": 500_00, "emp-ip-ded:n": 1}


def test_an_admission_with_nothing_in_scope_still_counts_as_an_admission(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(ln("C01", 100_00)))
    assert s.deltas == {"emp-ip-ded:n": 1}


# --- ratios ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("psn_type", "level", "ratio", "hifp"),
    [
        ("11", "3", 8_000, 7_040_00),  # (10,000 − 1,200) × 80%
        ("21", "3", 8_500, 7_480_00),  # retired: × 85%
        ("21", "2", 9_000, 8_550_00),  # (10,000 − 500) × 90%
        ("21", "1", 9_400, 9_212_00),  # (10,000 − 200) × 94%
    ],
)
def test_retired_people_get_the_retired_ratio(
    policy: CompiledPolicy, psn_type: str, level: str, ratio: int, hifp: int
) -> None:
    s = settle(policy, person(psn_type), visit(a01(10_000), hosp_lv=level))
    assert (s.pool_prop_selfpay, s.hifp_pay) == (ratio, hifp)


@pytest.mark.parametrize(
    ("locality", "emergency", "ratio", "hifp"),
    [
        ("local", False, 8_000, 7_040_00),
        ("remote_filed", False, 7_000, 6_160_00),  # −10 points
        ("remote_unfiled", False, 6_000, 5_280_00),  # −20 points
        ("remote_unfiled", True, 7_000, 6_160_00),  # emergency is treated as filed
        ("remote_filed", True, 7_000, 6_160_00),
        ("local", True, 8_000, 7_040_00),
    ],
)
def test_remote_care_lowers_the_ratio_unless_filed_or_an_emergency(
    policy: CompiledPolicy, locality: str, emergency: bool, ratio: int, hifp: int
) -> None:
    s = settle(policy, person(), visit(a01(10_000), locality=locality, emergency=emergency))
    assert (s.pool_prop_selfpay, s.hifp_pay) == (ratio, hifp)


def test_remote_adjustment_applies_to_the_retired_ratio_too(policy: CompiledPolicy) -> None:
    s = settle(policy, person("21"), visit(a01(10_000), hosp_lv="1", locality="remote_unfiled"))
    assert s.pool_prop_selfpay == 7_400  # 94% − 20 points


# --- annual cap and 大额补助 -------------------------------------------------------------------


def test_reaching_the_annual_cap_mid_visit_limits_the_pool_and_sends_the_rest_to_the_large_amount_subsidy(
    policy: CompiledPolicy,
) -> None:
    # 1,000 of the 400,000 cap left.  Base 20,000 − 1,200 = 18,800; 80% would be 15,040.
    # The pool pays 1,000, which uses ceil(1,000 / 0.8) = 1,250 of base; over-cap base 17,550.
    # 大额补助 pays 90% of 17,550 = 15,795.  Person: 1,200 + 20% × 1,250 + 10% × 17,550 = 3,205.
    s = settle(policy, person(), visit(a01(20_000)), {"emp-pool-paid": 400_000_00 - 1_000_00})
    assert s.hifp_pay == 1_000_00
    assert s.hifob_pay == 15_795_00
    assert s.fund_pay_sumamt == 16_795_00
    assert s.psn_part_amt == 3_205_00
    assert s.deltas == {
        "emp-ip-ded": 1_200_00,
        "emp-ip-ded:n": 1,
        "emp-pool-paid": 1_000_00,
        "emp-large": 17_550_00,
        "emp-large:paid": 15_795_00,
    }
    rows = [(d.fund_pay_type, d.inscp_scp_amt, d.crt_payb_lmt_amt, d.fund_payamt) for d in s.setldetail]
    assert rows == [("310100", 18_800_00, 1_000_00, 1_000_00), ("330100", 17_550_00, 500_000_00, 15_795_00)]


def test_with_the_cap_already_used_up_the_pool_pays_nothing_and_the_subsidy_takes_the_whole_base(
    policy: CompiledPolicy,
) -> None:
    s = settle(policy, person(), visit(a01(20_000)), {"emp-pool-paid": 400_000_00})
    assert s.hifp_pay == 0
    assert s.hifob_pay == 16_920_00  # 90% of 18,800
    assert "emp-pool-paid" not in s.deltas


def test_the_large_amount_subsidy_stops_at_its_own_cap(policy: CompiledPolicy) -> None:
    acc = {"emp-pool-paid": 400_000_00, "emp-large:paid": 500_000_00 - 100_00}
    s = settle(policy, person(), visit(a01(20_000)), acc)
    assert s.hifob_pay == 100_00
    assert s.setldetail[-1].crt_payb_lmt_amt == 100_00


def test_under_the_cap_the_large_amount_subsidy_does_not_appear(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(*WORKED))
    assert s.hifob_pay == 0
    assert [d.fund_pay_type for d in s.setldetail] == ["310100"]


def test_an_outpatient_cap_reached_mid_visit_leaves_the_rest_to_the_person(policy: CompiledPolicy) -> None:
    # 100 of the 2,000 outpatient cap left; 70% of 1,000 would be 700; no over-cap layer for outpatients
    s = settle(
        policy,
        person(),
        visit(a01(1_000), med_type="11", hosp_lv="1"),
        {"emp-op-ded": 200_00, "emp-op-paid": 1_900_00},
    )
    assert (s.hifp_pay, s.hifob_pay, s.psn_part_amt) == (100_00, 0, 900_00)


# --- resident 大病保险 segments ----------------------------------------------------------------
# Resident, level 3: deductible 1,000, 65%.  A 20,000 bill: pool pays 19,000 × 65% = 12,350 and the
# compliant self-pay that enters 大病 is 20,000 − 12,350 = 7,650.


@pytest.mark.parametrize(
    ("before", "hifmi"),
    [
        (0, 0),  # [0, 7,650) lies under the 10,000 deductible
        (8_000_00, 3_390_00),  # [8,000, 15,650): 5,650 above 10,000 at 60% = 3,390
        (25_000_00, 4_855_00),  # [25,000, 32,650): 5,000 × 60% + 2,650 × 70% = 3,000 + 1,855
        (95_000_00, 5_620_00),  # [95,000, 102,650): 5,000 × 70% + 2,650 × 80% = 3,500 + 2,120
        (200_000_00, 6_120_00),  # wholly above 100,000: 7,650 × 80%
    ],
)
def test_critical_illness_pays_by_segment_of_the_years_cumulative_self_pay(
    policy: CompiledPolicy, before: int, hifmi: int
) -> None:
    s = settle(policy, person("31"), visit(a01(20_000)), {"res-ci": before})
    assert s.hifp_pay == 12_350_00
    assert s.hifmi_pay == hifmi
    assert s.deltas["res-ci"] == 7_650_00
    assert s.deltas.get("res-ci:paid", 0) == hifmi


def test_one_large_stay_crosses_every_critical_illness_boundary(policy: CompiledPolicy) -> None:
    # Bill 300,000: the pool would pay 299,000 × 65% = 194,350 but stops at its 130,000 cap.
    # Self-pay 170,000 enters 大病: 0 below 10,000; 20,000 × 60% = 12,000; 70,000 × 70% = 49,000;
    # 70,000 × 80% = 56,000 → 117,000.  Person keeps 300,000 − 130,000 − 117,000 = 53,000.
    s = settle(policy, person("31"), visit(a01(300_000)))
    assert (s.hifp_pay, s.hifmi_pay, s.psn_part_amt) == (130_000_00, 117_000_00, 53_000_00)
    assert s.hifob_pay == 0  # the employee large-amount subsidy is not for residents


def test_critical_illness_stops_at_its_cap(policy: CompiledPolicy) -> None:
    s = settle(
        policy, person("31"), visit(a01(20_000)), {"res-ci": 500_000_00, "res-ci:paid": 300_000_00 - 100_00}
    )
    assert s.hifmi_pay == 100_00


def test_low_income_residents_get_half_the_deductible_five_more_points_and_then_assistance(
    policy: CompiledPolicy,
) -> None:
    # DB: 大病 deductible 5,000 → (7,650 − 5,000) × 65% = 1,722.50;
    # 医疗救助 70% of what is left, 7,650 − 1,722.50 = 5,927.50 → 4,149.25; person 1,778.25
    s = settle(policy, person("31", identities=("DB",)), visit(a01(20_000)))
    assert (s.hifp_pay, s.hifmi_pay, s.maf_pay) == (12_350_00, 1_722_50, 4_149_25)
    assert s.psn_part_amt == 1_778_25
    assert [d.fund_pay_type for d in s.setldetail] == ["390100", "390200", "610100"]


def test_the_low_income_variant_adds_five_points_in_each_segment(policy: CompiledPolicy) -> None:
    acc = {"res-ci": 20_000_00}  # [20,000, 27,650) in the first segment
    plain = settle(policy, person("31"), visit(a01(20_000)), acc)
    db = settle(policy, person("31", identities=("DB",)), visit(a01(20_000)), acc)
    assert plain.hifmi_pay == 4_590_00  # 7,650 × 60%
    assert db.hifmi_pay == 4_972_50  # 7,650 × 65%


def test_the_low_income_variant_has_no_critical_illness_cap(policy: CompiledPolicy) -> None:
    acc = {"res-ci": 500_000_00, "res-ci:paid": 10**11}
    plain = settle(policy, person("31"), visit(a01(20_000)), acc)
    tk = settle(policy, person("31", identities=("TK",)), visit(a01(20_000)), acc)
    assert plain.hifmi_pay == 0
    assert tk.hifmi_pay == 6_502_50  # 7,650 × 85%, no cap


# --- 医疗救助 --------------------------------------------------------------------------------


def test_extreme_poverty_assistance_pays_all_remaining_compliant_self_pay_including_pay_first(
    policy: CompiledPolicy,
) -> None:
    # A01 20,000 + B10 1,000 (pay-first 100, in scope 900) + C01 500.  Scope 20,900, deductible 1,000:
    # pool 19,900 × 65% = 12,935; left 7,965; 大病 (7,965 − 5,000) × 65% = 1,927.25;
    # 救助 100% of 6,037.75 + 100 pay-first = 6,137.75.  The person pays only the class C 500.
    s = settle(
        policy, person("31", identities=("TK",)), visit(a01(20_000), ln("B10", 1_000_00), ln("C01", 500_00))
    )
    assert (s.hifp_pay, s.hifmi_pay, s.maf_pay) == (12_935_00, 1_927_25, 6_137_75)
    assert s.psn_part_amt == 500_00 == s.fulamt_ownpay_amt


def test_assistance_is_only_for_eligible_identities(policy: CompiledPolicy) -> None:
    s = settle(policy, person("31"), visit(a01(20_000)))
    assert s.maf_pay == 0
    assert "610100" not in [d.fund_pay_type for d in s.setldetail]
    assert not any(k.startswith("maf") for k in s.deltas)


def test_assistance_applies_to_low_income_employees_after_the_pool(policy: CompiledPolicy) -> None:
    # worked example, DB employee: 70% × (18,000 − 13,440 + 600 pay-first) = 3,612
    s = settle(policy, person(identities=("DB",)), visit(*WORKED))
    assert (s.hifp_pay, s.maf_pay, s.psn_part_amt) == (13_440_00, 3_612_00, 2_948_00)


def test_assistance_is_applied_last_after_the_large_amount_subsidy(policy: CompiledPolicy) -> None:
    # cap case above: the person's 3,205 is what 救助 sees: 70% → 2,243.50
    s = settle(
        policy, person(identities=("DB",)), visit(a01(20_000)), {"emp-pool-paid": 400_000_00 - 1_000_00}
    )
    assert (s.hifp_pay, s.hifob_pay, s.maf_pay) == (1_000_00, 15_795_00, 2_243_50)
    assert s.psn_part_amt == 961_50
    assert [d.fund_pay_type for d in s.setldetail] == ["310100", "330100", "610100"]


@pytest.mark.parametrize(("ident", "cap"), [("DB", 50_000_00), ("TK", 80_000_00)])
def test_assistance_stops_at_the_cap_of_the_persons_terms(
    policy: CompiledPolicy, ident: str, cap: int
) -> None:
    s = settle(policy, person("31", identities=(ident,)), visit(a01(20_000)), {"maf:paid": cap - 10_00})
    assert s.maf_pay == 10_00


# --- personal account and family mutual aid ----------------------------------------------------


def test_the_account_pays_in_scope_and_out_of_scope_self_pay(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(*WORKED, use_account=True), balance=10_000_00)
    assert (s.acct_pay, s.psn_cash_pay, s.balc) == (6_560_00, 0, 3_440_00)
    assert s.account_psn_no == "P1" and s.acct_mulaid_pay == 0


def test_the_account_pays_no_more_than_its_balance(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(*WORKED, use_account=True), balance=1_000_00)
    assert (s.acct_pay, s.psn_cash_pay, s.balc) == (1_000_00, 5_560_00, 0)


def test_a_negative_balance_pays_nothing(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(*WORKED, use_account=True), balance=-50_00)
    assert (s.acct_pay, s.psn_cash_pay) == (0, 6_560_00)


def test_not_using_the_account_leaves_the_balance_alone(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(*WORKED, use_account=False), balance=10_000_00)
    assert (s.acct_pay, s.psn_cash_pay, s.balc) == (0, 6_560_00, 10_000_00)


def _covers(what: list[str]) -> Any:
    def change(raw: dict[str, Any]) -> None:
        raw["versions"][0]["accounts"][0]["covers"] = what

    return change


def test_an_account_limited_to_policy_scope_does_not_pay_class_c_or_over_limit_amounts() -> None:
    p = mutated_policy(_covers(["in_scope"]))
    s = settle(p, person(), visit(*WORKED, use_account=True), balance=10_000_00)
    # in scope: 18,000 + 600 pay-first − 13,440 = 5,160; class C 1,000 and over-limit 400 stay cash
    assert (s.acct_pay, s.psn_cash_pay) == (5_160_00, 1_400_00)


def test_an_account_limited_to_out_of_scope_pays_only_class_c_and_over_limit_amounts() -> None:
    p = mutated_policy(_covers(["out_of_scope"]))
    s = settle(p, person(), visit(*WORKED, use_account=True), balance=10_000_00)
    assert (s.acct_pay, s.psn_cash_pay) == (1_400_00, 5_160_00)


def test_the_account_does_not_pay_for_visit_types_it_does_not_cover() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["versions"][0]["accounts"][0]["visit_types"] = ["11"]

    p = mutated_policy(change)
    s = settle(p, person(), visit(*WORKED, use_account=True), balance=10_000_00)
    assert s.acct_pay == 0 and s.balc == 10_000_00


def test_a_family_members_account_pays_as_mutual_aid(policy: CompiledPolicy) -> None:
    s = settle(
        policy,
        person(family=("P2",)),
        visit(*WORKED, account_psn_no="P2"),
        balance=2_000_00,
        payer_insutype="310",
    )
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay, s.balc) == (2_000_00, 2_000_00, 4_560_00, 0)
    assert s.account_psn_no == "P2"


def test_an_employee_parents_account_may_pay_for_a_resident_child(policy: CompiledPolicy) -> None:
    s = settle(
        policy,
        person("31", family=("P2",)),
        visit(a01(20_000), account_psn_no="P2"),
        balance=10**7,
        payer_insutype="310",
    )
    assert s.psn_part_amt == 7_650_00
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay) == (7_650_00, 7_650_00, 0)


def test_naming_ones_own_account_is_not_mutual_aid(policy: CompiledPolicy) -> None:
    s = settle(policy, person(), visit(*WORKED, use_account=True, account_psn_no="P1"), balance=10_000_00)
    assert s.acct_pay == 6_560_00 and s.acct_mulaid_pay == 0 and s.account_psn_no == "P1"


def test_a_non_family_account_is_refused_naming_the_field(policy: CompiledPolicy) -> None:
    with pytest.raises(SettlementError) as ei:
        settle_visit(
            policy, person(family=("P2",)), visit(*WORKED, account_psn_no="P9"), {}, 10_000_00, "310"
        )
    assert ei.value.field == "visit.account_psn_no"
    assert "P9" in ei.value.reason


def test_mutual_aid_is_refused_where_the_region_does_not_allow_it() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["versions"][0]["accounts"][0]["family_mutual_aid"] = False

    p = mutated_policy(change)
    with pytest.raises(SettlementError) as ei:
        settle_visit(p, person(family=("P2",)), visit(*WORKED, account_psn_no="P2"), {}, 10_000_00, "310")
    assert ei.value.field == "visit.account_psn_no"


def test_a_resident_has_no_account_and_pays_the_rest_in_cash(policy: CompiledPolicy) -> None:
    s = settle(policy, person("31"), visit(a01(20_000), use_account=True), balance=1_000_00)
    assert s.acct_pay == 0 and s.account_psn_no is None
    assert s.psn_cash_pay == s.psn_part_amt == 7_650_00


# --- what the engine refuses or does not cover -------------------------------------------------


def test_a_visit_type_without_a_benefit_is_wholly_personal(policy: CompiledPolicy) -> None:
    s = settle(
        policy, person("31"), visit(a01(100), med_type="11")
    )  # residents have no outpatient benefit here
    assert (s.hifp_pay, s.fund_pay_sumamt, s.act_pay_dedc, s.pool_prop_selfpay) == (0, 0, 0, 0)
    assert s.psn_part_amt == s.psn_cash_pay == 100_00
    assert s.setldetail == [] and s.deltas == {}
    assert NoBenefit("390", "11") in s.steps


def test_an_unknown_item_code_names_the_line(policy: CompiledPolicy) -> None:
    with pytest.raises(SettlementError) as ei:
        settle_visit(policy, person(), visit(a01(10), ln("ZZZ999", 100)), {}, 0)
    assert ei.value.field == "lines[1].med_list_codg"
    assert ei.value.code == "unknown_item"
    assert "ZZZ999" in ei.value.reason


@pytest.mark.parametrize(
    ("p", "v", "field"),
    [
        (person(), visit(a01(10), hosp_lv="9"), "visit.hosp_lv"),
        (person(), visit(a01(10), med_type="99"), "visit.med_type"),
        (person(), visit(a01(10), locality="mars"), "visit.locality"),
        (person("77", insutype="310"), visit(a01(10)), "person.psn_type"),
        (person("31", insutype="310"), visit(a01(10)), "person.insutype"),
    ],
)
def test_unknown_codes_are_refused_naming_the_field(
    policy: CompiledPolicy, p: Person, v: Visit, field: str
) -> None:
    with pytest.raises(SettlementError) as ei:
        settle_visit(policy, p, v, {}, 0)
    assert ei.value.field == field
    assert str(ei.value).startswith(field + ": ")


# --- regressions: bugs found by these tests, fixed in the engine and the explanation -----------


def test_listing_assistance_before_the_large_amount_subsidy_never_pays_more_than_the_policy_scope() -> None:
    def assistance_first(raw: dict[str, Any]) -> None:
        large, ci, maf = raw["versions"][0]["layers"]
        raw["versions"][0]["layers"] = [maf, large, ci]

    p = mutated_policy(assistance_first)
    # TK employee, 1,000 of the cap left, bill 20,000 in scope: pool 1,000; 救助 100% of the remaining 19,000;
    # then 大额 still pays 90% of the 17,550 over-cap base → funds 35,795 on a 20,000 bill today.
    s = settle_visit(
        p, person(identities=("TK",)), visit(a01(20_000)), {"emp-pool-paid": 400_000_00 - 1_000_00}, 0
    )
    assert identity_violations(s) == []
    assert s.fund_pay_sumamt <= s.inscp_scp_amt
    assert s.psn_part_amt >= 0


def test_assistance_paid_on_the_deductible_is_not_attributed_to_a_class_c_line(
    policy: CompiledPolicy,
) -> None:
    from yibao.settlement.allocation import line_splits

    # DB employee, level 3: the 1,000 in-scope line is all deductible; 救助 pays 70% of it = 700
    v = visit(ln("C01", 100_00), a01(1_000))
    s = settle(policy, person(identities=("DB",)), v)
    assert (s.act_pay_dedc, s.hifp_pay, s.maf_pay) == (1_000_00, 0, 700_00)
    c_line, a_line = line_splits(s, v.lines)
    assert c_line.fund_pay == {} and c_line.psn_cash_pay == 100_00  # today: {'610100': 70000}, cash −600.00
    assert a_line.fund_pay == {"610100": 700_00}


# --- the trace ------------------------------------------------------------------------------------


def test_the_trace_records_each_fund_and_the_account_with_the_amounts_settled(policy: CompiledPolicy) -> None:
    s = settle(policy, person(identities=("DB",)), visit(*WORKED, use_account=True), balance=500_00)
    assert [type(x) for x in s.steps] == [BasicFund, Layer, Layer, Account]
    basic, large, maf, account = s.steps
    assert isinstance(basic, BasicFund) and isinstance(large, Layer) and isinstance(maf, Layer)
    assert isinstance(account, Account)
    assert (basic.deductible_paid, basic.ratio, basic.paid, basic.over_cap_base) == (
        s.act_pay_dedc,
        s.pool_prop_selfpay,
        s.hifp_pay,
        0,
    )
    assert (large.layer_id, large.base, large.raw, large.paid) == ("emp-large", 0, 0, 0)
    assert (maf.layer_id, maf.base, maf.paid, maf.includes_preselfpay) == ("maf", 5_160_00, 3_612_00, True)
    assert maf.paid == s.maf_pay
    assert (account.payable, account.balance, account.paid, account.family) == (
        2_948_00,
        500_00,
        500_00,
        False,
    )
