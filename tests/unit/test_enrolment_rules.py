"""Enrolment rules, one test per rule, each naming its source (figures from the Xi'an example enrolment file).

Sources: 国办发〔2024〕38号 (waiting periods, newborn exemption, continuity incentives), 医保发〔2024〕19号
(2024 resident financing), 国办发〔2021〕14号 (employee personal account), 国办发〔2021〕42号 (资助参保),
医保发〔2021〕32号 (scheme switch without waiting), the wage-base rule (60%–300% of the average wage) and the
region's arrears grace and retirement years.
"""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.enrolment.check import NOT_ENROLLED, check, refusal, trtinfo_2001
from yibao.enrolment.contributions import (
    add_months,
    collection_timing,
    employee_due,
    months_in_arrears,
    resident_due,
)
from yibao.enrolment.eligibility import PersonStatus, compile_status, critical_illness_cap
from yibao.enrolment.history import relation_segments, status_on
from yibao.enrolment.model import (
    ClaimHistory,
    EmployeeContribution,
    EnrolmentError,
    EventKind,
    PersonFacts,
    RelationEvent,
    ResidentPremium,
)
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.policy.loader import example_path, load_region

D = dt.date
P = "P1"


@pytest.fixture(scope="module")
def pol() -> EnrolmentPolicy:
    p = policy_for_region(load_region(example_path("xian")))
    assert p is not None
    return p


def adult(birth: dt.date = D(1980, 5, 1), gender: str = "M", identities: tuple = ()) -> PersonFacts:  # type: ignore[type-arg]
    return PersonFacts(P, birth, gender, identities)


def enrol(day: dt.date, insutype: str = "390", psn_type: str = "31", **kw: object) -> RelationEvent:
    return RelationEvent(P, day, EventKind.ENROL, insutype, psn_type, **kw)  # type: ignore[arg-type]


def prem(pol: EnrolmentPolicy, year: int, paid: dt.date, kind: str = "annual") -> ResidentPremium:
    ry = pol.resident_year(year)
    assert ry is not None
    return ResidentPremium(P, year, paid, ry.individual_fen, 0, ry.fiscal_subsidy_fen, "", kind)


def in_period(year: int) -> dt.date:
    return D(year - 1, 10, 15)


def status(
    pol: EnrolmentPolicy,
    events: list[RelationEvent],
    premiums: list[ResidentPremium] = (),  # type: ignore[assignment]
    contributions: list[EmployeeContribution] = (),  # type: ignore[assignment]
    facts: PersonFacts | None = None,
    claims: ClaimHistory | None = None,
) -> PersonStatus:
    return compile_status(
        facts or adult(), events, pol, premiums=premiums, contributions=contributions, claims=claims
    )


def continuous(
    pol: EnrolmentPolicy, first: int, last: int
) -> tuple[list[RelationEvent], list[ResidentPremium]]:
    return [enrol(in_period(first))], [prem(pol, y, in_period(y)) for y in range(first, last + 1)]


# ----------------------------------------------------------------------------- resident benefit year
def test_paid_in_the_collection_period_covers_from_1_january(pol: EnrolmentPolicy) -> None:
    """集中征缴期 (国办发〔2024〕38号): a premium paid in the period covers the whole benefit year."""
    ev, pr = continuous(pol, 2024, 2025)
    st = status(pol, ev, pr)
    assert check(st, D(2025, 1, 1), "11").covered
    assert check(st, D(2025, 12, 31), "21").covered
    e = check(st, D(2026, 1, 1), "11")
    assert not e.covered and e.reason_code == "not_paid" and "2026" in e.reason_zh


def test_a_year_not_paid_is_not_covered(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2023, 2024)
    e = check(status(pol, ev, pr), D(2025, 6, 1), "21")
    assert (e.covered, e.reason_code, e.self_pay_instead) == (False, "not_paid", False)
    assert refusal(e)["infcode"] == -1


def test_paid_in_the_extension_covers_from_the_day_paid_without_waiting(pol: EnrolmentPolicy) -> None:
    """延长缴费期 (local, xa-collection): covered from the day paid; the days before are not paid."""
    ev, pr = continuous(pol, 2023, 2024)
    pr.append(prem(pol, 2025, D(2025, 2, 10)))
    st = status(pol, ev, pr)
    assert collection_timing(2025, D(2025, 2, 10), pol) == "extended"
    assert check(st, D(2025, 2, 9), "11").reason_code == "not_paid"
    e = check(st, D(2025, 2, 10), "11")
    assert e.covered and e.waiting_months == 0


