"""Patient-pattern models: early refills, over-quantity lines, doctor and pharmacy shopping."""

from __future__ import annotations

import polars as pl

from yibao.audit.models.features import Params, flags, fmt, json_of, robust_z, stake


def drug_lines(v: pl.DataFrame, lx: pl.DataFrame) -> pl.DataFrame:
    """Drug lines (``lx`` from :func:`line_frame`) with the visit columns the patient models read; built once
    per run and shared (joining millions of lines to their visits is the costly step)."""
    return (
        lx.lazy()
        .filter(pl.col("drug"))
        .select(
            "visit_id",
            "feedetl_sn",
            "code",
            "qty",
            "price",
            "prd_days",
            pl.col("amount").alias("line_amount"),
        )
        .join(
            v.lazy().select(
                "visit_id",
                "psn_id",
                "fixmedins_code",
                "med_type",
                "begin_date",
                "amount",
                "fund",
                "kind",
                "dx3",
            ),
            on="visit_id",
        )
        .collect()
    )


def regimen_pairs(
    v: pl.DataFrame, dl: pl.DataFrame, lx: pl.DataFrame, regimens: pl.DataFrame, min_sessions: int
) -> pl.DataFrame:
    """(psn_id, code): drugs a person takes as part of a course they are on — ``regimens`` (drug_prefix,
    session_prefix) from the knowledge table course_markers (match ``regimen`` beside the course's ``session``
    rows): a person with at least ``min_sessions`` visits carrying a session item of the course (maintenance
    haemodialysis) receives the course's drugs (EPO, intravenous iron) at the course's own rhythm."""
    empty = pl.DataFrame(schema={"psn_id": dl.schema["psn_id"], "code": pl.String})
    if regimens.height == 0 or dl.height == 0:
        return empty
    out: list[pl.DataFrame] = []
    psn = v.select("visit_id", "psn_id")
    for drug_prefix, session_prefix in regimens.select("drug_prefix", "session_prefix").unique().iter_rows():
        on_course = (
            lx.lazy()
            .filter(pl.col("code").str.starts_with(session_prefix))
            .select("visit_id")
            .unique()
            .join(psn.lazy(), on="visit_id")
            .group_by("psn_id")
            .len()
            .filter(pl.col("len") >= min_sessions)
            .select("psn_id")
        )
        drugs = (
            dl.lazy().filter(pl.col("code").str.starts_with(drug_prefix)).select("psn_id", "code").unique()
        )
        out.append(drugs.join(on_course, on="psn_id", how="semi").collect())
    return pl.concat([empty, *out]).unique()


