"""The after-event (事后) run: every rule of the library over a period's persons / visits / lines at once.

Each rule kind is one lazy Polars query over the joined line frame; all queries are collected together
(shared sub-plans run once).  A query returns ``visit_id, feedetl_sn, amount_fen, reason_zh, reason_en,
evidence``; :func:`run_rules` adds the rule's metadata and the visit's person / institution and returns
the shared flag frame (:data:`yibao.audit.flags.FLAG_SCHEMA`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import polars as pl

from yibao.audit.flags import FLAG_SCHEMA, empty_flags, flag_id_expr
from yibao.audit.knowledge import Knowledge
from yibao.audit.rules import model as m
from yibao.audit.rules import rx
from yibao.errors import FieldError
from yibao.money import QTY_ONE, price_times_qty

LF = pl.LazyFrame
_OUT = ["visit_id", "feedetl_sn", "amount_fen", "reason_zh", "reason_en", "evidence"]


class AuditInputError(FieldError):
    """A persons / visits / lines frame the rules cannot read."""


_NEED = {
    "persons": ("psn_id", "psn_no", "gender", "birth_date"),
    "visits": (
        "visit_id",
        "psn_id",
        "med_type",
        "fixmedins_code",
        "hosp_lv",
        "begin_date",
        "end_date",
        "diagnoses",
    ),
    "lines": ("visit_id", "feedetl_sn", "code", "qty", "price", "amount"),
}


def _check(name: str, frame: pl.DataFrame) -> None:
    for col in _NEED[name]:
        if col not in frame.columns:
            raise AuditInputError(
                f"{name}.{col}", "缺少该列 column missing (see docs/SYNTH.md for the schema)"
            )


def prd_days_of(lines: pl.DataFrame) -> pl.Expr:
    """``lines.prd_days`` as whole days (Int64; null when absent or 0 = not stated); a fractional value is
    refused, naming the column (the in-event path reads the same expression)."""
    if "prd_days" not in lines.columns:
        return pl.lit(None, pl.Int64).alias("prd_days")
    col = lines["prd_days"]
    if col.dtype.is_float() and (col.drop_nulls() != col.drop_nulls().round()).any():
        raise AuditInputError("lines.prd_days", "天数须为整数 must be whole days")
    if not (col.dtype.is_numeric() or col.dtype == pl.Null):
        raise AuditInputError("lines.prd_days", f"天数须为数字 must be a number of days, not {col.dtype}")
    days = pl.col("prd_days").cast(pl.Int64)
    return pl.when(days > 0).then(days).otherwise(None).alias("prd_days")


def line_doctor_of(lines: pl.DataFrame) -> pl.Expr:
    """The physician named on a fee line (2204 ``bilg_dr_codg``), as a string column (null when absent)."""
    src = pl.col("bilg_dr_codg") if "bilg_dr_codg" in lines.columns else pl.lit(None)
    return src.cast(pl.String).alias("line_dr")


def fee_date_of(lines: pl.DataFrame) -> pl.Expr:
    """The service date of a fee line (2204 ``fee_ocur_time``: a date, or a date-time whose day is taken)
    as ``fee_date`` (null when the lines do not carry it; the caller then takes the visit's first day)."""
    if "fee_ocur_time" not in lines.columns:
        return pl.lit(None, pl.Date).alias("fee_date")
    dtype = lines.schema["fee_ocur_time"]
    col = pl.col("fee_ocur_time")
    if dtype == pl.String:
        try:
            lines.select(col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=True))
        except pl.exceptions.InvalidOperationError:
            raise AuditInputError(
                "lines.fee_ocur_time", "费用发生时间格式错误 must be yyyy-MM-dd[ HH:mm:ss]"
            ) from None
        return col.str.slice(0, 10).str.to_date("%Y-%m-%d").alias("fee_date")
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return col.cast(pl.Date).alias("fee_date")
    raise AuditInputError("lines.fee_ocur_time", f"须为日期 must be a date, not {dtype}")


def _json(**cols: pl.Expr) -> pl.Expr:
    return pl.struct([e.alias(k) for k, e in cols.items()]).struct.json_encode()


def _s(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.String)


class _Ctx:
    """The joined inputs every rule query starts from."""

    def __init__(self, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame) -> None:
        v = visits.lazy().select(
            "visit_id",
            "psn_id",
            "med_type",
            "fixmedins_code",
            "hosp_lv",
            "begin_date",
            "end_date",
            pl.col("diagnoses").fill_null(""),
            (pl.col("emergency").fill_null(False) if "emergency" in visits.columns else pl.lit(False)).alias(
                "emergency"
            ),
            (
                pl.col("discharge_status")
                if "discharge_status" in visits.columns
                else pl.lit(None, pl.String)
            ).alias("discharge_status"),
            (pl.col("end_date") - pl.col("begin_date")).dt.total_days().clip(lower_bound=1).alias("days"),
            (pl.col("procedures") if "procedures" in visits.columns else pl.lit(None, pl.String))
            .cast(pl.String)
            .alias("procedures"),
            (pl.col("bilg_dr_codg") if "bilg_dr_codg" in visits.columns else pl.lit(None))
            .cast(pl.String)
            .alias("bilg_dr_codg"),
        )
        self.visits = v
        self.persons = persons.lazy()
        self.has_death_col = "death_date" in persons.columns
        cols = ["visit_id", "feedetl_sn", "code", "qty", "price", "amount"]
        # item codes as small integers, once: every rule then joins its knowledge table on an integer
        # instead of hashing ten million strings again
        codes = lines.select(pl.col("code").unique().sort()).with_row_index("cid")
        self.codes = codes.lazy()
        cid = lines["code"].replace_strict(codes["code"], codes["cid"], return_dtype=pl.UInt32).alias("cid")
        lines = lines.select(
            *cols,
            prd_days_of(lines),
            line_doctor_of(lines),
            fee_date_of(lines),
            *(["positive"] if "positive" in lines.columns else []),
        ).with_columns(cid)
        cols += ["prd_days", "line_dr", "fee_date", "cid"]
        if lines["fee_date"].null_count():  # lines without a service date: the visit's first day
            first = visits.select("visit_id", pl.col("begin_date").cast(pl.Date).alias("_b"))
            lines = (
                lines.join(first, on="visit_id", how="left")
                .with_columns(pl.col("fee_date").fill_null(pl.col("_b")))
                .drop("_b")
            )
        self.has_positive = "positive" in lines.columns
        self.register = pl.DataFrame(schema={"psn_no": pl.String, "death_date": pl.Date})
        self.lines = lines.lazy().select(cols + (["positive"] if self.has_positive else []))
        self.vcols = v.select(
            "visit_id", "psn_id", "med_type", "hosp_lv", "begin_date", "days", "fixmedins_code"
        )
        self.dx = v.select("visit_id", "diagnoses")
        self.rx = rx_frame(visits)

    def by_code(self, table: LF, right_on: str = "code", how: Literal["inner", "semi"] = "inner") -> LF:
        """Lines whose code is in ``table[right_on]`` (joined with its row, or only kept for ``semi``)."""
        t = table.join(self.codes, left_on=right_on, right_on="code", how="inner")
        if right_on == "code":
            t = t.drop("code")
        return self.lines.join(t, on="cid", how=how)

    def code_totals(self, table: LF, keep: pl.Expr, in_visits: LF | None = None) -> LF:
        """Lines of the codes in ``table`` with ``_tot``, the visit's total quantity of the code, and
        ``_written``, the most days any of those lines is prescribed for, ``_ndates``, the distinct service
        days (``fee_date``) of those lines, for the (visit, code) groups
        where ``keep`` holds (``keep`` may use both and the table's columns); only visits in
        ``in_visits`` (visit_id) when given."""
        t = table.join(self.codes, on="code")
        mine = self.lines.join(t.select("cid"), on="cid", how="semi")
        if in_visits is not None:
            mine = mine.join(in_visits, on="visit_id", how="semi")
        sums = (
            mine.group_by("visit_id", "cid")
            .agg(
                pl.col("qty").sum().alias("_tot"),
                pl.col("prd_days").max().alias("_written"),
                pl.col("fee_date").n_unique().alias("_ndates"),
            )
            .join(t.drop("code"), on="cid")
            .filter(keep)
        )
        return self.lines.join(sums, on=["visit_id", "cid"])

    def together(self, table: LF, a: str, b: str, by_day: bool = False) -> LF:
        """Lines of code ``table[b]`` (joined with the table row) in visits that also bill ``table[a]``
        (``by_day``: on the same service day)."""
        universe = pl.concat(
            [table.select(pl.col(a).alias("code")), table.select(pl.col(b).alias("code"))]
        ).unique()
        u = (
            self.by_code(universe, how="semi")
            .select("visit_id", "feedetl_sn", "code", "amount", "fee_date")
            .filter(pl.col("visit_id").is_duplicated())
        )  # a pair needs two lines of the universe in one visit
        on = ["visit_id", a, "fee_date"] if by_day else ["visit_id", a]
        present = u.select("visit_id", pl.col("code").alias(a), "fee_date").select(on).unique()
        return u.join(table, left_on="code", right_on=b).join(present, on=on, how="semi")

    def lv(self, table: LF, right_on: str = "code") -> LF:
        """Lines whose code is in a knowledge table (joined with its row), with their visit's columns.
        Filtering by code first keeps every query small: most lines match no knowledge row."""
        return self.by_code(table, right_on).join(self.vcols, on="visit_id", how="inner")

    def line_flags(
        self, frame: LF, zh: pl.Expr, en: pl.Expr, evidence: pl.Expr, amount: pl.Expr | None = None
    ) -> LF:
        return frame.select(
            "visit_id",
            pl.col("feedetl_sn").cast(pl.Int32),
            (amount if amount is not None else pl.col("amount")).cast(pl.Int64).alias("amount_fen"),
            zh.alias("reason_zh"),
            en.alias("reason_en"),
            evidence.alias("evidence"),
        )

    def visit_amounts(self, of: LF) -> LF:
        """Total line amount of the visits in ``of`` (visit_id)."""
        return (
            self.lines.join(of.select("visit_id"), on="visit_id", how="semi")
            .group_by("visit_id")
            .agg(pl.col("amount").sum().alias("visit_amount"))
        )


