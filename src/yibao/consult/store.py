"""Adapter: consultations, opinions, themes, hearings and the bureau's acts, on the shared database
(SQLAlchemy Core).  Every act is one transaction checked by :mod:`yibao.consult.core` against the
consultation's phase at ``now``; a refused act writes nothing.  Status changes are conditional updates,
so two staff acting at once cannot both move the same consultation."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from yibao.consult import core
from yibao.consult.core import Adoption, ConsultError, ConsultParams
from yibao.consult.impact import Impact
from yibao.consult.schema import (
    consult_consultation,
    consult_event,
    consult_hearing,
    consult_opinion,
    consult_theme,
)


@dataclass(frozen=True)
class Consultation:
    consult_id: str
    title: str
    summary: str
    body: str
    status: str
    created_at: str
    published_at: dt.datetime | None
    deadline: dt.datetime | None
    period_days: int | None
    short_reason: str
    impact: Impact | None
    impact_note: str
    result: str
    closed_at: dt.datetime | None
    withdrawn_reason: str

    def phase(self, now: dt.datetime) -> str:
        return core.phase(self.status, self.deadline, now)

    @property
    def last_day(self) -> dt.date | None:
        """The last day of the opinion period (Beijing); the deadline is its 24:00."""
        return None if self.deadline is None else core.beijing_day(self.deadline) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Opinion:
    id: int
    consult_id: str
    author_role: str
    author_zh: str
    author_en: str
    about: str
    body: str  # empty when hidden and the reader is not staff
    at: str
    hidden_reason: str | None
    theme_id: int | None
    mine: bool = False


@dataclass(frozen=True)
class Theme:
    id: int
    title: str
    decision: str | None
    response: str
    answered_at: str | None
    opinions: int  # visible opinions grouped into it


@dataclass(frozen=True)
class Hearing:
    id: int
    held_on: dt.date
    place: str
    participants: list[str]
    observers: list[str]
    summary: str


@dataclass(frozen=True)
class Event:
    at: str
    action: str
    note: str


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _consultation(r: Any) -> Consultation:
    return Consultation(
        r.consult_id,
        r.title,
        r.summary,
        r.body,
        r.status,
        r.created_at,
        _when(r.published_at),
        _when(r.deadline),
        r.period_days,
        r.short_reason or "",
        Impact.from_dict(json.loads(r.impact)) if r.impact else None,
        r.impact_note or "",
        r.result or "",
        _when(r.closed_at),
        r.withdrawn_reason or "",
    )


class ConsultStore:
    """Consultations on the service's database (migrated; ``engine`` a SQLAlchemy engine)."""

    def __init__(self, engine: sa.Engine, params: ConsultParams) -> None:
        self.engine, self.params = engine, params

    # ------------------------------------------------------------------ reading
    def get(self, consult_id: str) -> Consultation:
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(consult_consultation).where(consult_consultation.c.consult_id == consult_id)
            ).first()
        if r is None:
            raise ConsultError(
                "consult_id", f"征求意见不存在 unknown consultation {consult_id!r}", "unknown_consultation"
            )
        return _consultation(r)

    def listing(self, *, public: bool) -> list[Consultation]:
        """Newest first; ``public``: only those ever published (drafts are the bureau's)."""
        q = sa.select(consult_consultation).order_by(
            consult_consultation.c.published_at.desc(), consult_consultation.c.created_at.desc()
        )
        if public:
            q = q.where(consult_consultation.c.published_at.is_not(None))
        with self.engine.connect() as c:
            return [_consultation(r) for r in c.execute(q)]

    def opinions(self, consult_id: str, *, staff: bool = False, reader_id: str = "") -> list[Opinion]:
        """Every opinion, oldest first.  A hidden one keeps its place with the reason; its text is given
        only to staff (and to its author)."""
        q = (
            sa.select(consult_opinion)
            .where(consult_opinion.c.consult_id == consult_id)
            .order_by(consult_opinion.c.id)
        )
        with self.engine.connect() as c:
            rows = list(c.execute(q))
        out = []
        for r in rows:
            mine = bool(reader_id) and r.author_id == reader_id
            shown = r.hidden_reason is None or staff or mine
            out.append(
                Opinion(
                    int(r.id),
                    r.consult_id,
                    r.author_role,
                    r.author_zh,
                    r.author_en,
                    r.about if shown else "",
                    r.body if shown else "",
                    r.at,
                    r.hidden_reason,
                    int(r.theme_id) if r.theme_id is not None else None,
                    mine,
                )
            )
        return out

    def commented_by(self, author_id: str) -> dict[str, int]:
        """Consultation id → how many opinions this login gave on it."""
        q = (
            sa.select(consult_opinion.c.consult_id, sa.func.count().label("n"))
            .where(consult_opinion.c.author_id == author_id)
            .group_by(consult_opinion.c.consult_id)
        )
        with self.engine.connect() as c:
            return {r.consult_id: int(r.n) for r in c.execute(q)}

    def themes(self, consult_id: str) -> list[Theme]:
        counts = (
            sa.select(consult_opinion.c.theme_id, sa.func.count().label("n"))
            .where(consult_opinion.c.consult_id == consult_id, consult_opinion.c.hidden_reason.is_(None))
            .group_by(consult_opinion.c.theme_id)
        )
        q = (
            sa.select(consult_theme)
            .where(consult_theme.c.consult_id == consult_id)
            .order_by(consult_theme.c.id)
        )
        with self.engine.connect() as c:
            n = {r.theme_id: int(r.n) for r in c.execute(counts)}
            return [
                Theme(int(r.id), r.title, r.decision, r.response or "", r.answered_at, n.get(r.id, 0))
                for r in c.execute(q)
            ]

    def hearings(self, consult_id: str) -> list[Hearing]:
        q = (
            sa.select(consult_hearing)
            .where(consult_hearing.c.consult_id == consult_id)
            .order_by(consult_hearing.c.held_on, consult_hearing.c.id)
        )
        with self.engine.connect() as c:
            return [
                Hearing(
                    int(r.id),
                    dt.date.fromisoformat(r.held_on),
                    r.place,
                    list(json.loads(r.participants)),
                    list(json.loads(r.observers)),
                    r.summary,
                )
                for r in c.execute(q)
            ]

    def events(self, consult_id: str) -> list[Event]:
        q = (
            sa.select(consult_event)
            .where(consult_event.c.consult_id == consult_id)
            .order_by(consult_event.c.id)
        )
        with self.engine.connect() as c:
            return [Event(r.at, r.action, r.note) for r in c.execute(q)]

    def adoption(self, consult_id: str) -> Adoption:
        """The adoption rate over the answered themes (and over their visible opinions)."""
        answered = [(t.decision, t.opinions) for t in self.themes(consult_id) if t.decision]
        return core.adoption([(d, k) for d, k in answered if d], self.params.partly_counts)

    # ------------------------------------------------------------------ the draft
    def create_draft(
        self,
        *,
        title: str,
        summary: str,
        body: str,
        actor_id: str,
        now: dt.datetime,
        impact: Impact | None = None,
        impact_note: str = "",
    ) -> Consultation:
        core.check_draft(title, summary, body)
        consult_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as c:
            c.execute(
                consult_consultation.insert().values(
                    consult_id=consult_id,
                    title=title.strip(),
                    summary=summary.strip(),
                    body=body.strip(),
                    status="draft",
                    created_at=_iso(now),
                    created_by=actor_id,
                    impact=json.dumps(impact.to_dict(), ensure_ascii=False) if impact else None,
                    impact_note=impact_note.strip(),
                )
            )
            _event(c, consult_id, actor_id, "drafted", "", now)
        return self.get(consult_id)

    def edit_draft(
        self, consult_id: str, *, title: str, summary: str, body: str, actor_id: str, now: dt.datetime
    ) -> Consultation:
        core.check_draft(title, summary, body)
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_edit(cur.status)
            self._move(c, cur, cur.status, title=title.strip(), summary=summary.strip(), body=body.strip())
            _event(c, consult_id, actor_id, "edited", "", now)
        return self.get(consult_id)

    def set_impact(
        self, consult_id: str, impact: Impact, note: str, *, actor_id: str, now: dt.datetime
    ) -> Consultation:
        """Attach (or replace) the simulated impact of a draft."""
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_edit(cur.status)
            self._move(
                c,
                cur,
                cur.status,
                impact=json.dumps(impact.to_dict(), ensure_ascii=False),
                impact_note=note.strip(),
            )
            _event(c, consult_id, actor_id, "impact", note.strip(), now)
        return self.get(consult_id)

    def publish(
        self, consult_id: str, *, last_day: dt.date, short_reason: str, actor_id: str, now: dt.datetime
    ) -> Consultation:
        """Publish a draft: opinions are taken until 24:00 Beijing time of ``last_day``."""
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            days = core.check_publish(cur.status, now, last_day, short_reason, self.params)
            if cur.impact is None:
                raise ConsultError(
                    "impact",
                    "发布前须附上政策模拟的影响测算 attach the simulated impact before publishing",
                    "missing",
                )
            self._move(
                c,
                cur,
                "open",
                published_at=_iso(now),
                deadline=_iso(core.deadline_of(last_day)),
                period_days=days,
                short_reason=short_reason.strip(),
            )
            _event(c, consult_id, actor_id, "published", f"{days}", now)
        return self.get(consult_id)

    def withdraw(self, consult_id: str, *, reason: str, actor_id: str, now: dt.datetime) -> Consultation:
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_withdraw(cur.phase(now), reason)
            self._move(c, cur, "withdrawn", withdrawn_reason=reason.strip(), closed_at=_iso(now))
            _event(c, consult_id, actor_id, "withdrawn", reason.strip(), now)
        return self.get(consult_id)

    # ------------------------------------------------------------------ opinions and moderation
    def add_opinion(
        self,
        consult_id: str,
        *,
        author_id: str,
        author_role: str,
        display_name: str,
        anonymous: bool,
        about: str,
        body: str,
        now: dt.datetime,
    ) -> Opinion:
        if author_role not in core.OPINION_ROLES:
            raise ConsultError("role", "请先登录 please log in first", "forbidden")
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            already = c.execute(
                sa.select(sa.func.count()).where(
                    consult_opinion.c.consult_id == consult_id, consult_opinion.c.author_id == author_id
                )
            ).scalar_one()
            core.check_opinion(cur.phase(now), body, about, self.params, int(already))
            zh, en = core.public_author(author_role, display_name, anonymous)
            new_id = c.execute(
                consult_opinion.insert().values(
                    consult_id=consult_id,
                    author_id=author_id,
                    author_role=author_role,
                    author_zh=zh,
                    author_en=en,
                    about=about.strip(),
                    body=body.strip(),
                    at=_iso(now),
                )
            ).inserted_primary_key
        assert new_id is not None
        return next(o for o in self.opinions(consult_id, staff=True) if o.id == int(new_id[0]))

    def _opinion_row(self, c: sa.Connection, consult_id: str, opinion_id: int) -> Any:
        r = c.execute(
            sa.select(consult_opinion).where(
                consult_opinion.c.id == opinion_id, consult_opinion.c.consult_id == consult_id
            )
        ).first()
        if r is None:
            raise ConsultError("opinion_id", f"意见不存在 unknown opinion {opinion_id}", "unknown_opinion")
        return r

    def hide(self, consult_id: str, opinion_id: int, *, reason: str, actor_id: str, now: dt.datetime) -> None:
        """Moderation: hide an abusive opinion, with the reason shown in its place.  A hidden opinion
        leaves its theme (it does not count in the adoption rate)."""
        core.check_hide(reason)
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            if cur.status == "closed":
                raise ConsultError(
                    "status", "结果公布后不能再隐藏意见 the result is published", "bad_transition"
                )
            self._opinion_row(c, consult_id, opinion_id)
            c.execute(
                consult_opinion.update()
                .where(consult_opinion.c.id == opinion_id)
                .values(hidden_reason=reason.strip(), hidden_at=_iso(now), theme_id=None)
            )
            _event(c, consult_id, actor_id, "hid", f"{opinion_id}: {reason.strip()}", now)

    def restore(self, consult_id: str, opinion_id: int, *, actor_id: str, now: dt.datetime) -> None:
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            if cur.status == "closed":
                raise ConsultError(
                    "status", "结果公布后不能再恢复意见 the result is published", "bad_transition"
                )
            self._opinion_row(c, consult_id, opinion_id)
            c.execute(
                consult_opinion.update()
                .where(consult_opinion.c.id == opinion_id)
                .values(hidden_reason=None, hidden_at=None)
            )
            _event(c, consult_id, actor_id, "restored", str(opinion_id), now)

    # ------------------------------------------------------------------ themes and answers
    def add_theme(
        self, consult_id: str, *, title: str, opinion_ids: Sequence[int], actor_id: str, now: dt.datetime
    ) -> Theme:
        """A theme with the opinions grouped into it (each opinion is in at most one theme: grouping it
        again moves it)."""
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_theme(cur.phase(now), title)
            new = c.execute(
                consult_theme.insert().values(
                    consult_id=consult_id, title=title.strip(), created_at=_iso(now)
                )
            ).inserted_primary_key
            assert new is not None
            theme_id = int(new[0])
            self._group(c, consult_id, theme_id, opinion_ids)
            _event(c, consult_id, actor_id, "theme", title.strip(), now)
        return next(t for t in self.themes(consult_id) if t.id == theme_id)

    def group(
        self, consult_id: str, theme_id: int, opinion_ids: Sequence[int], *, actor_id: str, now: dt.datetime
    ) -> None:
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_grouping(cur.phase(now))
            self._theme_row(c, consult_id, theme_id)
            self._group(c, consult_id, theme_id, opinion_ids)
            _event(c, consult_id, actor_id, "grouped", f"{theme_id}: {list(opinion_ids)}", now)

    def _theme_row(self, c: sa.Connection, consult_id: str, theme_id: int) -> Any:
        r = c.execute(
            sa.select(consult_theme).where(
                consult_theme.c.id == theme_id, consult_theme.c.consult_id == consult_id
            )
        ).first()
        if r is None:
            raise ConsultError("theme_id", f"意见类别不存在 unknown theme {theme_id}", "unknown_theme")
        return r

    def _group(self, c: sa.Connection, consult_id: str, theme_id: int, opinion_ids: Sequence[int]) -> None:
        for oid in opinion_ids:
            r = self._opinion_row(c, consult_id, int(oid))
            if r.hidden_reason is not None:
                raise ConsultError("opinion_id", f"已隐藏的意见不能归类 opinion {oid} is hidden")
        if opinion_ids:
            c.execute(
                consult_opinion.update()
                .where(
                    consult_opinion.c.consult_id == consult_id,
                    consult_opinion.c.id.in_([int(o) for o in opinion_ids]),
                )
                .values(theme_id=theme_id)
            )

    def answer(
        self, consult_id: str, theme_id: int, *, decision: str, text: str, actor_id: str, now: dt.datetime
    ) -> Theme:
        """The bureau's answer to a theme: adopted, partly or not adopted, with why or how."""
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_response(cur.phase(now), decision, text)
            self._theme_row(c, consult_id, theme_id)
            c.execute(
                consult_theme.update()
                .where(consult_theme.c.id == theme_id)
                .values(decision=decision, response=text.strip(), answered_at=_iso(now))
            )
            _event(c, consult_id, actor_id, "answered", f"{theme_id}: {decision}", now)
        return next(t for t in self.themes(consult_id) if t.id == theme_id)

    # ------------------------------------------------------------------ hearings and the result
    def record_hearing(
        self,
        consult_id: str,
        *,
        held_on: dt.date,
        place: str,
        participants: Sequence[str],
        observers: Sequence[str],
        summary: str,
        actor_id: str,
        now: dt.datetime,
    ) -> Hearing:
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            core.check_hearing(
                cur.phase(now),
                held_on,
                cur.published_at,
                place,
                participants,
                observers,
                summary,
                core.beijing_day(now),
            )
            new = c.execute(
                consult_hearing.insert().values(
                    consult_id=consult_id,
                    held_on=held_on.isoformat(),
                    place=place.strip(),
                    participants=json.dumps(list(participants), ensure_ascii=False),
                    observers=json.dumps(list(observers), ensure_ascii=False),
                    summary=summary.strip(),
                    recorded_at=_iso(now),
                )
            ).inserted_primary_key
            assert new is not None
            _event(c, consult_id, actor_id, "hearing", held_on.isoformat(), now)
        return next(h for h in self.hearings(consult_id) if h.id == int(new[0]))

    def close(self, consult_id: str, *, result: str, actor_id: str, now: dt.datetime) -> Consultation:
        """Publish the result (采纳情况): every visible opinion grouped, every theme answered."""
        with self.engine.begin() as c:
            cur = self._locked(c, consult_id)
            visible = c.execute(
                sa.select(sa.func.count(), sa.func.count(consult_opinion.c.theme_id)).where(
                    consult_opinion.c.consult_id == consult_id, consult_opinion.c.hidden_reason.is_(None)
                )
            ).one()
            themes = c.execute(
                sa.select(sa.func.count(), sa.func.count(consult_theme.c.decision)).where(
                    consult_theme.c.consult_id == consult_id
                )
            ).one()
            core.check_close(
                cur.phase(now),
                int(themes[0]),
                int(themes[0]) - int(themes[1]),
                int(visible[0]) - int(visible[1]),
                int(visible[0]),
                result,
            )
            self._move(c, cur, "closed", result=result.strip(), closed_at=_iso(now))
            _event(c, consult_id, actor_id, "closed", "", now)
        return self.get(consult_id)

    # ------------------------------------------------------------------ internals
    def _locked(self, c: sa.Connection, consult_id: str) -> Consultation:
        q = sa.select(consult_consultation).where(consult_consultation.c.consult_id == consult_id)
        if c.dialect.name == "postgresql":
            q = q.with_for_update()
        r = c.execute(q).first()
        if r is None:
            raise ConsultError(
                "consult_id", f"征求意见不存在 unknown consultation {consult_id!r}", "unknown_consultation"
            )
        return _consultation(r)

    def _move(self, c: sa.Connection, cur: Consultation, new: str, **values: Any) -> None:
        done = c.execute(
            consult_consultation.update()
            .where(
                consult_consultation.c.consult_id == cur.consult_id,
                consult_consultation.c.status == cur.status,
            )
            .values(status=new, **values)
        )
        if done.rowcount != 1:
            raise ConsultError(
                "status", "已被他人更新，请刷新后重试 it changed meanwhile; reload and try again", "conflict"
            )


def _event(
    c: sa.Connection, consult_id: str, actor_id: str, action: str, note: str, now: dt.datetime
) -> None:
    c.execute(
        consult_event.insert().values(
            consult_id=consult_id, at=_iso(now), actor_id=actor_id, action=action, note=note
        )
    )
