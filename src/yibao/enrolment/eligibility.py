"""Eligibility on a date (pure): a person's relation history, contributions and premiums compiled into a
compact, sorted list of status intervals (:class:`PersonStatus`), each carrying its ready-made
:class:`~yibao.enrolment.model.Eligibility` — so the benefit check at settlement is one binary search.

The rules, each with its source (figures from the region's enrolment file):

* **Relation** (参保关系): not enrolled, suspended (暂停), terminated (终止), transferred out (转出) or dead:
  not covered (``history``).
* **Residents, the benefit year** (参保年度 = calendar year): covered only in a year whose premium is paid;
  paid in the collection period (集中征缴期) → from 1 January; in the extension (延长缴费期) → from the day paid;
  later → from the day paid after a waiting period.
* **Waiting period** (待遇等待期, 国办发〔2024〕38号): who enrols outside the collection period, or not
  continuously, waits ``fixed_months`` (3) from the day paid, plus ``months_per_lapsed_year`` (1) per full
  benefit year lapsed since the last insured day; each lapsed year paid afterwards (缴费修复, a ``repair``
  premium paid by the day of enrolment) takes ``months_repaired_per_year_paid`` (1) off the variable part;
  after ``lapsed_years`` (4) or more lapsed years the total is at least ``months`` (6).  Exempt: newborns
  enrolled and paid within ``newborn.window_days`` of birth (covered from birth), the identities of
  ``exempt_identities`` (资助参保 groups), and people with ``min_insured_years`` insured years who switch
  from the employee scheme with a gap of at most ``max_gap_months`` (医保发〔2021〕32号).
* **Employees in service**: covered while every due month is paid by the end of its grace
  (``arrears_grace_months``); a month unpaid past its grace puts the person in arrears (欠费) until it is
  paid (补缴) — the status on a day is what was known on that day.
* **Retirees** (职工医保退休待遇): covered when contribution months (paid here, carried over by transfer,
  deemed, or paid up in one sum 一次性补缴) reach ``required_months`` by gender and ``required_local_months``
  here; otherwise not covered until the shortfall is paid.
* **Continuity incentives** (国办发〔2024〕38号): a resident continuously insured more than ``after_years`` (4)
  years gets ``per_year`` (1000 元) more critical-illness cap for each further year; each claim-free
  resident year of the current run (after the last year the reward was used) adds ``zero_claim.per_year``;
  a re-entry after a lapse may lower it by ``lapse_reduction_per_year`` per lapsed year; the uplift is
  limited to ``max_share_of_cap`` of the original cap by :func:`critical_illness_cap`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from yibao.enrolment.contributions import (
    add_months,
    collection_timing,
    month_of,
)
from yibao.enrolment.history import (
    ACTIVE,
    DECEASED,
    SUSPENDED,
    TERMINATED,
    TRANSFERRED_OUT,
    ordered,
    relation_segments,
)
from yibao.enrolment.model import (
    EMPLOYEE,
    RESIDENT,
    ClaimHistory,
    Eligibility,
    EmployeeContribution,
    EnrolmentError,
    EventKind,
    PersonFacts,
    RelationEvent,
    ResidentPremium,
)
from yibao.enrolment.policy import EnrolmentPolicy
from yibao.money import apply_ratio, fmt_yuan

MIN_ORD = 1  # dt.date.min
INF_ORD = dt.date.max.toordinal() + 1
COVERED = "covered"
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _Label:
    reason: str
    insutype: str = ""
    psn_type: str = ""
    stas: str = "0"
    detail: tuple[object, ...] = ()  # what the reason text needs (months, dates …)
    waiting_months: int = 0


_Piece = tuple[int, int, _Label]


def _fixed(lab: _Label) -> Callable[[_Label], _Label]:
    return lambda _old: lab


def _keep(reason: str, stas: str, detail: tuple[object, ...], waiting: int = 0) -> Callable[[_Label], _Label]:
    """A relabelling that keeps the scheme and person type of what it paints over."""
    return lambda old: _Label(reason, old.insutype, old.psn_type, stas, detail, waiting)


class _Timeline:
    """Non-overlapping labelled pieces covering every day; ``paint`` overwrites a range."""

    def __init__(self) -> None:
        self.pieces: list[_Piece] = [(MIN_ORD, INF_ORD, _Label("not_enrolled"))]

    def paint(
        self,
        start: int,
        end: int,
        make: Callable[[_Label], _Label],
        when: Callable[[_Label], bool] | None = None,
    ) -> None:
        if start >= end:
            return
        out: list[_Piece] = []
        for a, b, lab in self.pieces:
            if b <= start or a >= end or (when is not None and not when(lab)):
                out.append((a, b, lab))
                continue
            if a < start:
                out.append((a, start, lab))
            out.append((max(a, start), min(b, end), make(lab)))
            if b > end:
                out.append((end, b, lab))
        self.pieces = out

    def merged(self) -> list[_Piece]:
        out: list[_Piece] = []
        for a, b, lab in self.pieces:
            if out and out[-1][2] == lab and out[-1][1] == a:
                out[-1] = (out[-1][0], b, lab)
            else:
                out.append((a, b, lab))
        return out


@dataclass(frozen=True, slots=True)
class PersonStatus:
    """A person's compiled status: interval ``starts`` (date ordinals, ascending) and the decision for each
    interval, for ordinary visits and for account-only visit types (定点药店购药)."""

    psn_no: str
    starts: tuple[int, ...]
    decisions: tuple[Eligibility, ...]
    account_only: tuple[Eligibility, ...]
    account_only_types: frozenset[str] = field(default_factory=frozenset)

    def intervals(self) -> list[tuple[dt.date, dt.date | None, Eligibility, Eligibility]]:
        """(first day, last day or None, decision, account-only decision) per interval."""
        out = []
        n = len(self.starts)
        for i in range(n):
            first = dt.date.fromordinal(self.starts[i])
            last = dt.date.fromordinal(self.starts[i + 1] - 1) if i + 1 < n else None
            out.append((first, last, self.decisions[i], self.account_only[i]))
        return out


def _d(o: int) -> dt.date:
    return dt.date.fromordinal(o)


def _years_of(start: int, end: int, horizon: int) -> range:
    last = _d(end - 1).year if end < INF_ORD else horizon
    return range(_d(start).year, min(last, horizon) + 1)


class _Compiler:
    def __init__(
        self,
        facts: PersonFacts,
        events: Sequence[RelationEvent],
        policy: EnrolmentPolicy,
        premiums: Sequence[ResidentPremium],
        contributions: Sequence[EmployeeContribution],
        claims: ClaimHistory | None,
        cache: dict[tuple[object, ...], tuple[Eligibility, Eligibility]] | None = None,
    ) -> None:
        self.facts, self.policy, self.claims = facts, policy, claims
        self.cache = cache if cache is not None else {}
        self.premiums, self.contributions = premiums, contributions
        for i, e in enumerate(events):
            if e.psn_no != facts.psn_no:
                raise EnrolmentError(f"events[{i}].psn_no", f"不是同一个人 {e.psn_no!r} ≠ {facts.psn_no!r}")
        self.annual: dict[int, ResidentPremium] = {}
        for i, p in enumerate(premiums):
            if p.kind == "annual":
                if p.year in self.annual:
                    raise EnrolmentError(
                        f"premiums[{i}].year",
                        f"{p.year}年度重复缴费 the {p.year} premium appears twice",
                        "duplicate",
                    )
                self.annual[p.year] = p
        self.events = self._newborn_backdate(ordered(events))
        self.segs = relation_segments(self.events)
        years = [e.day.year for e in self.events] + list(self.annual)
        years += [c.month[0] for c in contributions]
        self.horizon = (max(years) if years else 2000) + 1
        self.tl = _Timeline()
        self.insured_years: set[int] = set()
        self.resident_years: set[int] = set()
        self.lapsed_in: dict[int, int] = {}
        self.spans: list[tuple[int, int, str]] = []  # insured spans (start, end excl, scheme)

    # ------------------------------------------------------------------ newborns
    def _newborn_backdate(self, evs: list[RelationEvent]) -> list[RelationEvent]:
        """A newborn enrolled and paid within the window is registered from birth (covered from birth)."""
        f, pol = self.facts, self.policy
        if not evs:
            return evs
        first = evs[0]
        limit = f.birth_date + dt.timedelta(days=pol.newborn_window_days)
        p = self.annual.get(f.birth_date.year)
        if (
            first.kind == EventKind.ENROL
            and first.insutype == RESIDENT
            and f.birth_date <= first.day <= limit
            and p is not None
            and p.paid_on <= limit
        ):
            return [replace(first, day=f.birth_date), *evs[1:]]
        return evs

    def _is_newborn_year(self, year: int, paid_on: dt.date) -> bool:
        f = self.facts
        limit = f.birth_date + dt.timedelta(days=self.policy.newborn_window_days)
        return year == f.birth_date.year and paid_on <= limit and self.events[0].day == f.birth_date

    # ------------------------------------------------------------------ relation
    def paint_relation(self) -> None:
        labels = {
            ACTIVE: (COVERED, "1"),
            SUSPENDED: ("suspended", "2"),
            TERMINATED: ("terminated", "4"),
            TRANSFERRED_OUT: ("transferred_out", "4"),
            DECEASED: ("deceased", "4"),
        }
        for s in self.segs:
            reason, stas = labels[s.state]
            detail: tuple[object, ...] = ()
            if s.state == TRANSFERRED_OUT:
                detail = (s.opened_by.other_admdvs,)
            elif s.state == DECEASED:
                detail = (s.opened_by.day,)
            lab = _Label(reason, s.insutype, s.psn_type, stas, detail)
            end = s.end.toordinal() if s.end else INF_ORD
            self.tl.paint(s.start.toordinal(), end, _fixed(lab))
            if s.state == ACTIVE and s.insutype == EMPLOYEE:  # residents are insured by paid years
                self.spans.append((s.start.toordinal(), end, EMPLOYEE))
                self.insured_years.update(_years_of(s.start.toordinal(), end, self.horizon))
        for e in self.events:
            if e.kind == EventKind.TRANSFER_IN and e.insured_until is not None:
                u = e.insured_until.toordinal()
                self.spans.append((u, u + 1, "transfer"))
                top = e.insured_until.year
                self.insured_years.update(range(top - max(e.years_carried, 1) + 1, top + 1))

    # ------------------------------------------------------------------ employees
    def paint_employee(self) -> None:
        pol = self.policy
        retired = pol.retired_types
        in_service = [
            s for s in self.segs if s.state == ACTIVE and s.insutype == EMPLOYEE and s.psn_type not in retired
        ]
        if in_service:
            paid: dict[tuple[int, int], dt.date] = {}  # earliest payment; date.max = recorded, unpaid
            for c in self.contributions:
                if c.kind == "normal":
                    on = c.paid_on if c.paid_on is not None else dt.date.max
                    paid[c.month] = min(paid.get(c.month, dt.date.max), on)

            def owed(lab: _Label) -> bool:
                return lab.reason == COVERED and lab.insutype == EMPLOYEE and lab.psn_type not in retired

            # a run of the relation lasts from an enrolment (or transfer in) to the next one: arrears of one
            # employment never block the benefits of a later one
            run_end: dict[dt.date, int] = {}
            end_of_run = INF_ORD
            for sg in reversed(self.segs):
                run_end[sg.start] = end_of_run
                if sg.opened_by.kind in (EventKind.ENROL, EventKind.TRANSFER_IN):
                    end_of_run = sg.start.toordinal()
            for s in in_service:
                stop = run_end[s.start]
                m = month_of(s.start)
                last = month_of(s.end - ONE_DAY) if s.end else None
                while last is None or m <= last:
                    k = m[0] * 12 + m[1] + pol.arrears_grace_months  # the month after the grace, 0-based
                    g = dt.date(k // 12, k % 12 + 1, 1).toordinal()
                    p = paid.get(m, dt.date.max)
                    if p == dt.date.max:
                        # never recorded or recorded unpaid: in arrears from the end of its grace until paid
                        lab_m = m
                        self.tl.paint(g, stop, _keep("arrears", "1", (lab_m,)), owed)
                        break
                    if p.toordinal() >= g:
                        lab_m = m
                        self.tl.paint(g, min(p.toordinal(), stop), _keep("arrears", "1", (lab_m,)), owed)
                    y, mo = m
                    m = (y + mo // 12, mo % 12 + 1)
        retired_segs = [
            s for s in self.segs if s.state == ACTIVE and s.insutype == EMPLOYEE and s.psn_type in retired
        ]
        if retired_segs:
            self._paint_retirement(retired_segs[0].start)

    def _paint_retirement(self, r: dt.date) -> None:
        pol, f = self.policy, self.facts
        need_total = pol.retirement_required_months.get(
            f.gender, max(pol.retirement_required_months.values())
        )
        need_local = pol.retirement_required_local_months
        # months carried on an enrolment are this region's earlier or deemed months (local); on a transfer in,
        # months paid elsewhere (they count toward the total only)
        carried = local_carried = 0
        for e in self.events:
            if e.insutype == EMPLOYEE and e.day <= r and e.kind in (EventKind.ENROL, EventKind.TRANSFER_IN):
                carried += e.months_carried
                if e.kind == EventKind.ENROL:
                    local_carried += e.months_carried
        credits: list[tuple[dt.date, int]] = []
        for c in self.contributions:
            if c.paid_on is None:
                continue
            if c.kind == "top_up" or (c.kind == "normal" and c.month < month_of(r)):
                credits.append((c.paid_on, c.months))
        credits.sort()
        total, local = carried, local_carried
        enough_on: dt.date | None = None
        pending = list(credits)
        while pending and pending[0][0] <= r:
            total += pending[0][1]
            local += pending[0][1]
            pending.pop(0)
        if total >= need_total and local >= need_local:
            return
        have_total, have_local = total, local
        for day, months in pending:
            total += months
            local += months
            if total >= need_total and local >= need_local:
                enough_on = day
                break
        retired = pol.retired_types
        detail = (have_total, need_total, have_local, need_local)
        self.tl.paint(
            r.toordinal(),
            enough_on.toordinal() if enough_on else INF_ORD,
            _keep("retiree_years_short", "1", detail),
            lambda o: o.reason == COVERED and o.insutype == EMPLOYEE and o.psn_type in retired,
        )

    # ------------------------------------------------------------------ residents
    def _prior(self, ref: int) -> tuple[dt.date | None, str]:
        """The last insured day before ``ref`` (any scheme) and the scheme that gave it."""
        best, kind = -1, ""
        for a, b, k in self.spans:
            if a < ref:
                last = min(b, ref) - 1
                if last > best:
                    best, kind = last, k
        return (_d(best), kind) if best >= MIN_ORD else (None, "")

    def _run_ending(self, year: int) -> int:
        n = 0
        while year - n in self.insured_years:
            n += 1
        return n

    def paint_resident(self) -> None:
        pol = self.policy
        res = [s for s in self.segs if s.state == ACTIVE and s.insutype == RESIDENT]
        if not res:
            return
        first_year = min(s.start.year for s in res)
        last_year = max(
            [
                first_year,
                *self.annual,
                *(s.start.year for s in res),
                *((s.end - ONE_DAY).year for s in res if s.end),
            ]
        )
        open_ended = any(s.end is None for s in res)
        carried_until = {
            e.insured_until
            for e in self.events
            if e.kind == EventKind.TRANSFER_IN and e.insutype == RESIDENT and e.insured_until is not None
        }
        repairs = [p for p in self.premiums if p.kind == "repair"]

        def live(o: _Label) -> bool:
            return o.insutype == RESIDENT and o.reason in (COVERED, "waiting_period")

        active_years: set[int] = set()
        for sg in res:
            active_years.update(
                range(sg.start.year, (sg.end - ONE_DAY).year + 1 if sg.end else last_year + 1)
            )

        for y in range(first_year, last_year + 1):
            jan1, dec31 = dt.date(y, 1, 1), dt.date(y, 12, 31)
            end_y = dec31.toordinal() + 1
            if y not in active_years:
                continue
            carried = max((u for u in carried_until if u >= jan1 and u.year == y), default=None)
            p = self.annual.get(y)
            if p is None or p.paid_on > dec31:
                start_np = jan1 if carried is None else carried + ONE_DAY
                self.tl.paint(
                    start_np.toordinal(),
                    end_y,
                    _keep("not_paid", "2", (y,)),
                    live,
                )
                if carried is not None:
                    self.spans.append((jan1.toordinal(), carried.toordinal() + 1, RESIDENT))
                    self.insured_years.add(y)
                continue
            paid_on = p.paid_on
            waiting, lapsed, repaired = 0, 0, 0
            if self._is_newborn_year(y, paid_on):
                start = max(self.facts.birth_date, jan1)
            else:
                timing = collection_timing(y, paid_on, pol)
                ref = jan1 if timing == "period" else paid_on
                start = jan1 if timing == "period" else paid_on
                prior, prior_kind = self._prior(ref.toordinal())
                lapsed = max(0, y - prior.year - 1) if prior is not None else 0
                if self.facts.identities_on(paid_on) & pol.waiting_exempt_identities:
                    waiting = 0
                elif lapsed >= 1:
                    assert prior is not None
                    repaired = len(
                        {q.year for q in repairs if prior.year < q.year < y and q.paid_on <= paid_on}
                    )
                    variable = max(
                        0, lapsed * pol.months_per_lapsed_year - repaired * pol.months_repaired_per_year_paid
                    )
                    waiting = pol.fixed_waiting_months + variable
                    if pol.long_lapse_years is not None and lapsed >= pol.long_lapse_years:
                        waiting = max(waiting, pol.long_lapse_floor_months)
                elif timing == "period" or (timing == "extended" and not pol.extended_collection_waits):
                    waiting = 0
                elif self._switch_exempt(prior, prior_kind, paid_on):
                    waiting = 0
                else:
                    waiting = pol.fixed_waiting_months
            self.lapsed_in[y] = lapsed
            self.tl.paint(
                jan1.toordinal(),
                start.toordinal(),
                _keep("not_paid", "2", (y,)),
                live,
            )
            if waiting:
                w_end = add_months(start, waiting)
                detail = (waiting, lapsed, repaired, w_end)
                self.tl.paint(
                    start.toordinal(),
                    w_end.toordinal(),
                    _keep("waiting_period", "1", detail, waiting),
                    lambda o: o.insutype == RESIDENT and o.reason == COVERED,
                )
            self.spans.append((start.toordinal(), end_y, RESIDENT))
            self.insured_years.add(y)
            self.resident_years.add(y)
        if open_ended:
            nxt = last_year + 1
            self.tl.paint(
                dt.date(nxt, 1, 1).toordinal(),
                INF_ORD,
                _keep("not_paid", "2", (nxt,)),
                live,
            )

    def _switch_exempt(self, prior: dt.date | None, prior_kind: str, paid_on: dt.date) -> bool:
        pol = self.policy
        if pol.switch_min_insured_years is None or prior is None or prior_kind != EMPLOYEE:
            return False
        return (
            paid_on <= add_months(prior, pol.switch_max_gap_months)
            and self._run_ending(prior.year) >= pol.switch_min_insured_years
        )

    # ------------------------------------------------------------------ incentives and decisions
    def incentive(self, year: int) -> tuple[int, int]:
        """(continuous insured years up to ``year``, critical-illness cap uplift in fen) for a resident."""
        pol = self.policy
        n = self._run_ending(year)
        uplift = max(0, n - pol.continuity_after_years) * pol.continuity_per_year_fen
        if self.claims is not None:
            used = [u for u in self.claims.reward_used_years if u < year]
            after = max(used) if used else -1
            free = [
                z
                for z in range(year - n + 1, year)
                if z > after and z in self.resident_years and z not in self.claims.fund_paid_years
            ]
            uplift += len(free) * pol.zero_claim_per_year_fen
        uplift -= self.lapsed_in.get(year, 0) * pol.lapse_reduction_per_year_fen
        return n, uplift

    def build(self) -> PersonStatus:
        pol = self.policy
        pieces = self.tl.merged()
        # split covered pieces at 1 January so each carries its benefit year's incentives
        split: list[tuple[int, int, _Label, int]] = []
        for a, b, lab in pieces:
            if lab.reason != COVERED or lab.insutype == "":
                split.append((a, b, lab, _d(a).year if a > MIN_ORD else 0))
                continue
            y = _d(a).year
            s = a
            while True:
                nxt = dt.date(y + 1, 1, 1).toordinal()
                if b <= nxt or y >= self.horizon:
                    split.append((s, b, lab, y))
                    break
                split.append((s, nxt, lab, y))
                s, y = nxt, y + 1
        # a run of equal labels (whatever the year) bounds since/until
        run_bounds: list[tuple[int, int]] = []
        i = 0
        while i < len(split):
            j = i
            while j + 1 < len(split) and split[j + 1][2] == split[i][2]:
                j += 1
            run_bounds.extend([(split[i][0], split[j][1])] * (j - i + 1))
            i = j + 1
        starts: list[int] = []
        decisions: list[Eligibility] = []
        acct: list[Eligibility] = []
        for (a, _b, lab, year), (ra, rb) in zip(split, run_bounds, strict=True):
            since = _d(ra) if ra > MIN_ORD else None
            until = _d(rb - 1) if rb < INF_ORD else None
            n, uplift = (0, 0)
            if lab.reason == COVERED and lab.insutype:
                n, uplift = self.incentive(year)
                if lab.insutype != RESIDENT:
                    uplift = 0
            unborn = lab.reason == "not_enrolled" and until is not None and until < self.facts.birth_date
            key = (lab, ra, rb, year, n, uplift, unborn)
            pair = self.cache.get(key)
            if pair is None:
                pair = self.cache[key] = _decisions(lab, since, until, year, n, uplift, unborn, pol)
            starts.append(a)
            decisions.append(pair[0])
            acct.append(pair[1])
        return PersonStatus(
            self.facts.psn_no, tuple(starts), tuple(decisions), tuple(acct), pol.account_only_med_types
        )


def _decisions(
    lab: _Label,
    since: dt.date | None,
    until: dt.date | None,
    year: int,
    n: int,
    uplift: int,
    unborn: bool,
    pol: EnrolmentPolicy,
) -> tuple[Eligibility, Eligibility]:
    """The (ordinary, account-only) decisions of one status interval."""
    zh, en, src = _texts(lab, since, until, year, n, uplift, pol, unborn)
    covered = lab.reason == COVERED
    base = Eligibility(
        covered=covered,
        reason_code="ok" if covered else lab.reason,
        reason_zh=zh,
        reason_en=en,
        insutype=lab.insutype,
        psn_type=lab.psn_type,
        psn_insu_stas=lab.stas,
        since=since,
        until=until,
        self_pay_instead=(not covered) and lab.reason in pol.self_pay_reasons,
        account_usable=covered and lab.insutype == EMPLOYEE,
        continuous_years=n,
        ci_cap_uplift_fen=uplift,
        ci_uplift_max_share=pol.incentive_max_share_of_cap if lab.insutype == RESIDENT else 0,
        waiting_months=lab.waiting_months,
        source=src,
    )
    acct_ok = lab.insutype == EMPLOYEE and lab.reason in _ACCOUNT_REASONS
    return base, (base if acct_ok == base.account_usable else _with_account(base, acct_ok))


# the personal account stays the person's own: account-only visits may use it in these states
_ACCOUNT_REASONS = frozenset({COVERED, "arrears", "retiree_years_short", "suspended", "waiting_period"})


def _with_account(e: Eligibility, ok: bool) -> Eligibility:
    return replace(e, account_usable=ok)


def _cn(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _texts(
    lab: _Label,
    since: dt.date | None,
    until: dt.date | None,
    year: int,
    n: int,
    uplift: int,
    pol: EnrolmentPolicy,
    unborn: bool,
) -> tuple[str, str, str]:
    """(reason in Chinese, in English, the source's title) for one status interval."""
    r = lab.reason
    if r == COVERED:
        if lab.insutype == RESIDENT:
            zh = f"已参保缴费，享受{year}年度城乡居民医保待遇"
            en = f"insured: resident benefits of benefit year {year}"
            if uplift > 0:
                zh += f"；连续参保{n}年，大病保险最高支付限额提高{fmt_yuan(uplift)}元（国办发〔2024〕38号）"
                en += f"; {n} continuous years: critical-illness cap +{fmt_yuan(uplift)} yuan"
            elif uplift < 0:
                zh += f"；断保后再参保，大病保险最高支付限额降低{fmt_yuan(-uplift)}元（国办发〔2024〕38号）"
                en += f"; re-enrolled after a lapse: critical-illness cap −{fmt_yuan(-uplift)} yuan"
            return zh, en, pol.cite(pol.incentives_source if uplift else pol.resident_source)
        if lab.psn_type in pol.retired_types:
            return "退休人员，享受职工医保退休待遇", "retired employee: employee benefits in retirement", ""
        return (
            "职工医保参保缴费正常",
            "employee insurance: contributions up to date",
            pol.cite(pol.employee_source),
        )
    if r == "not_enrolled":
        if unborn:
            return "尚未出生", "not yet born", ""
        return (
            "未参加本统筹区基本医疗保险",
            "not enrolled in basic medical insurance in this region",
            "",
        )
    if r == "not_paid":
        (y,) = lab.detail
        return (
            f"未缴纳{y}年度城乡居民医保费，不享受该年度待遇",
            f"the resident premium of benefit year {y} is not paid",
            pol.cite(pol.resident_source),
        )
    if r == "suspended":
        s = _cn(since) if since else ""
        return f"参保关系已暂停（{s}起）", f"insurance relation suspended since {since}", ""
    if r == "terminated":
        return (
            f"参保关系已终止（{_cn(since) if since else ''}起）",
            f"insurance relation ended on {since}",
            "",
        )
    if r == "transferred_out":
        (to,) = lab.detail
        return (
            f"参保关系已转出（{_cn(since) if since else ''}起，转往{to or '外地'}）",
            f"insurance relation transferred out to {to or 'another region'} on {since}",
            "",
        )
    if r == "deceased":
        (day,) = lab.detail
        assert isinstance(day, dt.date)
        return f"参保人已于{_cn(day)}死亡", f"the insured person died on {day}", ""
    if r == "waiting_period":
        w, lapsed, repaired, w_end = lab.detail
        assert isinstance(w_end, dt.date)
        parts = f"固定等待期{pol.fixed_waiting_months}个月"
        parts_en = f"fixed {pol.fixed_waiting_months} months"
        if isinstance(lapsed, int) and lapsed:
            parts += f"，断保{lapsed}年增加变动等待期"
            parts_en += f", {lapsed} lapsed year(s) add variable months"
            if repaired:
                parts += f"（已缴费修复{repaired}年）"
                parts_en += f" ({repaired} repaired)"
        return (
            f"处于待遇等待期（共{w}个月，{parts}），{_cn(w_end)}起享受待遇（国办发〔2024〕38号）",
            f"in the waiting period ({w} months: {parts_en}); benefits from {w_end} (国办发〔2024〕38号)",
            pol.cite(pol.waiting_source),
        )
    if r == "arrears":
        (m,) = lab.detail
        assert isinstance(m, tuple)
        return (
            f"职工医保{m[0]}年{m[1]}月起欠缴超过宽限期，补缴后恢复待遇",
            f"employee contributions unpaid since {m[0]}-{m[1]:02d} beyond the grace period; "
            "benefits resume once paid",
            pol.cite(pol.arrears_source),
        )
    if r == "retiree_years_short":
        have, need, have_local, need_local = lab.detail
        return (
            f"退休人员医保缴费年限不足（累计{have}个月，需{need}个月；本地{have_local}个月，需{need_local}个月），"
            "一次性补缴后享受退休待遇",
            f"retiree contribution months short ({have} of {need}; local {have_local} of {need_local}); "
            "benefits in retirement once paid up",
            pol.cite(pol.retirement_source),
        )
    raise AssertionError(r)  # pragma: no cover


def compile_status(
    facts: PersonFacts,
    events: Sequence[RelationEvent],
    policy: EnrolmentPolicy,
    *,
    premiums: Sequence[ResidentPremium] = (),
    contributions: Sequence[EmployeeContribution] = (),
    claims: ClaimHistory | None = None,
    cache: dict[tuple[object, ...], tuple[Eligibility, Eligibility]] | None = None,
) -> PersonStatus:
    """Compile a person's history into status intervals with a ready decision each (see the module doc
    for the rules).  ``claims`` None: the claim history is unknown and no claim-free reward is given.
    ``cache``: a dict shared across persons compiled under the same policy, so that equal intervals share
    one decision object.  Raises :class:`EnrolmentError` naming the offending event or premium."""
    c = _Compiler(facts, events, policy, premiums, contributions, claims, cache)
    c.paint_relation()
    c.paint_employee()
    c.paint_resident()
    return c.build()


def critical_illness_cap(original_cap_fen: int, eligibility: Eligibility) -> int:
    """The resident critical-illness (大病保险) cap for the visit's benefit year: the original cap plus the
    incentive uplift, the uplift limited to ``ci_uplift_max_share`` of the original cap (国办发〔2024〕38号:
    the two incentives together at most 20% of the original cap), never below zero."""
    limit = apply_ratio(original_cap_fen, eligibility.ci_uplift_max_share)
    return max(0, original_cap_fen + min(eligibility.ci_cap_uplift_fen, limit))


def compile_many(
    items: Iterable[
        tuple[
            PersonFacts,
            Sequence[RelationEvent],
            Sequence[ResidentPremium],
            Sequence[EmployeeContribution],
            ClaimHistory | None,
        ]
    ],
    policy: EnrolmentPolicy,
) -> dict[str, PersonStatus]:
    """:func:`compile_status` for many persons: psn_no → status."""
    return {
        f.psn_no: compile_status(f, ev, policy, premiums=pr, contributions=co, claims=cl)
        for f, ev, pr, co, cl in items
    }