def early_refills(dl: pl.DataFrame, p: Params, on_regimen: pl.DataFrame | None = None) -> pl.DataFrame:
    """MX-PAT-004: a person buying the same dear drug at much shorter intervals than the drug's other buyers.
    ``on_regimen`` (psn_id, code): drugs of a course the person is on (:func:`regimen_pairs`), set aside —
    a dialysis patient's weekly EPO is the standard regimen, not an early refill."""
    cfg, peers = p["refill"], p["peers"]
    d = dl.filter(pl.col("price") >= int(cfg["min_unit_price_fen"]))
    if on_regimen is not None and on_regimen.height:
        d = d.join(on_regimen, on=["psn_id", "code"], how="anti")
    # purchase days per (person, drug), sorted; the gap to the previous purchase day of the same person and drug
    days = d.select("psn_id", "code", "begin_date").unique().sort("psn_id", "code", "begin_date")
    same = (pl.col("psn_id") == pl.col("psn_id").shift(1)) & (pl.col("code") == pl.col("code").shift(1))
    days = days.with_columns(pl.when(same).then(pl.col("begin_date").diff().dt.total_days()).alias("gap"))
    per = (
        days.group_by("psn_id", "code")
        .agg(pl.len().alias("n"), pl.col("gap").median().alias("interval"))
        .join(d.group_by("psn_id", "code").agg(pl.col("qty").sum().alias("total_qty")), on=["psn_id", "code"])
    )
    per = per.filter(pl.col("n") >= 3).with_columns(
        robust_z(pl.col("interval").clip(1).log(), float(peers["min_mad"]), "code").alias("z"),
        pl.col("interval").median().over("code").alias("_peer_interval"),
        pl.len().over("code").alias("buyers"),
    )
    # a drug with too few repeat buyers is measured against the usual one-month pack
    # the yardstick is never shorter than a one-month pack: a ring can be a large share of a drug's buyers
    per = per.with_columns(
        pl.when(pl.col("buyers") >= int(cfg["min_buyers"]))
        .then(pl.max_horizontal(pl.col("_peer_interval"), pl.lit(float(cfg["default_interval_days"]))))
        .otherwise(float(cfg["default_interval_days"]))
        .alias("peer_interval"),
        pl.when(pl.col("buyers") >= int(cfg["min_buyers"])).then(pl.col("z")).otherwise(-99.0).alias("z"),
    )
    bad = per.filter(
        (pl.col("n") >= int(cfg["min_purchases"]))
        & (pl.col("interval") <= float(cfg["max_interval_ratio"]) * pl.col("peer_interval"))
    )
    hit = d.join(bad, on=["psn_id", "code"]).with_columns(stake(pl.col("line_amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PAT-004",
        "flag",
        pl.lit("同一贵重药品 ")
        + pl.col("code")
        + " 年内购买 "
        + pl.col("n").cast(pl.String)
        + " 次，间隔中位数 "
        + fmt(pl.col("interval"), 1)
        + " 天，其他购药人中位数 "
        + fmt(pl.col("peer_interval"), 1)
        + " 天（疑似倒卖药品/超量购药）",
        pl.lit("dear drug ")
        + pl.col("code")
        + " bought "
        + pl.col("n").cast(pl.String)
        + " times, median interval "
        + fmt(pl.col("interval"), 1)
        + " days vs "
        + fmt(pl.col("peer_interval"), 1)
        + " for its other buyers (resale / early refill pattern)",
        json_of(
            features=pl.lit("log median days between purchases"),
            code=pl.col("code"),
            purchases=pl.col("n"),
            interval_days=pl.col("interval"),
            peer_interval_days=pl.col("peer_interval"),
            z=pl.col("z"),
            peer_buyers=pl.col("buyers"),
            total_qty=pl.col("total_qty"),
        ),
        line_level=True,
    )


def excess_quantity(dl: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PAT-005: a drug line with several times the usual quantity of that drug in that visit type for the
    same condition (principal diagnosis category): a long-term prescription for a chronic condition is not
    compared with a few days' course for an acute one.  A line that states its days (2204 ``prd_days``) is
    compared by its quantity a day: a 12-week prescription is not twelve times a one-week one."""
    cfg, peers = p["quantity"], p["peers"]
    d = dl.filter(pl.col("med_type") != "21").with_columns(
        pl.col("prd_days").is_not_null().alias("has_days"),
        (pl.col("qty").cast(pl.Float64) / pl.col("prd_days").fill_null(1).clip(lower_bound=1)).alias("q_day"),
    )
    by = ["code", "med_type", "dx3", "has_days"]
    d = d.with_columns(pl.len().over(by).alias("cell_n")).filter(pl.col("cell_n") >= int(cfg["min_cell"]))
    d = d.with_columns(
        robust_z(pl.col("q_day").log(), float(peers["min_mad"]), by).alias("z"),
        pl.col("q_day").median().over(by).alias("qty_median"),
    )
    hit = d.filter(
        (pl.col("z") >= float(cfg["line_z"]))
        & (pl.col("q_day") >= float(cfg["min_ratio"]) * pl.col("qty_median"))
    )
    hit = hit.with_columns(stake(pl.col("line_amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PAT-005",
        "flag",
        pl.lit("药品 ")
        + pl.col("code")
        + " 数量为同类就诊（同病种）中位数的 "
        + fmt(pl.col("q_day") / pl.col("qty_median"), 1)
        + " 倍（z="
        + fmt(pl.col("z"))
        + "，疑似超量开药）",
        pl.lit("drug ")
        + pl.col("code")
        + " quantity is "
        + fmt(pl.col("q_day") / pl.col("qty_median"), 1)
        + "x the median for this drug, visit type and diagnosis (z="
        + fmt(pl.col("z"))
        + ", over-prescription pattern)",
        json_of(
            features=pl.lit(
                "log quantity (a day, when the days are stated) vs same drug, visit type and diagnosis"
            ),
            code=pl.col("code"),
            med_type=pl.col("med_type"),
            dx3=pl.col("dx3"),
            qty=pl.col("qty"),
            qty_median=pl.col("qty_median"),
            prescribed_days=pl.col("prd_days"),
            z=pl.col("z"),
            cell_lines=pl.col("cell_n"),
        ),
        line_level=True,
    )


def shopping(v: pl.DataFrame, dl: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PAT-002 doctor shopping (many outpatient providers in a window) and MX-PAT-003 pharmacy shopping
    (the same drug from several pharmacies in a window)."""
    cfg = p["shopping"]
    w = f"{int(cfg['window_days'])}d"
    op = v.filter(pl.col("med_type") == "11").sort("psn_id", "begin_date")
    docs = op.rolling(index_column="begin_date", period=w, group_by="psn_id").agg(
        pl.col("fixmedins_code").n_unique().alias("n_prov")
    )
    bad = docs.filter(pl.col("n_prov") >= int(cfg["min_providers"])).select("psn_id", "begin_date", "n_prov")
    hit = op.join(
        bad.group_by("psn_id", "begin_date").agg(pl.col("n_prov").max()), on=["psn_id", "begin_date"]
    )
    hit = hit.with_columns(stake(pl.col("amount")).alias("amount_fen"))
    out_doc = flags(
        hit,
        "MX-PAT-002",
        "warn",
        pl.lit(f"{int(cfg['window_days'])} 天内在 ")
        + pl.col("n_prov").cast(pl.String)
        + " 家机构门诊就诊（疑似多头就医）",
        pl.lit(f"outpatient visits at {int(cfg['window_days'])}-day window: ")
        + pl.col("n_prov").cast(pl.String)
        + " different providers (doctor shopping)",
        json_of(
            features=pl.lit("distinct outpatient providers in a rolling window"),
            window_days=pl.lit(int(cfg["window_days"])),
            providers=pl.col("n_prov"),
        ),
    )
    d = dl.filter(pl.col("kind").is_in(["P", "pharmacy"])).sort("psn_id", "code", "begin_date")
    ph = d.rolling(index_column="begin_date", period=w, group_by=["psn_id", "code"]).agg(
        pl.col("fixmedins_code").n_unique().alias("n_shop")
    )
    bad2 = (
        ph.filter(pl.col("n_shop") >= int(cfg["min_pharmacies"]))
        .group_by("psn_id", "code", "begin_date")
        .agg(pl.col("n_shop").max())
    )
    hit2 = d.join(bad2, on=["psn_id", "code", "begin_date"]).with_columns(
        stake(pl.col("line_amount")).alias("amount_fen")
    )
    out_ph = flags(
        hit2,
        "MX-PAT-003",
        "warn",
        pl.lit(f"{int(cfg['window_days'])} 天内在 ")
        + pl.col("n_shop").cast(pl.String)
        + " 家药店购买同一药品 "
        + pl.col("code"),
        pl.lit("the same drug ")
        + pl.col("code")
        + " bought at "
        + pl.col("n_shop").cast(pl.String)
        + f" pharmacies within {int(cfg['window_days'])} days (pharmacy shopping)",
        json_of(
            features=pl.lit("distinct pharmacies per drug in a rolling window"),
            code=pl.col("code"),
            pharmacies=pl.col("n_shop"),
        ),
        line_level=True,
    )
    return pl.concat([out_doc, out_ph])
