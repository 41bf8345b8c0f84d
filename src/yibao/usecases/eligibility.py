"""The benefit check (待遇享受检查) as every face uses it: inside 2206/2207 and ``yibao settle``, the national
2001 人员待遇享受检查, the 1101 insurance rows and the portal's explanation.

The enrolment capability answers *whether* a person may use their benefits on a day
(:func:`yibao.enrolment.check.check`, one binary search in the person's compiled status); this module
turns that answer into what settlement does with it:

* covered → settle, with the continuity incentives of 国办发〔2024〕38号 (the critical-illness cap uplift,
  policy data of the region's enrolment file) passed to the engine;
* not covered and policy settles it fully self-paid (``not_covered.self_pay`` of the enrolment file:
  waiting period, arrears, retiree years short), or the personal account may still pay (account-only
  visit types) → settle with no fund paying;
* otherwise → refused: :class:`BenefitRefused`, a :class:`~yibao.errors.FieldError` the national envelope
  answers with ``infcode`` −1, the field ``input.data.psn_no`` and the reason in Chinese then English.

**A region without enrolment data keeps today's behaviour.**  :meth:`EligibilitySource.has_data` is False
while the region's enrolment tables hold no person (no collection file, roster or synthetic enrolment was
ever loaded): no check is made and every person the ledger knows settles as before.  Once the region has
enrolment data, a person absent from it is *not enrolled* and refused.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from yibao.access.principal import STAFF_ROLES, Forbidden, Principal, can_read_person
from yibao.enrolment.check import NOT_ENROLLED, check, refusal, trtinfo_2001
from yibao.enrolment.eligibility import PersonStatus
from yibao.enrolment.model import EVENT_NAMES_ZH, ClaimHistory, Eligibility
from yibao.enrolment.store import PersonRecordSet
from yibao.errors import FieldError
from yibao.settlement.model import Entitlement, Visit
from yibao.settlement.trace import CapUplift, Layer

PSN_FIELD = "input.data.psn_no"


class BenefitRefused(FieldError):
    """A visit of a person not covered on the visit date, refused by the benefit check; ``eligibility`` is the
    check's whole answer (reason, since/until, source) for the faces that explain it."""

    def __init__(self, eligibility: Eligibility, field: str = PSN_FIELD) -> None:
        e = eligibility
        super().__init__(
            field,
            f"人员待遇享受检查未通过：{e.reason_zh} (benefit check failed: {e.reason_en})",
            e.reason_code,
        )
        self.eligibility = e


class EligibilitySource(Protocol):
    """Where the benefit check reads a person's compiled status."""

    def has_data(self) -> bool:
        """Whether the region has any enrolment data (False: no check, today's behaviour)."""
        ...

    def status(self, psn_no: str) -> PersonStatus | None:
        """The person's compiled status (None: not in the enrolment tables)."""
        ...

    def identities(self, psn_no: str, day: dt.date) -> frozenset[str]:
        """The person's assistance identities (低保, 特困 …) valid on ``day``."""
        ...

    def record(self, psn_no: str) -> PersonRecordSet | None:
        """Everything stored about the person (history, premiums, contributions), when stored."""
        ...


@dataclass
class MemoryEligibility:
    """Statuses held in memory (the engine benchmark, tests, a process that precompiled its region)."""

    statuses: Mapping[str, PersonStatus]
    idents: Mapping[str, frozenset[str]] = field(default_factory=dict)
    present: bool = True

    def has_data(self) -> bool:
        return self.present and bool(self.statuses)

    def status(self, psn_no: str) -> PersonStatus | None:
        return self.statuses.get(psn_no)

    def identities(self, psn_no: str, day: dt.date) -> frozenset[str]:
        return self.idents.get(psn_no, frozenset())

    def record(self, psn_no: str) -> PersonRecordSet | None:
        return None


