"""Use cases of the fund capability, with their dependencies passed in (a store, frames, parameters):
book a year, compute the warnings, project, set the global budget and clear it.  Every face (CLI, pages,
demo, benchmark) calls these; none talks SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from yibao.fund import accounts, budget, data, history, income, projection, warning
from yibao.fund.params import (
    BudgetParams,
    Contributions,
    FundParams,
    ProjectionParams,
    load_budget,
    load_contributions,
    load_params,
    load_projection,
)
from yibao.fund.store import Batch, FundStore
from yibao.money import fen_from_estimate


@dataclass(frozen=True)
class Setup:
    """Parameters and the region's vocabulary every use case needs."""

    fp: FundParams
    rates: Contributions
    pp: ProjectionParams
    bp: BudgetParams
    groups: dict[str, str]  # psn_type → in_service / retired / resident
    schemes: dict[str, tuple[str, str]]  # insutype → (name, name_en)

    def scope_names(self) -> dict[str, tuple[str, str]]:
        out = {f.code: (f.name, f.name_en) for f in self.fp.funds}
        out.update(self.schemes)
        out["region"] = ("全统筹区", "region")
        return out


def setup_for_region(region: str | Path) -> Setup:
    """Default parameters with the person types and schemes of a region file (or example name)."""
    from yibao.policy.loader import example_path, load_region

    path = Path(region) if Path(region).exists() else example_path(str(region))
    r = load_region(path).region
    return Setup(
        load_params(),
        load_contributions(),
        load_projection(),
        load_budget(),
        {pt.code: pt.group for pt in r.person_types},
        {s.code: (s.name, s.name_en) for s in r.schemes},
    )


# ------------------------------------------------------------------------------------------- booking
def institution_year(settled: pl.DataFrame, fp: FundParams) -> pl.DataFrame:
    """Each institution's payments per fund and year, and the inpatient (DRG/DIP-paid) part of them."""
    inpatient = pl.col("med_type").is_in(fp.care.inpatient)
    frames = []
    for f in fp.funds:
        e = pl.lit(0, dtype=pl.Int64)
        for pb in f.paid_by:
            part = pl.col(pb.field)
            if pb.insutype is not None:
                part = pl.when(pl.col("insutype") == pb.insutype).then(part).otherwise(0)
            e = e + part
        frames.append(
            settled.with_columns(e.alias("_f"), pl.col("end_date").dt.year().cast(pl.Int64).alias("year"))
            .group_by("year", "fixmedins_code")
            .agg(
                pl.col("_f").sum().alias("paid_fen"),
                pl.col("_f").filter(inpatient).sum().alias("inpatient_fen"),
            )
            .with_columns(pl.lit(f.code).alias("fund_pay_type"))
        )
    out = pl.concat(frames) if frames else pl.DataFrame()
    return out.filter(pl.col("paid_fen") != 0).select(
        "year",
        "fixmedins_code",
        "fund_pay_type",
        pl.col("paid_fen").cast(pl.Int64),
        pl.col("inpatient_fen").cast(pl.Int64),
    )


ASSISTANCE_FUND = "610100"


def premium_subsidy_payments(income_entries: pl.DataFrame, codes: Sequence[str]) -> pl.DataFrame:
    """What the assistance fund pays for the premiums it subsidises (资助参保支出): the resident funds book
    that money as income with source ``assistance``; the assistance fund books the same amount, the same
    month, as a payment (source ``premium_subsidy``).  Nothing when no assistance fund is configured."""
    if ASSISTANCE_FUND not in codes:
        return accounts.empty_entries()
    a = income_entries.filter(
        (pl.col("source") == "assistance") & (pl.col("fund_pay_type") != ASSISTANCE_FUND)
    )
    return (
        a.group_by("month")
        .agg(pl.col("amount_fen").sum())
        .filter(pl.col("amount_fen") > 0)
        .select(
            "month",
            pl.lit(ASSISTANCE_FUND).alias("fund_pay_type"),
            pl.lit("payment").alias("kind"),
            pl.lit("premium_subsidy").alias("source"),
            pl.lit("").alias("counterpart"),
            pl.col("amount_fen").cast(pl.Int64),
        )
        .sort("month")
    )


