"""DRG point-method payment on a hand-worked region: weights, outliers, coefficients, budget split, clearing."""

from __future__ import annotations

from fractions import Fraction

import polars as pl
import pytest
from test_payment_support import claims, fixed_budget, policy

from yibao.money import half_up_div, split_largest_remainder
from yibao.payment import (
    ClaimsError,
    DrgWeights,
    PaymentPolicyError,
    calibrate_drg_weights,
    pay_drg,
    score_drg_cases,
)

# DRG A: four cases at 1,000 元, one at 100,000 元 (high outlier), one at 300 元 (low outlier)
# DRG B: four cases at 3,000 元, one at 7,500 元 (2.5 × the mean: high for a 150-point group, tier 2×)
ROWS = [
    ("a1", "H1", "3", "A", "K358", "", 100_000, 1),
    ("a2", "H1", "3", "A", "K358", "", 100_000, 1),
    ("a3", "H2", "1", "A", "K358", "", 100_000, 2),
    ("a4", "H2", "1", "A", "K358", "", 100_000, 2),
    ("a-hi", "H1", "3", "A", "K358", "", 10_000_000, 2),
    ("a-lo", "H2", "1", "A", "K358", "", 30_000, 3),
    ("b1", "H1", "3", "B", "I209", "", 300_000, 1),
    ("b2", "H1", "3", "B", "I209", "", 300_000, 3),
    ("b3", "H2", "1", "B", "I209", "", 300_000, 3),
    ("b4", "H2", "1", "B", "I209", "", 300_000, 3),
    ("b-hi", "H1", "3", "B", "I209", "", 750_000, 3),
]
# by hand: IQR fences (k 1.5) around Q1 = Q3 trim every non-typical case; means A 1,000 元, B 3,000 元;
# overall mean of the kept cases (4 × 1,000 + 4 × 3,000) / 8 = 2,000 元 → RW A 0.5, B 1.5 → 50 and 150 points.
POINTS_PU = {
    "a1": 500_000,
    "a2": 500_000,
    "a3": 425_000,
    "a4": 425_000,  # level 1 coefficient 0.85
    "a-hi": 49_000_000,  # 50 + 50 × (100 − 3) points: cost ratio 100, tier ≤100 points → 3×
    # low outlier, paid at cost: standard cost 1,000 × 0.85 = 850 元, ratio 300 / 850 = 0.3529 ≤ 0.4
    "a-lo": 149_983,  # 50 × 0.85 × 0.3529 = 14.99825 points → 149,982.5 → half up
    "b1": 1_500_000,
    "b2": 1_500_000,
    "b3": 1_275_000,
    "b4": 1_275_000,
    "b-hi": 2_250_000,  # 150 × (1 + 2.5 − 2): tier 100–300 points → 2×
}
POOL = 100_000_000  # 1,000,000.00 元


def test_weights_are_trimmed_group_means_over_the_overall_mean() -> None:
    w = calibrate_drg_weights(claims(ROWS), fixed_budget("1000000"))
    assert w.overall_mean_fen == 200_000
    t = {r["drg"]: r for r in w.table.iter_rows(named=True)}
    assert (t["A"]["n_cases"], t["A"]["n_kept"], t["A"]["mean_fen"], t["A"]["rw"], t["A"]["base_pu"]) == (
        6,
        4,
        100_000,
        5_000,
        500_000,
    )
    assert (t["B"]["n_cases"], t["B"]["n_kept"], t["B"]["mean_fen"], t["B"]["rw"]) == (5, 4, 300_000, 15_000)


def band(low: str, high: str) -> dict[str, object]:
    return {"method": "mean_band", "low": low, "high": high, "min_cases": 4, "source": "demo"}


def test_mean_band_trimming_keeps_cases_within_the_band() -> None:
    # group A's mean over all six cases is 1,738,333 fen: 0.05 × that is 86,917, 3 × is 5,215,000
    w = calibrate_drg_weights(claims(ROWS), fixed_budget("1000000", **{"drg.calibration": band("0.05", "3")}))
    a = w.table.filter(pl.col("drg") == "A").row(0, named=True)
    assert (a["n_kept"], a["mean_fen"]) == (4, 100_000)


def test_a_band_that_would_empty_a_group_keeps_all_of_it() -> None:
    # 0.1 × 1,738,333 = 173,833 is above every typical case of A: nothing would remain
    w = calibrate_drg_weights(claims(ROWS), fixed_budget("1000000", **{"drg.calibration": band("0.1", "3")}))
    a = w.table.filter(pl.col("drg") == "A").row(0, named=True)
    assert (a["n_kept"], a["mean_fen"]) == (6, 1_738_333)


def test_case_points_follow_the_outlier_rules_and_level_coefficients() -> None:
    pay = pay_drg(claims(ROWS), fixed_budget("1000000"))
    got = dict(pay.cases.select("case_id", "points_pu").iter_rows())
    assert got == POINTS_PU
    cls = dict(pay.cases.select("case_id", "outlier").iter_rows())
    assert (cls["a-hi"], cls["a-lo"], cls["b-hi"], cls["a1"]) == ("high", "low", "high", "normal")


