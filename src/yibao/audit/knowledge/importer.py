"""Build a knowledge directory from a bureau's catalogue table with restriction columns.

A bureau keeps its 目录 with one row per item and columns for the restrictions the rules read.  The
importer writes the item tables of :mod:`yibao.audit.knowledge` from those columns and copies every other
table (exclusive pairs, bundles, care markers, course markers, …) from a base directory (default: the
EXAMPLE tables), then loads the result once so a bad cell fails here, naming the column and the row.

Catalogue columns (``code`` and ``name`` required, every other one optional, empty cell = no restriction):

=============  ==========================================================================================
``sex``        M / F — item restricted to one sex (item_sex)
``min_age``    ``max_age`` — completed years (item_age)
``min_level``  lowest hospital level that may use the item (item_level)
``indications``  ICD-10 prefixes, ``|`` or ``;`` separated (item_indication)
``unit_price`` price standard in 元 (price_standard, with ``kind``)
``pack_units`` units in one dispensing pack; ``daily_max`` the largest daily units (item_pack, supply)
``max_days``   days of supply one prescription may cover; ``days_class`` its class (days_limit)
``max_per_day`` times an item may be billed a day (frequency)
=============  ==========================================================================================
"""

from __future__ import annotations

import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl

from yibao.audit.knowledge import Knowledge, KnowledgeError, example_dir, load_knowledge

# table → the catalogue columns it is written from (a table whose columns the catalogue lacks is copied
# from the base directory instead)
PRODUCED: dict[str, tuple[str, ...]] = {
    "item_sex": ("sex",),
    "item_age": ("min_age", "max_age"),
    "item_level": ("min_level",),
    "item_indication": ("indications",),
    "price_standard": ("unit_price",),
    "item_pack": ("daily_max",),
    "supply": ("daily_max",),
    "days_limit": ("max_days",),
    "frequency": ("max_per_day",),
}


def _col(cat: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name).fill_null("").str.strip_chars() if name in cat.columns else pl.lit("")


def _has(name: str) -> pl.Expr:
    return pl.col(name).fill_null("").str.strip_chars() != ""


def _fen(text: str, row: int) -> str:
    try:
        fen = Decimal(text) * 100
    except InvalidOperation:
        raise KnowledgeError(
            "catalogue.unit_price", f"第{row}行 row {row}: {text!r} 不是数字 not a number"
        ) from None
    return str(int(fen.to_integral_value()))


def import_catalogue(catalogue: str | Path, out_dir: str | Path, base: str | Path | None = None) -> Knowledge:
    """Write a knowledge directory ``out_dir`` from ``catalogue`` (CSV) and ``base``; return it loaded.

    The directory is written to a sibling temporary directory first and moved into place only when it
    loads, so a bad catalogue leaves nothing half-written."""
    src = Path(catalogue)
    if not src.exists():
        raise KnowledgeError("catalogue", f"文件不存在 file not found: {src}")
    cat = pl.read_csv(src, infer_schema_length=0)
    for need in ("code", "name"):
        if need not in cat.columns:
            raise KnowledgeError(f"catalogue.{need}", "缺少列 column missing")
    cat = cat.with_columns(*(_col(cat, c).alias(c) for c in cat.columns))
    base_dir = Path(base) if base is not None else example_dir()
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".importing")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        produced = {t for t, cols in PRODUCED.items() if any(c in cat.columns for c in cols)}
        for f in base_dir.glob("*.csv"):
            if f.stem not in produced:
                shutil.copy(f, tmp / f.name)
        if (base_dir / "MANIFEST.yaml").exists():
            shutil.copy(base_dir / "MANIFEST.yaml", tmp / "MANIFEST.yaml")
        _write_items(cat, tmp, produced)
        knowledge = load_knowledge(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return knowledge


def _opt(cat: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return cat.with_columns(*(pl.lit("").alias(c) for c in cols if c not in cat.columns))


def _write_items(cat: pl.DataFrame, d: Path, produced: set[str]) -> None:
    cat = _opt(cat, *{c for cols in PRODUCED.values() for c in cols}, "kind", "pack_units", "days_class")
    frames: dict[str, pl.DataFrame] = {
        "item_sex": cat.filter(_has("sex")).select("code", "name", "sex"),
        "item_age": cat.filter(_has("min_age") | _has("max_age")).select(
            "code", "name", "min_age", "max_age"
        ),
        "item_level": cat.filter(_has("min_level")).select("code", "name", "min_level"),
        "item_indication": cat.filter(_has("indications")).select(
            "code",
            "name",
            pl.col("indications").str.replace_all(";", "|", literal=True).alias("icd_prefixes"),
        ),
        "item_pack": cat.filter(_has("daily_max")).select("code", "name", "pack_units", "daily_max"),
        "supply": cat.filter(_has("daily_max")).select(
            "code", "name", pl.col("daily_max").alias("max_units_per_day")
        ),
        "days_limit": cat.filter(_has("max_days")).select("code", "name", "max_days", "days_class"),
        "frequency": cat.filter(_has("max_per_day")).select(
            "code", "name", "max_per_day", pl.lit("").alias("period_days"), pl.lit("").alias("max_per_period")
        ),
    }
    priced = cat.filter(_has("unit_price"))
    fen = [_fen(t, i + 1) for i, t in enumerate(priced["unit_price"].to_list())]
    frames["price_standard"] = priced.select(
        "code",
        "name",
        pl.when(_has("kind")).then(pl.col("kind")).otherwise(pl.lit("item")).alias("kind"),
        pl.Series("standard_price_fen", fen, pl.String),
    )
    for name in produced:
        frames[name].write_csv(d / f"{name}.csv")