def book_year(
    store: FundStore,
    s: Setup,
    year: int,
    settled: pl.DataFrame,
    persons: pl.DataFrame,
    *,
    income_frame: pl.DataFrame | None = None,
    members_by_month: Mapping[str, warning.Members] | None = None,
    members_source: str = "",
    opening: Mapping[str, int] | None = None,
    opening_source: str = "",
    tag: str = "ledger",
    source: str = "",
    actor: str = "system",
    now: dt.datetime | None = None,
) -> list[Batch]:
    """Book one year: opening balances (if given), income (enrolment's ``income_frame`` when given, else the
    stand-in from the register), retirees' account top-ups, payments from the settlements (with their care
    activity, the insured count and each institution's payments), then the interest of every month.

    ``settled``: the year's settlements (``data.settled_frame`` columns); ``persons``: psn_type and
    identities of the insured; ``members_by_month``: insured persons at each month's end (enrolment's
    relation history, see :func:`members_from_frame`) — without it every month gets the register's count,
    and the books say so.  Batch ids are ``{tag}-{kind}-{year}``; a year already booked is refused."""
    codes = s.fp.codes()
    months = accounts.month_range(f"{year}-01", f"{year}-12")
    out: list[Batch] = []
    src = source or "账本结算数据 ledger settlements"
    if opening:
        out.append(
            store.book(
                accounts.opening_entries(f"{year}-01", opening, "opening"),
                batch_id=f"{tag}-opening-{year}",
                kind="opening",
                period=str(year),
                label=f"{year} 年初结余 opening balances",
                source=opening_source or "期初结余 opening balances",
                funds=codes,
                actor=actor,
                now=now,
            )
        )
    if income_frame is None:
        income_frame = income.income_frame_stand_in(persons, s.groups, s.rates, year)
        inc_src = (
            "示例缴费规则推算（contributions.yaml × 参保人数；待参保登记能力替换） stand-in contributions"
        )
    else:
        inc_src = "参保登记与征缴 enrolment income_frame"
        stand = income.income_frame_stand_in(persons, s.groups, s.rates, year)
        have = set(income_frame["fund_pay_type"].cast(pl.String).unique().to_list())
        own = [f.code for f in s.fp.funds if not f.collected_by_enrolment and f.code not in have]
        extra = stand.filter(pl.col("fund_pay_type").is_in(own))
        if extra.height:
            filled = sorted(set(extra["fund_pay_type"].to_list()))
            income_frame = pl.concat(
                [income_frame.select(list(income.INCOME_SCHEMA)).cast(income.INCOME_SCHEMA), extra]  # type: ignore[arg-type]
            )
            inc_src += (
                f"；{'、'.join(filled)} 不由征缴收取，按示例缴费规则推算（contributions.yaml） "
                f"funds {', '.join(filled)} are not collected by enrolment: stand-in rates"
            )
    inc_entries = accounts.income_entries(income_frame, codes)
    out.append(
        store.book(
            pl.concat([inc_entries, premium_subsidy_payments(inc_entries, codes)]),
            batch_id=f"{tag}-income-{year}",
            kind="income",
            period=str(year),
            label=f"{year} 基金收入 income",
            source=inc_src,
            funds=codes,
            actor=actor,
            now=now,
        )
    )
    mem = data.members(persons, s.groups)
    if members_by_month:
        monthly = {m: members_by_month[m] for m in months if m in members_by_month}
        missing = [m for m in months if m not in monthly]
        if missing:
            raise accounts.FundError(
                "members_by_month",
                f"缺少 {missing[0]} 等 {len(missing)} 个月的参保人数 no insured count for {missing[0]}",
                "missing",
            )
        m_src = members_source or "参保登记关系历史（月末在保人数） enrolment relation history"
        transfers = pl.concat(
            [
                income.retiree_transfers(monthly[m].retired, s.rates, year).filter(pl.col("month") == m)
                for m in months
            ]
        )
    else:
        monthly = {m: mem for m in months}
        m_src = (
            members_source
            or "参保人员名册（当前在册人数，各月相同） the register's current count, the same every month"
        )
        transfers = income.retiree_transfers(mem.retired, s.rates, year)
    out.append(
        store.book(
            transfers,
            batch_id=f"{tag}-transfer-{year}",
            kind="transfer",
            period=str(year),
            label=f"{year} 退休人员个人账户划入 retiree account top-ups",
            source=s.rates.sources[s.rates.employee.source].title,
            funds=codes,
            actor=actor,
            now=now,
        )
    )
    yr = settled.filter(pl.col("end_date").dt.year() == year)
    out.append(
        store.book(
            accounts.payment_entries(data.spending(yr), s.fp.funds),
            batch_id=f"{tag}-payments-{year}",
            kind="payments",
            period=str(year),
            label=f"{year} 基金支出 payments",
            source=src,
            funds=codes,
            actor=actor,
            now=now,
            activity=data.activity(yr),
            members=(year, mem),
            members_by_month=(monthly, m_src),
            institution_year=institution_year(yr, s.fp),
        )
    )
    entries = store.entries(last_month=months[-1])
    out.append(
        store.book(
            accounts.interest_entries(entries, months, s.fp.interest.annual_rate),
            batch_id=f"{tag}-interest-{year}",
            kind="interest",
            period=str(year),
            label=f"{year} 利息 interest",
            source=s.fp.sources[s.fp.interest.source].title,
            funds=codes,
            actor=actor,
            now=now,
        )
    )
    return out


