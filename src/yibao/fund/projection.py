"""Actuarial projection of the funds (基金精算预测): a transparent cohort model, scenarios and Monte-Carlo fan
charts of months payable.  Pure: arrays and frames in, plain data out; aggregated by cohort, never per person.

The model, month by month over 12–60 months (docs/FUND.md gives every formula and its source):

1. **Population** by contribution group (in service / retired / resident) × sex × single year of age:
   deaths (Gompertz μ(x) = a·e^(b·x), monthly q = 1 − e^(−μ/12)), net migration, ageing (1/12 of each age a
   month), retirement at the statutory age (in service → retired), entry into employment (a share of
   residents reaching the entry age), births to residents from women 15–49.
2. **Expenditure** of each fund = Σ cells persons × cost per person-month of the cell (base year, credibility
   weighted: a cell's own figure gets n / (n + k) against its age band across sexes, and that against its
   group) × (1 + utilisation trend)(1 + unit-cost trend) per year × the seasonal index of the month ×
   the scenario's multiplier.
3. **Income** from the same contribution rules that book income (``income.contributions``) applied to the
   projected head counts of each year, with wage growth and the premium path; retirees' account top-ups
   as transfers; interest on positive balances.
4. **Uncertainty** from the history: monthly log-noise σ and its AR(1) persistence φ (residuals of payments
   around the demographic exposure × trend × season), and the trend's standard error; 1,000 paths
   (vectorised numpy), percentiles of months payable per month, the month each band line is crossed, and
   the chance of being below 3 months at each year end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from yibao.fund.accounts import add_months, month_range
from yibao.fund.income import HeadCounts, Premiums, contributions
from yibao.fund.params import Contributions, FundParams, ProjectionParams

F64 = npt.NDArray[np.float64]
GROUPS = ("in_service", "retired", "resident")
SEXES: tuple[Literal["M"], Literal["F"]] = ("M", "F")
SERVICES = ("outpatient", "inpatient")
IN_SERVICE, RETIRED, RESIDENT = 0, 1, 2


def _f(x: object) -> float:
    return float(str(x))


# --------------------------------------------------------------------------------------- the base
@dataclass
class CohortBase:
    """The region at the end of its base year, aggregated by cell (group × sex × age)."""

    base_month: str  # last month of the base year
    funds: tuple[str, ...]
    pop: F64  # (G, S, A) persons
    pc: F64  # (G, S, A, SVC, F) fund payments per person-month, fen, base year
    util: F64  # (G, S, A, SVC) visits per person-month, base year
    assisted_share: dict[str, float]  # residents holding each assisted identity / residents
    months: list[str]  # months of the base data
    payments: F64  # (M, F) monthly payments of the base data (for the fit and months payable)
    exposure: F64  # (M,) Σ persons × base cost per person-month (all funds) in each of those months
    cell_years: F64  # (G, S, A) person-years behind each cell's figures
    cost_months: int = 12  # the cost rates describe the last ``cost_months`` months before base_month

    @property
    def ages(self) -> int:
        return int(self.pop.shape[2])


def band_index(ages: int, bands: Sequence[int]) -> npt.NDArray[np.int64]:
    """The cost band of every single age (bands are lower bounds)."""
    return np.searchsorted(np.asarray(bands), np.arange(ages), side="right").astype(np.int64) - 1


def population_from_register(
    persons: pl.DataFrame, groups: Mapping[str, str], pp: ProjectionParams, base_month: str
) -> tuple[F64, F64, dict[str, float], pl.DataFrame]:
    """Persons by (group, sex, age) at the base month's end and in the middle of the base year, the shares
    of residents by assisted identity, and the register with each person's cell (psn_no, g, s, a) — one
    vectorised pass over the register, whatever its size."""
    months = month_range(add_months(base_month, -11), base_month)
    ages = pp.population.max_age + 1
    mid = pl.date(int(months[6][:4]), int(months[6][5:]), 1)
    after = add_months(base_month, 1)
    end = pl.date(int(after[:4]), int(after[5:]), 1)
    gi = {g: i for i, g in enumerate(GROUPS)}
    ppl = persons.select(
        "psn_no",
        pl.col("psn_type")
        .cast(pl.String)
        .replace_strict(groups, default="resident")
        .replace_strict(gi, return_dtype=pl.Int64)
        .alias("g"),
        (pl.col("gender") == "F").cast(pl.Int64).alias("s"),
        ((mid - pl.col("birth_date")).dt.total_days() // 365.25).cast(pl.Int64).clip(0, ages - 1).alias("a"),
        ((end - pl.col("birth_date")).dt.total_days() // 365.25)
        .cast(pl.Int64)
        .clip(0, ages - 1)
        .alias("a_end"),
        pl.col("identities").fill_null(""),
    )
    cell = (ppl["g"].to_numpy() * 2 + ppl["s"].to_numpy()) * ages
    n_cells = 3 * 2 * ages
    pop: F64 = (
        np.bincount(cell + ppl["a_end"].to_numpy(), minlength=n_cells).reshape(3, 2, ages).astype(np.float64)
    )
    pop_mid: F64 = (
        np.bincount(cell + ppl["a"].to_numpy(), minlength=n_cells).reshape(3, 2, ages).astype(np.float64)
    )
    res = ppl.filter(pl.col("g") == RESIDENT)
    assisted: dict[str, float] = {}
    left = res.filter(pl.col("identities") != "").select("identities")
    for code in pp_assisted_codes(persons):
        hit = left.filter(pl.col("identities").str.split("|").list.contains(code))
        left = left.filter(~pl.col("identities").str.split("|").list.contains(code))
        assisted[code] = hit.height / res.height if res.height else 0.0
    return pop, pop_mid, assisted, ppl


def cohort_from_frames(
    persons: pl.DataFrame,
    settled: pl.DataFrame,
    groups: Mapping[str, str],
    fp: FundParams,
    pp: ProjectionParams,
    base_month: str,
) -> CohortBase:
    """The base from a register and a year of settlements.

    ``persons``: psn_no, gender ('M'/'F'), birth_date, psn_type, identities; ``settled``: psn_no, month,
    insutype, med_type and the 2207 money fields (see ``data.settled_frame``).  Ages are taken at the middle
    of the base year; the register is read as constant over the year (the cells need each person's age and
    sex, which the month-end insured counts the warning uses do not carry), so person-months = persons ×
    months of data."""
    months = month_range(add_months(base_month, -11), base_month)
    ages = pp.population.max_age + 1
    pop, pop_mid, assisted, ppl = population_from_register(persons, groups, pp, base_month)
    # payments per cell, service and fund
    s = settled.filter(pl.col("month").is_in(months)).join(
        ppl.select("psn_no", "g", "s", "a"), on="psn_no", how="inner"
    )
    svc = pl.when(pl.col("med_type").is_in(fp.care.inpatient)).then(1).otherwise(0).alias("svc")
    fund_cols = []
    for f in fp.funds:
        e = pl.lit(0, dtype=pl.Int64)
        for pb in f.paid_by:
            part = (
                pl.col(pb.field)
                if pb.insutype is None
                else pl.when(pl.col("insutype") == pb.insutype).then(pl.col(pb.field)).otherwise(0)
            )
            e = e + part
        fund_cols.append(e.alias(f"f{f.code}"))
    s = s.with_columns(svc, *fund_cols)
    n_months = max(1, s["month"].n_unique()) if s.height else 12
    bands = pp.costs.age_bands
    bi = band_index(ages, bands)
    nb = len(bands)
    F = len(fp.funds)
    cost = np.zeros((3, 2, nb, 2, F))
    visits = np.zeros((3, 2, nb, 2))
    if s.height:
        g_, s_, a_, v_ = (s[c].to_numpy() for c in ("g", "s", "a", "svc"))
        b_ = bi[a_]
        np.add.at(visits, (g_, s_, b_, v_), 1.0)
        for j, f in enumerate(fp.funds):
            np.add.at(cost[..., j], (g_, s_, b_, v_), s[f"f{f.code}"].to_numpy().astype(np.float64))
    pay = np.zeros((len(months), F))
    if s.height:
        by = s.group_by("month").agg(*[pl.col(f"f{f.code}").sum() for f in fp.funds])
        idx = {m: i for i, m in enumerate(months)}
        for row in by.iter_rows():
            if row[0] in idx:
                pay[idx[row[0]]] = np.asarray(row[1:], dtype=np.float64)
    return cohort_from_cells(
        base_month, tuple(fp.codes()), pop, pop_mid, cost, visits, n_months, assisted, months, pay, pp
    )


def cohort_from_cells(
    base_month: str,
    funds: tuple[str, ...],
    pop: F64,
    pop_mid: F64,
    cost: F64,
    visits: F64,
    n_months: int,
    assisted: dict[str, float],
    months: list[str],
    payments: F64,
    pp: ProjectionParams,
) -> CohortBase:
    """The base from aggregates: persons by (group, sex, age) at the base month's end and in the middle of
    the base year, payments (G, S, band, service, fund) and visits (G, S, band, service) of the base year
    over ``n_months`` months — what a register of any size reduces to."""
    ages = pop.shape[2]
    bi = band_index(ages, pp.costs.age_bands)
    nb = len(pp.costs.age_bands)
    pop_b = np.zeros((3, 2, nb))
    for b in range(nb):
        pop_b[:, :, b] = pop_mid[:, :, bi == b].sum(axis=2)
    pm = pop_b * n_months  # person-months
    k = pp.costs.credibility_person_years * 12.0
    pc = _credible(cost, pm, k)[:, :, bi]  # (G,S,A,SVC,F)
    util = _credible(visits, pm, k)[:, :, bi]
    exposure = np.full(len(months), float((pop_mid[..., None, None] * pc).sum()))
    return CohortBase(
        base_month, funds, pop, pc, util, assisted, months, payments, exposure, pop_mid * n_months / 12
    )


def pp_assisted_codes(persons: pl.DataFrame) -> list[str]:
    """Identity codes present in the register, most specific first (特困, 低保, 返贫致贫, then others)."""
    ids = (
        persons["identities"]
        .filter(persons["identities"].fill_null("") != "")
        .str.split("|")
        .explode()
        .unique()
    )
    seen = sorted(c for c in ids.to_list() if c)
    first = [c for c in ("TK", "DB", "FP") if c in seen]
    return first + [c for c in seen if c not in first]


def _credible(amount: F64, exposure: F64, k: float) -> F64:
    """Per-exposure rates by (group, sex, band, …) shrunk toward the band across sexes, and that toward the
    group's all-age rate: w = n / (n + k) at each level (Bühlmann credibility with a fixed k)."""
    extra = amount.shape[3:]
    ex = exposure.reshape(exposure.shape + (1,) * len(extra))
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(ex > 0, amount / np.where(ex > 0, ex, 1), 0.0)
        a_gb, e_gb = amount.sum(axis=1, keepdims=True), ex.sum(axis=1, keepdims=True)
        gb = np.where(e_gb > 0, a_gb / np.where(e_gb > 0, e_gb, 1), 0.0)
        a_g, e_g = amount.sum(axis=(1, 2), keepdims=True), ex.sum(axis=(1, 2), keepdims=True)
        g = np.where(e_g > 0, a_g / np.where(e_g > 0, e_g, 1), 0.0)
    w2 = e_gb / (e_gb + k) if k > 0 else np.ones_like(e_gb)
    w1 = ex / (ex + k) if k > 0 else np.ones_like(ex)
    upper = w2 * gb + (1 - w2) * g
    out: F64 = w1 * own + (1 - w1) * upper
    return out


