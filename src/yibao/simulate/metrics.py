"""Pure metric functions: settled frames in, numbers out.  Each docstring gives the formula and its source.

Frames carry money in integer fen (the 2207 field names); sums stay integers.  Shares, ratios and
indices are floats.  Parameters come from :mod:`yibao.simulate.assumptions`, never from literals here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from yibao.simulate.assumptions import AnalysisOptions, FundAssumptions, HouseholdModel

# (2207 field, 中文, English) — the funds that pay a visit; acct_pay is the insured's own account.
FUNDS: tuple[tuple[str, str, str], ...] = (
    ("hifp_pay", "基本医疗保险统筹基金", "basic pooled fund"),
    ("hifmi_pay", "居民大病保险", "resident critical-illness insurance"),
    ("hifob_pay", "职工大额医疗费用补助", "employee large-amount subsidy"),
    ("maf_pay", "医疗救助", "medical assistance"),
    ("cvlserv_pay", "公务员医疗补助", "civil-servant subsidy"),
    ("hifes_pay", "企业补充医疗保险", "enterprise supplementary"),
    ("oth_pay", "其他基金", "other funds"),
)
ACCOUNT = ("acct_pay", "个人账户", "personal account")


# --------------------------------------------------------------------------------------- fund and OOP


def fund_expenditure(settled: pl.DataFrame) -> dict[str, int]:
    """Σ over visits of each fund's payment (fen).

    Keys: the FUNDS fields, ``acct_pay``, ``fund_pay_sumamt`` (= hifp + cvlserv + hifes + hifmi + hifob +
    maf + oth, the 2207 identities) and ``total_with_account`` (= fund_pay_sumamt + acct_pay).
    """
    names = [f for f, _, _ in FUNDS] + ["acct_pay", "fund_pay_sumamt"]
    row = (
        settled.select(pl.col(names).sum()).row(0, named=True) if settled.height else dict.fromkeys(names, 0)
    )
    out = {k: int(row[k] or 0) for k in names}
    out["total_with_account"] = out["fund_pay_sumamt"] + out["acct_pay"]
    return out


def in_scope_oop(df: pl.DataFrame | None = None) -> pl.Expr:
    """In-scope out-of-pocket per visit: psn_part_amt − fulamt_ownpay_amt − overlmt_selfpay.

    Since psn_part_amt = medfee − fund_pay_sumamt − hosp_part_amt (a 2207 identity) and the funds pay
    only policy-scope money, this equals preselfpay_amt + inscp_scp_amt − fund_pay_sumamt − hosp_part_amt:
    the 先行自付, deductible and co-payment the insured bear inside the catalogue (政策范围内个人负担).
    """
    return pl.col("psn_part_amt") - pl.col("fulamt_ownpay_amt") - pl.col("overlmt_selfpay")


def out_of_pocket(settled: pl.DataFrame) -> dict[str, int]:
    """Patients' out-of-pocket (fen), as 2207 reports it.

    ``total`` = Σ psn_part_amt (= acct_pay + psn_cash_pay); ``cash`` = Σ psn_cash_pay; ``account`` =
    Σ acct_pay; ``in_scope`` = Σ (psn_part_amt − fulamt_ownpay_amt − overlmt_selfpay);
    ``out_of_scope`` = Σ (fulamt_ownpay_amt + overlmt_selfpay); ``deductible`` = Σ act_pay_dedc (the
    part of in-scope OOP that is deductible, 起付线); ``medfee`` = Σ medfee_sumamt.
    """
    if settled.height == 0:
        return dict.fromkeys(
            ("total", "cash", "account", "in_scope", "out_of_scope", "deductible", "medfee"), 0
        )
    row = settled.select(
        total=pl.col("psn_part_amt").sum(),
        cash=pl.col("psn_cash_pay").sum(),
        account=pl.col("acct_pay").sum(),
        in_scope=in_scope_oop().sum(),
        out_of_scope=(pl.col("fulamt_ownpay_amt") + pl.col("overlmt_selfpay")).sum(),
        deductible=pl.col("act_pay_dedc").sum(),
        medfee=pl.col("medfee_sumamt").sum(),
    ).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def change(base: int | float, cand: int | float) -> dict[str, Any]:
    """Absolute and relative change: Δ = cand − base, Δ% = Δ / base × 100 (None when base = 0)."""
    diff = cand - base
    return {"change": diff, "pct": (diff / base * 100.0) if base else None}


def effective_ratio(settled: pl.DataFrame, by: str) -> pl.DataFrame:
    """Effective reimbursement ratio per group: Σ fund_pay_sumamt / Σ medfee_sumamt.

    The realised 实际报销比例 (all spending, in and out of scope); the national bulletins' 政策范围内
    支付比例 would divide by inscp instead.  Returns (by, visits, medfee, fund, ratio).
    """
    return (
        settled.group_by(by)
        .agg(visits=pl.len(), medfee=pl.col("medfee_sumamt").sum(), fund=pl.col("fund_pay_sumamt").sum())
        .with_columns(
            ratio=pl.when(pl.col("medfee") > 0).then(pl.col("fund") / pl.col("medfee")).otherwise(None)
        )
        .sort(by)
    )


# --------------------------------------------------------------------------------------- groupings


def age_band_labels(edges: tuple[int, ...]) -> list[str]:
    """Labels for bands [0, e1), [e1, e2) … [ek, ∞): with (18, 45, 60, 75): 0–17 … 75+."""
    lows = (0, *edges)
    labels = [f"{lo}–{hi - 1}" for lo, hi in zip(lows, edges, strict=False)]
    return [*labels, f"{edges[-1]}+"]


def age_band(age: pl.Expr, edges: tuple[int, ...]) -> pl.Expr:
    """The age band label of ``age`` (see :func:`age_band_labels`)."""
    labels = age_band_labels(edges)
    expr: Any = pl.when(age < edges[0]).then(pl.lit(labels[0]))
    for i in range(1, len(edges)):
        expr = expr.when(age < edges[i]).then(pl.lit(labels[i]))
    return expr.otherwise(pl.lit(labels[-1]))  # type: ignore[no-any-return]


def per_capita_income(persons: pl.DataFrame) -> pl.Expr:
    """Per-capita household income (fen/year) = household_income / household_size (size < 1 read as 1)."""
    return pl.col("household_income") / pl.max_horizontal(pl.col("household_size"), pl.lit(1))


def income_groups(persons: pl.DataFrame, n: int = 5) -> pl.DataFrame:
    """Quantile group of per-capita household income over persons: 1 = poorest … n = richest.

    group = 1 + ⌊n · (rank_min − 1) / N⌋ with rank_min the 1-based rank by per-capita income, ties
    sharing their lowest rank, so members of one household (equal per-capita income) share a group.
    Returns (psn_id, pc_income, quintile).
    """
    total = persons.height
    return persons.select(
        "psn_id",
        pc_income=per_capita_income(persons),
    ).with_columns(
        quintile=(1 + (n * (pl.col("pc_income").rank("min") - 1)) // max(total, 1)).cast(pl.Int8),
    )


# --------------------------------------------------------------------------------------- households


def person_oop(settled: pl.DataFrame, persons: pl.DataFrame, field: str = "psn_part_amt") -> pl.DataFrame:
    """Yearly out-of-pocket per person (fen) = Σ of ``field`` over the person's visits; 0 without visits."""
    per = settled.group_by("psn_id").agg(oop=pl.col(field).sum())
    return (
        persons.select("psn_id").join(per, on="psn_id", how="left").with_columns(pl.col("oop").fill_null(0))
    )


