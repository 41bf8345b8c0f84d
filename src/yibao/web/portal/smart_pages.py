"""The person's side of SMART App Launch: the consent page an app sends them to (``/oauth/authorize``),
and the list of apps they allowed, where each consent can be withdrawn at once (``/me/apps``).

Chinese first, ``?big=1`` large text (长辈模式) as every portal page; the consent page says in plain words
which app asks, for whose data and for what, and lets the person narrow it (fewer kinds of data, or a
family member's record instead of their own)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.smart import scopes as sc
from yibao.web.auth import require
from yibao.web.portal.pages import _family, render
from yibao.web.smart import error_redirect, oauth_request, oauth_server, smart_store

router = APIRouter(include_in_schema=False)
Insured = Annotated[Principal, Depends(require("insured"))]
KEPT = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "aud",
)


def _caller(request: Request) -> Principal | None:
    from yibao.web.auth import _token

    token = _token(request)
    if not token:
        return None
    user = request.app.state.store.user_for_token(token)
    if user is None:
        return None
    from yibao.access.principal import principal_of

    p = principal_of(user)
    request.state.principal = p
    return p


def _error_page(request: Request, message: str, status: int = 400) -> Response:
    return render(request, "smart_error.html", {"message": message}, status)


@router.get("/oauth/authorize", response_class=HTMLResponse)
def authorize_page(request: Request) -> Response:
    p = _caller(request)
    if p is None:
        target = request.url.path + ("?" + request.url.query if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    data = {k: v for k, v in request.query_params.items() if k in KEPT}
    srv = oauth_server(request)
    req = oauth_request(request, data)
    try:
        grant = srv.get_authorization_grant(req)
        redirect_uri = grant.validate_authorization_request()
    except OAuth2Error as exc:
        uri = getattr(exc, "redirect_uri", None)
        if uri:
            return RedirectResponse(
                error_redirect(uri, exc.error or "invalid_request", data.get("state")), 302
            )
        return _error_page(request, f"授权请求无效：{exc.description or exc.error} (invalid request)")
    if p.role != "insured":
        return RedirectResponse(error_redirect(redirect_uri, "access_denied", data.get("state")), 302)
    app = smart_store(request).get_app(data["client_id"])
    assert app is not None
    granted = sc.split(req.scope or "")
    params = {**data, "redirect_uri": redirect_uri, "scope": " ".join(granted)}
    pending = smart_store(request).create_pending(p.user_id, params)
    return render(
        request,
        "smart_consent.html",
        {
            "app": app,
            "pending": pending,
            "scopes": [(s, *sc.describe(s)) for s in sc.expand(granted)],
            "family": _family(request, p),
            "me": p.psn_no,
        },
    )


@router.post("/oauth/authorize", response_class=HTMLResponse)
async def authorize_decision(request: Request) -> Response:
    p = _caller(request)
    if p is None or p.role != "insured":
        return _error_page(request, "请先以参保人身份登录 please log in as the insured person", 401)
    form = await request.form()
    params = smart_store(request).take_pending(str(form.get("pending") or ""), p.user_id)
    if params is None:
        return _error_page(
            request,
            "授权页面已过期或已使用，请回到应用重新发起 the consent page expired; start again from the app",
        )
    srv = oauth_server(request)
    req = oauth_request(request, params)
    grant = srv.get_authorization_grant(req)
    asked = sc.split(params.get("scope", ""))
    chosen = [s for s in dict.fromkeys(str(x) for x in form.getlist("scope")) if sc.within(s, asked)]
    patient = str(form.get("patient") or p.psn_no)
    allowed = form.get("decision") == "allow" and patient in p.family_psn_nos and sc.readable_types(chosen)
    user: dict[str, str] | None = None
    if allowed:
        scope = " ".join([s for s in asked if s in sc.CONTEXT_SCOPES] + chosen)
        user = {"user_id": p.user_id, "psn_no": patient, "scope": scope}
    resp = srv.create_authorization_response(req, grant_user=user, grant=grant)
    assert isinstance(resp, Response)
    return resp


@router.get("/me/apps", response_class=HTMLResponse)
def my_apps(request: Request, p: Insured) -> Response:
    grants = smart_store(request).grants_for(p.user_id)
    names = {f["psn_no"]: f["name"] for f in _family(request, p)}
    rows: list[dict[str, Any]] = []
    for g in grants:
        rows.append(
            {
                "g": g,
                "whose": names.get(g.psn_no, g.psn_no),
                "what": [sc.describe(s) for s in sc.split(g.scope) if sc.parse(s) is not None],
                "created": _beijing(g.created),
                "revoked": _beijing(g.revoked) if g.revoked else None,
            }
        )
    store = request.app.state.store
    reads = [e for psn in p.family_psn_nos for e in store.access_entries(psn, limit=200) if e.role == "app"]
    reads.sort(key=lambda e: e.id, reverse=True)
    return render(
        request,
        "smart_apps.html",
        {
            "rows": rows,
            "reads": reads[:100],
            "names": names,
            "done": request.query_params.get("revoked") == "1",
        },
    )


@router.post("/me/apps/{grant_id}/revoke")
def revoke_app(request: Request, p: Insured, grant_id: str) -> Response:
    smart_store(request).revoke_grant(grant_id, p.user_id)
    return RedirectResponse("/me/apps?revoked=1", status_code=303)


def _beijing(value: str) -> str:
    t = dt.datetime.fromisoformat(value)
    return (t.astimezone(dt.timezone(dt.timedelta(hours=8)))).strftime("%Y-%m-%d %H:%M")