# ----------------------------------------------------------------------------- waiting periods (国办发〔2024〕38号)
def test_first_enrolment_outside_the_period_waits_the_fixed_three_months(pol: EnrolmentPolicy) -> None:
    st = status(pol, [enrol(D(2025, 3, 15))], [prem(pol, 2025, D(2025, 3, 15))])
    e = check(st, D(2025, 5, 1), "21")
    assert (e.covered, e.reason_code, e.waiting_months) == (False, "waiting_period", 3)
    assert e.until == D(2025, 6, 14) and e.self_pay_instead
    assert "国办发〔2024〕38号" in e.reason_zh and "2025年6月15日" in e.reason_zh
    assert check(st, D(2025, 6, 15), "21").covered


def test_first_enrolment_in_the_period_has_no_waiting_period(pol: EnrolmentPolicy) -> None:
    st = status(pol, [enrol(D(2024, 10, 1))], [prem(pol, 2025, D(2024, 10, 1))])
    assert check(st, D(2025, 1, 1), "21").covered


def test_continuous_resident_paying_late_waits_three_months(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2023, 2024)
    pr.append(prem(pol, 2025, D(2025, 4, 10)))
    st = status(pol, ev, pr)
    assert check(st, D(2025, 4, 9), "11").reason_code == "not_paid"
    assert check(st, D(2025, 5, 1), "11").waiting_months == 3
    assert check(st, D(2025, 7, 10), "11").covered


def test_each_lapsed_year_adds_a_month(pol: EnrolmentPolicy) -> None:
    """Insured to 2022, 2023 and 2024 lapsed: 3 + 2 months, counted from 1 January when paid in the period."""
    ev, pr = continuous(pol, 2021, 2022)
    pr.append(prem(pol, 2025, in_period(2025)))
    st = status(pol, ev, pr)
    e = check(st, D(2025, 3, 1), "21")
    assert (e.reason_code, e.waiting_months, e.until) == ("waiting_period", 5, D(2025, 5, 31))
    assert "断保2年" in e.reason_zh
    assert check(st, D(2025, 6, 1), "21").covered


def test_a_repaired_year_takes_a_month_off(pol: EnrolmentPolicy) -> None:
    """缴费修复: paying a lapsed year (by the day of re-enrolment) removes one month of variable waiting."""
    ev, pr = continuous(pol, 2021, 2022)
    pr += [prem(pol, 2025, in_period(2025)), prem(pol, 2024, in_period(2025), kind="repair")]
    e = check(status(pol, ev, pr), D(2025, 2, 1), "21")
    assert e.waiting_months == 4 and "修复1年" in e.reason_zh


def test_a_repair_does_not_cover_the_repaired_year(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2021, 2022)
    pr += [prem(pol, 2025, in_period(2025)), prem(pol, 2024, in_period(2025), kind="repair")]
    assert check(status(pol, ev, pr), D(2024, 6, 1), "21").reason_code == "not_paid"


def test_long_lapse_floor(pol: EnrolmentPolicy) -> None:
    """The floor of 6 months after ≥ 4 lapsed years (gov-2024-38-min6), with 3 of 4 years repaired."""
    ev, pr = continuous(pol, 2020, 2020)
    pr.append(prem(pol, 2025, in_period(2025)))
    for y in (2021, 2022, 2023):
        pr.append(prem(pol, y, in_period(2025), kind="repair"))
    e = check(status(pol, ev, pr), D(2025, 2, 1), "21")
    assert pol.long_lapse_years == 4 and pol.long_lapse_floor_months == 6
    assert e.waiting_months == 6  # 3 + (4 − 3) = 4 → 6


def test_assisted_identities_are_exempt(pol: EnrolmentPolicy) -> None:
    """资助参保 groups (低保 DB …) are exempt (国办发〔2024〕38号 "新生儿等特殊群体"; list xa [X])."""
    facts = adult(identities=(("DB", D(2020, 1, 1), None),))
    st = compile_status(facts, [enrol(D(2025, 3, 15))], pol, premiums=[prem(pol, 2025, D(2025, 3, 15))])
    e = check(st, D(2025, 3, 15), "21")
    assert e.covered and e.waiting_months == 0


