"""The cohort projection: demography (Gompertz deaths, ageing, retirement, entry, births), credibility
weighting, the fit of trend / season / noise, scenarios, the Monte-Carlo recursion, band crossings, and a
backtest whose error comes from the model's mistakes only."""

from __future__ import annotations

import math

import numpy as np
import pytest

from yibao.fund import history, projection
from yibao.fund.params import load_contributions, load_params, load_projection

FP, PP, RATES = load_params(), load_projection(), load_contributions()


def _pp(**changes: object) -> object:
    """projection.yaml with some blocks replaced (model_copy of nested pydantic models)."""
    out = PP
    for path, value in changes.items():
        block, key = path.split("__")
        out = out.model_copy(update={block: getattr(out, block).model_copy(update={key: value})})
    return out


def test_gompertz_gives_the_monthly_death_probability() -> None:
    d = projection.demography(PP, 101)
    a, b = float(PP.population.gompertz["M"].a), float(PP.population.gompertz["M"].b)
    assert d.q_month[0, 70] == pytest.approx(1 - math.exp(-a * math.exp(b * 70) / 12))
    assert (np.diff(d.q_month[0, 30:]) > 0).all()  # older, likelier


def test_a_month_ages_a_twelfth_of_each_age_retires_and_hires_at_the_lines() -> None:
    from decimal import Decimal

    pp = _pp(population__fertility_total=Decimal(0), population__net_migration_yearly=Decimal(0))
    pp = pp.model_copy(  # type: ignore[attr-defined]
        update={
            "population": pp.population.model_copy(
                update={
                    "gompertz": {
                        s: pp.population.gompertz[s].model_copy(update={"a": Decimal(0)}) for s in "MF"
                    }
                }
            )
        }  # type: ignore[attr-defined]
    )
    d = projection.demography(pp, 101)  # type: ignore[arg-type]
    pop = np.zeros((3, 2, 101))
    pop[0, 0, 59] = 120.0  # men in service aged 59
    entry = pp.population.employment_entry_age  # type: ignore[attr-defined]
    pop[2, 1, entry - 1] = 120.0  # resident women about to reach the entry age
    after = projection.step_population(pop.copy(), d)
    assert after.sum() == pytest.approx(240.0)  # nobody dies, nobody is born
    assert after[1, 0, 60] == pytest.approx(10.0)  # 1/12 aged into 60 and retired
    assert after[0, 0, 59] == pytest.approx(110.0)
    share = float(pp.population.employment_entry_share)  # type: ignore[attr-defined]
    assert after[0, 1, entry] == pytest.approx(10.0 * share)
    assert after[2, 1, entry] == pytest.approx(10.0 * (1 - share))


def test_births_go_to_residents_aged_zero_by_the_sex_ratio() -> None:
    d = projection.demography(PP, 101)
    pop = np.zeros((3, 2, 101))
    pop[0, 1, 30] = 1_000.0
    after = projection.step_population(pop, d)
    births = 1_000.0 * (1 - d.q_month[1, 30]) * d.births_per_woman_month
    assert after[2, :, 0].sum() == pytest.approx(births)
    assert after[2, 0, 0] / births == pytest.approx(float(PP.population.male_share_at_birth))


def test_credibility_shrinks_a_thin_cell_toward_its_band_and_group() -> None:
    amount = np.zeros((1, 2, 2, 1))
    exposure = np.array([[[1.0, 1_000.0], [1_000.0, 1_000.0]]])
    amount[0, 0, 0, 0] = 50.0  # one person-month costing 50: a noisy cell
    amount[0, 1, 0, 0] = 5_000.0  # 5 a person-month
    amount[0, :, 1, 0] = 5_000.0
    out = projection._credible(amount, exposure, k=100.0)
    w1 = 1 / (1 + 100)
    band = 5_050 / 1_001
    w2 = 1_001 / (1_001 + 100)
    group = (5_050 + 10_000) / 3_001
    assert out[0, 0, 0, 0] == pytest.approx(w1 * 50 + (1 - w1) * (w2 * band + (1 - w2) * group))
    assert out[0, 1, 1, 0] == pytest.approx(5.0, rel=0.01)  # a full cell keeps (almost) its own rate