def members_from_frame(counts: pl.DataFrame, groups: Mapping[str, str]) -> dict[str, warning.Members]:
    """Insured persons per month by contribution group from counts by (``month``, ``psn_type``,
    ``insured``) — the enrolment capability's monthly insured counts; ``groups`` maps the region's person
    types to in_service / retired / resident (a type not listed counts as resident)."""
    for col in ("month", "psn_type", "insured"):
        if col not in counts.columns:
            raise accounts.FundError(f"members.{col}", "缺少该列 required column is missing", "missing")
    g = (
        counts.with_columns(
            pl.col("psn_type").cast(pl.String).replace_strict(groups, default="resident").alias("_g")
        )
        .group_by("month", "_g")
        .agg(pl.col("insured").sum())
    )
    acc: dict[str, dict[str, int]] = {}
    for m, grp, n in g.iter_rows():
        acc.setdefault(str(m), {})[str(grp)] = int(n)
    return {
        m: warning.Members(v.get("in_service", 0), v.get("retired", 0), v.get("resident", 0))
        for m, v in sorted(acc.items())
    }


def positions(
    store: FundStore, s: Setup, last_month: str | None = None
) -> dict[str, list[accounts.FundMonth]]:
    """Every fund month by month from the booked entries."""
    return accounts.positions(store.entries(last_month=last_month), s.fp.codes(), s.fp.months_payable)


# ------------------------------------------------------------------------------------------ warnings
def warn(
    store: FundStore,
    s: Setup,
    months: Sequence[str] | None = None,
    *,
    outliers: Mapping[str, tuple[int, int]] | None = None,
    cleared_outflow: Mapping[tuple[str, str], warning.Cleared] | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[warning.Reading], list[str]]:
    """Compute the indicators for ``months`` (default: every month of the latest booked year), store them,
    and raise alerts month by month (a breach already alerted updates its alert).  The outflow cleared with
    other regions is read from the store (:meth:`FundStore.record_cleared_outflow`) unless given.  Returns
    the readings of the last month and the ids of new alerts."""
    pos = positions(store, s)
    act = store.activity()
    mem = store.members()
    if cleared_outflow is None:
        cleared_outflow = store.cleared_outflow()
    all_months = sorted({m for rows in pos.values() for m in (r.month for r in rows)})
    if not all_months:
        return [], []
    if months is None:
        y = all_months[-1][:4]
        months = [m for m in all_months if m.startswith(y)]
    names = s.scope_names()
    every: list[warning.Reading] = []
    new: list[str] = []
    last: list[warning.Reading] = []
    for m in months:
        rs = warning.readings(m, pos, act, mem, s.fp, outliers=outliers, cleared_outflow=cleared_outflow)
        every += rs
        msgs = {(r.indicator, r.scope): warning.message(r, names) for r in rs if r.breach}
        new += store.raise_alerts(rs, msgs, now=now)
        last = rs
    store.save_readings(every, now=now)
    return last, new


# ----------------------------------------------------------------------------------------- projection
def payment_history(
    entries: pl.DataFrame, funds: Sequence[str], last_month: str
) -> tuple[list[str], np.ndarray]:
    """Monthly payments per fund from the books, first booked month to ``last_month``."""
    pay = entries.filter((pl.col("kind") == "payment") & (pl.col("month") <= last_month))
    if pay.height == 0:
        return [], np.zeros((0, len(funds)))
    months = accounts.month_range(pay["month"].min(), last_month)  # type: ignore[arg-type]
    g = pay.group_by("month", "fund_pay_type").agg(pl.col("amount_fen").sum())
    mat = np.zeros((len(months), len(funds)))
    mi = {m: i for i, m in enumerate(months)}
    fi = {f: j for j, f in enumerate(funds)}
    for m, f, a in g.iter_rows():
        if f in fi:
            mat[mi[m], fi[f]] = float(a)
    return months, mat