def test_waiting_carries_into_the_next_benefit_year(pol: EnrolmentPolicy) -> None:
    st = status(
        pol,
        [enrol(D(2025, 11, 1))],
        [prem(pol, 2025, D(2025, 11, 1)), prem(pol, 2026, D(2025, 11, 1))],
    )
    e = check(st, D(2026, 1, 15), "11")
    assert e.reason_code == "waiting_period" and e.until == D(2026, 1, 31)
    assert check(st, D(2026, 2, 1), "11").covered


def test_switch_from_the_employee_scheme_within_three_months_has_no_waiting(pol: EnrolmentPolicy) -> None:
    """医保发〔2021〕32号 (lead): ≥ 2 insured years, gap ≤ 3 months → no waiting period."""
    ev = [
        enrol(D(2022, 1, 1), "310", "11", emp_no="E1"),
        RelationEvent(P, D(2025, 3, 1), EventKind.TERMINATE, "310", "11"),
        enrol(D(2025, 4, 20)),
    ]
    co = [
        EmployeeContribution(P, "E1", (y, m), 600_000, 42_000, 12_000, 12_000, D(y, m, 10))
        for y in (2022, 2023, 2024, 2025)
        for m in range(1, 13)
        if (y, m) < (2025, 3)
    ]
    st = status(pol, ev, [prem(pol, 2025, D(2025, 4, 20))], co)
    assert check(st, D(2025, 4, 20), "21").covered
    late = status(pol, [*ev[:2], enrol(D(2025, 7, 20))], [prem(pol, 2025, D(2025, 7, 20))], co)
    assert check(late, D(2025, 8, 1), "21").reason_code == "waiting_period"


# ----------------------------------------------------------------------------- newborns
def test_newborn_enrolled_within_the_window_is_covered_from_birth(pol: EnrolmentPolicy) -> None:
    birth = D(2025, 3, 10)
    facts = PersonFacts(P, birth, "F")
    st = compile_status(
        facts, [enrol(D(2025, 5, 20), psn_type="32")], pol, premiums=[prem(pol, 2025, D(2025, 5, 20))]
    )
    assert check(st, birth, "21").covered
    assert check(st, D(2025, 3, 9), "21").reason_zh == "尚未出生"


def test_newborn_enrolled_after_the_window_waits(pol: EnrolmentPolicy) -> None:
    birth = D(2025, 1, 10)
    facts = PersonFacts(P, birth, "F")
    paid = birth + dt.timedelta(days=pol.newborn_window_days + 20)
    st = compile_status(facts, [enrol(paid, psn_type="32")], pol, premiums=[prem(pol, 2025, paid)])
    assert check(st, D(2025, 2, 1), "21").reason_code == "not_enrolled"
    e = check(st, paid, "21")
    assert e.reason_code == "waiting_period" and e.waiting_months == 3


# ----------------------------------------------------------------------------- relation events
def test_suspension_termination_transfer_and_death(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2024, 2025)
    st = status(pol, [*ev, RelationEvent(P, D(2025, 5, 1), EventKind.SUSPEND)], pr)
    assert check(st, D(2025, 5, 1), "11").reason_code == "suspended"
    dead = status(pol, [*ev, RelationEvent(P, D(2025, 6, 30), EventKind.DEATH)], pr)
    assert check(dead, D(2025, 6, 30), "21").covered  # covered on the day of death
    e = check(dead, D(2025, 7, 1), "21")
    assert e.reason_code == "deceased" and "2025年6月30日" in e.reason_zh and e.psn_insu_stas == "4"
    out = status(
        pol, [*ev, RelationEvent(P, D(2025, 8, 1), EventKind.TRANSFER_OUT, other_admdvs="610400")], pr
    )
    e = check(out, D(2025, 8, 1), "11")
    assert e.reason_code == "transferred_out" and "610400" in e.reason_zh


def test_transfer_in_carries_coverage_and_continuity(pol: EnrolmentPolicy) -> None:
    """关系转移接续: covered from the transfer; the years carried count for continuity."""
    ev = [
        RelationEvent(
            P, D(2025, 4, 1), EventKind.TRANSFER_IN, "390", "31", other_admdvs="610400",
            years_carried=6, insured_until=D(2025, 12, 31),
        )
    ]  # fmt: skip
    st = status(pol, ev, [prem(pol, 2026, in_period(2026))])
    assert check(st, D(2025, 3, 31), "11").reason_code == "not_enrolled"
    assert check(st, D(2025, 4, 1), "11").covered
    e = check(st, D(2026, 3, 1), "11")
    assert e.covered and e.continuous_years >= 7


