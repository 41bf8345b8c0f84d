"""Provider peer-group models: a provider compared with providers of the same kind, level and case mix.

Peers are providers with the same ``peer`` key (kind from the code's first letter — H hospital /
primary, P pharmacy — or the institution register, ``hosp_lv``, and the specialty the case mix shows:
a dialysis centre, a maternity or a rehabilitation hospital are not peers of a general hospital; see
``features.specialties``); a peer group with fewer than ``min_peers`` providers is pooled with every
provider of the same kind and specialty (``pool``).  Each model flags visits (or lines), never a provider as such:
the provider must stand out *and* the visit must carry the feature that makes it stand out.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import binom  # type: ignore[import-untyped]

from yibao.audit.flags import empty_flags
from yibao.audit.models.features import Params, flags, fmt, json_of, robust_z, stake, yuan


def _peer_key(v: pl.DataFrame, min_peers: int) -> pl.DataFrame:
    sizes = v.group_by("peer").agg(pl.col("fixmedins_code").n_unique().alias("_n"))
    return (
        v.join(sizes, on="peer", how="left")
        .with_columns(
            pl.when(pl.col("_n") >= min_peers)
            .then(pl.col("peer"))
            .otherwise(pl.col("pool"))
            .alias("peer_group")
        )
        .drop("_n")
    )


def _cell_median(v: pl.DataFrame, value: str, min_cell: int, by: list[str]) -> pl.DataFrame:
    return v.with_columns(
        pl.col(value).median().over(by).alias(f"{value}_cell_median"), pl.len().over(by).alias("cell_n")
    ).filter(pl.col("cell_n") >= min_cell)


def cost_outliers(v: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PEER-001: providers whose case-mix adjusted cost per case is far above peers; their dear visits."""
    cfg, peers = p["cost"], p["peers"]
    x = _cell_median(v.filter(pl.col("amount") > 0), "amount", int(cfg["min_cell"]), ["cell"])
    x = x.with_columns((pl.col("amount") / pl.col("amount_cell_median")).alias("ratio"))
    prov = (
        _peer_key(x, int(peers["min_peers"]))
        .group_by("fixmedins_code", "peer_group")
        .agg(pl.col("ratio").log().mean().alias("index"), pl.len().alias("n_cases"))
    )
    prov = prov.with_columns(
        robust_z(pl.col("index"), float(peers["min_mad"]), "peer_group").alias("z"),
        pl.col("index").median().over("peer_group").alias("peer_index"),
    )
    bad = prov.filter(pl.col("z") >= float(cfg["provider_z"]))
    hit = x.join(bad, on="fixmedins_code").filter(pl.col("ratio") >= float(cfg["visit_ratio"]))
    hit = hit.with_columns(stake(pl.col("amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-001",
        "flag",
        pl.lit("次均费用（按病种组调整）高于同级同类机构：机构指数 z=")
        + fmt(pl.col("z"))
        + "，本次费用为同组中位数的"
        + fmt(pl.col("ratio"))
        + "倍",
        pl.lit("case-mix adjusted cost per case above same-level peers: provider z=")
        + fmt(pl.col("z"))
        + ", this visit costs "
        + fmt(pl.col("ratio"))
        + "x its cell median",
        json_of(
            features=pl.lit("log(amount / cell median)"),
            cell=pl.col("cell"),
            peer_group=pl.col("peer_group"),
            provider_index=pl.col("index"),
            peer_median_index=pl.col("peer_index"),
            provider_z=pl.col("z"),
            visit_ratio=pl.col("ratio"),
            cell_median_fen=pl.col("amount_cell_median"),
        ),
    )


def drug_share_outliers(v: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PEER-002: providers whose drug share is far above peers; their visits with a cell-extreme drug share."""
    cfg, peers = p["drug_share"], p["peers"]
    x = v.filter((pl.col("amount") > 0) & ~pl.col("kind").is_in(["P", "pharmacy"]))
    x = x.with_columns((pl.col("drug_amount") / pl.col("amount")).alias("share"))
    x = x.with_columns(pl.col("share").quantile(float(cfg["visit_quantile"])).over("cell").alias("cell_q"))
    prov = (
        _peer_key(x, int(peers["min_peers"]))
        .group_by("fixmedins_code", "peer_group")
        .agg((pl.col("drug_amount").sum() / pl.col("amount").sum()).alias("pshare"))
    )
    prov = prov.with_columns(
        robust_z(pl.col("pshare"), 0.01, "peer_group").alias("z"),
        pl.col("pshare").median().over("peer_group").alias("peer_share"),
    )
    bad = prov.filter(pl.col("z") >= float(cfg["provider_z"]))
    hit = x.join(bad, on="fixmedins_code").filter(pl.col("share") > pl.col("cell_q"))
    hit = hit.with_columns(stake(pl.col("drug_amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-002",
        "warn",
        pl.lit("药占比高于同级同类机构：机构 ")
        + fmt(pl.col("pshare"))
        + " 对比同级中位数 "
        + fmt(pl.col("peer_share"))
        + "（z="
        + fmt(pl.col("z"))
        + "）",
        pl.lit("drug share above same-level peers: provider ")
        + fmt(pl.col("pshare"))
        + " vs peer median "
        + fmt(pl.col("peer_share"))
        + " (z="
        + fmt(pl.col("z"))
        + ")",
        json_of(
            features=pl.lit("drug amount / amount"),
            peer_group=pl.col("peer_group"),
            provider_share=pl.col("pshare"),
            peer_median_share=pl.col("peer_share"),
            provider_z=pl.col("z"),
            visit_share=pl.col("share"),
            cell=pl.col("cell"),
            cell_quantile=pl.col("cell_q"),
        ),
    )


def los_outliers(v: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PEER-003: stays far longer than the same diagnosis category at the same level, with little care a day."""
    cfg, peers = p["los"], p["peers"]
    x = v.filter((pl.col("med_type") == "21") & (pl.col("los_days") > 0))
    by = ["cell", "hosp_lv"]
    x = x.with_columns(pl.len().over(by).alias("cell_n")).filter(pl.col("cell_n") >= int(cfg["min_cell"]))
    x = x.with_columns(
        robust_z(pl.col("los_days").cast(pl.Float64).log(), float(peers["min_mad"]), by).alias("z"),
        pl.col("los_days").median().over(by).alias("los_median"),
        (pl.col("care_amount") / pl.col("los_days")).alias("care_day"),
    )
    x = x.with_columns(pl.col("care_day").median().over(by).alias("care_day_median"))
    hit = x.filter(
        (pl.col("z") >= float(cfg["visit_z"]))
        & (pl.col("care_day") < float(cfg["care_per_day_ratio"]) * pl.col("care_day_median"))
    )
    hit = hit.with_columns(stake(pl.col("amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-003",
        "flag",
        pl.lit("住院天数 ")
        + pl.col("los_days").cast(pl.String)
        + " 天，同病种同级中位数 "
        + fmt(pl.col("los_median"), 1)
        + " 天（z="
        + fmt(pl.col("z"))
        + "），日均诊疗费用仅为中位数的 "
        + fmt(pl.col("care_day") / pl.col("care_day_median"))
        + " 倍（疑似挂床）",
        pl.lit("stay of ")
        + pl.col("los_days").cast(pl.String)
        + " days vs a median of "
        + fmt(pl.col("los_median"), 1)
        + " for the same diagnosis and level (z="
        + fmt(pl.col("z"))
        + "), care per day only "
        + fmt(pl.col("care_day") / pl.col("care_day_median"))
        + "x the median (bed-hanging pattern)",
        json_of(
            features=pl.lit("log LOS; care (non bed/nursing) amount per day"),
            cell=pl.col("cell"),
            hosp_lv=pl.col("hosp_lv"),
            los_days=pl.col("los_days"),
            los_median=pl.col("los_median"),
            los_z=pl.col("z"),
            care_per_day_fen=pl.col("care_day"),
            care_per_day_median_fen=pl.col("care_day_median"),
        ),
    )


def repeat_visits(v: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PEER-004: a person returning to one provider far more often than patients of peer providers."""
    cfg, peers = p["repeat"], p["peers"]
    # a course's sessions (dialysis three times a week, daily rehabilitation: knowledge table course_markers)
    # are planned repeats, not the pattern this model looks for
    in_course = pl.col("session") & (pl.col("session_n") >= int(cfg["course_min_sessions"]))
    x = _peer_key(v.filter(~in_course), int(peers["min_peers"]))
    pairs = x.group_by("psn_id", "fixmedins_code", "peer_group").agg(pl.len().alias("n"))
    pairs = pairs.with_columns(
        robust_z(pl.col("n").cast(pl.Float64).log(), float(peers["min_mad"]), "peer_group").alias("z"),
        pl.col("n").median().over("peer_group").alias("peer_median"),
    )
    bad = pairs.filter((pl.col("z") >= float(cfg["visit_z"])) & (pl.col("n") >= int(cfg["min_visits"])))
    hit = x.join(
        bad.select("psn_id", "fixmedins_code", "n", "z", "peer_median"), on=["psn_id", "fixmedins_code"]
    )
    hit = hit.with_columns(stake(pl.col("amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-004",
        "warn",
        pl.lit("同一参保人在本机构就诊 ")
        + pl.col("n").cast(pl.String)
        + " 次，同级机构患者中位数 "
        + fmt(pl.col("peer_median"), 1)
        + " 次（z="
        + fmt(pl.col("z"))
        + "）",
        pl.lit("the person visited this provider ")
        + pl.col("n").cast(pl.String)
        + " times vs a median of "
        + fmt(pl.col("peer_median"), 1)
        + " at peer providers (z="
        + fmt(pl.col("z"))
        + ")",
        json_of(
            features=pl.lit("log visits per (person, provider)"),
            peer_group=pl.col("peer_group"),
            visits=pl.col("n"),
            peer_median=pl.col("peer_median"),
            z=pl.col("z"),
        ),
    )


def _lift_table(counts: pl.DataFrame, totals: pl.DataFrame, key: str, min_peers: int) -> pl.DataFrame:
    """Per (provider, key): count at the provider, the provider's visits, and the same at its peers (others
    of the same kind and level; the whole kind when fewer than ``min_peers`` others)."""
    groups = totals.group_by("peer").agg(pl.col("fixmedins_code").n_unique().alias("_np"))
    totals = totals.join(groups, on="peer").with_columns(
        pl.when(pl.col("_np") > min_peers).then(pl.col("peer")).otherwise(pl.col("pool")).alias("peer_group")
    )
    grp_tot = totals.group_by("peer_group").agg(pl.col("n_visits").sum().alias("g_visits"))
    c = counts.join(totals.select("fixmedins_code", "peer_group", "n_visits"), on="fixmedins_code")
    grp_c = c.group_by("peer_group", key).agg(pl.col("count").sum().alias("g_count"))
    c = c.join(grp_c, on=["peer_group", key]).join(grp_tot, on="peer_group")
    return c.with_columns(
        (pl.col("g_count") - pl.col("count")).alias("peer_count"),
        (pl.col("g_visits") - pl.col("n_visits")).alias("peer_visits"),
    )


def _peer_reference(counts: pl.DataFrame, totals: pl.DataFrame, small_group: int) -> pl.DataFrame:
    """Per (provider, code): the provider's count and visits and the peers' reference share of the code.

    Peers are the *other* providers of the same kind and level (all levels of the kind when there are
    fewer than two others).  The reference is the median of their add-one smoothed shares, or, when
    there are at most ``small_group`` others, the smallest of them: in a small group one peer with the
    same habit must not hide another.  Providers that never bill the code count with share 0.
    """
    groups = totals.group_by("peer").agg(pl.col("fixmedins_code").n_unique().alias("_np"))
    t = (
        totals.join(groups, on="peer")
        .with_columns(
            pl.when(pl.col("_np") > 2).then(pl.col("peer")).otherwise(pl.col("pool")).alias("peer_group")
        )
        .select("fixmedins_code", "peer_group", "n_visits")
    )
    keys = counts.join(t, on="fixmedins_code").select("peer_group", "code").unique()
    grid = (
        t.join(keys, on="peer_group")
        .join(counts, on=["fixmedins_code", "code"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(((pl.col("count") + 1) / (pl.col("n_visits") + 1)).alias("smoothed"))
    )
    others = (
        grid.select("fixmedins_code", "peer_group", "code")
        .join(
            grid.select("peer_group", "code", pl.col("fixmedins_code").alias("_other"), "smoothed"),
            on=["peer_group", "code"],
        )
        .filter(pl.col("_other") != pl.col("fixmedins_code"))
        .group_by("fixmedins_code", "code")
        .agg(
            pl.len().alias("n_peers"),
            pl.col("smoothed").median().alias("_median"),
            pl.col("smoothed").min().alias("_min"),
        )
    )
    return (
        grid.filter(pl.col("count") > 0)
        .join(others, on=["fixmedins_code", "code"])
        .with_columns(
            pl.when(pl.col("n_peers") <= small_group)
            .then(pl.col("_min"))
            .otherwise(pl.col("_median"))
            .alias("peer_share")
        )
        .drop("_median", "_min", "smoothed")
    )


def code_mix(v: pl.DataFrame, lines: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PEER-005: items a provider bills far more often than its peers (the 高套 / upcoding pattern)."""
    cfg = p["code_mix"]
    # shares are per visit type: a provider's inpatient / outpatient mix must not look like an item anomaly
    hv = v.filter(
        ~pl.col("kind").is_in(["P", "pharmacy"]) & (pl.col("course_n") < int(cfg["course_min_visits"]))
    ).with_columns(
        (pl.col("fixmedins_code") + "|" + pl.col("med_type")).alias("unit"),
        (pl.col("peer") + "|" + pl.col("med_type")).alias("peer"),
        (pl.col("pool") + "|" + pl.col("med_type")).alias("pool"),
    )
    totals = (
        hv.group_by("unit", "peer", "pool").agg(pl.len().alias("n_visits")).rename({"unit": "fixmedins_code"})
    )
    lv = lines.select("visit_id", "feedetl_sn", "code", "amount").join(
        hv.select("visit_id", pl.col("unit").alias("fixmedins_code")), on="visit_id"
    )
    counts = lv.group_by("fixmedins_code", "code").agg(pl.col("visit_id").n_unique().alias("count"))
    t = _peer_reference(counts, totals, int(cfg["small_group"])).filter(
        pl.col("count") >= int(cfg["min_count"])
    )
    t = t.with_columns((pl.col("count") / pl.col("n_visits")).alias("share"))
    t = t.with_columns((pl.col("share") / pl.col("peer_share")).alias("lift"))
    t = t.filter(
        (pl.col("lift") >= float(cfg["min_lift"])) & (pl.col("peer_share") <= float(cfg["max_peer_share"]))
    )
    if t.height == 0:
        return empty_flags()
    tail = binom.sf(
        t["count"].cast(pl.Int64).to_numpy() - 1,
        t["n_visits"].cast(pl.Int64).to_numpy(),
        t["peer_share"].to_numpy(),
    )
    t = t.with_columns(pl.Series("p_value", np.asarray(tail, dtype=np.float64))).filter(
        pl.col("p_value") < float(cfg["alpha"])
    )
    hit = (
        lv.join(
            t.select("fixmedins_code", "code", "share", "peer_share", "lift", "p_value", "peer_group"),
            on=["fixmedins_code", "code"],
        )
        .drop("fixmedins_code")
        .join(
            v.select("visit_id", "psn_id", "fixmedins_code", "fund", pl.col("amount").alias("visit_amount")),
            on="visit_id",
        )
    )
    hit = hit.with_columns(pl.col("amount").alias("line_amount"), pl.col("visit_amount").alias("amount"))
    hit = hit.with_columns(stake(pl.col("line_amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-005",
        "flag",
        pl.lit("项目 ")
        + pl.col("code")
        + " 在本机构出现于 "
        + fmt(pl.col("share") * 100, 1)
        + "% 的就诊，同级机构仅 "
        + fmt(pl.col("peer_share") * 100, 2)
        + "%（提升度 "
        + fmt(pl.col("lift"), 1)
        + "，疑似高套收费）",
        pl.lit("item ")
        + pl.col("code")
        + " is on "
        + fmt(pl.col("share") * 100, 1)
        + "% of this provider's visits vs "
        + fmt(pl.col("peer_share") * 100, 2)
        + "% at same-level peers (lift "
        + fmt(pl.col("lift"), 1)
        + ", upcoding pattern)",
        json_of(
            features=pl.lit("share of visits billing the item"),
            code=pl.col("code"),
            peer_group=pl.col("peer_group"),
            provider_share=pl.col("share"),
            peer_share=pl.col("peer_share"),
            lift=pl.col("lift"),
            binomial_p=pl.col("p_value"),
            line_amount_fen=pl.col("line_amount"),
        ),
        line_level=True,
    )


def visit_signatures(v: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """(visit_id, n_items, items_h, bill_h) for every visit outside pharmacies, in one pass over its lines:
    order-free signatures of the visit's bill — ``items_h`` the sum of 40-bit hashes of the item codes
    (MX-PEER-006), ``bill_h`` of (code, quantity) pairs (MX-PEER-007).  A collision between two different
    bills has probability about 2^-40 per pair.  Built once and shared by both models."""
    code_hash = (pl.col("code").hash(seed=7) % (1 << 40)).cast(pl.Int64)
    line_hash = (pl.struct("code", "qty").hash(seed=11) % (1 << 40)).cast(pl.Int64)
    hv = v.lazy().filter(~pl.col("kind").is_in(["P", "pharmacy"])).select("visit_id")
    return (
        lines.lazy()
        .select("visit_id", "code", "qty")
        .join(hv, on="visit_id", how="semi")
        .group_by("visit_id")
        .agg(pl.len().alias("n_items"), code_hash.sum().alias("items_h"), line_hash.sum().alias("bill_h"))
        .collect()
    )


def bill_templates(
    v: pl.DataFrame, lines: pl.DataFrame, p: Params, signatures: pl.DataFrame | None = None
) -> pl.DataFrame:
    """MX-PEER-006: the same item set billed to many different patients at one provider, far more than at peers."""
    cfg = p["template"]
    # a course repeats its bill: a person's recurring visits at the provider are set aside
    hv = v.filter(
        ~pl.col("kind").is_in(["P", "pharmacy"]) & (pl.col("course_n") < int(cfg["course_min_visits"]))
    )
    # the item-set signature (see ``visit_signatures``); the readable list is built only for flagged visits
    sigs = visit_signatures(v, lines) if signatures is None else signatures
    sig = (
        sigs.join(hv.select("visit_id"), on="visit_id", how="semi")
        .filter(pl.col("n_items") >= int(cfg["min_lines"]))
        .select(
            "visit_id", "n_items", (pl.col("items_h") * 64 + pl.col("n_items").clip(0, 63)).alias("items")
        )
    )
    sv = sig.join(hv.select("visit_id", "psn_id", "fixmedins_code", "amount", "fund"), on="visit_id")
    counts = sv.group_by("fixmedins_code", "items").agg(pl.col("psn_id").n_unique().alias("count"))
    totals = hv.group_by("fixmedins_code", "peer", "pool").agg(pl.len().alias("n_visits"))
    t = _lift_table(counts.filter(pl.col("count") >= 2), totals, "items", 2)
    t = t.filter(pl.col("count") >= int(cfg["min_persons"])).with_columns(
        (pl.col("count") / pl.col("n_visits")).alias("share"),
        ((pl.col("peer_count") + 1) / (pl.col("peer_visits") + 1)).alias("peer_share"),
    )
    t = t.with_columns((pl.col("share") / pl.col("peer_share")).alias("lift")).filter(
        pl.col("lift") >= float(cfg["min_lift"])
    )
    hit = sv.join(
        t.select("fixmedins_code", "items", "count", "share", "peer_share", "lift", "peer_group"),
        on=["fixmedins_code", "items"],
    ).drop("items")
    readable = (
        lines.select("visit_id", "code")
        .join(hit.select("visit_id"), on="visit_id")
        .group_by("visit_id")
        .agg(pl.col("code").sort().str.join(",").alias("items"))
    )
    hit = hit.join(readable, on="visit_id").with_columns(stake(pl.col("amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-006",
        "flag",
        pl.lit("同一收费项目组合在本机构用于 ")
        + pl.col("count").cast(pl.String)
        + " 名不同参保人，为同级机构的 "
        + fmt(pl.col("lift"), 1)
        + " 倍（疑似模板化虚构诊疗）",
        pl.lit("the same item set was billed for ")
        + pl.col("count").cast(pl.String)
        + " different patients at this provider, "
        + fmt(pl.col("lift"), 1)
        + "x its share at same-level peers (templated, possibly fabricated visits)",
        json_of(
            features=pl.lit("share of visits with this exact item set"),
            items=pl.col("items"),
            peer_group=pl.col("peer_group"),
            patients=pl.col("count"),
            provider_share=pl.col("share"),
            peer_share=pl.col("peer_share"),
            lift=pl.col("lift"),
            visit_amount_fen=pl.col("amount"),
            amount_yuan=yuan(pl.col("amount")),
        ),
    )


def physician_templates(
    v: pl.DataFrame, lines: pl.DataFrame, p: Params, signatures: pl.DataFrame | None = None
) -> pl.DataFrame:
    """MX-PEER-007: one physician billing the very same bill — the same items in the same quantities — to
    many different patients, as a large share of all that physician's visits.  Honest bills of even two
    items rarely repeat exactly (quantities follow each patient), so this reaches the short bills
    (an internet consultation and one drug) that MX-PEER-006's item sets leave out."""
    cfg = p["physician_template"]
    hv = v.filter(~pl.col("kind").is_in(["P", "pharmacy"]) & pl.col("bilg_dr_codg").is_not_null())
    if hv.height == 0:
        return empty_flags()
    # the bill signature: items and quantities (see ``visit_signatures``)
    sigs = visit_signatures(v, lines) if signatures is None else signatures
    sig = (
        sigs.join(hv.select("visit_id"), on="visit_id", how="semi")
        .filter(pl.col("n_items") >= int(cfg["min_lines"]))
        .select("visit_id", "n_items", (pl.col("bill_h") * 64 + pl.col("n_items").clip(0, 63)).alias("bill"))
    )
    sv = sig.join(
        hv.select("visit_id", "psn_id", "fixmedins_code", "bilg_dr_codg", "amount", "fund"), on="visit_id"
    )
    per_dr = hv.group_by("fixmedins_code", "bilg_dr_codg").agg(pl.len().alias("dr_visits"))
    t = (
        sv.group_by("fixmedins_code", "bilg_dr_codg", "bill")
        .agg(pl.col("psn_id").n_unique().alias("count"))
        .filter(pl.col("count") >= int(cfg["min_persons"]))
        .join(per_dr, on=["fixmedins_code", "bilg_dr_codg"])
        .with_columns((pl.col("count") / pl.col("dr_visits")).alias("share"))
        .filter(pl.col("share") >= float(cfg["min_share"]))
    )
    if t.height == 0:
        return empty_flags()
    hit = sv.join(t, on=["fixmedins_code", "bilg_dr_codg", "bill"]).drop("bill")
    readable = (
        lines.select("visit_id", "code", "qty")
        .join(hit.select("visit_id"), on="visit_id")
        .group_by("visit_id")
        .agg(
            (pl.col("code") + "×" + (pl.col("qty") / 10_000).cast(pl.String))
            .sort()
            .str.join(",")
            .alias("bill")
        )
    )
    hit = hit.join(readable, on="visit_id").with_columns(stake(pl.col("amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-007",
        "flag",
        pl.lit("医师")
        + pl.col("bilg_dr_codg")
        + " 将完全相同的收费（项目与数量）用于 "
        + pl.col("count").cast(pl.String)
        + " 名不同参保人，占其全部就诊的 "
        + fmt(pl.col("share") * 100, 0)
        + "%（疑似模板化虚构诊疗）",
        pl.lit("physician ")
        + pl.col("bilg_dr_codg")
        + " billed the very same bill (items and quantities) for "
        + pl.col("count").cast(pl.String)
        + " different patients, "
        + fmt(pl.col("share") * 100, 0)
        + "% of all their visits (templated, possibly fabricated visits)",
        json_of(
            features=pl.lit("share of a physician's visits with this exact bill"),
            bill=pl.col("bill"),
            physician=pl.col("bilg_dr_codg"),
            patients=pl.col("count"),
            physician_visits=pl.col("dr_visits"),
            share=pl.col("share"),
            visit_amount_fen=pl.col("amount"),
            amount_yuan=yuan(pl.col("amount")),
        ),
    )
