"""Shared, pure pieces of DRG and DIP payment: input checks, calibration means, the budget and the split.

Units and roundings (all integers; every division rounds **half up** unless said otherwise):

* money: ``int`` fen; ratios, coefficients, multiples and relative weights (RW): 1/10000;
* points: ``points_pu`` in 1/10000 of a point (a case with RW 1.2345 at 100 points per RW has
  ``base_pu = 12345 × 100 = 1_234_500`` = 123.45 points), so base points are exact;
* a group's mean cost rounds to the fen, RW = mean / overall mean rounds to 1/10000;
* the year's pool is split across hospitals in proportion to their points by the largest-remainder
  method (``yibao.money.split_largest_remainder``), so Σ hospital payments == pool to the fen; each
  hospital's amount is split across its cases the same way;
* the point value itself is an exact ``Fraction`` (fen per 1/10000 point); only amounts are rounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import polars as pl

from yibao.errors import FieldError
from yibao.money import RATIO_ONE, half_up_div, split_largest_remainder
from yibao.payment.policy import Budget, PaymentPolicy, Trim
from yibao.policy import diagnoses as dx

PU_PER_POINT = RATIO_ONE  # points are held in 1/10000 of a point


class ClaimsError(FieldError):
    """A claims frame that cannot be paid; ``field`` names the column (or the case) and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason, "claims")


# column → polars dtypes accepted; casts to the first
Columns = dict[str, tuple[type[pl.DataType], ...]]
BASE_COLUMNS: Columns = {
    "case_id": (pl.String, pl.Int64, pl.Int32),
    "fixmedins_code": (pl.String,),
    "hosp_lv": (pl.String,),
    "medfee_sumamt": (pl.Int64, pl.Int32, pl.Int16, pl.UInt32),
    "discharge_date": (pl.Date,),
}
DRG_COLUMNS: Columns = {**BASE_COLUMNS, "drg": (pl.String,)}
DIP_COLUMNS: Columns = {**BASE_COLUMNS, "pdx": (pl.String,), "main_procedure": (pl.String,)}


def check_claims(
    frame: pl.DataFrame, columns: Mapping[str, tuple[type[pl.DataType], ...]], name: str = "claims"
) -> pl.DataFrame:
    """Check required columns, types, nulls, negative costs and duplicate case ids; return a normalised frame.

    ``case_id`` becomes a string, money columns Int64.  Extra columns are kept.  Nothing is modified in place.
    """
    for col, types in columns.items():
        if col not in frame.columns:
            raise ClaimsError(f"{name}.{col}", "缺少必填列 required column is missing")
        dtype = frame.schema[col]
        if not any(dtype == t for t in types):
            raise ClaimsError(f"{name}.{col}", f"列类型错误 has type {dtype}, expected {types[0].__name__}")
    casts = [pl.col("case_id").cast(pl.String), pl.col("medfee_sumamt").cast(pl.Int64)]
    out = frame.with_columns(casts)
    nullable = {"main_procedure"}
    for col in columns:
        if col in nullable:
            continue
        nulls = out.get_column(col).null_count()
        if nulls:
            raise ClaimsError(f"{name}.{col}", f"存在空值 {nulls} empty value(s)")
    if out.height and out.get_column("medfee_sumamt").min() < 0:  # type: ignore[operator]
        bad = out.filter(pl.col("medfee_sumamt") < 0).get_column("case_id")[0]
        raise ClaimsError(f"{name}.medfee_sumamt", f"病例总费用为负数 negative total cost for case {bad}")
    if out.get_column("case_id").n_unique() != out.height:
        dup = out.filter(pl.col("case_id").is_duplicated()).get_column("case_id")[0]
        raise ClaimsError(f"{name}.case_id", f"病例编号重复 case id {dup} appears more than once")
    if "pdx" in columns:
        catalogue = dx.national()
        for code in out.get_column("pdx").unique().sort().to_list():
            if not catalogue.known(code.strip()):
                case = out.filter(pl.col("pdx") == code).get_column("case_id")[0]
                raise ClaimsError(
                    f"{name}.pdx",
                    f"病例 {case} 的主要诊断 {code[:20]!r} 不在医保疾病诊断分类与代码目录中 "
                    f"the principal diagnosis of case {case} is not in the diagnosis catalogue",
                )
    if "fund_pay_sumamt" in out.columns:
        out = out.with_columns(pl.col("fund_pay_sumamt").cast(pl.Int64))
    return out


