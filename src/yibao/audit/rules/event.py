"""Single-visit rule evaluation for the before (事前) and during (事中) moments: plain Python over one
visit, built for the settlement hot path.

:class:`EventChecker` indexes the knowledge tables once (dicts keyed by item code) and evaluates one
(person, visit) in a few microseconds.  It implements the same rule kinds, with the same definitions,
as the vectorised :mod:`yibao.audit.rules.batch` (a property test holds the two to the same flags).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

import polars as pl

from yibao.audit.knowledge import Knowledge
from yibao.audit.rules import model as m
from yibao.audit.rules import rx
from yibao.audit.rules.batch import daily_max, pack_table
from yibao.money import QTY_ONE
from yibao.settlement.model import AuditFinding, Line, Person, Visit


def _qty_text(v: int) -> str:
    return str(round(v / QTY_ONE, 4))


_CODE = attrgetter("code")
_NO_LIMIT = 1 << 62  # no price standard: no price is over it
_CACHE_MAX = 200_000  # findings kept for reuse (they are immutable); the cache is cleared when full


def _sn_key(sn: str) -> tuple[int, int, str]:
    return (0, int(sn), "") if sn.isdigit() else (1, 0, sn)


@dataclass(slots=True)
class _Item:
    """What the rules know about one item code (None fields: no such restriction)."""

    price_limit: int | None = None  # standard × (10000 + tolerance), compared with price × 10000
    standard: int | None = None
    pmax: int = _NO_LIMIT  # highest price in fen that passes: price × 10000 > limit ⇔ price > limit // 10000
    sex: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    min_rank: int | None = None
    min_level: str | None = None
    indications: tuple[str, ...] | None = None
    sums: bool = False  # course / frequency / supply need the visit's total of this code
    course_lim: int | None = None
    course_days: int = 0
    per_day_q: int | None = None
    supply_q: int | None = None
    dose_q: int | None = None  # units a day at most, against the line's stated days (dose_days)
    pack_q: int = 0  # one dispensing pack (item_pack): the whole-pack allowance
    item_days: int | None = None  # the item's own days limit (days_limit)
    long_rx: bool = True  # a registered person's long prescription may cover it (not an acute / herbal item)
    excluded_by: tuple[str, ...] = ()
    excluded_by_day: tuple[str, ...] = ()  # exclusive only on the same service day
    packages: tuple[str, ...] = ()
    titles: tuple[str, ...] | None = None  # physician titles that may bill the item (title_grade)
    bed: bool = False  # a bed-fee item (bed-hanging)
    care: bool = False  # an item that proves a day of care (bed-hanging)
    restricted: bool = False  # any line-level check beyond price
    aged: bool = False  # an age band applies (set by _finish)
    checks: bool = False  # a check of the line itself beyond counting bed / care days (set by _finish)
    tally: bool = False  # the line adds to the visit's per-code totals or bed / care days (set by _finish)


class EventChecker:
    """The library's rules for one moment (``during`` or ``before``), indexed for per-visit checks."""

    def __init__(
        self,
        library: m.Library,
        knowledge: Knowledge,
        moment: m.Moment = "during",
        deaths: pl.DataFrame | None = None,
    ) -> None:
        self.rules = {r.kind: r for r in library.active(moment) if r.kind in m.SINGLE_VISIT}
        items: dict[str, _Item] = {}
        self._index_restrictions(knowledge, items)
        self._index_quantities(knowledge, items)
        self._index_pairs_and_titles(knowledge, items)
        self._index_bed_days(knowledge, items)
        self._index_finish(knowledge, items)
        self._index_deaths(knowledge, deaths)
        # the e-prescription rules (one definition with the care door and the batch: yibao.audit.rules.rx)
        self.rx_rules = {k: r for k, r in self.rules.items() if k in m.RX_KINDS}
        self.rx_registry = rx.registry_of(knowledge) if self.rx_rules else rx.Registry()

    def _index_restrictions(self, knowledge: Knowledge, items: dict[str, _Item]) -> None:
        """Price standards and the patient / level / indication restrictions of each item."""
        it = _getter(items)
        r = self.rules.get("over_price")
        if r is not None:
            assert isinstance(r.params, m.PriceParams)
            for code, std in knowledge.price_standard.select("code", "standard_price_fen").iter_rows():
                x = it(code)
                x.standard, x.price_limit = std, std * (10_000 + r.params.tolerance_bp)
                x.pmax = x.price_limit // 10_000
        if "sex_restriction" in self.rules:
            for code, sex in knowledge.item_sex.iter_rows():
                it(code).sex, it(code).restricted = sex, True
        if "age_restriction" in self.rules:
            for code, lo, hi in knowledge.item_age.iter_rows():
                x = it(code)
                x.min_age, x.max_age, x.restricted = lo, hi, True
        r = self.rules.get("level_restriction")
        self.rank: dict[str, int] = {}
        if r is not None:
            assert isinstance(r.params, m.LevelParams)
            self.rank = {lv: i for i, lv in enumerate(r.params.level_order)}
            for code, lv in knowledge.item_level.iter_rows():
                x = it(code)
                x.min_level, x.min_rank, x.restricted = lv, self.rank.get(lv), True
        if "indication" in self.rules:
            for code, pre in knowledge.item_indication.iter_rows():
                x = it(code)
                x.indications = tuple(p for p in pre.replace(".", "").split("|") if p)
                x.restricted = True

    def _index_quantities(self, knowledge: Knowledge, items: dict[str, _Item]) -> None:
        """Payment courses, daily frequencies, supply limits and the stated-days dose of each item."""
        it = _getter(items)
        if "course_admission" in self.rules:
            for code, days, upd in (
                knowledge.payment_course.filter(pl.col("basis") == "admission")
                .select("code", "max_days", "units_per_day_q")
                .iter_rows()
            ):
                x = it(code)
                x.course_lim, x.course_days, x.sums, x.restricted = days * upd, days, True, True
        if "frequency_day" in self.rules:
            for code, q in k_rows(
                knowledge.frequency.filter(pl.col("max_per_day_q").is_not_null()), "code", "max_per_day_q"
            ):
                x = it(code)
                x.per_day_q, x.sums, x.restricted = q, True, True
        r = self.rules.get("over_supply")
        self.registered: frozenset[str] = frozenset()
        self.registered_days = 0
        self.registered_types: tuple[str, ...] = ()
        self.supply_tol = 0
        self.supply_days: dict[str, int] = {}
        self.supply_days_long: dict[str, int] = {}
        self.long_term: tuple[str, ...] = ()
        if r is not None:
            assert isinstance(r.params, m.SupplyParams)
            self.supply_days = dict(r.params.max_days)
            self.supply_days_long = dict(r.params.long_term_days)
            if self.supply_days_long:  # 长期处方: a long-term principal diagnosis allows the longer supply
                self.long_term = tuple(
                    sorted(
                        {
                            p.replace(".", "")
                            for p in knowledge.long_term_dx.get_column("icd_prefix").to_list()
                            if p
                        }
                    )
                )
            self.registered_days = r.params.registered_days
            self.registered_types = r.params.registered_types
            self.supply_tol = r.params.pack_tolerance
            self.registered = frozenset(knowledge.registered_conditions.get_column("psn_no").to_list())
            short = set(knowledge.days_limit.filter(pl.col("days_class") != "chronic")["code"].to_list())
            for code, q, pack, days in pack_table(knowledge).iter_rows():
                x = it(code)
                x.supply_q, x.sums, x.restricted = q, True, True
                x.pack_q, x.item_days = pack, days
                x.long_rx = code not in short  # 长期处方 covers chronic drugs, not an acute item's days
        r = self.rules.get("dose_days")
        self.dose_tol = 0
        if r is not None:
            assert isinstance(r.params, m.DoseParams)
            self.dose_tol = r.params.pack_tolerance
            for code, q, pack, _ in pack_table(knowledge).iter_rows():
                x = it(code)
                x.dose_q = q  # not `restricted`: only a line that states its days needs the slow path
                x.pack_q = pack

    def _index_pairs_and_titles(self, knowledge: Knowledge, items: dict[str, _Item]) -> None:
        """Exclusive pairs (by scope), bundles, the inpatient types of the frequency rule and the physician
        titles that may bill each graded item."""
        it = _getter(items)
        if "duplicate_pair" in self.rules:
            by_b: dict[tuple[str, str], list[str]] = {}
            for a, b, scope in k_rows(knowledge.duplicate_pairs, "code_a", "code_b", "scope"):
                by_b.setdefault((b, scope), []).append(a)
            for (b, scope), a_list in by_b.items():
                x = it(b)
                if scope == "day":
                    x.excluded_by_day = tuple(sorted(set(a_list)))
                else:
                    x.excluded_by = tuple(sorted(set(a_list)))
                x.restricted = True
        if "split_item" in self.rules:
            by_c: dict[str, list[str]] = {}
            for pk, comp in k_rows(knowledge.split_items, "package_code", "component_code"):
                by_c.setdefault(comp, []).append(pk)
            for comp, pks in by_c.items():
                it(comp).packages, it(comp).restricted = tuple(sorted(set(pks))), True
        r = self.rules.get("frequency_day")
        self.freq_inpatient: tuple[str, ...] = ()
        if r is not None:
            assert isinstance(r.params, m.InpatientParams)
            self.freq_inpatient = r.params.inpatient_types
        self.dr_title: dict[
            str, str
        ] = {}  # physician registry: dr_code -> best title (GB/T 8561: lower is higher)
        if "title_grade" in self.rules and knowledge.physicians.height:
            for dr, title in k_rows(knowledge.physicians, "dr_code", "title"):
                if dr not in self.dr_title or title < self.dr_title[dr]:
                    self.dr_title[dr] = title
            for code, titles in k_rows(knowledge.title_grade, "code", "titles"):
                x = it(code)
                x.titles, x.restricted = tuple(t for t in titles.split("|") if t), True

    def _index_bed_days(self, knowledge: Knowledge, items: dict[str, _Item]) -> None:
        """Bed and care items of the bed-hanging rule."""
        it = _getter(items)
        self.bed = self.rules.get("bed_hanging")
        self.bed_prefixes: tuple[str, ...] = ()
        self.care_codes: frozenset[str] = frozenset()
        self.bed_types: tuple[str, ...] = ()
        self.bed_empty_min = 1 << 62
        if self.bed is not None:
            bp = self.bed.params
            assert isinstance(bp, m.BedParams)
            self.bed_prefixes, self.care_codes, self.bed_types = (
                bp.bed_prefixes,
                frozenset(bp.care_codes),
                bp.inpatient_types,
            )
            self.bed_empty_min = bp.min_empty_days * QTY_ONE  # bed days without care that make a finding
            for code in list(items) + list(bp.care_codes):
                if code.startswith(self.bed_prefixes) or code in self.care_codes:
                    x = it(code)
                    x.bed, x.care, x.restricted = (
                        code.startswith(self.bed_prefixes),
                        code in self.care_codes,
                        True,
                    )

    def _index_finish(self, knowledge: Knowledge, items: dict[str, _Item]) -> None:
        """Care markers, duplicate limits, the finding cache and the two per-visit-type item maps."""
        self.marker_prefixes = tuple(knowledge.care_markers.get_column("code_prefix").to_list())
        self._cs = {kind: (r.code, r.severity) for kind, r in self.rules.items()}
        self._dup = "duplicate_line" in self.rules
        self.dmax: dict[str, int] = dict(daily_max(knowledge).iter_rows()) if self._dup else {}
        # findings are immutable: one object per (check, code, line number, what the reason depends on) is
        # built once and reused (a frozen dataclass costs about a microsecond to build)
        self._found: dict[tuple[object, ...], AuditFinding] = {}
        self._ind_ok: dict[tuple[str, tuple[str, ...]], bool] = {}
        # the supply limit applies only to some visit types: elsewhere a drug with no other restriction
        # stays on the fast path (a price comparison)
        self.items_supply = {code: _finish(x) for code, x in items.items()}
        self.items = {
            code: _finish(x if x.supply_q is None else replace(x, supply_q=None)) for code, x in items.items()
        }

    def _index_deaths(self, knowledge: Knowledge, deaths: pl.DataFrame | None) -> None:
        """The death register of the after-death rule."""
        self.deaths: dict[str, dt.date] = {}
        self.death_grace = dt.timedelta(0)
        r = self.rules.get("after_death")
        if r is not None:
            assert isinstance(r.params, m.DeathParams)
            self.death_grace = dt.timedelta(days=r.params.grace_days)
            reg = knowledge.deaths if deaths is None else deaths
            for psn_no, day in reg.select("psn_no", "death_date").iter_rows():
                if psn_no not in self.deaths or day < self.deaths[psn_no]:
                    self.deaths[psn_no] = day

    def _f(self, kind: str, sn: str | None, zh: str, en: str) -> AuditFinding:
        code, severity = self._cs[kind]  # only active kinds are ever asked for
        return AuditFinding(sn, code, severity, zh, en)

    def _keep(self, key: tuple[object, ...], f: AuditFinding) -> AuditFinding:
        found = self._found
        if len(found) >= _CACHE_MAX:
            found.clear()
        found[key] = f
        return f

    def check(self, person: Person, visit: Visit) -> list[AuditFinding]:
        """The findings of every single-visit rule on ``visit`` (empty when nothing fires).

        Per line: one dict lookup of the code's precompiled checks and one price comparison; only codes
        with a line-level restriction (``_Item.restricted``) go on to :meth:`_restricted`.
        """
        out: list[AuditFinding] = []
        items = self.items_supply if visit.med_type in self.supply_days else self.items
        lines = visit.lines
        slow: list[tuple[Line, _Item]] = []
        get = items.get
        for ln in lines:
            x = get(ln.code)
            if x is None:
                if self.bed_prefixes and ln.code.startswith(
                    self.bed_prefixes
                ):  # a bed code the knowledge lacks
                    slow.append((ln, _UNKNOWN_BED))
                continue
            if ln.price > x.pmax:
                key: tuple[object, ...] = ("price", ln.code, ln.feedetl_sn, ln.price)
                f = self._found.get(key)
                out.append(
                    f
                    if f is not None
                    else self._keep(
                        key,
                        self._f(
                            "over_price",
                            ln.feedetl_sn,
                            f"项目{ln.code}单价{ln.price}分高于标准价{x.standard}分",
                            f"item {ln.code} priced {ln.price} fen above the standard {x.standard} fen",
                        ),
                    )
                )
            if x.restricted or (ln.prd_days and x.dose_q is not None):
                slow.append((ln, x))
        if slow:
            self._restricted(person, visit, slow, out)
        # a repeated line needs a repeated code: the cheap set first
        if self._dup and len(set(map(_CODE, lines))) < len(lines):
            self._duplicates(visit, out)
        if self.deaths:
            died = self.deaths.get(person.psn_no)
            if died is not None and visit.begin_date > died + self.death_grace:
                out.append(
                    self._f(
                        "after_death",
                        None,
                        f"参保人已于{died}死亡，{visit.begin_date}仍发生结算",
                        f"the insured person died on {died}; a visit was settled on {visit.begin_date}",
                    )
                )
        if visit.rx is not None and self.rx_rules:
            out.extend(rx.check_rx(self.rx_rules, self.rx_registry, visit.rx))
        return out

    def _restricted(
        self, person: Person, visit: Visit, slow: list[tuple[Line, _Item]], out: list[AuditFinding]
    ) -> None:
        """The line-level restrictions of the ``slow`` lines."""
        found = self._found
        age: int | None = None
        codes: set[str] | None = None  # built only when a pair / package check needs it
        totals: dict[str, int] = {}
        bed = care = 0
        todo: list[
            tuple[Line, _Item]
        ] = []  # lines with a line-level check (bed / care items only count days)
        for ln, x in slow:
            if x.tally:
                if x.sums:
                    totals[ln.code] = totals.get(ln.code, 0) + ln.qty
                if x.bed:
                    bed += ln.qty
                if x.care:
                    care += ln.qty
            if x.checks:
                todo.append((ln, x))
        if bed and bed - care >= self.bed_empty_min and visit.med_type in self.bed_types:
            if self.marker_prefixes:  # service days that carry medication, tests or treatment
                first = visit.begin_date
                pre = self.marker_prefixes
                marked = len({ln.fee_ocur_time or first for ln in visit.lines if ln.code.startswith(pre)})
                care = max(care, marked * QTY_ONE)
            self._bed(bed, care, out)
        days = 0  # computed on first use
        visit_days = self.supply_days.get(visit.med_type)
        if (
            self.long_term
            and visit.diagnoses
            and visit.diagnoses[0].replace(".", "").startswith(self.long_term)
        ):
            visit_days = self.supply_days_long.get(visit.med_type, visit_days)
        registered = person.psn_no in self.registered or visit.med_type in self.registered_types
        gender, lv, dx = person.gender, visit.hosp_lv, visit.diagnoses
        rank = self.rank.get(lv)
        for ln, x in todo:
            code, sn = ln.code, ln.feedetl_sn
            if x.sex is not None and gender != x.sex:
                key: tuple[object, ...] = ("sex", code, sn, gender)
                f = found.get(key)
                out.append(
                    f
                    if f is not None
                    else self._keep(
                        key,
                        self._f(
                            "sex_restriction",
                            sn,
                            f"项目{code}限{x.sex}性使用，患者性别为{gender}",
                            f"item {code} is restricted to sex {x.sex}; the patient is {gender}",
                        ),
                    )
                )
            if x.aged:
                if age is None:
                    age = person.age_on(visit.begin_date)
                if (x.min_age is not None and age < x.min_age) or (x.max_age is not None and age > x.max_age):
                    key = ("age", code, sn, age)
                    f = found.get(key)
                    if f is None:
                        band = f"{x.min_age if x.min_age is not None else ''}–{x.max_age if x.max_age is not None else ''}"
                        f = self._keep(
                            key,
                            self._f(
                                "age_restriction",
                                sn,
                                f"项目{code}限{band}岁使用，患者{age}岁",
                                f"item {code} is restricted to ages {band}; the patient is {age}",
                            ),
                        )
                    out.append(f)
            if x.min_rank is not None and rank is not None and rank < x.min_rank:
                key = ("level", code, sn, lv)
                f = found.get(key)
                out.append(
                    f
                    if f is not None
                    else self._keep(
                        key,
                        self._f(
                            "level_restriction",
                            sn,
                            f"项目{code}限{x.min_level}级及以上医疗机构使用，本机构为{lv}级",
                            f"item {code} needs hospital level {x.min_level} or above; this one is level {lv}",
                        ),
                    )
                )
            if x.indications is not None and not self._indicated(code, x.indications, dx):
                key = ("ind", code, sn, dx)
                f = found.get(key)
                if f is None:
                    d_s, ind = "|".join(dx), "|".join(x.indications)
                    f = self._keep(
                        key,
                        self._f(
                            "indication",
                            sn,
                            f"项目{code}限适应症（{ind}），本次诊断为{d_s}",
                            f"item {code} is paid only for {ind}; the visit's diagnoses are {d_s}",
                        ),
                    )
                out.append(f)
            if x.sums:
                tot = totals[code]
                if x.course_lim is not None and tot > x.course_lim:
                    out.append(
                        self._f(
                            "course_admission",
                            sn,
                            f"项目{code}单次住院限支付{x.course_days}天（{_qty_text(x.course_lim)}单位），本次{_qty_text(tot)}单位",
                            f"item {code} is paid for at most {x.course_days} days ({_qty_text(x.course_lim)} units) "
                            f"an admission; this one has {_qty_text(tot)}",
                        )
                    )
                if x.per_day_q is not None and tot > x.per_day_q:
                    if not days:
                        days = (
                            max((visit.end_date - visit.begin_date).days, 1)
                            if visit.med_type in self.freq_inpatient
                            else 1
                        )
                    # or the distinct service days its lines carry (a month of dated sessions in one visit)
                    n_days = max(
                        days,
                        len({o.fee_ocur_time or visit.begin_date for o in visit.lines if o.code == code}),
                    )
                    if tot > x.per_day_q * n_days:
                        out.append(
                            self._f(
                                "frequency_day",
                                sn,
                                f"项目{code}每日限{_qty_text(x.per_day_q)}次，{n_days}天共收{_qty_text(tot)}次",
                                f"item {code} is limited to {_qty_text(x.per_day_q)} a day; {n_days} day(s) carry {_qty_text(tot)}",
                            )
                        )
                supply_days = x.item_days if x.item_days is not None else visit_days
                if registered and x.long_rx and supply_days is not None:
                    supply_days = max(supply_days, self.registered_days)
                if x.supply_q is not None and supply_days is not None:
                    lim = x.supply_q * supply_days + x.pack_q * self.supply_tol
                    if tot > lim:
                        out.append(
                            self._f(
                                "over_supply",
                                sn,
                                f"药品{code}超量开药：{supply_days}天（含整包装余量）限{_qty_text(lim)}单位，本次{_qty_text(tot)}单位",
                                f"drug {code} over-supplied: {supply_days} days (with a whole-pack allowance) allow "
                                f"{_qty_text(lim)} units, this visit has {_qty_text(tot)}",
                            )
                        )
                    elif ln.prd_days and ln.prd_days > supply_days:
                        out.append(
                            self._f(
                                "over_supply",
                                sn,
                                f"药品{code}超量开药：处方{ln.prd_days}天，限{supply_days}天",
                                f"drug {code} over-supplied: prescribed for {ln.prd_days} days, {supply_days} allowed",
                            )
                        )
            if (
                x.dose_q is not None
                and ln.prd_days
                and ln.qty > (lim := x.dose_q * ln.prd_days + x.pack_q * self.dose_tol)
            ):
                out.append(
                    self._f(
                        "dose_days",
                        sn,
                        f"药品{code}开药{_qty_text(ln.qty)}单位，处方{ln.prd_days}天按每日最大{_qty_text(x.dose_q)}单位加整包装余量最多{_qty_text(lim)}单位",
                        f"drug {code}: {_qty_text(ln.qty)} units prescribed for {ln.prd_days} days; at most "
                        f"{_qty_text(x.dose_q)} a day plus a whole-pack allowance is {_qty_text(lim)}",
                    )
                )
            if (
                x.titles is not None and (doctor := ln.bilg_dr_codg or visit.bilg_dr_codg) is not None
            ):  # line's wins
                title = self.dr_title.get(doctor)
                if title is None or title not in x.titles:
                    dr, ts = doctor, "|".join(x.titles)
                    out.append(
                        self._f(
                            "title_grade",
                            sn,
                            f"项目{code}限职称{ts}收取，开单医师{dr}职称为{title or '未登记'}",
                            f"item {code} may be billed by titles {ts} only; physician {dr} holds "
                            f"{title or 'no registry entry'}",
                        )
                    )
            if x.excluded_by or x.excluded_by_day:
                if codes is None:
                    codes = set(map(_CODE, visit.lines))
                hit = [a for a in x.excluded_by if a in codes]
                if x.excluded_by_day and not codes.isdisjoint(x.excluded_by_day):
                    day = ln.fee_ocur_time or visit.begin_date
                    same_day = {o.code for o in visit.lines if (o.fee_ocur_time or visit.begin_date) == day}
                    hit = sorted({*hit, *(a for a in x.excluded_by_day if a in same_day)})
                if hit:
                    out.append(
                        self._f(
                            "duplicate_pair",
                            sn,
                            f"项目{code}与{'|'.join(hit)}不得同时收取",
                            f"item {code} may not be charged together with {'|'.join(hit)}",
                        )
                    )
            if x.packages:
                if codes is None:
                    codes = set(map(_CODE, visit.lines))
                if not codes.isdisjoint(x.packages):
                    hit = [p for p in x.packages if p in codes]
                    out.append(
                        self._f(
                            "split_item",
                            sn,
                            f"项目{code}已包含在{'|'.join(hit)}中，分解收费",
                            f"item {code} is part of {'|'.join(hit)} and was charged separately",
                        )
                    )

    def _indicated(self, code: str, indications: tuple[str, ...], dx: tuple[str, ...]) -> bool:
        """Whether a diagnosis of ``dx`` starts with one of the item's indication prefixes (remembered per
        code and diagnoses: most visits repeat a few diagnosis sets)."""
        key = (code, dx)
        ok = self._ind_ok.get(key)
        if ok is None:
            ok = any(d.startswith(indications) for d in dx)
            if len(self._ind_ok) >= _CACHE_MAX:
                self._ind_ok.clear()
            self._ind_ok[key] = ok
        return ok

    def _duplicates(self, visit: Visit, out: list[AuditFinding]) -> None:
        """The same code again on the same service day beyond its daily maximum (no known maximum: a line
        repeating an earlier line's quantity and price that day) — as the batch rule."""
        groups: dict[tuple[str, dt.date], list[Line]] = {}
        first_day = visit.begin_date
        for ln in sorted(visit.lines, key=lambda ln: _sn_key(ln.feedetl_sn)):
            groups.setdefault((ln.code, ln.fee_ocur_time or first_day), []).append(ln)
        for (code, _), group in groups.items():
            if len(group) < 2:
                continue
            dmax = self.dmax.get(code)
            cum = group[0].qty
            seen = {(group[0].qty, group[0].price): group[0]}
            for ln in group[1:]:
                cum += ln.qty
                same = seen.setdefault((ln.qty, ln.price), ln)
                if dmax is not None:
                    if cum > dmax:
                        out.append(
                            self._f(
                                "duplicate_line",
                                ln.feedetl_sn,
                                f"项目{code}同日累计{_qty_text(cum)}，超过每日最多{_qty_text(dmax)}，重复收费",
                                f"item {code} reaches {_qty_text(cum)} on one day, above its daily maximum {_qty_text(dmax)}",
                            )
                        )
                elif same is not ln:
                    out.append(
                        self._f(
                            "duplicate_line",
                            ln.feedetl_sn,
                            f"项目{code}与第{same.feedetl_sn}行同日、数量、单价相同，重复收费",
                            f"item {code} repeats line {same.feedetl_sn} on the same day (same quantity and price)",
                        )
                    )

    def _bed(self, bed: int, care: int, out: list[AuditFinding]) -> None:
        assert self.bed is not None
        p = self.bed.params
        assert isinstance(p, m.BedParams)
        if bed - care >= p.min_empty_days * QTY_ONE:
            out.append(
                self._f(
                    "bed_hanging",
                    None,
                    f"住院床日{_qty_text(bed)}天，有诊察记录{_qty_text(care)}天，{_qty_text(bed - care)}天无诊疗（挂床）",
                    f"{_qty_text(bed)} bed days but care charged on {_qty_text(care)}; {_qty_text(bed - care)} days without care "
                    "(bed-hanging)",
                )
            )

    __call__ = check