def test_impossible_histories_are_refused_naming_the_event() -> None:
    with pytest.raises(EnrolmentError) as exc:
        relation_segments([enrol(D(2025, 1, 1)), enrol(D(2025, 2, 1))])
    assert exc.value.field == "events[1].kind" and "重复参保" in exc.value.reason
    with pytest.raises(EnrolmentError) as exc:
        relation_segments(
            [enrol(D(2025, 1, 1)), RelationEvent(P, D(2025, 2, 1), EventKind.DEATH), enrol(D(2025, 3, 1))]
        )
    assert "死亡" in exc.value.reason
    with pytest.raises(EnrolmentError):
        relation_segments([RelationEvent(P, D(2025, 1, 1), EventKind.RESUME)])


def test_status_on_gives_the_1101_insuinfo_fields() -> None:
    ev = [enrol(D(2020, 1, 1), "310", "11"), RelationEvent(P, D(2025, 3, 1), EventKind.SUSPEND)]
    rel = status_on(ev, D(2024, 6, 1))
    assert (rel.psn_insu_stas, rel.psn_insu_date, rel.paus_insu_date) == ("1", D(2020, 1, 1), None)
    rel = status_on(ev, D(2025, 6, 1))
    assert (rel.psn_insu_stas, rel.paus_insu_date) == ("2", D(2025, 3, 1))
    assert status_on(ev, D(2019, 1, 1)).psn_insu_stas == "0"


# ----------------------------------------------------------------------------- employees
def test_wage_base_is_bounded_by_floor_and_ceiling(pol: EnrolmentPolicy) -> None:
    """60%–300% of the monthly average wage (7,200 元 in 2025): 4,320 – 21,600 元."""
    low = employee_due(300_000, (2025, 3), pol)
    assert (low.floor_fen, low.ceiling_fen, low.base_fen) == (432_000, 2_160_000, 432_000)
    assert employee_due(5_000_000, (2025, 3), pol).base_fen == 2_160_000
    mid = employee_due(800_050, (2025, 3), pol)
    assert mid.base_fen == 800_050


def test_employer_part_to_the_pool_individual_part_to_the_account(pol: EnrolmentPolicy) -> None:
    """国办发〔2021〕14号: the employer part goes to the pool, the person's 2% to the personal account."""
    d = employee_due(800_050, (2025, 3), pol)
    assert d.employer_fen == 56_004  # 7% of 8,000.50 = 560.035 → 560.04 half up
    assert d.individual_fen == 16_001  # 2% = 160.01
    assert d.account_fen == d.individual_fen and d.pool_fen == d.employer_fen


def employee(
    months: list[tuple[int, int, dt.date | None]],
) -> tuple[list[RelationEvent], list[EmployeeContribution]]:
    ev = [enrol(D(2025, 1, 1), "310", "11", emp_no="E1")]
    co = [
        EmployeeContribution(P, "E1", (y, m), 600_000, 42_000, 12_000, 12_000, paid) for y, m, paid in months
    ]
    return ev, co


def test_arrears_within_grace_keep_benefits(pol: EnrolmentPolicy) -> None:
    """xa-arrears: a month paid within one month of grace keeps the benefits."""
    ev, co = employee([(2025, m, D(2025, m, 10)) for m in range(1, 13)])
    co[2] = EmployeeContribution(P, "E1", (2025, 3), 600_000, 42_000, 12_000, 12_000, D(2025, 4, 25))
    st = status(pol, ev, contributions=co)
    assert all(check(st, D(2025, m, 15), "11").covered for m in range(1, 13))


def test_arrears_beyond_grace_stop_benefits_until_paid(pol: EnrolmentPolicy) -> None:
    ev, co = employee([(2025, m, D(2025, m, 10)) for m in range(1, 13)])
    co[2] = EmployeeContribution(P, "E1", (2025, 3), 600_000, 42_000, 12_000, 12_000, D(2025, 6, 20))
    st = status(pol, ev, contributions=co)
    assert check(st, D(2025, 4, 30), "21").covered
    e = check(st, D(2025, 5, 1), "21")
    assert (e.reason_code, e.self_pay_instead, e.until) == ("arrears", True, D(2025, 6, 19))
    assert "2025年3月" in e.reason_zh
    assert check(st, D(2025, 6, 20), "21").covered
    # the personal account still pays at the pharmacy (account-only visit type 41)
    assert check(st, D(2025, 5, 1), "41").account_usable and not check(st, D(2025, 5, 1), "11").account_usable
    assert len(months_in_arrears(co, D(2025, 5, 1), pol)) == 1


