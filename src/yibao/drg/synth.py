"""Adapter: the synthetic region's inpatient visits (``yibao synth generate``) → cases in the CLI contract."""

from __future__ import annotations

import polars as pl

from yibao.errors import FieldError

# The generator writes discharge status 1 home / 2 transfer / 4 death (docs/SYNTH.md); the 病案首页 /
# 结算清单 离院方式 codes the CHS-DRG schemes use are 1 医嘱离院, 2 医嘱转院, 5 死亡.
SYNTH_TO_DISCHARGE = {"1": "1", "2": "2", "4": "5"}
INPATIENT = "21"


def cases_from_synth(
    visits: pl.DataFrame, persons: pl.DataFrame, lines: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Inpatient visits (med_type 21) as grouping cases, in visit order.

    Columns: the CLI contract (``case_id`` = ``mdtrt_id``; ``age`` in whole years and ``age_days`` on the
    admission day; ``sdx_poa`` "1" (有, present on admission) for every secondary diagnosis, because the
    generator's secondary diagnoses are chronic comorbidities; ``weight_g`` empty: the generator records
    no birth weight) plus ``visit_id, psn_id, fixmedins_code, hosp_lv, medfee_sumamt`` (fen) and
    ``los_days``. ``medfee_sumamt`` is taken from ``visits`` when present (settled visits), else summed
    from ``lines``.
    """
    need_v = (
        "visit_id",
        "mdtrt_id",
        "psn_id",
        "med_type",
        "fixmedins_code",
        "begin_date",
        "end_date",
        "diagnoses",
        "procedures",
        "los_days",
        "discharge_status",
    )
    for c in need_v:
        if c not in visits.columns:
            raise FieldError(
                f"visits.{c}",
                "就诊表缺少列 column missing (expected the visits table of yibao synth)",
                "missing",
            )
    for c in ("psn_id", "gender", "birth_date"):
        if c not in persons.columns:
            raise FieldError(
                f"persons.{c}",
                "人员表缺少列 column missing (expected the persons table of yibao synth)",
                "missing",
            )
    ip = visits.filter(pl.col("med_type") == INPATIENT)
    if "medfee_sumamt" not in ip.columns:
        if lines is None:
            raise FieldError(
                "medfee_sumamt",
                "就诊记录缺少医疗费总额，请提供明细表 visits carry no medfee_sumamt: pass the lines table",
                "missing",
            )
        fee = lines.group_by("visit_id").agg(pl.col("amount").sum().alias("medfee_sumamt"))
        ip = ip.join(fee, on="visit_id", how="left", maintain_order="left").with_columns(
            pl.col("medfee_sumamt").fill_null(0)
        )
    ppl = persons.select("psn_id", "gender", "birth_date")
    df = ip.join(ppl, on="psn_id", how="left", maintain_order="left")
    if df["gender"].null_count():
        vid = df.filter(pl.col("gender").is_null())["visit_id"][0]
        raise FieldError(
            "visits.psn_id",
            f"就诊记录中的人员不存在 visit {vid} names a person that is not in persons",
            "unknown",
        )
    birth, begin = pl.col("birth_date"), pl.col("begin_date")
    before_birthday = (begin.dt.month() * 100 + begin.dt.day()) < (birth.dt.month() * 100 + birth.dt.day())
    dx = pl.col("diagnoses").fill_null("").str.split("|")
    sdx = dx.list.slice(1)
    return df.select(
        pl.col("mdtrt_id").alias("case_id"),
        pl.col("end_date").dt.strftime("%Y-%m-%d").alias("discharge_date"),
        (begin.dt.year() - birth.dt.year() - before_birthday.cast(pl.Int32))
        .clip(0, 150)
        .cast(pl.Int64)
        .alias("age"),
        pl.col("gender").alias("sex"),
        pl.col("discharge_status").replace_strict(SYNTH_TO_DISCHARGE, default=pl.col("discharge_status")),
        dx.list.first().fill_null("").alias("pdx"),
        sdx.list.join("|").alias("sdx"),
        sdx.list.eval(pl.lit("1")).list.join("|").alias("sdx_poa"),
        pl.col("procedures").fill_null(""),
        (begin - birth).dt.total_days().clip(0).cast(pl.Int64).alias("age_days"),
        pl.lit(None, dtype=pl.Int64).alias("weight_g"),
        pl.col("los_days").cast(pl.Int64),
        "visit_id",
        "psn_id",
        "fixmedins_code",
        pl.col("hosp_lv") if "hosp_lv" in df.columns else pl.lit(None, dtype=pl.String).alias("hosp_lv"),
        pl.col("medfee_sumamt").cast(pl.Int64),
    )