def test_the_fit_recovers_a_known_trend_and_winter_peak() -> None:
    months = [f"{2021 + k // 12}-{k % 12 + 1:02d}" for k in range(48)]
    t = np.arange(48) / 12.0
    season = 1 + 0.1 * np.cos(2 * np.pi * np.arange(48) / 12)
    pay = 1e8 * np.exp(0.05 * t) * season
    fit = projection.fit_history(pay, np.full(48, 1e8), months, PP)
    assert fit.method == "fitted"
    raw = math.exp(0.05) - 1
    w = 0.02**2 / (0.02**2 + 0.0)  # a noiseless series: se 0, so the fit carries all the weight
    assert fit.trend["inpatient"] == pytest.approx(raw * w + 0.0, abs=1e-6)
    assert fit.season[0] > 1.05 and fit.season[6] < 0.95
    assert fit.sigma == pytest.approx(float(PP.simulation.sigma_floor))  # no noise: the floor


def test_a_short_history_uses_the_assumed_trend_without_seasonality() -> None:
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    rng = np.random.default_rng(3)
    fit = projection.fit_history(1e6 * np.exp(rng.normal(0, 0.1, 12)), np.full(12, 1e6), months, PP)
    assert fit.method == "assumed" and fit.season == (1.0,) * 12
    assert fit.trend == pytest.approx(projection.assumed_trend(PP))
    assert "不足" in fit.note_zh and 0.05 < fit.sigma < 0.2


def test_scenarios_change_expenditure_from_their_month_and_the_epidemic_peaks_in_its_middle() -> None:
    sc = {s.name: s for s in projection.default_scenarios(PP, 2025, 0.032, "lower deductible")}
    assert sc["baseline"].multiplier(1) == 1.0
    assert sc["policy"].multiplier(1) == pytest.approx(1.032)
    ep = sc["epidemic"]
    inside = [ep.multiplier(t) for t in range(ep.shock_start_month, ep.shock_start_month + ep.shock_months)]
    assert ep.multiplier(ep.shock_start_month - 1) == 1.0 and max(inside) > 1.0
    assert ep.multiplier(ep.shock_start_month + ep.shock_months) == 1.0
    assert sc["premium"].premium_from_year == 2025 + PP.scenarios.premium_increase.from_year_offset


def test_the_policy_change_is_read_from_a_simulation_report() -> None:
    report = {
        "funds": [
            {"key": "hifp_pay", "baseline_fen": 1, "candidate_fen": 2},
            {"key": "fund_pay_sumamt", "baseline_fen": 1_000, "candidate_fen": 1_032},
        ]
    }
    assert projection.policy_change_from_simulation(report) == pytest.approx(0.032)
    from yibao.errors import FieldError

    with pytest.raises(FieldError):
        projection.policy_change_from_simulation({"funds": []})


def test_without_noise_every_path_is_the_expected_path_and_balances_follow_the_recursion() -> None:
    H, F = 6, 1
    path = projection.Path(np.full((H, F), 100.0), np.full((H, F), 130.0), np.zeros((H, F)))
    fit = projection.Fit({"outpatient": 0.0, "inpatient": 0.0}, (1.0,) * 12, 0.0, 0.0, 0.0, "assumed", 1.0)
    z = np.random.default_rng(0).standard_normal((5, H))
    bal, mp = projection.simulate_paths(
        path, np.array([600.0]), np.full((12, F), 100.0), fit, 0.0, z, z, np.zeros(5), 0.0
    )
    assert bal[:, -1, 0] == pytest.approx(np.full(5, 600.0 + 6 * 30.0))
    assert mp[0, 0, 0] == pytest.approx(630.0 / 100.0)
    bal_i, _ = projection.simulate_paths(
        path, np.array([1_200.0]), np.full((12, F), 100.0), fit, 0.12, z, z, np.zeros(5), 0.0
    )
    assert bal_i[0, 0, 0] == pytest.approx(1_200 * 1.01 + 30)  # interest on the balance carried in