class StoreEligibility:
    """Statuses compiled from the enrolment tables on each call (so an event recorded a moment ago counts).

    ``claims`` (optional) gives a person's claim history for the zero-claim reward; without it no
    claim-free reward is given (the continuity uplift still is).  Calls are serialised: the store holds one
    database connection."""

    def __init__(self, store: Any, claims: Callable[[str], ClaimHistory | None] | None = None) -> None:
        self.store = store
        self.claims = claims
        self._known = False
        self.lock = threading.Lock()

    def has_data(self) -> bool:
        if self._known:  # once a region has enrolment data it keeps it
            return True
        with self.lock:
            self._known = self.store.has_persons()
        return self._known

    def status(self, psn_no: str) -> PersonStatus | None:
        history = self.claims(psn_no) if self.claims is not None else None
        with self.lock:
            st: PersonStatus | None = self.store.status(psn_no, history)
        return st

    def identities(self, psn_no: str, day: dt.date) -> frozenset[str]:
        rec = self.record(psn_no)
        return frozenset() if rec is None else frozenset(rec.facts.identities_on(day))

    def record(self, psn_no: str) -> PersonRecordSet | None:
        with self.lock:
            rec: PersonRecordSet | None = self.store.person(psn_no)
        return rec


COVERED = Entitlement()


def decide(e: Eligibility) -> Entitlement:
    """What settlement does with the check's answer: an :class:`Entitlement`, or :class:`BenefitRefused`."""
    if e.covered:
        return Entitlement(
            ci_cap_uplift_fen=e.ci_cap_uplift_fen,
            ci_uplift_max_share=e.ci_uplift_max_share,
            reason_code=e.reason_code,
            reason_zh=e.reason_zh,
            reason_en=e.reason_en,
        )
    if e.self_pay_instead or e.account_usable:
        return Entitlement(
            self_pay=True,
            account_usable=e.account_usable,
            reason_code=e.reason_code,
            reason_zh=e.reason_zh,
            reason_en=e.reason_en,
        )
    raise BenefitRefused(e)


def eligibility_on(
    source: EligibilitySource | None, psn_no: str, day: dt.date, med_type: str
) -> Eligibility | None:
    """The check's answer for a visit of ``psn_no`` on ``day``; None when there is nothing to check against
    (no source, or a region without enrolment data)."""
    if source is None or not source.has_data():
        return None
    return check(source.status(psn_no), day, med_type)


def entitlement_for(source: EligibilitySource | None, visit: Visit) -> Entitlement | None:
    """The benefit check inside 2206/2207 and the batch executors' per-visit rule: None (no check), an
    :class:`Entitlement`, or :class:`BenefitRefused` raised."""
    if source is None or not source.has_data():
        return None
    e = check(source.status(visit.psn_no), visit.begin_date, visit.med_type)
    if e.covered and not e.ci_cap_uplift_fen:
        return COVERED  # the common case: no allocation on the settlement path
    return decide(e)


def check_2001(
    source: EligibilitySource | None, psn_no: str, begntime: dt.date, med_type: str, insutype: str = ""
) -> dict[str, Any]:
    """2001 人员待遇享受检查 output: ``trtinfo[]`` (one row per fund of the person's scheme, see
    :func:`yibao.enrolment.check.trtinfo_2001`) and yibao's ``check`` summary (``decision`` settle /
    self_pay / refuse with the national refusal shape).  A region without enrolment data answers every
    known person as enjoying their benefits (today's behaviour), marked ``checked: false``."""
    e = eligibility_on(source, psn_no, begntime, med_type)
    if e is None:
        return {"trtinfo": [], "check": {"checked": False, "decision": "settle"}}
    idents = (
        source.identities(psn_no, begntime) if source is not None and e is not NOT_ENROLLED else frozenset()
    )
    rows = trtinfo_2001(psn_no, e, identities=idents, insutype=insutype)
    try:
        ent = decide(e)
        decision = "self_pay" if ent.self_pay else "settle"
    except BenefitRefused:
        decision = "refuse"
    return {
        "trtinfo": rows,
        "check": {
            "checked": True,
            "decision": decision,
            "reason_code": e.reason_code,
            "reason_zh": e.reason_zh,
            "reason_en": e.reason_en,
            "since": e.since.isoformat() if e.since else "",
            "until": e.until.isoformat() if e.until else "",
            "source": e.source,
            **{k: v for k, v in refusal(e).items() if k in ("infcode", "err_msg", "warn_msg")},
        },
    }


