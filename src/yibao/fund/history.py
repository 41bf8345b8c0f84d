"""Backtest of the projection on a generated history (pure).

A history of ``backtest.years`` years is generated from the region's own base (its population and cell
costs) by a *different* process than the one the projection fits: unit-cost trends that differ by age
(older people's costs rise faster), a utilisation trend, a trend break in a later year, AR(1) noise and a
winter peak.  The projection is then fitted on the first ``fit_years`` years exactly as it is fitted on real
books (the cell costs measured in the last fitted year, trend and season from the monthly series, noise
from the residuals) and projects the remaining years.  The error reported (MAPE of monthly and of yearly
payments, and how often the truth falls inside the 5–95 % band) is the model's error against a truth it
does not share; demography is the same process on both sides, so it contributes no error here."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from yibao.fund.accounts import add_months
from yibao.fund.params import Contributions, FundParams, ProjectionParams
from yibao.fund.projection import (
    F64,
    CohortBase,
    Scenario,
    _f,
    demography,
    expected_path,
    fit_history,
    step_population,
)


def generate(base: CohortBase, pp: ProjectionParams) -> tuple[list[str], F64, F64, list[F64]]:
    """The generated truth: months, payments (M, F), the monthly multiplier behind them (M, A) and the
    population at the end of each month."""
    bt = pp.backtest
    rng = np.random.default_rng(bt.seed)
    d = demography(pp, base.ages)
    M = 12 * bt.years
    age = np.arange(base.ages)
    unit = np.where(age >= 60, _f(bt.unit_cost_trend_old), _f(bt.unit_cost_trend_young))
    util, brk = _f(bt.utilisation_trend), _f(bt.trend_break)
    amp, phi, sigma = _f(bt.winter_amplitude), _f(bt.ar_phi), _f(bt.sigma)
    pop = base.pop.copy()
    pay = np.zeros((M, len(base.funds)))
    mult = np.zeros((M, base.ages))
    pops = []
    e = 0.0
    months = [add_months(base.base_month, t) for t in range(1, M + 1)]
    for m in range(M):
        pop = step_population(pop, d)
        yrs = (m + 0.5) / 12.0
        yrs_b = max(0.0, (m + 0.5 - 12 * (bt.trend_break_year - 1)) / 12.0)
        g = (1 + unit) ** yrs * (1 + util) ** yrs * (1 + brk) ** yrs_b
        moy = int(months[m][5:]) - 1
        season = 1.0 + amp * math.cos(2 * math.pi * moy / 12.0)
        e = (
            phi * e + math.sqrt(1 - phi**2) * sigma * rng.standard_normal()
            if m
            else sigma * rng.standard_normal()
        )
        mult[m] = g * season * math.exp(e)
        pay[m] = np.einsum("gsa,gsavf,a->f", pop, base.pc, mult[m])
        pops.append(pop.copy())
    return months, pay, mult, pops


def backtest(base: CohortBase, rates: Contributions, fp: FundParams, pp: ProjectionParams) -> dict[str, Any]:
    """Fit on years 1..fit_years of the generated history, project the rest, report the error."""
    bt = pp.backtest
    months, pay, mult, pops = generate(base, pp)
    k = 12 * bt.fit_years
    # what a bureau would have measured at the end of the fitted years: the last fitted year's cell costs
    # (their average multiplier), and the population at that moment
    pc_fit = base.pc * mult[k - 12 : k].mean(axis=0)[None, None, :, None, None]
    exposure = np.array([float((pops[m][..., None, None] * pc_fit).sum()) for m in range(k)])
    fitted_base = replace(
        base,
        base_month=months[k - 1],
        pop=pops[k - 1].copy(),
        pc=pc_fit,
        months=months[:k],
        payments=pay[:k],
        exposure=exposure,
    )
    fit = fit_history(pay[:k].sum(axis=1), exposure, months[:k], pp)
    horizon = len(months) - k
    path = expected_path(fitted_base, fit, rates, pp, Scenario("baseline", "基准情景", "baseline"), horizon)
    pred, truth = path.payments, pay[k:]
    tot_p, tot_t = pred.sum(axis=1), truth.sum(axis=1)
    mape_month = float(np.mean(np.abs(tot_p - tot_t) / tot_t))
    years = sorted({m[:4] for m in months[k:]})
    yearly: list[dict[str, Any]] = []
    errors: list[float] = []
    for y in years:
        idx = [i for i, m in enumerate(months[k:]) if m[:4] == y]
        p_, t_ = float(tot_p[idx].sum()), float(tot_t[idx].sum())
        errors.append(p_ / t_ - 1)
        yearly.append(
            {"year": y, "projected_fen": round(p_), "actual_fen": round(t_), "error": round(p_ / t_ - 1, 4)}
        )
    mape_year = float(np.mean(np.abs(errors)))
    per_fund = {}
    for j, f in enumerate(base.funds):
        ok = truth[:, j] > 0
        if ok.any():
            per_fund[f] = round(float(np.mean(np.abs(pred[ok, j] - truth[ok, j]) / truth[ok, j])), 4)
    # the 5–95 % band of monthly payments implied by the fitted noise and trend uncertainty
    rng = np.random.default_rng(pp.simulation.seed)
    P = pp.simulation.paths
    z = rng.standard_normal((P, horizon))
    eps = np.zeros((P, horizon))
    e = fit.sigma * z[:, 0]
    eps[:, 0] = e
    for t in range(1, horizon):
        e = fit.phi * e + fit.sigma * math.sqrt(1 - fit.phi**2) * z[:, t]
        eps[:, t] = e
    dev = rng.standard_normal(P)[:, None] * fit.trend_se * (np.arange(1, horizon + 1) / 12.0)[None, :]
    band = tot_p[None, :] * np.exp(dev + eps)
    lo, hi = np.percentile(band, 5, axis=0), np.percentile(band, 95, axis=0)
    coverage = float(np.mean((tot_t >= lo) & (tot_t <= hi)))
    return {
        "years": bt.years,
        "fit_years": bt.fit_years,
        "fit_months": [months[0], months[k - 1]],
        "check_months": [months[k], months[-1]],
        "mape_monthly": round(mape_month, 4),
        "mape_yearly": round(mape_year, 4),
        "mape_monthly_by_fund": per_fund,
        "coverage_90": round(coverage, 4),
        "yearly": yearly,
        "series": {
            "months": months,
            "actual_fen": [round(float(x)) for x in pay.sum(axis=1)],
            "projected_fen": [None] * k + [round(float(x)) for x in tot_p],
            "p5_fen": [None] * k + [round(float(x)) for x in lo],
            "p95_fen": [None] * k + [round(float(x)) for x in hi],
        },
        "fit": {
            "method": fit.method,
            "trend": round(fit.trend["outpatient"], 4),
            "sigma": round(fit.sigma, 4),
            "phi": round(fit.phi, 3),
            "season": [round(x, 4) for x in fit.season],
        },
        "truth": {
            "unit_cost_trend_young": _f(bt.unit_cost_trend_young),
            "unit_cost_trend_old": _f(bt.unit_cost_trend_old),
            "utilisation_trend": _f(bt.utilisation_trend),
            "trend_break": _f(bt.trend_break),
            "trend_break_year": bt.trend_break_year,
            "ar_phi": _f(bt.ar_phi),
            "sigma": _f(bt.sigma),
            "winter_amplitude": _f(bt.winter_amplitude),
        },
    }