def households(persons: pl.DataFrame, oop: pl.DataFrame) -> pl.DataFrame:
    """One row per household: (household_id, household_size, household_income, members, oop).

    Household OOP = Σ of its members' yearly OOP.  Size and income are the household's declared values
    (the synthetic data may hold fewer insured members than ``household_size``).
    """
    return (
        persons.select("psn_id", "household_id", "household_size", "household_income")
        .join(oop, on="psn_id", how="left")
        .group_by("household_id")
        .agg(
            pl.col("household_size").first(),
            pl.col("household_income").first(),
            members=pl.len(),
            oop=pl.col("oop").fill_null(0).sum(),
        )
        .sort("household_id")
    )


def _household_spending(hh: pl.DataFrame, model: HouseholdModel) -> pl.DataFrame:
    size = pl.max_horizontal(pl.col("household_size"), pl.lit(1)).cast(pl.Float64)
    return hh.with_columns(
        exp=pl.col("household_income").cast(pl.Float64) * model.propensity_to_consume,
        eqsize=size.pow(model.eq_scale_beta),
    ).with_columns(food=pl.col("exp") * model.food_share)


def subsistence_line(hh: pl.DataFrame, model: HouseholdModel) -> float:
    """Subsistence spending per equivalent adult (fen/year), Xu 2005 (WHO/EIP/HSF/DP.05.2) §2.

    Xu: pl = mean of food_h / eqsize_h over households whose food share food_h / exp_h lies between the
    45th and 55th percentiles.  The modelled food share is constant, so households are ranked by
    consumption per equivalent adult (exp_h / eqsize_h) instead; the band is
    ``model.subsistence_band``.  A fixed ``model.subsistence_per_eq_adult_fen`` overrides the derivation.
    """
    if model.subsistence_per_eq_adult_fen is not None:
        return float(model.subsistence_per_eq_adult_fen)
    sp = _household_spending(hh, model)
    if sp.height == 0:
        return 0.0
    per_eq = (sp["exp"] / sp["eqsize"]).to_numpy()
    lo, hi = np.quantile(per_eq, model.subsistence_band)
    pick = (per_eq >= lo) & (per_eq <= hi)
    food_eq = (sp["food"] / sp["eqsize"]).to_numpy()
    return float(food_eq[pick].mean()) if pick.any() else float(np.median(food_eq))


