"""Settle, pre-settle, cancel, reverse and read settlements — the one path every face takes.

The same visit settles the same way whichever face it came through: the CLI's ``yibao settle``, the
national 2206/2207 over HTTP and the demo all call :func:`settle` with the in-event audit hook the
process was configured with (``yibao.settings.Settings.audit_hook``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from yibao.access.principal import SETTLING_ROLES, STAFF_ROLES, Forbidden, Principal, can_read_person
from yibao.errors import FieldError
from yibao.ledger import Ledger, ReversalOutcome, SettleOutcome, StoredSettlement
from yibao.ledger.queries import SettlementPage, SettlementQuery, Statement
from yibao.policy.book import PolicyBook
from yibao.settlement.model import AuditHook, CommercialProduct, Visit
from yibao.usecases.eligibility import BenefitRefused, EligibilitySource, entitlement_for

AccessLog = Callable[[Principal, str, str], None]  # (caller, psn_no, what was read)
# the commercial products a person holds on a day (医保+商保一单制; yibao.care.store.CoverLookup)
CoverSource = Callable[[str, dt.date], Sequence[CommercialProduct]]


class RequestMismatch(FieldError):
    """A request that names one thing and points at another (e.g. a settlement of another person)."""


def _no_log(_p: Principal, _psn_no: str, _what: str) -> None:
    return None


def _check_institution(p: Principal, fixmedins_code: str, what_zh: str, what_en: str) -> None:
    if p.role == "institution" and fixmedins_code != p.fixmedins_code:
        raise Forbidden(
            f"机构 {p.fixmedins_code} 不能{what_zh}其他机构 {fixmedins_code} 的就诊 "
            f"institution {p.fixmedins_code} may not {what_en} a visit at {fixmedins_code}"
        )


def check_msgid(p: Principal, msgid: str) -> None:
    """An institution's msgid starts with its own code (国家医保接口 报文编号: 机构编号 + 时间 + 顺序号), so it
    cannot collide with — or replay — another institution's messages."""
    if p.role == "institution" and not msgid.startswith(p.fixmedins_code or "\0"):
        raise Forbidden(
            f"msgid 必须以本机构编号 {p.fixmedins_code} 开头 msgid must start with the institution code"
        )


def can_read_settlement(p: Principal, s: StoredSettlement) -> bool:
    if p.role in STAFF_ROLES:
        return True
    if p.role == "institution":
        return s.visit.fixmedins_code == p.fixmedins_code
    return can_read_person(p, s.psn_no)


def settle(
    led: Ledger,
    book: PolicyBook,
    visit: Visit,
    msgid: str,
    *,
    audit: AuditHook | None,
    pre: bool = False,
    caller: Principal | None = None,
    eligibility: EligibilitySource | None = None,
    covers: CoverSource | None = None,
) -> SettleOutcome:
    """2207 settle (``pre``: 2206 pre-settle, nothing written) with the in-event audit ``audit``.
    ``caller`` None: a trusted local operator (the command line, the demo).

    ``eligibility``: where the benefit check (待遇享受检查) reads the person's status on the visit date
    (:mod:`yibao.usecases.eligibility`): a person not covered is refused
    (:class:`~yibao.usecases.eligibility.BenefitRefused`, nothing written) or settled fully self-paid where
    policy says so.  None, or a region without enrolment data: no check (every known person settles).

    ``covers``: where the person's commercial products on the visit date are read; the first that covers
    the visit pays in the same settlement after every public fund (None: no commercial cover)."""
    if caller is not None:
        check_settling_caller(caller, visit, msgid)
    try:
        entitlement = entitlement_for(eligibility, visit)
    except BenefitRefused:
        if not pre and led.message(msgid) is not None:
            # a retry of a settled msgid returns the first result, whatever the person's status is now
            return led.settle(book, visit, msgid, pre=pre, audit=audit)
        # input the ledger would refuse anyway is named first: no policy on the date, an unknown person
        book.for_date(book.settlement_day(visit.begin_date, visit.counts_on))
        led.get_person(visit.psn_no, visit.begin_date)
        raise
    held = tuple(covers(visit.psn_no, visit.begin_date)) if covers is not None else ()
    return led.settle(book, visit, msgid, pre=pre, audit=audit, entitlement=entitlement, covers=held)


def check_settling_caller(caller: Principal, visit: Visit, msgid: str) -> None:
    """The caller may settle this visit under this msgid (role, own institution, msgid prefix)."""
    if caller.role not in SETTLING_ROLES:
        raise Forbidden(f"角色 {caller.role} 不能结算 role {caller.role} may not settle")
    _check_institution(caller, visit.fixmedins_code, "结算", "settle")
    check_msgid(caller, msgid)


def get_settlement(
    led: Ledger, caller: Principal | None, setl_id: str, log: AccessLog = _no_log
) -> StoredSettlement:
    s = led.get_settlement(setl_id)
    if caller is not None:
        if not can_read_settlement(caller, s):
            raise Forbidden(f"无权查看结算 {setl_id} not allowed to read settlement {setl_id}")
        log(caller, s.psn_no, f"settlement {setl_id}")
    return s


