"""The case state machine, pure: ``transition(case, command, now, params) -> (case, events)``.

No I/O and no clock: the caller passes ``now`` (timezone-aware).  An illegal command raises
:class:`AuditCaseError` naming the field and the reason; the input case is never modified (it is frozen).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yibao.audit.cases.calendar import CaseParams
from yibao.audit.cases.model import (
    GENESIS,
    MUTABLE_ITEM_FIELDS,
    AuditCaseError,
    Case,
    CaseEvent,
    CaseItem,
    CaseState,
    Outcome,
    event_hash,
)

EXPIRED_REASON = "逾期未申诉，视为认可 / no appeal within the window: the item stands"


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on one item.  ``amount_fen`` is required for ``partial`` (0 < amount < at stake)."""

    outcome: Outcome | str  # an Outcome value; anything else is refused by ``transition``
    reason: str
    amount_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Notify:
    actor: str


@dataclass(frozen=True, slots=True)
class Appeal:
    actor: str
    reasons: Mapping[int, str]  # item_no -> the institution's reason (申诉理由)


@dataclass(frozen=True, slots=True)
class Decide:
    actor: str
    decisions: Mapping[int, Decision]


@dataclass(frozen=True, slots=True)
class Expire:
    actor: str = "system"


@dataclass(frozen=True, slots=True)
class RecordDeduction:
    actor: str
    deduction_id: str
    amounts: Mapping[int, int]  # item_no -> fen actually recovered


Command = Notify | Appeal | Decide | Expire | RecordDeduction


def _iso(now: dt.datetime) -> str:
    if now.tzinfo is None or now.utcoffset() is None:
        raise AuditCaseError("now", "时间须带时区 must be timezone-aware (e.g. datetime.now(UTC))")
    return now.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _actor(actor: str) -> str:
    if not actor or not actor.strip():
        raise AuditCaseError(
            "actor", "必须写明操作人（每一步都留痕） who acts must be named (every step is audited)"
        )
    return actor.strip()


def _event(
    case: Case, new: Case, at: str, actor: str, event: str, detail: dict[str, Any]
) -> tuple[Case, CaseEvent]:
    seq = case.version + 1
    h = event_hash(
        case.event_hash, case.case_id, seq, at, actor, event, case.state.value, new.state.value, detail
    )
    e = CaseEvent(
        case.case_id, seq, at, actor, event, case.state.value, new.state.value, detail, case.event_hash, h
    )
    return dataclasses.replace(new, version=seq, event_hash=h), e


def _item_changes(old: Case, new_items: Sequence[CaseItem]) -> dict[str, Any]:
    """Per changed item, the mutable fields with their before / after values."""
    out: dict[str, Any] = {}
    for a, b in zip(old.items, new_items, strict=True):
        diff = {
            f: [getattr(a, f), getattr(b, f)] for f in MUTABLE_ITEM_FIELDS if getattr(a, f) != getattr(b, f)
        }
        if diff:
            out[str(a.item_no)] = diff
    return out


def _refuse(case: Case, what_zh: str, what: str, allowed: Sequence[CaseState]) -> AuditCaseError:
    return AuditCaseError(
        "state",
        f"案件 {case.case_id} 当前状态不能{what_zh} cannot {what} case {case.case_id} in state {case.state.value} "
        f"(allowed in: {', '.join(s.value for s in allowed)})",
        "illegal_transition",
    )


def open_case(
    case_id: str, fixmedins_code: str, period: str, items: Sequence[CaseItem], now: dt.datetime, actor: str
) -> tuple[Case, list[CaseEvent]]:
    """A new case in state ``open`` with its first event."""
    at, who = _iso(now), _actor(actor)
    if not items:
        raise AuditCaseError("items", f"案件 {case_id} 没有疑点明细 case {case_id} has no suspect items")
    if any(i.amount_fen < 0 for i in items):
        raise AuditCaseError("items.amount_fen", "涉及金额不能为负 amounts at stake must be ≥ 0 fen")
    if len({i.item_no for i in items}) != len(items):
        raise AuditCaseError("items.item_no", "明细序号不能重复 item numbers must be unique")
    blank = Case(case_id, fixmedins_code, period, CaseState.OPEN, at, tuple(items))
    detail = {
        "items": len(items),
        "flagged_fen": blank.flagged_fen,
        "flag_ids": [f for i in items for f in i.flag_ids],
    }
    # the opening event's state_before is "open" too: there is no earlier state
    case, ev = _event(
        dataclasses.replace(blank, version=0, event_hash=GENESIS), blank, at, who, "open", detail
    )
    return case, [ev]


