"""The case state machine and the working-day calendar, pure (no database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import polars as pl
import pytest

from yibao.audit.cases import (
    AuditCaseError,
    Case,
    CaseEvent,
    CaseState,
    Decision,
    Outcome,
    load_params,
    transition,
)
from yibao.audit.cases.calendar import parse_params
from yibao.audit.cases.grouping import group_flags
from yibao.audit.cases.model import CaseItem, verify_history
from yibao.audit.cases.workflow import Appeal, Decide, Expire, Notify, RecordDeduction, open_case

PARAMS = load_params()
CST = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


def item(no: int, amount: int, sn: int | None = None) -> CaseItem:
    return CaseItem(no, (f"GZ-T:{no}:{sn or 0}",), ("GZ-T",), 1, 100 + no, sn, amount, "理由", "reason", "[]")


def opened(*amounts: int) -> tuple[Case, list[CaseEvent]]:
    case, events = open_case(
        "2025Q2:H1",
        "H1",
        "2025Q2",
        [item(i, a, i) for i, a in enumerate(amounts, 1)],
        at("2025-06-03"),
        "auditor",
    )
    return case, events


# ------------------------------------------------------------------ calendar
def test_twenty_working_days_skip_weekends_and_the_dragon_boat_holiday() -> None:
    # notice Tue 2025-05-27; 5-31..6-02 is the 端午 holiday (Sat–Mon).  Counted by hand: 5-28, 5-29, 5-30
    # (1–3), 6-03…6-06 (4–7), 6-09…6-13 (8–12), 6-16…6-20 (13–17), 6-23, 6-24, 6-25 (18–20)
    assert PARAMS.add_working_days(dt.date(2025, 5, 27), 3) == dt.date(2025, 5, 30)
    assert PARAMS.add_working_days(dt.date(2025, 5, 27), 4) == dt.date(2025, 6, 3)
    assert PARAMS.appeal_deadline(at("2025-05-27")) == dt.date(2025, 6, 25)
    assert PARAMS.add_working_days(dt.date(2025, 5, 27), 0) == dt.date(2025, 5, 27)


def test_a_make_up_saturday_counts_and_the_national_day_week_does_not() -> None:
    # Fri 2025-09-26 → Sat 9-27 rest, Sun 9-28 make-up working day (调休上班)
    assert PARAMS.add_working_days(dt.date(2025, 9, 26), 1) == dt.date(2025, 9, 28)
    # Tue 9-30 → 10-01..10-08 holiday → Thu 10-09
    assert PARAMS.add_working_days(dt.date(2025, 9, 30), 1) == dt.date(2025, 10, 9)
    # Fri 10-10 → Sat 10-11 make-up working day
    assert PARAMS.add_working_days(dt.date(2025, 10, 10), 1) == dt.date(2025, 10, 11)


def test_the_local_date_decides_not_the_utc_date() -> None:
    late_evening_utc = dt.datetime(2025, 5, 30, 17, 0, tzinfo=dt.UTC)  # 01:00 on Sat 5-31 in Beijing
    assert PARAMS.local_date(late_evening_utc) == dt.date(2025, 5, 31)


def test_a_year_without_a_holiday_list_is_refused() -> None:
    with pytest.raises(AuditCaseError) as e:
        PARAMS.add_working_days(dt.date(2027, 12, 20), 20)
    assert e.value.code == "calendar_not_covered" and e.value.field == "calendar"


def test_parameters_without_a_source_or_with_a_bad_window_are_refused() -> None:
    good = {
        "appeal_window": {"working_days": 20, "source": "x"},
        "timezone": {"name": "Asia/Shanghai", "source": "x"},
        "calendar": {
            "weekend": {"iso_weekdays": [6, 7]},
            "years": {2025: {"holidays": ["2025-01-01"], "source": "x"}},
        },
    }
    assert parse_params(good).appeal_working_days == 20
    assert parse_params({k: v for k, v in good.items() if k != "calendar"}).calendar.years >= {2025, 2026}
    bad = json.loads(json.dumps(good))
    bad["calendar"] = {"years": {2025: {"holidays": ["2025-01-01"], "source": "x"}}}
    bad["appeal_window"]["source"] = ""
    with pytest.raises(AuditCaseError, match=r"appeal_window\.source"):
        parse_params(bad)
    bad["appeal_window"] = {"working_days": 0, "source": "x"}
    with pytest.raises(AuditCaseError, match=r"appeal_window\.working_days"):
        parse_params(bad)
    bad = {**good, "calendar": {"years": {2025: {"holidays": ["2025-02-30"], "source": "x"}}}}
    with pytest.raises(AuditCaseError, match=r"calendar\.years\.2025\.holidays"):
        parse_params(bad)


# ------------------------------------------------------------------ transitions
def test_the_full_path_logs_every_step_with_a_linked_hash_chain() -> None:
    case, log = opened(1000, 2000, 3000)
    case, ev = transition(case, Notify("auditor"), at("2025-06-03"), PARAMS)
    log += ev
    assert case.state is CaseState.NOTIFIED and case.deadline == PARAMS.appeal_deadline(at("2025-06-03"))
    case, ev = transition(case, Appeal("H1-office", {2: "病历可证", 3: "有医嘱"}), at("2025-06-10"), PARAMS)
    log += ev
    assert case.state is CaseState.APPEALED and case.item(2).appeal_reason == "病历可证"
    decisions = {2: Decision(Outcome.DISMISSED, "证据充分"), 3: Decision(Outcome.PARTIAL, "部分合理", 1200)}
    case, ev = transition(case, Decide("bureau", decisions), at("2025-07-10"), PARAMS)
    log += ev
    assert case.state is CaseState.DECIDED
    assert [i.decided_fen for i in case.items] == [1000, 0, 1200] and case.upheld_fen == 2200
    assert case.item(1).decision == "upheld" and "逾期" in (case.item(1).decision_reason or "")
    case, ev = transition(
        case, RecordDeduction("bureau", "DED:x", {1: 1000, 3: 1200}), at("2025-07-11"), PARAMS
    )
    log += ev
    assert case.state is CaseState.DEDUCTED and case.deducted_fen == 2200
    assert [e.event for e in log] == ["open", "notify", "appeal", "decide", "deduct"]
    assert [(e.state_before, e.state_after) for e in log[1:]] == [
        ("open", "notified"),
        ("notified", "appealed"),
        ("appealed", "decided"),
        ("decided", "deducted"),
    ]
    assert log[2].detail["items"]["2"]["appeal_reason"] == [None, "病历可证"]
    assert log[3].detail["items"]["3"]["decided_fen"] == [None, 1200]
    assert verify_history(case, log) == []
    forged = [*log[:2], dataclasses.replace(log[2], actor="someone else"), *log[3:]]
    assert any("hash mismatch" in p for p in verify_history(case, forged))
    assert any("log ends" in p for p in verify_history(case, log[:-1]))


def test_a_late_appeal_is_refused_and_changes_nothing() -> None:
    case, _ = opened(1000)
    case, _ = transition(case, Notify("auditor"), at("2025-06-03"), PARAMS)
    assert case.deadline is not None
    on_deadline = at(case.deadline.isoformat(), 23)
    ok, _ = transition(case, Appeal("H1", {1: "理由"}), on_deadline, PARAMS)
    assert ok.state is CaseState.APPEALED
    day_after = at((case.deadline + dt.timedelta(days=1)).isoformat(), 0)
    with pytest.raises(AuditCaseError) as e:
        transition(case, Appeal("H1", {1: "理由"}), day_after, PARAMS)
    assert e.value.code == "appeal_window_closed" and e.value.field == "now"
    assert case.state is CaseState.NOTIFIED and case.item(1).appeal_at is None


@pytest.mark.parametrize(
    ("state_cmd", "code", "zh"),
    [
        ("appeal_before_notice", "illegal_transition", r"案件 \S+ 当前状态不能申诉 cannot appeal case "),
        (
            "notify_twice",
            "illegal_transition",
            r"案件 \S+ 当前状态不能发出稽核告知 cannot send the notice of case ",
        ),
        ("decide_in_window", "appeal_window_open", r"申诉期未满，尚有明细可申诉 the appeal window of case "),
        ("expire_in_window", "appeal_window_open", r"申诉期未满 the appeal window of case "),
        (
            "deduct_undecided",
            "illegal_transition",
            r"案件 \S+ 当前状态不能记录扣款 cannot record a deduction on case ",
        ),
        ("appeal_twice", "already_appealed", r"第 1 项已申诉过 item 1 was already appealed on "),
        ("unknown_item", "unknown_item", r"案件 \S+ 没有第 9 项 case \S+ has no item 9$"),
        (
            "partial_too_big",
            "invalid_decision",
            r"部分维持须大于 0 且小于涉及金额 a partial decision upholds ",
        ),
        (
            "missing_decision",
            "invalid_decision",
            r"已申诉的明细须逐项裁定 appealed items \[1\] need a decision$",
        ),
        ("bad_outcome", "invalid_decision", r"裁定结果不在允许范围内 must be one of \["),
    ],
)
def test_illegal_transitions_are_refused_with_a_code(state_cmd: str, code: str, zh: str) -> None:
    case, _ = opened(1000, 500)
    notified, _ = transition(case, Notify("a"), at("2025-06-03"), PARAMS)
    appealed, _ = transition(notified, Appeal("h", {1: "r"}), at("2025-06-04"), PARAMS)
    late = at("2025-08-01")
    attempts = {
        "appeal_before_notice": lambda: transition(case, Appeal("h", {1: "r"}), at("2025-06-04"), PARAMS),
        "notify_twice": lambda: transition(notified, Notify("a"), at("2025-06-04"), PARAMS),
        "decide_in_window": lambda: transition(
            appealed, Decide("b", {1: Decision("upheld", "r")}), at("2025-06-05"), PARAMS
        ),
        "expire_in_window": lambda: transition(notified, Expire(), at("2025-06-05"), PARAMS),
        "deduct_undecided": lambda: transition(appealed, RecordDeduction("b", "D", {}), late, PARAMS),
        "appeal_twice": lambda: transition(appealed, Appeal("h", {1: "again"}), at("2025-06-05"), PARAMS),
        "unknown_item": lambda: transition(notified, Appeal("h", {9: "r"}), at("2025-06-05"), PARAMS),
        "partial_too_big": lambda: transition(
            appealed, Decide("b", {1: Decision("partial", "r", 1000)}), late, PARAMS
        ),
        "missing_decision": lambda: transition(
            appealed, Decide("b", {2: Decision("upheld", "r")}), late, PARAMS
        ),
        "bad_outcome": lambda: transition(appealed, Decide("b", {1: Decision("maybe", "r")}), late, PARAMS),
    }
    with pytest.raises(AuditCaseError) as e:
        attempts[state_cmd]()
    assert e.value.code == code and re.match(zh, e.value.reason), e.value.reason


def test_an_unanswered_notice_becomes_final_after_the_window() -> None:
    case, _ = opened(1000, 500)
    case, _ = transition(case, Notify("a"), at("2025-06-03"), PARAMS)
    assert case.deadline is not None
    final, ev = transition(case, Expire(), at((case.deadline + dt.timedelta(days=1)).isoformat()), PARAMS)
    assert final.state is CaseState.DECIDED and final.upheld_fen == 1500
    assert ev[0].event == "expire" and ev[0].actor == "system"


def test_dismissing_everything_closes_the_case() -> None:
    case, _ = opened(1000)
    case, _ = transition(case, Notify("a"), at("2025-06-03"), PARAMS)
    case, _ = transition(case, Appeal("h", {1: "r"}), at("2025-06-04"), PARAMS)
    # every item appealed: the bureau may decide before the deadline
    done, _ = transition(case, Decide("b", {1: Decision("dismissed", "ok")}), at("2025-06-05"), PARAMS)
    assert done.state is CaseState.CLOSED and done.upheld_fen == 0


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(AuditCaseError, match=r"^now: 时间须带时区 must be timezone-aware"):
        open_case("c", "H1", "p", [item(1, 5)], dt.datetime(2025, 6, 3), "a")


# ------------------------------------------------------------------ grouping
def _flags(rows: list[dict[str, object]]) -> pl.DataFrame:
    from yibao.audit.flags import FLAG_SCHEMA

    base = {
        "source": "rule",
        "rule_class": "政策",
        "severity": "flag",
        "reason_zh": "重复收费",
        "reason_en": "duplicate",
        "evidence": "{}",
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema=FLAG_SCHEMA)


def test_flags_group_into_one_case_per_institution_and_one_item_per_line() -> None:
    flags = _flags(
        [
            {
                "flag_id": "A:1:1",
                "rule_code": "A",
                "psn_id": 1,
                "fixmedins_code": "H1",
                "visit_id": 1,
                "feedetl_sn": 1,
                "amount_fen": 500,
            },
            {
                "flag_id": "B:1:1",
                "rule_code": "B",
                "psn_id": 1,
                "fixmedins_code": "H1",
                "visit_id": 1,
                "feedetl_sn": 1,
                "amount_fen": 700,
            },
            {
                "flag_id": "A:1:0",
                "rule_code": "A",
                "psn_id": 1,
                "fixmedins_code": "H1",
                "visit_id": 1,
                "feedetl_sn": None,
                "amount_fen": 900,
            },
            {
                "flag_id": "A:2:3",
                "rule_code": "A",
                "psn_id": 2,
                "fixmedins_code": "H2",
                "visit_id": 2,
                "feedetl_sn": 3,
                "amount_fen": 100,
            },
        ]
    )
    drafts = group_flags(flags, "2025Q2")
    assert [(d.case_id, len(d.items)) for d in drafts] == [("2025Q2:H1", 2), ("2025Q2:H2", 1)]
    visit_level, line = drafts[0].items
    assert visit_level.feedetl_sn is None and visit_level.amount_fen == 900
    assert line.feedetl_sn == 1 and line.amount_fen == 700  # the line's money is at stake once
    assert line.flag_ids == ("A:1:1", "B:1:1") and line.rule_codes == ("A", "B")
    assert json.loads(line.evidence) == [{}, {}] and line.reason_zh == "重复收费"  # reasons de-duplicated


def test_bad_flag_frames_name_the_column() -> None:
    good = {
        "flag_id": "A:1:1",
        "rule_code": "A",
        "psn_id": 1,
        "fixmedins_code": "H1",
        "visit_id": 1,
        "feedetl_sn": 1,
        "amount_fen": 5,
    }
    with pytest.raises(AuditCaseError, match=r"flags\.amount_fen"):
        group_flags(_flags([{**good, "amount_fen": -1}]), "P")
    with pytest.raises(AuditCaseError, match=r"flags\.fixmedins_code"):
        group_flags(_flags([{**good, "fixmedins_code": None}]), "P")
    with pytest.raises(AuditCaseError, match=r"flags\.flag_id"):
        group_flags(_flags([good, good]), "P")
    with pytest.raises(AuditCaseError, match=r"flags\.severity"):
        group_flags(_flags([good]).drop("severity"), "P")
