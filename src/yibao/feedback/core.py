"""What insured persons ask of and tell the bureau, as pure functions: service clocks in working days, the
life of a case (备案 / 投诉 / 举报), who may act for whom, and ratings.  No database, no clock, no HTTP: the
caller passes in today's date.  (The cost estimator and decision aid are :mod:`yibao.settlement.estimate`.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from yibao.errors import FieldError
from yibao.workdays import CalendarError, WorkCalendar, national_calendar, parse_calendar

PARAMS_FILE = Path(__file__).with_name("params.yaml")


class PortalError(FieldError):
    """A portal request that cannot be done as asked; nothing was written."""


# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class SlaRule:
    kind: str
    days: int  # working days
    name: str
    name_en: str
    source: str
    basis: str = (
        "local_commitment"  # national_rule: a national text sets it; local_commitment: the bureau's choice
    )


SLA_BASES = ("national_rule", "local_commitment")

Calendar = WorkCalendar  # working days of the platform calendar (yibao.workdays)


@dataclass(frozen=True)
class PortalParams:
    sla: dict[str, SlaRule]
    calendar: Calendar
    calendar_source: str
    generic_prefix: int
    class_prefix: int
    max_alternatives: int
    alternatives_source: str
    # the clock of a review (复核) after the person says they are not satisfied with the answer, per kind
    review: Mapping[str, SlaRule] = dataclasses.field(default_factory=dict)


def parse_params(data: Mapping[str, Any]) -> PortalParams:
    """Validate the portal parameter file's content; every field is checked and named on error."""
    sla_raw = data.get("sla")
    if not isinstance(sla_raw, dict) or not sla_raw:
        raise PortalError("sla", "须为每类事项设定办理时限 must map each case kind to its clock")
    sla = _parse_clocks("sla", sla_raw)
    missing = [k for k in CASE_KINDS if k not in sla]
    if missing:
        raise PortalError("sla", f"缺少办理时限 no clock for {', '.join(missing)}", "missing")
    review_raw = data.get("review")
    if not isinstance(review_raw, dict):
        raise PortalError("review", "须为每类可复核事项设定复核时限 must map each kind to its review clock")
    review = _parse_clocks("review", review_raw)
    missing = [k for k in ANSWER_KINDS if k not in review]
    if missing:
        raise PortalError("review", f"缺少复核时限 no review clock for {', '.join(missing)}", "missing")
    try:  # the national calendar unless the file brings its own ({weekend?, years: {YYYY: {…, source}}})
        calendar = parse_calendar(data["calendar"]) if "calendar" in data else national_calendar()
    except CalendarError as exc:
        raise PortalError(exc.field, exc.reason, exc.code) from exc
    # a service clock shown to people must not fail in a year whose holidays are not loaded yet: there it
    # counts weekends only (the appeal deadlines of audit cases stay strict)
    calendar = dataclasses.replace(calendar, strict=False)
    alt = data.get("alternatives") or {}
    if not isinstance(alt, dict):
        raise PortalError("alternatives", "须为映射表 must be a mapping")
    ints: dict[str, int] = {}
    for key in ("same_generic_prefix", "same_class_prefix", "max_per_item"):
        v = alt.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise PortalError(f"alternatives.{key}", f"须为正整数 {v!r} is not a positive whole number")
        ints[key] = v
    if not str(alt.get("source") or "").strip():
        raise PortalError("alternatives.source", "须注明出处 needs a source", "missing")
    return PortalParams(
        sla,
        calendar,
        calendar.source,
        ints["same_generic_prefix"],
        ints["same_class_prefix"],
        ints["max_per_item"],
        str(alt["source"]),
        review,
    )


def _parse_clocks(block: str, raw: Mapping[str, Any]) -> dict[str, SlaRule]:
    """``{kind: {days, name, name_en, basis, source}}``, every field checked and named on error."""
    out: dict[str, SlaRule] = {}
    for kind, rule in raw.items():
        if kind not in CASE_KINDS:
            raise PortalError(
                f"{block}.{kind}", f"事项类型无效 unknown case kind (known: {', '.join(CASE_KINDS)})"
            )
        if not isinstance(rule, dict):
            raise PortalError(f"{block}.{kind}", "须为映射表 must be a mapping")
        days = rule.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
            raise PortalError(
                f"{block}.{kind}.days",
                f"办理时限须为 1 到 366 个工作日 {days!r} is not a whole number of working days 1–366",
            )
        source = str(rule.get("source") or "").strip()
        if not source:
            raise PortalError(
                f"{block}.{kind}.source", "每个参数须注明出处 every parameter needs a source", "missing"
            )
        basis = str(rule.get("basis") or "local_commitment")
        if basis not in SLA_BASES:
            raise PortalError(
                f"{block}.{kind}.basis",
                f"依据类型无效 {basis!r} is not one of {', '.join(SLA_BASES)}",
            )
        out[kind] = SlaRule(
            kind, days, str(rule.get("name") or kind), str(rule.get("name_en") or kind), source, basis
        )
    return out