def check_levels(claims: pl.DataFrame, policy: PaymentPolicy, name: str = "claims") -> None:
    """Every hospital level in the claims must have a coefficient in the policy."""
    known = policy.level_coefficients()
    for lv in claims.get_column("hosp_lv").unique().sort().to_list():
        if lv not in known:
            raise ClaimsError(
                f"{name}.hosp_lv",
                f"医院等级没有对应系数 level {lv!r} has no coefficient in the policy 'levels'",
            )


def level_coefficients(policy: PaymentPolicy, history: pl.DataFrame) -> dict[str, int]:
    """The level coefficients in force: the listed ones, or (``level_basis: history``) each level's
    Σ cost / Σ group mean over ``history`` (which carries ``hosp_lv``, ``medfee_sumamt``, ``group_mean_fen``)."""
    out = policy.level_coefficients()
    if policy.level_basis is None or policy.level_basis.basis == "fixed":
        return out
    per = (
        history.filter(pl.col("group_mean_fen") > 0)
        .group_by("hosp_lv")
        .agg(pl.col("medfee_sumamt").sum(), pl.col("group_mean_fen").sum())
    )
    for lv, cost, mean in per.iter_rows():
        if lv in out:
            out[lv] = half_up_div(cost * RATIO_ONE, mean)
    return out


def coefficient_expr(policy: PaymentPolicy, levels: Mapping[str, int] | None = None) -> pl.Expr:
    """Case coefficient (1/10000): the institution's own coefficient if the policy gives one, else its level's."""
    lv = dict(levels) if levels is not None else policy.level_coefficients()
    inst = policy.institution_overrides()
    by_level = pl.col("hosp_lv").replace_strict(
        list(lv), list(lv.values()), default=None, return_dtype=pl.Int64
    )
    if not inst:
        return by_level
    by_inst = pl.col("fixmedins_code").replace_strict(
        list(inst), list(inst.values()), default=None, return_dtype=pl.Int64
    )
    return pl.coalesce(by_inst, by_level)


def window_years(history: pl.DataFrame, weights: Sequence[int]) -> dict[int, int]:
    """Weight of each history year: the newest ``len(weights)`` years present, aligned oldest → newest."""
    years = sorted(history.get_column("discharge_date").dt.year().unique().to_list())[-len(weights) :]
    return dict(zip(years, weights[len(weights) - len(years) :], strict=True))


def trim_mask(frame: pl.DataFrame, keys: list[str], trim: Trim | None) -> pl.Series:
    """True for cases kept for calibration: IQR fences or a band around the mean, within each key group.

    Groups under ``min_cases`` are not trimmed, and a group the rule would empty keeps all its cases.
    """
    if trim is None or trim.method == "none":
        return pl.Series("keep", [True] * frame.height)
    cost = pl.col("medfee_sumamt")
    if trim.method == "iqr":
        assert trim.k is not None
        # quartiles by the nearest-rank rule: always an actual cost, so exact integers
        stats = frame.group_by(keys).agg(
            pl.len().alias("_n"),
            cost.quantile(0.25, interpolation="nearest").cast(pl.Int64).alias("_q1"),
            cost.quantile(0.75, interpolation="nearest").cast(pl.Int64).alias("_q3"),
        )
        reach = half_up_div((pl.col("_q3") - pl.col("_q1")) * trim.k, RATIO_ONE)
        stats = stats.with_columns((pl.col("_q1") - reach).alias("_lo"), (pl.col("_q3") + reach).alias("_hi"))
        keep = (cost >= pl.col("_lo")) & (cost <= pl.col("_hi"))
    else:
        assert trim.low is not None and trim.high is not None
        stats = frame.group_by(keys).agg(pl.len().alias("_n"), cost.sum().alias("_s"))
        mean = half_up_div(pl.col("_s"), pl.col("_n").cast(pl.Int64))
        keep = (cost * RATIO_ONE >= mean * trim.low) & (cost * RATIO_ONE <= mean * trim.high)
    df = frame.select([*keys, "medfee_sumamt"]).join(stats, on=keys, how="left", maintain_order="left")
    df = df.with_columns(keep.alias("_keep"))
    # a group the rule would empty keeps every case (it still needs a mean)
    kept_any = df.group_by(keys).agg(pl.col("_keep").any().alias("_any"))
    df = df.join(kept_any, on=keys, how="left", maintain_order="left")
    return df.select(
        (pl.col("_keep") | (pl.col("_n") < trim.min_cases) | ~pl.col("_any")).alias("keep")
    ).to_series()


