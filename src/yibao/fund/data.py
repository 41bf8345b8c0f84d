"""Adapter: read what the fund figures need from the platform database (the ledger's settlements and
persons) and from files beside it (institutions, the bureau's fund file).  Pure frames out; no rule here."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
import yaml

from yibao.fund.core import FRAME_SCHEMA, LINE_SCHEMA, DashboardError
from yibao.fund.warning import ACTIVITY_SCHEMA, Members
from yibao.money import MoneyError, yuan_to_fen

MONEY = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "acct_pay",
    "psn_cash_pay",
)


@dataclass(frozen=True)
class Institution:
    """A designated institution of the registry (定点医药机构): code, name, district, level, kind, and — when
    the registry file has them — its street address and coordinates (WGS-84 degrees)."""

    code: str
    name: str
    district: str
    level: str
    kind: str = ""
    address: str = ""
    lat: float | None = None
    lon: float | None = None


def settled_frame(engine: sa.Engine, year: int | None = None) -> pl.DataFrame:
    """Every active settlement, one row each: who, where, when (``month`` of the visit's end date — when the
    fund pays), what kind of care, and the 2207 money fields (fen)."""
    cols = ", ".join(MONEY)
    where = "WHERE status = 'active'" + (" AND year IN (:y0, :y)" if year is not None else "")
    q = sa.text(
        f"SELECT setl_id, psn_no, insutype, psn_type, med_type, {cols}, visit FROM settlement {where}"
    )
    with engine.connect() as c:
        rows = c.execute(q, {"y": year, "y0": (year or 0) - 1}).all()
    schema: dict[str, Any] = {
        "setl_id": pl.String,
        "psn_no": pl.String,
        "insutype": pl.String,
        "psn_type": pl.String,
        "med_type": pl.String,
        **{m: pl.Int64 for m in MONEY},
        "visit": pl.String,
    }
    df = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    v = pl.col("visit")
    out = df.with_columns(
        v.str.json_path_match("$.begin_date").str.to_date().alias("begin_date"),
        v.str.json_path_match("$.end_date").str.to_date().alias("end_date"),
        v.str.json_path_match("$.locality").fill_null("local").alias("locality"),
        v.str.json_path_match("$.fixmedins_code").fill_null("").alias("fixmedins_code"),
        v.str.json_path_match("$.hosp_lv").fill_null("").alias("hosp_lv"),
        v.str.json_path_match("$.diagnoses[0]").fill_null("").alias("diagnosis"),
    ).drop("visit")
    out = out.with_columns(pl.col("end_date").dt.strftime("%Y-%m").alias("month"))
    if year is not None:
        out = out.filter(pl.col("end_date").dt.year() == year)
    return out


def spending(settled: pl.DataFrame) -> pl.DataFrame:
    """Money fields summed per (month, insutype, med_type) — the input of ``accounts.payment_entries``."""
    return (
        settled.group_by("month", "insutype", "med_type")
        .agg(*[pl.col(m).sum() for m in MONEY])
        .sort("month", "insutype", "med_type")
    )


def activity(settled: pl.DataFrame) -> pl.DataFrame:
    """Visits, total cost and fund payments per (month, insutype, med_type, locality) — the warning input."""
    return (
        settled.group_by("month", "insutype", "med_type", "locality")
        .agg(
            pl.len().cast(pl.Int64).alias("visits"),
            pl.col("medfee_sumamt").sum().alias("medfee"),
            pl.col("fund_pay_sumamt").sum().alias("fund"),
        )
        .select(list(ACTIVITY_SCHEMA))
        .sort("month", "insutype", "med_type", "locality")
    )


def persons_frame(engine: sa.Engine) -> pl.DataFrame:
    """Insured persons: psn_no, gender, birth_date, insutype, psn_type, identities ('|'-joined codes)."""
    q = sa.text("SELECT psn_no, gender, birth_date, insutype, psn_type, identities FROM person")
    with engine.connect() as c:
        rows = c.execute(q).all()
    return pl.DataFrame(
        [
            (
                r[0],
                r[1],
                r[2] if isinstance(r[2], dt.date) else dt.date.fromisoformat(str(r[2])),
                r[3],
                r[4],
                "|".join(sorted({str(x[0]) for x in json.loads(r[5] or "[]")})),
            )
            for r in rows
        ],
        schema={
            "psn_no": pl.String,
            "gender": pl.String,
            "birth_date": pl.Date,
            "insutype": pl.String,
            "psn_type": pl.String,
            "identities": pl.String,
        },
        orient="row",
    )


def members(persons: pl.DataFrame, groups: Mapping[str, str]) -> Members:
    """Counts by contribution group (the ledger holds today's register, not enrolment history)."""
    g = dict(
        persons.group_by(pl.col("psn_type").replace_strict(groups, default="resident")).len().iter_rows()
    )
    return Members(int(g.get("in_service", 0)), int(g.get("retired", 0)), int(g.get("resident", 0)))


# ------------------------------------------------------------------------------ the overview's frames
def settlement_fingerprint(engine: sa.Engine) -> tuple[int, int, int]:
    """(rows, highest id, cancelled rows) of the settlement table: changes whenever a settlement is stored
    or cancelled, so frames read under one fingerprint can be reused until it changes."""
    with engine.connect() as c:
        row = c.execute(
            sa.text(
                "SELECT COUNT(*), COALESCE(MAX(id), 0), "
                "COALESCE(SUM(CASE WHEN status = 'active' THEN 0 ELSE 1 END), 0) FROM settlement"
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def settlement_frames(
    engine: sa.Engine, institutions: dict[str, Institution]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Active settlements (one row each, see ``core.FRAME_SCHEMA``) and their lines (code, amount)."""
    s = settled_frame(engine)
    dist = {k: v.district for k, v in institutions.items()}
    df = s.select(
        pl.col("begin_date").dt.strftime("%Y-%m").alias("month"),
        "insutype",
        "med_type",
        "hosp_lv",
        "fixmedins_code",
        pl.col("fixmedins_code").replace_strict(dist, default="").alias("district"),
        "diagnosis",
        pl.col("medfee_sumamt").alias("medfee"),
        pl.col("fund_pay_sumamt").alias("fund"),
        pl.col("hifp_pay").alias("hifp"),
        pl.col("psn_cash_pay").alias("cash"),
    ).cast(FRAME_SCHEMA)  # type: ignore[arg-type]
    with engine.connect() as c:
        lines = c.execute(
            sa.text(
                "SELECT l.code, l.amount FROM settlement_line l JOIN settlement s ON s.setl_id = l.setl_id "
                "WHERE s.status = 'active'"
            )
        ).all()
    ln = pl.DataFrame(
        {"code": [r[0] for r in lines], "amount": [int(r[1]) for r in lines]}, schema=LINE_SCHEMA
    )
    return df, ln


def _candidates(db_url: str) -> list[Path]:
    env = os.environ.get("YIBAO_INSTITUTIONS")
    if env:
        return [Path(env)]
    d = data_dir_for(db_url)
    return [d / "institutions.parquet"] if d else []


def data_dir_for(db_url: str) -> Path | None:
    """The synthetic data beside a SQLite demo database (``<db stem>-data`` or ``demo-data``), if any;
    ``YIBAO_DATA_DIR`` overrides."""
    env = os.environ.get("YIBAO_DATA_DIR")
    if env:
        return Path(env)
    if not db_url.startswith("sqlite:///"):
        return None
    db = Path(db_url.removeprefix("sqlite:///"))
    for d in (db.parent / f"{db.stem}-data", db.parent / "demo-data"):
        if (d / "institutions.parquet").is_file():
            return d
    return None


def load_institutions(db_url: str) -> dict[str, Institution]:
    """The institution registry from ``YIBAO_INSTITUTIONS`` (a Parquet file, as the generator writes
    ``institutions.parquet``, or a CSV with the same columns), or from the synthetic data beside a SQLite demo
    database; empty when none.  Columns: ``fixmedins_code, name, district, level`` and optionally ``kind``,
    ``address``, ``lat``, ``lon`` (a bureau takes name, level and address from the 国家医保服务平台
    定点医药机构查询 or its own agreement register, and geocodes the address)."""
    for p in _candidates(db_url):
        if p.is_file():
            df = pl.read_csv(p, infer_schema_length=0) if p.suffix.lower() == ".csv" else pl.read_parquet(p)
            return registry_from_frame(df)
    return {}


def _degrees(v: Any) -> float | None:
    if v is None or str(v).strip() == "":
        return None
    x = float(v)
    return x if math.isfinite(x) else None


def registry_from_frame(df: pl.DataFrame) -> dict[str, Institution]:
    """Institutions from a registry frame (see :func:`load_institutions` for its columns); a missing
    optional column is empty, a coordinate outside ±90° / ±180° is dropped (shown without a distance)."""
    out: dict[str, Institution] = {}
    blank = [None] * df.height
    cols = {c: df[c].to_list() if c in df.columns else blank for c in ("kind", "address", "lat", "lon")}
    for i, (code, name, district, level) in enumerate(
        df.select("fixmedins_code", "name", "district", "level").iter_rows()
    ):
        lat, lon = _degrees(cols["lat"][i]), _degrees(cols["lon"][i])
        if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
            lat = lon = None
        out[str(code)] = Institution(
            str(code),
            str(name),
            str(district or ""),
            str(level or ""),
            str(cols["kind"][i] or ""),
            str(cols["address"][i] or ""),
            lat,
            lon,
        )
    return out


@dataclass(frozen=True)
class FundData:
    """Income per scheme per month and opening balances, as loaded from a bureau's file (fen)."""

    income: dict[str, dict[str, int]]
    opening_balance: dict[str, int]
    source: str


def load_fund_file(path: Path | None = None) -> FundData | None:
    """A bureau's fund income file (env ``YIBAO_FUND_FILE``), YAML::

    source: 2025 统筹基金收入月报
    schemes:
      "310": {opening_balance: "1200000.00", income: {"2025-01": "300000.00", …}}

    The overview shows it when no fund accounts are booked in the database."""
    raw_path = path or (Path(os.environ["YIBAO_FUND_FILE"]) if os.environ.get("YIBAO_FUND_FILE") else None)
    if raw_path is None:
        return None
    with open(raw_path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or not str(data.get("source") or "").strip():
        raise DashboardError(
            "source", f"{raw_path}: 基金文件须注明来源 the fund file needs a source", "missing"
        )
    income: dict[str, dict[str, int]] = {}
    opening: dict[str, int] = {}
    schemes = data.get("schemes")
    if not isinstance(schemes, dict):
        raise DashboardError(
            "schemes", "须为 险种 → {opening_balance, income} must map scheme → {opening_balance, income}"
        )
    for scheme, body in schemes.items():
        if not isinstance(body, dict):
            raise DashboardError(f"schemes.{scheme}", "须为映射 must be a mapping")
        try:
            opening[str(scheme)] = yuan_to_fen(body.get("opening_balance", "0"), allow_negative=True)
            inc = body.get("income") or {}
            for month, amt in inc.items():
                dt.date.fromisoformat(f"{month}-01")
                income.setdefault(str(scheme), {})[str(month)] = yuan_to_fen(amt)
        except MoneyError as exc:
            raise DashboardError(f"schemes.{scheme}", str(exc)) from exc
        except ValueError as exc:
            raise DashboardError(
                f"schemes.{scheme}", f"月份须为 YYYY-MM month must be YYYY-MM ({exc})"
            ) from exc

    return FundData(income, opening, str(data["source"]))