@lru_cache(maxsize=4)
def load_params(path: Path = PARAMS_FILE) -> PortalParams:
    """The portal parameters from ``path`` (default: the shipped ``params.yaml``)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise PortalError(str(path), "文件不是 YAML 映射表 is not a YAML mapping")
    return parse_params(data)


# ---------------------------------------------------------------------------- SLA clock
@dataclass(frozen=True)
class SlaClock:
    """Where a case stands against its clock.  ``remaining`` is negative once overdue."""

    due: dt.date
    days: int
    elapsed: int
    remaining: int
    overdue: bool
    stopped: bool  # the case reached a decision; the clock no longer runs


def sla_clock(
    calendar: Calendar, days: int, opened: dt.date, today: dt.date, decided: dt.date | None = None
) -> SlaClock:
    """The clock of a case opened on ``opened`` with ``days`` working days, seen on ``today``.  Once the
    case is decided (``decided``), the clock stops on that day: late is late, on time is on time."""
    due = calendar.add_working_days(opened, days)
    end = decided if decided is not None else today
    elapsed = calendar.working_days_between(opened, end)
    return SlaClock(due, days, elapsed, days - elapsed, end > due, decided is not None)


# ---------------------------------------------------------------------------- cases
CASE_KINDS: dict[str, tuple[str, str]] = {
    "filing_remote": ("异地就医备案", "out-of-region care filing"),
    "filing_chronic": ("门诊慢特病备案", "chronic / special disease filing"),
    "filing_referral": ("转诊转院备案", "referral filing"),
    "complaint": ("投诉", "complaint"),
    "fraud_report": ("举报（疑似欺诈骗保）", "report of suspected fraud"),
    "reimburse": ("手工报销", "manual reimbursement claim"),
}
FILING_KINDS = ("filing_remote", "filing_chronic", "filing_referral")
# kinds no longer opened as a free-text case: 异地就医备案 is a structured filing (place, dates, type, reason;
# yibao.crossregion) that settles directly; cases filed before stay readable and decidable
RETIRED_KINDS: dict[str, tuple[str, str]] = {
    "filing_remote": (
        "请在“异地就医”页办理结构化备案",
        "file it on the care-elsewhere page (a structured filing)",
    ),
}
OPEN_KINDS = tuple(k for k in CASE_KINDS if k not in RETIRED_KINDS)

STATUSES: dict[str, tuple[str, str]] = {
    "submitted": ("已提交", "submitted"),
    "accepted": ("已受理", "accepted"),
    "in_progress": ("办理中", "in progress"),
    "answered": ("已答复", "answered"),
    "reopened": ("复核中", "under review"),
    "resolved": ("已办结", "resolved"),
    "approved": ("备案通过", "approved"),
    "rejected": ("不予受理/未通过", "rejected"),
    "withdrawn": ("已撤回", "withdrawn"),
}
CLOSED = frozenset({"resolved", "approved", "rejected", "withdrawn"})
# statuses the staff still has to act on (the queue); ``answered`` waits for the person's verdict
OPEN_FOR_STAFF = ("submitted", "accepted", "in_progress", "reopened")
# the first decision stops the SLA clock of a fraud report (whose clock is the decision on accepting it);
# a filing's clock runs until it is decided (approved or rejected: accepting a filing only starts the
# work), a complaint's until the bureau's answer (答复) — see :func:`stops_clock`
DECISIONS = frozenset({"accepted", "rejected", "approved", "withdrawn"})
FILING_STOPS = frozenset({"approved", "rejected", "withdrawn"})
ANSWER_KINDS = frozenset({"complaint"})  # the closed satisfaction loop: answer, 满意吗?, 复核
COMPLAINT_STOPS = frozenset({"answered", "rejected", "withdrawn", "resolved"})
# 手工报销: submitted → accepted (受理) → in_progress (审核) → resolved (支付) or rejected (退回); the clock
# runs until it is paid or sent back
REIMBURSE_KINDS = frozenset({"reimburse"})
REIMBURSE_STOPS = frozenset({"resolved", "rejected", "withdrawn"})
# a staff move that must say something to the person, and the person's "not satisfied" must give a reason
NOTE_REQUIRED = frozenset({"answered", "reopened"})

_STAFF_MOVES: dict[str, frozenset[str]] = {
    # a filing complete as filed is approved in one step (no separate "accept" click first)
    "submitted": frozenset({"accepted", "approved", "rejected"}),
    "accepted": frozenset({"in_progress", "resolved", "approved", "rejected"}),
    "in_progress": frozenset({"resolved", "approved", "rejected"}),
}
_COMPLAINT_STAFF_MOVES: dict[str, frozenset[str]] = {
    # a filing complete as filed is approved in one step (no separate "accept" click first)
    "submitted": frozenset({"accepted", "approved", "rejected"}),
    "accepted": frozenset({"in_progress", "answered", "rejected"}),
    "in_progress": frozenset({"answered", "rejected"}),
    "reopened": frozenset({"answered"}),  # 复核: answered again
}
STAFF_ROLES = frozenset({"auditor", "admin"})


def stops_clock(kind: str, status: str) -> bool:
    """Does reaching ``status`` stop the running clock of a case of ``kind``?  A complaint's clock (and the
    review clock after a re-open) runs until the answer, a filing's until it is approved or rejected (an
    accepted filing not yet decided goes overdue); a fraud report's stops at its first decision."""
    if kind in ANSWER_KINDS:
        return status in COMPLAINT_STOPS
    if kind in REIMBURSE_KINDS:
        return status in REIMBURSE_STOPS
    return status in (FILING_STOPS if kind in FILING_KINDS else DECISIONS)