def weighted_means(frame: pl.DataFrame, keys: list[str], years: Mapping[int, int]) -> pl.DataFrame:
    """Mean cost per key, weighting each year's mean by its year weight (e.g. 1:2:7).

    Each year's mean rounds half up to the fen, then the weighted mean does; years in which a key has no
    case drop out and the remaining weights are renormalised.  Returns keys, ``n_cases``, ``mean_fen``.
    """
    wy = pl.DataFrame(
        {"_year": list(years), "_w": list(years.values())}, schema={"_year": pl.Int32, "_w": pl.Int64}
    )
    per_year = (
        frame.with_columns(pl.col("discharge_date").dt.year().alias("_year"))
        .join(wy, on="_year", how="inner")
        .group_by([*keys, "_year", "_w"])
        .agg(pl.col("medfee_sumamt").sum().alias("_s"), pl.len().cast(pl.Int64).alias("_n"))
        .with_columns(half_up_div(pl.col("_s"), pl.col("_n")).alias("_m"))
        .filter(pl.col("_w") > 0)
    )
    return (
        per_year.group_by(keys)
        .agg(
            (pl.col("_m") * pl.col("_w")).sum().alias("_mw"),
            pl.col("_w").sum().alias("_ws"),
            pl.col("_n").sum().alias("n_cases"),
        )
        .with_columns(half_up_div(pl.col("_mw"), pl.col("_ws")).alias("mean_fen"))
        .select([*keys, "n_cases", "mean_fen"])
    )


def overall_mean(frame: pl.DataFrame, years: Mapping[int, int]) -> int:
    """The year-weighted mean cost of all cases (the M of RW = m / M), rounded as in ``weighted_means``."""
    per = frame.group_by(pl.col("discharge_date").dt.year().alias("_y")).agg(
        pl.col("medfee_sumamt").sum().alias("_s"), pl.len().alias("_n")
    )
    num = den = 0
    for y, total, n in per.iter_rows():
        w = years.get(y, 0)
        if w and n:
            num += w * half_up_div(total, n)
            den += w
    m = half_up_div(num, den) if den else 0
    if m == 0:
        raise ClaimsError(
            "history", "权重年份内没有费用为正的病例 no case with a positive cost in the weighting years"
        )
    return m


def pool_for(budget: Budget, history: pl.DataFrame, year: int) -> int:
    """The year's pool in fen: a fixed amount (÷ reimbursement ratio if given) or last year × (1 + growth)."""
    if budget.basis == "amount":
        assert budget.amount is not None
        if budget.reimbursement_ratio is not None:
            return half_up_div(budget.amount * RATIO_ONE, budget.reimbursement_ratio)
        return budget.amount
    assert budget.growth is not None
    last = history.filter(pl.col("discharge_date").dt.year() == year - 1)
    if last.height == 0:
        raise ClaimsError(
            "history.discharge_date",
            f"上一年没有出院病例，无法按“上年增长”测算预算 no case discharged in {year - 1} for budget basis 'last_year_growth'",
        )
    total = int(last.get_column("medfee_sumamt").sum())
    return half_up_div(total * (RATIO_ONE + budget.growth), RATIO_ONE)


def budget_point_value(history: pl.DataFrame, years: Mapping[int, int]) -> Fraction:
    """预算点值: year-weighted annual total cost / year-weighted annual points (fen per 1/10000 point).

    ``history`` carries ``medfee_sumamt`` and ``points_pu`` per case, the history scored by the same rules
    (weights, outliers, coefficients) as the year to pay, so monthly pre-settlement and the year-end
    settlement price the same kind of point.
    """
    per = (
        history.with_columns(pl.col("discharge_date").dt.year().alias("_y"))
        .group_by("_y")
        .agg(pl.col("medfee_sumamt").sum(), pl.col("points_pu").sum())
    )
    cost = pts = 0
    for y, c, p in per.iter_rows():
        w = years.get(y, 0)
        cost += w * c
        pts += w * p
    if pts <= 0:
        raise ClaimsError(
            "history",
            "权重年份内没有点数，无法确定预算点值 no points in the weighting years: cannot set a budget point value",
        )
    return Fraction(cost, pts)


