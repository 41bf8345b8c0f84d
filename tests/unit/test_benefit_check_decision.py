"""What settlement does with the benefit check's answer (yibao.usecases.eligibility.decide), each rule with its
source: covered → settle with the continuity uplift (国办发〔2024〕38号); not covered and listed in the region's
``not_covered.self_pay`` (waiting period, arrears, retiree years short) → fully self-paid; the personal
account still usable (account-only visit types) → self-paid with the account; otherwise refused.  And the
region without enrolment data: no check."""

from __future__ import annotations

import datetime as dt

import pytest
from test_engine_worked_example import ADMITTED, FIXTURE, VISIT, WORKER

from yibao.enrolment.check import NOT_ENROLLED
from yibao.enrolment.eligibility import compile_status
from yibao.enrolment.model import Eligibility, EventKind, PersonFacts, RelationEvent, ResidentPremium
from yibao.enrolment.policy import policy_for_region
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.engine import settle_visit
from yibao.settlement.explain import explain_visit
from yibao.settlement.model import Entitlement, identity_violations
from yibao.usecases.eligibility import (
    BenefitRefused,
    MemoryEligibility,
    check_2001,
    decide,
    eligibility_on,
)

D = dt.date


def e(**kw: object) -> Eligibility:
    base: dict[str, object] = {"covered": False, "reason_code": "x", "reason_zh": "原因", "reason_en": "why"}
    return Eligibility(**{**base, **kw})  # type: ignore[arg-type]


def test_covered_settles_with_the_continuity_uplift() -> None:
    got = decide(e(covered=True, reason_code="ok", ci_cap_uplift_fen=200_000, ci_uplift_max_share=2000))
    assert got == Entitlement(
        ci_cap_uplift_fen=200_000,
        ci_uplift_max_share=2000,
        reason_code="ok",
        reason_zh="原因",
        reason_en="why",
    )


def test_waiting_period_is_settled_self_paid_where_policy_says_so() -> None:
    got = decide(e(reason_code="waiting_period", self_pay_instead=True))
    assert got.self_pay and not got.account_usable and got.reason_code == "waiting_period"


def test_account_only_visit_keeps_the_account() -> None:
    got = decide(e(reason_code="suspended", account_usable=True))
    assert got.self_pay and got.account_usable


def test_not_enrolled_is_refused_with_the_national_reason() -> None:
    with pytest.raises(BenefitRefused) as err:
        decide(NOT_ENROLLED)
    assert err.value.field == "input.data.psn_no" and err.value.code == "not_enrolled"
    assert err.value.reason.startswith(
        "人员待遇享受检查未通过：未参加本统筹区基本医疗保险 (benefit check failed:"
    )


def _late_enrolee() -> MemoryEligibility:
    pol = policy_for_region(load_region(example_path("xian")))
    assert pol is not None
    ry = pol.resident_year(2025)
    assert ry is not None
    st = compile_status(
        PersonFacts("R1", D(1980, 5, 1), "M", ()),
        [RelationEvent("R1", D(2025, 3, 15), EventKind.ENROL, "390", "31")],
        pol,
        premiums=[
            ResidentPremium(
                "R1", 2025, D(2025, 3, 15), ry.individual_fen, 0, ry.fiscal_subsidy_fen, "", "annual"
            )
        ],
    )
    return MemoryEligibility({"R1": st})


def test_a_region_without_enrolment_data_is_not_checked() -> None:
    empty = MemoryEligibility({})
    assert eligibility_on(empty, "anyone", D(2025, 5, 1), "21") is None
    assert eligibility_on(None, "anyone", D(2025, 5, 1), "21") is None
    assert check_2001(empty, "anyone", D(2025, 5, 1), "21")["check"] == {
        "checked": False,
        "decision": "settle",
    }
    # with data, someone absent is not enrolled
    assert eligibility_on(_late_enrolee(), "anyone", D(2025, 5, 1), "21") is NOT_ENROLLED


def test_late_enrolee_waits_three_months_then_is_covered() -> None:
    """国办发〔2024〕38号: enrolling outside the collection period waits a fixed 3 months from the day paid."""
    src = _late_enrolee()
    assert check_2001(src, "R1", D(2025, 6, 14), "21")["check"]["reason_code"] == "waiting_period"
    assert check_2001(src, "R1", D(2025, 6, 15), "21")["check"]["decision"] == "settle"


def test_the_self_paid_settlement_explains_the_refusal_to_the_person() -> None:
    policy = PolicyBook.from_file(FIXTURE).for_date(ADMITTED)
    ent = Entitlement(
        self_pay=True, reason_code="waiting_period", reason_zh="处于待遇等待期", reason_en="waiting"
    )
    s = settle_visit(policy, WORKER, VISIT, {}, 0, entitlement=ent)
    assert s.fund_pay_sumamt == 0 and s.psn_part_amt == s.psn_cash_pay == s.medfee_sumamt and not s.deltas
    assert identity_violations(s) == []
    text = " ".join(x.zh for x in explain_visit(s, policy))
    assert "处于待遇等待期" in text and "全自费" in text
    plain = settle_visit(policy, WORKER, VISIT, {}, 0)
    assert plain.fund_pay_sumamt > 0 and plain.medfee_sumamt == s.medfee_sumamt


def test_the_zero_claim_history_comes_from_the_stored_settlements() -> None:
    """国办发〔2024〕38号: a year without fund payments is claim-free; a year in which the raised critical-illness
    cap was used clears the reward; cancelled settlements and the current year do not count."""
    from types import SimpleNamespace as NS

    from yibao.settlement.trace import CapUplift, Layer
    from yibao.usecases.eligibility import claim_history

    def stored(year: int, fund: int, steps: list[object], status: str = "active") -> NS:
        return NS(year=year, status=status, settlement=NS(insutype="390", fund_pay_sumamt=fund, steps=steps))

    up = CapUplift("res-ci", 30_000_000, 2_000_000)
    within = Layer("res-ci", "default", 5_000_000, 0, 0, 4_000_000, 32_000_000, 4_000_000)  # 4M of 30M
    beyond = Layer("res-ci", "default", 5_000_000, 0, 0, 4_000_000, 3_000_000, 3_000_000)  # 29M→32M
    h = claim_history(
        [
            stored(2021, 100, []),
            stored(2022, 0, []),
            stored(2023, 100, [up, within]),
            stored(2024, 100, [up, beyond]),
            stored(2020, 100, [], status="cancelled"),
            stored(2026, 100, []),
        ],
        2026,
    )
    assert h.fund_paid_years == frozenset({2021, 2023, 2024})
    assert h.reward_used_years == frozenset({2024})