# ---------------------------------------------------------------------------------------- the fit
@dataclass(frozen=True)
class Fit:
    """Trend, seasonality and noise behind the projection, and how they were obtained."""

    trend: dict[str, float]  # yearly growth per service (utilisation × unit cost)
    season: tuple[float, ...]  # 12 indices, January first, mean 1
    sigma: float  # monthly log-noise
    phi: float  # AR(1) persistence of the noise
    trend_se: float  # standard error of the yearly trend (log scale)
    method: str  # fitted / assumed
    years: float  # years of history used
    note_zh: str = ""
    note_en: str = ""


def assumed_trend(pp: ProjectionParams) -> dict[str, float]:
    c = pp.costs
    return {s: (1 + _f(c.unit_cost_trend[s])) * (1 + _f(c.utilisation_trend[s])) - 1 for s in SERVICES}  # type: ignore[index]


def fit_history(payments: F64, exposure: F64, months: Sequence[str], pp: ProjectionParams) -> Fit:
    """Fit log(payments / exposure) = α + β·t + s(month) + ε on the monthly history.

    ``exposure``: the payments the base-year costs would give with each month's population (so the fit sees
    trend, season and noise, not demography).  With at least ``min_years_for_fit`` years: least squares of
    12 month dummies and a yearly trend; the seasonal indices shrink toward 1 by years / (years + c).  With
    less: the assumed trends of projection.yaml, no seasonality, and σ, φ from the deviations around the
    mean.  σ and the trend's standard error never go below their floors."""
    sim = pp.simulation
    ok = (payments > 0) & (exposure > 0)
    y = np.log(payments[ok] / exposure[ok])
    moy = np.array([int(m[5:]) - 1 for m in months])[ok]
    t = np.arange(len(months), dtype=np.float64)[ok] / 12.0
    years = len(y) / 12.0
    if len(y) < 3:
        return Fit(
            assumed_trend(pp),
            (1.0,) * 12,
            _f(sim.sigma_floor),
            0.0,
            _f(sim.trend_se_floor),
            "assumed",
            years,
            "历史不足3个月：趋势用假设值，波动取下限",
            "under 3 months of history: assumed trend, floor noise",
        )
    if years >= pp.costs.min_years_for_fit:
        X = np.zeros((len(y), 13))
        X[np.arange(len(y)), moy] = 1.0
        X[:, 12] = t
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ coef
        dof = max(1, len(y) - 13)
        s2 = float(resid @ resid) / dof
        cov = s2 * np.linalg.pinv(X.T @ X)
        beta, se = float(coef[12]), math.sqrt(max(cov[12, 12], 0.0))
        seas = coef[:12] - coef[:12].mean()
        # empirical Bayes: each month's index is seen `years` times with noise s2, so its sampling variance
        # is about s2 / years; the true seasonal spread is what is left of the indices' spread above that
        noise_var = s2 / max(years, 1e-9)
        true_var = max(float(seas.var()) - noise_var, 0.0)
        shrink = (
            true_var / (true_var + noise_var)
            if years >= pp.costs.seasonality_min_years and true_var > 0
            else 0.0
        )
        season = np.exp(seas * shrink)
        season = season / season.mean()
        # the fit against the assumption, weighted by their precisions (normal prior on the log trend)
        prior = _f(pp.costs.trend_prior_sd)
        w = prior**2 / (prior**2 + se**2) if prior > 0 else 1.0
        assumed = assumed_trend(pp)
        trend = {s: math.exp(w * beta + (1 - w) * math.log1p(assumed[s])) - 1 for s in SERVICES}
        se = math.sqrt(1.0 / (1.0 / prior**2 + 1.0 / se**2)) if prior > 0 and se > 0 else se
        method = "fitted"
        nz = f"按 {years:.1f} 年历史拟合：拟合年趋势 {math.exp(beta) - 1:+.1%}（标准误 {math.sqrt(cov[12, 12]):.1%}），与假设趋势按精度加权，拟合权重 {w:.0%}"
        ne = f"fitted on {years:.1f} years: trend {math.exp(beta) - 1:+.1%} (se {math.sqrt(cov[12, 12]):.1%}), weighed against the assumed trend, weight of the fit {w:.0%}"
    else:
        resid = y - y.mean()
        trend, season, se = assumed_trend(pp), np.ones(12), 0.0
        method = "assumed"
        nz = f"历史 {years:.1f} 年，不足 {pp.costs.min_years_for_fit} 年：趋势用假设值，不估季节性"
        ne = f"{years:.1f} years of history, under {pp.costs.min_years_for_fit}: assumed trends, no seasonality"
    n_par = 13 if method == "fitted" else 1
    sigma = math.sqrt(float(resid @ resid) / (len(resid) - n_par)) if len(resid) > n_par else 0.0
    phi = (
        float(np.corrcoef(resid[:-1], resid[1:])[0, 1])
        if len(resid) > 3 and resid[:-1].std() > 0 and resid[1:].std() > 0
        else 0.0
    )
    phi = min(max(phi, 0.0), 0.95)
    return Fit(
        trend,
        tuple(float(x) for x in season),
        max(sigma, _f(sim.sigma_floor)),
        phi,
        max(se, _f(sim.trend_se_floor)),
        method,
        years,
        nz,
        ne,
    )


