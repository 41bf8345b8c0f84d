"""Adapter: read the dashboard's inputs from the ledger database (and optional files beside it)."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
import yaml

from yibao.fund.core import FRAME_SCHEMA, LINE_SCHEMA, DashboardError
from yibao.money import MoneyError, yuan_to_fen


@dataclass(frozen=True)
class Institution:
    code: str
    name: str
    district: str
    level: str


def settlement_frames(
    engine: sa.Engine, institutions: dict[str, Institution]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Active settlements (one row each, see ``core.FRAME_SCHEMA``) and their lines (code, amount)."""
    q = sa.text(
        "SELECT insutype, med_type, medfee_sumamt, fund_pay_sumamt, hifp_pay, psn_cash_pay, visit "
        "FROM settlement WHERE status = 'active'"
    )
    rows: dict[str, list[Any]] = {k: [] for k in FRAME_SCHEMA}
    with engine.connect() as c:
        for insutype, med_type, medfee, fund, hifp, cash, visit in c.execute(q):
            v = json.loads(visit)
            code = v.get("fixmedins_code", "")
            inst = institutions.get(code)
            rows["month"].append(str(v.get("begin_date", ""))[:7])
            rows["insutype"].append(insutype)
            rows["med_type"].append(med_type)
            rows["hosp_lv"].append(str(v.get("hosp_lv", "")))
            rows["fixmedins_code"].append(code)
            rows["district"].append(inst.district if inst else "")
            rows["diagnosis"].append((v.get("diagnoses") or [""])[0])
            rows["medfee"].append(int(medfee))
            rows["fund"].append(int(fund))
            rows["hifp"].append(int(hifp))
            rows["cash"].append(int(cash))
        lines = c.execute(
            sa.text(
                "SELECT l.code, l.amount FROM settlement_line l JOIN settlement s ON s.setl_id = l.setl_id "
                "WHERE s.status = 'active'"
            )
        ).all()
    df = pl.DataFrame(rows, schema=FRAME_SCHEMA)
    ln = pl.DataFrame(
        {"code": [r[0] for r in lines], "amount": [int(r[1]) for r in lines]}, schema=LINE_SCHEMA
    )
    return df, ln


def _candidates(db_url: str) -> list[Path]:
    env = os.environ.get("YIBAO_INSTITUTIONS")
    if env:
        return [Path(env)]
    if not db_url.startswith("sqlite:///"):
        return []
    db = Path(db_url.removeprefix("sqlite:///"))
    return [
        db.parent / f"{db.stem}-data" / "institutions.parquet",
        db.parent / "demo-data" / "institutions.parquet",
    ]


def load_institutions(db_url: str) -> dict[str, Institution]:
    """Institution names and districts from ``YIBAO_INSTITUTIONS`` (a synth ``institutions.parquet``), or
    from the synthetic data beside a SQLite demo database; empty when there is none."""
    for p in _candidates(db_url):
        if p.is_file():
            df = pl.read_parquet(p, columns=["fixmedins_code", "name", "district", "level"])
            return {r[0]: Institution(*r) for r in df.iter_rows()}
    return {}


@dataclass(frozen=True)
class FundData:
    """Income per scheme per month and opening balances, as loaded by the bureau (fen)."""

    income: dict[str, dict[str, int]]
    opening_balance: dict[str, int]
    source: str


def load_fund_file(path: Path | None = None) -> FundData | None:
    """The bureau's fund income file (env ``YIBAO_FUND_FILE``), YAML::

    source: 2025 统筹基金收入月报
    schemes:
      "310": {opening_balance: "1200000.00", income: {"2025-01": "300000.00", …}}
    """
    raw_path = path or (Path(os.environ["YIBAO_FUND_FILE"]) if os.environ.get("YIBAO_FUND_FILE") else None)
    if raw_path is None:
        return None
    with open(raw_path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or not str(data.get("source") or "").strip():
        raise DashboardError("source", f"{raw_path}: the fund file needs a source", "missing")
    income: dict[str, dict[str, int]] = {}
    opening: dict[str, int] = {}
    schemes = data.get("schemes")
    if not isinstance(schemes, dict):
        raise DashboardError("schemes", "must map scheme → {opening_balance, income}")
    for scheme, body in schemes.items():
        if not isinstance(body, dict):
            raise DashboardError(f"schemes.{scheme}", "must be a mapping")
        try:
            opening[str(scheme)] = yuan_to_fen(body.get("opening_balance", "0"), allow_negative=True)
            inc = body.get("income") or {}
            for month, amt in inc.items():
                dt.date.fromisoformat(f"{month}-01")
                income.setdefault(str(scheme), {})[str(month)] = yuan_to_fen(amt)
        except (MoneyError, ValueError) as exc:
            raise DashboardError(f"schemes.{scheme}", str(exc)) from exc
    return FundData(income, opening, str(data["source"]))


@dataclass(frozen=True)
class TableView:
    name: str
    rows: int
    columns: list[str]
    sample: list[tuple[Any, ...]]
    by_status: list[tuple[str, int]]


def capability_tables(engine: sa.Engine, prefixes: tuple[str, ...], sample: int = 10) -> list[TableView]:
    """Tables other capabilities created (by name prefix): row counts, counts by ``status`` when there is
    such a column, and the first rows — so a page shows their data as soon as it exists."""
    insp = sa.inspect(engine)
    out = []
    for name in sorted(insp.get_table_names()):
        if not name.startswith(prefixes):
            continue
        cols = [c["name"] for c in insp.get_columns(name)]
        t = sa.table(name, *[sa.column(c) for c in cols])
        with engine.connect() as c:
            n = int(c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            rows = [tuple(r) for r in c.execute(sa.select(t).limit(sample))]
            status: list[tuple[str, int]] = []
            if "status" in cols:
                status = [
                    (str(s), int(k))
                    for s, k in c.execute(
                        sa.select(t.c.status, sa.func.count()).group_by(t.c.status).order_by(t.c.status)
                    )
                ]
        out.append(TableView(name, n, cols, rows, status))
    return out