def _notify(case: Case, cmd: Notify, now: dt.datetime, params: CaseParams) -> tuple[Case, list[CaseEvent]]:
    if case.state is not CaseState.OPEN:
        raise _refuse(case, "发出稽核告知", "send the notice of", [CaseState.OPEN])
    at, who = _iso(now), _actor(cmd.actor)
    deadline = params.appeal_deadline(now)
    new = dataclasses.replace(case, state=CaseState.NOTIFIED, notified_at=at, deadline=deadline)
    detail = {
        "deadline": deadline.isoformat(),
        "working_days": params.appeal_working_days,
        "flagged_fen": case.flagged_fen,
    }
    c, e = _event(case, new, at, who, "notify", detail)
    return c, [e]


def _appeal(case: Case, cmd: Appeal, now: dt.datetime, params: CaseParams) -> tuple[Case, list[CaseEvent]]:
    allowed = [CaseState.NOTIFIED, CaseState.APPEALED]
    if case.state not in allowed:
        raise _refuse(case, "申诉", "appeal", allowed)
    at, who = _iso(now), _actor(cmd.actor)
    assert case.deadline is not None
    today = params.local_date(now)
    if today > case.deadline:
        raise AuditCaseError(
            "now",
            f"申诉期已过 appeal of case {case.case_id} on {today} is late: the window closed on "
            f"{case.deadline} ({params.appeal_working_days} working days after the notice)",
            "appeal_window_closed",
        )
    if not cmd.reasons:
        raise AuditCaseError("reasons", "申诉至少须针对一项明细 an appeal names at least one item")
    for no, reason in cmd.reasons.items():
        it = case.item(no)
        if it.appeal_at is not None:
            raise AuditCaseError(
                f"reasons[{no}]",
                f"第 {no} 项已申诉过 item {no} was already appealed on {it.appeal_at}",
                "already_appealed",
            )
        if not reason or not reason.strip():
            raise AuditCaseError(f"reasons[{no}]", "an appeal needs a reason (申诉理由)")
    items = tuple(
        dataclasses.replace(i, appeal_at=at, appeal_reason=cmd.reasons[i.item_no].strip())
        if i.item_no in cmd.reasons
        else i
        for i in case.items
    )
    new = dataclasses.replace(case, state=CaseState.APPEALED, items=items)
    c, e = _event(case, new, at, who, "appeal", {"items": _item_changes(case, items)})
    return c, [e]


def _decided_state(items: Sequence[CaseItem]) -> CaseState:
    return CaseState.DECIDED if any(i.decided_fen for i in items) else CaseState.CLOSED


def _decide(case: Case, cmd: Decide, now: dt.datetime, params: CaseParams) -> tuple[Case, list[CaseEvent]]:
    allowed = [CaseState.NOTIFIED, CaseState.APPEALED]
    if case.state not in allowed:
        raise _refuse(case, "裁定", "decide", allowed)
    at, who = _iso(now), _actor(cmd.actor)
    assert case.deadline is not None
    window_open = params.local_date(now) <= case.deadline
    unappealed = [i.item_no for i in case.items if i.appeal_at is None]
    if window_open and unappealed:
        raise AuditCaseError(
            "now",
            f"申诉期未满，尚有明细可申诉 the appeal window of case {case.case_id} is open until "
            f"{case.deadline} and items "
            f"{unappealed[:10]} may still be appealed",
            "appeal_window_open",
        )
    for no in cmd.decisions:
        case.item(no)
    missing = [i.item_no for i in case.items if i.appeal_at is not None and i.item_no not in cmd.decisions]
    if missing:
        raise AuditCaseError(
            "decisions",
            f"已申诉的明细须逐项裁定 appealed items {missing[:10]} need a decision",
            "invalid_decision",
        )
    items = []
    for it in case.items:
        d = cmd.decisions.get(it.item_no)
        if d is None:  # not appealed and the window is over: the item stands as flagged
            items.append(
                dataclasses.replace(
                    it,
                    decision=Outcome.UPHELD.value,
                    decided_fen=it.amount_fen,
                    decision_reason=EXPIRED_REASON,
                )
            )
            continue
        where = f"decisions[{it.item_no}]"
        if not d.reason or not d.reason.strip():
            raise AuditCaseError(
                f"{where}.reason", "a decision needs a reason (裁定理由)", "invalid_decision"
            )
        try:
            outcome = Outcome(d.outcome)
        except ValueError as exc:
            raise AuditCaseError(
                f"{where}.outcome",
                f"裁定结果不在允许范围内 must be one of {[o.value for o in Outcome]}, got {d.outcome!r}",
                "invalid_decision",
            ) from exc
        if outcome is Outcome.UPHELD:
            amount = it.amount_fen
        elif outcome is Outcome.DISMISSED:
            amount = 0
        else:
            amount = d.amount_fen if d.amount_fen is not None else -1
            if not (isinstance(d.amount_fen, int) and 0 < amount < it.amount_fen):
                raise AuditCaseError(
                    f"{where}.amount_fen",
                    f"部分维持须大于 0 且小于涉及金额 a partial decision upholds more than 0 and less than "
                    f"{it.amount_fen} fen, got {d.amount_fen!r}",
                    "invalid_decision",
                )
        if outcome is not Outcome.PARTIAL and d.amount_fen is not None and d.amount_fen != amount:
            raise AuditCaseError(
                f"{where}.amount_fen",
                f"裁定金额与裁定结果不符 {outcome.value} means {amount} fen, got {d.amount_fen}",
                "invalid_decision",
            )
        items.append(
            dataclasses.replace(
                it, decision=outcome.value, decided_fen=amount, decision_reason=d.reason.strip()
            )
        )
    new = dataclasses.replace(case, state=_decided_state(items), items=tuple(items), decided_at=at)
    detail = {"items": _item_changes(case, items), "upheld_fen": new.upheld_fen}
    c, e = _event(case, new, at, who, "decide", detail)
    return c, [e]