# ------------------------------------------------------------------------------- the population
@dataclass(frozen=True)
class Demography:
    q_month: F64  # (S, A) monthly death probability
    migration_month: float
    births_per_woman_month: float
    fert: tuple[int, int]
    male_share: float
    retire: tuple[int, int]  # M, F
    entry_age: int
    entry_share: float


def demography(pp: ProjectionParams, ages: int) -> Demography:
    p = pp.population
    x = np.arange(ages, dtype=np.float64)
    q = np.stack(
        [
            1.0 - np.exp(-np.minimum(_f(p.gompertz[s].a) * np.exp(_f(p.gompertz[s].b) * x), 50.0) / 12.0)
            for s in SEXES
        ]
    )
    lo, hi = p.fertility_ages
    return Demography(
        q,
        _f(p.net_migration_yearly) / 12.0,
        _f(p.fertility_total) / (hi - lo + 1) / 12.0,
        (lo, hi),
        _f(p.male_share_at_birth),
        (p.retirement_age["M"], p.retirement_age["F"]),
        p.employment_entry_age,
        _f(p.employment_entry_share),
    )


def step_population(pop: F64, d: Demography) -> F64:
    """One month: deaths, migration, births, ageing by 1/12, retirement, entry into employment."""
    p = pop * (1.0 - d.q_month[None, :, :]) * (1.0 + d.migration_month)
    lo, hi = d.fert
    births = p[:, 1, lo : hi + 1].sum() * d.births_per_woman_month
    moving = p[:, :, :-1] / 12.0
    p[:, :, :-1] -= moving
    p[:, :, 1:] += moving
    p[RESIDENT, 0, 0] += births * d.male_share
    p[RESIDENT, 1, 0] += births * (1.0 - d.male_share)
    for s, age in enumerate(d.retire):
        if age < p.shape[2]:
            p[RETIRED, s, age:] += p[IN_SERVICE, s, age:]
            p[IN_SERVICE, s, age:] = 0.0
    e = d.entry_age
    if 0 < e < p.shape[2]:
        joined = moving[RESIDENT, :, e - 1] * d.entry_share
        p[RESIDENT, :, e] -= joined
        p[IN_SERVICE, :, e] += joined
    return p


