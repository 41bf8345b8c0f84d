"""The three moments of audit (国家医保局智能审核和监控: 事前提醒、事中审核、事后审核): before (事前提醒), during (事中), after (事后).

* before — :func:`check_prescription`: warnings for items about to be prescribed, from the single-visit
  rules plus the history-based ones (year course, period frequency) over the ``history`` given.  Pure.
* during — :func:`settlement_hook`: a pure hook for :func:`yibao.settlement.engine.settle_visit`
  (``audit=``).  Only single-visit rules run in-event.  A ``block`` finding makes the line fully self-paid
  (全自费) with its reason (a visit-level block: every line); the settlement itself is never refused, so
  the patient and the hospital always get a result that says why.  ``flag`` / ``warn`` findings are
  recorded in ``Settlement.audit`` and settle normally.
* after — :func:`run_rules` (re-exported from :mod:`yibao.audit.rules.batch`): the vectorised batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from yibao.audit.knowledge import Knowledge
from yibao.audit.rules import model as m
from yibao.audit.rules.batch import (
    death_register,
    fee_date_of,
    line_doctor_of,
    prd_days_of,
    run_rules,
    rx_frame,
)
from yibao.audit.rules.event import EventChecker
from yibao.errors import FieldError
from yibao.money import price_times_qty
from yibao.settlement.model import AuditFinding, AuditHook, Line, Person, RxRef, Visit

__all__ = [
    "EventChecker",
    "Institution",
    "PastItem",
    "Prescribed",
    "PrescriptionWarning",
    "check_prescription",
    "configured_hook",
    "death_register",
    "run_rules",
    "settlement_hook",
    "visits_from_frames",
]


class PrescriptionError(FieldError):
    """A prescription the before-check cannot read."""


@dataclass(frozen=True, slots=True)
class Institution:
    fixmedins_code: str
    level: str  # hospital level code of the region (hosp_lv)


@dataclass(frozen=True, slots=True)
class Prescribed:
    """An item about to be prescribed: ``qty`` × 10000; ``price`` in fen (0 = the standard price);
    ``days``: the days the prescription is written for (2204 ``prd_days``), when stated."""

    code: str
    qty: int
    price: int = 0
    days: int | None = None


@dataclass(frozen=True, slots=True)
class PastItem:
    """An item the person was already given (history for the year-course / period-frequency checks)."""

    on_date: dt.date
    code: str
    qty: int


@dataclass(frozen=True, slots=True)
class PrescriptionWarning:
    """A bilingual reminder; ``item`` is the index in the prescription (None: the whole prescription)."""

    item: int | None
    rule_code: str
    severity: str
    reason_zh: str
    reason_en: str


_CHECKERS: dict[tuple[int, int, str], tuple[m.Library, Knowledge, EventChecker]] = {}


def _checker(library: m.Library, knowledge: Knowledge, moment: m.Moment) -> EventChecker:
    key = (id(library), id(knowledge), moment)
    hit = _CHECKERS.get(key)
    if hit is None or hit[0] is not library or hit[1] is not knowledge:
        hit = (library, knowledge, EventChecker(library, knowledge, moment))
        _CHECKERS[key] = hit
    return hit[2]


def check_prescription(
    knowledge: Knowledge,
    person: Person,
    institution: Institution,
    items: Sequence[Prescribed],
    diagnoses: Sequence[str],
    on_date: dt.date,
    history: Sequence[PastItem] = (),
    *,
    med_type: str = "11",
    library: m.Library | None = None,
) -> list[PrescriptionWarning]:
    """Warnings (事前提醒) for ``items`` prescribed to ``person`` at ``institution`` on ``on_date``."""
    lib = library if library is not None else m.load_library()
    for i, p in enumerate(items):
        if p.qty <= 0:
            raise PrescriptionError(f"items[{i}].qty", "数量须为正数 must be positive (× 10000)")
        if p.days is not None and p.days <= 0:
            raise PrescriptionError(f"items[{i}].days", "天数须为正数 must be a positive number of days")
    std = dict(knowledge.price_standard.select("code", "standard_price_fen").iter_rows())
    lines = tuple(
        Line(
            str(i + 1),
            p.code,
            p.qty,
            p.price or int(std.get(p.code, 0)),
            price_times_qty(p.price or int(std.get(p.code, 0)), p.qty),
            p.days,
        )
        for i, p in enumerate(items)
    )
    visit = Visit(
        "before",
        person.psn_no,
        med_type,
        institution.fixmedins_code,
        institution.level,
        on_date,
        on_date,
        lines,
        diagnoses=tuple(d.replace(".", "") for d in diagnoses),
    )
    out = [
        PrescriptionWarning(
            None if f.feedetl_sn is None else int(f.feedetl_sn) - 1,
            f.rule_code,
            f.severity,
            f.reason_zh,
            f.reason_en,
        )
        for f in _checker(lib, knowledge, "before").check(person, visit)
    ]
    out.extend(_history_warnings(lib, knowledge, items, on_date, history))
    return out


def _history_warnings(
    lib: m.Library,
    knowledge: Knowledge,
    items: Sequence[Prescribed],
    on_date: dt.date,
    history: Sequence[PastItem],
) -> list[PrescriptionWarning]:
    out: list[PrescriptionWarning] = []
    rules = {r.kind: r for r in lib.active("before")}
    course = rules.get("course_year")
    if course is not None:
        lim = {
            c: (d * u, d)
            for c, d, u in knowledge.payment_course.filter(pl.col("basis") == "year")
            .select("code", "max_days", "units_per_day_q")
            .iter_rows()
        }
        for i, p in enumerate(items):
            if p.code in lim:
                used = sum(
                    h.qty
                    for h in history
                    if h.code == p.code and h.on_date.year == on_date.year and h.on_date <= on_date
                )
                total = used + sum(q.qty for q in items[: i + 1] if q.code == p.code)
                cap, days = lim[p.code]
                if total > cap:
                    out.append(
                        PrescriptionWarning(
                            i,
                            course.code,
                            course.severity,
                            f"项目{p.code}年度限支付{days}天，加上本次累计{total / 10_000:g}单位，超过{cap / 10_000:g}",
                            f"item {p.code} is paid for {days} days a year; with this one the year reaches "
                            f"{total / 10_000:g} units, above {cap / 10_000:g}",
                        )
                    )
    freq = rules.get("frequency_period")
    if freq is not None:
        per = {
            c: (d, q)
            for c, d, q in knowledge.frequency.filter(pl.col("period_days").is_not_null())
            .select("code", "period_days", "max_per_period_q")
            .iter_rows()
            if q is not None
        }
        for i, p in enumerate(items):
            if p.code in per:
                days, cap = per[p.code]
                start = on_date - dt.timedelta(days=days - 1)
                used = sum(h.qty for h in history if h.code == p.code and start <= h.on_date <= on_date)
                total = used + sum(q.qty for q in items[: i + 1] if q.code == p.code)
                if total > cap:
                    out.append(
                        PrescriptionWarning(
                            i,
                            freq.code,
                            freq.severity,
                            f"项目{p.code}每{days}天限{cap / 10_000:g}次，加上本次为{total / 10_000:g}次",
                            f"item {p.code} is limited to {cap / 10_000:g} per {days} days; with this one "
                            f"{total / 10_000:g}",
                        )
                    )
    return out


def settlement_hook(
    library: m.Library, knowledge: Knowledge, deaths: pl.DataFrame | None = None
) -> AuditHook:
    """The in-event hook for ``settle_visit(..., audit=hook)``; ``deaths`` (psn_no, death_date) overrides the
    knowledge register (e.g. :func:`death_register` of the period so far)."""
    checker = EventChecker(library, knowledge, "during", deaths)

    def hook(person: Person, visit: Visit) -> Sequence[AuditFinding]:
        return checker.check(person, visit)

    return hook


def configured_hook(library: str | Path | None = None, knowledge: str | Path | None = None) -> AuditHook:
    """The in-event hook over a rule library file and a knowledge directory (None: the shipped EXAMPLE
    ones) — what the service and the demo settle with."""
    from yibao.audit.knowledge import load_knowledge

    return settlement_hook(m.load_library(library), load_knowledge(knowledge))


def visits_from_frames(
    persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame
) -> Iterator[tuple[int, Person, Visit]]:
    """(visit_id, Person, Visit) from synth-shaped frames, for replaying claims through the in-event path
    (a visit with ``rx_id`` carries its e-prescription, its earlier dispensings counted as the batch does)."""
    pcols = ["psn_id", "psn_no", "certno", "gender", "birth_date", "insutype", "psn_type"]
    people = {r[0]: Person(r[1], "", r[2], r[3], r[4], r[5], r[6]) for r in persons.select(pcols).iter_rows()}
    by_visit: dict[int, list[Line]] = {}
    for vid, sn, code, qty, price, amount, days, doctor, day in (
        lines.sort("visit_id", "feedetl_sn")
        .select(
            "visit_id",
            "feedetl_sn",
            "code",
            "qty",
            "price",
            "amount",
            prd_days_of(lines),
            line_doctor_of(lines),
            fee_date_of(lines),
        )
        .iter_rows()
    ):
        by_visit.setdefault(vid, []).append(Line(str(sn), code, qty, price, amount, days, doctor, day))
    em = visits["emergency"] if "emergency" in visits.columns else pl.Series([False] * visits.height)
    dr = (
        visits["bilg_dr_codg"].cast(pl.String)
        if "bilg_dr_codg" in visits.columns
        else pl.Series([None] * visits.height, dtype=pl.String)
    )
    vcols = visits.select(
        "visit_id",
        "mdtrt_id",
        "psn_id",
        "med_type",
        "fixmedins_code",
        "hosp_lv",
        "begin_date",
        "end_date",
        pl.col("diagnoses").fill_null(""),
    ).with_columns(em.fill_null(False).alias("_em"), dr.alias("_dr"))
    rx_of = {
        vid: RxRef(rx_id, dr, ih, issued, on, before)
        for vid, rx_id, dr, ih, issued, on, before in rx_frame(visits).collect().iter_rows()
    }
    for vid, mdtrt, pid, mt, fx, lv, b, e, dx, emg, doc in vcols.iter_rows():
        p = people[pid]
        yield (
            vid,
            p,
            Visit(
                mdtrt,
                p.psn_no,
                mt,
                fx,
                lv,
                b,
                e,
                tuple(by_visit.get(vid, ())),
                emergency=bool(emg),
                diagnoses=tuple(d for d in dx.split("|") if d),
                bilg_dr_codg=doc,
                rx=rx_of.get(vid),
            ),
        )
