"""Line stage: every fee line split into 全自费 / 超限价 / 先行自付 / 政策范围内, then summed per visit.

Integer arithmetic identical to the engine's hot loop: over-cap rounds half up on quantity, pay-first
rounds half up on the ratio.  Catalogues may differ by policy version, so the join is on
(catalogue id, code).
"""

from __future__ import annotations

import polars as pl

from yibao.money import apply_ratio, price_times_qty
from yibao.policy.catalogue import CLASS_C, CatalogueItem


def catalogue_frame(catalogues: dict[int, dict[str, CatalogueItem]]) -> pl.DataFrame:
    """One row per (catalogue id, item code) with the fields settlement reads."""
    rows: dict[str, list[object]] = {"cat_id": [], "code": [], "is_c": [], "selfpay": [], "cap": []}
    for cid, items in catalogues.items():
        for item in items.values():
            rows["cat_id"].append(cid)
            rows["code"].append(item.code)
            rows["is_c"].append(item.cls == CLASS_C)
            rows["selfpay"].append(item.selfpay_prop)
            rows["cap"].append(item.price_cap)
    return pl.DataFrame(
        rows,
        schema={
            "cat_id": pl.Int32,
            "code": pl.String,
            "is_c": pl.Boolean,
            "selfpay": pl.Int64,
            "cap": pl.Int64,
        },
    )


def split_lines(lines: pl.LazyFrame, visit_cat: pl.LazyFrame, cat: pl.DataFrame) -> pl.LazyFrame:
    """``lines`` (visit_id, feedetl_sn, code, qty, price, amount) → the four parts per line.

    ``visit_cat`` maps visit_id → cat_id.  Lines whose code is not in the catalogue get ``known`` false.
    """
    joined = lines.join(visit_cat, on="visit_id", how="left").join(
        cat.lazy(), on=["cat_id", "code"], how="left"
    )
    over_raw = price_times_qty(pl.col("price") - pl.col("cap"), pl.col("qty"))
    over = (
        pl.when(pl.col("is_c") | pl.col("cap").is_null() | (pl.col("price") <= pl.col("cap")))
        .then(0)
        .otherwise(pl.min_horizontal(over_raw, pl.col("amount")))
    )
    return (
        joined.with_columns(known=pl.col("is_c").is_not_null())
        .with_columns(over=over)
        .with_columns(base=pl.col("amount") - pl.col("over"))
        .with_columns(
            full=pl.when(pl.col("is_c")).then(pl.col("amount")).otherwise(0),
            pre=pl.when(pl.col("is_c")).then(0).otherwise(apply_ratio(pl.col("base"), pl.col("selfpay"))),
        )
        .with_columns(ins=pl.when(pl.col("is_c")).then(0).otherwise(pl.col("base") - pl.col("pre")))
        .select("visit_id", "feedetl_sn", "code", "amount", "known", "full", "over", "pre", "ins")
    )


def visit_sums(split: pl.LazyFrame) -> pl.LazyFrame:
    return split.group_by("visit_id").agg(
        pl.col("full").sum(),
        pl.col("over").sum(),
        pl.col("pre").sum(),
        pl.col("ins").sum(),
        pl.col("known").all().alias("all_known"),
        pl.len().alias("n_lines"),
    )


def split_lines_fast(lines: pl.DataFrame, items: dict[str, CatalogueItem]) -> pl.DataFrame | None:
    """Single-catalogue fast path: codes → catalogue index by an Enum cast, then integer numpy.

    Returns per-visit sums (visit_id, full, over, pre, ins, n_lines) or None when a code is unknown
    (the caller then reports which one).
    """
    import numpy as np

    codes = list(items)
    try:
        idx = (
            lines.select(pl.col("code").cast(pl.String).cast(pl.Enum(codes)).to_physical())
            .to_series()
            .to_numpy()
        )
    except pl.exceptions.InvalidOperationError:
        return None
    is_c = np.array([items[c].cls == CLASS_C for c in codes])[idx]
    selfpay = np.array([items[c].selfpay_prop for c in codes], dtype=np.int64)[idx]
    cap = np.array(
        [items[c].price_cap if items[c].price_cap is not None else -1 for c in codes], dtype=np.int64
    )[idx]
    amount = lines["amount"].to_numpy().astype(np.int64, copy=False)
    price = lines["price"].to_numpy().astype(np.int64, copy=False)
    qty = lines["qty"].to_numpy().astype(np.int64, copy=False)
    capped = (~is_c) & (cap >= 0) & (price > cap)
    over = np.zeros(len(amount), dtype=np.int64)
    if capped.any():
        over[capped] = np.minimum(price_times_qty(price[capped] - cap[capped], qty[capped]), amount[capped])
    base = amount - over
    pre = np.where(is_c, 0, apply_ratio(base, selfpay))
    ins = np.where(is_c, 0, base - pre)
    full = np.where(is_c, amount, 0)
    vid = lines["visit_id"].to_numpy()
    if len(vid) and bool(np.all(vid[1:] >= vid[:-1])):
        starts = np.r_[0, np.nonzero(np.diff(vid))[0] + 1]
        return (
            pl.DataFrame(
                {
                    "visit_id": vid[starts],
                    "full": np.add.reduceat(full, starts),
                    "over": np.add.reduceat(over, starts),
                    "pre": np.add.reduceat(pre, starts),
                    "ins": np.add.reduceat(ins, starts),
                    "n_lines": np.diff(np.r_[starts, len(vid)]).astype(np.uint32),
                }
            )
            if len(vid)
            else None
        )
    frame = pl.DataFrame({"visit_id": vid, "full": full, "over": over, "pre": pre, "ins": ins})
    return frame.group_by("visit_id").agg(
        pl.col("full", "over", "pre", "ins").sum(), pl.len().alias("n_lines")
    )