def allowed_moves(kind: str, status: str, role: str) -> frozenset[str]:
    """Statuses a caller of ``role`` may move a case of ``kind`` from ``status`` to.  The applicant may
    withdraw an open case and, once a complaint is answered, say whether they are satisfied (``resolved``)
    or not (``reopened``, 复核); staff decide, and only filings are *approved*, only reports *resolved*
    by staff, only complaints *answered*."""
    if status in CLOSED:
        return frozenset()
    if role == "insured":
        if status == "answered":
            return frozenset({"resolved", "reopened"})
        return frozenset({"withdrawn"})
    if role not in STAFF_ROLES:
        return frozenset()
    if kind in ANSWER_KINDS:
        return _COMPLAINT_STAFF_MOVES.get(status, frozenset())
    moves = _STAFF_MOVES.get(status, frozenset())
    return moves - ({"resolved"} if kind in FILING_KINDS else {"approved"})


def check_move(kind: str, status: str, new: str, role: str, note: str = "") -> None:
    """Raise :class:`PortalError` unless ``role`` may move the case from ``status`` to ``new`` (with
    ``note`` where the move must give one: an answer, a refusal, the reason for not being satisfied)."""
    if new not in STATUSES:
        raise PortalError("status", f"状态无效 unknown status {new!r}")
    if new not in allowed_moves(kind, status, role):
        raise PortalError(
            "status",
            f"无权变更事项状态 a {role} cannot move a {kind} case from {status} to {new}",
            "bad_transition",
        )
    if new in NOTE_REQUIRED and not note.strip():
        what = {
            "answered": "请填写答复内容 the answer is missing",
            "reopened": "请说明不满意的原因 please say why you are not satisfied",
        }[new]
        raise PortalError("note", what, "missing")


def check_new_case(kind: str, detail: str, subject: str) -> None:
    if kind in RETIRED_KINDS:
        zh, en = RETIRED_KINDS[kind]
        raise PortalError("kind", f"{CASE_KINDS[kind][0]}不再以文字事项受理，{zh} {en}", "retired")
    if kind not in CASE_KINDS:
        raise PortalError("kind", f"事项类型无效 unknown case kind {kind!r}")
    if not detail.strip():
        raise PortalError("detail", "请填写说明 please describe the case", "missing")
    if len(detail) > 4000:
        raise PortalError("detail", "最多 4000 字 at most 4000 characters")
    if len(subject) > 200:
        raise PortalError("subject", "最多 200 字 at most 200 characters")


def may_act_for(family_psn_nos: Sequence[str], psn_no: str) -> bool:
    """亲情账户: an insured login acts only for the persons linked to it (its own number included)."""
    return psn_no in family_psn_nos


# Kinds seen only by the login that filed them: a fraud report (举报) may be about a relative, and the
# reporter is protected (国家医保局令第5号《医疗保障基金使用监督管理举报处理暂行办法》 keeps the
# reporter's information confidential), so family access (亲情账户) never shows or touches it.
FILER_ONLY_KINDS = frozenset({"fraud_report"})


def may_see_case(user_id: str, family_psn_nos: Sequence[str], kind: str, psn_no: str, filed_by: str) -> bool:
    """May this insured login see (and withdraw) a case?  A fraud report: only the login that filed it;
    any other case: the logins acting for its person."""
    if kind in FILER_ONLY_KINDS:
        return filed_by == user_id
    return may_act_for(family_psn_nos, psn_no)


def check_rating(stars: int, comment: str) -> None:
    if not 1 <= stars <= 5:
        raise PortalError("stars", f"评分须为 1 到 5 星 {stars} is not a rating from 1 to 5")
    if len(comment) > 1000:
        raise PortalError("comment", "最多 1000 字 at most 1000 characters")


# ---------------------------------------------------------------------------- my year so far