@dataclass(frozen=True)
class Payment:
    """The year's payment: cases, per-hospital annual clearing, per-hospital monthly pre-settlement."""

    method: str  # "drg" | "dip"
    year: int
    pool_fen: int
    budget_point_value: Fraction  # fen per 1/10000 point, used monthly
    settlement_point_value: Fraction  # fen per 1/10000 point, year end
    withholding: int
    cases: pl.DataFrame
    hospitals: pl.DataFrame
    monthly: pl.DataFrame
    groups: pl.DataFrame  # DRG weights or DIP catalogue
    points_per_rw: int = 100
    level_coefficients: tuple[tuple[str, int], ...] = ()

    def base_rate(self, level_coefficient: int = RATIO_ONE) -> Fraction:
        """费率: fen per RW 1.0 at the settlement point value (× a level coefficient in 1/10000)."""
        return self.settlement_point_value * PU_PER_POINT * self.points_per_rw * level_coefficient / RATIO_ONE

    def point_value_per_point(self, which: str = "settlement") -> Fraction:
        pv = self.settlement_point_value if which == "settlement" else self.budget_point_value
        return pv * PU_PER_POINT


def settle_points(
    method: str,
    year: int,
    cases: pl.DataFrame,
    pool_fen: int,
    pv_budget: Fraction,
    withholding: int,
    groups: pl.DataFrame,
    points_per_rw: int = 100,
    level_coefficients: Mapping[str, int] | None = None,
) -> Payment:
    """Pay a year of scored cases (``points_pu`` each) out of ``pool_fen``.

    Monthly pre-settlement (预结算) per hospital and discharge month: points × budget point value, rounded half
    up, of which ``withholding`` (1/10000, rounded half up) is held back.  Annual clearing (清算): the pool split
    over hospitals by points (largest remainder) is the annual amount due; balance = due − Σ monthly paid
    (positive: the fund pays the hospital; negative: it recovers).  盈亏 = due − actual cost.
    """
    if cases.height and cases.get_column("points_pu").min() < 0:  # type: ignore[operator]
        raise ClaimsError("points_pu", "点数为负数 negative points")
    by_h = (
        cases.group_by("fixmedins_code")
        .agg(
            pl.col("hosp_lv").first(),
            pl.len().cast(pl.Int64).alias("cases"),
            pl.col("points_pu").sum(),
            pl.col("medfee_sumamt").sum().alias("cost_fen"),
            *([pl.col("rw").sum().alias("_rw")] if "rw" in cases.columns else []),
        )
        .sort("fixmedins_code")
    )
    pts = by_h.get_column("points_pu").to_list()
    total_pu = sum(pts)
    if cases.height and total_pu == 0:
        raise ClaimsError(
            "points_pu", "病例没有点数，无法分配基金 the cases carry no points: the pool cannot be split"
        )
    due = split_largest_remainder(pool_fen, pts) if cases.height else []
    pv_settle = Fraction(pool_fen, total_pu) if total_pu else Fraction(0)

    # case-level: each hospital's due split over its cases by points (order: case_id)
    due_h = by_h.select("fixmedins_code", pl.Series("_due", due, dtype=pl.Int64))
    cases_out = split_within(
        cases.sort(["fixmedins_code", "case_id"]).join(
            due_h, on="fixmedins_code", how="left", maintain_order="left"
        )
    )
    cases_out = cases_out.with_columns((pl.col("payment_fen") - pl.col("medfee_sumamt")).alias("profit_fen"))

    monthly = (
        cases.with_columns(pl.col("discharge_date").dt.month().cast(pl.Int8).alias("month"))
        .group_by(["fixmedins_code", "month"])
        .agg(
            pl.len().cast(pl.Int64).alias("cases"),
            pl.col("points_pu").sum(),
            pl.col("medfee_sumamt").sum().alias("cost_fen"),
        )
        .sort(["fixmedins_code", "month"])
    )
    pre_due = [_frac_half_up(p * pv_budget) for p in monthly.get_column("points_pu").to_list()]
    withheld = [half_up_div(d * withholding, RATIO_ONE) for d in pre_due]
    monthly = monthly.with_columns(
        pl.Series("pre_due_fen", pre_due, dtype=pl.Int64), pl.Series("withheld_fen", withheld, dtype=pl.Int64)
    ).with_columns((pl.col("pre_due_fen") - pl.col("withheld_fen")).alias("pre_paid_fen"))

    paid = monthly.group_by("fixmedins_code").agg(pl.col("pre_paid_fen").sum(), pl.col("withheld_fen").sum())
    hospitals = (
        by_h.with_columns(pl.Series("due_fen", due, dtype=pl.Int64))
        .join(paid, on="fixmedins_code", how="left")
        .with_columns(
            (pl.col("due_fen") - pl.col("pre_paid_fen")).alias("balance_fen"),
            (pl.col("due_fen") - pl.col("cost_fen")).alias("profit_fen"),
        )
    )
    if "_rw" in hospitals.columns:  # CMI = Σ RW / N, in 1/10000
        hospitals = hospitals.with_columns(half_up_div(pl.col("_rw"), pl.col("cases")).alias("cmi")).drop(
            "_rw"
        )
    if "fund_pay_sumamt" in cases.columns:  # fund share of what is due: due − what patients paid
        pat = cases.group_by("fixmedins_code").agg(
            (pl.col("medfee_sumamt") - pl.col("fund_pay_sumamt")).sum().alias("patient_share_fen")
        )
        hospitals = hospitals.join(pat, on="fixmedins_code", how="left").with_columns(
            (pl.col("due_fen") - pl.col("patient_share_fen")).alias("fund_due_fen")
        )
    return Payment(
        method,
        year,
        pool_fen,
        pv_budget,
        pv_settle,
        withholding,
        cases_out,
        hospitals.sort("fixmedins_code"),
        monthly,
        groups,
        points_per_rw,
        tuple((level_coefficients or {}).items()),
    )


