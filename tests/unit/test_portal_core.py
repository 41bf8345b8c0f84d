"""The portal's pure core: working-day SLA clocks, case transitions, family access, parameters."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from yibao.feedback import core
from yibao.feedback.core import (
    OPEN_KINDS,
    Calendar,
    PortalError,
    allowed_moves,
    check_move,
    check_new_case,
    sla_clock,
)
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement import estimate
from yibao.settlement.model import Person

D = dt.date
# 2026-10-01..07 National Day, Saturday 2026-10-10 a working day (调休), as in the shipped params
CAL = Calendar(
    frozenset(D(2026, 10, d) for d in range(1, 8)),
    frozenset({D(2026, 10, 10)}),
    frozenset({2026}),
    strict=False,
)


def test_weekends_do_not_count_as_working_days() -> None:
    fri = D(2026, 11, 20)
    assert CAL.add_working_days(fri, 1) == D(2026, 11, 23)  # Monday
    assert CAL.working_days_between(fri, D(2026, 11, 22)) == 0


def test_holidays_are_skipped_and_makeup_saturdays_count() -> None:
    # filed Tue 2026-09-29: Wed 30 is day 1, 1–7 Oct holidays, Thu 8 day 2, Fri 9 day 3, Sat 10 (调休) day 4
    assert CAL.add_working_days(D(2026, 9, 29), 4) == D(2026, 10, 10)
    assert CAL.working_days_between(D(2026, 9, 29), D(2026, 10, 12)) == 5


def test_fifteen_working_days_from_a_monday_is_three_weeks_later() -> None:
    assert CAL.add_working_days(D(2026, 11, 23), 15) == D(2026, 12, 14)


def test_sla_clock_runs_until_due_then_shows_overdue() -> None:
    opened = D(2026, 11, 23)
    on_time = sla_clock(CAL, 15, opened, D(2026, 12, 14))
    assert (on_time.elapsed, on_time.remaining, on_time.overdue, on_time.stopped) == (15, 0, False, False)
    late = sla_clock(CAL, 15, opened, D(2026, 12, 16))
    assert (late.elapsed, late.remaining, late.overdue) == (17, -2, True)


def test_a_decision_stops_the_clock_on_its_day() -> None:
    c = sla_clock(CAL, 15, D(2026, 11, 23), D(2027, 3, 1), decided=D(2026, 11, 25))
    assert (c.elapsed, c.remaining, c.overdue, c.stopped) == (2, 13, False, True)


def test_shipped_calendar_has_the_2026_national_day_holiday() -> None:
    params = core.load_params()
    assert not params.calendar.is_working_day(D(2026, 10, 5))
    assert params.calendar.is_working_day(D(2026, 10, 10))
    assert params.sla["fraud_report"].days == 15 and "15个工作日" in params.sla["fraud_report"].source


def test_applicant_may_only_withdraw_an_open_case() -> None:
    assert allowed_moves("complaint", "submitted", "insured") == {"withdrawn"}
    assert allowed_moves("complaint", "reopened", "insured") == {"withdrawn"}
    assert allowed_moves("complaint", "resolved", "insured") == frozenset()
    with pytest.raises(PortalError) as e:
        check_move("complaint", "submitted", "accepted", "insured")
    assert e.value.field == "status" and e.value.code == "bad_transition"


def test_staff_decide_filings_are_approved_complaints_answered_reports_resolved() -> None:
    assert "approved" in allowed_moves("filing_referral", "accepted", "auditor")
    assert "approved" in allowed_moves("filing_referral", "submitted", "auditor")  # one click
    assert allowed_moves("fraud_report", "submitted", "auditor") == {"accepted", "rejected"}
    assert "resolved" not in allowed_moves("filing_referral", "accepted", "auditor")
    assert "answered" in allowed_moves("complaint", "accepted", "admin")
    assert "resolved" in allowed_moves("fraud_report", "accepted", "admin")
    # only the person closes a complaint (by being satisfied); staff cannot skip the answer
    assert not {"resolved", "approved"} & allowed_moves("complaint", "accepted", "admin")
    assert allowed_moves("complaint", "submitted", "institution") == frozenset()
    check_move("fraud_report", "submitted", "accepted", "auditor")  # allowed: no error


def test_closed_cases_cannot_move_again() -> None:
    for status in core.CLOSED:
        assert allowed_moves("complaint", status, "admin") == frozenset()


def test_after_the_answer_the_person_says_satisfied_or_asks_for_a_review() -> None:
    assert allowed_moves("complaint", "answered", "insured") == {"resolved", "reopened"}
    assert allowed_moves("complaint", "answered", "auditor") == frozenset()  # waiting for the person
    assert allowed_moves("complaint", "reopened", "auditor") == {"answered"}
    check_move("complaint", "answered", "resolved", "insured")  # satisfied: no reason needed
    with pytest.raises(PortalError) as e:
        check_move("complaint", "answered", "reopened", "insured", "  ")
    assert e.value.field == "note" and e.value.code == "missing" and "不满意" in e.value.reason
    check_move("complaint", "answered", "reopened", "insured", "药费还是没退")


def test_an_answer_needs_its_text() -> None:
    with pytest.raises(PortalError) as e:
        check_move("complaint", "accepted", "answered", "auditor", "")
    assert e.value.field == "note" and "答复" in e.value.reason
    check_move("complaint", "accepted", "answered", "auditor", "已责令医院退还多收费用")


def test_a_complaint_clock_runs_until_the_answer_a_report_clock_until_acceptance() -> None:
    assert not core.stops_clock("complaint", "accepted")
    assert not core.stops_clock("complaint", "in_progress")
    assert core.stops_clock("complaint", "answered")
    assert core.stops_clock("complaint", "withdrawn")
    assert core.stops_clock("fraud_report", "accepted")
    assert core.stops_clock("filing_chronic", "approved")


def test_a_filing_clock_runs_until_the_filing_is_decided_not_until_acceptance() -> None:
    for kind in ("filing_remote", "filing_chronic", "filing_referral"):
        assert not core.stops_clock(kind, "accepted")
        assert not core.stops_clock(kind, "in_progress")
        assert core.stops_clock(kind, "approved")
        assert core.stops_clock(kind, "rejected")
        assert core.stops_clock(kind, "withdrawn")


def test_the_review_clock_is_a_parameter_with_a_source() -> None:
    shipped = core.parse_params(_params_dict())
    rule = shipped.review["complaint"]
    assert rule.days == 15 and "信访工作条例" in rule.source and rule.basis == "local_commitment"
    data = _params_dict()
    del data["review"]["complaint"]  # type: ignore[attr-defined]
    with pytest.raises(PortalError) as e:
        core.parse_params(data)
    assert e.value.field == "review" and e.value.code == "missing"
    data = _params_dict()
    data["review"]["complaint"]["days"] = 0  # type: ignore[index]
    with pytest.raises(PortalError) as e:
        core.parse_params(data)
    assert e.value.field == "review.complaint.days"


def test_family_access_is_limited_to_linked_persons() -> None:
    family = ("P1", "P2")
    assert core.may_act_for(family, "P2")
    assert not core.may_act_for(family, "P3")
    assert not core.may_act_for((), "P1")


def test_new_case_needs_a_known_kind_and_a_description() -> None:
    with pytest.raises(PortalError) as e:
        core.check_new_case("bribe", "x", "")
    assert e.value.field == "kind"
    with pytest.raises(PortalError) as e:
        core.check_new_case("complaint", "   ", "")
    assert e.value.field == "detail" and e.value.code == "missing"


def test_ratings_are_one_to_five_stars() -> None:
    core.check_rating(5, "")
    for bad in (0, 6):
        with pytest.raises(PortalError) as e:
            core.check_rating(bad, "")
        assert e.value.field == "stars"


def _params_dict() -> dict[str, object]:
    import yaml

    data = yaml.safe_load(core.PARAMS_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_clock_without_a_source_is_refused() -> None:
    data = _params_dict()
    data["sla"]["complaint"]["source"] = ""  # type: ignore[index]
    with pytest.raises(PortalError) as e:
        core.parse_params(data)
    assert e.value.field == "sla.complaint.source"


def test_a_clock_states_its_basis_and_an_unknown_basis_is_refused() -> None:
    shipped = core.parse_params(_params_dict())
    assert {r.basis for r in shipped.sla.values()} == {"local_commitment"}
    data = _params_dict()
    data["sla"]["complaint"]["basis"] = "assumed"  # type: ignore[index]
    with pytest.raises(PortalError) as e:
        core.parse_params(data)
    assert e.value.field == "sla.complaint.basis" and e.value.reason.startswith("依据类型无效")


def test_a_backwards_holiday_range_is_refused() -> None:
    data = _params_dict()
    data["calendar"] = {"years": {2026: {"holidays": ["2026-10-07..2026-10-01"], "source": "x"}}}
    with pytest.raises(PortalError) as e:
        core.parse_params(data)
    assert e.value.field == "calendar.years.2026.holidays"


def test_every_case_kind_needs_a_clock() -> None:
    data = _params_dict()
    del data["sla"]["filing_referral"]  # type: ignore[attr-defined]
    with pytest.raises(PortalError) as e:
        core.parse_params(data)
    assert e.value.field == "sla" and "filing_referral" in e.value.reason


# ---------------------------------------------------------------------------- estimator, pure
BOOK = PolicyBook(load_region(example_path("xian")))
DAY = D(2025, 6, 2)
POLICY = BOOK.for_date(DAY)
EMPLOYEE = Person("P1", "测试", "610100198001010011", "M", D(1980, 1, 1), "310", "11")


def test_estimate_prices_items_at_the_catalogue_price() -> None:
    item = POLICY.catalogue["XJ01DDA003B002010119046"]
    v = estimate.build_visit(POLICY, "P1", [estimate.Pick(item.code, 3)], level="1", med_type="11", day=DAY)
    assert v.lines[0].amount == 3 * (item.unit_price or 0)
    s = estimate.estimate(POLICY, EMPLOYEE, v, {}, 0)
    assert s.medfee_sumamt == 3 * (item.unit_price or 0)


def test_a_typed_name_in_either_language_or_the_list_label_finds_the_item() -> None:
    code = "XJ01DDA003B002010119046"
    for typed in (
        code,
        "注射用头孢曲松钠 1g",
        "Ceftriaxone Sodium for Injection 1 g",
        "头孢曲松钠 1g · 3.50",
    ):
        assert estimate.resolve_item(POLICY, typed, "items[0].code") == code
    labels = estimate.item_labels([c for c in POLICY.catalogue.values() if c.unit_price], english=True)
    assert estimate.resolve_item(POLICY, labels[code], "items[0].code") == code
    assert estimate.resolve_item(POLICY, f"anything · {code}", "items[0].code") == code


def test_pinyin_initials_find_an_item_from_their_start_or_any_part() -> None:
    assert estimate.pinyin_initials("注射用头孢曲松钠 1g") == "zsytbqsn1g"
    assert estimate.resolve_item(POLICY, "ZSYTBQSN", "items[0].code") == "XJ01DDA003B002010119046"
    assert estimate.resolve_item(POLICY, "ghf", "items[0].code") == "001101000010000"  # 挂号费
    assert estimate.resolve_item(POLICY, "tbqs", "items[0].code") == "XJ01DDA003B002010119046"
    with pytest.raises(estimate.EstimateError) as e:
        estimate.resolve_item(POLICY, "zsy", "items[0].code")  # 注射用…: many
    assert e.value.code == "ambiguous"


def test_the_type_ahead_search_finds_what_resolve_would_read_back() -> None:
    items = list(POLICY.catalogue.values())
    found = estimate.search_items(items, "zsy", limit=50)  # 注射用…: several, all of them injectables
    assert len(found) >= 2 and all(estimate.pinyin_initials(c.name).startswith("zsy") for c in found)
    assert [c.code for c in estimate.search_items(items, "zsy", limit=1)] == [found[0].code]
    assert [c.code for c in estimate.search_items(items, "tbqs", limit=50)] == ["XJ01DDA003B002010119046"]
    assert [c.code for c in estimate.search_items(items, "XJ01DDA003B002010119046", limit=5)] == [
        "XJ01DDA003B002010119046"
    ]
    assert estimate.search_items(items, "no such thing", limit=5) == []
    assert estimate.search_items(items, "  ", limit=5) == []
    assert all(c.unit_price is not None for c in estimate.search_items(items, "注射", limit=100))


def test_a_name_matching_several_items_or_none_is_refused_in_chinese_first() -> None:
    with pytest.raises(estimate.EstimateError) as e:
        estimate.resolve_item(POLICY, "注射用", "items[1].code")
    assert e.value.field == "items[1].code" and e.value.code == "ambiguous"
    assert e.value.reason.startswith("有") and "请从列表中选择" in e.value.reason
    with pytest.raises(estimate.EstimateError) as e:
        estimate.resolve_item(POLICY, "no such thing", "items[0].code")
    assert e.value.reason.startswith("目录中没有该项目")


def test_shared_names_carry_the_code_in_the_list_and_unique_names_do_not() -> None:
    a = dataclasses.replace(POLICY.catalogue["XJ01DDA003B002010119046"], code="A1")
    b = dataclasses.replace(a, code="B2")
    c = dataclasses.replace(a, code="C3", name="另一种药")
    labels = estimate.item_labels([a, b, c])
    assert labels == {"A1": f"{a.name} · A1", "B2": f"{a.name} · B2", "C3": "另一种药"}


def test_estimate_refuses_unknown_items_and_levels_naming_the_field() -> None:
    with pytest.raises(estimate.EstimateError) as e:
        estimate.build_visit(POLICY, "P1", [estimate.Pick("NOPE", 1)], level="1", med_type="11", day=DAY)
    assert e.value.field == "items[0].code"
    with pytest.raises(estimate.EstimateError) as e:
        estimate.build_visit(
            POLICY, "P1", [estimate.Pick("XJ01DDA003B002010119046", 1)], level="9", med_type="11", day=DAY
        )
    assert e.value.field == "level"
    with pytest.raises(estimate.EstimateError) as e:
        estimate.parse_picks(["XJ01DDA003B002010119046"], ["two"])
    assert e.value.field == "items[0].qty"


def test_higher_levels_cost_an_inpatient_more_under_lower_ratios() -> None:
    picks = [estimate.Pick("XJ01DDA003B002010119046", 200), estimate.Pick("001101000010000", 1)]
    opts = {
        o.level: o for o in estimate.compare_levels(POLICY, EMPLOYEE, picks, {}, 0, med_type="21", day=DAY)
    }
    assert set(opts) == set(POLICY.levels)
    assert opts["1"].own < opts["2"].own < opts["3"].own  # deductible and ratio both worsen with level
    for o in opts.values():
        assert o.own + o.fund == o.medfee


def test_drug_alternatives_are_same_generic_or_same_class_and_each_is_a_real_estimate() -> None:
    params = core.load_params()
    code = "XJ01DDA003B002010119046"
    alts = estimate.alternatives_for(POLICY, code, params)
    assert alts and all(a.startswith(code[:6]) and a != code for a, _ in alts)
    assert len(alts) <= params.max_alternatives
    picks = [estimate.Pick(code, 10)]
    for a in estimate.compare_drugs(
        POLICY, EMPLOYEE, picks, {}, 0, params, level="1", med_type="11", day=DAY
    ):
        v = estimate.build_visit(POLICY, "P1", [estimate.Pick(a.code, 10)], level="1", med_type="11", day=DAY)
        assert a.own == estimate.estimate(POLICY, EMPLOYEE, v, {}, 0).psn_part_amt
        base = estimate.estimate(
            POLICY,
            EMPLOYEE,
            estimate.build_visit(POLICY, "P1", picks, level="1", med_type="11", day=DAY),
            {},
            0,
        )
        assert a.saving == base.psn_part_amt - a.own


def test_non_drugs_have_no_alternatives() -> None:
    assert estimate.alternatives_for(POLICY, "001101000010000", core.load_params()) == []


def test_year_so_far_reads_deductible_and_cap_from_accumulators() -> None:
    op = POLICY.benefits[("310", "11")]
    assert op.basis == "per_year" and op.counter is not None
    full = op.deductible[("1", "11")]
    acc = {op.counter: full - 5_000, op.cap_counter: 70_000}
    rows = {r.benefit_id: r for r in estimate.year_so_far(POLICY, EMPLOYEE, acc, "1")}
    r = rows[op.id]
    assert (r.deductible_met, r.deductible_full) == (full - 5_000, full)
    assert r.cap is not None and r.cap_room == r.cap - 70_000


def test_a_free_text_filing_for_care_elsewhere_is_no_longer_opened_but_old_ones_stay_decidable() -> None:
    with pytest.raises(PortalError) as e:
        check_new_case("filing_remote", "长期居住上海", "上海")
    assert e.value.field == "kind" and e.value.code == "retired"
    assert e.value.reason.startswith("异地就医备案不再以文字事项受理")
    assert "filing_remote" not in OPEN_KINDS and "filing_referral" in OPEN_KINDS
    assert "approved" in allowed_moves("filing_remote", "submitted", "auditor")  # filed before: still decided
