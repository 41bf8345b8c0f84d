"""The rule library's limits as a prescriber applies them (事前), handed to the synthetic generator."""

from __future__ import annotations

import polars as pl

from yibao.audit.knowledge import Knowledge, load_knowledge
from yibao.audit.rules import model as rules_model
from yibao.audit.rules.batch import pack_table
from yibao.audit.rules.model import Library
from yibao.synth.generator import PrescribingLimits


def prescribing_limits(
    knowledge: Knowledge | None = None, library: Library | None = None
) -> PrescribingLimits:
    """The prescribing limits a compliant provider keeps to under a rule library and its knowledge tables
    (default: the shipped library and its EXAMPLE tables): what the synthetic generator's clean care
    respects, so that a clean region stays clean under the same rules."""
    k = knowledge if knowledge is not None else load_knowledge()
    lib = library if library is not None else rules_model.load_library()
    kinds = {r.kind for r in lib.rules if r.enabled}
    days: dict[str, int] = {}
    days_long: dict[str, int] = {}
    registered_days = 0
    for r in lib.rules:
        if r.kind == "over_supply" and r.enabled and isinstance(r.params, rules_model.SupplyParams):
            days = dict(r.params.max_days)
            days_long = dict(r.params.long_term_days)
            registered_days = r.params.registered_days
    course = k.payment_course.select(
        "code", "basis", (pl.col("max_days") * pl.col("units_per_day_q")).alias("lim")
    )
    freq = k.frequency.filter(pl.col("period_days").is_not_null() & pl.col("max_per_period_q").is_not_null())
    return PrescribingLimits(
        # the largest daily units also bound a line's stated days (GZ-YB-018), with or without a days limit
        supply_per_day=dict(pack_table(k).select("code", "_daily").iter_rows())
        if days or "dose_days" in kinds
        else {},
        supply_days=days,
        course_visit={c: int(q) for c, b, q in course.iter_rows() if b == "admission"}
        if "course_admission" in kinds
        else {},
        course_year={c: int(q) for c, b, q in course.iter_rows() if b == "year"}
        if "course_year" in kinds
        else {},
        period={
            c: (int(d), int(q))
            for c, d, q in freq.select("code", "period_days", "max_per_period_q").iter_rows()
        }
        if "frequency_period" in kinds
        else {},
        supply_days_long=days_long,
        long_term_prefixes=tuple(
            p.replace(".", "") for p in k.long_term_dx.get_column("icd_prefix").to_list() if p
        )
        if days_long
        else (),
        item_days={c: int(d) for c, d in k.days_limit.select("code", "max_days").iter_rows()} if days else {},
        registered_days=registered_days,
        short_items=frozenset(
            k.days_limit.filter(pl.col("days_class") != "chronic").get_column("code").to_list()
        )
        if days
        else frozenset(),
        pack_units={c: int(q) for c, q in k.item_pack.select("code", "pack_units_q").iter_rows() if q},
    )
