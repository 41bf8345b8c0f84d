"""Family-doctor contracts and capitation (家庭医生签约 + 按人头付费) as pure functions — the seed's composite
of 总额预算 + 按人头付费 + 慢病管理付费:

* each contracted person brings ``base_per_year / 12`` a month, times a risk weight (age band × sex, plus a
  weight per registered condition);
* the fund paid for contracted persons' care outside the consortium (referrals out) is withheld from the
  month's budget, at most ``referral_withhold_cap`` of it;
* a bonus pool (``bonus_pool`` of the budget) is held back and paid for outcomes: the share of measures
  (blood pressure, glucose) whose control rate among the contracted chronic patients meets its target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from yibao.care.policy import Capitation, CareError, CareParams, Package
from yibao.money import RATIO_ONE, apply_ratio


@dataclass(frozen=True)
class Member:
    """A contracted person as capitation sees them."""

    psn_no: str
    gender: str  # M / F
    birth_date: dt.date
    conditions: tuple[str, ...] = ()  # registered condition codes


@dataclass(frozen=True)
class Outcome:
    """Control of one measure among contracted chronic patients in the month: controlled / measured."""

    measure: str  # bp / glucose
    controlled: int
    measured: int


@dataclass(frozen=True)
class CapitationMonth:
    consortium: str
    month: str  # YYYY-MM
    members: int
    budget: int  # Σ per-member amounts (fen)
    pool: int  # held back for outcomes
    withheld: int  # referral-out withholding
    bonus: int  # paid from the pool for outcomes
    payable: int  # budget − pool − withheld + bonus
    per_member: Mapping[str, int] = field(default_factory=dict)
    outcome_rates: Mapping[str, int] = field(default_factory=dict)  # measure -> rate in 1/10000

    def as_dict(self) -> dict[str, object]:
        return {
            "consortium": self.consortium,
            "month": self.month,
            "members": self.members,
            "budget": self.budget,
            "pool": self.pool,
            "withheld": self.withheld,
            "bonus": self.bonus,
            "payable": self.payable,
            "outcome_rates": dict(self.outcome_rates),
        }


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def risk_weight(cap: Capitation, member: Member, on: dt.date) -> int:
    """The member's weight in 1/10000: age band × sex, plus each registered condition's weight."""
    age = age_on(member.birth_date, on)
    band = next((w for lo, hi, w in cap.age_bands if lo <= age <= hi), None)
    if band is None:
        raise CareError("age", f"年龄 {age} 不在任何年龄段 no age band covers {age}", "no_age_band")
    sex = cap.sex.get(member.gender, RATIO_ONE)
    weight = band * sex // RATIO_ONE
    return weight + sum(cap.conditions.get(c, 0) for c in member.conditions)


def member_month(cap: Capitation, member: Member, month_first: dt.date) -> int:
    """One member's capitation for the month (fen, half-up)."""
    monthly = cap.base_per_year * risk_weight(cap, member, month_first)
    return (monthly + 6 * RATIO_ONE) // (12 * RATIO_ONE)


def capitation_month(
    params: CareParams,
    consortium: str,
    month_first: dt.date,
    members: Sequence[Member],
    outside_fund_paid: int,
    outcomes: Sequence[Outcome],
) -> CapitationMonth:
    """The consortium's capitation for the month starting ``month_first``: budget, pool, referral
    withholding (``outside_fund_paid`` = fund paid for its members' visits outside it), outcome bonus."""
    cap = params.capitation
    if month_first.day != 1:
        raise CareError("month", "须为月初日期 must be the first day of a month", "bad_month")
    per = {m.psn_no: member_month(cap, m, month_first) for m in members}
    budget = sum(per.values())
    pool = apply_ratio(budget, cap.bonus_pool)
    withheld = min(
        apply_ratio(outside_fund_paid, cap.referral_withhold_ratio),
        apply_ratio(budget, cap.referral_withhold_cap),
    )
    rates = {o.measure: (o.controlled * RATIO_ONE // o.measured) for o in outcomes if o.measured > 0}
    judged = [m for m in cap.targets if m in rates]
    met = sum(1 for m in judged if rates[m] >= cap.targets[m])
    bonus = pool * met // len(judged) if judged else 0
    return CapitationMonth(
        consortium,
        f"{month_first:%Y-%m}",
        len(members),
        budget,
        pool,
        withheld,
        bonus,
        budget - pool - withheld + bonus,
        per,
        rates,
    )


def check_package_payment(pkg: Package, payer: str) -> None:
    """A package's fee may be paid only by the payers its policy lists (fund, account, commercial, self)."""
    if payer not in pkg.payers:
        raise CareError(
            "payer",
            f"该服务包不能由 {payer} 支付 package {pkg.id} cannot be paid by {payer} ({', '.join(pkg.payers)})",
            "bad_payer",
        )
