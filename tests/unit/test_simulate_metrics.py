"""The simulator's metric functions on hand-built frames with known answers."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from yibao.simulate import metrics as m
from yibao.simulate.assumptions import AnalysisOptions, FundAssumptions, HouseholdModel, SchemeFund

# ------------------------------------------------------------------------------------------ equity


def test_fractional_rank_is_mid_rank_over_n_with_ties_averaged() -> None:
    r = m.fractional_rank(np.array([30.0, 10.0, 20.0, 20.0]))
    # sorted: 10 (rank 1), 20, 20 (ranks 2 and 3 → 2.5), 30 (rank 4); r = (R − ½) / 4
    assert r.tolist() == [3.5 / 4, 0.5 / 4, 2.0 / 4, 2.0 / 4]
    assert r.mean() == pytest.approx(0.5)


def test_concentration_index_of_an_equal_distribution_is_zero() -> None:
    income = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert m.concentration_index(np.full(5, 700.0), income) == pytest.approx(0.0)


def test_concentration_index_sign_follows_who_pays() -> None:
    income = np.arange(1.0, 11.0)
    poorest_pays = np.where(income <= 2, 1000.0, 0.0)
    richest_pays = np.where(income >= 9, 1000.0, 0.0)
    assert m.concentration_index(poorest_pays, income) < 0  # type: ignore[operator]
    assert m.concentration_index(richest_pays, income) > 0  # type: ignore[operator]
    # all OOP on the single poorest of N: CI = 2·cov/μ = (1 − N) / N · … exactly −(N − 1)/N
    only_poorest = np.where(income == 1, 500.0, 0.0)
    assert m.concentration_index(only_poorest, income) == pytest.approx(-(10 - 1) / 10)


def test_concentration_index_is_none_without_any_oop() -> None:
    assert m.concentration_index(np.zeros(3), np.array([1.0, 2.0, 3.0])) is None


# ------------------------------------------------------------------------------------------ groups


def test_income_quintiles_over_persons_keep_households_together() -> None:
    # 10 persons, per-capita incomes 1..10 except two members of one household share 5
    persons = pl.DataFrame(
        {
            "psn_id": list(range(10)),
            "household_income": [100, 200, 300, 400, 1000, 1000, 700, 800, 900, 1000],
            "household_size": [1, 1, 1, 1, 2, 2, 1, 1, 1, 1],
        }
    )
    q = m.income_groups(persons, 5).sort("psn_id")
    assert q["pc_income"].to_list()[4:6] == [500.0, 500.0]
    assert q["quintile"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_age_bands() -> None:
    ages = pl.DataFrame({"age": [0, 17, 18, 44, 45, 59, 60, 74, 75, 101]})
    got = ages.select(b=m.age_band(pl.col("age"), (18, 45, 60, 75)))["b"].to_list()
    assert got == ["0–17", "0–17", "18–44", "18–44", "45–59", "45–59", "60–74", "60–74", "75+", "75+"]


# ------------------------------------------------------------------------------------------ money


def _visits(**cols: list[int]) -> pl.DataFrame:
    base = {
        k: [0] * len(next(iter(cols.values())))
        for k in (
            "hifp_pay",
            "hifmi_pay",
            "hifob_pay",
            "maf_pay",
            "cvlserv_pay",
            "hifes_pay",
            "oth_pay",
            "acct_pay",
            "fund_pay_sumamt",
            "psn_part_amt",
            "psn_cash_pay",
            "fulamt_ownpay_amt",
            "overlmt_selfpay",
            "medfee_sumamt",
            "act_pay_dedc",
        )
    }
    base.update(cols)
    return pl.DataFrame(base)


def test_out_of_pocket_in_scope_excludes_c_class_and_over_cap() -> None:
    # DOMAIN.md §1.8 worked example: 20,000 bill, 1,000 C, 400 over cap, psn_part 6,560, fund 13,440
    v = _visits(
        medfee_sumamt=[2_000_000],
        hifp_pay=[1_344_000],
        fund_pay_sumamt=[1_344_000],
        psn_part_amt=[656_000],
        psn_cash_pay=[556_000],
        acct_pay=[100_000],
        fulamt_ownpay_amt=[100_000],
        overlmt_selfpay=[40_000],
        act_pay_dedc=[120_000],
    )
    o = m.out_of_pocket(v)
    assert o == {
        "total": 656_000,
        "cash": 556_000,
        "account": 100_000,
        "in_scope": 516_000,
        "out_of_scope": 140_000,
        "deductible": 120_000,
        "medfee": 2_000_000,
    }
    f = m.fund_expenditure(v)
    assert f["hifp_pay"] == 1_344_000 and f["total_with_account"] == 1_444_000


def test_effective_ratio_is_sum_fund_over_sum_cost_per_group() -> None:
    v = _visits(medfee_sumamt=[1000, 3000, 500], fund_pay_sumamt=[500, 1500, 0]).with_columns(
        hosp_lv=pl.Series(["1", "1", "3"])
    )
    r = m.effective_ratio(v, "hosp_lv")
    assert r["ratio"].to_list() == [0.5, 0.0]
    assert r["medfee"].to_list() == [4000, 500]


def test_change_and_percent() -> None:
    assert m.change(200, 250) == {"change": 50, "pct": 25.0}
    assert m.change(0, 10)["pct"] is None


# ------------------------------------------------------------------------------------------ CHE


def test_che_and_impoverishment_flag_exactly_the_constructed_households() -> None:
    model = HouseholdModel(
        propensity_to_consume=0.5,
        food_share=0.3,
        eq_scale_beta=0.56,
        che_threshold=0.4,
        subsistence_per_eq_adult_fen=200_000,
    )
    # A: 1 person, exp 500,000, food 150,000 < se 200,000 → ctp = exp − food = 350,000; 40% = 140,000
    # A2: same, one fen less OOP → not catastrophic
    # B: 4 persons, exp 4,000,000, food 1,200,000 ≥ se = 200,000·4^0.56 → ctp = exp − se
    # C: 1 person, exp 250,000; OOP 60,000 leaves 190,000 < se → impoverished, but 60,000 < 40% of 175,000
    # D: already poor (exp 150,000 < se): never "impoverished"; OOP 0 → not catastrophic
    persons = pl.DataFrame(
        {
            "psn_id": [0, 1, 2, 3, 4, 5, 6, 7],
            "household_id": [10, 11, 12, 12, 12, 12, 13, 14],
            "household_size": [1, 1, 4, 4, 4, 4, 1, 1],
            "household_income": [
                1_000_000,
                1_000_000,
                8_000_000,
                8_000_000,
                8_000_000,
                8_000_000,
                500_000,
                300_000,
            ],
        }
    )
    se_b = 200_000 * 4**0.56
    ctp_b = 4_000_000 - se_b
    b_oop = math.ceil(0.4 * ctp_b)
    oop = pl.DataFrame(
        {"psn_id": [0, 1, 2, 3, 4, 5, 6, 7], "oop": [140_000, 139_999, b_oop - 1, 1, 0, 0, 60_000, 0]}
    )
    hh = m.households(persons, oop)
    assert hh["oop"].to_list() == [140_000, 139_999, b_oop, 60_000, 0]
    line = m.subsistence_line(hh, model)
    assert line == 200_000
    bur = m.household_burden(hh, model, line).sort("household_id")
    assert bur["ctp"].to_list()[:2] == pytest.approx([350_000, 350_000])
    assert bur["ctp"][2] == pytest.approx(ctp_b)
    assert bur["che"].to_list() == [True, False, True, False, False]
    assert bur["impoverished"].to_list() == [False, False, False, True, False]
    assert bur["poor"].to_list() == [False, False, False, False, True]
    assert m.incidence(bur["che"]) == pytest.approx(2 / 5)


def test_derived_subsistence_line_follows_xu_on_the_middle_band() -> None:
    model = HouseholdModel(
        propensity_to_consume=1.0, food_share=0.5, eq_scale_beta=1.0, subsistence_band=(0.45, 0.55)
    )
    # 11 one-person households with consumption 100 … 1100: the middle band holds only 600 → line = 300
    hh = pl.DataFrame(
        {
            "household_id": list(range(11)),
            "household_size": [1] * 11,
            "household_income": [100 * (i + 1) for i in range(11)],
            "members": [1] * 11,
            "oop": [0] * 11,
        }
    )
    assert m.subsistence_line(hh, model) == pytest.approx(300.0)


# ------------------------------------------------------------------------------------------ fund


def test_months_payable_arithmetic_and_bands() -> None:
    closing, months = m.months_payable(opening_fen=600, income_fen=1300, expenditure_fen=1200)
    assert closing == 700 and months == pytest.approx(7.0)  # 700 / (1200 / 12)
    assert m.months_payable(0, 0, 0) == (0, None)
    fund = FundAssumptions()
    assert [fund.band(x) for x in (2.9, 3.0, 5.99, 6.0, 9.0, 15.0, 15.01, None)] == [
        "red",
        "amber",
        "amber",
        "green",
        "green",
        "green",
        "excessive",
        "excessive",
    ]
    assert m.balance_rate(100, 95) == pytest.approx(0.05)


def test_fund_projection_uses_assumptions() -> None:
    fund = FundAssumptions(
        schemes={
            "390": SchemeFund(
                "居民",
                "residents",
                income_per_head_fen=1_000,
                opening_months=6.0,
                expenditure_fields=("hifp_pay",),
                source="test",
            )
        }
    )
    p = m.fund_projection("390", persons=12, base_exp=12_000, cand_exp=13_200, fund=fund)
    # income 12,000; opening 6 months of 1,000 = 6,000
    assert p["income_fen"] == 12_000 and p["opening_fen"] == 6_000
    assert p["baseline_months"] == pytest.approx(6.0)  # 6,000 / 1,000
    assert p["candidate_months"] == pytest.approx(4_800 / 1_100)
    assert (p["baseline_band"], p["candidate_band"]) == ("green", "amber")


# ------------------------------------------------------------------------------------------ gainers


def test_gainers_losers_counts_and_groups() -> None:
    n = 40
    df = pl.DataFrame(
        {
            "psn_id": list(range(n)),
            "insutype": ["390"] * 20 + ["310"] * 20,
            "age_band": ["75+"] * 20 + ["18–44"] * 20,
            "quintile": [1] * 20 + [5] * 20,
            "base": [50_000] * n,
            "cand": [30_000] * 10 + [50_000] * 10 + [50_000] * 19 + [70_001],
        }
    )
    w = m.gainers_losers(df, AnalysisOptions(min_group_persons=20, material_change_fen=10_000))
    assert (w["better_off"], w["worse_off"], w["changed"]) == (10, 1, 11)
    assert w["largest_gain_fen"] == 20_000 and w["largest_loss_fen"] == 20_001
    assert w["top_gainers"][0]["insutype"] == "390" and w["top_gainers"][0]["mean_delta_fen"] == -10_000
    assert w["top_losers"][0]["insutype"] == "310" and w["top_losers"][0]["mean_delta_fen"] == 1_000


def test_histogram_counts_every_value() -> None:
    v = np.array([-500.0, -100.0, 0.5, 100.0, 2_000.0])
    h = m.histogram(v, bins=4, clip=(0.0, 1.0))
    assert sum(h["counts"]) == 5 and len(h["edges_fen"]) == 5
    assert m.histogram(np.array([]), 4, (0.0, 1.0)) == {"edges_fen": [], "counts": []}


def test_income_on_a_spending_ratio_keeps_the_balance_rate() -> None:
    sf = SchemeFund(
        "职工",
        "employees",
        income_per_head_fen=0,
        opening_months=12.0,
        expenditure_fields=("hifp_pay",),
        source="test",
        income_to_spending=1.25,
        income_basis="spending_ratio",
    )
    p = m.fund_projection(
        "310", persons=10, base_exp=1_200, cand_exp=1_200, fund=FundAssumptions(schemes={"310": sf})
    )
    assert p["income_fen"] == 1_500 and p["baseline_balance_rate"] == pytest.approx(0.2)
    assert p["baseline_months"] == pytest.approx((1_200 + 1_500 - 1_200) / 100)