# ------------------------------------------------------------------------------------------ rule kinds
def _sex(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    x = (
        c.lv(k.item_sex.lazy())
        .join(c.persons.select("psn_id", "gender"), on="psn_id")
        .filter(pl.col("gender") != pl.col("sex"))
    )
    return c.line_flags(
        x,
        pl.format("项目{}限{}性使用，患者性别为{}", "code", "sex", "gender"),
        pl.format("item {} is restricted to sex {}; the patient is {}", "code", "sex", "gender"),
        _json(code=pl.col("code"), item_sex=pl.col("sex"), patient_sex=pl.col("gender")),
    )


def age_expr(begin: pl.Expr, birth: pl.Expr) -> pl.Expr:
    """Completed years on ``begin`` (the same rule as :meth:`yibao.settlement.model.Person.age_on`)."""

    def md(d: pl.Expr) -> pl.Expr:  # month and day as one Int32 (month() is Int8: ×100 would overflow)
        return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

    before_birthday = md(begin) < md(birth)
    return (begin.dt.year() - birth.dt.year()).cast(pl.Int64) - before_birthday.cast(pl.Int64)


def _age(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    x = (
        c.lv(k.item_age.lazy())
        .join(c.persons.select("psn_id", "birth_date"), on="psn_id")
        .with_columns(age_expr(pl.col("begin_date"), pl.col("birth_date")).alias("age"))
        .filter(
            (pl.col("min_age").is_not_null() & (pl.col("age") < pl.col("min_age")))
            | (pl.col("max_age").is_not_null() & (pl.col("age") > pl.col("max_age")))
        )
    )
    rng = pl.format("{}–{}", _s(pl.col("min_age")).fill_null(""), _s(pl.col("max_age")).fill_null(""))
    return c.line_flags(
        x,
        pl.format("项目{}限{}岁使用，患者{}岁", "code", rng, "age"),
        pl.format("item {} is restricted to ages {}; the patient is {}", "code", rng, "age"),
        _json(code=pl.col("code"), min_age=pl.col("min_age"), max_age=pl.col("max_age"), age=pl.col("age")),
    )


def _level(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.LevelParams)
    rank = {lv: i for i, lv in enumerate(p.level_order)}
    x = (
        c.lv(k.item_level.lazy())
        .with_columns(
            pl.col("hosp_lv").replace_strict(rank, default=None, return_dtype=pl.Int32).alias("_r"),
            pl.col("min_level").replace_strict(rank, default=None, return_dtype=pl.Int32).alias("_m"),
        )
        .filter(pl.col("_r") < pl.col("_m"))
    )
    return c.line_flags(
        x,
        pl.format("项目{}限{}级及以上医疗机构使用，本机构为{}级", "code", "min_level", "hosp_lv"),
        pl.format(
            "item {} needs hospital level {} or above; this one is level {}", "code", "min_level", "hosp_lv"
        ),
        _json(code=pl.col("code"), min_level=pl.col("min_level"), hosp_lv=pl.col("hosp_lv")),
    )


def _prefix_match(frame: LF, dx: str, prefixes: str) -> LF:
    """Row ids (``_rid``) of ``frame`` where some '|'-joined diagnosis starts with some '|'-joined prefix."""
    return (
        frame.select(
            "_rid",
            pl.col(dx).str.split("|").alias("_dx"),
            pl.col(prefixes).str.replace_all(".", "", literal=True).str.split("|").alias("_pre"),
        )
        .explode("_dx")
        .explode("_pre")
        .filter((pl.col("_pre") != "") & pl.col("_dx").str.starts_with(pl.col("_pre")))
        .select("_rid")
        .unique()
    )


def _indication(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    x = c.lv(k.item_indication.lazy()).join(c.dx, on="visit_id").with_row_index("_rid")
    ok = _prefix_match(x, "diagnoses", "icd_prefixes")
    bad = x.join(ok, on="_rid", how="anti")
    return c.line_flags(
        bad,
        pl.format("项目{}限适应症（{}），本次诊断为{}", "code", "icd_prefixes", "diagnoses"),
        pl.format(
            "item {} is paid only for {}; the visit's diagnoses are {}", "code", "icd_prefixes", "diagnoses"
        ),
        _json(code=pl.col("code"), indications=pl.col("icd_prefixes"), diagnoses=pl.col("diagnoses")),
    )


def _course_admission(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    t = (
        k.payment_course.lazy()
        .filter(pl.col("basis") == "admission")
        .select(
            "code",
            "max_days",
            "units_per_day_q",
            (pl.col("max_days") * pl.col("units_per_day_q")).alias("_lim"),
        )
    )
    x = c.code_totals(t, pl.col("_tot") > pl.col("_lim"))
    return c.line_flags(
        x,
        pl.format(
            "项目{}单次住院限支付{}天（{}单位），本次{}单位",
            "code",
            "max_days",
            _qty_text(pl.col("_lim")),
            _qty_text(pl.col("_tot")),
        ),
        pl.format(
            "item {} is paid for at most {} days ({} units) an admission; this one has {}",
            "code",
            "max_days",
            _qty_text(pl.col("_lim")),
            _qty_text(pl.col("_tot")),
        ),
        _json(
            code=pl.col("code"),
            max_days=pl.col("max_days"),
            limit_units=_qty_text(pl.col("_lim")),
            units=_qty_text(pl.col("_tot")),
        ),
    )


def _qty_text(e: pl.Expr) -> pl.Expr:
    """A 1/10000 quantity as a decimal string (for reasons and evidence)."""
    return (e.cast(pl.Float64) / QTY_ONE).round(4).cast(pl.String)


def _course_year(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    t = (
        k.payment_course.lazy()
        .filter(pl.col("basis") == "year")
        .select("code", "max_days", (pl.col("max_days") * pl.col("units_per_day_q")).alias("_lim"))
    )
    x = (
        c.lv(t)
        .sort("psn_id", "code", "begin_date", "visit_id", "feedetl_sn")
        .with_columns(
            pl.col("qty").cum_sum().over("psn_id", "code", pl.col("begin_date").dt.year()).alias("_cum")
        )
        .filter(pl.col("_cum") > pl.col("_lim"))
    )
    return c.line_flags(
        x,
        pl.format(
            "项目{}年度限支付{}天（{}单位），累计已达{}单位",
            "code",
            "max_days",
            _qty_text(pl.col("_lim")),
            _qty_text(pl.col("_cum")),
        ),
        pl.format(
            "item {} is paid for at most {} days ({} units) a year; the year's total reaches {}",
            "code",
            "max_days",
            _qty_text(pl.col("_lim")),
            _qty_text(pl.col("_cum")),
        ),
        _json(
            code=pl.col("code"),
            max_days=pl.col("max_days"),
            limit_units=_qty_text(pl.col("_lim")),
            cumulative=_qty_text(pl.col("_cum")),
        ),
    )


def daily_max(k: Knowledge) -> pl.DataFrame:
    """(code, _dmax): the most of an item billable a day — the frequency table's per-day limit, else the
    item_pack table's largest daily dose."""
    f = k.frequency.filter(pl.col("max_per_day_q").is_not_null()).select(
        "code", pl.col("max_per_day_q").alias("_dmax")
    )
    pk = k.item_pack.filter(pl.col("daily_max_q").is_not_null()).select(
        "code", pl.col("daily_max_q").alias("_dmax")
    )
    return pl.concat([f, pk.join(f, on="code", how="anti")]).unique("code", keep="first")


def _duplicate_line(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """The same code billed again on the same service day beyond its daily maximum (without a known daily
    maximum: a line repeating an earlier line's quantity and price on the same day).  Per-day items billed
    on one line a day over a stay are not duplicates: their days differ."""
    day_key = ["visit_id", "cid", "fee_date"]
    # a cheap integer key first, then confirm on the few candidates: a collision only adds a candidate
    quick = pl.col("visit_id").hash(1) ^ pl.col("cid").hash(2) ^ pl.col("fee_date").hash(3)
    keys = c.lines.select(quick.alias("_k")).sort("_k")
    dup = keys.filter(pl.col("_k") == pl.col("_k").shift(1)).unique()
    cand = c.lines.with_columns(quick.alias("_k")).join(dup, on="_k", how="semi")
    x = (
        cand.filter(pl.struct(day_key).is_duplicated())
        .join(daily_max(k).lazy().join(c.codes, on="code").drop("code"), on="cid", how="left")
        .sort("visit_id", "feedetl_sn")
        .with_columns(
            pl.col("feedetl_sn").min().over(day_key).alias("_day_first"),
            pl.col("feedetl_sn").min().over([*day_key, "qty", "price"]).alias("_first"),
            pl.col("qty").cum_sum().over(day_key).alias("_cum"),
        )
        .filter(
            (pl.col("feedetl_sn") != pl.col("_day_first"))
            & pl.when(pl.col("_dmax").is_not_null())
            .then(pl.col("_cum") > pl.col("_dmax"))
            .otherwise(pl.col("feedetl_sn") != pl.col("_first"))
        )
        .with_columns(
            pl.coalesce(pl.when(pl.col("_dmax").is_null()).then("_first"), "_day_first").alias("_ref")
        )
    )
    return c.line_flags(
        x,
        pl.when(pl.col("_dmax").is_null())
        .then(pl.format("项目{}与第{}行同日、数量、单价相同，重复收费", "code", "_ref"))
        .otherwise(
            pl.format(
                "项目{}同日累计{}，超过每日最多{}，重复收费",
                "code",
                _qty_text(pl.col("_cum")),
                _qty_text(pl.col("_dmax")),
            )
        ),
        pl.when(pl.col("_dmax").is_null())
        .then(pl.format("item {} repeats line {} on the same day (same quantity and price)", "code", "_ref"))
        .otherwise(
            pl.format(
                "item {} reaches {} on one day, above its daily maximum {}",
                "code",
                _qty_text(pl.col("_cum")),
                _qty_text(pl.col("_dmax")),
            )
        ),
        _json(
            code=pl.col("code"),
            first_line=pl.col("_ref"),
            day=_s(pl.col("fee_date")),
            qty=_qty_text(pl.col("qty")),
            day_total=_qty_text(pl.col("_cum")),
            daily_max=_qty_text(pl.col("_dmax")),
            price_fen=pl.col("price"),
        ),
    )


def _duplicate_pair(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """Mutually exclusive items: a ``visit``-scope pair may not meet in one visit, a ``day``-scope pair
    (grades that may change during a stay: bed, nursing) not on one service day."""
    pairs = k.duplicate_pairs.lazy()
    x = pl.concat(
        [
            c.together(pairs.filter(pl.col("scope") == "visit"), "code_a", "code_b"),
            c.together(pairs.filter(pl.col("scope") == "day"), "code_a", "code_b", by_day=True),
        ],
        how="diagonal_relaxed",
    )
    x = x.group_by("visit_id", "feedetl_sn", "code", "amount").agg(
        pl.col("code_a").unique().sort().str.join("|")
    )
    return c.line_flags(
        x,
        pl.format("项目{}与{}不得同时收取", "code", "code_a"),
        pl.format("item {} may not be charged together with {}", "code", "code_a"),
        _json(code=pl.col("code"), excluded_by=pl.col("code_a")),
    )


def _frequency_day(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.InpatientParams)
    t = k.frequency.lazy().filter(pl.col("max_per_day_q").is_not_null()).select("code", "max_per_day_q")
    # the days of the item: a stay's days, or the distinct service days its lines carry (2204 fee_ocur_time) —
    # a dialysis centre settling a month of sessions as one visit dates every session line
    days = pl.max_horizontal(
        pl.when(pl.col("med_type").is_in(list(p.inpatient_types))).then(pl.col("days")).otherwise(1),
        pl.col("_ndates"),
    )
    x = (
        c.code_totals(t, pl.col("_tot") > pl.col("max_per_day_q"))  # days ≥ 1: only these can exceed
        .join(c.vcols.select("visit_id", "med_type", "days"), on="visit_id")
        .with_columns(days.alias("_days"))
        .filter(pl.col("_tot") > pl.col("max_per_day_q") * pl.col("_days"))
    )
    return c.line_flags(
        x,
        pl.format(
            "项目{}每日限{}次，{}天共收{}次",
            "code",
            _qty_text(pl.col("max_per_day_q")),
            "_days",
            _qty_text(pl.col("_tot")),
        ),
        pl.format(
            "item {} is limited to {} a day; {} day(s) carry {}",
            "code",
            _qty_text(pl.col("max_per_day_q")),
            "_days",
            _qty_text(pl.col("_tot")),
        ),
        _json(
            code=pl.col("code"),
            per_day=_qty_text(pl.col("max_per_day_q")),
            days=pl.col("_days"),
            total=_qty_text(pl.col("_tot")),
        ),
    )


def _frequency_period(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    t = k.frequency.filter(pl.col("period_days").is_not_null() & pl.col("max_per_period_q").is_not_null())
    parts: list[LF] = []
    for days in sorted(set(t["period_days"].to_list())):
        tt = t.filter(pl.col("period_days") == days).select("code", "period_days", "max_per_period_q").lazy()
        x = (
            c.lv(tt)  # by the line's own service day (a month of dated sessions settled as one visit)
            .sort("psn_id", "code", "fee_date")
            .with_columns(
                pl.col("qty")
                .rolling_sum_by("fee_date", window_size=f"{days}d")
                .over("psn_id", "code")
                .alias("_win")
            )
            .filter(pl.col("_win") > pl.col("max_per_period_q"))
        )
        parts.append(x)
    if not parts:
        return empty_partial()
    x = pl.concat(parts)
    return c.line_flags(
        x,
        pl.format(
            "项目{}每{}天限{}次，本期已达{}次",
            "code",
            "period_days",
            _qty_text(pl.col("max_per_period_q")),
            _qty_text(pl.col("_win")),
        ),
        pl.format(
            "item {} is limited to {} per {} days; the window holds {}",
            "code",
            _qty_text(pl.col("max_per_period_q")),
            "period_days",
            _qty_text(pl.col("_win")),
        ),
        _json(
            code=pl.col("code"),
            period_days=pl.col("period_days"),
            limit=_qty_text(pl.col("max_per_period_q")),
            in_window=_qty_text(pl.col("_win")),
        ),
    )


def long_term_pattern(k: Knowledge) -> str | None:
    """A regex matching a principal diagnosis of the ``long_term_dx`` table (None when it is empty)."""
    prefixes = sorted({p.replace(".", "") for p in k.long_term_dx.get_column("icd_prefix").to_list() if p})
    return "^(" + "|".join(re.escape(p) for p in prefixes) + ")" if prefixes else None


def pack_table(k: Knowledge) -> pl.DataFrame:
    """(code, _daily, _pack, _item_days): per drug the largest daily units (item_pack, else supply), the
    dispensing pack (0 when unknown) and the item's own days limit (days_limit; null when none)."""
    pk = k.item_pack.select("code", pl.col("daily_max_q").alias("_d1"), pl.col("pack_units_q").alias("_pack"))
    sp = k.supply.select("code", pl.col("max_units_per_day_q").alias("_d2"))
    days = k.days_limit.select("code", pl.col("max_days").alias("_item_days")).unique("code", keep="first")
    return (
        pk.join(sp, on="code", how="full", coalesce=True)
        .join(days, on="code", how="left")
        .select(
            "code",
            pl.coalesce("_d1", "_d2").alias("_daily"),
            pl.col("_pack").fill_null(0),
            "_item_days",
        )
        .filter(pl.col("_daily").is_not_null())
    )


def registered_persons(c: _Ctx, k: Knowledge) -> LF:
    """psn_id of the persons on the 门慢门特 register (registered_conditions)."""
    reg = k.registered_conditions.lazy().select("psn_no").unique()
    return c.persons.select("psn_id", "psn_no").join(reg, on="psn_no", how="semi").select("psn_id")


def _over_supply(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """More days of a drug than one prescription may cover: the item's own days limit (days_limit), else the
    visit type's; a person on the 门慢门特 register up to ``registered_days`` (长期处方); the quantity
    passes within ``pack_tolerance`` whole packs above those days at the largest daily dose."""
    p = r.params
    assert isinstance(p, m.SupplyParams)
    days = pl.col("med_type").replace_strict(p.max_days, default=None, return_dtype=pl.Int64)
    pattern = long_term_pattern(k) if p.long_term_days else None
    if (
        pattern is not None
    ):  # 长期处方: a long-term principal diagnosis allows the longer supply of its visit type
        long_days = pl.col("med_type").replace_strict(p.long_term_days, default=None, return_dtype=pl.Int64)
        is_long = (
            pl.col("diagnoses")
            .str.split("|")
            .list.first()
            .fill_null("")
            .str.replace_all(".", "", literal=True)
            .str.contains(pattern)
        )
        days = pl.when(is_long & long_days.is_not_null()).then(long_days).otherwise(days)
    days = pl.coalesce("_item_days", days)
    # 长期处方 covers the chronic drugs: an item whose own limit is of another class (acute, herbal) keeps it
    days = (
        pl.when(pl.col("_reg") & pl.col("_long_rx"))
        .then(pl.max_horizontal(days, pl.lit(p.registered_days)))
        .otherwise(days)
    )
    short = k.days_limit.filter(pl.col("days_class") != "chronic").select("code").unique()
    t = pack_table(k).with_columns(pl.col("code").is_in(short["code"].implode()).not_().alias("_long_rx"))
    item_least = t["_item_days"].min()
    least = min([*p.max_days.values(), *([int(item_least)] if isinstance(item_least, int) else [])])
    supplied = c.visits.filter(pl.col("med_type").is_in(list(p.max_days))).select("visit_id")
    tol = pl.col("_pack") * p.pack_tolerance
    # a cheap pre-filter on the visit's units of the drug or the days a line is written for
    keep = (pl.col("_tot") > pl.col("_daily") * least + tol) | (pl.col("_written") > least)
    reg = registered_persons(c, k).with_columns(pl.lit(True).alias("_reg"))
    x = (
        c.code_totals(t.lazy(), keep, supplied)
        .join(c.vcols.select("visit_id", "med_type", "psn_id"), on="visit_id")
        .join(reg, on="psn_id", how="left")
        .with_columns(pl.col("_reg").fill_null(False) | pl.col("med_type").is_in(list(p.registered_types)))
        .join(c.dx, on="visit_id", how="left")
        .with_columns(days.alias("_days"))
        .with_columns((pl.col("_daily") * pl.col("_days") + tol).alias("_lim"))
        .filter((pl.col("_tot") > pl.col("_lim")) | (pl.col("prd_days") > pl.col("_days")))
    )
    by_qty = pl.col("_tot") > pl.col("_lim")
    zh = (
        pl.when(by_qty)
        .then(
            pl.format(
                "药品{}超量开药：{}天（含整包装余量）限{}单位，本次{}单位",
                "code",
                "_days",
                _qty_text(pl.col("_lim")),
                _qty_text(pl.col("_tot")),
            )
        )
        .otherwise(pl.format("药品{}超量开药：处方{}天，限{}天", "code", "prd_days", "_days"))
    )
    en = (
        pl.when(by_qty)
        .then(
            pl.format(
                "drug {} over-supplied: {} days (with a whole-pack allowance) allow {} units, this visit has {}",
                "code",
                "_days",
                _qty_text(pl.col("_lim")),
                _qty_text(pl.col("_tot")),
            )
        )
        .otherwise(
            pl.format(
                "drug {} over-supplied: prescribed for {} days, {} allowed", "code", "prd_days", "_days"
            )
        )
    )
    return c.line_flags(
        x,
        zh,
        en,
        _json(
            code=pl.col("code"),
            max_days=pl.col("_days"),
            limit_units=_qty_text(pl.col("_lim")),
            units=_qty_text(pl.col("_tot")),
            pack_units=_qty_text(pl.col("_pack")),
            registered=pl.col("_reg"),
            prescribed_days=pl.col("prd_days"),
        ),
    )


def _dose_days(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """A drug line with more units than its stated days allow even at the largest daily dose, beyond
    ``pack_tolerance`` whole packs (开药量与用药天数不符): dispensing whole packs is not over-supply."""
    p = r.params
    assert isinstance(p, m.DoseParams)
    lim_e = pl.col("_daily") * pl.col("prd_days") + pl.col("_pack") * p.pack_tolerance
    x = c.by_code(pack_table(k).lazy().select("code", "_daily", "_pack")).filter(
        pl.col("prd_days").is_not_null() & (pl.col("qty") > lim_e)
    )
    lim = _qty_text(lim_e)
    return c.line_flags(
        x,
        pl.format(
            "药品{}开药{}单位，处方{}天按每日最大{}单位加整包装余量最多{}单位",
            "code",
            _qty_text(pl.col("qty")),
            "prd_days",
            _qty_text(pl.col("_daily")),
            lim,
        ),
        pl.format(
            "drug {}: {} units prescribed for {} days; at most {} a day plus a whole-pack allowance is {}",
            "code",
            _qty_text(pl.col("qty")),
            "prd_days",
            _qty_text(pl.col("_daily")),
            lim,
        ),
        _json(
            code=pl.col("code"),
            units=_qty_text(pl.col("qty")),
            prescribed_days=pl.col("prd_days"),
            max_units_per_day=_qty_text(pl.col("_daily")),
            pack_units=_qty_text(pl.col("_pack")),
            limit_units=lim,
        ),
    )


def _title_grade(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """A graded consultation billed by a physician whose registered title may not bill it, or by one the
    registry does not know (only where the visit names its physician and a registry is loaded)."""
    registry_loaded = pl.lit(k.physicians.height > 0)  # without a registry nothing can be checked
    reg = (
        k.physicians.lazy().group_by("dr_code").agg(pl.col("title").min())
    )  # a doctor at several sites: one title
    x = (
        c.by_code(k.title_grade.lazy())
        .join(c.visits.select("visit_id", pl.col("bilg_dr_codg").alias("visit_dr")), on="visit_id")
        .with_columns(
            pl.coalesce("line_dr", "visit_dr").alias("bilg_dr_codg")
        )  # the line's own physician wins
        .filter(pl.col("bilg_dr_codg").is_not_null())
        .join(reg, left_on="bilg_dr_codg", right_on="dr_code", how="left")
        .filter(
            registry_loaded
            & (
                pl.col("title").is_null()
                | ~pl.col("titles").str.split("|").list.contains(pl.col("title").fill_null(""))
            )
        )
        .with_row_index("_rid")
    )
    # at stake: the excess over the dearest grade of the family the physician may bill (the base grade, or a
    # graded item whose titles include theirs) at its standard price; all of it for an unregistered physician
    tg = k.title_grade.lazy()
    family = pl.concat(
        [
            tg.select("base_code", pl.col("code").alias("_alt"), pl.col("titles").alias("_alt_titles")),
            tg.select(
                "base_code", pl.col("base_code").alias("_alt"), pl.lit(None, pl.String).alias("_alt_titles")
            ).unique(),
        ]
    )
    std = k.price_standard.lazy().select(pl.col("code").alias("_alt"), "standard_price_fen")
    allowed = (
        x.filter(pl.col("title").is_not_null())
        .select("_rid", "base_code", "title")
        .join(family, on="base_code")
        .join(std, on="_alt")
        .filter(
            pl.col("_alt_titles").is_null()
            | pl.col("_alt_titles").str.split("|").list.contains(pl.col("title"))
        )
        .group_by("_rid")
        .agg(pl.col("standard_price_fen").max().alias("_allowed"))
    )
    x = x.join(allowed, on="_rid", how="left")
    fair = price_times_qty(pl.col("_allowed"), pl.col("qty"))
    excess = (
        pl.when(pl.col("_allowed").is_null())
        .then(pl.col("amount"))
        .otherwise((pl.col("amount") - fair).clip(lower_bound=0))
    )
    who = pl.col("title").fill_null("未登记")
    return c.line_flags(
        x,
        pl.format("项目{}限职称{}收取，开单医师{}职称为{}", "code", "titles", "bilg_dr_codg", who),
        pl.format(
            "item {} may be billed by titles {} only; physician {} holds {}",
            "code",
            "titles",
            "bilg_dr_codg",
            pl.col("title").fill_null("no registry entry"),
        ),
        _json(
            code=pl.col("code"),
            titles=pl.col("titles"),
            physician=pl.col("bilg_dr_codg"),
            title=pl.col("title"),
            allowed_price_fen=pl.col("_allowed"),
        ),
        excess,
    )


def _over_price(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.PriceParams)
    x = c.by_code(k.price_standard.lazy().select("code", "standard_price_fen")).filter(
        pl.col("price") * 10_000 > pl.col("standard_price_fen") * (10_000 + p.tolerance_bp)
    )
    excess = pl.min_horizontal(
        price_times_qty(pl.col("price") - pl.col("standard_price_fen"), pl.col("qty")),
        pl.col("amount"),
    )
    return c.line_flags(
        x,
        pl.format("项目{}单价{}分高于标准价{}分", "code", "price", "standard_price_fen"),
        pl.format("item {} priced {} fen above the standard {} fen", "code", "price", "standard_price_fen"),
        _json(
            code=pl.col("code"),
            price_fen=pl.col("price"),
            standard_fen=pl.col("standard_price_fen"),
            tolerance_bp=pl.lit(p.tolerance_bp),
        ),
        excess,
    )


def _split_item(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    split = k.split_items.lazy()
    x = (
        c.together(split, "package_code", "component_code")
        .group_by("visit_id", "feedetl_sn", "code", "amount")
        .agg(pl.col("package_code").sort().str.join("|"))
    )
    return c.line_flags(
        x,
        pl.format("项目{}已包含在{}中，分解收费", "code", "package_code"),
        pl.format("item {} is part of {} and was charged separately", "code", "package_code"),
        _json(code=pl.col("code"), package=pl.col("package_code")),
    )


def _starts_any(prefixes: tuple[str, ...]) -> pl.Expr:
    e = pl.lit(False)
    for pre in prefixes:
        e = e | pl.col("code").str.starts_with(pre)
    return e


def _bed_hanging(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """Bed days without care (挂床): bed days minus the days care shows (:func:`care_days`); at stake the
    per-day items (bed, nursing) of the empty days."""
    p = r.params
    assert isinstance(p, m.BedParams)
    empty = care_days(c, k, p).filter(pl.col("_empty") >= p.min_empty_days * QTY_ONE)
    per_day = c.by_code(c.codes.filter(_starts_any(p.per_day_prefixes)).select("code"), how="semi").join(
        empty, on="visit_id", how="inner"
    )
    stake = (
        per_day.with_columns(
            price_times_qty(pl.col("price"), pl.min_horizontal("qty", "_empty")).fill_null(0).alias("_s")
        )
        .group_by("visit_id")
        .agg(pl.col("_s").sum(), pl.col("qty").filter(_starts_any(p.bed_prefixes)).sum().alias("_bed"))
    )
    x = empty.join(stake, on="visit_id").with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"))
    return c.line_flags(
        x,
        pl.format(
            "住院床日{}天，有诊察记录{}天，{}天无诊疗（挂床）",
            _qty_text(pl.col("_bed")),
            _qty_text(pl.col("_care")),
            _qty_text(pl.col("_empty")),
        ),
        pl.format(
            "{} bed days but care charged on {}; {} days without care (bed-hanging)",
            _qty_text(pl.col("_bed")),
            _qty_text(pl.col("_care")),
            _qty_text(pl.col("_empty")),
        ),
        _json(
            bed_days=_qty_text(pl.col("_bed")),
            care_days=_qty_text(pl.col("_care")),
            empty_days=_qty_text(pl.col("_empty")),
        ),
        pl.col("_s"),
    )


def care_days(c: _Ctx, k: Knowledge, p: m.BedParams) -> LF:
    """Per stay with bed days: ``_bed``, ``_care`` — the days care shows, the larger of the per-day care
    items' quantity (``care_codes``: the daily consultation) and the service days that carry an item of the
    care-marker table (medication, tests, treatments) — and ``_empty``, the bed days without care."""
    inpatient = c.visits.filter(pl.col("med_type").is_in(list(p.inpatient_types))).select("visit_id")
    bed = (
        c.by_code(c.codes.filter(_starts_any(p.bed_prefixes)).select("code"), how="semi")
        .join(inpatient, on="visit_id", how="semi")
        .group_by("visit_id")
        .agg(pl.col("qty").sum().alias("_bed"))
    )
    coded = (
        c.by_code(c.codes.filter(pl.col("code").is_in(list(p.care_codes))).select("code"), how="semi")
        .group_by("visit_id")
        .agg(pl.col("qty").sum().alias("_coded"))
    )
    prefixes = tuple(k.care_markers.get_column("code_prefix").to_list())
    if prefixes:
        marked = (
            c.by_code(c.codes.filter(_starts_any(prefixes)).select("code"), how="semi")
            .join(bed.select("visit_id"), on="visit_id", how="semi")
            .group_by("visit_id")
            .agg((pl.col("fee_date").n_unique().cast(pl.Int64) * QTY_ONE).alias("_marked"))
        )
    else:
        marked = bed.select("visit_id", pl.lit(0, pl.Int64).alias("_marked"))
    return (
        bed.join(coded, on="visit_id", how="left")
        .join(marked, on="visit_id", how="left")
        .with_columns(
            pl.max_horizontal(pl.col("_coded").fill_null(0), pl.col("_marked").fill_null(0)).alias("_care")
        )
        .with_columns((pl.col("_bed") - pl.col("_care")).alias("_empty"))
        .select("visit_id", "_care", "_empty")
    )


def _idle_stay(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """挂床住院, read day by day: a stay whose days carry nothing but the fees a bed bills by itself (bed,
    nursing grade, the daily ward round) — no medication, test or treatment (care_markers of ``care_kinds``)
    on at least ``min_idle_days`` days and ``min_idle_share_bp`` of the stay, ``min_tail_days`` and
    ``min_tail_share_bp`` of them after the last care day (items a stay bills once are dated on any one of
    its days, so idle days scattered through a stay are ordinary).  Judged only where the per-day
    fees are dated (2204 ``fee_ocur_time`` on at least ``min_idle_days`` distinct days): a stay billed as
    one undated line per item cannot be read by day.  At stake: the per-day fees of the idle days."""
    p = r.params
    assert isinstance(p, m.IdleStayParams)
    stays = c.vcols.filter(pl.col("med_type").is_in(list(p.inpatient_types))).select("visit_id", "days")
    stay_lines = c.lines.join(stays.select("visit_id"), on="visit_id", how="semi")
    per_day = stay_lines.join(c.codes.filter(_starts_any(p.per_day_prefixes)), on="cid", how="semi")
    kinds = k.care_markers.filter(pl.col("kind").is_in(list(p.care_kinds)))
    prefixes = tuple(kinds.get_column("code_prefix").to_list())
    care_codes = c.codes.filter(_starts_any(prefixes) if prefixes else pl.lit(False))
    cared = stay_lines.join(care_codes, on="cid", how="semi").select("visit_id", "fee_date").unique()
    n_care = cared.group_by("visit_id").agg(pl.len().alias("_care"))
    idle_lines = per_day.join(cared, on=["visit_id", "fee_date"], how="anti")
    # the idle days after the stay's last care day: 挂床 is a stay kept open once care has stopped; items
    # a stay bills once (a drug for several days, a course of infusions) are dated on any one day of it,
    # so days without a care line scattered through a stay are ordinary
    last_care = cared.group_by("visit_id").agg(pl.col("fee_date").max().alias("_last"))
    tail = (
        idle_lines.select("visit_id", "fee_date")
        .unique()
        .join(last_care, on="visit_id", how="left")
        .filter(pl.col("_last").is_null() | (pl.col("fee_date") > pl.col("_last")))
        .group_by("visit_id")
        .agg(pl.len().alias("_tail"))
    )
    x = (
        per_day.group_by("visit_id")
        .agg(pl.col("fee_date").n_unique().alias("_dated"))
        .filter(pl.col("_dated") >= p.min_idle_days)
        .join(stays, on="visit_id")
        .join(n_care, on="visit_id", how="left")
        .join(tail, on="visit_id", how="left")
        .with_columns(pl.col("_tail").fill_null(0))
        .with_columns(pl.max_horizontal("days", "_dated").alias("_days"))
        .with_columns((pl.col("_days") - pl.col("_care").fill_null(0)).clip(lower_bound=0).alias("_idle"))
        .filter(
            (pl.col("_idle") >= p.min_idle_days)
            & (pl.col("_idle") * 10_000 >= pl.col("_days") * p.min_idle_share_bp)
            & (pl.col("_tail") >= p.min_tail_days)
            & (pl.col("_tail") * 10_000 >= pl.col("_days") * p.min_tail_share_bp)
        )
        .join(
            idle_lines.group_by("visit_id").agg(pl.col("amount").sum().alias("_s")), on="visit_id", how="left"
        )
        .with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"), pl.col("_s").fill_null(0))
    )
    return c.line_flags(
        x,
        pl.format(
            "住院{}天，仅{}天有用药、检查或治疗，{}天只收床位、护理、查房等按日费用（疑似挂床）",
            "_days",
            pl.col("_care").fill_null(0),
            "_idle",
        ),
        pl.format(
            "{}-day stay with medication, tests or treatment on {} days only; {} days bill nothing but bed, "
            "nursing and ward-round fees (suspected bed-hanging)",
            "_days",
            pl.col("_care").fill_null(0),
            "_idle",
        ),
        _json(
            stay_days=pl.col("_days"),
            care_days=pl.col("_care").fill_null(0),
            idle_days=pl.col("_idle"),
            idle_after_last_care=pl.col("_tail"),
            care_kinds=pl.lit("|".join(p.care_kinds)),
        ),
        pl.col("_s"),
    )


def _stay_elsewhere(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """挂床住院, read across institutions: during a stay the patient has a visit or a purchase settled at
    another institution (``margin_days`` after admission and before discharge).  Flags the stay (visit
    level, its per-day fees at stake) and the visit elsewhere (0 at stake: the auditor sees both)."""
    p = r.params
    assert isinstance(p, m.ElsewhereParams)
    stays = c.visits.filter(pl.col("med_type").is_in(list(p.inpatient_types))).select(
        "psn_id",
        pl.col("visit_id").alias("_stay"),
        pl.col("fixmedins_code").alias("_stay_inst"),
        pl.col("begin_date").alias("_in"),
        pl.col("end_date").alias("_out"),
    )
    others = c.visits.select(
        "psn_id", "visit_id", "fixmedins_code", "med_type", pl.col("begin_date").alias("_on")
    ).join(stays.select("psn_id").unique(), on="psn_id", how="semi")
    pairs = (
        others.join(stays, on="psn_id")
        .filter(
            (pl.col("fixmedins_code") != pl.col("_stay_inst"))
            & (pl.col("_on") >= pl.col("_in") + pl.duration(days=p.margin_days))
            & (pl.col("_on") <= pl.col("_out") - pl.duration(days=p.margin_days))
        )
        .group_by("_stay")
        .agg(
            pl.col("visit_id").sort().alias("_elsewhere"),
            pl.col("fixmedins_code").n_unique().alias("_n_inst"),
            pl.col("_on").min().alias("_first"),
        )
    )
    stay_flags = (
        pairs.rename({"_stay": "visit_id"})
        .with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"))
        .with_columns(pl.col("_elsewhere").list.len().alias("_n"))
    )
    stay_flags = stay_flags.join(c.visit_amounts(stay_flags), on="visit_id")
    first = pl.col("_elsewhere").list.first().cast(pl.String)
    a = c.line_flags(
        stay_flags,
        pl.format(
            "住院期间在其他{}家机构有{}次就诊或购药（首次{}，就诊{}），疑似挂床",
            "_n_inst",
            "_n",
            _s(pl.col("_first")),
            first,
        ),
        pl.format(
            "during the stay the patient had {} visit(s) or purchase(s) at {} other institution(s) (first on {}, "
            "visit {}): suspected bed-hanging",
            "_n",
            "_n_inst",
            _s(pl.col("_first")),
            first,
        ),
        _json(role=pl.lit("stay"), elsewhere=pl.col("_elsewhere"), first_day=_s(pl.col("_first"))),
        pl.col("visit_amount"),
    )
    outside = (
        pairs.explode("_elsewhere")
        .select(pl.col("_elsewhere").alias("visit_id"), "_stay")
        .unique("visit_id", keep="first")
        .with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"))
    )
    b = c.line_flags(
        outside,
        pl.format("本次就诊发生在参保人住院期间（住院就诊{}），疑似挂床或冒用", _s(pl.col("_stay"))),
        pl.format(
            "this visit falls within the patient's stay elsewhere (stay {}): suspected bed-hanging or card misuse",
            _s(pl.col("_stay")),
        ),
        _json(role=pl.lit("elsewhere"), stay=pl.col("_stay")),
        pl.lit(0, pl.Int64),
    )
    return pl.concat([a, b])


def _repeat_supply(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """重复开药 / 回流药: a take-home supply of a drug while the person still holds more than ``grace_days``
    of it, across every institution that supplied it.  A supply lasts the days its prescription states
    (``prd_days``, with ``stated_days``), else its units less ``pack_tolerance`` whole packs (dispensing whole
    packs is not over-supply) at the drug's daily dose: the largest (item_pack, else supply), or with
    ``dose: usual`` the region's median daily units of the drug (quantity / stated days over its take-home
    lines, at most the largest).  Only person-drugs whose days supplied reach ``min_possession_bp`` of the
    days from the first supply to the end of the last (possession ratio: a burst of supplies followed by a
    gap is not a stock kept up), with ``min_supplies`` supplies from ``min_institutions`` institutions or
    more.  The days on hand before supply i follow the Lindley recursion S_i = max(0, S_{i−1} + d_{i−1}
    − Δt), in closed form S_i = X_i − min_{j≤i} X_j with X_i = (days supplied before i) − t_i.  With
    ``whole_run`` the supplies that built the excess are flagged too: those of the run (from the last supply
    made with nothing on hand) up to its last supply made while more than ``grace_days`` were on hand.  With
    ``min_ring`` > 1 only rings: at least that many persons (the person included) with such a stock of the
    same drug, supplied at a common institution."""
    p = r.params
    assert isinstance(p, m.RepeatSupplyParams)
    t = pack_table(k).filter(pl.col("_daily") > 0).select("code", "_daily", "_pack")
    take_home = c.vcols.filter(pl.col("med_type").is_in(list(p.visit_types)))
    # the take-home lines of the drugs, built once: the dose, the supplies and the flagged lines all start
    # from them, and the optimiser would otherwise join the ten million lines again for each use
    lines = (
        c.by_code(t.lazy())
        .join(take_home.select("visit_id", "psn_id", "begin_date", "fixmedins_code"), on="visit_id")
        .select(
            "visit_id",
            "feedetl_sn",
            "code",
            "qty",
            "amount",
            "prd_days",
            "cid",
            "_daily",
            "_pack",
            "psn_id",
            "begin_date",
            "fixmedins_code",
        )
        .collect()
        .lazy()
    )
    largest = pl.col("_daily").cast(pl.Float64)
    if p.dose == "usual":
        usual = (
            lines.filter(pl.col("prd_days") > 0)
            .group_by("cid")
            .agg(
                (pl.col("qty").cast(pl.Float64) / pl.col("prd_days").cast(pl.Float64))
                .median()
                .alias("_usual"),
                pl.len().alias("_n_dose"),
            )
        )
        lines = lines.join(usual, on="cid", how="left").with_columns(
            pl.when((pl.col("_n_dose") >= p.min_dose_lines) & (pl.col("_usual") > 0))
            .then(pl.min_horizontal(pl.col("_usual"), largest))
            .otherwise(largest)
            .alias("_rate")
        )
    else:
        lines = lines.with_columns(largest.alias("_rate"))
    key = ["psn_id", "cid"]
    # whole packs: each supply may carry up to pack_tolerance packs beyond its need
    held = (pl.col("_q") - pl.col("_pack") * p.pack_tolerance).clip(lower_bound=0)
    by_dose = held.cast(pl.Float64) / pl.col("_rate")
    days = pl.coalesce(pl.col("_stated").cast(pl.Float64), by_dose) if p.stated_days else by_dose
    buys = (
        lines.group_by(*key, "visit_id", "begin_date", "fixmedins_code", "_daily", "_pack", "_rate")
        .agg(pl.col("qty").sum().alias("_q"), pl.col("prd_days").max().alias("_stated"))
        .with_columns(
            pl.col("fixmedins_code").n_unique().over(key).alias("_n_inst"),
            pl.len().over(key).alias("_n_supplies"),
            days.alias("_d"),
        )
        .filter((pl.col("_n_inst") >= p.min_institutions) & (pl.col("_n_supplies") >= p.min_supplies))
        .sort(*key, "begin_date", "visit_id")
        .with_columns(
            (pl.col("_d").cum_sum().over(key) - pl.col("_d")).alias("_before"),
            (pl.col("begin_date") - pl.date(2000, 1, 1)).dt.total_days().cast(pl.Float64).alias("_t"),
        )
        .with_columns(
            (pl.col("_before") - pl.col("_t")).alias("_x"),
            # the possession ratio over the whole period: days supplied / days from the first supply to the
            # end of the last one (1: exactly what a patient at that dose needs)
            (
                pl.col("_d").sum().over(key)
                * 10_000
                / (
                    pl.col("_t").max().over(key)
                    + pl.col("_d").last().over(key)
                    - pl.col("_t").min().over(key)
                ).clip(lower_bound=1)
            ).alias("_ratio"),
        )
        .filter(pl.col("_ratio") >= p.min_possession_bp)
        .with_columns((pl.col("_x") - pl.col("_x").cum_min().over(key)).alias("_on_hand"))
        # a run starts at a supply made with nothing on hand
        .with_columns((pl.col("_on_hand") <= 0).cast(pl.Int32).cum_sum().over(key).alias("_run"))
        .with_columns(
            pl.col("_on_hand").max().over(*key, "_run").alias("_run_max"),
            # at or before the run's last supply made while more than grace_days were on hand
            (pl.col("_on_hand") > p.grace_days)
            .cast(pl.Int32)
            .cum_max(reverse=True)
            .over(*key, "_run")
            .alias("_built"),
        )
    )
    buys = buys.collect().lazy()  # the stock frame once: the rings and the flagged supplies both read it
    over = (pl.col("_built") > 0) if p.whole_run else (pl.col("_on_hand") > p.grace_days)
    # the person-drugs with a stock past grace_days, and the institutions that supplied them
    held_pd = buys.filter(pl.col("_on_hand").max().over(key) > p.grace_days)
    sites = held_pd.select("psn_id", "cid", "fixmedins_code").unique()
    ring = (
        sites.join(
            sites.select(pl.col("psn_id").alias("_mate"), "cid", "fixmedins_code"),
            on=["cid", "fixmedins_code"],
        )
        .group_by(key)
        .agg(pl.col("_mate").n_unique().alias("_ring"))
        .filter(pl.col("_ring") >= p.min_ring)
    )
    buys = (
        buys.filter(over)
        .join(ring, on=key)
        .select(
            "visit_id", "cid", "_on_hand", "_run_max", "_n_inst", "_ratio", "_rate", "_ring", "_n_supplies"
        )
    )
    x = lines.drop("_rate").join(buys, on=["visit_id", "cid"])
    on_hand = pl.col("_on_hand").round(0).cast(pl.Int64)
    peak = pl.col("_run_max").round(0).cast(pl.Int64)
    ratio = (pl.col("_ratio") / 10_000).round(2)
    return c.line_flags(
        x,
        pl.format(
            "药品{}开具时尚余{}天用量，本轮连续开药最多时尚余{}天（超过{}天），全期取药量为用药天数的{}倍，"
            "共{}家机构{}次开具，同一药品在同一机构超量取药者{}人（疑似重复开药/回流药）",
            "code",
            on_hand,
            peak,
            pl.lit(p.grace_days),
            ratio,
            "_n_inst",
            "_n_supplies",
            "_ring",
        ),
        pl.format(
            "drug {} supplied while {} days of it were still on hand; this run of supplies reached {} days on "
            "hand (more than {}); {} times the days covered were supplied, by {} institution(s) in {} supplies; "
            "{} person(s) with such a stock of this drug at a common institution (suspected repeat "
            "prescribing / drug resale)",
            "code",
            on_hand,
            peak,
            pl.lit(p.grace_days),
            ratio,
            "_n_inst",
            "_n_supplies",
            "_ring",
        ),
        _json(
            code=pl.col("code"),
            days_on_hand=on_hand,
            run_peak_days=peak,
            possession_ratio=ratio,
            dose=pl.lit(p.dose),
            units_per_day=_qty_text(pl.col("_rate")),
            max_units_per_day=_qty_text(pl.col("_daily")),
            grace_days=pl.lit(p.grace_days),
            institutions=pl.col("_n_inst"),
            supplies=pl.col("_n_supplies"),
            ring_persons=pl.col("_ring"),
        ),
    )


def death_register(
    knowledge: Knowledge, persons: pl.DataFrame, visits: pl.DataFrame, infer_from_discharge: bool = True
) -> pl.DataFrame:
    """(psn_no, death_date): the earliest death date known from the register, ``persons.death_date`` and
    (when ``infer_from_discharge``) admissions that ended in death (``discharge_status`` 4)."""
    parts = [knowledge.deaths.select("psn_no", "death_date")]
    if "death_date" in persons.columns:
        parts.append(
            persons.filter(pl.col("death_date").is_not_null()).select(
                "psn_no", pl.col("death_date").cast(pl.Date)
            )
        )
    if infer_from_discharge and "discharge_status" in visits.columns:
        parts.append(
            visits.lazy()
            .filter(pl.col("discharge_status") == "4")
            .select("psn_id", pl.col("end_date").alias("death_date"))
            .join(persons.lazy().select("psn_id", "psn_no"), on="psn_id")
            .select("psn_no", "death_date")
            .collect()
        )
    return pl.concat(parts).group_by("psn_no").agg(pl.col("death_date").min()).sort("psn_no")


def _after_death(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.DeathParams)
    reg = c.register.lazy()
    x = (
        c.visits.join(c.persons.select("psn_id", "psn_no"), on="psn_id")
        .join(reg, on="psn_no")
        .filter(pl.col("begin_date") > pl.col("death_date") + pl.duration(days=p.grace_days))
        .with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"))
    )
    x = x.join(c.visit_amounts(x), on="visit_id")
    return c.line_flags(
        x,
        pl.format("参保人已于{}死亡，{}仍发生结算", _s(pl.col("death_date")), _s(pl.col("begin_date"))),
        pl.format(
            "the insured person died on {}; a visit was settled on {}",
            _s(pl.col("death_date")),
            _s(pl.col("begin_date")),
        ),
        _json(death_date=_s(pl.col("death_date")), visit_date=_s(pl.col("begin_date"))),
        pl.col("visit_amount"),
    )


def _split_admission(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.SplitAdmissionParams)
    key = ["psn_id", "fixmedins_code"]
    x = (
        c.visits.filter(pl.col("med_type").is_in(list(p.inpatient_types)))
        .with_columns(pl.col("diagnoses").str.split("|").list.first().str.slice(0, p.dx_chars).alias("_dx"))
        .sort(*key, "begin_date", "visit_id")
        .with_columns(
            pl.col("end_date").shift(1).over(key).alias("_prev_end"),
            pl.col("_dx").shift(1).over(key).alias("_prev_dx"),
            pl.col("visit_id").shift(1).over(key).alias("_prev_visit"),
        )
        .with_columns((pl.col("begin_date") - pl.col("_prev_end")).dt.total_days().alias("_gap"))
        .filter(
            pl.col("_gap").is_between(0, p.window_days)
            & (pl.col("_dx") == pl.col("_prev_dx"))
            & ~pl.col("emergency")
        )
        .with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"))
    )
    if p.course_exempt and k.course_markers.height:
        courses = course_stays(c, k, p.inpatient_types)
        x = (
            x.join(courses, on="visit_id", how="left")
            .join(courses.rename({"visit_id": "_prev_visit", "_cgap": "_pgap"}), on="_prev_visit", how="left")
            .filter(
                ~(
                    (pl.col("_cgap").is_not_null() & (pl.col("_gap") >= pl.col("_cgap")))
                    | (pl.col("_pgap").is_not_null() & (pl.col("_gap") >= pl.col("_pgap")))
                )
            )
            .drop("_cgap", "_pgap")
        )
    x = x.join(c.visit_amounts(x), on="visit_id")
    # the violation is the pair: the readmission carries the amount at stake (its settlement is what the
    # split added), the index admission is flagged as its other half with nothing at stake of its own, so
    # an auditor sees both stays and no amount is counted twice (docs/AUDIT_RULES.md)
    readmission = c.line_flags(
        x,
        pl.format(
            "出院{}天后以同一疾病（{}）再次入住同一医院（前次就诊{}），非急诊", "_gap", "_dx", "_prev_visit"
        ),
        pl.format(
            "readmitted {} day(s) after discharge to the same hospital for the same disease ({}; previous visit {}), "
            "not an emergency",
            "_gap",
            "_dx",
            "_prev_visit",
        ),
        _json(
            role=pl.lit("readmission"),
            previous_visit=pl.col("_prev_visit"),
            gap_days=pl.col("_gap"),
            disease=pl.col("_dx"),
            window_days=pl.lit(p.window_days),
        ),
        pl.col("visit_amount"),
    )
    index = c.line_flags(
        x.with_columns(pl.col("visit_id").alias("_next_visit"), pl.col("_prev_visit").alias("visit_id")),
        pl.format(
            "本次住院出院{}天后以同一疾病（{}）再次入住同一医院（就诊{}），疑为分解住院的前半段",
            "_gap",
            "_dx",
            "_next_visit",
        ),
        pl.format(
            "index stay of a suspected split admission: readmitted {} day(s) after this discharge for the same "
            "disease ({}; readmission {})",
            "_gap",
            "_dx",
            "_next_visit",
        ),
        _json(
            role=pl.lit("index_admission"),
            readmission=pl.col("_next_visit"),
            gap_days=pl.col("_gap"),
            disease=pl.col("_dx"),
            window_days=pl.lit(p.window_days),
        ),
        pl.lit(0, pl.Int64),
    )
    return pl.concat([readmission, index])  # a stay that is both keeps its readmission flag (first wins)


def course_stays(c: _Ctx, k: Knowledge, types: tuple[str, ...]) -> LF:
    """(visit_id, _cgap): stays of a planned course (chemotherapy cycle, radiotherapy, dialysis,
    rehabilitation — the course_markers table, by diagnosis, procedure or item) and the least gap in days
    after which a readmission is the course's next session (the largest min_gap_days of its markers)."""
    km = k.course_markers
    stays = c.visits.filter(pl.col("med_type").is_in(list(types)))
    parts: list[LF] = []
    for match, col in (("diagnosis", "diagnoses"), ("procedure", "procedures")):
        rows = km.filter(pl.col("match") == match)
        if rows.height == 0:
            continue
        pat = "(^|\\|)(" + "|".join(re.escape(x.replace(".", "")) for x in rows["prefix"].to_list()) + ")"
        gaps = rows.select(pl.col("prefix").str.replace_all(".", "", literal=True), "min_gap_days")
        parts.append(
            stays.select(
                "visit_id", pl.col(col).fill_null("").str.replace_all(".", "", literal=True).alias("_c")
            )
            .filter(pl.col("_c").str.contains(pat))
            .with_columns(pl.col("_c").str.split("|"))
            .explode("_c")
            .join(gaps.lazy(), how="cross")
            .filter(pl.col("_c").str.starts_with(pl.col("prefix")))
            .select("visit_id", pl.col("min_gap_days").alias("_cgap"))
        )
    items = km.filter(pl.col("match") == "item")
    if items.height:
        codes = c.codes.join(items.lazy().select("prefix", "min_gap_days"), how="cross").filter(
            pl.col("code").str.starts_with(pl.col("prefix"))
        )
        parts.append(
            c.lines.select("visit_id", "cid")
            .join(codes.select("cid", pl.col("min_gap_days").alias("_cgap")), on="cid")
            .join(stays.select("visit_id"), on="visit_id", how="semi")
            .select("visit_id", "_cgap")
        )
    if not parts:
        return pl.LazyFrame(schema={"visit_id": pl.Int64, "_cgap": pl.Int64})
    return pl.concat(parts).group_by("visit_id").agg(pl.col("_cgap").max())


def _imaging(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.ImagingParams)
    x = c.lv(k.imaging.lazy()).join(c.dx, on="visit_id").with_row_index("_rid")
    if c.has_positive:
        x = x.with_columns(pl.col("positive").fill_null(False).alias("_pos"))
    else:
        ok = _prefix_match(x, "diagnoses", "positive_icd_prefixes").with_columns(pl.lit(True).alias("_pos"))
        x = x.join(ok, on="_rid", how="left").with_columns(pl.col("_pos").fill_null(False))
    floor = pl.col("modality").replace_strict(p.floor_bp, default=None, return_dtype=pl.Int64)
    x = x.with_columns(
        pl.len().over("fixmedins_code", "modality").alias("_n"),
        pl.col("_pos").sum().over("fixmedins_code", "modality").alias("_npos"),
        floor.alias("_floor"),
    ).filter(
        (pl.col("_n") >= p.min_exams)
        & (pl.col("_npos") * 10_000 < pl.col("_floor") * pl.col("_n"))
        & ~pl.col("_pos")
    )
    rate = ((pl.col("_npos") * 100).cast(pl.Float64) / pl.col("_n")).round(1).cast(pl.String)
    return c.line_flags(
        x,
        pl.format(
            "{}阳性率{}%低于{}%（{}例），本例阴性", "modality", rate, _s(pl.col("_floor") // 100), "_n"
        ),
        pl.format(
            "{} positive rate {}% below the {}% floor ({} exams); this exam negative",
            "modality",
            rate,
            _s(pl.col("_floor") // 100),
            "_n",
        ),
        _json(
            modality=pl.col("modality"),
            exams=pl.col("_n"),
            positive=pl.col("_npos"),
            floor_bp=pl.col("_floor"),
        ),
    )


RX_COLUMNS = ("rx_id", "rx_prescriber", "rx_internet_hospital", "rx_issued_on")


def rx_frame(visits: pl.DataFrame) -> LF:
    """The visits that dispense an e-prescription (visits columns rx_id, rx_prescriber,
    rx_internet_hospital, rx_issued_on and optionally rx_dispensed_on, default begin_date), with
    ``dispensed_before``: how many dispensings of the same prescription came earlier (by day, then visit)."""
    if "rx_id" not in visits.columns:
        return pl.LazyFrame(
            schema={
                "visit_id": visits.schema["visit_id"],
                **{c: pl.String for c in RX_COLUMNS[:3]},
                "rx_issued_on": pl.Date,
                "rx_dispensed_on": pl.Date,
                "dispensed_before": pl.UInt32,
            }
        )
    for col in RX_COLUMNS:
        if col not in visits.columns:
            raise AuditInputError(f"visits.{col}", "缺少该列 column missing (with rx_id)")
    on = pl.col("rx_dispensed_on") if "rx_dispensed_on" in visits.columns else pl.col("begin_date")
    return (
        visits.lazy()
        .filter(pl.col("rx_id").is_not_null())
        .select(
            "visit_id",
            *(pl.col(c).cast(pl.String) for c in RX_COLUMNS[:3]),
            pl.col("rx_issued_on").cast(pl.Date),
            on.cast(pl.Date).alias("rx_dispensed_on"),
        )
        .sort("rx_dispensed_on", "visit_id")
        .with_columns(
            pl.col("visit_id").cum_count().over("rx_id").cast(pl.UInt32).sub(1).alias("dispensed_before")
        )
    )


def _rx_flags(c: _Ctx, x: LF, tmpl: tuple[str, str], args: list[pl.Expr], evidence: pl.Expr) -> LF:
    x = x.with_columns(pl.lit(None, pl.Int32).alias("feedetl_sn"))
    x = x.join(c.visit_amounts(x), on="visit_id", how="left").with_columns(
        pl.col("visit_amount").fill_null(0)
    )
    return c.line_flags(
        x, pl.format(tmpl[0], *args), pl.format(tmpl[1], *args), evidence, pl.col("visit_amount")
    )


def _rx_validity(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    p = r.params
    assert isinstance(p, m.RxValidityParams)
    iss, dis = pl.col("rx_issued_on"), pl.col("rx_dispensed_on")
    x = c.rx.filter((dis < iss) | ((dis - iss).dt.total_days() >= p.valid_days))
    return _rx_flags(
        c,
        x,
        rx.VALIDITY,
        [_s(iss), _s(dis), pl.lit(str(p.valid_days))],
        _json(
            rx_id=pl.col("rx_id"), issued_on=_s(iss), dispensed_on=_s(dis), valid_days=pl.lit(p.valid_days)
        ),
    )


def _rx_once(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    x = c.rx.filter(pl.col("dispensed_before") > 0)
    return _rx_flags(
        c,
        x,
        rx.ONCE,
        [pl.col("rx_id"), _s(pl.col("dispensed_before"))],
        _json(rx_id=pl.col("rx_id"), dispensed_before=pl.col("dispensed_before")),
    )


def _rx_prescriber(c: _Ctx, r: m.Rule, k: Knowledge) -> LF:
    """Not in the 医保医师库 (when loaded); else not registered at the internet hospital on the issue day
    (when that register is loaded) — the order of :func:`yibao.audit.rules.rx.check_rx`."""
    dr = pl.col("rx_prescriber")
    parts: list[LF] = []
    checked = c.rx
    if k.physicians.height:
        reg = k.physicians.lazy().select(pl.col("dr_code").alias("rx_prescriber")).unique()
        out = c.rx.join(reg, on="rx_prescriber", how="anti")
        parts.append(
            _rx_flags(
                c,
                out,
                rx.NOT_INSURED,
                [dr],
                _json(rx_id=pl.col("rx_id"), prescriber=dr, registry=pl.lit("医保医师库")),
            )
        )
        checked = c.rx.join(reg, on="rx_prescriber", how="semi")
    if k.internet_physicians.height:
        ok = (
            checked.join(
                k.internet_physicians.lazy(),
                left_on=["rx_prescriber", "rx_internet_hospital"],
                right_on=["dr_code", "internet_hospital"],
            )
            .filter(
                (pl.col("valid_from") <= pl.col("rx_issued_on"))
                & (pl.col("rx_issued_on") <= pl.col("valid_to"))
            )
            .select("visit_id")
            .unique()
        )
        out = checked.join(ok, on="visit_id", how="anti")
        ih = pl.col("rx_internet_hospital")
        parts.append(
            _rx_flags(
                c,
                out,
                rx.NOT_INTERNET,
                [dr, _s(pl.col("rx_issued_on")), ih],
                _json(
                    rx_id=pl.col("rx_id"),
                    prescriber=dr,
                    internet_hospital=ih,
                    issued_on=_s(pl.col("rx_issued_on")),
                ),
            )
        )
    return pl.concat(parts) if parts else empty_partial()


def empty_partial() -> LF:
    return empty_flags().select(_OUT).lazy()


KINDS: dict[str, Callable[[_Ctx, m.Rule, Knowledge], LF]] = {
    "sex_restriction": _sex,
    "age_restriction": _age,
    "level_restriction": _level,
    "indication": _indication,
    "course_admission": _course_admission,
    "course_year": _course_year,
    "duplicate_line": _duplicate_line,
    "duplicate_pair": _duplicate_pair,
    "frequency_day": _frequency_day,
    "frequency_period": _frequency_period,
    "over_supply": _over_supply,
    "over_price": _over_price,
    "split_item": _split_item,
    "split_admission": _split_admission,
    "bed_hanging": _bed_hanging,
    "after_death": _after_death,
    "idle_stay": _idle_stay,
    "stay_elsewhere": _stay_elsewhere,
    "repeat_supply": _repeat_supply,
    "imaging_positive_rate": _imaging,
    "title_grade": _title_grade,
    "dose_days": _dose_days,
    "rx_validity": _rx_validity,
    "rx_once": _rx_once,
    "rx_prescriber": _rx_prescriber,
}


def run_rules(
    library: m.Library,
    knowledge: Knowledge,
    persons: pl.DataFrame,
    visits: pl.DataFrame,
    lines: pl.DataFrame,
    *,
    settled: pl.DataFrame | None = None,
    moment: m.Moment = "after",
    only: set[str] | None = None,
) -> pl.DataFrame:
    """Every enabled rule of ``library`` that runs at ``moment`` → the flag frame (FLAG_SCHEMA).

    ``settled`` (visit_id, fund_pay_sumamt, medfee_sumamt), when given, scales each amount at stake by the
    visit's fund share (half up to the fen), so amounts are what the fund paid on the item.
    """
    _check("persons", persons)
    _check("visits", visits)
    _check("lines", lines)
    rules = [r for r in library.active(moment) if only is None or r.code in only]
    if not rules:
        return empty_flags()
    c = _Ctx(persons, visits, lines)
    death = next((r for r in rules if r.kind == "after_death"), None)
    if death is not None:
        assert isinstance(death.params, m.DeathParams)
        c.register = death_register(knowledge, persons, visits, death.params.infer_from_discharge)
    queries = []
    for r in rules:
        q = KINDS[r.kind](c, r, knowledge).with_columns(
            pl.lit(r.code).alias("rule_code"),
            pl.lit(r.rule_class).alias("rule_class"),
            pl.lit(r.severity).alias("severity"),
        )
        queries.append(q)
    frames = pl.collect_all(queries)
    out = (
        pl.concat([f for f in frames if f.height], how="vertical_relaxed")
        if any(f.height for f in frames)
        else None
    )
    if out is None:
        return empty_flags()
    out = out.unique(subset=["rule_code", "visit_id", "feedetl_sn"], keep="first", maintain_order=True)
    if settled is not None:
        share = settled.select("visit_id", "fund_pay_sumamt", "medfee_sumamt")
        out = out.join(share, on="visit_id", how="left").with_columns(
            pl.when(pl.col("medfee_sumamt") > 0)
            .then(
                (pl.col("amount_fen") * pl.col("fund_pay_sumamt") * 2 + pl.col("medfee_sumamt"))
                // (2 * pl.col("medfee_sumamt"))
            )
            .otherwise(pl.col("amount_fen"))
            .alias("amount_fen")
        )
    out = out.join(visits.select("visit_id", "psn_id", "fixmedins_code"), on="visit_id", how="left")
    return (
        out.with_columns(
            flag_id_expr(pl.col("rule_code"), pl.col("visit_id"), pl.col("feedetl_sn")).alias("flag_id"),
            pl.lit("rule").alias("source"),
        )
        .select([pl.col(n).cast(t) for n, t in FLAG_SCHEMA.items()])
        .sort("rule_code", "visit_id", "feedetl_sn", nulls_last=True)
    )