def _expire(case: Case, cmd: Expire, now: dt.datetime, params: CaseParams) -> tuple[Case, list[CaseEvent]]:
    if case.state is not CaseState.NOTIFIED:
        raise _refuse(case, "按逾期处理", "expire", [CaseState.NOTIFIED])
    at, who = _iso(now), _actor(cmd.actor)
    assert case.deadline is not None
    if params.local_date(now) <= case.deadline:
        raise AuditCaseError(
            "now",
            f"申诉期未满 the appeal window of case {case.case_id} is open until {case.deadline}",
            "appeal_window_open",
        )
    items = tuple(
        dataclasses.replace(
            i, decision=Outcome.UPHELD.value, decided_fen=i.amount_fen, decision_reason=EXPIRED_REASON
        )
        for i in case.items
    )
    new = dataclasses.replace(case, state=_decided_state(items), items=items, decided_at=at)
    detail = {
        "deadline": case.deadline.isoformat(),
        "items": _item_changes(case, items),
        "upheld_fen": new.upheld_fen,
    }
    c, e = _event(case, new, at, who, "expire", detail)
    return c, [e]


def _record(
    case: Case, cmd: RecordDeduction, now: dt.datetime, params: CaseParams
) -> tuple[Case, list[CaseEvent]]:
    if case.state is not CaseState.DECIDED:
        raise _refuse(case, "记录扣款", "record a deduction on", [CaseState.DECIDED])
    at, who = _iso(now), _actor(cmd.actor)
    if not cmd.deduction_id:
        raise AuditCaseError("deduction_id", "扣款编号不能为空 must not be empty")
    items = []
    for it in case.items:
        got = cmd.amounts.get(it.item_no, 0)
        if not isinstance(got, int) or got < 0 or got > (it.decided_fen or 0):
            raise AuditCaseError(
                f"amounts[{it.item_no}]",
                f"扣款金额须在 0 至维持金额之间 must be 0…{it.decided_fen or 0} fen (the amount upheld), got {got!r}",
            )
        items.append(dataclasses.replace(it, deducted_fen=got))
    for no in cmd.amounts:
        case.item(no)
    new = dataclasses.replace(
        case, state=CaseState.DEDUCTED, items=tuple(items), deduction_id=cmd.deduction_id
    )
    detail = {
        "deduction_id": cmd.deduction_id,
        "items": _item_changes(case, items),
        "deducted_fen": new.deducted_fen,
        "upheld_fen": case.upheld_fen,
    }
    c, e = _event(case, new, at, who, "deduct", detail)
    return c, [e]


def transition(
    case: Case, command: Command, now: dt.datetime, params: CaseParams
) -> tuple[Case, list[CaseEvent]]:
    """Apply ``command`` to ``case`` at ``now``: the new case and the events to append."""
    if isinstance(command, Notify):
        return _notify(case, command, now, params)
    if isinstance(command, Appeal):
        return _appeal(case, command, now, params)
    if isinstance(command, Decide):
        return _decide(case, command, now, params)
    if isinstance(command, Expire):
        return _expire(case, command, now, params)
    if isinstance(command, RecordDeduction):
        return _record(case, command, now, params)
    raise AuditCaseError("command", f"未知的操作 unknown command {command!r}")


def is_expirable(case: Case, now: dt.datetime, params: CaseParams) -> bool:
    """True when ``close_expired`` would finalise ``case`` at ``now`` (notified, unanswered, window over)."""
    return (
        case.state is CaseState.NOTIFIED
        and case.deadline is not None
        and params.local_date(now) > case.deadline
    )


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