# ------------------------------------------------------------------------------------ scenarios
@dataclass(frozen=True)
class Scenario:
    """A what-if applied to the baseline: a relative change of expenditure from a month (a policy change
    as measured by ``yibao simulate``), an individual premium increase from a year, an epidemic shock."""

    name: str
    label_zh: str
    label_en: str
    expenditure_change: float = 0.0
    change_from_month: int = 1  # 1 = the first projected month
    premium_individual_fen: int = 0
    premium_from_year: int | None = None
    shock_peak: float = 0.0
    shock_start_month: int = 0
    shock_months: int = 0

    def multiplier(self, t: int) -> float:
        """Expenditure multiplier of projected month ``t`` (1-based)."""
        m = 1.0 + (self.expenditure_change if t >= self.change_from_month else 0.0)
        if self.shock_months and self.shock_start_month <= t < self.shock_start_month + self.shock_months:
            k = t - self.shock_start_month
            # a triangular wave: up to the peak in the middle and back
            half = (self.shock_months - 1) / 2 or 1.0
            m *= 1.0 + self.shock_peak * max(0.0, 1.0 - abs(k - half) / (half + 1))
        return m


def default_scenarios(
    pp: ProjectionParams, base_year: int, policy_change: float | None = None, policy_label: str = ""
) -> list[Scenario]:
    """Baseline, a premium increase, an epidemic shock, and (if measured) a policy change."""
    sc = pp.scenarios
    pi, ep = sc.premium_increase, sc.epidemic_shock
    out = [
        Scenario("baseline", "基准情景", "baseline"),
        Scenario(
            "premium",
            f"居民个人缴费每年提高 {pi.individual_yuan / 100:.0f} 元（{base_year + pi.from_year_offset} 年起）",
            f"resident premium +{pi.individual_yuan / 100:.0f} yuan from {base_year + pi.from_year_offset}",
            premium_individual_fen=pi.individual_yuan,
            premium_from_year=base_year + pi.from_year_offset,
        ),
        Scenario(
            "epidemic",
            f"疫情冲击：第 {ep.start_month_offset + 1} 个月起 {ep.months} 个月，支出峰值 +{_f(ep.peak):.0%}",
            f"epidemic shock: {ep.months} months from month {ep.start_month_offset + 1}, peak +{_f(ep.peak):.0%}",
            shock_peak=_f(ep.peak),
            shock_start_month=ep.start_month_offset + 1,
            shock_months=ep.months,
        ),
    ]
    if policy_change is not None:
        out.append(
            Scenario(
                "policy",
                f"政策调整{('（' + policy_label + '）') if policy_label else ''}：基金支出 {policy_change:+.1%}",
                f"policy change{(' (' + policy_label + ')') if policy_label else ''}: fund payments {policy_change:+.1%}",
                expenditure_change=policy_change,
            )
        )
    return out


