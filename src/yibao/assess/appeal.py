"""An institution's appeal against its assessment (考核申诉) — the state machine and its clocks (pure).

    filed (已提交) ──▶ under_review (审核中) ──▶ upheld (申诉成立) · partly_upheld (部分成立) · rejected (驳回)
       │                    │
       └──────▶ withdrawn (撤回) ◀┘

* The institution files within ``file_within_working_days`` working days of being notified (the Harbin
  agreement's 20 working days for answering a refusal), naming the indicator it disputes and why.
* The bureau decides within ``decide_within_working_days`` working days of the filing; deciding in its
  favour states the corrected value of the indicator, and the institution is scored again.
* Working days come from ``yibao.workdays`` (the national holiday list).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.assess.params import AssessParams
from yibao.errors import FieldError
from yibao.workdays import WorkCalendar

STATES = ("filed", "under_review", "upheld", "partly_upheld", "rejected", "withdrawn")
STATE_NAMES = {
    "filed": ("已提交", "filed"),
    "under_review": ("审核中", "under review"),
    "upheld": ("申诉成立", "upheld"),
    "partly_upheld": ("部分成立", "partly upheld"),
    "rejected": ("驳回", "rejected"),
    "withdrawn": ("已撤回", "withdrawn"),
}
DECISIONS = frozenset({"upheld", "partly_upheld", "rejected"})
# (from, to) → roles that may make the move
MOVES: dict[tuple[str, str], frozenset[str]] = {
    ("filed", "under_review"): frozenset({"auditor", "admin"}),
    ("filed", "withdrawn"): frozenset({"institution"}),
    ("under_review", "withdrawn"): frozenset({"institution"}),
    ("under_review", "upheld"): frozenset({"auditor", "admin"}),
    ("under_review", "partly_upheld"): frozenset({"auditor", "admin"}),
    ("under_review", "rejected"): frozenset({"auditor", "admin"}),
}


class AppealError(FieldError):
    """An appeal step that is not allowed; ``field`` names the input."""

    def __init__(self, field: str, reason: str, code: str = "appeal") -> None:
        super().__init__(field, reason, code)


@dataclass(frozen=True)
class Clock:
    notified_on: dt.date
    file_by: dt.date  # last working day to file
    decide_by: dt.date | None  # when filed: last working day to decide
    overdue: bool


def file_by(notified_on: dt.date, p: AssessParams, cal: WorkCalendar) -> dt.date:
    """The last day an appeal is accepted: ``file_within_working_days`` working days after the notice."""
    return cal.add_working_days(notified_on, p.appeal.file_within_working_days)


def decide_by(filed_on: dt.date, p: AssessParams, cal: WorkCalendar) -> dt.date:
    """The last day the bureau may decide: ``decide_within_working_days`` working days after filing."""
    return cal.add_working_days(filed_on, p.appeal.decide_within_working_days)


def check_filing(
    *, notified_on: dt.date, today: dt.date, indicator: str, reason: str, p: AssessParams, cal: WorkCalendar
) -> dt.date:
    """An appeal may be filed: in time, about a known indicator, with a reason.  Returns the decision
    deadline."""
    last = file_by(notified_on, p, cal)
    if today > last:
        raise AppealError(
            "filed_on",
            f"申诉期已过（通知日 {notified_on}，截止 {last}） the appeal window closed on {last}",
            "late",
        )
    if indicator not in p.indicators:
        raise AppealError("indicator", f"未知考核指标 {indicator!r} unknown indicator", "unknown_indicator")
    if not reason.strip():
        raise AppealError("reason", "须说明申诉理由 a reason is required", "missing")
    if len(reason) > 4000:
        raise AppealError("reason", "申诉理由过长（最多 4000 字） reason too long (4000 characters at most)")
    return decide_by(today, p, cal)


def check_move(state: str, new: str, role: str, note: str, revised_value: int | None) -> None:
    """Who may move an appeal where; a decision needs a note, and one in the institution's favour the
    corrected value of the indicator (1/10000)."""
    if new not in STATES:
        raise AppealError("status", f"未知状态 {new!r} unknown status")
    roles = MOVES.get((state, new))
    if roles is None:
        raise AppealError(
            "status",
            f"申诉处于“{STATE_NAMES[state][0]}”，不能改为“{STATE_NAMES[new][0]}” cannot move {state} → {new}",
            "bad_move",
        )
    if role not in roles:
        raise AppealError("role", f"角色 {role} 不能执行此操作 role {role} may not do this", "forbidden")
    if new in DECISIONS and not note.strip():
        raise AppealError("note", "裁定须写明理由 a decision needs its reasons", "missing")
    if new in ("upheld", "partly_upheld") and revised_value is None:
        raise AppealError(
            "revised_value",
            "申诉成立须给出更正后的指标值 an upheld appeal states the corrected value",
            "missing",
        )
    if new == "rejected" and revised_value is not None:
        raise AppealError("revised_value", "驳回时不更正指标值 a rejection changes no value")


def clock(
    notified_on: dt.date,
    filed_on: dt.date | None,
    decided: bool,
    today: dt.date,
    p: AssessParams,
    cal: WorkCalendar,
) -> Clock:
    """Where an appeal stands against its deadlines today."""
    fb = file_by(notified_on, p, cal)
    db = decide_by(filed_on, p, cal) if filed_on is not None else None
    overdue = db is not None and not decided and today > db
    return Clock(notified_on, fb, db, overdue)