def test_unpaid_month_keeps_the_person_in_arrears(pol: EnrolmentPolicy) -> None:
    ev, co = employee([(2025, m, D(2025, m, 10) if m != 2 else None) for m in range(1, 13)])
    st = status(pol, ev, contributions=co)
    assert check(st, D(2025, 3, 31), "11").covered
    assert check(st, D(2025, 4, 1), "11").reason_code == "arrears"
    assert check(st, D(2025, 11, 1), "11").reason_code == "arrears"


def test_months_after_the_last_recorded_fall_into_arrears_after_their_grace(pol: EnrolmentPolicy) -> None:
    ev, co = employee([(2025, m, D(2025, m, 10)) for m in range(1, 7)])
    st = status(pol, ev, contributions=co)
    assert check(st, D(2025, 8, 31), "11").covered
    assert check(st, D(2025, 9, 1), "11").reason_code == "arrears"


# ----------------------------------------------------------------------------- retirees
def retiree(months: int, *, kind: EventKind = EventKind.ENROL) -> list[RelationEvent]:
    return [RelationEvent(P, D(2024, 1, 1), kind, "310", "21", months_carried=months)]


def test_retiree_with_enough_years_is_covered(pol: EnrolmentPolicy) -> None:
    """xa-retire: 25 years (300 months) for men, 20 for women, 10 of them here."""
    assert check(status(pol, retiree(300)), D(2025, 6, 1), "21").covered
    women = compile_status(adult(gender="F"), retiree(240), pol)
    assert check(women, D(2025, 6, 1), "21").covered


def test_retiree_short_of_years_is_covered_once_paid_up(pol: EnrolmentPolicy) -> None:
    top = EmployeeContribution(P, "", (2025, 5), 0, 100, 0, 0, D(2025, 5, 20), "top_up", 12)
    st = status(pol, retiree(288), contributions=[top])
    e = check(st, D(2025, 1, 1), "21")
    assert (e.reason_code, e.self_pay_instead) == ("retiree_years_short", True)
    assert "288" in e.reason_zh and "300" in e.reason_zh
    assert check(st, D(2025, 5, 20), "21").covered


def test_months_carried_by_transfer_do_not_count_as_local(pol: EnrolmentPolicy) -> None:
    st = status(pol, retiree(300, kind=EventKind.TRANSFER_IN))
    e = check(st, D(2025, 1, 1), "21")
    assert e.reason_code == "retiree_years_short" and "本地0个月" in e.reason_zh


# ----------------------------------------------------------------------------- continuity incentives
def test_continuity_raises_the_critical_illness_cap_from_the_fifth_year(pol: EnrolmentPolicy) -> None:
    """国办发〔2024〕38号: after 4 continuous years, at least 1000 元 more per further year."""
    ev, pr = continuous(pol, 2020, 2025)
    st = status(pol, ev, pr)
    assert check(st, D(2023, 6, 1), "21").ci_cap_uplift_fen == 0  # 4th year
    assert check(st, D(2024, 6, 1), "21").ci_cap_uplift_fen == 100_000  # 5th year
    e = check(st, D(2025, 6, 1), "21")
    assert (e.continuous_years, e.ci_cap_uplift_fen) == (6, 200_000)
    assert "提高2,000.00元" in e.reason_zh


def test_claim_free_years_raise_the_next_cap_until_the_reward_is_used(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2022, 2025)
    free = ClaimHistory(fund_paid_years=frozenset({2022}), reward_used_years=frozenset())
    e = check(status(pol, ev, pr, claims=free), D(2025, 6, 1), "21")
    assert e.ci_cap_uplift_fen == 2 * 100_000  # 2023 and 2024 claim-free
    used = ClaimHistory(fund_paid_years=frozenset({2022, 2024}), reward_used_years=frozenset({2024}))
    assert check(status(pol, ev, pr, claims=used), D(2025, 6, 1), "21").ci_cap_uplift_fen == 0
    assert check(status(pol, ev, pr), D(2025, 6, 1), "21").ci_cap_uplift_fen == 0  # claims unknown


