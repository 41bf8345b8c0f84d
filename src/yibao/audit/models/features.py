"""Shared pieces of the anomaly models: the visit frame, robust z-scores, amounts at stake, flag rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from yibao.audit.flags import conform, empty_flags, flag_id_expr
from yibao.errors import FieldError

PARAMS_FILE = Path(__file__).with_name("params.yaml")
MAD_SCALE = 1.4826  # MAD → σ for a normal distribution
PER_DAY_PREFIXES = ("001109", "001201")  # bed and nursing fee items (charged per day)
DRUG = pl.col("code").str.contains("^[XZ]")  # national drug codes: X western, Z Chinese patent medicine

Params = dict[str, Any]


@cache
def _load(path: str) -> Params:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "source" not in data:
        raise FieldError(
            "models/params.yaml",
            "须为映射表并注明出处（source:） must be a mapping with a 'source:' citation",
        )
    return data


def load_params(path: str | Path | None = None) -> Params:
    """The model thresholds (``params.yaml`` next to this module unless ``path`` is given)."""
    return _load(str(path or PARAMS_FILE))


def robust_z(x: pl.Expr, min_mad: float, over: str | list[str] | None = None) -> pl.Expr:
    """(x − median) / (1.4826 × max(MAD, min_mad)), within ``over`` groups when given."""
    med = x.median() if over is None else x.median().over(over)
    dev = (x - med).abs()
    mad = dev.median() if over is None else dev.median().over(over)
    return (x - med) / (MAD_SCALE * pl.max_horizontal(mad, pl.lit(min_mad)))


def visit_frame(
    visits: pl.DataFrame,
    lines: pl.DataFrame,
    settled: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    institutions: pl.DataFrame | None = None,
    session_prefixes: Sequence[str] = (),
    peers: Params | None = None,
    session_diagnoses: Sequence[str] = (),
) -> pl.DataFrame:
    """One row per visit with the features the models share.

    ``amount`` is the billed total; ``fund`` the money paid from insurance funds when ``settled`` (visit_id,
    fund_pay_sumamt, acct_pay) is given — pooled funds plus the personal account, both 医保基金 — else the
    billed total; ``cell`` the case-mix cell (the DRG group when
    ``groups`` has one for the visit, else visit type + principal diagnosis category, ICD-10 3 chars);
    ``kind`` the institution kind from ``institutions`` (hospital / primary / pharmacy / internet), else
    the code's first letter (H / P); ``peer`` = kind and level.
    """
    lx = lines if "drug" in lines.columns else line_frame(lines)
    per_day = pl.col("code").str.starts_with(PER_DAY_PREFIXES[0]) | pl.col("code").str.starts_with(
        PER_DAY_PREFIXES[1]
    )
    # items whose outpatient visits are a course's sessions (knowledge table course_markers, match session)
    codes = lx.select(pl.col("code").unique())["code"]
    session_codes = codes.filter(
        pl.Series([c is not None and c.startswith(tuple(session_prefixes)) for c in codes], dtype=pl.Boolean)
    )
    # plain sums of masked columns: one pass, no per-group filtering (10M lines in well under a second)
    sums = (
        lx.lazy()
        .select(
            "visit_id",
            "amount",
            pl.when(pl.col("drug")).then(pl.col("amount")).otherwise(0).alias("drug_amount"),
            pl.when(per_day).then(0).otherwise(pl.col("amount")).alias("care_amount"),
            pl.col("code").is_in(session_codes.implode()).alias("session"),
        )
        .group_by("visit_id")
        .agg(pl.col("amount", "drug_amount", "care_amount").sum(), pl.col("session").any())
        .collect()
    )
    doctor = (pl.col("bilg_dr_codg") if "bilg_dr_codg" in visits.columns else pl.lit(None)).cast(pl.String)
    v = visits.select(
        "visit_id",
        "psn_id",
        "fixmedins_code",
        "med_type",
        "hosp_lv",
        "begin_date",
        "los_days",
        "emergency",
        pl.col("diagnoses").str.split("|").list.first().str.head(3).alias("dx3"),
        doctor.alias("bilg_dr_codg"),
    )
    # a visit whose principal diagnosis marks a scheduled course (antenatal care, radiotherapy, chemotherapy
    # cycles: course_markers, match session_diagnosis) is one of the course's sessions too
    principal = visits.select(
        "visit_id",
        pl.col("diagnoses")
        .str.split("|")
        .list.first()
        .fill_null("")
        .str.replace_all(".", "", literal=True)
        .str.contains("^(" + "|".join(re.escape(x) for x in session_diagnoses) + ")")
        .alias("_sdx")
        if session_diagnoses
        else pl.lit(False).alias("_sdx"),
    )
    v = (
        v.join(sums, on="visit_id", how="left")
        .join(principal, on="visit_id", how="left")
        .with_columns(
            pl.col("amount").fill_null(0),
            pl.col("drug_amount").fill_null(0),
            pl.col("care_amount").fill_null(0),
            (pl.col("session").fill_null(False) | pl.col("_sdx").fill_null(False)).alias("session"),
            pl.col("fixmedins_code").str.head(1).alias("kind"),
        )
        .drop("_sdx")
    )
    if institutions is not None:
        kinds = institutions.select("fixmedins_code", pl.col("kind").alias("_kind"))
        v = (
            v.join(kinds, on="fixmedins_code", how="left")
            .with_columns(pl.coalesce("_kind", "kind").alias("kind"))
            .drop("_kind")
        )
    if settled is not None:
        if "fund_pay_sumamt" not in settled.columns:
            raise FieldError(
                "settled.fund_pay_sumamt", "缺少该列 column missing (the batch settlement's visits frame)"
            )
        acct = pl.col("acct_pay") if "acct_pay" in settled.columns else pl.lit(0, pl.Int64)
        v = v.join(
            settled.select("visit_id", (pl.col("fund_pay_sumamt") + acct).alias("fund")),
            on="visit_id",
            how="left",
        )
        v = v.with_columns(pl.col("fund").fill_null(0))
    else:
        v = v.with_columns(pl.col("amount").alias("fund"))
    cell = pl.col("med_type") + ":" + pl.col("dx3").fill_null("")
    if groups is not None:
        gcol = next((c for c in groups.columns if c != "visit_id" and groups.schema[c] == pl.String), None)
        if gcol is None:
            raise FieldError(
                "groups",
                "须有 visit_id 和一个文字分组列（如 drg_code） needs visit_id and a string group column (e.g. drg_code)",
            )
        v = v.join(groups.select("visit_id", pl.col(gcol).alias("_grp")), on="visit_id", how="left")
        cell = pl.coalesce(pl.lit("DRG:") + pl.col("_grp"), cell)
        v = v.with_columns(cell.alias("cell")).drop("_grp")
    else:
        v = v.with_columns(cell.alias("cell"))
    # level tiers: 3 and 3S (三级特等) are one peer tier
    # ``course_n``: the person's visits of this type at this provider in the period — a course (dialysis
    # sessions, chemotherapy cycles, rehabilitation) recurs, and the bill-pattern models set it aside
    # ``session_n``: the person's visits at this provider carrying a course-session item (rehabilitation,
    # TCM, infusion, dialysis: knowledge table course_markers)
    course_n = pl.len().over("psn_id", "fixmedins_code", "med_type")
    session_n = pl.col("session").cast(pl.Int64).sum().over("psn_id", "fixmedins_code")
    # peers: kind, level tier and specialty (case mix); ``pool`` is where a small peer group is pooled —
    # every level of the kind with the same specialty
    spec = specialties(v, peers or {})
    if institutions is not None and "name" in institutions.columns:  # the category its name states wins
        named = named_specialties(institutions, peers or {})
        spec = pl.concat([named, spec.join(named, on="fixmedins_code", how="anti")])
    v = v.join(spec, on="fixmedins_code", how="left").with_columns(pl.col("specialty").fill_null(GENERAL))
    return v.with_columns(
        (pl.col("kind") + ":" + pl.col("hosp_lv").str.head(1) + ":" + pl.col("specialty")).alias("peer"),
        (pl.col("kind") + ":*:" + pl.col("specialty")).alias("pool"),
        course_n.alias("course_n"),
        session_n.alias("session_n"),
    )


GENERAL = "general"


def named_specialties(institutions: pl.DataFrame, peers: Params) -> pl.DataFrame:
    """(fixmedins_code, specialty) of the institutions whose name states a category of ``specialty_names``
    (a 中医医院, 肿瘤医院 or 妇幼保健院 says so in its name); the first matching category counts."""
    names: dict[str, list[str]] = peers.get("specialty_names") or {}
    spec = pl.lit(None, pl.String)
    for cat, words in reversed(list(names.items())):
        hit = pl.any_horizontal([pl.col("name").fill_null("").str.contains(w, literal=True) for w in words])
        spec = pl.when(hit).then(pl.lit(cat)).otherwise(spec)
    return (
        institutions.select("fixmedins_code", spec.alias("specialty"))
        .filter(pl.col("specialty").is_not_null())
        .unique("fixmedins_code")
    )


def specialties(v: pl.DataFrame, peers: Params) -> pl.DataFrame:
    """(fixmedins_code, specialty): the specialty of each institution by its case mix — the diagnosis
    chapter (ICD-10 letter of the principal diagnosis) that makes up at least ``specialty_share`` of its
    visits and at least ``specialty_lift`` times that chapter's share at institutions of the same kind, a
    chapter being widened to a group of diagnoses by ``specialty_groups`` (a
    dialysis centre: N; a maternity hospital: O; a rehabilitation hospital: its injuries and strokes).
    Institutions with fewer than ``specialty_min_visits`` visits, pharmacies (peers of pharmacies) and
    those with no such chapter are ``general`` (left out of the result)."""
    share = float(peers.get("specialty_share", 1.01))
    lift = float(peers.get("specialty_lift", 1.0))
    min_visits = int(peers.get("specialty_min_visits", 1))
    # a specialty can span chapters: oncology (C, D0, Z51 courses), obstetrics (O, Z3x antenatal care),
    # renal (N18, Z49 dialysis) — ``specialty_groups`` maps diagnosis prefixes to one case-mix group
    dx = pl.col("dx3").fill_null("")
    chapter = dx.str.head(1)
    groups: dict[str, list[str]] = peers.get("specialty_groups") or {}
    for name, prefixes in reversed(list(groups.items())):
        chapter = (
            pl.when(pl.any_horizontal([dx.str.starts_with(x) for x in prefixes]))
            .then(pl.lit(name))
            .otherwise(chapter)
        )
    chapter = chapter.alias("chapter")
    mix = (
        v.filter(~pl.col("kind").is_in(["P", "pharmacy"]))
        .group_by("fixmedins_code", "kind", chapter)
        .agg(pl.len().alias("n"))
        .with_columns(
            pl.col("n").sum().over("fixmedins_code").alias("total"),
            (pl.col("n").sum().over("kind", "chapter") / pl.col("n").sum().over("kind")).alias("ref"),
        )
        .with_columns((pl.col("n") / pl.col("total")).alias("share"))
    )
    return (
        mix.filter(
            (pl.col("total") >= min_visits)
            & (pl.col("chapter") != "")
            & (pl.col("share") >= share)
            & (pl.col("share") >= lift * pl.col("ref"))
        )
        .sort("share", descending=True)
        .unique("fixmedins_code", keep="first")
        .select("fixmedins_code", pl.col("chapter").alias("specialty"))
    )


def line_frame(lines: pl.DataFrame) -> pl.DataFrame:
    """The fee lines the models read (visit_id, feedetl_sn, code, qty, price, amount) and ``drug``: whether the
    code is a drug.  The test runs on the distinct codes (a few thousand at most), not on every line."""
    days = (
        pl.col("prd_days").cast(pl.Int64) if "prd_days" in lines.columns else pl.lit(None, pl.Int64)
    ).alias("prd_days")
    lx = lines.select("visit_id", "feedetl_sn", "code", "qty", "price", "amount", days)
    codes = lx.select(pl.col("code").unique())
    drugs = codes.filter(DRUG)["code"]
    return lx.with_columns(pl.col("code").is_in(drugs.implode()).alias("drug"))


def stake(amount: pl.Expr) -> pl.Expr:
    """Fund-relevant share of a billed ``amount`` of the visit: amount × fund / visit amount, rounded half
    up in integer fen (the whole fund payment when ``amount`` is the visit amount)."""
    num = amount * pl.col("fund")
    den = pl.col("amount")
    return pl.when(den > 0).then((2 * num + den) // (2 * den)).otherwise(0).cast(pl.Int64)


def flags(
    rows: pl.DataFrame,
    code: str,
    severity: str,
    reason_zh: pl.Expr,
    reason_en: pl.Expr,
    evidence: pl.Expr,
    line_level: bool = False,
) -> pl.DataFrame:
    """Flag rows in the shared schema from ``rows`` (visit_id, psn_id, fixmedins_code, amount_fen[, feedetl_sn])."""
    if rows.height == 0:
        return empty_flags()
    sn = pl.col("feedetl_sn").cast(pl.Int32) if line_level else pl.lit(None, pl.Int32)
    out = rows.with_columns(sn.alias("feedetl_sn")).select(
        flag_id_expr(pl.lit(code), pl.col("visit_id"), pl.col("feedetl_sn")).alias("flag_id"),
        pl.lit("model").alias("source"),
        pl.lit(code).alias("rule_code"),
        pl.lit("模型").alias("rule_class"),
        "psn_id",
        "fixmedins_code",
        "visit_id",
        "feedetl_sn",
        pl.col("amount_fen"),
        pl.lit(severity).alias("severity"),
        reason_zh.alias("reason_zh"),
        reason_en.alias("reason_en"),
        evidence.alias("evidence"),
    )
    return conform(out).unique("flag_id", keep="first", maintain_order=True)


def json_of(**fields: pl.Expr) -> pl.Expr:
    """A JSON object string from named expressions (the ``evidence`` column)."""
    return pl.struct([e.alias(k) for k, e in fields.items()]).struct.json_encode()


def fmt(x: pl.Expr, digits: int = 2) -> pl.Expr:
    return x.round(digits).cast(pl.String)


def yuan(fen: pl.Expr) -> pl.Expr:
    """Fen as a 元 string with two decimals (display only)."""
    return (fen // 100).cast(pl.String) + "." + (fen % 100).cast(pl.String).str.zfill(2)
