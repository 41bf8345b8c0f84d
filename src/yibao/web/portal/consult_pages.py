"""Public pages of co-governance (共治): the bureau's consultations on draft policies (征求意见), open to
everyone — anonymous visitors included — with the draft's simulated impact in plain words, the opinions,
the hearings and, once closed, the bureau's answer to each theme and the adoption rate.  Anyone logged in
may give an opinion while the period is open.  (The bureau's management pages are
:mod:`yibao.web.dashboard.consult_pages`.)"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.consult import core
from yibao.consult.impact import QUINTILES, explain
from yibao.consult.store import Consultation, ConsultStore
from yibao.web.auth import _token, current_principal
from yibao.web.portal.pages import error_page, now_utc, render

router = APIRouter(include_in_schema=False)


def clock() -> dt.datetime:
    """Now (UTC, aware): the one clock of these pages."""
    return now_utc()


def consult_store(request: Request) -> ConsultStore:
    st = getattr(request.app.state, "consult_store", None)
    if st is None:
        st = request.app.state.consult_store = ConsultStore(
            request.app.state.store.engine, core.load_params()
        )
    return cast(ConsultStore, st)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the consultation store and its parameters."""
    consult_store(request)


def viewer(request: Request) -> Principal | None:
    """The logged-in caller, or None for an anonymous visitor (these pages are public)."""
    token = _token(request)
    if not token or request.app.state.store.user_for_token(token) is None:
        return None
    return current_principal(request)


def consult_error(request: Request, exc: core.ConsultError) -> Response:
    """A refused act as a page: 404 for what does not exist, 409 for what the phase forbids, else 422."""
    status = (
        404
        if exc.code.startswith("unknown_")
        else 409
        if exc.code in ("bad_transition", "conflict", "closed", "incomplete")
        else 422
    )
    return error_page(request, status, exc.reason, exc.field)


def days_left(c: Consultation, now: dt.datetime) -> int | None:
    """Whole days left until the deadline (0 on its last day), None when there is no deadline."""
    if c.deadline is None or c.last_day is None:
        return None
    return (c.last_day - core.beijing_day(now)).days


def page_context(request: Request, c: Consultation, p: Principal | None, now: dt.datetime) -> dict[str, Any]:
    """What the public detail page (and the bureau's page) shows of a consultation."""
    store = consult_store(request)
    staff = p is not None and p.role in core.STAFF_ROLES
    opinions = store.opinions(c.consult_id, staff=staff, reader_id=p.user_id if p else "")
    themes = store.themes(c.consult_id)
    return {
        "c": c,
        "phase": c.phase(now),
        "days_left": days_left(c, now),
        "impact_text": explain(c.impact) if c.impact else None,
        "opinions": opinions,
        "visible": sum(1 for o in opinions if o.hidden_reason is None),
        "themes": themes,
        "theme_names": {t.id: t.title for t in themes},
        "hearings": store.hearings(c.consult_id),
        "adoption": store.adoption(c.consult_id),
        "percent": core.percent,
        "CONSULT_STATUSES": core.STATUSES,
        "DECISIONS": core.DECISIONS,
        "QUINTILES": QUINTILES,
        "params": store.params,
        "viewer": p,
    }


@router.get("/consult", response_class=HTMLResponse)
def consult_list(request: Request) -> Response:
    """Every published consultation, newest first: open ones with their deadline, closed ones with
    their adoption rate."""
    p = viewer(request)
    store = consult_store(request)
    now = clock()
    rows = [
        (c, c.phase(now), days_left(c, now), store.adoption(c.consult_id)) for c in store.listing(public=True)
    ]
    return render(
        request,
        "consult_list.html",
        {
            "rows": rows,
            "viewer": p,
            "mine": store.commented_by(p.user_id) if p else {},
            "percent": core.percent,
            "CONSULT_STATUSES": core.STATUSES,
        },
    )


def _public(request: Request, consult_id: str) -> Consultation:
    try:
        c = consult_store(request).get(consult_id)
    except core.ConsultError:
        c = None
    if c is None or c.published_at is None:  # a draft looks exactly like a missing page
        raise core.ConsultError(
            "consult_id", "未找到该征求意见 consultation not found", "unknown_consultation"
        )
    return c


@router.get("/consult/{consult_id}", response_class=HTMLResponse)
def consult_page(request: Request, consult_id: str) -> Response:
    try:
        c = _public(request, consult_id)
    except core.ConsultError as exc:
        return consult_error(request, exc)
    p = viewer(request)
    ctx = page_context(request, c, p, clock())
    ctx["sent"] = request.query_params.get("sent") == "1"
    return render(request, "consult.html", ctx)


@router.post("/consult/{consult_id}/opinions")
def give_opinion(
    request: Request,
    consult_id: str,
    body: Annotated[str, Form()] = "",
    about: Annotated[str, Form()] = "",
    anonymous: Annotated[str, Form()] = "",
) -> Response:
    """An opinion from anyone logged in, while the period is open."""
    p = viewer(request)
    if p is None:
        return RedirectResponse(f"/login?next=/consult/{consult_id}", status_code=303)
    try:
        _public(request, consult_id)
        consult_store(request).add_opinion(
            consult_id,
            author_id=p.user_id,
            author_role=p.role,
            display_name=p.display_name,
            anonymous=anonymous == "1",
            about=about,
            body=body,
            now=clock(),
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return RedirectResponse(f"/consult/{consult_id}?sent=1#opinions", status_code=303)
