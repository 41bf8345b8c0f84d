"""DRG payment by the point method (点数法), after the CHS-DRG technical specification (医保办发〔2019〕36号) and local 点数法 rules.  Pure: frames in, frames out.

1. ``calibrate_drg_weights``: per DRG, trim outliers (policy ``drg.calibration``), take the year-weighted mean
   cost; RW = group mean / overall mean (1/10000); base points = RW × points per RW.
2. ``score_drg_cases``: each case's standard is the group at the hospital's coefficient (institution, else
   level): standard points = base × coefficient, standard cost = group mean × coefficient.  With r = cost /
   standard cost: a high outlier (r ≥ the tier's multiple, tier by base points) gets standard × (1 + share ×
   (r − multiple)); a low outlier (r ≤ the low multiple) gets standard × r, i.e. its actual cost; others the
   standard.  Every product and r round half up to 1/10000 (point or ratio).  A DRG without a weight is
   paid at cost against the overall mean and flagged ``unmatched``.
3. ``pay_drg``: the pool (budget) split by points; monthly pre-settlement at the budget point value; clearing.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from yibao.money import RATIO_ONE, half_up_div
from yibao.payment.core import (
    DRG_COLUMNS,
    ClaimsError,
    Payment,
    budget_point_value,
    check_claims,
    check_levels,
    coefficient_expr,
    level_coefficients,
    only_year,
    overall_mean,
    pool_for,
    settle_points,
    trim_mask,
    weighted_means,
    window_years,
)
from yibao.payment.policy import DrgPolicy, PaymentPolicy, PaymentPolicyError


@dataclass(frozen=True)
class DrgWeights:
    """Calibrated relative weights: ``table`` has drg, n_cases, n_kept, mean_fen, rw, base_pu."""

    table: pl.DataFrame
    overall_mean_fen: int
    years: dict[int, int]
    level_coefficients: dict[str, int]


def _drg_policy(policy: PaymentPolicy) -> DrgPolicy:
    if policy.drg is None:
        raise PaymentPolicyError("drg", "政策缺少 DRG 部分 the policy has no 'drg' section")
    return policy.drg


def calibrate_drg_weights(history: pl.DataFrame, policy: PaymentPolicy) -> DrgWeights:
    """Relative weights from a region's history claims with outliers trimmed (see the module docstring)."""
    drg = _drg_policy(policy)
    history = check_claims(history, DRG_COLUMNS, "history")
    years = window_years(history, drg.year_weights.weights if drg.year_weights else [1])
    in_window = history.filter(pl.col("discharge_date").dt.year().is_in(list(years)))
    keep = trim_mask(in_window, ["drg"], drg.calibration)
    kept = in_window.filter(keep)
    big_m = overall_mean(kept, years)
    means = weighted_means(kept, ["drg"], years).rename({"n_cases": "n_kept"})
    counts = in_window.group_by("drg").agg(pl.len().cast(pl.Int64).alias("n_cases"))
    table = (
        counts.join(means, on="drg", how="left")
        .with_columns(pl.col("n_kept").fill_null(0), pl.col("mean_fen").fill_null(0))
        .with_columns(half_up_div(pl.col("mean_fen") * RATIO_ONE, big_m).alias("rw"))
        .with_columns((pl.col("rw") * drg.points_per_rw.value).alias("base_pu"))
        .sort("drg")
    )
    # level coefficients from the calibration cases, so that the trimmed outliers are not counted twice
    hist = kept.join(table.select("drg", pl.col("mean_fen").alias("group_mean_fen")), on="drg")
    return DrgWeights(table, big_m, years, level_coefficients(policy, hist))


def _tier_multiple(drg: DrgPolicy) -> pl.Expr:
    tiers = drg.high_outlier.tiers
    expr: pl.Expr = pl.lit(tiers[-1].multiple, dtype=pl.Int64)
    for t in reversed(tiers[:-1]):
        assert t.max_points is not None
        expr = (
            pl.when(pl.col("base_pu") <= t.max_points)
            .then(pl.lit(t.multiple, dtype=pl.Int64))
            .otherwise(expr)
        )
    return expr


