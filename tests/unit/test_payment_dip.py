"""DIP payment on a hand-worked region: catalogue, 1:2:7 scores, deviation cases, budget split."""

from __future__ import annotations

from fractions import Fraction

import polars as pl
import pytest
from test_payment_support import claims, fixed_budget

from yibao.payment import ClaimsError, build_dip_catalogue, pay_dip

# history, all at level 3: one core combination (K358 × 4701, one case a year) and three one-off cases
HISTORY = pl.concat(
    [
        claims([("h22", "H1", "3", "-", "K358", "4701", 100_000)], year=2022),
        claims([("h23", "H1", "3", "-", "K358", "4701", 200_000)], year=2023),
        claims(
            [
                ("h24", "H1", "3", "-", "K358", "4701", 300_000),
                ("c24", "H1", "3", "-", "K359", None, 400_000),
                ("d24", "H2", "3", "-", "K352", "8872", 100_000),
                ("s24", "H2", "3", "-", "K351", "4702", 200_000),
            ],
            year=2024,
        ),
    ]
)
CURRENT = claims(
    [
        ("n1", "H1", "3", "-", "K358", "4701", 300_000),
        ("lo", "H1", "3", "-", "K358", "4701", 120_000),
        ("hi", "H1", "3", "-", "K358", "4701", 900_000),
        ("rv", "H2", "3", "-", "K358", "4701", 1_800_000),
        ("l2", "H3", "2", "-", "K358", "4701", 260_000),
        ("cz", "H2", "3", "-", "K359", "", 400_000),
        ("new", "H3", "2", "-", "J189", "", 450_000),
    ]
)


def pol(amount: str = "1000000", **changes: object):  # type: ignore[no-untyped-def]
    return fixed_budget(amount, **{"dip.core_threshold.cases": 3, **changes})


def test_catalogue_core_and_comprehensive_groups_with_weighted_scores() -> None:
    cat = build_dip_catalogue(HISTORY, pol())
    # overall mean: year means 1,000 / 2,000 / 2,500 元 weighted 1:2:7 → 2,250 元
    assert cat.overall_mean_fen == 225_000
    t = {r["group_id"]: r for r in cat.table.iter_rows(named=True)}
    assert set(t) == {"C.K358.4701", "Z.K35.C", "Z.K35.D", "Z.K35.S"}
    core = t["C.K358.4701"]
    # 1:2:7 over 1,000 / 2,000 / 3,000 元 → 2,600 元; RW 2,600 / 2,250 = 1.15556 → 1.1556; × 100 points
    assert (
        core["kind"],
        core["treatment"],
        core["n_cases"],
        core["mean_fen"],
        core["rw"],
        core["score_pu"],
    ) == ("core", "surgical", 3, 260_000, 11_556, 1_155_600)
    assert (t["Z.K35.C"]["treatment"], t["Z.K35.C"]["rw"]) == ("conservative", 17_778)
    assert (t["Z.K35.D"]["treatment"], t["Z.K35.D"]["rw"]) == ("diagnostic", 4_444)  # 88xx is diagnostic
    assert (t["Z.K35.S"]["kind"], t["Z.K35.S"]["rw"]) == ("comprehensive", 8_889)


def test_a_combination_below_the_threshold_is_not_core() -> None:
    cat = build_dip_catalogue(HISTORY, pol(**{"dip.core_threshold.cases": 4}))
    assert "C.K358.4701" not in set(cat.table.get_column("group_id"))
    assert "Z.K35.S" in set(cat.table.get_column("group_id"))


def test_deviation_cases_and_level_coefficients() -> None:
    pay = pay_dip(CURRENT, pol(), history=HISTORY)
    got = {r["case_id"]: r for r in pay.cases.iter_rows(named=True)}
    expect = {  # case: (deviation, review, points_pu)
        "n1": ("normal", False, 1_155_600),
        "lo": ("low", False, 462_240),  # 1,200 / 3,000 (same-level 2024 mean) = 0.4 → score × 0.4
        "hi": ("high", False, 2_311_200),  # 3 × → score × (3 − 2 + 1)
        "rv": ("high", True, 5_778_000),  # 6 × → score × 5, and flagged for review
        "l2": ("normal", False, 1_097_820),  # no level-2 history: group mean 2,600 元; × 0.95
        "cz": ("normal", False, 1_777_800),
        "new": ("unmatched", False, 1_900_000),  # 4,500 / 2,250 × 100 points × 0.95
    }
    assert {k: (v["deviation"], v["review"], v["points_pu"]) for k, v in got.items()} == expect
    assert got["lo"]["ref_fen"] == 300_000 and got["l2"]["ref_fen"] == 260_000


def test_payments_add_up_to_the_pool_and_the_ratio_basis() -> None:
    p = pol(
        "700000",
        budget={"basis": "amount", "amount": "700000", "reimbursement_ratio": "0.7", "source": "demo"},
    )
    pay = pay_dip(CURRENT, p, history=HISTORY)
    assert pay.pool_fen == 100_000_000  # 700,000 元 fund / 0.7
    assert pay.hospitals.get_column("due_fen").sum() == pay.pool_fen
    assert pay.cases.get_column("payment_fen").sum() == pay.pool_fen
    per_h = pay.cases.group_by("fixmedins_code").agg(pl.col("payment_fen").sum()).sort("fixmedins_code")
    assert per_h.get_column("payment_fen").to_list() == pay.hospitals.get_column("due_fen").to_list()


def test_budget_point_value_is_weighted_cost_over_weighted_scored_points() -> None:
    pay = pay_dip(CURRENT, pol(), history=HISTORY)
    cost = 1 * 100_000 + 2 * 200_000 + 7 * (300_000 + 400_000 + 100_000 + 200_000)
    # the history scored by the same rules: the 2022 case (1,000 元 against the 2024 level-3 mean of 3,000)
    # is a low case, 0.3333 × 1,155,600 = 385,161.48 → 385,161; every other history case is normal
    pts = 1 * 385_161 + 2 * 1_155_600 + 7 * (1_155_600 + 1_777_800 + 444_400 + 888_900)
    assert pay.budget_point_value == Fraction(cost, pts)


def test_missing_pdx_is_refused() -> None:
    with pytest.raises(ClaimsError) as err:
        pay_dip(CURRENT.drop("pdx"), pol(), history=HISTORY)
    assert err.value.field == "claims.pdx"
