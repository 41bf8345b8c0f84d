"""Shared plumbing for the scenario injectors: Polars views of a chunk and re-establishing the invariants.

Injectors edit a chunk as Polars frames and hand the result to :func:`finish`, which restores what
the synth schema promises (docs/SYNTH.md, ``yibao.synth.inject``): visit ids in (begin_date, tie)
order inside the chunk starting at the chunk's first id, ``seq`` = ``visit_id``, ``mdtrt_id`` built
from the id, ``feedetl_sn`` 1..n per visit, ``n_lines`` = the line count, and
``amount = round_half_up(price × qty / 10000)`` (recomputed for every line).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import yaml

from yibao.errors import FieldError
from yibao.money import price_times_qty
from yibao.synth.generator import LINES_SCHEMA, VISITS_SCHEMA

PARAMS_FILE = Path(__file__).with_name("params.yaml")
DEFAULT_CATALOGUE = Path(__file__).parents[2] / "policy" / "regions" / "catalogue-shaanxi.csv"
NEW_SN = 10_000  # appended lines get feedetl_sn ≥ this before renumbering


@cache
def params(path: str = str(PARAMS_FILE)) -> dict[str, Any]:
    """The scenario parameters (rates, ranges) from ``params.yaml``."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "source" not in data:
        raise FieldError(
            "params.yaml", "须为映射表并注明出处（source:） must be a mapping with a 'source:' citation"
        )
    return data


@cache
def catalogue(path: str = str(DEFAULT_CATALOGUE)) -> pl.DataFrame:
    """Catalogue rows with a unit price: code, kind, unit price (fen), sex / age restrictions."""
    raw = pl.read_csv(path, infer_schema_length=0)
    return raw.filter(pl.col("unit_price").is_not_null()).select(
        "code",
        "name",
        "kind",
        (pl.col("unit_price").cast(pl.Decimal(12, 2)) * 100).cast(pl.Int64).alias("unit_price"),
        pl.col("sex"),
        pl.col("min_age").cast(pl.Int32),
        pl.col("max_age").cast(pl.Int32),
    )


def frames(visits: pa.Table, lines: pa.Table) -> tuple[pl.DataFrame, pl.DataFrame]:
    v = pl.from_arrow(visits)
    ln = pl.from_arrow(lines)
    assert isinstance(v, pl.DataFrame) and isinstance(ln, pl.DataFrame)
    return v, ln


def persons_frame(persons: pa.Table) -> pl.DataFrame:
    p = pl.from_arrow(persons)
    assert isinstance(p, pl.DataFrame)
    return p


def amount_expr() -> pl.Expr:
    """``round_half_up(price × qty / 10000)`` for non-negative price and qty (the schema's rule)."""
    return price_times_qty(pl.col("price"), pl.col("qty")).alias("amount")


def label_visits(v: pl.DataFrame, ids: pl.Series | list[int], name: str) -> pl.DataFrame:
    """``v`` with ``scenario`` = ``name`` on the visits in ``ids`` (an earlier label is kept)."""
    hit = pl.col("visit_id").is_in(pl.Series(ids, dtype=pl.Int64).implode())
    return v.with_columns(
        pl.when(hit & pl.col("scenario").is_null())
        .then(pl.lit(name))
        .otherwise(pl.col("scenario"))
        .alias("scenario")
    )


def year_bounds(v: pl.DataFrame) -> tuple[dt.date, dt.date]:
    lo, hi = v["begin_date"].min(), v["end_date"].max()
    assert isinstance(lo, dt.date) and isinstance(hi, dt.date)
    return dt.date(lo.year, 1, 1), dt.date(hi.year, 12, 31)


def finish(v: pl.DataFrame, ln: pl.DataFrame, first_id: int) -> tuple[pa.Table, pa.Table]:
    """Renumber visits and lines and rebuild the derived columns (see the module docstring)."""
    v = v.sort("begin_date", "visit_id")
    ln = service_dates(v, ln)
    new_id = pl.int_range(0, pl.len(), dtype=pl.Int64) + first_id
    remap = v.select(pl.col("visit_id").alias("old"), new_id.alias("new"))
    prefix = v["mdtrt_id"].str.head(-12)
    ln = (
        ln.join(remap, left_on="visit_id", right_on="old", how="inner")
        .with_columns(pl.col("new").alias("visit_id"))
        .drop("new")
        .sort("visit_id", "feedetl_sn")
        .with_columns(
            (pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("visit_id")).alias("feedetl_sn"),
            amount_expr(),
        )
    )
    counts = ln.group_by("visit_id").agg(pl.len().cast(pl.Int16).alias("n_lines"))
    v = (
        v.with_columns(new_id.alias("visit_id"), prefix.alias("_prefix"))
        .with_columns(
            pl.col("visit_id").alias("seq"),
            (pl.col("_prefix") + pl.col("visit_id").cast(pl.String).str.zfill(12)).alias("mdtrt_id"),
        )
        .drop("_prefix", "n_lines")
        .join(counts, on="visit_id", how="left")
        .with_columns(pl.col("n_lines").fill_null(0))
    )
    return _arrow(v, VISITS_SCHEMA), _arrow(ln, LINES_SCHEMA)


def service_dates(v: pl.DataFrame, ln: pl.DataFrame) -> pl.DataFrame:
    """``ln`` with every ``fee_ocur_time`` inside its visit's dates: a line an injector added (null) is
    dated on the visit's first day, a line of a visit whose dates moved is kept within them."""
    if "fee_ocur_time" not in ln.columns:
        ln = ln.with_columns(pl.lit(None, pl.Date).alias("fee_ocur_time"))
    span = v.select("visit_id", pl.col("begin_date").alias("_b"), pl.col("end_date").alias("_e"))
    return (
        ln.join(span, on="visit_id", how="left")
        .with_columns(
            pl.col("fee_ocur_time")
            .fill_null(pl.col("_b"))
            .clip(pl.col("_b"), pl.col("_e"))
            .alias("fee_ocur_time")
        )
        .drop("_b", "_e")
    )


def _arrow(df: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    tbl = df.select(schema.names).to_arrow(compat_level=pl.CompatLevel.oldest())
    return tbl.cast(schema)


def new_ids(v: pl.DataFrame, n: int) -> list[int]:
    """``n`` fresh visit ids above the chunk's (renumbered by :func:`finish`)."""
    top = v["visit_id"].max()
    start = int(top) + 1 if isinstance(top, int) else 0
    return list(range(start, start + n))
