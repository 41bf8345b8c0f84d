"""Use cases shared by the three faces (national envelope, REST, FHIR): each checks the caller's right
to act on the data it touches, then calls the ledger.  Raises :class:`Forbidden` (→ 403) or
``FieldError`` subclasses (→ envelope infcode −1 / REST 4xx / FHIR OperationOutcome)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import Request

from yibao.access.store import ServiceStore
from yibao.errors import FieldError
from yibao.ledger import LedgerError, ReversalOutcome, SettleOutcome, StoredSettlement
from yibao.ledger.schema import message, person, settlement
from yibao.settlement.model import Person, Visit
from yibao.web.auth import Principal, can_read_person, log_access
from yibao.web.deps import book_of, ledger_of
from yibao.web.national import EnvelopeError, Statement

SETTLING_ROLES = frozenset({"institution", "admin"})


class Forbidden(Exception):
    """The caller is logged in but may not act on this record (→ HTTP 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PersonRow:
    psn_no: str
    name: str
    certno: str
    insutype: str
    psn_type: str
    insuplc_admdvs: str


def _store(request: Request) -> ServiceStore:
    store: ServiceStore = request.app.state.store
    return store


def _check_institution(p: Principal, fixmedins_code: str, what: str) -> None:
    if p.role == "institution" and fixmedins_code != p.fixmedins_code:
        raise Forbidden(
            f"机构 {p.fixmedins_code} 不能{what}其他机构 {fixmedins_code} 的就诊 "
            f"institution {p.fixmedins_code} may not {what} a visit at {fixmedins_code}"
        )


def can_read_settlement(p: Principal, s: StoredSettlement) -> bool:
    if p.role in ("auditor", "admin"):
        return True
    if p.role == "institution":
        return s.visit.fixmedins_code == p.fixmedins_code
    return can_read_person(p, s.psn_no)


# ---------------------------------------------------------------------- persons
def find_psn_no(request: Request, cert_type: str, cert_no: str) -> str:
    """1101 lookup: by ID number (``02``), else the certificate number is the psn_no (e-voucher/card)."""
    if cert_type == "02":
        with _store(request).engine.connect() as c:
            row = c.execute(sa.select(person.c.psn_no).where(person.c.certno == cert_no)).first()
        if row is None:
            raise LedgerError(
                "input.data.mdtrt_cert_no", "no insured person with this ID number", "unknown_person"
            )
        return str(row[0])
    return cert_no


def read_person(
    request: Request, p: Principal, psn_no: str, on: dt.date, what: str, *, presented: bool = False
) -> tuple[Person, int]:
    """The person and their account balance.  ``presented``: the card/ID was presented at an institution
    (1101), which lets an institution read it; every read is written to the access log."""
    if not (can_read_person(p, psn_no) or (presented and p.role == "institution")):
        raise Forbidden(f"无权查看人员 {psn_no} 的信息 not allowed to read person {psn_no}")
    with ledger_of(request) as led:
        pers = led.get_person(psn_no, on)
        balance = led.account_balance(psn_no)
    log_access(request, p, psn_no, what)
    return pers, balance


def year_so_far(request: Request, p: Principal, psn_no: str, year: int) -> tuple[dict[str, int], int]:
    if not can_read_person(p, psn_no):
        raise Forbidden(f"无权查看人员 {psn_no} 的信息 not allowed to read person {psn_no}")
    with ledger_of(request) as led:
        acc = led.accumulators(psn_no, year)
        bal = led.account_balance(psn_no)
    log_access(request, p, psn_no, f"accumulators {year}")
    return acc, bal


def list_persons(request: Request, limit: int, offset: int) -> list[PersonRow]:
    q = (
        sa.select(
            person.c.psn_no,
            person.c.name,
            person.c.certno,
            person.c.insutype,
            person.c.psn_type,
            person.c.insuplc_admdvs,
        )
        .order_by(person.c.psn_no)
        .limit(limit)
        .offset(offset)
    )
    with _store(request).engine.connect() as c:
        return [PersonRow(*r) for r in c.execute(q)]


# ---------------------------------------------------------------------- settlements
def check_msgid(p: Principal, msgid: str) -> None:
    """An institution's msgid starts with its own code (DOMAIN.md §2.1), so it cannot collide with — or
    replay — another institution's messages."""
    if p.role == "institution" and not msgid.startswith(p.fixmedins_code or "\0"):
        raise Forbidden(
            f"msgid 必须以本机构编号 {p.fixmedins_code} 开头 msgid must start with the institution code"
        )


def settle(request: Request, p: Principal, visit: Visit, msgid: str, *, pre: bool) -> SettleOutcome:
    if p.role not in SETTLING_ROLES:
        raise Forbidden(f"角色 {p.role} 不能结算 role {p.role} may not settle")
    _check_institution(p, visit.fixmedins_code, "结算 settle")
    check_msgid(p, msgid)
    book = book_of(request)
    with ledger_of(request) as led:
        return led.settle(book, visit, msgid, pre=pre, audit=getattr(request.app.state, "audit_hook", None))


def get_settlement(request: Request, p: Principal, setl_id: str, *, log: bool = True) -> StoredSettlement:
    with ledger_of(request) as led:
        s = led.get_settlement(setl_id)
    if not can_read_settlement(p, s):
        raise Forbidden(f"无权查看结算 {setl_id} not allowed to read settlement {setl_id}")
    if log:
        log_access(request, p, s.psn_no, f"settlement {setl_id}")
    return s


def list_settlements(
    request: Request, p: Principal, psn_no: str | None, limit: int
) -> list[StoredSettlement]:
    """Newest first, only what ``p`` may read."""
    if psn_no is not None and not (can_read_person(p, psn_no) or p.role == "institution"):
        raise Forbidden(f"无权查看人员 {psn_no} 的结算 not allowed to read settlements of {psn_no}")
    if psn_no is None and p.role == "insured":
        out: list[StoredSettlement] = []
        with ledger_of(request) as led:
            for k in p.family_psn_nos:
                out.extend(led.list_settlements(k, limit))
        out.sort(key=lambda s: s.created, reverse=True)
        rows = out[:limit]
    elif p.role == "institution":
        rows = institution_settlements(request, p.fixmedins_code or "", psn_no, limit)
    else:
        with ledger_of(request) as led:
            rows = led.list_settlements(psn_no, limit)
    for k in sorted({s.psn_no for s in rows}):
        log_access(request, p, k, "settlement list")
    return rows


def institution_settlements(
    request: Request, code: str, psn_no: str | None, limit: int
) -> list[StoredSettlement]:
    # the ledger keeps fixmedins_code inside the stored visit JSON; filter newest-first in bounded pages
    q = sa.select(settlement.c.setl_id, settlement.c.visit).order_by(settlement.c.id.desc())
    if psn_no is not None:
        q = q.where(settlement.c.psn_no == psn_no)
    ids: list[str] = []
    with _store(request).engine.connect() as c:
        for setl_id, visit in c.execute(q.limit(20_000)):
            if json.loads(visit).get("fixmedins_code") == code:
                ids.append(setl_id)
                if len(ids) >= limit:
                    break
    with ledger_of(request) as led:
        return [led.get_settlement(i) for i in ids]


def cancel(
    request: Request, p: Principal, setl_id: str, msgid: str, *, psn_no: str = "", mdtrt_id: str = ""
) -> ReversalOutcome:
    if p.role not in SETTLING_ROLES:
        raise Forbidden(f"角色 {p.role} 不能撤销结算 role {p.role} may not cancel settlements")
    check_msgid(p, msgid)
    s = get_settlement(request, p, setl_id, log=False) if p.role == "institution" else None
    if s is None:
        with ledger_of(request) as led:
            s = led.get_settlement(setl_id)
    _check_institution(p, s.visit.fixmedins_code, "撤销 cancel")
    if psn_no and psn_no != s.psn_no:
        raise EnvelopeError(
            "input.data.psn_no", f"settlement {setl_id} is not of person {psn_no}", "mismatch"
        )
    if mdtrt_id and mdtrt_id != s.mdtrt_id:
        raise EnvelopeError(
            "input.data.mdtrt_id", f"settlement {setl_id} is not of visit {mdtrt_id}", "mismatch"
        )
    with ledger_of(request) as led:
        return led.cancel(setl_id, msgid)


def reverse(request: Request, p: Principal, omsgid: str, msgid: str) -> ReversalOutcome:
    if p.role not in SETTLING_ROLES:
        raise Forbidden(f"角色 {p.role} 不能冲正 role {p.role} may not reverse")
    check_msgid(p, msgid)
    with _store(request).engine.connect() as c:
        row = c.execute(sa.select(message.c.setl_id).where(message.c.msgid == omsgid)).first()
    if row is not None and p.role == "institution":
        with ledger_of(request) as led:
            s = led.get_settlement(row[0])
        _check_institution(p, s.visit.fixmedins_code, "冲正 reverse")
    with ledger_of(request) as led:
        return led.reverse(omsgid, msgid)


def statement(
    request: Request,
    p: Principal,
    *,
    fixmedins_code: str | None,
    insutype: str,
    begin: dt.date | None,
    end: dt.date | None,
) -> Statement:
    """The ledger's 3201 figures over active settlements created in [begin, end] (UTC dates), for one
    institution (an institution caller: always its own) and optionally one insutype."""
    if p.role == "institution":
        fixmedins_code = p.fixmedins_code
    elif p.role not in ("auditor", "admin"):
        raise Forbidden(f"角色 {p.role} 不能对账 role {p.role} may not reconcile")
    q = sa.select(
        settlement.c.medfee_sumamt, settlement.c.fund_pay_sumamt, settlement.c.acct_pay, settlement.c.visit
    ).where(settlement.c.status == "active")
    if insutype:
        q = q.where(settlement.c.insutype == insutype)
    if begin is not None:
        q = q.where(settlement.c.created >= begin.isoformat())
    if end is not None:
        q = q.where(settlement.c.created < (end + dt.timedelta(days=1)).isoformat())
    med = fund = acct = n = 0
    with _store(request).engine.connect() as c:
        for m, f, a, visit in c.execute(q):
            if fixmedins_code and json.loads(visit).get("fixmedins_code") != fixmedins_code:
                continue
            med, fund, acct, n = med + int(m), fund + int(f), acct + int(a), n + 1
    return Statement(med, fund, acct, n)


def totals(request: Request) -> dict[str, int]:
    with ledger_of(request) as led:
        return led.totals()


def parse_date(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FieldError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None
