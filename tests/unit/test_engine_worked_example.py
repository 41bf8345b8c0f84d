"""DOMAIN.md §1.8 worked example, field by field.

Xi'an employee, in service, tertiary hospital, first admission of the year, local:
deductible 1,200, ratio 80%.  Bill 20,000 = class C 1,000 + a consumable priced 1,400 against a
1,000 cap + class B 6,000 (10% pay-first) + class A 11,600.

    inscp    = 20,000 − 1,000 − 400 − 600          = 18,000
    hifp     = (18,000 − 1,200) × 80%               = 13,440
    psn_part = 1,000 + 400 + 600 + 1,200 + 3,360    =  6,560
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import FundDetail, Line, Person, Settlement, Visit, identity_violations

FIXTURE = Path(__file__).parent.parent / "fixtures" / "region.yaml"
ADMITTED = dt.date(2025, 5, 1)


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return PolicyBook.from_file(FIXTURE).for_date(ADMITTED)


def line(sn: str, code: str, price_yuan: int, qty: int = 1) -> Line:
    return Line(sn, code, qty * QTY_ONE, price_yuan * 100, price_yuan * 100 * qty)


WORKER = Person("P1", "张三", "610100199001011234", "M", dt.date(1990, 1, 1), "310", "11")
VISIT = Visit(
    "M1",
    "P1",
    "21",
    "H1",
    "3",
    ADMITTED,
    dt.date(2025, 5, 9),
    (line("1", "C01", 1000), line("2", "M01", 1400), line("3", "B10", 6000), line("4", "A01", 11600)),
    use_account=False,
)


@pytest.fixture(scope="module")
def s(policy: CompiledPolicy) -> Settlement:
    return settle_visit(policy, WORKER, VISIT, {}, 0)


def test_the_result_is_labelled_with_the_visit_the_person_and_the_policy_version(s: Settlement) -> None:
    assert (s.mdtrt_id, s.psn_no, s.insutype, s.psn_type, s.med_type) == ("M1", "P1", "310", "11", "21")
    assert (s.admdvs, s.policy_version) == ("610100", "T2025")


def test_the_bill_totals_twenty_thousand_yuan(s: Settlement) -> None:
    assert s.medfee_sumamt == 20_000_00


def test_the_class_c_drug_is_fully_self_paid(s: Settlement) -> None:
    assert s.fulamt_ownpay_amt == 1_000_00


def test_the_consumable_priced_above_its_cap_leaves_four_hundred_over_the_limit(s: Settlement) -> None:
    assert s.overlmt_selfpay == 400_00


def test_the_class_b_drug_carries_six_hundred_pay_first(s: Settlement) -> None:
    assert s.preselfpay_amt == 600_00


def test_the_policy_scope_amount_is_eighteen_thousand(s: Settlement) -> None:
    assert s.inscp_scp_amt == 18_000_00


def test_the_first_admission_pays_the_full_tertiary_deductible(s: Settlement) -> None:
    assert s.act_pay_dedc == 1_200_00


def test_the_pooled_fund_pays_eighty_percent_above_the_deductible(s: Settlement) -> None:
    assert s.hifp_pay == 13_440_00
    assert s.pool_prop_selfpay == 8_000  # 0.8000


def test_no_later_layer_pays_for_an_ordinary_employee_under_the_cap(s: Settlement) -> None:
    assert (s.cvlserv_pay, s.hifes_pay, s.hifmi_pay, s.hifob_pay, s.maf_pay, s.oth_pay) == (0, 0, 0, 0, 0, 0)


def test_the_funds_together_pay_only_the_pooled_fund_share(s: Settlement) -> None:
    assert s.fund_pay_sumamt == 13_440_00


def test_the_person_bears_six_thousand_five_hundred_sixty_made_of_the_five_parts(s: Settlement) -> None:
    assert s.psn_part_amt == 6_560_00
    tail = (18_000_00 - 1_200_00) - 13_440_00  # the 20% coinsurance
    assert tail == 3_360_00
    assert (
        s.psn_part_amt == s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.act_pay_dedc + tail
    )


def test_without_the_account_the_person_pays_everything_in_cash(s: Settlement) -> None:
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay) == (0, 0, 6_560_00)
    assert s.account_psn_no is None
    assert s.balc == 0


def test_the_hospital_bears_nothing_under_fee_for_service(s: Settlement) -> None:
    assert s.hosp_part_amt == 0


def test_every_section_1_8_identity_holds(s: Settlement) -> None:
    assert identity_violations(s) == []


def test_setldetail_has_one_pooled_fund_row_with_its_base_room_and_payment(s: Settlement) -> None:
    assert len(s.setldetail) == 1
    d = s.setldetail[0]
    assert isinstance(d, FundDetail)
    assert d.fund_pay_type == "310100"
    assert d.fund_pay_type_name == "职工基本医疗保险统筹基金"
    assert d.inscp_scp_amt == 16_800_00  # the base the fund paid on: scope less deductible
    assert d.crt_payb_lmt_amt == 400_000_00  # the whole annual cap is still open
    assert d.fund_payamt == 13_440_00
    # the calculation note: base × ratio → raw payment, then the cap's room → what was paid
    assert d.setl_proc_info == "1680000×8000/10000→1344000; cap room 40000000→1344000"


def test_a_fund_row_read_back_with_its_note_as_text_equals_the_engines_row(s: Settlement) -> None:
    d = s.setldetail[0]
    stored = FundDetail(
        d.fund_pay_type,
        d.fund_pay_type_name,
        d.inscp_scp_amt,
        d.crt_payb_lmt_amt,
        d.fund_payamt,
        d.setl_proc_info,
    )
    assert stored == d
    assert stored != FundDetail(
        d.fund_pay_type, d.fund_pay_type_name, d.inscp_scp_amt, d.crt_payb_lmt_amt, d.fund_payamt, "other"
    )


def test_each_line_is_split_into_self_paid_over_limit_pay_first_and_in_scope(s: Settlement) -> None:
    assert s.line_parts == [
        (1_000_00, 0, 0, 0),  # C01 class C
        (0, 400_00, 0, 1_000_00),  # M01 1,400 against a 1,000 cap
        (0, 0, 600_00, 5_400_00),  # B10 class B, 10% pay-first
        (0, 0, 0, 11_600_00),  # A01 class A
    ]


def test_the_accumulators_record_the_deductible_one_admission_and_the_fund_payment(s: Settlement) -> None:
    assert s.deltas == {"emp-ip-ded": 1_200_00, "emp-ip-ded:n": 1, "emp-pool-paid": 13_440_00}


def test_a_second_admission_the_same_year_pays_a_deductible_twenty_percent_lower(
    policy: CompiledPolicy,
) -> None:
    again = settle_visit(
        policy, WORKER, VISIT, {"emp-ip-ded": 1_200_00, "emp-ip-ded:n": 1, "emp-pool-paid": 13_440_00}, 0
    )
    assert again.act_pay_dedc == 960_00
    assert again.hifp_pay == (18_000_00 - 960_00) * 8 // 10
    assert identity_violations(again) == []
