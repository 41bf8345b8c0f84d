"""Contributions (缴费), pure: the employee's monthly contribution on the wage base, the resident's annual
premium with the assistance share and the fiscal subsidy, month arithmetic, and arrears on a day.

Rules and sources (figures come from the region's enrolment file, docs/ENROLMENT.md §2):

* wage base = the declared wage bounded by ``base_floor`` × and ``base_ceiling`` × the monthly average
  wage (社会保险缴费基数上下限, 60%–300%);
* employer part = base × ``employer_rate``, wholly to the pooled fund (国办发〔2021〕14号);
  individual part = base × ``individual_rate``, of which ``account_share_of_individual`` goes to the
  personal account (国办发〔2021〕14号: the in-service account receives the person's own contribution);
* resident premium = the year's individual standard; the assistance fund pays ``share`` of it for
  低保/特困/返贫致贫 (资助参保, 国办发〔2021〕42号), the person the rest; the fiscal subsidy per head is
  the year's standard (医保发〔2024〕19号);
* a month is in arrears (欠费) on a day when it was not paid by the end of its grace
  (``arrears_grace_months`` after the month) and is still unpaid on that day.

Every rounding goes through :mod:`yibao.money` (half up to the fen).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.enrolment.model import EmployeeContribution, EnrolmentError
from yibao.enrolment.policy import EnrolmentPolicy
from yibao.money import apply_ratio

Month = tuple[int, int]


def month_of(day: dt.date) -> Month:
    """The (year, month) a day falls in."""
    return day.year, day.month


def add_months_to_month(m: Month, n: int) -> Month:
    """``m`` plus ``n`` months (n may be negative)."""
    k = m[0] * 12 + (m[1] - 1) + n
    return k // 12, k % 12 + 1


def month_start(m: Month) -> dt.date:
    """The first day of month ``m``."""
    return dt.date(m[0], m[1], 1)


def month_end(m: Month) -> dt.date:
    """The last day of month ``m``."""
    return dt.date(m[0], m[1], calendar.monthrange(m[0], m[1])[1])


def add_months(day: dt.date, n: int) -> dt.date:
    """The same day ``n`` months later, clipped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    y, m = add_months_to_month(month_of(day), n)
    return dt.date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def parse_month(text: str, field: str = "month") -> Month:
    """``"2025-03"`` → (2025, 3); anything else raises :class:`EnrolmentError` naming ``field``."""
    t = text.strip()
    if len(t) == 7 and t[4] == "-" and t[:4].isdigit() and t[5:].isdigit() and 1 <= int(t[5:]) <= 12:
        return int(t[:4]), int(t[5:])
    raise EnrolmentError(field, f"月份须为YYYY-MM格式 month must be YYYY-MM, not {text!r}")


def fmt_month(m: Month) -> str:
    """(2025, 3) → ``"2025-03"``."""
    return f"{m[0]:04d}-{m[1]:02d}"


# ----------------------------------------------------------------------------- employees
@dataclass(frozen=True, slots=True)
class EmployeeDue:
    """What one month of employee contribution comes to (fen)."""

    wage_fen: int
    base_fen: int
    floor_fen: int
    ceiling_fen: int
    employer_fen: int
    individual_fen: int
    account_fen: int  # individual part credited to the personal account (310200)
    pool_fen: int  # employer + individual − account (310100)


def base_bounds(year: int, policy: EnrolmentPolicy) -> tuple[int, int]:
    """(floor, ceiling) of the monthly wage base in ``year`` from the average wage (fen)."""
    ey = policy.employee_year(year)
    if ey is None:
        raise EnrolmentError(
            "month",
            f"政策文件没有{year}年的社平工资 the policy file has no average wage for {year}",
            "no_policy",
        )
    return apply_ratio(ey.average_wage_fen, policy.base_floor), apply_ratio(
        ey.average_wage_fen, policy.base_ceiling
    )


def employee_due(wage_fen: int, month: Month, policy: EnrolmentPolicy) -> EmployeeDue:
    """One month's contribution on a declared wage: base bounded by floor/ceiling, employer and individual
    parts at the policy rates, the individual part split between the personal account and the pool."""
    if wage_fen < 0:
        raise EnrolmentError("wage", f"工资不能为负 the wage cannot be negative ({wage_fen})")
    floor, ceiling = base_bounds(month[0], policy)
    base = min(max(wage_fen, floor), ceiling)
    employer = apply_ratio(base, policy.employer_rate)
    individual = apply_ratio(base, policy.individual_rate)
    account = apply_ratio(individual, policy.account_share_of_individual)
    return EmployeeDue(
        wage_fen, base, floor, ceiling, employer, individual, account, employer + individual - account
    )


def grace_end(month: Month, policy: EnrolmentPolicy) -> dt.date:
    """The last day a month's contribution may be paid without the person losing benefits."""
    return month_end(add_months_to_month(month, policy.arrears_grace_months))


def months_in_arrears(
    contributions: Iterable[EmployeeContribution], on: dt.date, policy: EnrolmentPolicy
) -> list[EmployeeContribution]:
    """The due months (normal contributions) still unpaid on ``on`` whose grace has ended before it."""
    return [
        c
        for c in contributions
        if c.kind == "normal" and grace_end(c.month, policy) < on and (c.paid_on is None or c.paid_on > on)
    ]


def is_back_payment(c: EmployeeContribution, policy: EnrolmentPolicy) -> bool:
    """A contribution paid after its month's grace ended (补缴)."""
    return c.paid_on is not None and c.kind == "normal" and c.paid_on > grace_end(c.month, policy)


# ----------------------------------------------------------------------------- residents
@dataclass(frozen=True, slots=True)
class PremiumDue:
    """The resident premium of a benefit year for a person (fen)."""

    year: int
    standard_fen: int  # the year's individual premium
    assistance_fen: int  # paid by medical assistance (资助参保)
    person_fen: int  # paid by the person
    subsidy_fen: int  # fiscal subsidy per head
    assistance_source: str


def resident_due(year: int, identities: frozenset[str] | set[str], policy: EnrolmentPolicy) -> PremiumDue:
    """The individual standard of ``year``, the share assistance pays for the person's identities (first
    matching assistance rule), what the person pays, and the fiscal subsidy per head."""
    ry = policy.resident_year(year)
    if ry is None:
        raise EnrolmentError(
            "year",
            f"政策文件没有{year}年度的居民缴费标准 the policy file has no resident premium for {year}",
            "no_policy",
        )
    share, source = policy.assistance_share(identities)
    assistance = apply_ratio(ry.individual_fen, share)
    return PremiumDue(
        year, ry.individual_fen, assistance, ry.individual_fen - assistance, ry.fiscal_subsidy_fen, source
    )


def collection_timing(year: int, paid_on: dt.date, policy: EnrolmentPolicy) -> str:
    """When a premium for benefit ``year`` was paid: ``period`` (集中征缴期, or before it), ``extended``
    (延长缴费期) or ``late`` (outside both)."""
    ry = policy.resident_year(year)
    if ry is None:
        return "period" if paid_on < dt.date(year, 1, 1) else "late"
    c = ry.collection
    if paid_on <= c.closes:
        return "period"
    if c.extended_to is not None and paid_on <= c.extended_to:
        return "extended"
    return "late"
