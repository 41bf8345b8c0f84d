"""Reports of a payment: summary, Rich tables with bilingual headers, CSV / JSON files (the I/O edge)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
from rich.table import Table

from yibao.money import RATIO_ONE, fmt_yuan
from yibao.payment.core import PU_PER_POINT, Payment

FOUR = Decimal("0.0001")


def points(pu: int) -> Decimal:
    """1/10000-point units to points (exact, four decimals)."""
    return Decimal(pu).scaleb(-4)


def ratio(units: int) -> Decimal:
    return (Decimal(units) / RATIO_ONE).quantize(FOUR)


def fraction4(x: Fraction) -> Decimal:
    """A Fraction shown to four decimals, rounded half up (display only)."""
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(FOUR, rounding=ROUND_HALF_UP)


def summary(p: Payment) -> dict[str, Any]:
    """The year's headline numbers; point values in 元 per point, as four-decimal strings."""
    h = p.hospitals
    cases = p.cases
    flag = "outlier" if "outlier" in cases.columns else "deviation"
    classes = dict(cases.get_column(flag).value_counts().sort(flag).iter_rows())
    out: dict[str, Any] = {
        "method": p.method,
        "year": p.year,
        "pool_fen": p.pool_fen,
        "hospitals": h.height,
        "cases": cases.height,
        "groups": p.groups.height,
        "points": str(points(int(h.get_column("points_pu").sum()))),
        "budget_point_value_yuan": str(fraction4(p.budget_point_value * PU_PER_POINT / 100)),
        "settlement_point_value_yuan": str(fraction4(p.settlement_point_value * PU_PER_POINT / 100)),
        "base_rate_yuan": str(fraction4(p.base_rate() / 100)),
        "base_rate_by_level_yuan": {
            lv: str(fraction4(p.base_rate(c) / 100)) for lv, c in p.level_coefficients
        },
        "due_fen": int(h.get_column("due_fen").sum()),
        "pre_paid_fen": int(h.get_column("pre_paid_fen").sum()),
        "withheld_fen": int(h.get_column("withheld_fen").sum()),
        "balance_fen": int(h.get_column("balance_fen").sum()),
        "cost_fen": int(h.get_column("cost_fen").sum()),
        "profit_fen": int(h.get_column("profit_fen").sum()),
        f"{flag}_cases": classes,
    }
    if "review" in cases.columns:
        out["review_cases"] = int(cases.get_column("review").sum())
    return out


def clearing_table(p: Payment, limit: int = 30) -> Table:
    """Annual clearing (年度清算) per hospital."""
    t = Table(title=f"{p.year} 年度清算 annual clearing · {p.method.upper()}", show_lines=False)
    heads = [
        "机构 institution",
        "级 lv",
        "病例 cases",
        "CMI",
        "点数 points",
        "费用 cost",
        "应付 due",
        "已付 paid",
        "差额 balance",
        "盈亏 profit",
    ]
    for i, hname in enumerate(heads):
        t.add_column(hname, justify="left" if i < 2 else "right", no_wrap=i == 0)
    for r in p.hospitals.head(limit).iter_rows(named=True):
        t.add_row(
            r["fixmedins_code"],
            r["hosp_lv"],
            str(r["cases"]),
            str(ratio(r.get("cmi") or 0)),
            f"{points(r['points_pu']):,.0f}",
            wan(r["cost_fen"]),
            wan(r["due_fen"]),
            wan(r["pre_paid_fen"]),
            wan(r["balance_fen"]),
            wan(r["profit_fen"]),
        )
    t.caption = "金额单位 万元 amounts in 10,000 元 (exact fen in hospitals.csv)"
    if p.hospitals.height > limit:
        t.caption += f"; 前 {limit} 家 / first {limit} of {p.hospitals.height} institutions (all in the CSV)"
    return t


def monthly_table(p: Payment, fixmedins_code: str | None = None) -> Table:
    """Monthly pre-settlement (月度预结算), one hospital (the first one by default)."""
    code = fixmedins_code or p.hospitals.item(0, "fixmedins_code")
    t = Table(title=f"{code} 月度预结算 monthly pre-settlement")
    for i, hname in enumerate(
        ["月 month", "病例 cases", "点数 points", "预结算 pre-due", "预留 withheld", "拨付 paid"]
    ):
        t.add_column(hname, justify="right" if i else "left")
    for r in p.monthly.filter(pl.col("fixmedins_code") == code).iter_rows(named=True):
        t.add_row(
            str(r["month"]),
            str(r["cases"]),
            f"{points(r['points_pu']):,.2f}",
            fmt_yuan(r["pre_due_fen"]),
            fmt_yuan(r["withheld_fen"]),
            fmt_yuan(r["pre_paid_fen"]),
        )
    return t


def wan(fen: int) -> str:
    """Fen shown in 万元 to two decimals, rounded half up (display only)."""
    return f"{(Decimal(fen) / 1_000_000).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def write_outputs(p: Payment, out_dir: Path) -> list[Path]:
    """Write cases / hospitals (clearing) / monthly (pre-settlement) / groups as CSV, plus JSON and a summary.

    Money columns are integer fen (``*_fen``), points in 1/10000 point (``*_pu``), ratios in 1/10000.
    Files are written to a temporary name and renamed, so a failure leaves no half-written report.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, write: Any) -> None:
        final = out_dir / name
        tmp = out_dir / f".{name}.tmp"
        write(tmp)
        tmp.replace(final)
        written.append(final)

    cases = p.cases.drop([c for c in ("trace",) if c in p.cases.columns])
    put("cases.csv", cases.write_csv)
    put("hospitals.csv", p.hospitals.write_csv)
    put("hospitals.json", p.hospitals.write_json)
    put("monthly.csv", p.monthly.write_csv)
    put("monthly.json", p.monthly.write_json)
    put("groups.csv", p.groups.write_csv)
    text = json.dumps(summary(p), ensure_ascii=False, indent=2)
    put("summary.json", lambda path: Path(path).write_text(text, encoding="utf-8"))
    return written
