"""An employer's monthly roster (单位月度申报), pure: rows of 增员 / 在职 / 减员 / 退休 with declared wages
become relation events and the month's contributions, or a bilingual error per bad row.

Actions and what they do (the person's current relation decides what is allowed):

* ``add`` 增员: enrols the person in the employee scheme with this employer from ``effective`` (default the
  first day of the month); a resident is switched (居民医保终止, 职工医保参保 the same day); a suspended
  employee is resumed with the new employer.  Refused when already insured as an employee.
* ``keep`` 在职: the person must be an active employee of this employer.
* ``leave`` 减员: the month is still due; the relation is suspended (暂停) from the first day of next month.
* ``retire`` 退休: the month is still due; the person type changes to the retired type from the first day of
  next month (退休人员不再缴费; their years are checked by eligibility).

Every row yields the month's contribution (:func:`~yibao.enrolment.contributions.employee_due`), paid on
``paid_on`` or unpaid (欠费) when it is empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from yibao.enrolment.contributions import (
    Month,
    add_months_to_month,
    employee_due,
    fmt_month,
    month_start,
)
from yibao.enrolment.history import ACTIVE, DECEASED, SUSPENDED
from yibao.enrolment.model import (
    EMPLOYEE,
    RESIDENT,
    EmployeeContribution,
    EnrolmentError,
    EventKind,
    RelationEvent,
    RowError,
)
from yibao.enrolment.policy import EnrolmentPolicy

ACTIONS = ("add", "keep", "leave", "retire")


@dataclass(frozen=True, slots=True)
class RosterRow:
    row: int  # line in the file
    emp_no: str
    emp_name: str
    month: Month
    psn_no: str
    certno: str
    psn_name: str
    wage_fen: int
    action: str
    paid_on: dt.date | None = None
    effective: dt.date | None = None
    psn_type: str = ""


@dataclass(frozen=True, slots=True)
class CurrentRelation:
    """A person's relation now (the store keeps it beside the history): state, scheme, type, employer and
    the last event's sequence number."""

    psn_no: str
    state: str
    insutype: str
    psn_type: str
    emp_no: str
    last_seq: int


@dataclass
class RosterOutcome:
    events: list[RelationEvent] = field(default_factory=list)
    contributions: list[EmployeeContribution] = field(default_factory=list)
    relations: dict[str, CurrentRelation] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


def apply_roster(
    rows: Sequence[RosterRow],
    current: Mapping[str, CurrentRelation],
    policy: EnrolmentPolicy,
    *,
    stored_months: frozenset[tuple[str, Month]] = frozenset(),
) -> RosterOutcome:
    """Events, contributions and the persons' new current relations for a roster, or every row's error.

    ``stored_months``: (psn_no, month) already holding a contribution — declaring it again is refused."""
    out = RosterOutcome()
    if not rows:
        out.errors.append(RowError(1, "file", "文件没有数据行 the file has no data rows"))
        return out
    emp_no, month = rows[0].emp_no, rows[0].month
    in_service = sorted(policy.in_service_types)[0] if policy.in_service_types else "11"
    retired = sorted(policy.retired_types)[0] if policy.retired_types else "21"
    seen: set[str] = set()
    next_month = month_start(add_months_to_month(month, 1))
    for r in rows:

        def bad(fld: str, zh: str, en: str, r: RosterRow = r) -> None:
            out.errors.append(RowError(r.row, fld, f"{zh} {en}"))

        if r.emp_no != emp_no:
            bad("emp_no", f"一个申报文件只能是一个单位（首行为{emp_no}）", "one roster holds one employer")
            continue
        if r.month != month:
            bad(
                "month",
                f"一个申报文件只能是一个月份（首行为{fmt_month(month)}）",
                "one roster holds one month",
            )
            continue
        if r.action not in ACTIONS:
            bad("action", f"未知的申报类型{r.action!r}（add/keep/leave/retire）", "unknown action")
            continue
        if r.psn_no in seen:
            bad("psn_no", "同一人员在文件中重复出现", "the person appears twice in the file")
            continue
        seen.add(r.psn_no)
        if (r.psn_no, month) in stored_months:
            bad(
                "month", f"{fmt_month(month)}的缴费已申报过", "this month was already declared for the person"
            )
            continue
        cur = out.relations.get(r.psn_no) or current.get(r.psn_no)
        state = cur.state if cur else ""
        seq = cur.last_seq if cur else 0
        day = r.effective or month_start(month)
        evs: list[RelationEvent] = []
        if state == DECEASED:
            bad("psn_no", "参保人已死亡", "the person has died")
            continue
        if r.action == "add":
            ptype = r.psn_type or in_service
            if cur and state == ACTIVE and cur.insutype == EMPLOYEE:
                where = "本单位" if cur.emp_no == emp_no else f"单位{cur.emp_no}"
                bad("action", f"已在{where}参加职工医保，不能重复增员", "already insured as an employee")
                continue
            if cur and state == ACTIVE and cur.insutype == RESIDENT:
                seq += 1
                evs.append(
                    RelationEvent(
                        r.psn_no,
                        day,
                        EventKind.TERMINATE,
                        RESIDENT,
                        cur.psn_type,
                        reason="转职工医保",
                        seq=seq,
                    )
                )
            seq += 1
            kind = (
                EventKind.RESUME
                if cur and state == SUSPENDED and cur.insutype == EMPLOYEE
                else EventKind.ENROL
            )
            evs.append(
                RelationEvent(r.psn_no, day, kind, EMPLOYEE, ptype, emp_no=emp_no, reason="增员", seq=seq)
            )
            new = CurrentRelation(r.psn_no, ACTIVE, EMPLOYEE, ptype, emp_no, seq)
        else:
            if not (cur and state == ACTIVE and cur.insutype == EMPLOYEE and cur.emp_no == emp_no):
                bad("psn_no", "不是本单位在职参保职工", "not an active employee of this employer")
                continue
            if cur.psn_type in policy.retired_types:
                bad("action", "退休人员不再申报缴费", "a retired person has no contributions to declare")
                continue
            new = cur
            if r.action == "leave":
                seq += 1
                evs.append(
                    RelationEvent(
                        r.psn_no,
                        next_month,
                        EventKind.SUSPEND,
                        EMPLOYEE,
                        cur.psn_type,
                        emp_no,
                        reason="减员",
                        seq=seq,
                    )
                )
                new = CurrentRelation(r.psn_no, SUSPENDED, EMPLOYEE, cur.psn_type, emp_no, seq)
            elif r.action == "retire":
                seq += 1
                ptype = r.psn_type or retired
                evs.append(
                    RelationEvent(
                        r.psn_no,
                        next_month,
                        EventKind.CHANGE_TYPE,
                        EMPLOYEE,
                        ptype,
                        emp_no,
                        reason="退休",
                        seq=seq,
                    )
                )
                new = CurrentRelation(r.psn_no, ACTIVE, EMPLOYEE, ptype, emp_no, seq)
        try:
            due = employee_due(r.wage_fen, month, policy)
        except EnrolmentError as exc:
            bad("wage" if exc.field == "wage" else "month", exc.reason, "")
            continue
        out.events.extend(evs)
        out.relations[r.psn_no] = new
        out.contributions.append(
            EmployeeContribution(
                r.psn_no,
                emp_no,
                month,
                due.base_fen,
                due.employer_fen,
                due.individual_fen,
                due.account_fen,
                r.paid_on,
            )
        )
    if out.errors:
        out.events.clear()
        out.contributions.clear()
        out.relations.clear()
    return out
