"""A person's insurance relation as a dated history (pure): events folded into segments, and the status on
a day (1101 ``insuinfo``: ``psn_insu_stas``, ``psn_insu_date``, ``paus_insu_date``).

Transitions (anything else is refused, naming the event):

* nothing / 终止 / 转出 → 参保登记 or 关系转入 → 正常参保
* 正常参保 → 暂停 → 恢复 (same scheme) → 正常参保; 暂停 → 参保登记 of the other scheme (切换险种)
* 正常参保 → 人员类别变更 (e.g. 办理退休) → 正常参保 with the new person type
* 正常参保 / 暂停 → 终止 or 转出
* any → 死亡 (no event may follow); the person is covered on the day of death and not after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from yibao.enrolment.model import SCHEMES, EnrolmentError, EventKind, RelationEvent

ACTIVE, SUSPENDED, TERMINATED, TRANSFERRED_OUT, DECEASED = (
    "active",
    "suspended",
    "terminated",
    "transferred_out",
    "deceased",
)
# national dictionary PSN_INSU_STAS: 0 未参保, 1 正常参保, 2 暂停参保, 4 终止参保
INSU_STAS = {ACTIVE: "1", SUSPENDED: "2", TERMINATED: "4", TRANSFERRED_OUT: "4", DECEASED: "4"}
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Segment:
    """The relation in one state from ``start`` up to ``end`` (exclusive; None = still so)."""

    start: dt.date
    end: dt.date | None
    state: str
    insutype: str
    psn_type: str
    emp_no: str
    household_no: str
    opened_by: RelationEvent


@dataclass(frozen=True, slots=True)
class RelationStatus:
    """The relation on a day, in 1101 terms: ``psn_insu_stas``, ``psn_insu_date`` (this relation's
    参保日期), ``paus_insu_date`` (暂停参保日期, when suspended or ended)."""

    state: str  # "" = never enrolled
    psn_insu_stas: str
    insutype: str
    psn_type: str
    emp_no: str
    household_no: str
    psn_insu_date: dt.date | None
    paus_insu_date: dt.date | None


def ordered(events: Sequence[RelationEvent]) -> list[RelationEvent]:
    """Events in the order they take effect: by day, then ``seq`` (stable for ties)."""
    return sorted(events, key=lambda e: (e.day, e.seq))


def _bad(i: int, ev: RelationEvent, zh: str, en: str) -> EnrolmentError:
    return EnrolmentError(
        f"events[{i}].kind", f"{ev.day.isoformat()} {ev.kind.value}: {zh} {en}", "bad_transition"
    )


def relation_segments(events: Sequence[RelationEvent]) -> list[Segment]:
    """Fold a person's events into consecutive segments; an impossible transition raises
    :class:`EnrolmentError` naming the event (index in day order) and the reason."""
    segs: list[Segment] = []
    state, insutype, psn_type, emp, hh = "", "", "", "", ""

    def close(day: dt.date) -> None:
        if segs and segs[-1].end is None:
            last = segs[-1]
            segs[-1] = Segment(
                last.start,
                day,
                last.state,
                last.insutype,
                last.psn_type,
                last.emp_no,
                last.household_no,
                last.opened_by,
            )

    def open_(day: dt.date, st: str, ev: RelationEvent) -> None:
        close(day)
        if segs and segs[-1].start == day:  # a same-day change replaces the zero-length segment
            segs.pop()
        segs.append(Segment(day, None, st, insutype, psn_type, emp, hh, ev))

    for i, ev in enumerate(ordered(events)):
        k = ev.kind
        if state == DECEASED:
            raise _bad(i, ev, "参保人已死亡，不能再有参保变更", "the person has died; no event may follow")
        if k in (EventKind.ENROL, EventKind.TRANSFER_IN):
            if ev.insutype not in SCHEMES:
                raise EnrolmentError(
                    f"events[{i}].insutype",
                    f"险种必须是310或390 insutype must be 310 or 390, not {ev.insutype!r}",
                )
            if not ev.psn_type:
                raise EnrolmentError(f"events[{i}].psn_type", "参保登记须给出人员类别 psn_type is required")
            if state == ACTIVE:
                raise _bad(i, ev, "已在参保状态，不能重复参保", "already enrolled (duplicate enrolment)")
            if state == SUSPENDED and ev.insutype == insutype:
                raise _bad(
                    i,
                    ev,
                    "同一险种暂停后应办理恢复参保",
                    "a suspended relation of this scheme is resumed, not re-enrolled",
                )
            insutype, psn_type, emp, hh = ev.insutype, ev.psn_type, ev.emp_no, ev.household_no
            state = ACTIVE
            open_(ev.day, ACTIVE, ev)
        elif k == EventKind.SUSPEND:
            if state != ACTIVE:
                raise _bad(i, ev, "只有正常参保才能暂停", "only an active relation can be suspended")
            state = SUSPENDED
            open_(ev.day, SUSPENDED, ev)
        elif k == EventKind.RESUME:
            if state != SUSPENDED:
                raise _bad(i, ev, "只有暂停的参保关系才能恢复", "only a suspended relation can be resumed")
            if ev.insutype and ev.insutype != insutype:
                raise _bad(i, ev, "恢复参保不能改变险种", "resuming cannot change the scheme")
            emp = ev.emp_no or emp
            hh = ev.household_no or hh
            psn_type = ev.psn_type or psn_type
            state = ACTIVE
            open_(ev.day, ACTIVE, ev)
        elif k == EventKind.CHANGE_TYPE:
            if state != ACTIVE:
                raise _bad(
                    i, ev, "只有正常参保才能变更人员类别", "only an active relation can change person type"
                )
            if not ev.psn_type:
                raise EnrolmentError(
                    f"events[{i}].psn_type", "须给出新的人员类别 the new psn_type is required"
                )
            psn_type = ev.psn_type
            emp = ev.emp_no or emp
            open_(ev.day, ACTIVE, ev)
        elif k in (EventKind.TERMINATE, EventKind.TRANSFER_OUT):
            if state not in (ACTIVE, SUSPENDED):
                raise _bad(i, ev, "没有参保关系可终止或转出", "no relation to end or transfer out")
            state = TERMINATED if k == EventKind.TERMINATE else TRANSFERRED_OUT
            open_(ev.day, state, ev)
        elif k == EventKind.DEATH:
            state = DECEASED
            open_(ev.day + ONE_DAY, DECEASED, ev)
        else:  # pragma: no cover - the enum is closed
            raise _bad(i, ev, "未知的变更类型", "unknown event kind")
    return segs


def status_on(events: Sequence[RelationEvent], day: dt.date) -> RelationStatus:
    """The relation on ``day`` (1101 ``insuinfo`` terms)."""
    segs = relation_segments(events)
    current = None
    for s in segs:
        if s.start <= day and (s.end is None or day < s.end):
            current = s
    if current is None:
        return RelationStatus("", "0", "", "", "", "", None, None)
    # 参保日期: the start of the latest run of this scheme that began with an enrolment or transfer in
    began = current.start
    for s in segs:
        if s.start > current.start:
            break
        if s.opened_by.kind in (EventKind.ENROL, EventKind.TRANSFER_IN):
            began = s.start
    paused = current.start if current.state != ACTIVE else None
    return RelationStatus(
        current.state,
        INSU_STAS[current.state],
        current.insutype,
        current.psn_type,
        current.emp_no,
        current.household_no,
        began,
        paused,
    )
