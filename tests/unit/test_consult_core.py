"""The consultation core: the deadline in Beijing time, the phases, who may act when, the adoption rate."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from yibao.consult import core
from yibao.consult.core import ConsultError

PARAMS = core.load_params()
UTC = dt.UTC


def test_the_shipped_parameters_name_their_source() -> None:
    assert PARAMS.min_days == 30
    assert "国务院令第713号" in PARAMS.min_days_source
    assert PARAMS.partly_counts is True and PARAMS.adoption_source


def test_a_parameter_without_a_source_is_refused_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "opinion_period: {min_days: 30}\nopinion: {max_chars: 10, max_per_person: 3, source: x}\n"
        "adoption: {partly_counts: true, source: y}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConsultError) as exc:
        core.load_params(bad)
    assert exc.value.field == "opinion_period.source"


def test_the_deadline_is_the_end_of_the_last_day_in_beijing() -> None:
    deadline = core.deadline_of(dt.date(2027, 1, 6))
    assert deadline == dt.datetime(2027, 1, 6, 16, 0, tzinfo=UTC)  # 24:00 in Beijing is 16:00 UTC
    assert core.beijing_day(deadline - dt.timedelta(seconds=1)) == dt.date(2027, 1, 6)


def test_an_open_consultation_is_reviewing_from_the_deadline_on() -> None:
    deadline = core.deadline_of(dt.date(2027, 1, 6))
    assert core.phase("open", deadline, deadline - dt.timedelta(seconds=1)) == "open"
    assert core.phase("open", deadline, deadline) == "reviewing"
    assert core.phase("closed", deadline, deadline) == "closed"
    assert core.phase("draft", None, deadline) == "draft"


def test_the_period_counts_from_the_day_after_publication_in_beijing() -> None:
    # 23:30 UTC on 6 Dec is already 7 Dec in Beijing
    published = dt.datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert core.period_days(published, dt.date(2027, 1, 6)) == 30


def test_a_period_of_thirty_days_publishes_and_a_shorter_one_needs_a_reason() -> None:
    now = dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert core.check_publish("draft", now, dt.date(2027, 1, 6), "", PARAMS) == 30
    with pytest.raises(ConsultError) as exc:
        core.check_publish("draft", now, dt.date(2027, 1, 5), "", PARAMS)
    assert exc.value.field == "short_reason" and "30" in exc.value.reason
    assert core.check_publish("draft", now, dt.date(2026, 12, 20), "年度调整须在元旦前公布", PARAMS) == 13


def test_a_last_day_of_today_or_a_second_publication_is_refused() -> None:
    now = dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    with pytest.raises(ConsultError) as exc:
        core.check_publish("draft", now, dt.date(2026, 12, 7), "紧急", PARAMS)
    assert exc.value.field == "deadline"
    with pytest.raises(ConsultError) as exc:
        core.check_publish("open", now, dt.date(2027, 1, 6), "", PARAMS)
    assert exc.value.code == "bad_transition"


def test_opinions_are_taken_only_while_open() -> None:
    core.check_opinion("open", "支持", "", PARAMS)
    for phase in ("draft", "reviewing", "closed", "withdrawn"):
        with pytest.raises(ConsultError) as exc:
            core.check_opinion(phase, "支持", "", PARAMS)
        assert exc.value.code == "closed"


def test_an_empty_or_overlong_opinion_is_refused_naming_the_field() -> None:
    with pytest.raises(ConsultError) as exc:
        core.check_opinion("open", "  ", "", PARAMS)
    assert exc.value.field == "body" and exc.value.code == "missing"
    with pytest.raises(ConsultError) as exc:
        core.check_opinion("open", "字" * (PARAMS.max_opinion_chars + 1), "", PARAMS)
    assert exc.value.field == "body"


def test_one_login_gives_at_most_the_parameter_s_number_of_opinions() -> None:
    core.check_opinion("open", "再补充一点", "", PARAMS, already=PARAMS.max_per_person - 1)
    with pytest.raises(ConsultError) as exc:
        core.check_opinion("open", "再补充一点", "", PARAMS, already=PARAMS.max_per_person)
    assert f"最多发表 {PARAMS.max_per_person} 条" in exc.value.reason


def test_hiding_an_opinion_needs_a_reason() -> None:
    with pytest.raises(ConsultError) as exc:
        core.check_hide(" ")
    assert exc.value.field == "reason"
    core.check_hide("含人身攻击")


def test_an_insured_author_is_shown_by_a_masked_name_and_anonymous_by_role_only() -> None:
    assert core.public_author("insured", "张三丰", False) == ("参保群众 张＊＊", "insured person 张＊＊")
    assert core.public_author("insured", "张三丰", True) == ("参保群众", "insured person")
    assert core.public_author("institution", "示范医院 Demo hospital", False)[0] == "定点医药机构 示范医院"
    assert core.public_author("auditor", "稽核员 Auditor", False)[0] == "医保部门工作人员"


def test_answers_come_after_the_deadline_and_say_why() -> None:
    with pytest.raises(ConsultError) as exc:
        core.check_response("open", "adopted", "将起付线降至100元")
    assert exc.value.code == "bad_transition"
    with pytest.raises(ConsultError) as exc:
        core.check_response("reviewing", "not_adopted", "")
    assert exc.value.field == "text" and "未采纳的理由" in exc.value.reason
    with pytest.raises(ConsultError) as exc:
        core.check_response("reviewing", "maybe", "x")
    assert exc.value.field == "decision"
    core.check_response("reviewing", "partly", "三级医院起付线调整幅度减半")


def test_a_hearing_is_recorded_after_it_was_held_with_participants() -> None:
    published = dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    ok = dict(place="市医保局三楼会议室", participants=["王＊ 参保人代表"], observers=[], summary="发言要点")
    core.check_hearing("open", dt.date(2026, 12, 20), published, today=dt.date(2026, 12, 21), **ok)  # type: ignore[arg-type]
    with pytest.raises(ConsultError) as exc:
        core.check_hearing("open", dt.date(2026, 12, 22), published, today=dt.date(2026, 12, 21), **ok)  # type: ignore[arg-type]
    assert exc.value.field == "held_on"
    with pytest.raises(ConsultError) as exc:
        core.check_hearing("open", dt.date(2026, 12, 1), published, today=dt.date(2026, 12, 21), **ok)  # type: ignore[arg-type]
    assert exc.value.field == "held_on"
    with pytest.raises(ConsultError) as exc:
        core.check_hearing(
            "open", dt.date(2026, 12, 20), published, "会议室", [], [], "要点", dt.date(2026, 12, 21)
        )
    assert exc.value.field == "participants"
    with pytest.raises(ConsultError):
        core.check_hearing("closed", dt.date(2026, 12, 20), published, today=dt.date(2026, 12, 21), **ok)  # type: ignore[arg-type]


def test_names_are_read_one_a_line_or_separated_by_enumeration_commas() -> None:
    assert core.names_list("王＊ 参保人代表\n\n李＊、赵＊，钱＊") == [
        "王＊ 参保人代表",
        "李＊",
        "赵＊",
        "钱＊",
    ]


def test_the_adoption_rate_counts_partly_adopted_themes_when_the_parameter_says_so() -> None:
    answered = [("adopted", 5), ("partly", 3), ("not_adopted", 2)]
    a = core.adoption(answered, partly_counts=True)
    assert (a.adopted, a.partly, a.not_adopted, a.themes) == (1, 1, 1, 3)
    assert a.rate == Fraction(2, 3) and a.opinion_rate == Fraction(8, 10)
    b = core.adoption(answered, partly_counts=False)
    assert b.rate == Fraction(1, 3) and b.opinions_adopted == 5
    assert core.adoption([], True).rate is None


def test_a_rate_is_written_with_one_decimal_rounded_half_up() -> None:
    assert core.percent(Fraction(2, 3)) == "66.7%"
    assert core.percent(Fraction(1, 8)) == "12.5%"
    assert core.percent(Fraction(1, 2000)) == "0.1%"  # 0.05% rounds up
    assert core.percent(Fraction(1)) == "100.0%"
    assert core.percent(None) == "—"


def test_the_result_is_published_only_after_the_deadline_with_everything_answered() -> None:
    with pytest.raises(ConsultError) as exc:
        core.check_close("open", 1, 0, 0, 3, "结果")
    assert exc.value.code == "bad_transition"
    with pytest.raises(ConsultError) as exc:
        core.check_close("reviewing", 2, 0, 1, 3, "结果")
    assert "1 条意见未归类" in exc.value.reason
    with pytest.raises(ConsultError) as exc:
        core.check_close("reviewing", 2, 1, 0, 3, "结果")
    assert "1 类意见未答复" in exc.value.reason
    with pytest.raises(ConsultError) as exc:
        core.check_close("reviewing", 0, 0, 0, 3, "结果")
    assert exc.value.field == "themes"
    with pytest.raises(ConsultError) as exc:
        core.check_close("reviewing", 2, 0, 0, 3, " ")
    assert exc.value.field == "result"
    core.check_close("reviewing", 2, 0, 0, 3, "起付线按征求意见稿调整")
    core.check_close("reviewing", 0, 0, 0, 0, "未收到意见，按原稿实施")