def policy_change_from_simulation(report: Mapping[str, Any], key: str = "fund_pay_sumamt") -> float:
    """The relative change of fund payments measured by ``yibao simulate`` (its JSON report's ``funds`` row
    ``key``): candidate / baseline − 1."""
    for row in report.get("funds", []):
        if row.get("key") == key:
            b = row.get("baseline_fen") or row.get("baseline")
            c = row.get("candidate_fen") or row.get("candidate")
            if b:
                return float(c) / float(b) - 1.0
    from yibao.errors import FieldError

    raise FieldError("simulation.funds", f"模拟报告中没有 {key} 行 the simulation report has no '{key}' row")


# ------------------------------------------------------------------------------------ projection
@dataclass
class Path:
    """Deterministic expected path of one scenario: (H, F) arrays in fen."""

    payments: F64
    income: F64
    transfers: F64  # net transfers into each fund
    population: list[tuple[str, float, float, float]] = field(
        default_factory=list
    )  # (Jan of year, in service, retired, residents)


def expected_path(
    base: CohortBase,
    fit: Fit,
    rates: Contributions,
    pp: ProjectionParams,
    scenario: Scenario,
    horizon: int,
) -> Path:
    """The scenario's expected payments, income and transfers for each projected month and fund."""
    d = demography(pp, base.ages)
    F = len(base.funds)
    fidx = {f: i for i, f in enumerate(base.funds)}
    pop = base.pop.copy()
    pay = np.zeros((horizon, F))
    inc = np.zeros((horizon, F))
    trn = np.zeros((horizon, F))
    growth = np.array([1.0 + fit.trend[s] for s in SERVICES])
    cost_cell = base.pc  # (G,S,A,SVC,F)
    wage_g = _f(pp.income.wage_growth_yearly)
    centre_lag = (base.cost_months - 1) / 2.0  # the cost rates describe the middle of their year
    year_income: dict[int, dict[tuple[int, str], float]] = {}
    pops: list[tuple[str, float, float, float]] = []
    retiree_acct = rates.employee.retiree_account_monthly
    for t in range(1, horizon + 1):
        month = add_months(base.base_month, t)
        y, moy = int(month[:4]), int(month[5:])
        pop = step_population(pop, d)
        if y not in year_income:
            counts = HeadCounts(
                int(pop[IN_SERVICE].sum() + 0.5),
                int(pop[RETIRED].sum() + 0.5),
                int(pop[RESIDENT].sum() + 0.5),
                {k: int(v * pop[RESIDENT].sum() + 0.5) for k, v in base.assisted_share.items()},
            )
            pops.append(
                (month, float(pop[IN_SERVICE].sum()), float(pop[RETIRED].sum()), float(pop[RESIDENT].sum()))
            )
            ind, sub = rates.resident_premium(
                y, pp.income.resident_individual_step_yearly, pp.income.resident_subsidy_step_yearly
            )
            if scenario.premium_from_year is not None and y >= scenario.premium_from_year:
                ind += scenario.premium_individual_fen
            prem = Premiums(rates.wage_base(y, round(wage_g * 10_000)), ind, sub)
            rows = contributions(counts, rates, y, prem)
            year_income[y] = {(int(m[5:]), f): float(a) for m, f, _, a in rows.iter_rows() if f in fidx}
        for (mm, f), a in year_income[y].items():
            if mm == moy:
                inc[t - 1, fidx[f]] += a
        years_from_centre = (centre_lag + t) / 12.0
        g = growth**years_from_centre  # (SVC,)
        by_svc = np.einsum("gsa,gsavf->vf", pop, cost_cell)  # (SVC, F)
        pay[t - 1] = (by_svc * g[:, None]).sum(axis=0) * fit.season[moy - 1] * scenario.multiplier(t)
        if "310100" in fidx and "310200" in fidx:
            amt = pop[RETIRED].sum() * retiree_acct
            trn[t - 1, fidx["310100"]] -= amt
            trn[t - 1, fidx["310200"]] += amt
    return Path(pay, inc, trn, pops)


