"""Dashboard figures as pure functions of data frames and parameters (no database, no clock).

Settlement frame columns (one row per active settlement): ``month`` (YYYY-MM of the visit's begin date),
``insutype``, ``med_type``, ``hosp_lv``, ``fixmedins_code``, ``district``, ``diagnosis`` (first),
``medfee``, ``fund``, ``hifp``, ``cash`` — money in fen.  Line frame: ``code``, ``amount``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from yibao.errors import FieldError
from yibao.fund.accounts import band, months_payable
from yibao.fund.params import load_params as load_fund_params

__all__ = ["band", "months_payable"]
FRAME_SCHEMA: dict[str, Any] = {
    "month": pl.String,
    "insutype": pl.String,
    "med_type": pl.String,
    "hosp_lv": pl.String,
    "fixmedins_code": pl.String,
    "district": pl.String,
    "diagnosis": pl.String,
    "medfee": pl.Int64,
    "fund": pl.Int64,
    "hifp": pl.Int64,
    "cash": pl.Int64,
}
LINE_SCHEMA: dict[str, Any] = {"code": pl.String, "amount": pl.Int64}


class DashboardError(FieldError):
    """Bad dashboard parameters or inputs."""


@dataclass(frozen=True)
class Bands:
    red_below: int
    amber_below: int
    target_upto: int
    excessive_above: int
    source: str


@dataclass(frozen=True)
class DashParams:
    bands: Bands
    top_n: int


def load_params() -> DashParams:
    """The overview's parameters: the months-payable bands and the length of its top-N lists
    (``params.yaml``)."""
    p = load_fund_params()
    mp = p.months_payable
    return DashParams(
        Bands(mp.red_below, mp.amber_below, mp.target_upto, mp.excessive_above, p.sources[mp.source].title),
        p.top_n,
    )


# ---------------------------------------------------------------------------- fund and months payable
@dataclass(frozen=True)
class MonthRow:
    month: str
    income: int
    expenditure: int
    balance: int  # cumulative: opening balance + every month's income − expenditure so far
    months_x100: int | None  # months payable in hundredths (balance ÷ average monthly expenditure so far)
    band: str


def fund_by_month(
    expenditure: Mapping[str, int], income: Mapping[str, int], opening_balance: int, bands: Bands
) -> list[MonthRow]:
    """Month by month (sorted): income, expenditure, cumulative balance and months payable with its band."""
    months = sorted(set(expenditure) | set(income))
    out = []
    bal, spent = opening_balance, 0
    for i, m in enumerate(months, start=1):
        inc, exp = income.get(m, 0), expenditure.get(m, 0)
        bal += inc - exp
        spent += exp
        mp = months_payable(bal, spent, i)
        out.append(MonthRow(m, inc, exp, bal, mp, band(mp, bands)))
    return out


def expenditure_by_scheme_month(df: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Pooled-fund expenditure (``hifp``, 统筹基金支出) per scheme per month."""
    g = df.group_by("insutype", "month").agg(pl.col("hifp").sum())
    out: dict[str, dict[str, int]] = {}
    for scheme, month, amt in g.iter_rows():
        out.setdefault(scheme, {})[month] = int(amt)
    return out


@dataclass(frozen=True)
class Alert:
    level: str  # red / amber / info
    scheme: str
    zh: str
    en: str


def alerts_for(
    scheme_names: Mapping[str, tuple[str, str]], rows_by_scheme: Mapping[str, list[MonthRow]], bands: Bands
) -> list[Alert]:
    """Alerts on the latest month of each scheme: months payable outside the target band, and a
    current-period deficit (expenditure above income)."""
    out = []
    for scheme, rows in sorted(rows_by_scheme.items()):
        if not rows:
            continue
        last = rows[-1]
        zh, en = scheme_names.get(scheme, (scheme, scheme))
        mp = "—" if last.months_x100 is None else f"{last.months_x100 / 100:.1f}"
        if last.band == "red":
            out.append(
                Alert(
                    "red",
                    scheme,
                    f"{zh}累计结余可支付 {mp} 个月，低于 {bands.red_below} 个月（结余不足）",
                    f"{en}: {mp} months payable, below {bands.red_below} (insufficient)",
                )
            )
        elif last.band == "amber":
            out.append(
                Alert(
                    "amber",
                    scheme,
                    f"{zh}可支付 {mp} 个月，处于 {bands.red_below}–{bands.amber_below} 个月预警区间",
                    f"{en}: {mp} months payable, in the {bands.red_below}–{bands.amber_below} month warning band",
                )
            )
        elif last.band == "excessive":
            out.append(
                Alert(
                    "amber",
                    scheme,
                    f"{zh}可支付 {mp} 个月，超过 {bands.excessive_above} 个月（结余过多）",
                    f"{en}: {mp} months payable, above {bands.excessive_above} (excessive surplus)",
                )
            )
        income = sum(r.income for r in rows)
        spent = sum(r.expenditure for r in rows)
        if spent > income:
            out.append(
                Alert(
                    "red",
                    scheme,
                    f"{zh}本期支出大于收入（当期赤字）",
                    f"{en}: expenditure above income this period",
                )
            )
    return out


# ---------------------------------------------------------------------------- breakdowns and drivers
@dataclass(frozen=True)
class Group:
    key: str
    visits: int
    medfee: int
    fund: int
    cash: int


def breakdown(df: pl.DataFrame, key: str) -> list[Group]:
    """Visits and amounts per value of ``key`` (scheme, level, district, …), largest total first."""
    g = (
        df.group_by(key)
        .agg(pl.len().alias("visits"), pl.col("medfee").sum(), pl.col("fund").sum(), pl.col("cash").sum())
        .sort(["medfee", key], descending=[True, False])
    )
    return [
        Group(str(k), int(n), int(m), int(f), int(c))
        for k, n, m, f, c in g.select(key, "visits", "medfee", "fund", "cash").iter_rows()
    ]


def top_items(lines: pl.DataFrame, n: int) -> list[tuple[str, int, int]]:
    """Catalogue items with the largest total amount: (code, lines, amount)."""
    g = (
        lines.group_by("code")
        .agg(pl.len().alias("n"), pl.col("amount").sum())
        .sort(["amount", "code"], descending=[True, False])
        .head(n)
    )
    return [(str(c), int(k), int(a)) for c, k, a in g.iter_rows()]


def top_by(df: pl.DataFrame, key: str, n: int) -> list[Group]:
    return breakdown(df.filter(pl.col(key) != ""), key)[:n]


def by_month(df: pl.DataFrame) -> list[tuple[str, int, int, int]]:
    """(month, visits, medfee, fund) sorted by month."""
    g = df.group_by("month").agg(pl.len(), pl.col("medfee").sum(), pl.col("fund").sum()).sort("month")
    return [(str(m), int(n), int(a), int(f)) for m, n, a, f in g.iter_rows()]
