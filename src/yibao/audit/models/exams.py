"""Examinations the diagnosis does not call for (虚构检查 / 过度检查): MX-PEER-008."""

from __future__ import annotations

import polars as pl

from yibao.audit.models.features import Params, flags, fmt, json_of, stake


def rare_exams(v: pl.DataFrame, lx: pl.DataFrame, p: Params) -> pl.DataFrame:
    """MX-PEER-008: an ambulatory visit billing ``min_rare`` or more dear examinations (item prefixes
    ``prefixes``, unit price ≥ ``min_unit_price_fen``) that visits of the same principal-diagnosis category
    and visit type almost never bill (each in at most ``max_cell_share`` of them; cells of ``min_cell``
    visits or more).  Examinations follow the diagnosis: a cranial MRI, a Holter and an EEG on a visit for
    a cold are exams without an indicating diagnosis, and several of them on one visit are the pattern of
    exams billed but not done.  Flags the rare exam lines."""
    cfg = p["exams"]
    prefixes = tuple(str(x) for x in cfg["prefixes"])
    amb = v.filter(
        ~pl.col("kind").is_in(["P", "pharmacy"]) & (pl.col("med_type") != "21") & pl.col("dx3").is_not_null()
    ).select("visit_id", "psn_id", "fixmedins_code", "med_type", "dx3", "amount", "fund")
    amb = amb.with_columns(pl.len().over("dx3", "med_type").alias("cell_n")).filter(
        pl.col("cell_n") >= int(cfg["min_cell"])
    )
    codes = lx.select(pl.col("code").unique())["code"]  # the prefix test runs on the distinct codes only
    exam_codes = codes.filter(codes.str.starts_with(prefixes[0]).fill_null(False))
    for x in prefixes[1:]:
        exam_codes = exam_codes.append(codes.filter(codes.str.starts_with(x).fill_null(False)))
    ex = (
        lx.lazy()
        .filter(
            pl.col("code").is_in(exam_codes.implode()) & (pl.col("price") >= int(cfg["min_unit_price_fen"]))
        )
        .select("visit_id", "feedetl_sn", "code", pl.col("amount").alias("line_amount"))
        .join(amb.lazy(), on="visit_id")
        .collect()
    )
    if ex.height == 0:
        return flags(ex, "MX-PEER-008", "flag", pl.lit(""), pl.lit(""), pl.lit(""))
    share = (
        ex.group_by("dx3", "med_type", "code")
        .agg(pl.col("visit_id").n_unique().alias("with_exam"), pl.col("cell_n").first())
        .with_columns((pl.col("with_exam") / pl.col("cell_n")).alias("cell_share"))
    )
    rare = ex.join(
        share.select("dx3", "med_type", "code", "cell_share"), on=["dx3", "med_type", "code"]
    ).filter(pl.col("cell_share") <= float(cfg["max_cell_share"]))
    per_visit = rare.group_by("visit_id").agg(
        pl.col("code").n_unique().alias("rare_exams"),
        pl.col("code").unique().sort().str.join("|").alias("exams"),
    )
    hit = rare.join(
        per_visit.filter(pl.col("rare_exams") >= int(cfg["min_rare"])), on="visit_id"
    ).with_columns(stake(pl.col("line_amount")).alias("amount_fen"))
    return flags(
        hit,
        "MX-PEER-008",
        "flag",
        pl.lit("本次就诊（主诊断 ")
        + pl.col("dx3")
        + "）开具 "
        + pl.col("rare_exams").cast(pl.String)
        + " 项同病种就诊罕见的贵重检查，其中 "
        + pl.col("code")
        + " 仅见于同病种同类就诊的 "
        + fmt(pl.col("cell_share") * 100, 2)
        + "%（疑似无指征检查/虚构检查）",
        pl.lit("visit (principal diagnosis ")
        + pl.col("dx3")
        + ") bills "
        + pl.col("rare_exams").cast(pl.String)
        + " dear exams rare for its diagnosis; "
        + pl.col("code")
        + " is billed on "
        + fmt(pl.col("cell_share") * 100, 2)
        + "% of visits of the same diagnosis and type (exam without indication / phantom exam pattern)",
        json_of(
            features=pl.lit("share of visits of the same diagnosis category and visit type billing the exam"),
            code=pl.col("code"),
            dx3=pl.col("dx3"),
            med_type=pl.col("med_type"),
            cell_share=pl.col("cell_share"),
            cell_visits=pl.col("cell_n"),
            rare_exams=pl.col("rare_exams"),
            exams=pl.col("exams"),
        ),
        line_level=True,
    )