def score_drg_cases(claims: pl.DataFrame, weights: DrgWeights, policy: PaymentPolicy) -> pl.DataFrame:
    """Add rw, base_pu, group mean, cost ratio, outlier class, coefficient and points_pu to each case."""
    drg = _drg_policy(policy)
    ppr = drg.points_per_rw.value
    w = weights.table.filter(pl.col("mean_fen") > 0).select(
        "drg", "rw", "base_pu", pl.col("mean_fen").alias("drg_mean_fen")
    )
    df = claims.join(w, on="drg", how="left")
    df = df.with_columns(pl.col("rw").is_not_null().alias("_matched"))
    matched = pl.col("_matched")
    big_m = weights.overall_mean_fen
    df = df.with_columns(
        pl.col("drg_mean_fen").fill_null(big_m),
        pl.col("rw").fill_null(RATIO_ONE),
        pl.col("base_pu").fill_null(RATIO_ONE * ppr),
        coefficient_expr(policy, weights.level_coefficients).alias("coefficient"),
    )
    # the case's standard: points and cost of the group at this hospital's coefficient; outliers are judged
    # against the standard cost, so a low outlier is paid at its actual cost whatever the level
    df = df.with_columns(
        half_up_div(pl.col("base_pu") * pl.col("coefficient"), RATIO_ONE).alias("standard_pu"),
        half_up_div(pl.col("drg_mean_fen") * pl.col("coefficient"), RATIO_ONE).alias("standard_fen"),
    )
    df = df.with_columns(
        half_up_div(pl.col("medfee_sumamt") * RATIO_ONE, pl.col("standard_fen")).alias("cost_ratio")
    )
    high = _tier_multiple(drg)
    share = drg.high_outlier.excess_share
    low = drg.low_outlier.multiple
    r = pl.col("cost_ratio")
    df = df.with_columns(
        pl.when(~matched)
        .then(pl.lit("unmatched"))
        .when(r >= high)
        .then(pl.lit("high"))
        .when(r <= low)
        .then(pl.lit("low"))
        .otherwise(pl.lit("normal"))
        .alias("outlier"),
        pl.when(~matched)
        .then(r)
        .when(r >= high)
        .then(RATIO_ONE + half_up_div((r - high) * share, RATIO_ONE))
        .when(r <= low)
        .then(r)
        .otherwise(pl.lit(RATIO_ONE))
        .alias("adjust"),
    )
    # unmatched cases are priced at cost against RW 1 (the overall mean), so rw stays 1 for CMI
    return df.with_columns(
        half_up_div(pl.col("standard_pu") * pl.col("adjust"), RATIO_ONE).alias("points_pu")
    ).drop("_matched")


def pay_drg(claims: pl.DataFrame, policy: PaymentPolicy, history: pl.DataFrame | None = None) -> Payment:
    """The year's DRG payment of ``claims`` (policy year), weights calibrated on ``history`` (default: claims).

    Σ hospitals' ``due_fen`` == the pool, exactly.  See the module docstring for every rounding.
    """
    claims = check_claims(claims, DRG_COLUMNS)
    only_year(claims, policy.year)
    check_levels(claims, policy)
    history = claims if history is None else check_claims(history, DRG_COLUMNS, "history")
    weights = calibrate_drg_weights(history, policy)
    scored = score_drg_cases(claims, weights, policy)
    if scored.height == 0:
        raise ClaimsError("claims", "没有可支付的病例 no case to pay")
    check_levels(history, policy, "history")
    pv_budget = budget_point_value(score_drg_cases(history, weights, policy), weights.years)
    pool = pool_for(policy.budget, history, policy.year)
    drg = _drg_policy(policy)
    return settle_points(
        "drg",
        policy.year,
        scored,
        pool,
        pv_budget,
        policy.pre_settlement.withholding,
        weights.table,
        drg.points_per_rw.value,
        weights.level_coefficients,
    )