def split_within(cases: pl.DataFrame) -> pl.DataFrame:
    """``split_largest_remainder`` of each hospital's ``_due`` over its cases' ``points_pu``, vectorised.

    Same result as the pure-Python function applied hospital by hospital in row order (ties to the earlier
    row); 128-bit products so that no amount × points can overflow.  Adds ``payment_fen``, drops ``_due``.
    """
    i128 = pl.Int128
    h = pl.col("fixmedins_code")
    pts = pl.col("points_pu").cast(i128)
    tot = pts.sum().over(h)
    den = pl.when(tot == 0).then(pl.lit(1, dtype=i128)).otherwise(tot)
    num = pl.col("_due").cast(i128) * pts
    # the remainder is below the hospital's total points, so it fits 64 bits again for ranking
    df = cases.with_row_index("_row").with_columns(
        (num // den).alias("_share"), (num % den).cast(pl.Int64).alias("_rem")
    )
    df = df.with_columns(
        (pl.col("_due").cast(i128) - pl.col("_share").sum().over(h)).alias("_rest"),
        pl.struct((-pl.col("_rem")).alias("r"), pl.col("_row").alias("i"))
        .rank("ordinal")
        .over(h)
        .alias("_rank"),
    )
    extra = (pl.col("_rank") <= pl.col("_rest")).cast(i128)
    # as split_largest_remainder: with no points at all, the whole amount goes to the first row
    pay = (
        pl.when(tot == 0)
        .then(pl.when(pl.col("_rank") == 1).then(pl.col("_due").cast(i128)).otherwise(pl.lit(0, dtype=i128)))
        .otherwise(pl.col("_share") + extra)
    )
    return df.with_columns(pay.cast(pl.Int64).alias("payment_fen")).drop(
        "_row", "_share", "_rem", "_rest", "_rank", "_due"
    )


def _frac_half_up(x: Fraction) -> int:
    return half_up_div(x.numerator, x.denominator)


def years_of(frame: pl.DataFrame) -> list[int]:
    return sorted(frame.get_column("discharge_date").dt.year().unique().to_list())


def only_year(claims: pl.DataFrame, year: int) -> None:
    """The cases to pay must all be discharged in the policy year."""
    bad = claims.filter(pl.col("discharge_date").dt.year() != year)
    if bad.height:
        d: dt.date = bad.get_column("discharge_date")[0]
        raise ClaimsError(
            "claims.discharge_date",
            f"病例出院日期不在政策年度内 case {bad.get_column('case_id')[0]} discharged {d}, outside the policy year {year}",
        )
