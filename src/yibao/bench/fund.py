"""``yibao bench fund``: JSON lines, nothing asserted.

* ``fund.project`` — a region of ``persons`` insured (default 10 million) aggregated by cohort (group × sex ×
  age): a year of monthly care drawn per cell (Poisson visits, gamma costs — never per person), the fund
  accounts booked (income by the contribution rules, payments, transfers, interest), the early-warning
  indicators of all 12 months, then a 60-month projection with 1,000 Monte-Carlo paths under every default
  scenario, and the backtest.  ``elapsed`` covers all of it after the data are drawn.
* ``assess.score`` — ``institutions`` designated institutions (default 2,000) with a year of settlements,
  lines and DRG cases drawn at random: indicators, scores and every institution's explanation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Annotated, Any

import numpy as np
import polars as pl
import typer

from yibao.fund import accounts, income, projection, warning
from yibao.fund.history import backtest
from yibao.fund.params import load_contributions, load_params, load_projection
from yibao.fund.warning import Members


def record(bench: str, metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit, **extra}


def machine(cpu0: float) -> dict[str, Any]:
    """CPU seconds of this process since ``cpu0`` (all its threads) and the load average (1, 5, 15 min):
    the machine is shared, so a wall time is read beside them."""
    return {
        "cpu_s": round(time.process_time() - cpu0, 3),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def _population(persons: int, rng: np.random.Generator) -> np.ndarray:
    """Persons by (group, sex, age): an ageing pyramid split into in service / retired / resident."""
    ages = np.arange(101)
    w = np.exp(-((ages - 42) ** 2) / (2 * 24.0**2)) * np.where(ages < 85, 1.0, 0.4)
    counts = rng.multinomial(persons, np.repeat(w / w.sum() / 2, 2)).reshape(101, 2).T  # (S, A)
    pop = np.zeros((3, 2, 101))
    for s, retire in enumerate((60, 55)):
        work = (ages >= 22) & (ages < retire)
        pop[0, s] = np.where(work, counts[s] * 0.45, 0)
        pop[1, s] = np.where(ages >= retire, counts[s] * 0.4, 0)
        pop[2, s] = counts[s] - pop[0, s] - pop[1, s]
    return pop


def _register(pop: np.ndarray, year: int, rng: np.random.Generator) -> pl.DataFrame:
    """One row per person of ``pop`` (group, sex, age): psn_no, gender, birth_date (spread over the year),
    psn_type (11 in service, 21 retired, 31 resident), identities (3 % of residents 低保, 0.4 % 特困)."""
    g, s, a = np.nonzero(np.rint(pop) > 0)
    n = np.rint(pop[g, s, a]).astype(np.int64)
    gi, si, ai = np.repeat(g, n), np.repeat(s, n), np.repeat(a, n)
    total = int(n.sum())
    days = np.datetime64(f"{year}-07-01") - (ai * 365.25 + rng.integers(0, 365, total)).astype(
        "timedelta64[D]"
    )
    draw = rng.random(total)
    ids = np.where(gi == 2, np.where(draw < 0.004, "TK", np.where(draw < 0.034, "DB", "")), "")
    return pl.DataFrame(
        {
            "psn_no": pl.int_range(total, eager=True).cast(pl.String),
            "gender": np.where(si == 1, "F", "M"),
            "birth_date": days,
            "psn_type": np.array(["11", "21", "31"])[gi],
            "identities": ids,
        }
    ).with_columns(pl.col("birth_date").cast(pl.Date))


def fund_project(persons: int = 10_000_000, year: int = 2025, seed: int = 1) -> Iterator[dict[str, Any]]:
    fp, pp, rates = load_params(), load_projection(), load_contributions()
    rng = np.random.default_rng(seed)
    pop = _population(persons, rng)
    bands = pp.costs.age_bands
    bi = projection.band_index(101, bands)
    nb = len(bands)
    F = len(fp.funds)
    fidx = {f: j for j, f in enumerate(fp.codes())}
    # per person-month visit rates and fund cost per visit by (group, band, service)
    band_age = np.array(bands, dtype=np.float64) + 7
    util = np.zeros((3, 2, nb, 2))
    util[..., 0] = (0.25 + 0.012 * band_age)[None, None, :]
    util[..., 1] = (0.006 + 0.0004 * band_age)[None, None, :]
    unit = np.array([9_000.0, 650_000.0])  # fen per outpatient visit, per admission
    pop_b = np.zeros((3, 2, nb))
    for b in range(nb):
        pop_b[:, :, b] = pop[:, :, bi == b].sum(axis=2)
    months = accounts.month_range(f"{year}-01", f"{year}-12")
    visits = rng.poisson(pop_b[None, ..., None] * util[None] * np.ones((12, 1, 1, 1, 1)))  # (M,G,S,B,SVC)
    cost = visits * unit * rng.gamma(50.0, 1 / 50.0, visits.shape)
    register = _register(pop, year, rng)
    t0, c0 = time.perf_counter(), time.process_time()
    # the register, one row per insured person, reduced to cells (group × sex × age) as `yibao fund
    # project` does; the drawn care above is already by cell (a year of visits per person is not drawn)
    pop_end, pop_mid, assisted, _ = projection.population_from_register(
        register, {"11": "in_service", "21": "retired", "31": "resident"}, pp, f"{year}-12"
    )
    t_reg = time.perf_counter()
    # fund split: employees' pool/critical/account, residents' pool/critical, assistance
    share = np.zeros((3, F))
    for g, (pool, crit, acct) in enumerate(
        (("310100", "330100", "310200"), ("310100", "330100", "310200"), ("390100", "390200", None))
    ):
        share[g, fidx[pool]] = 0.78
        share[g, fidx[crit]] = 0.04
        if acct:
            share[g, fidx[acct]] = 0.16
        share[g, fidx["610100"]] = 0.02
    cells = cost.sum(axis=0)[..., None] * share[:, None, None, None, :]  # (G,S,B,SVC,F)
    vis_cells = visits.sum(axis=0).astype(np.float64)
    pay = np.einsum("mgsbv,gf->mf", cost, share)
    base = projection.cohort_from_cells(
        f"{year}-12",
        tuple(fp.codes()),
        pop_end,
        pop_mid,
        cells,
        vis_cells,
        12,
        assisted,
        months,
        pay,
        pp,
    )
    # the books and the monthly indicators
    counts = income.HeadCounts(
        int(pop[0].sum()), int(pop[1].sum()), int(pop[2].sum()), {"DB": int(pop[2].sum() * 0.03)}
    )
    inc = accounts.income_entries(income.contributions(counts, rates, year), fp.codes())
    rows = []
    for m, mo in enumerate(months):
        for f, j in fidx.items():
            if pay[m, j]:
                rows.append((mo, f, "payment", "all", "", int(pay[m, j])))
    payments = pl.DataFrame(rows, schema=accounts.ENTRY_SCHEMA, orient="row")
    opening = accounts.opening_entries(
        months[0], {f: int(pay[:, j].sum() * 6 / 12) for f, j in fidx.items()}, "bench"
    )
    entries = pl.concat([opening, inc, income.retiree_transfers(counts.retired, rates, year), payments])
    entries = pl.concat([entries, accounts.interest_entries(entries, months, fp.interest.annual_rate)])
    pos = accounts.positions(entries, fp.codes(), fp.months_payable, months)
    act_rows = []
    med = {0: "11", 1: "21"}
    for m, mo in enumerate(months):
        for g in range(3):
            scheme = "390" if g == 2 else "310"
            for v in range(2):
                act_rows.append(
                    (
                        mo,
                        scheme,
                        med[v],
                        "local",
                        int(visits[m, g, :, :, v].sum()),
                        int(cost[m, g, :, :, v].sum()),
                        int(cost[m, g, :, :, v].sum() * 0.7),
                    )
                )
    act = (
        pl.DataFrame(act_rows, schema=warning.ACTIVITY_SCHEMA, orient="row")
        .group_by("month", "insutype", "med_type", "locality")
        .agg(pl.col("visits").sum(), pl.col("medfee").sum(), pl.col("fund").sum())
    )
    mem = warning.members_by_month({year: Members(counts.in_service, counts.retired, counts.residents)})
    n_readings = sum(len(warning.readings(mo, pos, act, mem, fp)) for mo in months)
    t1 = time.perf_counter()
    fit = projection.fit_history(base.payments.sum(axis=1), base.exposure, base.months, pp)
    opening_bal = {f: rows_[-1].closing for f, rows_ in pos.items()}
    res = projection.project(
        base, fit, opening_bal, rates, fp, pp, projection.default_scenarios(pp, year, 0.03, "bench")
    )
    t2 = time.perf_counter()
    bt = backtest(base, rates, fp, pp)
    t3 = time.perf_counter()
    yield record(
        "fund.project",
        "elapsed",
        t3 - t0,
        "s",
        persons=persons,
        paths=res["paths"],
        horizon=res["horizon"],
        scenarios=len(res["scenarios"]),
        **machine(c0),
    )
    yield record("fund.project", "register", t_reg - t0, "s", rows=register.height)
    yield record("fund.project", "indicators", t1 - t_reg, "s", readings=n_readings)
    yield record("fund.project", "projection", t2 - t1, "s")
    yield record("fund.project", "backtest", t3 - t2, "s", mape_monthly=bt["mape_monthly"])


def assess_score(
    institutions: int = 2_000, visits_per_institution: int = 500, seed: int = 2
) -> Iterator[dict[str, Any]]:
    from yibao.assess import core, indicators
    from yibao.assess.params import load_params as load_assess

    p = load_assess()
    rng = np.random.default_rng(seed)
    codes = np.array([f"H{i:06d}" for i in range(institutions)])
    levels = rng.choice(np.array(["1", "2", "3"]), institutions, p=[0.6, 0.3, 0.1])
    inst = pl.DataFrame({"fixmedins_code": codes, "level": levels, "kind": ["hospital"] * institutions})
    n = institutions * visits_per_institution
    who = rng.integers(0, institutions, n)
    inpatient = rng.random(n) < 0.08
    begin = np.datetime64("2025-01-01") + rng.integers(0, 360, n).astype("timedelta64[D]")
    los = np.where(inpatient, rng.integers(2, 15, n), 0)
    fee = np.where(inpatient, rng.gamma(2.0, 400_000, n), rng.gamma(2.0, 8_000, n)).astype(np.int64)
    settled = pl.DataFrame(
        {
            "setl_id": np.arange(n).astype(str),
            "psn_no": np.char.add("P", rng.integers(0, n // 3, n).astype(str)),
            "fixmedins_code": codes[who],
            "med_type": np.where(inpatient, "21", "11"),
            "begin_date": begin,
            "end_date": begin + los.astype("timedelta64[D]"),
            "diagnosis": np.char.add("J", rng.integers(10, 40, n).astype(str)),
            "medfee_sumamt": fee,
            "fulamt_ownpay_amt": (fee * rng.uniform(0, 0.15, n)).astype(np.int64),
            "fund_pay_sumamt": (fee * 0.6).astype(np.int64),
        }
    ).with_columns(pl.col("begin_date").cast(pl.Date), pl.col("end_date").cast(pl.Date))
    m = n * 3
    line_who = rng.integers(0, institutions, m)
    kinds_arr = np.array(["drug", "material", "service"])
    codes_l = np.char.add("C", rng.integers(0, 3_000, m).astype(str))
    amount = rng.gamma(2.0, 3_000, m).astype(np.int64)
    lines = pl.DataFrame(
        {
            "fixmedins_code": codes[line_who],
            "code": codes_l,
            "amount": amount,
            "fulamt_ownpay_amt": (amount * (rng.random(m) < 0.05)).astype(np.int64),
        }
    )
    kinds = {f"C{i}": str(kinds_arr[i % 3]) for i in range(3_000)}
    ip = int(inpatient.sum())
    drg = pl.DataFrame(
        {
            "fixmedins_code": codes[who[inpatient]],
            "drg": np.char.add("D", rng.integers(0, 600, ip).astype(str)),
            "rw": rng.integers(3_000, 30_000, ip),
            "medfee_sumamt": fee[inpatient],
            "los_days": los[inpatient],
            "outlier": rng.choice(np.array(["normal", "high", "low"]), ip, p=[0.92, 0.04, 0.04]),
        }
    )
    ratings = pl.DataFrame(
        {
            "fixmedins_code": codes[rng.integers(0, institutions, 100_000)],
            "stars": rng.integers(1, 6, 100_000),
        }
    )
    survey = pl.DataFrame(
        {"fixmedins_code": codes, "respondents": rng.integers(40, 160, institutions)}
    ).with_columns((pl.col("respondents") * 0.85).cast(pl.Int64).alias("satisfied"))
    t0, c0 = time.perf_counter(), time.process_time()
    frame = indicators.assemble(
        inst, p, settled=settled, lines=lines, kinds=kinds, drg_cases=drg, ratings=ratings, survey=survey
    )
    t1 = time.perf_counter()
    scores = core.score(frame, p)
    explained = sum(len(core.explain(s, p)[0]) for s in scores)
    t2 = time.perf_counter()
    yield record(
        "assess.score",
        "elapsed",
        t2 - t0,
        "s",
        institutions=institutions,
        settlements=n,
        lines=m,
        explanation_lines=explained,
        **machine(c0),
    )
    yield record("assess.score", "indicators", t1 - t0, "s")
    yield record("assess.score", "score_and_explain", t2 - t1, "s")


def run(persons: int = 10_000_000, institutions: int = 2_000) -> Iterator[dict[str, Any]]:
    yield from fund_project(persons)
    yield from assess_score(institutions)


def bench_fund_cmd(
    persons: Annotated[
        int, typer.Option(help="insured persons of the region (aggregated by cohort)")
    ] = 10_000_000,
    institutions: Annotated[int, typer.Option(help="institutions to assess")] = 2_000,
) -> None:
    """Print JSON lines: fund.project elapsed (indicators + 60-month projection, 1,000 paths) and
    assess.score elapsed."""
    import json

    for r in run(persons, institutions):
        print(json.dumps(r, ensure_ascii=False), flush=True)
