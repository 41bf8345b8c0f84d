"""亲情账户 and 家庭共济 on the portal: ``/me/family`` lists my relatives with the relation, what I may do for
each and what a proxy may not see; I ask to act for a relative (ID number and name) or for a relative's
personal account to pay my share (家庭共济); the relative, logged in, agrees or declines on the same page;
either side unbinds at once.  Every step is dated and kept (:mod:`yibao.access.family_store`); the other
side's new steps are marked on their page until they have seen them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.access import family as fam
from yibao.access.family_store import Link
from yibao.access.principal import Principal
from yibao.ledger import LedgerError
from yibao.usecases import family as family_uc
from yibao.web.auth import require
from yibao.web.deps import ledger_of
from yibao.web.portal.pages import error_page, family_store, now_utc, render

router = APIRouter(include_in_schema=False)
STATUS = {"not_found": 404, "wrong_state": 409}
Insured = Annotated[Principal, Depends(require("insured"))]


def _names(request: Request, psn_nos: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    with ledger_of(request) as led:
        for psn in psn_nos:
            try:
                out[psn] = led.get_person(psn, dt.date.today()).name
            except LedgerError:
                out[psn] = psn
    return out


def _refused(request: Request, exc: fam.FamilyError) -> Response:
    return error_page(request, STATUS.get(exc.code, 422), exc.reason, exc.field)


def _sync_mutual_aid(request: Request, links: list[Link]) -> None:
    """Bring the ledger's 家庭共济 list (whose accounts may pay for the requester, the list the settlement
    checks the paying account against) in line with each 家庭共济 link's state as stored now: the relative
    is on the list while the link is approved, and off it once the link has ended.  The state is read again
    here, so a late step never undoes a later one, and opening /me/family repairs a step whose ledger write
    failed."""
    st = family_store(request)
    # (requester, relative) → that pair's newest 家庭共济 link, as stored now
    latest: dict[tuple[str, str], Link] = {}
    for old in links:
        if old.kind != "mutual_aid":
            continue
        link = st.get(old.link_id, old.requester_user_id)
        key = (link.requester_psn_no, link.relative_psn_no)
        if key not in latest or link.requested_at > latest[key].requested_at:
            latest[key] = link
    wanted = {
        key: link.state == "approved" for key, link in latest.items() if link.state in ("approved", "unbound")
    }
    if not wanted:
        return
    with ledger_of(request) as led:
        for (psn_no, payer), on in wanted.items():
            has = payer in led.get_person(psn_no, dt.date.today()).family
            if on and not has:
                family_uc.payer_agreed(led, psn_no, payer)
            elif has and not on:
                family_uc.payer_withdrawn(led, psn_no, payer)


@router.get("/me/family", response_class=HTMLResponse)
def my_family(request: Request, p: Insured) -> Response:
    """My relatives both ways, the requests waiting, 家庭共济, the rules for a proxy and the history."""
    assert p.psn_no is not None
    st = family_store(request)
    links = st.links_of(p.user_id)
    _sync_mutual_aid(request, [x for x in links if x.requester_user_id == p.user_id])
    unread_links = {
        link.link_id
        for link in links
        for e in link.events
        if e.notify_user_id == p.user_id and e.read_at is None
    }
    st.mark_read(p.user_id, now_utc())
    proxies_for_me = st.acting_for_me(p.psn_no)
    people = {link.requester_psn_no for link in links} | {link.relative_psn_no for link in links}
    names = _names(request, people | set(p.family_psn_nos))
    logins = {u.user_id: u.display_name for u in request.app.state.store.list_users() if u.role == "insured"}

    def approved(kind: str, mine: bool) -> list[Link]:
        return [
            link
            for link in links
            if link.kind == kind
            and link.state == "approved"
            and (link.requester_user_id == p.user_id) == mine
        ]

    relation_of = {link.relative_psn_no: link for link in approved("proxy", True)}
    i_act_for = [
        {"psn_no": psn, "name": names.get(psn, psn), "link": relation_of.get(psn)}
        for psn in p.family_psn_nos
        if psn != p.psn_no
    ]
    granted = {link.requester_user_id: link for link in approved("proxy", False)}
    act_for_me = [{"user_id": uid, "name": name, "link": granted.get(uid)} for uid, name in proxies_for_me]
    return render(
        request,
        "family.html",
        {
            "me": p,
            "links": links,
            "names": names,
            "logins": logins,
            "unread_links": unread_links,
            "i_act_for": i_act_for,
            "act_for_me": act_for_me,
            "my_payer": approved("mutual_aid", True),
            "i_pay_for": approved("mutual_aid", False),
            "to_answer": [
                link for link in links if link.state == "requested" and link.relative_user_id == p.user_id
            ],
            "asked": [
                link for link in links if link.state == "requested" and link.requester_user_id == p.user_id
            ],
            "RELATIONS": fam.RELATIONS,
            "KINDS": fam.KINDS,
            "FSTATES": fam.STATES,
            "ACTIONS": fam.ACTIONS,
            "relation_seen_by": fam.relation_seen_by,
            "PROXY_MAY": fam.PROXY_MAY,
            "PROXY_MAY_NOT": fam.PROXY_MAY_NOT,
            "done": request.query_params.get("done", ""),
        },
    )


@router.post("/me/family/request")
def request_link(
    request: Request,
    p: Insured,
    certno: Annotated[str, Form()],
    name: Annotated[str, Form()],
    relation: Annotated[str, Form()],
    kind: Annotated[str, Form()] = "proxy",
) -> Response:
    """Ask a relative (their ID number and name, both as on record) to consent to a link."""
    assert p.psn_no is not None
    with ledger_of(request) as led:
        psn = led.psn_no_by_certno(certno.strip().upper())
        on_record = led.get_person(psn, dt.date.today()).name if psn else None
    if psn is None or on_record != name.strip():
        # the same answer for an unknown number and a wrong name: the form tells nobody who is insured
        raise fam.FamilyError(
            "certno", "身份证号与姓名不匹配或未参保 the ID number and name do not match an insured person"
        )
    try:
        family_store(request).request(
            requester_user_id=p.user_id,
            requester_psn_no=p.psn_no,
            relative_psn_no=psn,
            relation=relation,
            kind=kind,
            now=now_utc(),
        )
    except fam.FamilyError as exc:
        return _refused(request, exc)
    return RedirectResponse("/me/family?done=request", status_code=303)


@router.post("/me/family/unlink")
def unlink_unrequested(
    request: Request,
    p: Insured,
    holder: Annotated[str, Form()],
    psn_no: Annotated[str, Form()],
) -> Response:
    """Unbind a link made when a login was created (no request on record): the holder or the relative."""
    try:
        family_store(request).unbind_unrequested(
            holder_user_id=holder, relative_psn_no=psn_no, by_user_id=p.user_id, now=now_utc()
        )
    except fam.FamilyError as exc:
        return _refused(request, exc)
    if psn_no != p.psn_no and request.cookies.get("yb_psn") == psn_no:
        resp = RedirectResponse("/me/family?done=unbind", status_code=303)
        resp.delete_cookie("yb_psn", path="/")
        return resp
    return RedirectResponse("/me/family?done=unbind", status_code=303)


@router.post("/me/family/{link_id}/{action}")
def act_on_link(request: Request, p: Insured, link_id: str, action: str) -> Response:
    """Agree, decline, withdraw a request, or unbind — as my side of the link allows."""
    try:
        link = family_store(request).act(link_id, p.user_id, action, now_utc())
    except fam.FamilyError as exc:
        return _refused(request, exc)
    if link.kind == "mutual_aid":
        _sync_mutual_aid(request, [link])
    resp = RedirectResponse(f"/me/family?done={action}", status_code=303)
    if link.state == "unbound" and request.cookies.get("yb_psn") == link.relative_psn_no:
        resp.delete_cookie("yb_psn", path="/")
    return resp