@dataclass(frozen=True)
class Crossing:
    line: int  # months
    direction: str  # down / up
    month: str | None


def crossings(
    start_mp: float, median: Sequence[float], months: Sequence[str], lines: Sequence[int]
) -> list[Crossing]:
    """For each band line, the first projected month the median months payable crosses it (from the side
    it starts on), or None."""
    out = []
    for line in lines:
        above = start_mp >= line
        hit = None
        for m, v in zip(months, median, strict=True):
            if (v < line) if above else (v >= line):
                hit = m
                break
        out.append(Crossing(line, "down" if above else "up", hit))
    return out


def simulate_paths(
    path: Path,
    opening: F64,
    recent_payments: F64,
    fit: Fit,
    annual_rate: float,
    z: F64,
    z_inc: F64,
    trend_dev: F64,
    income_sigma: float,
) -> tuple[F64, F64]:
    """Monte-Carlo balances and months payable: (paths, H, F) each.

    Payments of path p in month t: expected × e^(δ_p·t/12) × e^(ε_{p,t}), ε AR(1) with persistence φ and
    marginal σ (z: standard normal draws (P, H)); income × e^(σ_inc·z'); balance carried with monthly
    interest on positive balances; months payable = balance / the average of the last 12 months'
    payments (history first)."""
    P, H = z.shape
    eps = np.empty((P, H))
    e = np.zeros(P)
    scale = fit.sigma * math.sqrt(max(1.0 - fit.phi**2, 0.0))
    for t in range(H):
        e = fit.phi * e + scale * z[:, t] if t else fit.sigma * z[:, 0]
        eps[:, t] = e
    tt = (np.arange(1, H + 1) / 12.0)[None, :]
    mult = np.exp(trend_dev[:, None] * tt + eps)  # (P, H)
    pay = path.payments[None, :, :] * mult[:, :, None]  # (P, H, F)
    inc = path.income[None, :, :] * np.exp(income_sigma * z_inc)[:, :, None]
    bal = np.empty_like(pay)
    b = np.broadcast_to(opening, (P, opening.shape[0])).copy()
    r = annual_rate / 12.0
    for t in range(H):
        b = b + np.where(b > 0, b * r, 0.0) + inc[:, t] + path.transfers[t][None, :] - pay[:, t]
        bal[:, t] = b
    hist = np.broadcast_to(recent_payments[None, :, :], (P, *recent_payments.shape))
    allpay = np.concatenate([hist, pay], axis=1)  # (P, 12 + H, F)
    cs = np.cumsum(allpay, axis=1)
    k = recent_payments.shape[0]
    window = cs[:, k:] - cs[:, :-k] if k else cs
    with np.errstate(divide="ignore", invalid="ignore"):
        mp = np.where(window > 0, bal / (window / k), np.nan)
    return bal, mp


