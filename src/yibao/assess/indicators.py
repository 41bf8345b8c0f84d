"""The assessment's indicators per institution, computed from frames (pure; no database).

Each indicator is a value in 1/10000 (a ratio, or a multiple of the same-level mean) or null when its input
is not available — never a guess.  Inputs (all optional except the institutions):

* ``settled`` — one row per settlement: psn_no, fixmedins_code, med_type, begin_date, end_date, diagnosis,
  medfee_sumamt, fulamt_ownpay_amt, fund_pay_sumamt;
* ``previous`` — the same for the year before (for cost growth);
* ``lines`` — settlement lines with fixmedins_code, code, amount, fulamt_ownpay_amt, and ``kinds``: catalogue
  code → drug / material / service;
* ``drg_cases`` — the year's DRG payment cases: fixmedins_code, drg, rw (1/10000), medfee_sumamt, los_days,
  outlier (high / low / normal / unmatched);
* ``audit`` — per institution: flagged_fen, decided_flagged_fen, upheld_fen;
* ``ratings`` (fixmedins_code, stars) and ``survey`` (fixmedins_code, respondents, satisfied);
* ``reconciliations`` — the national reconciliation answers of the year (:data:`RECONCILIATION_SCHEMA`:
  one row per 3201 / 3202 answer, handed in by a use case) for the reconciliation break rate;
* ``inputs`` — explicit values (fixmedins_code + indicator columns, 1/10000) for what no capability
  supplies yet (data quality, imaging); an explicit value wins over a computed one (the reconciliation
  break rate included: ``recon_given`` says so).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from yibao.assess.params import AssessParams
from yibao.assess.samples import SAMPLES

INSTITUTION_SCHEMA: dict[str, type[pl.DataType]] = {
    "fixmedins_code": pl.String,
    "level": pl.String,
    "kind": pl.String,
}


RECONCILIATION_SCHEMA: dict[str, type[pl.DataType]] = {
    "fixmedins_code": pl.String,
    "infno": pl.String,  # 3201 / 3202
    "begndate": pl.String,
    "enddate": pl.String,
    "insutype": pl.String,
    "clr_type": pl.String,
    "at": pl.String,  # when it was answered (orders a period's answers)
    "agreed": pl.Boolean,
    "rows_checked": pl.Int64,  # 3202: settlements compared
    "unmatched": pl.Int64,  # 3202: settlements that did not match
}


def ratio_expr(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den in 1/10000, half up (the same rule as ``yibao.money.div_half_up`` for non-negative
    numerators); null when den is 0 or null."""
    n = num.cast(pl.Int64) * 10_000
    d = den.cast(pl.Int64)
    return pl.when(d > 0).then((n * 2 + d) // (d * 2)).otherwise(None)


def _peers(inst: pl.DataFrame) -> pl.DataFrame:
    """fixmedins_code → peer group: institutions of the same kind and level are compared."""
    kind = pl.col("kind") if "kind" in inst.columns else pl.lit("")
    return inst.select("fixmedins_code", (kind + pl.lit(":") + pl.col("level")).alias("peer"))


def _rel(df: pl.DataFrame, value: str, out: str) -> pl.DataFrame:
    """``value`` as a multiple of the mean of its peers (same kind and level), 1/10000."""
    mean = pl.col(value).mean().over("peer")
    rel = (pl.col(value) * 10_000 / mean).fill_nan(None).round(0).cast(pl.Int64, strict=False)
    return df.with_columns(pl.when(mean > 0).then(rel).otherwise(None).alias(out))


def from_settlements(settled: pl.DataFrame, inst: pl.DataFrame, p: AssessParams) -> pl.DataFrame:
    """Cost per visit and per admission (as multiples of the level mean), self-pay share, admissions per
    100 outpatient visits and visits per person (multiples of the level mean), 15-day readmission."""
    op, ip = p.care.outpatient, p.care.inpatient
    s = settled.join(_peers(inst), on="fixmedins_code", how="inner")
    g = s.group_by("fixmedins_code", "peer").agg(
        (pl.col("med_type").is_in(op)).sum().cast(pl.Int64).alias("op_n"),
        pl.col("medfee_sumamt").filter(pl.col("med_type").is_in(op)).sum().alias("op_fee"),
        (pl.col("med_type").is_in(ip)).sum().cast(pl.Int64).alias("ip_n"),
        pl.col("medfee_sumamt").filter(pl.col("med_type").is_in(ip)).sum().alias("ip_fee"),
        pl.col("medfee_sumamt").sum().alias("fee"),
        pl.col("fulamt_ownpay_amt").sum().alias("own"),
        pl.col("fund_pay_sumamt").sum().alias("fund_fen"),
        pl.len().cast(pl.Int64).alias("visits"),
        pl.col("psn_no").n_unique().cast(pl.Int64).alias("persons"),
    )
    g = g.with_columns(
        pl.when(pl.col("op_n") > 0).then(pl.col("op_fee") / pl.col("op_n")).otherwise(None).alias("_cpv"),
        pl.when(pl.col("ip_n") > 0).then(pl.col("ip_fee") / pl.col("ip_n")).otherwise(None).alias("_cpa"),
        pl.when(pl.col("op_n") > 0)
        .then(pl.col("ip_n") * 100 / pl.col("op_n"))
        .otherwise(None)
        .alias("_adm100"),
        (pl.col("visits") / pl.col("persons")).alias("_vpp"),
        ratio_expr(pl.col("own"), pl.col("fee")).alias("self_pay_share"),
    )
    g = _rel(g, "_cpv", "cost_per_visit_rel")
    g = _rel(g, "_cpa", "cost_per_admission_rel")
    g = _rel(g, "_adm100", "admissions_per_outpatient_rel")
    g = _rel(g, "_vpp", "visits_per_person_rel")
    # readmission within N days to the same institution for the same disease (first 3 ICD characters)
    days = p.appeal.readmission_days
    stays = (
        s.filter(pl.col("med_type").is_in(ip))
        .select(
            "psn_no",
            "fixmedins_code",
            "begin_date",
            "end_date",
            pl.col("diagnosis").str.slice(0, 3).alias("dx"),
        )
        .sort("psn_no", "fixmedins_code", "begin_date")
        .with_columns(
            pl.col("end_date").shift(1).over("psn_no", "fixmedins_code").alias("_prev_end"),
            pl.col("dx").shift(1).over("psn_no", "fixmedins_code").alias("_prev_dx"),
        )
        .with_columns(
            (
                pl.col("_prev_end").is_not_null()
                & ((pl.col("begin_date") - pl.col("_prev_end")).dt.total_days() <= days)
                & ((pl.col("dx") == pl.col("_prev_dx")) | (pl.col("dx") == "") | (pl.col("_prev_dx") == ""))
            ).alias("_re")
        )
    )
    re = stays.group_by("fixmedins_code").agg(
        pl.col("_re").sum().cast(pl.Int64).alias("_re_n"), pl.len().alias("_adm")
    )
    g = g.join(re, on="fixmedins_code", how="left").with_columns(
        ratio_expr(pl.col("_re_n"), pl.col("_adm")).alias("readmission_15")
    )
    return g.select(
        "fixmedins_code",
        "fund_fen",
        "op_n",
        "ip_n",
        "cost_per_visit_rel",
        "cost_per_admission_rel",
        "self_pay_share",
        "admissions_per_outpatient_rel",
        "visits_per_person_rel",
        "readmission_15",
    )


def growth(current: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Growth of the institution's cost per visit (all care) over the previous year, 1/10000."""

    def per(df: pl.DataFrame) -> pl.DataFrame:
        return df.group_by("fixmedins_code").agg((pl.col("medfee_sumamt").sum() / pl.len()).alias("_c"))

    j = per(current).join(per(previous).rename({"_c": "_p"}), on="fixmedins_code", how="inner")
    return j.select(
        "fixmedins_code",
        pl.when(pl.col("_p") > 0)
        .then(((pl.col("_c") / pl.col("_p") - 1) * 10_000).round(0).cast(pl.Int64))
        .alias("cost_growth"),
    )


def from_lines(lines: pl.DataFrame, kinds: Mapping[str, str]) -> pl.DataFrame:
    """Drug share, consumable share (of all line amounts) and the in-catalogue share of drug cost."""
    k = lines.with_columns(pl.col("code").replace_strict(dict(kinds), default="other").alias("_kind"))
    g = k.group_by("fixmedins_code").agg(
        pl.col("amount").sum().alias("_all"),
        pl.col("amount").filter(pl.col("_kind") == "drug").sum().alias("_drug"),
        pl.col("amount").filter(pl.col("_kind") == "material").sum().alias("_mat"),
        (pl.col("amount") - pl.col("fulamt_ownpay_amt"))
        .filter(pl.col("_kind") == "drug")
        .sum()
        .alias("_drug_in"),
    )
    return g.select(
        "fixmedins_code",
        ratio_expr(pl.col("_drug"), pl.col("_all")).alias("drug_share"),
        ratio_expr(pl.col("_mat"), pl.col("_all")).alias("consumable_share"),
        ratio_expr(pl.col("_drug_in"), pl.col("_drug")).alias("catalogue_drug_share"),
    )


def from_drg(cases: pl.DataFrame, inst: pl.DataFrame) -> pl.DataFrame:
    """CMI, cost and time indices, outlier share and DRG groups covered (CHS-DRG definitions)."""
    c = cases.filter(pl.col("drg").is_not_null() & (pl.col("drg") != "")).join(
        _peers(inst), on="fixmedins_code", how="inner"
    )
    reg = c.group_by("drg").agg(
        pl.col("medfee_sumamt").mean().alias("_rc"), pl.col("los_days").mean().alias("_rl")
    )
    per = (
        c.group_by("fixmedins_code", "drg")
        .agg(
            pl.len().alias("_n"),
            pl.col("medfee_sumamt").mean().alias("_hc"),
            pl.col("los_days").mean().alias("_hl"),
        )
        .join(reg, on="drg")
        .group_by("fixmedins_code")
        .agg(
            ((pl.col("_n") * pl.col("_hc") / pl.col("_rc")).sum() / pl.col("_n").sum()).alias("_ci"),
            (
                (pl.col("_n") * pl.col("_hl") / pl.col("_rl")).filter(pl.col("_rl") > 0).sum()
                / pl.col("_n").filter(pl.col("_rl") > 0).sum()
            ).alias("_ti"),
            pl.col("drg").n_unique().alias("_groups"),
        )
    )
    g = c.group_by("fixmedins_code", "peer").agg(
        pl.col("rw").mean().alias("_cmi"),
        ratio_expr(pl.col("outlier").is_in(["high", "low"]).sum(), pl.len()).alias("outlier_share"),
    )
    g = g.join(per, on="fixmedins_code", how="left").with_columns(
        (pl.col("_ci") * 10_000).fill_nan(None).round(0).cast(pl.Int64, strict=False).alias("cost_index"),
        (pl.col("_ti") * 10_000).fill_nan(None).round(0).cast(pl.Int64, strict=False).alias("time_index"),
    )
    g = _rel(g, "_cmi", "cmi_rel")
    g = _rel(g, "_groups", "groups_covered_rel")
    return g.select(
        "fixmedins_code", "cmi_rel", "cost_index", "time_index", "outlier_share", "groups_covered_rel"
    )


def reconciliation_break_rate(recons: pl.DataFrame, p: AssessParams) -> pl.DataFrame:
    """Per institution: the reconciliation break rate (对账不平率, 1/10000) — reconciliation periods
    (险种 × 清算类别 × start and end date) of the ``counted`` transactions whose ``period_outcome`` answer (first
    or last by time) did not agree, over all such periods — with ``recon_periods`` and ``recon_breaks``
    behind it, and the 3202 detail beside it: settlements compared (``recon_detail_rows``) and those in
    breaks (``recon_detail_unmatched``)."""
    r = p.reconciliation
    key = ["fixmedins_code", "insutype", "clr_type", "begndate", "enddate"]
    pick = pl.col("agreed").first() if r.period_outcome == "first" else pl.col("agreed").last()
    periods = (
        recons.filter(pl.col("infno").is_in(r.counted))
        .sort("at")
        .group_by(key, maintain_order=True)
        .agg(pick.alias("_agreed"))
    )
    rate = periods.group_by("fixmedins_code").agg(
        pl.len().cast(pl.Int64).alias("recon_periods"),
        (~pl.col("_agreed")).sum().cast(pl.Int64).alias("recon_breaks"),
    )
    rate = rate.with_columns(
        ratio_expr(pl.col("recon_breaks"), pl.col("recon_periods")).alias("reconciliation_break_rate")
    )
    detail = (
        recons.filter(pl.col("infno") == "3202")
        .group_by("fixmedins_code")
        .agg(
            pl.col("rows_checked").sum().cast(pl.Int64).alias("recon_detail_rows"),
            pl.col("unmatched").sum().cast(pl.Int64).alias("recon_detail_unmatched"),
        )
    )
    return (
        rate.join(detail, on="fixmedins_code", how="full", coalesce=True)
        .select(
            "fixmedins_code",
            "reconciliation_break_rate",
            "recon_periods",
            "recon_breaks",
            "recon_detail_rows",
            "recon_detail_unmatched",
        )
        .sort("fixmedins_code")
    )


def satisfaction(ratings: pl.DataFrame | None, survey: pl.DataFrame | None, p: AssessParams) -> pl.DataFrame:
    """Satisfaction per institution: the third-party survey and the portal's ratings (a rating of
    ``satisfied_stars`` or more counts as satisfied), weighted ``survey_weight`` : 1 − that when both are
    there; ratings alone only with at least ``min_ratings`` of them."""
    s = p.satisfaction
    frames = []
    if ratings is not None and ratings.height:
        frames.append(
            ratings.group_by("fixmedins_code").agg(
                pl.len().cast(pl.Int64).alias("ratings_n"),
                (pl.col("stars") >= s.satisfied_stars).sum().cast(pl.Int64).alias("ratings_satisfied"),
            )
        )
    if survey is not None and survey.height:
        frames.append(
            survey.group_by("fixmedins_code").agg(
                pl.col("respondents").sum().cast(pl.Int64).alias("survey_n"),
                pl.col("satisfied").sum().cast(pl.Int64).alias("survey_satisfied"),
            )
        )
    if not frames:
        return pl.DataFrame(schema={"fixmedins_code": pl.String, "satisfaction": pl.Int64})
    df = frames[0]
    for f in frames[1:]:
        df = df.join(f, on="fixmedins_code", how="full", coalesce=True)
    for col in ("ratings_n", "ratings_satisfied", "survey_n", "survey_satisfied"):
        if col not in df.columns:
            df = df.with_columns(pl.lit(0, dtype=pl.Int64).alias(col))
    df = df.with_columns(
        pl.col(c).fill_null(0) for c in ("ratings_n", "ratings_satisfied", "survey_n", "survey_satisfied")
    )
    r_rate = ratio_expr(pl.col("ratings_satisfied"), pl.col("ratings_n"))
    s_rate = ratio_expr(pl.col("survey_satisfied"), pl.col("survey_n"))
    enough = pl.col("ratings_n") >= s.min_ratings
    w = s.survey_weight
    both = ((s_rate * w + r_rate * (10_000 - w)) * 2 + 10_000) // 20_000
    value = (
        pl.when((pl.col("survey_n") > 0) & enough)
        .then(both)
        .when(pl.col("survey_n") > 0)
        .then(s_rate)
        .when(enough)
        .then(r_rate)
        .otherwise(None)
    )
    return df.with_columns(
        r_rate.alias("ratings_rate"), s_rate.alias("survey_rate"), value.cast(pl.Int64).alias("satisfaction")
    )


def assemble(
    inst: pl.DataFrame,
    p: AssessParams,
    *,
    settled: pl.DataFrame | None = None,
    previous: pl.DataFrame | None = None,
    lines: pl.DataFrame | None = None,
    kinds: Mapping[str, str] | None = None,
    drg_cases: pl.DataFrame | None = None,
    audit: pl.DataFrame | None = None,
    ratings: pl.DataFrame | None = None,
    survey: pl.DataFrame | None = None,
    uploads: pl.DataFrame | None = None,
    reconciliations: pl.DataFrame | None = None,
    inputs: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per assessed institution (of the assessed kinds) with every indicator column (Int64, null
    = not available) and the satisfaction samples behind it."""
    base = inst.filter(pl.col("kind").is_in(p.kinds)) if "kind" in inst.columns else inst
    out = base.select("fixmedins_code", "level")
    if settled is not None and settled.height:
        out = out.join(from_settlements(settled, base, p), on="fixmedins_code", how="left")
        if previous is not None and previous.height:
            out = out.join(growth(settled, previous), on="fixmedins_code", how="left")
    if lines is not None and lines.height and kinds is not None:
        out = out.join(from_lines(lines, kinds), on="fixmedins_code", how="left")
    if drg_cases is not None and drg_cases.height:
        out = out.join(from_drg(drg_cases, base), on="fixmedins_code", how="left")
    if audit is not None and audit.height:
        a = audit.group_by("fixmedins_code").agg(
            pl.col("flagged_fen").sum(), pl.col("decided_flagged_fen").sum(), pl.col("upheld_fen").sum()
        )
        out = out.join(a, on="fixmedins_code", how="left")
        if "fund_fen" in out.columns:
            out = out.with_columns(
                pl.when(pl.col("fund_fen") > 0)
                .then(ratio_expr(pl.col("flagged_fen").fill_null(0), pl.col("fund_fen")))
                .alias("flagged_rate")
            )
        out = out.with_columns(
            ratio_expr(pl.col("upheld_fen"), pl.col("decided_flagged_fen")).alias("upheld_share")
        )
    if uploads is not None and uploads.height:
        up = uploads.select(
            "fixmedins_code", ratio_expr(pl.col("on_time"), pl.col("lines")).alias("upload_timeliness")
        )
        out = out.join(up, on="fixmedins_code", how="left")
    if reconciliations is not None and reconciliations.height:
        out = out.join(reconciliation_break_rate(reconciliations, p), on="fixmedins_code", how="left")
    sat = satisfaction(ratings, survey, p)
    out = out.join(sat, on="fixmedins_code", how="left")
    out = out.with_columns(pl.lit(None, dtype=pl.Int64).alias("recon_given"))
    if inputs is not None and inputs.height:
        given = [c for c in inputs.columns if c in p.indicators]
        ins = inputs.select("fixmedins_code", *[pl.col(c).cast(pl.Int64).alias(f"_in_{c}") for c in given])
        out = out.join(ins, on="fixmedins_code", how="left")
        if "reconciliation_break_rate" in given:  # the explicit value wins; the explanation says it was given
            out = out.with_columns(
                pl.when(pl.col("_in_reconciliation_break_rate").is_not_null())
                .then(pl.lit(1, dtype=pl.Int64))
                .alias("recon_given")
            )
        for c in given:
            out = out.with_columns(
                (
                    pl.coalesce(pl.col(f"_in_{c}"), pl.col(c)) if c in out.columns else pl.col(f"_in_{c}")
                ).alias(c)
            ).drop(f"_in_{c}")
    for k in p.indicators:
        if k not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Int64).alias(k))
        else:
            out = out.with_columns(pl.col(k).cast(pl.Int64))
    for c in SAMPLES:
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Int64).alias(c))
    return out.sort("fixmedins_code")
