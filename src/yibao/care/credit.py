"""Credit pay (先诊疗后付费) as pure functions: who may use it, the bill's due date, its status as days pass.

The insured part is settled at once; the personal part becomes a receivable the patient pays from the portal
within the repayment window after receiving the drugs (《医联体背景下互联网医院支付资源下沉策略》: 收到药品后7日内).  Past the window a bill is
overdue; past ``default_after_days`` it is in default and the person's credit is suspended; past
``write_off_after_days`` the receivable is written off (核销)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.care.policy import CareError, CareParams

BILL_STATES = ("pending", "open", "paid", "overdue", "default", "written_off")


@dataclass(frozen=True)
class CreditHistory:
    """What the store knows of a person's credit when a new bill is asked for."""

    paid_followups: int  # follow-ups paid before (the seed's 长期通过互联网医院复诊)
    year_used: int  # fen billed on credit this year (open or paid)
    unpaid_overdue: int  # bills past due and unpaid
    suspended_until: dt.date | None


def check_credit(params: CareParams, history: CreditHistory, amount: int, today: dt.date) -> None:
    """Refuse credit for ``amount`` fen when the person is not eligible; each reason has its own code."""
    if history.suspended_until is not None and today <= history.suspended_until:
        raise CareError(
            "pay_mode",
            f"信用支付已暂停至 {history.suspended_until} credit suspended until then",
            "credit_suspended",
        )
    if history.unpaid_overdue:
        raise CareError("pay_mode", "有逾期未还账单 an overdue bill is unpaid", "credit_overdue")
    if history.paid_followups < params.credit_min_followups:
        raise CareError(
            "pay_mode",
            f"需至少{params.credit_min_followups}次线上复诊已付清 needs earlier paid follow-ups",
            "credit_not_eligible",
        )
    if amount > params.credit_per_visit:
        raise CareError("pay_mode", "超过单次信用额度 above the per-visit credit limit", "credit_visit_limit")
    if history.year_used + amount > params.credit_per_year:
        raise CareError("pay_mode", "超过年度信用额度 above the yearly credit limit", "credit_year_limit")


def due_date(params: CareParams, received_on: dt.date) -> dt.date:
    """The last day to pay: the repayment window counted from the day the drugs (or the service) arrived."""
    return received_on + dt.timedelta(days=params.credit_days)


def bill_status(params: CareParams, due_on: dt.date | None, amount: int, paid: int, today: dt.date) -> str:
    """``pending`` (drugs not yet received, no due date), ``open``, ``paid``, ``overdue``, ``default`` or
    ``written_off`` on ``today``."""
    if paid >= amount:
        return "paid"
    if due_on is None:
        return "pending"
    late = (today - due_on).days
    if late <= 0:
        return "open"
    if late > params.credit_write_off_after:
        return "written_off"
    if late > params.credit_default_after:
        return "default"
    return "overdue"


def default_date(params: CareParams, due_on: dt.date) -> dt.date:
    """The first day a bill unpaid since ``due_on`` is in default."""
    return due_on + dt.timedelta(days=params.credit_default_after + 1)


def suspended_until(params: CareParams, due_on: dt.date) -> dt.date:
    """Credit stays suspended this long after the default of a bill due on ``due_on``."""
    return default_date(params, due_on) + dt.timedelta(days=params.credit_suspend_days)


def check_repayment(amount: int, paid: int, pay: int) -> None:
    """A repayment must be positive and at most what is still owed."""
    if pay <= 0:
        raise CareError("amount", "还款金额须大于0 repayment must be positive", "bad_amount")
    if pay > amount - paid:
        raise CareError("amount", f"超过应还金额 more than the {amount - paid} fen still owed", "overpay")
