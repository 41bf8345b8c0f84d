"""Reading a person: after 1101 人员信息获取 with a presented credential (:func:`yibao.usecases.encounter.identify`),
my year so far, the person list."""

from __future__ import annotations

import datetime as dt

from yibao.access.principal import Forbidden, Principal, can_read_person
from yibao.ledger import Ledger
from yibao.ledger.queries import PersonSummary
from yibao.settlement.model import Person
from yibao.usecases.settlement import AccessLog


def read_person(
    led: Ledger,
    caller: Principal,
    psn_no: str,
    on: dt.date,
    what: str,
    log: AccessLog,
    *,
    presented: bool = False,
) -> tuple[Person, int]:
    """The person and their account balance.  ``presented``: the card/ID was presented at an institution
    (1101), which lets an institution read it; every read is written to the access log."""
    if not (can_read_person(caller, psn_no) or (presented and caller.role == "institution")):
        raise Forbidden(f"无权查看人员 {psn_no} 的信息 not allowed to read person {psn_no}")
    pers = led.get_person(psn_no, on)
    balance = led.account_balance(psn_no)
    log(caller, psn_no, what)
    return pers, balance


def year_so_far(
    led: Ledger, caller: Principal, psn_no: str, year: int, log: AccessLog
) -> tuple[dict[str, int], int]:
    """The person's accumulators for ``year`` and their account balance."""
    if not can_read_person(caller, psn_no):
        raise Forbidden(f"无权查看人员 {psn_no} 的信息 not allowed to read person {psn_no}")
    acc = led.accumulators(psn_no, year)
    bal = led.account_balance(psn_no)
    log(caller, psn_no, f"accumulators {year}")
    return acc, bal


def list_persons(led: Ledger, caller: Principal, limit: int, offset: int) -> list[PersonSummary]:
    if caller.role not in ("auditor", "admin"):
        raise Forbidden(f"角色 {caller.role} 不能浏览人员名单 role {caller.role} may not list persons")
    return led.list_persons(limit, offset)