def benefit_check(
    caller: Principal | None,
    source: EligibilitySource | None,
    log: Callable[[Principal, str, str], None],
    psn_no: str,
    begntime: dt.date,
    med_type: str,
    insutype: str = "",
) -> dict[str, Any]:
    """2001 for a caller: an institution (the card presented), staff, or the person (and their linked family);
    the read is written to the access log.  ``caller`` None: a trusted local operator."""
    if caller is not None:
        if not (can_read_person(caller, psn_no) or caller.role in ("institution", *STAFF_ROLES)):
            raise Forbidden(f"无权查看人员 {psn_no} 的信息 not allowed to read person {psn_no}")
        log(caller, psn_no, "2001 benefit check")
    return check_2001(source, psn_no, begntime, med_type, insutype)


def insuinfo_overrides(source: EligibilitySource | None, psn_no: str, day: dt.date) -> dict[str, str]:
    """The 1101 ``insuinfo`` fields the enrolment tables know better than the ledger's person row:
    ``psn_insu_stas`` (人员参保状态 on ``day``) and the status's bounds; empty without enrolment data."""
    e = eligibility_on(source, psn_no, day, "")
    if e is None:
        return {}
    out = {"psn_insu_stas": e.psn_insu_stas, "trt_enjymnt_flag": "1" if e.covered else "0"}
    if not e.covered:
        out["trt_chk_rslt"] = e.reason_zh
    return out


def open_source(
    database_url: str, loaded_region: Any, claims: Callable[[str], ClaimHistory | None] | None = None
) -> StoreEligibility | None:
    """The benefit check's source for a process: the enrolment tables of ``database_url`` under the
    region's enrolment file (matched by ``admdvs``); None when the region has no enrolment file.
    ``claims``: the zero-claim reward's history (:func:`ledger_claims`); None: no zero-claim reward."""
    from yibao.enrolment.policy import policy_for_region
    from yibao.enrolment.store import EnrolmentStore

    policy = policy_for_region(loaded_region)
    if policy is None:
        return None
    return StoreEligibility(EnrolmentStore(database_url, policy, migrate=False), claims)


SCHEME_NAMES = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}