def household_burden(hh: pl.DataFrame, model: HouseholdModel, line: float) -> pl.DataFrame:
    """Capacity to pay, catastrophic and impoverishing spending per household (Xu et al. 2003; Xu 2005).

    exp_h = household_income × propensity_to_consume; food_h = exp_h × food_share;
    eqsize_h = household_size ** beta; se_h = line × eqsize_h (subsistence spending);
    ctp_h = exp_h − se_h if se_h ≤ food_h, else exp_h − food_h (capacity to pay);
    che_h: oop_h > 0 and oop_h ≥ che_threshold × ctp_h (WHO catastrophic health expenditure);
    poor_h: exp_h < se_h (poor before paying for care);
    impoverished_h: exp_h ≥ se_h and exp_h − oop_h < se_h (pushed below subsistence by OOP).
    """
    sp = _household_spending(hh, model).with_columns(se=pl.col("eqsize") * line)
    return sp.with_columns(
        ctp=pl.when(pl.col("se") <= pl.col("food"))
        .then(pl.col("exp") - pl.col("se"))
        .otherwise(pl.col("exp") - pl.col("food")),
    ).with_columns(
        che=(pl.col("oop") > 0) & (pl.col("oop") >= model.che_threshold * pl.col("ctp")),
        poor=pl.col("exp") < pl.col("se"),
        impoverished=(pl.col("exp") >= pl.col("se")) & (pl.col("exp") - pl.col("oop") < pl.col("se")),
    )


def incidence(flags: pl.Series) -> float:
    """Share of rows flagged (households): Σ flag / N; 0 for no rows."""
    return float(flags.sum()) / len(flags) if len(flags) else 0.0


# --------------------------------------------------------------------------------------- equity