def _getter(items: dict[str, _Item]) -> Callable[[str], _Item]:
    """``it(code)``: the item's entry, created empty on first use."""

    def it(code: str) -> _Item:
        x = items.get(code)
        if x is None:
            x = items[code] = _Item()
        return x

    return it


def _finish(x: _Item) -> _Item:
    """``x`` with its derived flags set from its restrictions (a fresh copy: the two visit-type maps share
    nothing)."""
    y = replace(x)
    y.sums = y.course_lim is not None or y.per_day_q is not None or y.supply_q is not None
    y.aged = y.min_age is not None or y.max_age is not None
    y.tally = y.sums or y.bed or y.care
    line_checks = (
        y.sums
        or bool(y.excluded_by)
        or bool(y.excluded_by_day)
        or bool(y.packages)
        or y.sex is not None
        or y.aged
        or y.min_rank is not None
        or y.indications is not None
        or y.titles is not None
    )
    y.checks = line_checks or y.dose_q is not None
    y.restricted = y.tally or line_checks  # the days check is routed per line (it needs prd_days)
    return y


_UNKNOWN_BED = _finish(_Item(bed=True))


def k_rows(frame: pl.DataFrame, *cols: str) -> Iterable[tuple[Any, ...]]:
    return frame.select(cols).iter_rows()