def test_the_budget_is_split_by_points_to_the_fen() -> None:
    pay = pay_drg(claims(ROWS), fixed_budget("1000000"))
    h = {r["fixmedins_code"]: r for r in pay.hospitals.iter_rows(named=True)}
    pts = [
        sum(v for k, v in POINTS_PU.items() if k in ids)
        for ids in (("a1", "a2", "a-hi", "b1", "b2", "b-hi"), ("a3", "a4", "a-lo", "b3", "b4"))
    ]
    assert [h["H1"]["points_pu"], h["H2"]["points_pu"]] == pts == [55_250_000, 3_549_983]
    assert [h["H1"]["due_fen"], h["H2"]["due_fen"]] == split_largest_remainder(POOL, pts)
    assert h["H1"]["due_fen"] + h["H2"]["due_fen"] == POOL
    assert pay.cases.get_column("payment_fen").sum() == POOL
    assert pay.settlement_point_value == Fraction(POOL, sum(pts))
    # CMI = Σ RW / N: H1 three A and three B cases, H2 three A and two B
    assert (h["H1"]["cmi"], h["H2"]["cmi"]) == (10_000, 9_000)


def test_monthly_pre_settlement_and_annual_clearing() -> None:
    pay = pay_drg(claims(ROWS), fixed_budget("1000000"))
    # budget point value: the history's cost over its points scored by the same rules (history = claims here)
    pv = Fraction(4 * 100_000 + 10_000_000 + 30_000 + 4 * 300_000 + 750_000, sum(POINTS_PU.values()))
    assert pay.budget_point_value == pv
    h1 = pay.monthly.filter(pl.col("fixmedins_code") == "H1").sort("month")
    assert h1.get_column("month").to_list() == [1, 2, 3]
    month_pu = [500_000 + 500_000 + 1_500_000, 49_000_000, 1_500_000 + 2_250_000]
    assert h1.get_column("points_pu").to_list() == month_pu
    pre_due = [half_up_div((p * pv).numerator, (p * pv).denominator) for p in month_pu]
    withheld = [half_up_div(d * 500, 10_000) for d in pre_due]  # 5 % withholding
    assert h1.get_column("pre_due_fen").to_list() == pre_due
    assert h1.get_column("withheld_fen").to_list() == withheld
    row = pay.hospitals.filter(pl.col("fixmedins_code") == "H1").row(0, named=True)
    assert row["pre_paid_fen"] == sum(pre_due) - sum(withheld)
    assert row["balance_fen"] == row["due_fen"] - row["pre_paid_fen"]
    assert row["profit_fen"] == row["due_fen"] - (2 * 100_000 + 10_000_000 + 2 * 300_000 + 750_000)


def test_institution_coefficient_overrides_the_level() -> None:
    pol = fixed_budget(
        "1000000", institution_coefficients=[{"fixmedins_code": "H2", "coefficient": "1.2", "source": "demo"}]
    )
    pay = pay_drg(claims(ROWS), pol)
    assert dict(pay.cases.select("case_id", "points_pu").iter_rows())["b3"] == 1_800_000


def test_a_drg_without_a_weight_is_paid_at_cost_and_flagged() -> None:
    history = claims(ROWS)
    new = claims([*ROWS, ("z1", "H1", "3", "NEW", "Z000", "", 400_000, 4)])
    pay = pay_drg(new, fixed_budget("1000000"), history=history)
    z = pay.cases.filter(pl.col("case_id") == "z1").row(0, named=True)
    assert z["outlier"] == "unmatched" and z["points_pu"] == 2_000_000  # 400,000 / 200,000 × 100 points


def test_budget_from_last_year_with_growth() -> None:
    last = claims(ROWS, year=2024)
    pol = policy(budget={"basis": "last_year_growth", "growth": "0.05", "source": "demo"})
    pay = pay_drg(claims(ROWS), pol, history=last)
    assert pay.pool_fen == half_up_div(12_380_000 * 10_500, 10_000)
    assert pay.hospitals.get_column("due_fen").sum() == pay.pool_fen