def fractional_rank(x: np.ndarray) -> np.ndarray:
    """Fractional rank r_i = (R_i − ½) / N with R_i the 1-based rank, ties given their mean rank.

    O'Donnell, van Doorslaer, Wagstaff & Lindelow (2008), *Analyzing Health Equity Using Household
    Survey Data*, World Bank, ch. 8: the poorest person has r ≈ 0, the richest r ≈ 1, mean r = ½.
    """
    n = len(x)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(x, kind="stable")
    sx = x[order]
    starts = np.r_[0, np.nonzero(np.diff(sx))[0] + 1]
    ends = np.r_[starts[1:], n]
    mean_rank = (starts + ends + 1) / 2.0  # mean of 1-based ranks starts+1 … ends
    ranks = np.empty(n)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return (ranks - 0.5) / n


def concentration_index(values: np.ndarray, income: np.ndarray) -> float | None:
    """Concentration index of ``values`` by ``income``: CI = 2 · cov(h, r) / mean(h).

    h = each person's yearly OOP, r = fractional rank by per-capita household income (poorest first),
    cov the population covariance (Kakwani, Wagstaff & van Doorslaer 1997, J. Econometrics 77:87–103;
    the "convenient covariance" form of O'Donnell et al. 2008, eq. 8.5).  CI ∈ [−1, 1]: 0 = OOP spread
    in proportion to population, < 0 = concentrated among the poor, > 0 among the rich.
    None when mean(h) = 0.
    """
    h = np.asarray(values, dtype=np.float64)
    if len(h) == 0:
        return None
    mu = h.mean()
    if mu == 0:
        return None
    r = fractional_rank(np.asarray(income, dtype=np.float64))
    cov = float(((h - mu) * (r - r.mean())).mean())
    return 2.0 * cov / float(mu)


# --------------------------------------------------------------------------------------- fund


def months_payable(
    opening_fen: float, income_fen: float, expenditure_fen: float, months_per_year: int = 12
) -> tuple[float, float | None]:
    """Closing balance and months payable (累计结余可支付月数).

    closing = opening + income − expenditure (one simulated year);
    months = closing / (expenditure / months_per_year).  None when there is no expenditure.
    """
    closing = opening_fen + income_fen - expenditure_fen
    if expenditure_fen <= 0:
        return closing, None
    return closing, closing / (expenditure_fen / months_per_year)


def balance_rate(income_fen: float, expenditure_fen: float) -> float | None:
    """Current-year balance rate (当期结余率) = (income − expenditure) / income."""
    return (income_fen - expenditure_fen) / income_fen if income_fen else None