def project(
    store: FundStore,
    s: Setup,
    persons: pl.DataFrame,
    settled: pl.DataFrame,
    *,
    base_month: str | None = None,
    policy_change: float | None = None,
    policy_label: str = "",
    horizon: int | None = None,
    paths: int | None = None,
    run_id: str | None = None,
    with_backtest: bool = True,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Project the funds from the books and the register: the cohort base from the register and the base
    year's settlements, the fit from every booked month, the opening balances from the books; the baseline,
    a premium increase, an epidemic shock and (when measured) a policy change; the backtest; stored when
    ``run_id`` is given."""
    entries = store.entries()
    if base_month is None:
        base_month = entries.filter(pl.col("kind") == "payment")["month"].max()  # type: ignore[assignment]
        if base_month is None:
            raise accounts.FundError(
                "entries",
                "尚无已记账的基金支出，无法预测 no payments booked: nothing to project from",
                "no_books",
            )
    base = projection.cohort_from_frames(persons, settled, s.groups, s.fp, s.pp, base_month)
    months, pay = payment_history(entries, base.funds, base_month)
    if len(months) >= 12:
        base = projection.with_history(base, months, pay)
    fit = projection.fit_history(base.payments.sum(axis=1), base.exposure, base.months, s.pp)
    pos = positions(store, s, base_month)
    opening = {f: rows[-1].closing for f, rows in pos.items() if rows}
    scenarios = projection.default_scenarios(s.pp, int(base_month[:4]), policy_change, policy_label)
    result = projection.project(
        base, fit, opening, s.rates, s.fp, s.pp, scenarios, horizon=horizon, paths=paths
    )
    result["history"] = {
        f: [
            {
                "month": r.month,
                "payments": r.payments,
                "closing": r.closing,
                "months_payable": None if r.months_x100 is None else r.months_x100 / 100,
            }
            for r in rows[-24:]
        ]
        for f, rows in pos.items()
    }
    result["fund_names"] = {f.code: [f.name, f.name_en] for f in s.fp.funds}
    if with_backtest:
        result["backtest"] = history.backtest(base, s.rates, s.fp, s.pp)
    if run_id is not None:
        store.save_projection(
            run_id,
            f"{base_month} 起 {result['horizon']} 个月",
            base_month,
            result["horizon"],
            result["paths"],
            result,
            now,
        )
        result["run_id"] = run_id
    return result


def projected_year(result: Mapping[str, Any], year: int, scenario: str = "baseline") -> dict[str, int]:
    """Σ expected payments per fund over the projected months of ``year`` (whole fen)."""
    months = result["months"]
    out = {}
    for f, body in result["scenarios"][scenario]["funds"].items():
        out[f] = fen_from_estimate(
            sum(v for m, v in zip(months, body["expected_payments"], strict=True) if m.startswith(str(year)))
        )
    return out


# -------------------------------------------------------------------------------------- the budget
def set_budget(
    store: FundStore,
    s: Setup,
    year: int,
    projected: Mapping[str, int],
    *,
    run_id: str,
    projection_run: str | None = None,
    season: Sequence[float] | None = None,
    now: dt.datetime | None = None,
) -> budget.Budget:
    """Allocate and store the year's global budget from projected payments and the booked history."""
    b = budget.allocate(year, projected, store.institution_history(), s.bp, season)
    store.save_budget(
        run_id,
        year,
        projection_run=projection_run,
        total=b.total,
        reserve=b.reserve,
        region_budget=b.region_budget,
        basis={
            "funds": list(s.bp.funds),
            "total_by_fund": b.total_by_fund,
            "reserve_by_fund": b.reserve_by_fund,
            "region_by_fund": b.region_by_fund,
            "reserve_ratio": s.bp.reserve_ratio,
            "history_weights": s.bp.history_weights,
            "growth_cap": s.bp.growth_cap,
            "growth_floor": s.bp.growth_floor,
            "withholding": s.bp.withholding,
            "sources": {k: v.title for k, v in s.bp.sources.items()},
        },
        lines=[
            {
                "fixmedins_code": ln.code,
                "fund_pay_type": ln.fund,
                "history_fen": ln.history_fen,
                "growth": ln.growth,
                "weight": ln.weight,
                "budget_fen": ln.budget_fen,
                "drg_dip_fen": ln.drg_dip_fen,
                "other_fen": ln.other_fen,
            }
            for ln in b.lines
        ],
        months=[
            {
                "fixmedins_code": a.code,
                "month": a.month,
                "advance_fen": a.advance_fen,
                "withheld_fen": a.withheld_fen,
                "paid_fen": a.paid_fen,
            }
            for a in b.advances
        ],
        now=now,
    )
    return b


def budget_from_stored(d: Mapping[str, Any]) -> budget.Budget:
    """A stored budget run back as a :class:`budget.Budget`."""
    basis = d["basis"]
    return budget.Budget(
        int(d["year"]),
        {k: int(v) for k, v in basis["total_by_fund"].items()},
        {k: int(v) for k, v in basis["reserve_by_fund"].items()},
        {k: int(v) for k, v in basis["region_by_fund"].items()},
        [
            budget.BudgetLine(
                r["fixmedins_code"],
                r["fund_pay_type"],
                r["history_fen"],
                r["growth"],
                r["weight"],
                r["budget_fen"],
                r["drg_dip_fen"],
                r["other_fen"],
            )
            for r in d["lines"]
        ],
        [
            budget.Advance(
                r["fixmedins_code"], r["month"], r["advance_fen"], r["withheld_fen"], r["paid_fen"]
            )
            for r in d["months"]
        ],
    )


def actual_payments(store: FundStore, s: Setup, year: int) -> dict[str, int]:
    """Each institution's payments of the budgeted funds in ``year``, from the books."""
    h = store.institution_history().filter(
        (pl.col("year") == year) & pl.col("fund_pay_type").is_in(list(s.bp.funds))
    )
    return {str(c): int(v) for c, v in h.group_by("fixmedins_code").agg(pl.col("paid_fen").sum()).iter_rows()}


def clear_year(
    store: FundStore,
    s: Setup,
    run_id: str,
    stored_budget: Mapping[str, Any],
    assessments: Mapping[str, budget.Assessment],
) -> list[budget.Clearing]:
    """Clear a stored budget against the booked actual payments, with each institution's assessment."""
    import json

    b = budget_from_stored(stored_budget)
    rows = budget.clear_all(b, actual_payments(store, s, b.year), assessments, s.bp)
    store.save_clearing(
        run_id,
        [
            {
                "fixmedins_code": c.code,
                "budget_fen": c.budget_fen,
                "actual_fen": c.actual_fen,
                "determined_fen": c.determined_fen,
                "coefficient": c.coefficient,
                "adjusted_fen": c.adjusted_fen,
                "withheld_fen": c.withheld_fen,
                "release_ratio": c.release_ratio,
                "released_fen": c.released_fen,
                "forfeited_fen": c.forfeited_fen,
                "paid_fen": c.paid_fen,
                "balance_fen": c.balance_fen,
                "score_x100": c.score_x100,
                "assess_run": c.assess_run,
                "explanation": json.dumps({"zh": c.zh, "en": c.en}, ensure_ascii=False),
            }
            for c in rows
        ],
    )
    return rows


def assessments_from_run(engine: Any, run_id: str | None = None) -> dict[str, budget.Assessment]:
    """The latest (or a given) stored assessment as clearing inputs: release share, coefficient and the
    sentences that explain them."""
    from yibao.assess.core import InstitutionScore, coefficient_text, release_text
    from yibao.assess.params import load_params as load_assess
    from yibao.assess.store import AssessStore

    st = AssessStore(engine)
    run = st.latest_run() if run_id is None else {"run_id": run_id}
    if run is None:
        return {}
    ap = load_assess()
    out = {}
    for sc in st.scores(run["run_id"]):
        shell = InstitutionScore(
            sc.code,
            sc.level,
            sc.score_x100,
            {},
            [],
            sc.satisfaction,
            sc.release_ratio,
            sc.coefficient,
            sc.detail.get("samples", {}),
        )
        rz, re_ = release_text(shell, ap)
        cz, ce = coefficient_text(shell, ap)
        out[sc.code] = budget.Assessment(
            sc.score_x100,
            sc.release_ratio,
            sc.coefficient,
            sc.satisfaction,
            sc.run_id,
            f"考核得分 {sc.score_x100 / 100:.2f} 分；{rz}",
            f"Assessment score {sc.score_x100 / 100:.2f}; {re_}",
            cz,
            ce,
        )
    return out