def test_fund_due_subtracts_what_patients_paid() -> None:
    df = claims(ROWS).with_columns((pl.col("medfee_sumamt") * 7 // 10).alias("fund_pay_sumamt"))
    pay = pay_drg(df, fixed_budget("1000000"))
    for r in pay.hospitals.iter_rows(named=True):
        assert r["fund_due_fen"] == r["due_fen"] - r["patient_share_fen"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.drop("drg"), "claims.drg"),
        (lambda d: d.with_columns(pl.col("medfee_sumamt").cast(pl.Float64)), "claims.medfee_sumamt"),
        (
            lambda d: d.with_columns(
                pl.when(pl.col("case_id") == "b1")
                .then(-1)
                .otherwise(pl.col("medfee_sumamt"))
                .alias("medfee_sumamt")
            ),
            "claims.medfee_sumamt",
        ),
        (lambda d: d.with_columns(pl.lit("a1").alias("case_id")), "claims.case_id"),
        (lambda d: d.with_columns(pl.lit("9").alias("hosp_lv")), "claims.hosp_lv"),
        (lambda d: d.with_columns(pl.col("discharge_date").dt.offset_by("-1y")), "claims.discharge_date"),
        (lambda d: d.with_columns(pl.lit(None, dtype=pl.String).alias("drg")), "claims.drg"),
    ],
)
def test_bad_claims_name_the_column(change, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClaimsError) as err:
        pay_drg(change(claims(ROWS)), fixed_budget("1000000"))
    assert err.value.field == field


def test_a_policy_without_a_drg_section_is_refused() -> None:
    with pytest.raises(PaymentPolicyError) as err:
        pay_drg(claims(ROWS), fixed_budget("1000000", drg=None))
    assert err.value.field == "drg"


def test_base_rate_is_the_pool_over_weighted_cases() -> None:
    pay = pay_drg(claims(ROWS), fixed_budget("1000000"))
    # 费率 per RW 1.0 = pool / Σ (RW × n × coefficient, outliers adjusted) = pool / (58,799,983 / 1,000,000)
    assert pay.base_rate() == Fraction(POOL * 1_000_000, 58_799_983)
    assert pay.base_rate(8_500) == Fraction(POOL * 1_000_000, 58_799_983) * Fraction(85, 100)


def test_level_coefficients_from_history_are_cost_over_group_means() -> None:
    rows = [
        ("a1", "H1", "3", "A", "K358", "", 120_000),
        ("a2", "H1", "3", "A", "K358", "", 120_000),
        ("a3", "H2", "1", "A", "K358", "", 80_000),
        ("a4", "H2", "1", "A", "K358", "", 80_000),
        ("a5", "H1", "3", "A", "K358", "", 5_000_000),  # trimmed (above Q3 + 1.5 IQR): not counted
        ("b1", "H1", "3", "B", "I209", "", 330_000),
        ("b2", "H1", "3", "B", "I209", "", 330_000),
        ("b3", "H2", "1", "B", "I209", "", 270_000),
        ("b4", "H2", "1", "B", "I209", "", 270_000),
    ]
    pol = fixed_budget("1000000", level_basis={"basis": "history", "source": "demo"})
    w = calibrate_drg_weights(claims(rows), pol)
    # group means of the kept cases: A 1,000 元, B 3,000 元
    # level 3: (2 × 1,200 + 2 × 3,300) / (2 × 1,000 + 2 × 3,000) = 1.125; level 1: 7,000 / 8,000 = 0.875
    # levels 2 and 3S have no history: their listed coefficients stay
    assert w.level_coefficients == {"1": 8_750, "2": 9_500, "3": 11_250, "3S": 10_500}
    pay = pay_drg(claims(rows), pol)
    assert dict(pay.cases.select("case_id", "points_pu").iter_rows())["b3"] == 1_500_000 * 8_750 // 10_000
    assert dict(pay.level_coefficients) == w.level_coefficients


def test_high_outlier_tier_boundaries() -> None:
    # 100 points exactly is in the ≤100 tier (3×), 300 in the 100–300 tier (2×), 300.01 in the open tier (1.5×).
    # The cost ratio rounds half up to 1/10000 first: 2.99994 → 2.9999 is below 3, 2.99995 would not be.
    table = pl.DataFrame(
        {
            "drg": ["X", "Y", "Z"],
            "n_cases": [9, 9, 9],
            "n_kept": [9, 9, 9],
            "mean_fen": [100_000, 300_000, 300_010],
            "rw": [10_000, 30_000, 30_001],
            "base_pu": [1_000_000, 3_000_000, 3_000_100],
        }
    )
    weights = DrgWeights(table, 100_000, {2025: 1}, {"3": 10_000})
    cases = claims(
        [
            ("x-at", "H1", "3", "X", "K358", "", 300_000),
            ("x-below", "H1", "3", "X", "K358", "", 299_994),
            ("y-at", "H1", "3", "Y", "K358", "", 600_000),
            ("y-below", "H1", "3", "Y", "K358", "", 599_970),
            ("z-at", "H1", "3", "Z", "K358", "", 450_015),
        ]
    )
    got = score_drg_cases(cases, weights, fixed_budget("1"))
    assert dict(got.select("case_id", "outlier").iter_rows()) == {
        "x-at": "high",
        "x-below": "normal",
        "y-at": "high",
        "y-below": "normal",
        "z-at": "high",
    }
    # at the threshold the excess is zero: the standard points
    assert dict(got.select("case_id", "points_pu").iter_rows())["z-at"] == 3_000_100