def project(
    base: CohortBase,
    fit: Fit,
    opening: Mapping[str, int],
    rates: Contributions,
    fp: FundParams,
    pp: ProjectionParams,
    scenarios: Sequence[Scenario],
    *,
    horizon: int | None = None,
    paths: int | None = None,
    seed: int | None = None,
    funds: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Project every scenario: expected paths, the fan of months payable (percentiles per month), the
    month each band line is crossed, and the chance of being below the red line at each year end.  All
    scenarios share the same random draws (common random numbers), so their differences are the scenario's,
    not the dice's."""
    H = horizon or pp.simulation.horizon_months
    P = paths or pp.simulation.paths
    rng = np.random.default_rng(pp.simulation.seed if seed is None else seed)
    z = rng.standard_normal((P, H))
    z_inc = rng.standard_normal((P, H))
    trend_dev = rng.standard_normal(P) * fit.trend_se
    keep = [f for f in (funds or base.funds) if f in base.funds]
    fi = [base.funds.index(f) for f in keep]
    open_v = np.array([float(opening.get(f, 0)) for f in base.funds])
    k = min(fp.months_payable.window_months, len(base.months))
    recent = base.payments[-k:] if k else np.zeros((0, len(base.funds)))
    months = [add_months(base.base_month, t) for t in range(1, H + 1)]
    mp_lines = fp.months_payable
    lines = [mp_lines.red_below, mp_lines.amber_below, mp_lines.target_upto, mp_lines.excessive_above]
    pct = pp.simulation.percentiles
    rate = fp.interest.annual_rate / 10_000
    start_mp = {}
    for j, f in enumerate(base.funds):
        tot = recent[:, j].sum()
        start_mp[f] = float(open_v[j] / (tot / k)) if k and tot > 0 else float("nan")
    out_sc: dict[str, Any] = {}
    for sc in scenarios:
        path = expected_path(base, fit, rates, pp, sc, H)
        bal, mp = simulate_paths(
            path, open_v, recent, fit, rate, z, z_inc, trend_dev, _f(pp.simulation.income_sigma)
        )
        per_fund: dict[str, Any] = {}
        for j, f in zip(fi, keep, strict=True):
            # a path without payments has no months payable: it sorts above every finite value
            col_mp = np.where(np.isnan(mp[:, :, j]), np.inf, mp[:, :, j])
            with np.errstate(invalid="ignore"):
                qs = np.percentile(col_mp, [*pct, 50], axis=0)
            fan = {f"p{q}": [_r2(x) for x in qs[i]] for i, q in enumerate(pct)}
            median = [_r2(x) for x in qs[-1]]
            red = mp_lines.red_below
            prob_red = {}
            for t, m in enumerate(months):
                if m.endswith("-12") or t == H - 1:
                    col = mp[:, t, j]
                    prob_red[m[:4]] = _r4(float(np.mean(np.nan_to_num(col, nan=np.inf) < red)))
            cr = crossings(start_mp[f], [x if x is not None else float("nan") for x in median], months, lines)
            per_fund[f] = {
                "fan": fan,
                "balance_p50": [round(float(x)) for x in np.percentile(bal[:, :, j], 50, axis=0)],
                "expected_payments": [round(float(x)) for x in path.payments[:, j]],
                "expected_income": [round(float(x)) for x in path.income[:, j]],
                "crossings": [{"line": c.line, "direction": c.direction, "month": c.month} for c in cr],
                "prob_red_by_year": prob_red,
            }
        out_sc[sc.name] = {
            "label_zh": sc.label_zh,
            "label_en": sc.label_en,
            "funds": per_fund,
            "population": [
                {"month": m, "in_service": round(a), "retired": round(b), "residents": round(c)}
                for m, a, b, c in path.population
            ],
        }
    return {
        "format": "yibao.fund-projection-result/1",
        "base_month": base.base_month,
        "months": months,
        "horizon": H,
        "paths": P,
        "funds": keep,
        "start_months_payable": {f: _r2(start_mp[f]) for f in keep},
        "opening_fen": {f: int(opening.get(f, 0)) for f in keep},
        "fit": {
            "method": fit.method,
            "years": round(fit.years, 2),
            "trend": {s: round(v, 4) for s, v in fit.trend.items()},
            "season": [round(x, 4) for x in fit.season],
            "sigma": round(fit.sigma, 4),
            "phi": round(fit.phi, 3),
            "trend_se": round(fit.trend_se, 4),
            "note_zh": fit.note_zh,
            "note_en": fit.note_en,
        },
        "bands": lines,
        "scenarios": out_sc,
    }


def _r2(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 2)


def _r4(x: float) -> float:
    return round(float(x), 4)


def with_history(base: CohortBase, months: Sequence[str], payments: F64) -> CohortBase:
    """The base with a longer payment history (several years, oldest first) for the fit; the exposure of
    each month is the base-year cost rate applied to the base population (demography is projected, not
    fitted)."""
    exp_month = float((base.pop[..., None, None] * base.pc).sum())
    return replace(base, months=list(months), payments=payments, exposure=np.full(len(months), exp_month))


def fen(x: float) -> int:
    """Used where a projected amount becomes a booked figure (a budget): whole fen, half away from zero."""
    from yibao.money import fen_from_estimate

    return fen_from_estimate(x)


def expected_year(path: Path, base_month: str, year: int, fund_index: int) -> float:
    """Σ expected payments of one fund over the projected months of ``year``."""
    total = 0.0
    for t in range(path.payments.shape[0]):
        if add_months(base_month, t + 1)[:4] == str(year):
            total += float(path.payments[t, fund_index])
    return total


__all__ = [
    "CohortBase",
    "Crossing",
    "Fit",
    "Path",
    "Scenario",
    "cohort_from_frames",
    "crossings",
    "default_scenarios",
    "expected_path",
    "expected_year",
    "fit_history",
    "policy_change_from_simulation",
    "project",
    "simulate_paths",
    "with_history",
]