def insurance_record(
    caller: Principal | None,
    source: EligibilitySource | None,
    log: Callable[[Principal, str, str], None],
    psn_no: str,
    on: dt.date,
) -> dict[str, Any] | None:
    """The person's 参保信息 and 缴费记录 as the portal shows them: the status on ``on`` (with the reason in
    plain Chinese when benefits cannot be used, the day they start again and the rule's name), every status
    period, the relation's history, resident premiums and employee contributions (欠缴 marked).  None when the
    region has no enrolment data.  An insured caller may read only themselves and their linked family."""
    if caller is not None:
        if not (can_read_person(caller, psn_no) or caller.role in STAFF_ROLES):
            raise Forbidden(f"无权查看人员 {psn_no} 的参保信息 not allowed to read person {psn_no}")
        log(caller, psn_no, "insurance record")
    if source is None or not source.has_data():
        return None
    rec = source.record(psn_no)
    status = source.status(psn_no)
    e = check(status, on, "11")
    periods = [
        {
            "first": first,
            "last": last,
            "covered": d.covered,
            "reason_zh": d.reason_zh,
            "reason_en": d.reason_en,
            "self_pay": d.self_pay_instead,
            "source": d.source,
        }
        for first, last, d, _a in (status.intervals() if status is not None else [])
        if d.reason_zh != "尚未出生"
    ]
    out: dict[str, Any] = {
        "psn_no": psn_no,
        "on": on,
        "eligibility": e,
        "scheme_name": SCHEME_NAMES.get(e.insutype, ""),
        "periods": periods,
        "name": "",
        "district": "",
        "household_no": "",
        "events": [],
        "premiums": [],
        "contributions": [],
        "arrears_months": 0,
    }
    if rec is not None:
        out.update(name=rec.name, district=rec.district, household_no=rec.household_no)
        out["events"] = [
            {
                "day": ev.day,
                "kind": EVENT_NAMES_ZH.get(ev.kind, str(ev.kind)),
                "scheme": SCHEME_NAMES.get(ev.insutype, ev.insutype),
                "psn_type": ev.psn_type,
                "emp_no": ev.emp_no,
                "other_admdvs": ev.other_admdvs,
                "years_carried": ev.years_carried,
            }
            for ev in rec.events
        ]
        out["premiums"] = [
            {
                "year": p.year,
                "paid_on": p.paid_on,
                "individual_fen": p.individual_fen,
                "assistance_fen": p.assistance_fen,
                "subsidy_fen": p.subsidy_fen,
                "kind": "缴费修复" if p.kind == "repair" else "年度缴费",
            }
            for p in sorted(rec.premiums, key=lambda p: (p.year, p.paid_on), reverse=True)
        ]
        out["contributions"] = [
            {
                "month": f"{c.month[0]}-{c.month[1]:02d}",
                "emp_no": c.emp_no,
                "base_fen": c.base_fen,
                "employer_fen": c.employer_fen,
                "individual_fen": c.individual_fen,
                "account_fen": c.account_fen,
                "paid_on": c.paid_on,
                "kind": "一次性补缴" if c.kind == "top_up" else "月缴",
                "months": c.months,
            }
            for c in sorted(rec.contributions, key=lambda c: (c.month, c.kind), reverse=True)
        ]
        out["arrears_months"] = sum(1 for c in rec.contributions if c.paid_on is None)
    return out


def claim_history(settlements: Iterable[Any], before_year: int) -> ClaimHistory:
    """What the zero-claim reward (国办发〔2024〕38号) needs, from a person's stored settlements of years before
    ``before_year``: the years in which a resident fund paid anything (not claim-free), and the years in
    which the raised critical-illness cap was actually used (the cumulative payment of its layer went past
    the original cap: the reward is then used up and cleared).  Cancelled settlements do not count."""
    paid: set[int] = set()
    used: set[int] = set()
    for s in settlements:
        if s.status != "active" or s.year >= before_year:
            continue
        st = s.settlement
        if st.insutype == "390" and st.fund_pay_sumamt > 0:
            paid.add(s.year)
        ups = {x.layer_id: x for x in st.steps if isinstance(x, CapUplift)}
        for x in st.steps:
            if isinstance(x, Layer) and x.layer_id in ups and x.cap_room is not None:
                u = ups[x.layer_id]
                paid_before = u.cap + u.uplift - x.cap_room
                if paid_before + x.paid > u.cap:
                    used.add(s.year)
    return ClaimHistory(frozenset(paid), frozenset(used))


def ledger_claims(
    read: Callable[[str], Iterable[Any]], today: Callable[[], dt.date] = dt.date.today
) -> Callable[[str], ClaimHistory]:
    """A ``claims`` function for :class:`StoreEligibility` reading the ledger (``read``: psn_no → its stored
    settlements).  Only earlier years count, so a person's history is kept per (person, year) in memory."""
    cache: dict[tuple[str, int], ClaimHistory] = {}

    def claims(psn_no: str) -> ClaimHistory:
        year = today().year
        got = cache.get((psn_no, year))
        if got is None:
            if len(cache) > 100_000:
                cache.clear()
            got = cache[(psn_no, year)] = claim_history(read(psn_no), year)
        return got

    return claims
