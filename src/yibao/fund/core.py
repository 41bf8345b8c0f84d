"""Dashboard figures as pure functions of data frames and parameters (no database, no clock).

Settlement frame columns (one row per active settlement): ``month`` (YYYY-MM of the visit's begin date),
``insutype``, ``med_type``, ``hosp_lv``, ``fixmedins_code``, ``district``, ``diagnosis`` (first),
``medfee``, ``fund``, ``hifp``, ``cash`` — money in fen.  Line frame: ``code``, ``amount``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from yibao.errors import FieldError
from yibao.money import apply_ratio

PARAMS_FILE = Path(__file__).with_name("params.yaml")
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
    income_ratio: dict[str, int]  # scheme → 1/10000 (may exceed 10000)
    income_source: str
    top_n: int


def _ratio_over_one(field: str, value: object) -> int:
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise DashboardError(field, f"{value!r} is not a decimal ratio") from exc
    units = d * 10_000
    if not d.is_finite() or units != units.to_integral_value() or units < 0:
        raise DashboardError(field, f"{value!r} must be a non-negative ratio with at most four decimals")
    return int(units)


def parse_params(data: Mapping[str, Any]) -> DashParams:
    mp = data.get("months_payable")
    if not isinstance(mp, dict):
        raise DashboardError("months_payable", "must be a mapping", "missing")
    vals: dict[str, int] = {}
    for key in ("red_below", "amber_below", "target_upto", "excessive_above"):
        v = mp.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise DashboardError(f"months_payable.{key}", f"{v!r} is not a whole number of months")
        vals[key] = v
    if not vals["red_below"] <= vals["amber_below"] <= vals["target_upto"] <= vals["excessive_above"]:
        raise DashboardError(
            "months_payable", "bands must rise: red_below ≤ amber_below ≤ target_upto ≤ excessive_above"
        )
    if not str(mp.get("source") or "").strip():
        raise DashboardError("months_payable.source", "needs a source", "missing")
    inc = data.get("illustrative_income") or {}
    if not isinstance(inc, dict) or not str(inc.get("source") or "").strip():
        raise DashboardError("illustrative_income.source", "needs a source", "missing")
    ratios = inc.get("ratio") or {}
    if not isinstance(ratios, dict):
        raise DashboardError("illustrative_income.ratio", "must map scheme → ratio")
    income_ratio = {str(k): _ratio_over_one(f"illustrative_income.ratio.{k}", v) for k, v in ratios.items()}
    top_n = data.get("top_n", 10)
    if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 100:
        raise DashboardError("top_n", f"{top_n!r} is not a whole number 1–100")
    return DashParams(Bands(**vals, source=str(mp["source"])), income_ratio, str(inc["source"]), top_n)


@lru_cache(maxsize=4)
def load_params(path: Path = PARAMS_FILE) -> DashParams:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise DashboardError(str(path), "is not a YAML mapping")
    return parse_params(data)


# ---------------------------------------------------------------------------- fund and months payable
def band(months_x100: int | None, b: Bands) -> str:
    """``red`` (<3: 结余不足) · ``amber`` (3–6) · ``target`` (6–9) · ``high`` (9–15) · ``excessive``
    (>15: 结余过多) with the default bands; ``none`` when there is no expenditure to divide by."""
    if months_x100 is None:
        return "none"
    if months_x100 < b.red_below * 100:
        return "red"
    if months_x100 < b.amber_below * 100:
        return "amber"
    if months_x100 <= b.target_upto * 100:
        return "target"
    if months_x100 <= b.excessive_above * 100:
        return "high"
    return "excessive"


@dataclass(frozen=True)
class MonthRow:
    month: str
    income: int
    expenditure: int
    balance: int  # cumulative: opening balance + every month's income − expenditure so far
    months_x100: int | None  # months payable in hundredths (balance ÷ average monthly expenditure so far)
    band: str


def months_payable(balance: int, total_expenditure: int, n_months: int) -> int | None:
    """Cumulative balance ÷ average monthly expenditure, in hundredths of a month, rounded toward −∞.
    None when nothing was spent yet."""
    if n_months <= 0 or total_expenditure <= 0:
        return None
    return balance * 100 * n_months // total_expenditure


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


def illustrative_income(expenditure: Mapping[str, int], ratio: int) -> dict[str, int]:
    """Income shown when none is loaded: each month's expenditure × the scheme's national ratio."""
    return {m: apply_ratio(v, ratio) for m, v in expenditure.items()}


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
