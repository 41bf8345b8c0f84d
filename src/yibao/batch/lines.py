"""Line stage: every fee line split into 全自费 / 超限价 / 先行自付 / 政策范围内, then summed per visit.

Integer arithmetic identical to the engine's hot loop: over-cap rounds half up on quantity, pay-first
rounds half up on the ratio.  Catalogues may differ by policy version, so the join is on
(catalogue id, code).
"""

from __future__ import annotations

import numpy as np
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


def catalogue_ids(code: pl.Series, codes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(an id per line, the index in ``codes`` of each id); None when a line's code is not among them.

    A Categorical or Enum column (as :func:`yibao.batch.io.read_inputs` reads the codes, decoded from the
    file's dictionary) keeps its own ids, and only its few distinct names are looked up in the catalogue;
    a String column takes one Enum cast (every string hashed), and its ids are the catalogue's."""
    if isinstance(code.dtype, pl.Categorical | pl.Enum):
        names = (
            code.dtype.categories.to_series()
            if isinstance(code.dtype, pl.Categorical)
            else pl.Series(code.dtype.categories)
        )
        ids = code.to_physical().to_numpy()
        of_name = names.cast(pl.Enum(codes), strict=False).to_physical().cast(pl.Int32).fill_null(-1)
        lookup = of_name.to_numpy()
        used = np.zeros(len(lookup), dtype=bool)
        used[ids] = True
        return None if bool((lookup[used] < 0).any()) else (ids, lookup)
    try:
        ids = code.cast(pl.String).cast(pl.Enum(codes)).to_physical().to_numpy()
    except pl.exceptions.InvalidOperationError:
        return None
    return ids, np.arange(len(codes), dtype=np.int32)


def split_lines_fast(lines: pl.DataFrame, items: dict[str, CatalogueItem]) -> pl.DataFrame | None:
    """Single-catalogue fast path: codes → catalogue index (:func:`catalogue_ids`), then integer numpy.

    Returns per-visit sums (visit_id, full, over, pre, ins) or None when a code is unknown
    (the caller then reports which one).

    Most lines are plain in-scope lines (no class C, no price cap, no pay-first share): they add their
    amount to ``ins`` and need no arithmetic.  So the full pass is one gather of a per-item flag and one
    sum of the amount per visit; the rounding arithmetic runs only on the lines whose item is class C,
    capped or pays first (about a quarter), and ``ins`` is what is left of the amount.
    """
    codes = list(items)
    code = lines.get_column("code")
    if code.null_count():
        return None
    found = catalogue_ids(code, codes)
    if found is None:
        return None
    ids, lookup = found
    vid = lines.get_column("visit_id").to_numpy()
    if len(vid) == 0:
        return None
    if not bool(np.all(vid[1:] >= vid[:-1])):  # lines of a visit together: sort once, stably
        return split_lines_fast(lines.sort("visit_id", maintain_order=True), items)
    table = [items[c] for c in codes]
    is_c = np.array([t.cls == CLASS_C for t in table], dtype=bool)
    cap_of = np.array([-1 if t.price_cap is None else t.price_cap for t in table], dtype=np.int64)
    selfpay_of = np.array([t.selfpay_prop for t in table], dtype=np.int64)
    flag_of = (
        is_c * np.uint8(1)
        + ((~is_c) & (cap_of >= 0)) * np.uint8(2)
        + ((~is_c) & (selfpay_of != 0)) * np.uint8(4)
    ).astype(np.uint8)
    amount = lines.get_column("amount").to_numpy().astype(np.int64, copy=False)
    starts = np.flatnonzero(vid[1:] != vid[:-1]) + 1
    starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
    n_vis = len(starts)
    total = np.add.reduceat(amount, starts)
    full = np.zeros(n_vis, dtype=np.int64)
    over = np.zeros(n_vis, dtype=np.int64)
    pre = np.zeros(n_vis, dtype=np.int64)
    sub = np.flatnonzero(flag_of[lookup][ids])  # the lines that need arithmetic
    if len(sub):
        item = lookup[ids[sub]]  # their catalogue index
        flags = flag_of[item]
        vid0 = int(vid[0])
        if int(vid[-1]) - vid0 + 1 == n_vis:  # visit ids 0, 1, 2 … from the first: the id says the visit
            visit_of = vid[sub] - vid0
        else:
            visit_of = np.searchsorted(starts, sub, side="right") - 1
        amt = amount[sub]
        c = (flags & 1) != 0
        np.add.at(full, visit_of[c], amt[c])
        over_line = np.zeros(len(sub), dtype=np.int64)
        k = np.flatnonzero(flags & 2)
        if len(k):
            rows = sub[k]
            price = lines.get_column("price").gather(rows).to_numpy().astype(np.int64, copy=False)
            cap = cap_of[item[k]]
            m = price > cap
            k, rows, price, cap = k[m], rows[m], price[m], cap[m]
            qty = lines.get_column("qty").gather(rows).to_numpy().astype(np.int64, copy=False)
            over_line[k] = np.minimum(price_times_qty(price - cap, qty), amt[k])
            np.add.at(over, visit_of[k], over_line[k])
        p = np.flatnonzero(flags & 4)
        if len(p):
            base = amt[p] - over_line[p]
            np.add.at(pre, visit_of[p], apply_ratio(base, selfpay_of[item[p]]))
    return pl.DataFrame(
        {
            "visit_id": vid[starts],
            "full": full,
            "over": over,
            "pre": pre,
            "ins": total - full - over - pre,
        }
    )