def list_settlements(
    led: Ledger, caller: Principal, psn_no: str | None, limit: int, log: AccessLog = _no_log
) -> list[StoredSettlement]:
    """Newest first, only what ``caller`` may read."""
    if psn_no is not None and not (can_read_person(caller, psn_no) or caller.role == "institution"):
        raise Forbidden(f"无权查看人员 {psn_no} 的结算 not allowed to read settlements of {psn_no}")
    if psn_no is None and caller.role == "insured":
        out: list[StoredSettlement] = []
        for k in caller.family_psn_nos:
            out.extend(led.list_settlements(k, limit))
        out.sort(key=lambda s: s.created, reverse=True)
        rows = out[:limit]
    elif caller.role == "institution":
        rows = led.institution_settlements(caller.fixmedins_code or "", psn_no, limit)
    elif caller.role in STAFF_ROLES or psn_no is not None:  # a named person was checked above
        rows = led.list_settlements(psn_no, limit)
    else:  # e.g. an employer login: no settlement list
        raise Forbidden(f"角色 {caller.role} 不能浏览结算 role {caller.role} may not list settlements")
    for k in sorted({s.psn_no for s in rows}):
        log(caller, k, "settlement list")
    return rows


def search_settlements(
    led: Ledger, caller: Principal, q: SettlementQuery, limit: int, offset: int, log: AccessLog = _no_log
) -> SettlementPage:
    """Settlements matching ``q`` that ``caller`` may read, newest first, one page and the true count.
    The caller's reach is added to the query (an insured person: their linked family only; an
    institution: its own settlements), so counts and pages never include what they may not see."""
    if caller.role == "insured":
        allowed = tuple(caller.family_psn_nos)
        if q.psn_nos is not None:
            refused = [k for k in q.psn_nos if k not in allowed]
            if refused:
                raise Forbidden(
                    f"无权查看人员 {refused[0]} 的结算 not allowed to read settlements of {refused[0]}"
                )
            allowed = q.psn_nos
        q = replace(q, psn_nos=allowed)
    elif caller.role == "institution":
        q = replace(q, fixmedins_code=caller.fixmedins_code or "")
    elif caller.role not in STAFF_ROLES:
        raise Forbidden(f"角色 {caller.role} 不能查询结算 role {caller.role} may not search settlements")
    page = led.search_settlements(q, limit, offset)
    for k in sorted({s.psn_no for s in page.rows}):
        log(caller, k, "settlement search")
    return page


def cancel(
    led: Ledger, caller: Principal | None, setl_id: str, msgid: str, *, psn_no: str = "", mdtrt_id: str = ""
) -> ReversalOutcome:
    """2208 门诊结算撤销.  ``psn_no`` / ``mdtrt_id``, when sent, must be the settlement's."""
    if caller is not None:
        if caller.role not in SETTLING_ROLES:
            raise Forbidden(f"角色 {caller.role} 不能撤销结算 role {caller.role} may not cancel settlements")
        check_msgid(caller, msgid)
    s = led.get_settlement(setl_id)
    if caller is not None:
        _check_institution(caller, s.visit.fixmedins_code, "撤销", "cancel")
    if psn_no and psn_no != s.psn_no:
        raise RequestMismatch(
            "psn_no", f"结算 {setl_id} 不是人员 {psn_no} 的 the settlement is not of this person", "mismatch"
        )
    if mdtrt_id and mdtrt_id != s.mdtrt_id:
        raise RequestMismatch(
            "mdtrt_id",
            f"结算 {setl_id} 不是就诊 {mdtrt_id} 的 the settlement is not of this visit",
            "mismatch",
        )
    return led.cancel(setl_id, msgid)


def reverse(led: Ledger, caller: Principal | None, omsgid: str, msgid: str) -> ReversalOutcome:
    """2601 冲正 of the transaction recorded under ``omsgid``."""
    if caller is not None:
        if caller.role not in SETTLING_ROLES:
            raise Forbidden(f"角色 {caller.role} 不能冲正 role {caller.role} may not reverse")
        check_msgid(caller, msgid)
        original = led.message(omsgid)
        if original is not None and caller.role == "institution":
            s = led.get_settlement(original.setl_id)
            _check_institution(caller, s.visit.fixmedins_code, "冲正", "reverse")
    return led.reverse(omsgid, msgid)


def statement(
    led: Ledger,
    caller: Principal,
    *,
    fixmedins_code: str | None,
    insutype: str,
    begin: dt.date | None,
    end: dt.date | None,
) -> Statement:
    """3201 totals over active settlements created in [begin, end] (UTC dates), for one institution (an
    institution caller: always its own) and optionally one insutype."""
    if caller.role == "institution":
        fixmedins_code = caller.fixmedins_code
    elif caller.role not in STAFF_ROLES:
        raise Forbidden(f"角色 {caller.role} 不能对账 role {caller.role} may not reconcile")
    return led.statement(fixmedins_code=fixmedins_code, insutype=insutype, begin=begin, end=end)