def test_crossings_report_the_first_month_past_each_line() -> None:
    months = ["2026-01", "2026-02", "2026-03"]
    cr = projection.crossings(7.0, [6.5, 5.9, 2.0], months, [3, 6, 9])
    assert [(c.line, c.direction, c.month) for c in cr] == [
        (3, "down", "2026-03"),
        (6, "down", "2026-02"),
        (9, "up", None),
    ]


def _base() -> projection.CohortBase:
    pop = np.zeros((3, 2, 101))
    pop[0, :, 25:55] = 200.0
    pop[1, :, 60:80] = 100.0
    pop[2, :, 0:90] = 150.0
    F = len(FP.funds)
    cost = np.zeros((3, 2, len(PP.costs.age_bands), 2, F))
    visits = np.ones((3, 2, len(PP.costs.age_bands), 2))
    cost[..., 0, 0] = 2_000.0
    cost[..., 1, 3] = 30_000.0
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    return projection.cohort_from_cells(
        "2025-12", tuple(FP.codes()), pop, pop, cost, visits, 12, {}, months, np.full((12, F), 1e5), PP
    )


def test_projection_reports_a_fan_per_fund_and_scenario_from_common_random_numbers() -> None:
    base = _base()
    fit = projection.fit_history(base.payments.sum(axis=1), base.exposure, base.months, PP)
    res = projection.project(
        base,
        fit,
        {"390100": 10**9},
        RATES,
        FP,
        PP,
        projection.default_scenarios(PP, 2025, 0.1),
        horizon=24,
        paths=200,
    )
    assert res["horizon"] == 24 and res["paths"] == 200 and len(res["months"]) == 24
    b, p = res["scenarios"]["baseline"]["funds"]["390100"], res["scenarios"]["policy"]["funds"]["390100"]
    assert all(
        lo <= mid <= hi for lo, mid, hi in zip(b["fan"]["p5"], b["fan"]["p50"], b["fan"]["p95"], strict=True)
    )
    # dearer care, same dice: fewer months payable at every step of the median path
    assert all(x < y for x, y in zip(p["fan"]["p50"], b["fan"]["p50"], strict=True))
    # each month is reported in whole fen (±0.5 each side), so the sums agree within about a fen a month
    assert sum(p["expected_payments"]) == pytest.approx(1.1 * sum(b["expected_payments"]), abs=30)


def test_the_backtest_error_is_the_models_own_mistake() -> None:
    """With a truth the model can represent (one trend, no break, no noise, no season) the error is ~0;
    with the shipped truth it is what the report says, recomputed from its own series."""
    from decimal import Decimal

    base = _base()
    exact = PP.model_copy(
        update={
            "backtest": PP.backtest.model_copy(
                update={
                    "unit_cost_trend_old": Decimal("0.03"),
                    "unit_cost_trend_young": Decimal("0.03"),
                    "trend_break": Decimal(0),
                    "sigma": Decimal(0),
                    "winter_amplitude": Decimal(0),
                }
            ),
            "costs": PP.costs.model_copy(update={"trend_prior_sd": Decimal("1")}),
        }
    )
    assert history.backtest(base, RATES, FP, exact)["mape_monthly"] < 0.005
    bt = history.backtest(base, RATES, FP, PP)
    s = bt["series"]
    k = 12 * bt["fit_years"]
    errs = [abs(p - a) / a for p, a in zip(s["projected_fen"][k:], s["actual_fen"][k:], strict=True)]
    assert bt["mape_monthly"] == pytest.approx(sum(errs) / len(errs), abs=2e-4)
    assert 0 < bt["mape_monthly"] < 0.2
