"""The simulated impact of a draft, from a real simulation report, told in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.consult.core import ConsultError
from yibao.consult.impact import Impact, explain, impact_from_report, whole_yuan
from yibao.consult.simulated import policy_names
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.simulate import simulate_frames, to_json
from yibao.simulate.candidates import resolve_policy
from yibao.simulate.sample import make_sample

BASE = PolicyBook.from_file(example_path("xian"))


@pytest.fixture(scope="module")
def report() -> dict:
    candidate = PolicyBook.from_file(resolve_policy(Path("xian-lower-deductible")))
    persons, visits, lines = make_sample(BASE, n_persons=1_500, seed=7)
    return to_json(simulate_frames(BASE, candidate, persons, visits, lines))


def test_the_impact_takes_the_fund_and_people_figures_from_the_report(report: dict) -> None:
    impact = impact_from_report(report, policy_names(BASE))
    funds = next(r for r in report["funds"] if r["key"] == "fund_pay_sumamt")
    oop = next(r for r in report["oop"] if r["key"] == "total")
    assert impact.fund_change_fen == funds["change_fen"] > 0
    assert impact.oop_change_fen == oop["change_fen"] == -impact.fund_change_fen
    assert impact.better_off == report["winners"]["better_off"] > 0
    assert impact.worse_off == report["winners"]["worse_off"]
    assert impact.persons == 1_500 and impact.visits == report["meta"]["settled_visits"]


def test_a_change_made_in_every_policy_year_is_listed_once_by_its_name(report: dict) -> None:
    impact = impact_from_report(report, policy_names(BASE))
    assert len(report["policy_diff"]) == 8  # four deductibles in each of two versions
    assert [c.what_zh for c in impact.changes] == [
        f"城乡居民基本医疗保险住院起付线（{lv}医院）" for lv in ("一级", "二级", "三级", "三级特等")
    ]
    assert (impact.changes[0].before, impact.changes[0].after) == ("150 元", "100 元")


def test_the_explanation_is_plain_chinese_with_the_report_numbers(report: dict) -> None:
    impact = impact_from_report(report, policy_names(BASE))
    text = explain(impact)
    zh = "".join(text["zh"])
    assert f"医保基金一年多支付约 {whole_yuan(impact.fund_change_fen)} 元" in zh
    assert f"参保人自己少付约 {whole_yuan(impact.oop_change_fen)} 元" in zh
    assert f"一年少付 100 元以上的有 {impact.better_off:,} 人" in zh
    assert "起付线（一级医院）由 150 元调整为 100 元" in zh
    for code in ("hifp", "fund_pay", "insutype", "Q3", "390"):
        assert code not in zh
    assert len(text["en"]) == len(text["zh"])


def test_the_impact_survives_being_stored_as_json(report: dict) -> None:
    impact = impact_from_report(report, policy_names(BASE))
    assert Impact.from_dict(impact.to_dict()) == impact


def test_a_file_that_is_not_a_simulation_report_is_refused() -> None:
    with pytest.raises(ConsultError) as exc:
        impact_from_report({"format": "something/1"}, policy_names(BASE))
    assert exc.value.field == "report"
    with pytest.raises(ConsultError) as exc:
        impact_from_report({"format": "yibao.simulation/1", "meta": {}}, policy_names(BASE))
    assert "不完整" in exc.value.reason


def test_whole_yuan_rounds_half_up_through_money() -> None:
    assert whole_yuan(3_242_450) == "32,425"
    assert whole_yuan(-3_242_449) == "32,424"


def test_shipped_candidates_are_named_by_what_they_change_and_only_for_their_region() -> None:
    from yibao.consult.simulated import candidates_for

    named = {c.key: c.name_zh for c in candidates_for(BASE)}
    assert named["xian-lower-deductible"] == "降低起付线"
    assert "提高支付比例" in named["xian-outpatient-reform"]
    assert candidates_for(PolicyBook.from_file(example_path("weinan"))) == []
