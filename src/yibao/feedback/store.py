"""Adapter: cases (备案 / 投诉 / 举报) with their status history, and satisfaction ratings, on the ledger's
database (SQLAlchemy Core).  Every change is one transaction: a refused change writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from yibao.feedback.core import (
    OPEN_FOR_STAFF,
    PortalError,
    PortalParams,
    SlaClock,
    check_move,
    check_new_case,
    check_rating,
    sla_clock,
    stops_clock,
)
from yibao.feedback.schema import portal_case, portal_case_event, portal_notice, portal_rating


@dataclass(frozen=True)
class CaseEvent:
    at: str
    status: str
    actor_role: str
    note: str


@dataclass(frozen=True)
class Case:
    case_id: str
    kind: str
    psn_no: str
    filed_by: str
    subject: str
    detail: str
    status: str
    created: str
    opened_on: dt.date
    sla_days: int
    due_on: dt.date
    decided_on: dt.date | None
    setl_id: str | None = None  # the visit the case is about
    review_round: int = 0  # n during and after the n-th review (复核); the clock is then the review's

    def clock(self, params: PortalParams, today: dt.date) -> SlaClock:
        return sla_clock(params.calendar, self.sla_days, self.opened_on, today, self.decided_on)


@dataclass(frozen=True)
class Notice:
    """A notification: the case ``case_id`` moved to ``status`` at ``at`` (with the actor's note)."""

    id: int
    case_id: str
    kind: str
    at: str
    status: str
    note: str
    read: bool


@dataclass(frozen=True)
class Rating:
    setl_id: str
    psn_no: str
    fixmedins_code: str
    stars: int
    comment: str
    at: str


def _case(r: Any) -> Case:
    return Case(
        r.case_id,
        r.kind,
        r.psn_no,
        r.filed_by,
        r.subject,
        r.detail,
        r.status,
        r.created,
        dt.date.fromisoformat(r.opened_on),
        int(r.sla_days),
        dt.date.fromisoformat(r.due_on),
        dt.date.fromisoformat(r.decided_on) if r.decided_on else None,
        r.setl_id,
        int(r.review_round or 0),
    )


class PortalStore:
    """Cases and ratings.  ``engine`` is a SQLAlchemy engine on the ledger's (migrated) database."""

    def __init__(self, engine: sa.Engine, params: PortalParams) -> None:
        self.engine, self.params = engine, params

    # ------------------------------------------------------------------ cases
    def open_case(
        self,
        *,
        kind: str,
        psn_no: str,
        filed_by: str,
        actor_role: str,
        subject: str,
        detail: str,
        now: dt.datetime,
        setl_id: str | None = None,
    ) -> Case:
        """File a new case for ``psn_no`` (about the visit ``setl_id``, which the caller has checked is
        the person's own); its SLA clock starts on ``now``'s date.  The filer is notified."""
        check_new_case(kind, detail, subject)
        rule = self.params.sla[kind]
        opened = now.date()
        due = self.params.calendar.add_working_days(opened, rule.days)
        case_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as c:
            c.execute(
                portal_case.insert().values(
                    case_id=case_id,
                    kind=kind,
                    psn_no=psn_no,
                    filed_by=filed_by,
                    subject=subject.strip(),
                    detail=detail.strip(),
                    status="submitted",
                    created=now.isoformat(timespec="seconds"),
                    opened_on=opened.isoformat(),
                    sla_days=rule.days,
                    due_on=due.isoformat(),
                    decided_on=None,
                    setl_id=setl_id or None,
                    review_round=0,
                )
            )
            c.execute(
                portal_case_event.insert().values(
                    case_id=case_id,
                    at=now.isoformat(timespec="seconds"),
                    status="submitted",
                    actor_id=filed_by,
                    actor_role=actor_role,
                    note="",
                )
            )
            _notify(c, filed_by, case_id, "submitted", "", now)
        return self.get_case(case_id)

    def get_case(self, case_id: str) -> Case:
        with self.engine.connect() as c:
            r = c.execute(sa.select(portal_case).where(portal_case.c.case_id == case_id)).first()
        if r is None:
            raise PortalError("case_id", f"事项不存在 unknown case {case_id!r}", "unknown_case")
        return _case(r)

    def events(self, case_id: str) -> list[CaseEvent]:
        q = (
            sa.select(portal_case_event)
            .where(portal_case_event.c.case_id == case_id)
            .order_by(portal_case_event.c.id)
        )
        with self.engine.connect() as c:
            return [CaseEvent(r.at, r.status, r.actor_role, r.note) for r in c.execute(q)]

    def cases_for(self, psn_nos: list[str]) -> list[Case]:
        q = (
            sa.select(portal_case)
            .where(portal_case.c.psn_no.in_(psn_nos))
            .order_by(portal_case.c.created.desc())
        )
        with self.engine.connect() as c:
            return [_case(r) for r in c.execute(q)]

    def queue(self, *, open_only: bool = True, limit: int = 500) -> list[Case]:
        """Staff queue: oldest due date first."""
        q = sa.select(portal_case).order_by(portal_case.c.due_on, portal_case.c.created).limit(limit)
        if open_only:
            q = q.where(portal_case.c.status.in_(OPEN_FOR_STAFF))
        with self.engine.connect() as c:
            return [_case(r) for r in c.execute(q)]

    def move(
        self, case_id: str, new: str, *, actor_id: str, actor_role: str, note: str, now: dt.datetime
    ) -> Case:
        """Change the status (checked against :func:`yibao.feedback.core.allowed_moves`), record it and
        notify the filer.  The row is re-read under a conditional update so two concurrent moves cannot
        both succeed.  A re-open (复核) starts the review's own clock; the answer stops the clock."""
        if len(note) > 2000:
            raise PortalError("note", "最多 2000 字 at most 2000 characters")
        with self.engine.begin() as c:
            r = c.execute(sa.select(portal_case).where(portal_case.c.case_id == case_id)).first()
            if r is None:
                raise PortalError("case_id", f"事项不存在 unknown case {case_id!r}", "unknown_case")
            case = _case(r)
            check_move(case.kind, case.status, new, actor_role, note)
            values: dict[str, Any] = {"status": new}
            if new == "reopened":
                rule = self.params.review[case.kind]
                opened = now.date()
                values |= {
                    "review_round": case.review_round + 1,
                    "opened_on": opened.isoformat(),
                    "sla_days": rule.days,
                    "due_on": self.params.calendar.add_working_days(opened, rule.days).isoformat(),
                    "decided_on": None,
                }
            elif stops_clock(case.kind, new) and case.decided_on is None:
                values["decided_on"] = now.date().isoformat()
            done = c.execute(
                portal_case.update()
                .where(portal_case.c.case_id == case_id, portal_case.c.status == case.status)
                .values(**values)
            )
            if done.rowcount != 1:
                raise PortalError(
                    "status",
                    "事项已被他人更新，请刷新后重试 the case changed meanwhile; reload and try again",
                    "conflict",
                )
            c.execute(
                portal_case_event.insert().values(
                    case_id=case_id,
                    at=now.isoformat(timespec="seconds"),
                    status=new,
                    actor_id=actor_id,
                    actor_role=actor_role,
                    note=note.strip(),
                )
            )
            _notify(c, case.filed_by, case_id, new, note.strip(), now)
        return self.get_case(case_id)

    # ------------------------------------------------------------------ notifications
    def notices(self, user_id: str, *, limit: int = 100) -> list[Notice]:
        """The login's notifications, newest first."""
        q = (
            sa.select(portal_notice, portal_case.c.kind)
            .join(portal_case, portal_case.c.case_id == portal_notice.c.case_id)
            .where(portal_notice.c.user_id == user_id)
            .order_by(portal_notice.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [
                Notice(int(r.id), r.case_id, r.kind, r.at, r.status, r.note, r.read_at is not None)
                for r in c.execute(q)
            ]

    def unread(self, user_id: str) -> int:
        q = sa.select(sa.func.count()).where(
            portal_notice.c.user_id == user_id, portal_notice.c.read_at.is_(None)
        )
        with self.engine.connect() as c:
            return int(c.execute(q).scalar_one())

    def mark_read(self, user_id: str, now: dt.datetime) -> int:
        """Mark every unread notification of the login as read; how many were."""
        with self.engine.begin() as c:
            done = c.execute(
                portal_notice.update()
                .where(portal_notice.c.user_id == user_id, portal_notice.c.read_at.is_(None))
                .values(read_at=now.isoformat(timespec="seconds"))
            )
        return int(done.rowcount)

    # ------------------------------------------------------------------ ratings
    def rate(
        self,
        *,
        setl_id: str,
        psn_no: str,
        user_id: str,
        fixmedins_code: str,
        stars: int,
        comment: str,
        now: dt.datetime,
    ) -> Rating:
        """One rating per settlement; rating again replaces the earlier one."""
        check_rating(stars, comment)
        values = {
            "psn_no": psn_no,
            "user_id": user_id,
            "fixmedins_code": fixmedins_code,
            "stars": stars,
            "comment": comment.strip(),
            "at": now.isoformat(timespec="seconds"),
        }
        with self.engine.begin() as c:
            done = c.execute(
                portal_rating.update().where(portal_rating.c.setl_id == setl_id).values(**values)
            )
            if done.rowcount == 0:
                c.execute(portal_rating.insert().values(setl_id=setl_id, **values))
        rating = self.rating(setl_id)
        assert rating is not None
        return rating

    def rating(self, setl_id: str) -> Rating | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(portal_rating).where(portal_rating.c.setl_id == setl_id)).first()
        return Rating(r.setl_id, r.psn_no, r.fixmedins_code, r.stars, r.comment, r.at) if r else None

    def ratings_for(self, fixmedins_code: str, *, limit: int = 50) -> list[Rating]:
        """One institution's ratings, newest first (what its workspace shows; no person is named)."""
        q = (
            sa.select(portal_rating)
            .where(portal_rating.c.fixmedins_code == fixmedins_code)
            .order_by(portal_rating.c.at.desc())
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [
                Rating(r.setl_id, r.psn_no, r.fixmedins_code, r.stars, r.comment, r.at) for r in c.execute(q)
            ]

    def linked_complaints(self, *, limit: int = 500) -> list[Case]:
        """Complaints (投诉, never reports 举报) that name the visit they are about, newest first (an
        institution's workspace keeps those about its own settlements)."""
        q = (
            sa.select(portal_case)
            .where(portal_case.c.kind == "complaint", portal_case.c.setl_id.is_not(None))
            .order_by(portal_case.c.created.desc())
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [_case(r) for r in c.execute(q)]

    def rating_summary(self) -> list[tuple[str, int, int]]:
        """Per institution: (fixmedins_code, ratings, stars × 100 / ratings — the mean in hundredths)."""
        q = (
            sa.select(portal_rating.c.fixmedins_code, sa.func.count(), sa.func.sum(portal_rating.c.stars))
            .group_by(portal_rating.c.fixmedins_code)
            .order_by(portal_rating.c.fixmedins_code)
        )
        with self.engine.connect() as c:
            return [(r[0], int(r[1]), int(r[2]) * 100 // int(r[1])) for r in c.execute(q)]


def _notify(c: sa.Connection, user_id: str, case_id: str, status: str, note: str, now: dt.datetime) -> None:
    c.execute(
        portal_notice.insert().values(
            user_id=user_id,
            case_id=case_id,
            at=now.isoformat(timespec="seconds"),
            status=status,
            note=note,
            read_at=None,
        )
    )