def test_a_lapse_restarts_continuity(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2020, 2022)
    pr += [prem(pol, 2024, in_period(2024)), prem(pol, 2025, in_period(2025))]
    e = check(status(pol, ev, pr), D(2025, 9, 1), "21")
    assert e.covered and e.continuous_years == 2 and e.ci_cap_uplift_fen == 0


def test_the_uplift_is_limited_to_twenty_percent_of_the_cap(pol: EnrolmentPolicy) -> None:
    ev, pr = continuous(pol, 2020, 2025)
    e = check(status(pol, ev, pr), D(2025, 6, 1), "21")
    assert critical_illness_cap(30_000_000, e) == 30_200_000
    assert critical_illness_cap(500_000, e) == 600_000  # +2000 元 capped at 20% of 5000 元


# ----------------------------------------------------------------------------- premiums
def test_resident_premium_and_assistance_shares(pol: EnrolmentPolicy) -> None:
    """医保发〔2024〕19号: 400 + 670 元 in 2024; 国办发〔2021〕42号: 特困 full, 低保 a fixed share (60% [X])."""
    d = resident_due(2024, set(), pol)
    assert (d.standard_fen, d.person_fen, d.subsidy_fen) == (40_000, 40_000, 67_000)
    tk = resident_due(2025, {"TK"}, pol)
    assert (tk.assistance_fen, tk.person_fen) == (40_000, 0)
    db = resident_due(2025, {"DB"}, pol)
    assert (db.assistance_fen, db.person_fen) == (24_000, 16_000)


def test_add_months_clips_to_the_month_end() -> None:
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2024, 11, 30), 3) == D(2025, 2, 28)


# ----------------------------------------------------------------------------- the check and the 2001 shape
def test_check_of_an_unknown_person_is_not_enrolled() -> None:
    assert check(None, D(2025, 1, 1), "11") is NOT_ENROLLED


def test_2001_trtinfo_rows(pol: EnrolmentPolicy) -> None:
    ev, co = employee([(2025, m, D(2025, m, 10)) for m in range(1, 13)])
    e = check(status(pol, ev, contributions=co), D(2025, 6, 1), "11")
    rows = trtinfo_2001(P, e)
    assert [r["fund_pay_type"] for r in rows] == ["310100", "310200"]
    assert all(r["trt_enjymnt_flag"] == "1" and r["trt_chk_type"] == "01" for r in rows)
    assert rows[0]["begndate"] == "2025-01-01"
    wrong = trtinfo_2001(P, e, insutype="390")
    assert all(r["trt_enjymnt_flag"] == "0" and r["trt_chk_rslt"] for r in wrong)
    waiting = check(
        status(pol, [enrol(D(2025, 3, 15))], [prem(pol, 2025, D(2025, 3, 15))]), D(2025, 4, 1), "21"
    )
    rows = trtinfo_2001(P, waiting, identities=frozenset({"DB"}))
    assert [r["fund_pay_type"] for r in rows] == ["390100", "390200", "610100"]
    assert all(r["trt_enjymnt_flag"] == "0" and "等待期" in r["trt_chk_rslt"] for r in rows)
    assert refusal(waiting)["selfpay"] is True


def test_near_relatives_for_family_mutual_aid() -> None:
    """家庭共济 (国办发〔2021〕14号, widened to 近亲属 by 国办发〔2024〕38号): spouse, parents, children, siblings,
    grandparents, grandchildren; not in-laws."""
    from yibao.enrolment.households import near_relatives
    from yibao.enrolment.model import HouseholdMember

    roles = {
        "H": "head",
        "S": "spouse",
        "C1": "child",
        "C2": "child",
        "P": "parent",
        "B": "sibling",
        "X": "member",
    }
    hh = [HouseholdMember("H01", p, r) for p, r in roles.items()]
    assert near_relatives(hh, "H") == ("S", "C1", "C2", "P", "B")
    assert near_relatives(hh, "S") == ("H", "C1", "C2")  # not the head's parent or sibling
    assert near_relatives(hh, "C1") == ("H", "S", "C2", "P")
    assert near_relatives(hh, "P") == ("H", "C1", "C2", "B")
    assert near_relatives(hh, "X") == () and near_relatives(hh, "nobody") == ()