def fund_projection(
    scheme: str, persons: int, base_exp: int, cand_exp: int, fund: FundAssumptions
) -> dict[str, Any]:
    """Months payable under each policy for one scheme's pooled fund.

    income = income_per_head × insured persons of the scheme (or, with income_basis "spending_ratio",
    base_exp × income_to_spending); opening = opening_months × base_exp / 12;
    then :func:`months_payable` with each policy's expenditure, and the band from ``fund.band``.
    """
    sf = fund.schemes[scheme]
    if sf.income_basis == "spending_ratio":
        income = round(base_exp * sf.income_to_spending)
    elif sf.income_basis == "per_head":
        income = sf.income_per_head_fen * persons
    else:
        raise ValueError(
            f"收入口径无效 unknown income_basis {sf.income_basis!r} (per_head or spending_ratio)"
        )
    opening = sf.opening_months * base_exp / fund.months_per_year
    close_b, months_b = months_payable(opening, income, base_exp, fund.months_per_year)
    close_c, months_c = months_payable(opening, income, cand_exp, fund.months_per_year)
    return {
        "scheme": scheme,
        "name": sf.name,
        "name_en": sf.name_en,
        "persons": persons,
        "expenditure_fields": list(sf.expenditure_fields),
        "income_basis": sf.income_basis,
        "income_fen": int(income),
        "opening_fen": round(opening),
        "baseline_expenditure_fen": base_exp,
        "candidate_expenditure_fen": cand_exp,
        "baseline_closing_fen": round(close_b),
        "candidate_closing_fen": round(close_c),
        "baseline_months": months_b,
        "candidate_months": months_c,
        "baseline_band": fund.band(months_b),
        "candidate_band": fund.band(months_c),
        "baseline_balance_rate": balance_rate(income, base_exp),
        "candidate_balance_rate": balance_rate(income, cand_exp),
        "spending_per_head_fen": (base_exp // persons) if persons else None,
    }


# --------------------------------------------------------------------------------------- gainers / losers


def gainers_losers(persons_change: pl.DataFrame, options: AnalysisOptions) -> dict[str, Any]:
    """Who gains and who loses: per-person Δ = OOP(candidate) − OOP(baseline), fen/year.

    A gain is a fall in OOP.  ``better_off`` / ``worse_off`` count persons with Δ < −threshold /
    Δ > threshold (``options.material_change_fen``).  Groups are scheme × age band × income quintile;
    a group's mean Δ = Σ Δ / persons in the group (including persons without visits); groups smaller
    than ``options.min_group_persons`` are not ranked.  ``persons_change`` needs columns psn_id,
    insutype, age_band, quintile, base, cand.
    """
    d = persons_change.with_columns(delta=pl.col("cand") - pl.col("base"))
    thr = options.material_change_fen
    keys = ["insutype", "age_band", "quintile"]
    groups = (
        d.group_by(keys)
        .agg(
            persons=pl.len(),
            mean_delta=pl.col("delta").mean(),
            total_delta=pl.col("delta").sum(),
            better_off=(pl.col("delta") < -thr).sum(),
            worse_off=(pl.col("delta") > thr).sum(),
        )
        .filter(pl.col("persons") >= options.min_group_persons)
    )
    gain = groups.filter(pl.col("mean_delta") < 0).sort(["mean_delta", *keys]).head(options.top_groups)
    loss = (
        groups.filter(pl.col("mean_delta") > 0)
        .sort(["mean_delta", *keys], descending=[True, False, False, False])
        .head(options.top_groups)
    )
    delta = d["delta"]

    def rows(df: pl.DataFrame) -> list[dict[str, Any]]:
        return [
            {
                "insutype": r["insutype"],
                "age_band": r["age_band"],
                "quintile": int(r["quintile"]),
                "persons": int(r["persons"]),
                "mean_delta_fen": round(r["mean_delta"]),
                "total_delta_fen": int(r["total_delta"]),
                "better_off": int(r["better_off"]),
                "worse_off": int(r["worse_off"]),
            }
            for r in df.iter_rows(named=True)
        ]

    return {
        "threshold_fen": thr,
        "persons": d.height,
        "better_off": int((delta < -thr).sum()),
        "worse_off": int((delta > thr).sum()),
        "changed": int((delta != 0).sum()),
        "largest_gain_fen": int(-min(int(delta.min() or 0), 0)) if d.height else 0,  # type: ignore[arg-type]
        "largest_loss_fen": int(max(int(delta.max() or 0), 0)) if d.height else 0,  # type: ignore[arg-type]
        "top_gainers": rows(gain),
        "top_losers": rows(loss),
    }


def histogram(values: np.ndarray, bins: int, clip: tuple[float, float]) -> dict[str, Any]:
    """Equal-width histogram of ``values`` between their ``clip`` quantiles; outliers join the end bins.

    Returns edges (bins + 1, fen) and counts (bins).  Empty input → no bins.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return {"edges_fen": [], "counts": []}
    lo, hi = (float(q) for q in np.quantile(v, clip))
    if lo == hi:
        lo, hi = lo - 1.0, hi + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(np.clip(v, lo, hi), bins=edges)
    return {"edges_fen": [math.floor(e) for e in edges], "counts": [int(c) for c in counts]}
