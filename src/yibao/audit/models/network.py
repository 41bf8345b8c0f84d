"""Network model: patients seen together at one provider far beyond chance (MX-NET-001).

For each provider, regular patients (at least ``min_days_per_person`` visit days there) are paired
when they visit on the same day.  Under independence the number of shared days of two patients with
``a`` and ``b`` visit days out of the provider's ``N`` open days is hypergeometric(N, a, b); pairs
whose tail probability is below ``alpha`` / (pairs tested) are significant.  Members of the same
household are not paired (families come together).  Connected components of significant pairs with
at least ``min_component`` persons are rings; their visits on days with two or more members present
are flagged.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix, csr_matrix, triu  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]
from scipy.stats import hypergeom  # type: ignore[import-untyped]

from yibao.audit.flags import empty_flags
from yibao.audit.models.features import Params, flags, fmt, json_of, stake


def _co_days(days: pl.DataFrame, regulars: pl.DataFrame, min_co_days: int) -> pl.DataFrame:
    """(fixmedins_code, psn_id, psn_id_b, x): pairs of regulars of one provider (psn_id < psn_id_b) seen there
    together on ``x`` ≥ ``min_co_days`` days.

    A sparse incidence product: rows are (provider, person) nodes, columns (provider, day) cells, and
    M·Mᵀ counts the shared days of every pair in C (a self-join on (provider, day) would materialise
    every same-day pair, tens of millions at 10M lines).  Nodes are numbered in (provider, person)
    order, so the upper triangle holds each pair once with the smaller person first.
    """
    empty = pl.DataFrame(
        schema={
            "fixmedins_code": pl.String,
            "psn_id": days.schema["psn_id"],
            "psn_id_b": days.schema["psn_id"],
            "x": pl.Int64,
        }
    )
    if regulars.height < 2:
        return empty
    nodes = (
        regulars.select("fixmedins_code", "psn_id").sort("fixmedins_code", "psn_id").with_row_index("node")
    )
    r = days.join(nodes, on=["fixmedins_code", "psn_id"])
    cells = r.select("fixmedins_code", "begin_date").unique().with_row_index("cell")
    r = r.join(cells, on=["fixmedins_code", "begin_date"])
    m = csr_matrix(
        (np.ones(r.height, dtype=np.int32), (r["node"].to_numpy(), r["cell"].to_numpy())),
        shape=(nodes.height, cells.height),
    )
    co = triu(m @ m.T, k=1).tocoo()
    keep = co.data >= min_co_days
    if not keep.any():
        return empty
    i, j, x = co.row[keep], co.col[keep], co.data[keep].astype(np.int64)
    prov, psn = nodes["fixmedins_code"], nodes["psn_id"]
    return pl.DataFrame(
        {"fixmedins_code": prov.gather(i), "psn_id": psn.gather(i), "psn_id_b": psn.gather(j), "x": x}
    )


def co_visit_rings(v: pl.DataFrame, persons: pl.DataFrame | None, p: Params) -> pl.DataFrame:
    cfg = p["network"]
    # a course's sessions (rehabilitation, TCM, infusion, dialysis: knowledge table course_markers) follow
    # the provider's schedule, so its patients meet by design: set aside from the pairing, not from the flags
    in_course = pl.col("session") & (pl.col("session_n") >= int(cfg["course_min_sessions"]))
    days = v.filter(~in_course).select("psn_id", "fixmedins_code", "begin_date").unique()
    open_days = days.group_by("fixmedins_code").agg(pl.col("begin_date").n_unique().alias("N"))
    per = days.group_by("psn_id", "fixmedins_code").agg(pl.len().alias("d"))
    pairs = _co_days(
        days, per.filter(pl.col("d") >= int(cfg["min_days_per_person"])), int(cfg["min_co_days"])
    )
    if persons is not None and "household_id" in persons.columns:
        hh = persons.select("psn_id", "household_id")
        pairs = (
            pairs.join(hh, on="psn_id")
            .join(hh.rename({"psn_id": "psn_id_b", "household_id": "hh_b"}), on="psn_id_b")
            .filter(pl.col("household_id") != pl.col("hh_b"))
            .drop("household_id", "hh_b")
        )
    if pairs.height == 0:
        return empty_flags()
    pairs = (
        pairs.join(per.rename({"d": "a"}), on=["psn_id", "fixmedins_code"])
        .join(per.rename({"psn_id": "psn_id_b", "d": "b"}), on=["psn_id_b", "fixmedins_code"])
        .join(open_days, on="fixmedins_code")
    )
    x, n_days, a, b = (pairs[c].cast(pl.Int64).to_numpy() for c in ("x", "N", "a", "b"))
    tail = hypergeom.sf(x - 1, n_days, a, b)
    tested = max(pairs.height, 1)
    pairs = pairs.with_columns(
        pl.Series("p_value", np.asarray(tail, dtype=np.float64)),
        (pl.col("a") * pl.col("b") / pl.col("N")).alias("expected"),
    )
    sig = pairs.filter(pl.col("p_value") < float(cfg["alpha"]) / tested)
    if sig.height == 0:
        return empty_flags()
    # components per provider: node = (provider, person)
    nodes = (
        pl.concat(
            [
                sig.select("fixmedins_code", "psn_id"),
                sig.select("fixmedins_code", pl.col("psn_id_b").alias("psn_id")),
            ]
        )
        .unique()
        .with_row_index("node")
    )
    e = sig.join(nodes, on=["fixmedins_code", "psn_id"]).join(
        nodes.rename({"psn_id": "psn_id_b", "node": "node_b"}), on=["fixmedins_code", "psn_id_b"]
    )
    n = nodes.height
    graph = coo_matrix((np.ones(e.height), (e["node"].to_numpy(), e["node_b"].to_numpy())), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    nodes = nodes.with_columns(pl.Series("ring", comp.astype(np.int64)))
    sizes = nodes.group_by("ring").agg(pl.len().alias("size"))
    ring_stats = (
        e.join(nodes.select("node", "ring"), on="node")
        .group_by("ring")
        .agg(
            pl.col("x").max().alias("max_co_days"),
            pl.col("p_value").min().alias("min_p"),
            pl.col("expected").mean().alias("mean_expected"),
        )
    )
    members = (
        nodes.join(sizes, on="ring")
        .filter(pl.col("size") >= int(cfg["min_component"]))
        .join(ring_stats, on="ring")
    )
    if members.height == 0:
        return empty_flags()
    mv = v.join(
        members.select("fixmedins_code", "psn_id", "ring", "size", "max_co_days", "min_p", "mean_expected"),
        on=["fixmedins_code", "psn_id"],
    )
    present = mv.group_by("ring", "begin_date").agg(pl.col("psn_id").n_unique().alias("present"))
    hit = mv.join(present, on=["ring", "begin_date"]).filter(pl.col("present") >= 2)
    hit = hit.with_columns(stake(pl.col("amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-NET-001",
        "flag",
        pl.lit("参保人与同一团体（")
        + pl.col("size").cast(pl.String)
        + " 人）在本机构同日就诊远超随机水平：当日同行 "
        + pl.col("present").cast(pl.String)
        + " 人，成对最多同日 "
        + pl.col("max_co_days").cast(pl.String)
        + " 天（随机期望 "
        + fmt(pl.col("mean_expected"), 2)
        + " 天，疑似组团就医/医患串通）",
        pl.lit("the patient belongs to a group of ")
        + pl.col("size").cast(pl.String)
        + " seen together at this provider far beyond chance: "
        + pl.col("present").cast(pl.String)
        + " present that day, pairs share up to "
        + pl.col("max_co_days").cast(pl.String)
        + " days (expected "
        + fmt(pl.col("mean_expected"), 2)
        + "; collusive ring pattern)",
        json_of(
            features=pl.lit("same-day co-visits, hypergeometric test, connected components"),
            ring=pl.col("ring"),
            ring_size=pl.col("size"),
            present_that_day=pl.col("present"),
            max_pair_co_days=pl.col("max_co_days"),
            mean_expected_co_days=pl.col("mean_expected"),
            min_pair_p=pl.col("min_p"),
        ),
    )
