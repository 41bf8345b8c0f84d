"""Adapter: 亲情账户 and 家庭共济 links on the service's database (tables ``family_link`` and ``family_event``).

Approving a ``proxy`` link adds the relative's number to the requester's ``app_user.family_psn_nos`` in the
same transaction; unbinding removes it (and a link set when the login was created, which has no request row,
can be unbound too: the step is kept as a link row born unbound).  Each step is one transaction: the state,
the history row (the other side's notice) and the login change, or nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from yibao.access import family as core
from yibao.access.family import FamilyError
from yibao.access.schema import app_user, family_event, family_link
from yibao.access.store import ServiceStore


@dataclass(frozen=True)
class Event:
    at: str
    by_user_id: str
    action: str
    notify_user_id: str
    read_at: str | None


@dataclass(frozen=True)
class Link:
    link_id: str
    kind: str
    requester_user_id: str
    requester_psn_no: str
    relative_user_id: str
    relative_psn_no: str
    relation: str
    state: str
    requested_at: str
    decided_at: str | None
    ended_at: str | None
    events: tuple[Event, ...] = ()


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


class FamilyStore:
    """Links between insured logins, made and ended with consent."""

    def __init__(self, service: ServiceStore) -> None:
        self.service = service
        self.engine = service.engine

    # ------------------------------------------------------------------ reads
    def links_of(self, user_id: str) -> list[Link]:
        """Every link this login is a side of, newest first, each with its history (oldest step first)."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(family_link)
                .where(
                    sa.or_(
                        family_link.c.requester_user_id == user_id, family_link.c.relative_user_id == user_id
                    )
                )
                .order_by(family_link.c.requested_at.desc(), family_link.c.link_id)
            ).all()
            ids = [r.link_id for r in rows]
            evs: dict[str, list[Event]] = {}
            if ids:
                for e in c.execute(
                    sa.select(family_event).where(family_event.c.link_id.in_(ids)).order_by(family_event.c.id)
                ):
                    evs.setdefault(e.link_id, []).append(
                        Event(e.at, e.by_user_id, e.action, e.notify_user_id, e.read_at)
                    )
        return [
            Link(
                r.link_id,
                r.kind,
                r.requester_user_id,
                r.requester_psn_no,
                r.relative_user_id,
                r.relative_psn_no,
                r.relation,
                r.state,
                r.requested_at,
                r.decided_at,
                r.ended_at,
                tuple(evs.get(r.link_id, ())),
            )
            for r in rows
        ]

    def get(self, link_id: str, user_id: str) -> Link:
        """One link this login is a side of; another login's link looks exactly like a missing one."""
        for link in self.links_of(user_id):
            if link.link_id == link_id:
                return link
        raise FamilyError("link_id", "未找到该绑定 link not found", code="not_found")

    def unread(self, user_id: str) -> int:
        with self.engine.connect() as c:
            return int(
                c.execute(
                    sa.select(sa.func.count())
                    .select_from(family_event)
                    .where(family_event.c.notify_user_id == user_id, family_event.c.read_at.is_(None))
                ).scalar_one()
            )

    def notices(self, user_id: str, *, limit: int = 50) -> list[tuple[Event, Link]]:
        """The steps others took that concern this login, newest first, each with its link."""
        links = {link.link_id: link for link in self.links_of(user_id)}
        out = [(e, link) for link in links.values() for e in link.events if e.notify_user_id == user_id]
        return sorted(out, key=lambda el: el[0].at, reverse=True)[:limit]

    def mark_read(self, user_id: str, now: dt.datetime) -> None:
        with self.engine.begin() as c:
            c.execute(
                family_event.update()
                .where(family_event.c.notify_user_id == user_id, family_event.c.read_at.is_(None))
                .values(read_at=_iso(now))
            )

    def acting_for_me(self, psn_no: str) -> list[tuple[str, str]]:
        """(user_id, display name) of every other insured login whose family list holds ``psn_no``."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    app_user.c.user_id, app_user.c.display_name, app_user.c.psn_no, app_user.c.family_psn_nos
                )
                .where(app_user.c.role == "insured", app_user.c.active == 1)
                .where(app_user.c.family_psn_nos.contains(f'"{psn_no}"'))
            ).all()
        return [
            (r.user_id, r.display_name)
            for r in rows
            if r.psn_no != psn_no and psn_no in json.loads(r.family_psn_nos or "[]")
        ]

    def insured_login(self, psn_no: str) -> str | None:
        """The active insured login that is this person (who can consent), if any."""
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(app_user.c.user_id)
                .where(app_user.c.psn_no == psn_no, app_user.c.role == "insured", app_user.c.active == 1)
                .order_by(app_user.c.created)
            ).first()
        return str(r.user_id) if r else None

    # ------------------------------------------------------------------ steps
    def request(
        self,
        *,
        requester_user_id: str,
        requester_psn_no: str,
        relative_psn_no: str,
        relation: str,
        kind: str,
        now: dt.datetime,
    ) -> Link:
        """Ask the relative to consent.  The relative needs an insured login of their own (to consent)."""
        relative_user_id = self.insured_login(relative_psn_no)
        if relative_user_id is None:
            raise FamilyError(
                "certno", "对方尚未开通医保账号，无法确认授权 the relative has no login to consent with"
            )
        link_id = uuid.uuid4().hex
        at = _iso(now)
        with self.engine.begin() as c:
            open_links = [
                (r.relative_psn_no, r.kind)
                for r in c.execute(
                    sa.select(family_link.c.relative_psn_no, family_link.c.kind).where(
                        family_link.c.requester_user_id == requester_user_id,
                        family_link.c.state.in_(core.OPEN_STATES),
                    )
                )
            ]
            if kind == "proxy" and relative_psn_no in self._family_list(c, requester_user_id):
                open_links.append((relative_psn_no, "proxy"))  # linked when the login was created
            core.check_request(requester_psn_no, relative_psn_no, relation, kind, open_links)
            c.execute(
                family_link.insert().values(
                    link_id=link_id,
                    kind=kind,
                    requester_user_id=requester_user_id,
                    requester_psn_no=requester_psn_no,
                    relative_user_id=relative_user_id,
                    relative_psn_no=relative_psn_no,
                    relation=relation,
                    state="requested",
                    requested_at=at,
                )
            )
            self._event(c, link_id, at, requester_user_id, "request", relative_user_id)
        return self.get(link_id, requester_user_id)

    def act(self, link_id: str, user_id: str, action: str, now: dt.datetime) -> Link:
        """Approve, decline, cancel or unbind, as this login's side of the link allows."""
        at = _iso(now)
        with self.engine.begin() as c:
            r = c.execute(
                sa.select(family_link).where(family_link.c.link_id == link_id).with_for_update()
            ).first()
            side = core.side_of(user_id, r.requester_user_id, r.relative_user_id) if r else None
            if r is None or side is None:
                raise FamilyError("link_id", "未找到该绑定 link not found", code="not_found")
            new = core.next_state(r.state, action, side)
            values: dict[str, str] = {"state": new}
            if action in ("approve", "decline", "cancel"):
                values["decided_at"] = at
            if new in ("unbound", "declined", "cancelled"):
                values["ended_at"] = at
            c.execute(
                family_link.update()
                .where(family_link.c.link_id == link_id, family_link.c.state == r.state)
                .values(**values)
            )
            other = r.relative_user_id if side == "requester" else r.requester_user_id
            self._event(c, link_id, at, user_id, action, other)
            if r.kind == "proxy" and new == "approved":
                self._set_family(c, r.requester_user_id, add=r.relative_psn_no)
            if r.kind == "proxy" and new == "unbound":
                self._set_family(c, r.requester_user_id, drop=r.relative_psn_no)
        self.service.forget_cached(r.requester_user_id)
        return self.get(link_id, user_id)

    def unbind_unrequested(
        self, *, holder_user_id: str, relative_psn_no: str, by_user_id: str, now: dt.datetime
    ) -> Link:
        """End a proxy link set when the holder's login was created (no request row): by the holder or by
        the relative.  Kept as a link row born unbound, with its step in the history."""
        at = _iso(now)
        link_id = uuid.uuid4().hex
        with self.engine.begin() as c:
            holder = c.execute(sa.select(app_user).where(app_user.c.user_id == holder_user_id)).first()
            relative_user_id = self.insured_login(relative_psn_no) or ""
            if (
                holder is None
                or holder.psn_no == relative_psn_no
                or relative_psn_no not in self._family_list(c, holder_user_id)
                or by_user_id not in (holder_user_id, relative_user_id)
            ):
                raise FamilyError("link_id", "未找到该绑定 link not found", code="not_found")
            c.execute(
                family_link.insert().values(
                    link_id=link_id,
                    kind="proxy",
                    requester_user_id=holder_user_id,
                    requester_psn_no=holder.psn_no or "",
                    relative_user_id=relative_user_id,
                    relative_psn_no=relative_psn_no,
                    relation="other",
                    state="unbound",
                    requested_at=holder.created,
                    ended_at=at,
                )
            )
            other = relative_user_id if by_user_id == holder_user_id else holder_user_id
            self._event(c, link_id, at, by_user_id, "unbind", other)
            self._set_family(c, holder_user_id, drop=relative_psn_no)
        self.service.forget_cached(holder_user_id)
        return self.get(link_id, by_user_id)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _event(c: sa.Connection, link_id: str, at: str, by: str, action: str, notify: str) -> None:
        c.execute(
            family_event.insert().values(
                link_id=link_id, at=at, by_user_id=by, action=action, notify_user_id=notify
            )
        )

    @staticmethod
    def _family_list(c: sa.Connection, user_id: str) -> list[str]:
        raw = c.execute(sa.select(app_user.c.family_psn_nos).where(app_user.c.user_id == user_id)).scalar()
        return list(json.loads(raw or "[]"))

    def _set_family(self, c: sa.Connection, user_id: str, *, add: str = "", drop: str = "") -> None:
        raw = c.execute(
            sa.select(app_user.c.family_psn_nos).where(app_user.c.user_id == user_id).with_for_update()
        ).scalar()
        family = [k for k in json.loads(raw or "[]") if k != drop]
        if add and add not in family:
            family.append(add)
        c.execute(
            app_user.update().where(app_user.c.user_id == user_id).values(family_psn_nos=json.dumps(family))
        )
