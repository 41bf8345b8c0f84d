"""The annual assessment: points between the lines, weight handed on when an input is not available,
the release of the withheld deposit by score, the satisfaction coefficient (under 80 % → 0.95),
indicators from settlements, lines and DRG cases, the survey import, and the appeal clocks in working days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from yibao.assess import appeal, core, indicators
from yibao.assess.params import AssessParamsError, load_params, parse_params
from yibao.assess.survey import SurveyError, parse_inputs_csv, parse_survey_csv
from yibao.workdays import national_calendar

P = load_params()
KEYS = list(P.indicators)


def _frame(values: dict[str, list[int | None]], n: int) -> pl.DataFrame:
    cols: dict[str, object] = {"fixmedins_code": [f"H{i}" for i in range(n)], "level": ["2"] * n}
    for k in KEYS:
        cols[k] = values.get(k, [None] * n)
    for c in ("ratings_n", "survey_n", "ratings_rate", "survey_rate"):
        cols[c] = [None] * n
    return pl.DataFrame(
        cols,
        schema={
            "fixmedins_code": pl.String,
            "level": pl.String,
            **{k: pl.Int64 for k in [*KEYS, "ratings_n", "survey_n", "ratings_rate", "survey_rate"]},
        },
    )


def test_points_are_linear_between_the_full_and_zero_lines_in_both_directions() -> None:
    f = core.fractions(
        np.array([0.0, 3_750.0, 5_000.0, 9_999.0]), np.array([3_000.0] * 4), np.array([4_500.0] * 4)
    )
    assert f.tolist() == [1.0, 0.5, 0.0, 0.0]  # lower is better: drug share 30 % full, 45 % zero
    g = core.fractions(
        np.array([9_000.0, 8_000.0, 6_000.0]), np.array([9_000.0] * 3), np.array([7_000.0] * 3)
    )
    assert g.tolist() == [1.0, 0.5, 0.0]  # higher is better


def test_an_unavailable_indicator_hands_its_weight_to_its_dimension_and_every_score_reads_out_of_100() -> (
    None
):
    n = 3
    vals = {
        "drug_share": [3_000, 4_500, None],
        "satisfaction": [9_000, 9_000, 9_000],
        "readmission_15": [200, 200, 200],
    }
    scores = core.score(_frame(vals, n), P)
    for s in scores:
        assert sum(w for w, _ in s.dimensions.values()) == pytest.approx(10_000, abs=len(P.indicators))
    # institution 0: everything at the full line → 100; institution 1: drug share at the zero line
    assert scores[0].score_x100 == pytest.approx(10_000, abs=3)
    drug = next(i for i in scores[1].indicators if i.key == "drug_share")
    assert drug.points_x100 == 0 and scores[1].score_x100 == pytest.approx(10_000 - drug.weight_x100, abs=3)
    # institution 2 has no drug share: cost control rests on nothing else here, so its weight moved away
    assert scores[2].dimensions["cost_control"][0] == 0 and scores[2].score_x100 == pytest.approx(
        10_000, abs=3
    )


def test_release_of_the_deposit_by_score_and_the_satisfaction_coefficient() -> None:
    xs = np.array([0, 5_999, 6_000, 7_500, 9_000, 10_000])
    assert core.release_ratio(xs, P).tolist() == [0, 0, 0, 5_000, 10_000, 10_000]
    sat = np.array([7_999.0, 8_000.0, np.nan])
    assert core.coefficients(sat, P).tolist() == [P.satisfaction.coefficient, 10_000, 10_000]


def test_the_explanation_walks_through_every_step_in_chinese_first() -> None:
    s = core.score(_frame({"satisfaction": [7_500], "drug_share": [4_000]}, 1), P)[0]
    zh, en = core.explain(s, P, "第一人民医院")
    text = "\n".join(zh)
    assert zh[0].startswith("第一人民医院（H0）年度考核得分")
    assert "药占比 40.0%" in text and "满分线 30.0%" in text and "零分线 45.0%" in text
    assert "不可用" in text and "权重并入" in text
    assert "低于 80%：年度清算支付系数 0.95" in text and "患者参与式医保支付与满意度提升策略" in text
    assert len(en) == len(zh)


def _settled() -> pl.DataFrame:
    d = dt.date
    rows = [
        # H1: two stays 10 days apart for the same disease → a readmission; three outpatient visits
        ("P1", "H1", "21", d(2025, 3, 1), d(2025, 3, 5), "J18.9", 10_000, 0, 8_000),
        ("P1", "H1", "21", d(2025, 3, 15), d(2025, 3, 20), "J18.0", 12_000, 0, 9_000),
        ("P2", "H1", "11", d(2025, 4, 1), d(2025, 4, 1), "J06", 100, 10, 50),
        ("P2", "H1", "11", d(2025, 5, 1), d(2025, 5, 1), "J06", 100, 10, 50),
        ("P3", "H1", "11", d(2025, 6, 1), d(2025, 6, 1), "J06", 100, 10, 50),
        # H2: a peer of the same level, cheaper
        ("P4", "H2", "21", d(2025, 3, 1), d(2025, 3, 5), "K35", 6_000, 0, 5_000),
        ("P5", "H2", "11", d(2025, 4, 1), d(2025, 4, 1), "J06", 50, 0, 30),
    ]
    return pl.DataFrame(
        rows,
        schema=[
            "psn_no",
            "fixmedins_code",
            "med_type",
            "begin_date",
            "end_date",
            "diagnosis",
            "medfee_sumamt",
            "fulamt_ownpay_amt",
            "fund_pay_sumamt",
        ],
        orient="row",
    )


def test_indicators_from_settlements_compare_with_peers_of_the_same_kind_and_level() -> None:
    inst = pl.DataFrame(
        {"fixmedins_code": ["H1", "H2"], "level": ["2", "2"], "kind": ["hospital", "hospital"]}
    )
    f = indicators.assemble(inst, P, settled=_settled()).sort("fixmedins_code")
    h1 = f.row(0, named=True)
    assert h1["readmission_15"] == 5_000  # 1 of 2 stays
    # cost per admission: H1 11,000, H2 6,000 → mean 8,500 → H1 = 1.2941×
    assert h1["cost_per_admission_rel"] == round(11_000 / 8_500 * 10_000)
    assert h1["self_pay_share"] == (30 * 10_000 * 2 + 22_300) // (22_300 * 2)
    assert h1["satisfaction"] is None and h1["upload_timeliness"] is None


def test_drug_and_consumable_shares_from_lines_and_drg_indices() -> None:
    inst = pl.DataFrame(
        {"fixmedins_code": ["H1", "H2"], "level": ["2", "2"], "kind": ["hospital", "hospital"]}
    )
    lines = pl.DataFrame(
        {
            "fixmedins_code": ["H1", "H1", "H1"],
            "code": ["D1", "M1", "S1"],
            "amount": [300, 200, 500],
            "fulamt_ownpay_amt": [60, 0, 0],
        }
    )
    cases = pl.DataFrame(
        {
            "fixmedins_code": ["H1", "H1", "H2", "H2"],
            "drg": ["A", "A", "A", "B"],
            "rw": [10_000, 10_000, 10_000, 20_000],
            "medfee_sumamt": [300, 300, 100, 500],
            "los_days": [6, 6, 2, 5],
            "outlier": ["high", "normal", "normal", "normal"],
        }
    )
    f = indicators.assemble(
        inst, P, lines=lines, kinds={"D1": "drug", "M1": "material", "S1": "service"}, drg_cases=cases
    ).sort("fixmedins_code")
    h1 = f.row(0, named=True)
    assert (h1["drug_share"], h1["consumable_share"], h1["catalogue_drug_share"]) == (3_000, 2_000, 8_000)
    # group A: region mean cost (300+300+100)/3; H1's mean 300 → cost index 300 / 233.3 = 1.2857
    assert h1["cost_index"] == round(300 / (700 / 3) * 10_000)
    assert h1["outlier_share"] == 5_000


def test_satisfaction_weighs_the_survey_and_enough_portal_ratings() -> None:
    ratings = pl.DataFrame({"fixmedins_code": ["H1"] * 10 + ["H2"] * 3, "stars": [5] * 6 + [2] * 4 + [5] * 3})
    survey = pl.DataFrame({"fixmedins_code": ["H1", "H3"], "respondents": [100, 50], "satisfied": [90, 35]})
    s = indicators.satisfaction(ratings, survey, P).sort("fixmedins_code")
    got = dict(s.select("fixmedins_code", "satisfaction").iter_rows())
    w = P.satisfaction.survey_weight
    assert got["H1"] == (9_000 * w + 6_000 * (10_000 - w)) // 10_000  # 0.6 × 90 % + 0.4 × 60 %
    assert got["H2"] is None  # 3 ratings are too few alone
    assert got["H3"] == 7_000


def test_a_survey_file_is_refused_whole_when_a_row_is_bad() -> None:
    ok = parse_survey_csv("fixmedins_code,respondents,satisfied\nH1,100,80\n", "某调查公司")
    assert ok.row(0) == ("H1", "某调查公司", 100, 80)
    for text, field in (
        ("fixmedins_code,respondents\nH1,1\n", "survey.satisfied"),
        ("fixmedins_code,respondents,satisfied\nH1,10,11\n", "survey line 2.satisfied"),
        ("fixmedins_code,respondents,satisfied\nH1,x,1\n", "survey line 2.respondents"),
        ("fixmedins_code,respondents,satisfied\nH1,10,1\nH1,10,2\n", "survey line 3.fixmedins_code"),
    ):
        with pytest.raises(SurveyError) as e:
            parse_survey_csv(text, "某调查公司")
        assert e.value.field == field
    inp = parse_inputs_csv("fixmedins_code,upload_timeliness\nH1,0.97\nH2,\n", KEYS)
    assert inp["upload_timeliness"].to_list() == [9_700, None]
    with pytest.raises(SurveyError):
        parse_inputs_csv("fixmedins_code,mood\nH1,1\n", KEYS)


def test_the_policy_file_must_weigh_100_points_and_cite_its_sources() -> None:
    import yaml

    raw = yaml.safe_load(
        (__import__("yibao.assess.params", fromlist=["HERE"]).HERE / "params.yaml").read_text(
            encoding="utf-8"
        )
    )
    raw["dimensions"]["audit"]["weight"] = 11
    with pytest.raises(AssessParamsError):
        parse_params(raw)
    raw["dimensions"]["audit"]["weight"] = 10
    raw["release"]["source"] = "nowhere"
    with pytest.raises(AssessParamsError) as e:
        parse_params(raw)
    assert e.value.field == "release.source"


def test_appeal_window_and_decision_clock_count_working_days() -> None:
    cal = national_calendar()
    notified = dt.date(2026, 1, 12)  # a Monday
    last = appeal.file_by(notified, P, cal)
    assert cal.working_days_between(notified, last) == P.appeal.file_within_working_days
    due = appeal.check_filing(
        notified_on=notified, today=last, indicator="drug_share", reason="录入错误", p=P, cal=cal
    )
    assert cal.working_days_between(last, due) == P.appeal.decide_within_working_days
    with pytest.raises(appeal.AppealError) as e:
        appeal.check_filing(
            notified_on=notified,
            today=last + dt.timedelta(days=1),
            indicator="drug_share",
            reason="x",
            p=P,
            cal=cal,
        )
    assert e.value.code == "late"
    with pytest.raises(appeal.AppealError):
        appeal.check_filing(notified_on=notified, today=notified, indicator="nope", reason="x", p=P, cal=cal)


@pytest.mark.parametrize(
    ("state", "new", "role", "note", "value", "code"),
    [
        ("filed", "upheld", "auditor", "ok", 1, "bad_move"),  # review first
        ("filed", "under_review", "institution", "", None, "forbidden"),
        ("under_review", "upheld", "auditor", "ok", None, "missing"),  # needs the corrected value
        ("under_review", "rejected", "auditor", "", None, "missing"),  # needs reasons
        ("under_review", "rejected", "auditor", "no", 5, "appeal"),
        ("rejected", "under_review", "auditor", "", None, "bad_move"),
    ],
)
def test_the_appeal_state_machine(
    state: str, new: str, role: str, note: str, value: int | None, code: str
) -> None:
    with pytest.raises(appeal.AppealError) as e:
        appeal.check_move(state, new, role, note, value)
    assert e.value.code == code


def test_upload_timeliness_comes_from_the_interface_uploads_and_an_explicit_value_still_wins() -> None:
    inst = pl.DataFrame({"fixmedins_code": ["H1", "H2"], "level": ["2", "2"], "kind": ["hospital"] * 2})
    up = pl.DataFrame({"fixmedins_code": ["H1", "H2"], "lines": [200, 50], "on_time": [196, 40]})
    f = indicators.assemble(inst, P, uploads=up).sort("fixmedins_code")
    assert f["upload_timeliness"].to_list() == [9_800, 8_000]
    given = pl.DataFrame({"fixmedins_code": ["H2"], "upload_timeliness": [9_900]})
    f = indicators.assemble(inst, P, uploads=up, inputs=given).sort("fixmedins_code")
    assert f["upload_timeliness"].to_list() == [9_800, 9_900]
    # without uploads the explanation says what is missing and why, not that there is no source at all
    s = core.score(indicators.assemble(inst, P), P)[0]
    zh, _ = core.explain(s, P)
    assert any("24小时内数据上传率" in x and "无经国家接口上传的费用明细" in x for x in zh)
    assert P.data_quality.upload_window_hours == 24
