"""DIP payment (按病种分值付费), after 《国家医疗保障按病种分值付费（DIP）技术规范》.  Pure: frames in, frames out.

1. ``build_dip_catalogue``: from local history, each (principal-diagnosis key × main procedure) combination
   with at least ``core_threshold.cases`` cases in the weighting years is a core group (核心病种); every other
   case falls into a comprehensive group (综合病种) by a shorter diagnosis key and treatment — conservative
   (保守, no procedure), diagnostic (诊断性操作, by code prefix) or surgical (手术/治疗性操作).  Each group's
   mean cost is the 1:2:7 year-weighted mean; RW = m / M (1/10000); score (分值) = RW × points per RW.
2. ``score_dip_cases``: deviation cases against the group's newest-year same-level mean (the reference; the
   group mean where the level has no case): cost < low × ref → score × cost/ref; cost > high × ref → score ×
   (cost/ref − high + 1); cost > review × ref → also flagged for expert review (特例).  Then × level coefficient.
   cost/ref rounds half up to 1/10000; each product rounds half up to 1/10000 point.  A case whose group is
   not in the catalogue is scored at cost / overall mean and flagged ``unmatched``.
3. ``pay_dip``: budget point value from history, settlement point value = pool / Σ points; monthly
   pre-settlement and clearing as for DRG.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from yibao.money import RATIO_ONE, half_up_div
from yibao.payment.core import (
    DIP_COLUMNS,
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
    weighted_means,
    window_years,
)
from yibao.payment.policy import DipPolicy, PaymentPolicy, PaymentPolicyError

TREATMENT_CODE = {"conservative": "C", "diagnostic": "D", "surgical": "S"}


@dataclass(frozen=True)
class DipCatalogue:
    """``table``: group_id, kind (core/comprehensive), pdx_key, procedure, treatment, n_cases, mean_fen, rw,
    score_pu.  ``reference``: group_id, hosp_lv, ref_fen (newest history year, same level)."""

    table: pl.DataFrame
    reference: pl.DataFrame
    core_keys: frozenset[str]
    overall_mean_fen: int
    years: dict[int, int]
    level_coefficients: dict[str, int]


def _dip_policy(policy: PaymentPolicy) -> DipPolicy:
    if policy.dip is None:
        raise PaymentPolicyError("dip", "政策缺少 DIP 部分 the policy has no 'dip' section")
    return policy.dip


def with_keys(frame: pl.DataFrame, dip: DipPolicy) -> pl.DataFrame:
    """Add the diagnosis keys, the main procedure ('' if none), the treatment and the candidate core key."""
    proc = pl.col("main_procedure").fill_null("").str.strip_chars()
    prefixes = dip.diagnostic_procedures.prefixes
    is_diag = pl.lit(False)
    for p in prefixes:
        is_diag = is_diag | pl.col("_proc").str.starts_with(p)
    pdx = pl.col("pdx").str.strip_chars().str.to_uppercase()
    return (
        frame.with_columns(proc.alias("_proc"), pdx.alias("_pdx"))
        .with_columns(
            pl.col("_pdx").str.slice(0, dip.diagnosis_key.core_chars).alias("_core_dx"),
            pl.col("_pdx").str.slice(0, dip.diagnosis_key.comprehensive_chars).alias("_comp_dx"),
            pl.when(pl.col("_proc") == "")
            .then(pl.lit("conservative"))
            .when(is_diag)
            .then(pl.lit("diagnostic"))
            .otherwise(pl.lit("surgical"))
            .alias("treatment"),
        )
        .with_columns(
            pl.concat_str(
                [
                    pl.lit("C."),
                    pl.col("_core_dx"),
                    pl.lit("."),
                    pl.when(pl.col("_proc") == "").then(pl.lit("-")).otherwise(pl.col("_proc")),
                ]
            ).alias("_core_id"),
            pl.concat_str(
                [
                    pl.lit("Z."),
                    pl.col("_comp_dx"),
                    pl.lit("."),
                    pl.col("treatment").replace_strict(TREATMENT_CODE),
                ]
            ).alias("_comp_id"),
        )
    )


def _assign(keyed: pl.DataFrame, core: frozenset[str]) -> pl.DataFrame:
    is_core = pl.col("_core_id").is_in(list(core))
    return keyed.with_columns(
        pl.when(is_core).then(pl.col("_core_id")).otherwise(pl.col("_comp_id")).alias("dip_group"),
        pl.when(is_core).then(pl.lit("core")).otherwise(pl.lit("comprehensive")).alias("dip_kind"),
    )


def build_dip_catalogue(history: pl.DataFrame, policy: PaymentPolicy) -> DipCatalogue:
    """The disease-treatment catalogue (病种目录) with scores from local history (see the module docstring)."""
    dip = _dip_policy(policy)
    history = check_claims(history, DIP_COLUMNS, "history")
    years = window_years(history, dip.year_weights.weights)
    win = with_keys(history.filter(pl.col("discharge_date").dt.year().is_in(list(years))), dip)
    counts = win.group_by("_core_id").len()
    core = frozenset(
        counts.filter(pl.col("len") >= dip.core_threshold.cases).get_column("_core_id").to_list()
    )
    grouped = _assign(win, core)
    big_m = overall_mean(grouped, years)
    means = weighted_means(grouped, ["dip_group"], years)
    meta = grouped.group_by("dip_group").agg(
        pl.col("dip_kind").first().alias("kind"),
        pl.when(pl.col("dip_kind").first() == "core")
        .then(pl.col("_core_dx").first())
        .otherwise(pl.col("_comp_dx").first())
        .alias("pdx_key"),
        pl.when(pl.col("dip_kind").first() == "core")
        .then(pl.col("_proc").first())
        .otherwise(pl.lit(""))
        .alias("procedure"),
        pl.col("treatment").first(),
    )
    ppr = dip.points_per_rw.value
    table = (
        meta.join(means, on="dip_group")
        .with_columns(half_up_div(pl.col("mean_fen") * RATIO_ONE, big_m).alias("rw"))
        .with_columns((pl.col("rw") * ppr).alias("score_pu"))
        .rename({"dip_group": "group_id"})
        .sort("group_id")
    )
    newest = max(years)
    reference = (
        grouped.filter(pl.col("discharge_date").dt.year() == newest)
        .group_by(["dip_group", "hosp_lv"])
        .agg(pl.col("medfee_sumamt").sum().alias("_s"), pl.len().cast(pl.Int64).alias("_n"))
        .with_columns(half_up_div(pl.col("_s"), pl.col("_n")).alias("ref_fen"))
        .select(pl.col("dip_group").alias("group_id"), "hosp_lv", "ref_fen")
        .filter(pl.col("ref_fen") > 0)
    )
    hist = grouped.join(
        table.select(pl.col("group_id").alias("dip_group"), pl.col("mean_fen").alias("group_mean_fen")),
        on="dip_group",
    )
    return DipCatalogue(table, reference, core, big_m, years, level_coefficients(policy, hist))


def score_dip_cases(claims: pl.DataFrame, catalogue: DipCatalogue, policy: PaymentPolicy) -> pl.DataFrame:
    """Add dip_group, dip_kind, rw, score, reference cost, deviation class, review flag and points_pu."""
    dip = _dip_policy(policy)
    keyed = _assign(with_keys(claims, dip), catalogue.core_keys)
    cat = catalogue.table.filter(pl.col("mean_fen") > 0).select(
        pl.col("group_id").alias("dip_group"), "rw", "score_pu", pl.col("mean_fen").alias("group_mean_fen")
    )
    ref = catalogue.reference.rename({"group_id": "dip_group"})
    df = keyed.join(cat, on="dip_group", how="left").join(ref, on=["dip_group", "hosp_lv"], how="left")
    df = df.with_columns(pl.col("rw").is_not_null().alias("_matched"))
    matched = pl.col("_matched")
    ppr = dip.points_per_rw.value
    df = df.with_columns(
        pl.when(matched)
        .then(pl.coalesce("ref_fen", "group_mean_fen"))
        .otherwise(pl.lit(catalogue.overall_mean_fen))
        .alias("ref_fen"),
        pl.col("rw").fill_null(RATIO_ONE),
        pl.col("score_pu").fill_null(RATIO_ONE * ppr),
        coefficient_expr(policy, catalogue.level_coefficients).alias("coefficient"),
    )
    df = df.with_columns(
        half_up_div(pl.col("medfee_sumamt") * RATIO_ONE, pl.col("ref_fen")).alias("cost_ratio")
    )
    r, dev = pl.col("cost_ratio"), dip.deviation
    df = df.with_columns(
        pl.when(~matched)
        .then(pl.lit("unmatched"))
        .when(r < dev.low)
        .then(pl.lit("low"))
        .when(r > dev.high)
        .then(pl.lit("high"))
        .otherwise(pl.lit("normal"))
        .alias("deviation"),
        (matched & (r > dev.review)).alias("review"),
        pl.when(~matched)
        .then(r)
        .when(r < dev.low)
        .then(r)
        .when(r > dev.high)
        .then(r - dev.high + RATIO_ONE)
        .otherwise(pl.lit(RATIO_ONE))
        .alias("adjust"),
    )
    df = df.with_columns(half_up_div(pl.col("score_pu") * pl.col("adjust"), RATIO_ONE).alias("_pu"))
    df = df.with_columns(half_up_div(pl.col("_pu") * pl.col("coefficient"), RATIO_ONE).alias("points_pu"))
    return df.drop([c for c in df.columns if c.startswith("_")])


def pay_dip(claims: pl.DataFrame, policy: PaymentPolicy, history: pl.DataFrame | None = None) -> Payment:
    """The year's DIP payment of ``claims`` (policy year), catalogue built from ``history`` (default: claims).

    Σ hospitals' ``due_fen`` == the pool, exactly.
    """
    claims = check_claims(claims, DIP_COLUMNS)
    only_year(claims, policy.year)
    check_levels(claims, policy)
    history = claims if history is None else check_claims(history, DIP_COLUMNS, "history")
    catalogue = build_dip_catalogue(history, policy)
    scored = score_dip_cases(claims, catalogue, policy)
    if scored.height == 0:
        raise ClaimsError("claims", "没有可支付的病例 no case to pay")
    check_levels(history, policy, "history")
    hist = score_dip_cases(history, catalogue, policy)
    pv_budget = budget_point_value(hist, catalogue.years)
    pool = pool_for(policy.budget, history, policy.year)
    return settle_points(
        "dip",
        policy.year,
        scored,
        pool,
        pv_budget,
        policy.pre_settlement.withholding,
        catalogue.table,
        _dip_policy(policy).points_per_rw.value,
        catalogue.level_coefficients,
    )
