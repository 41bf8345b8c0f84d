"""Who is calling: logins, sessions and the caller of a request.

Login (``POST /auth/login`` JSON, or the ``/login`` HTML form) opens a session: an opaque token returned
in the body and set as the HttpOnly cookie ``yb_session``; later requests carry it as
``Authorization: Bearer <token>`` or as that cookie.  The roles and what each may read are
:mod:`yibao.access.principal`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Annotated, cast

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yibao.access.principal import ROLE_NAMES, Principal, principal_of
from yibao.access.store import ServiceStore, UserError, UserRow
from yibao.access.throttle import LoginThrottle

COOKIE = "yb_session"


def _store(request: Request) -> ServiceStore:
    return cast(ServiceStore, request.app.state.store)


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.cookies.get(COOKIE) or None


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, or 401 (a browser asking for a page is sent to ``/login``)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = _token(request)
    return _principal(request, _store(request).user_for_token(token) if token else None)


async def current_principal_async(request: Request) -> Principal:
    """:func:`current_principal` for the hot path: a session this worker checked recently is answered on
    the event loop; otherwise the database is asked from the thread pool."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = _token(request)
    store = _store(request)
    user = (
        (store.cached_user(token) or await run_in_threadpool(store.user_for_token, token)) if token else None
    )
    return _principal(request, user)


def _principal(request: Request, user: UserRow | None) -> Principal:
    if user is None:
        if _wants_html(request):
            raise HTTPException(
                303, "请先登录 login required", headers={"Location": f"/login?next={request.url.path}"}
            )
        raise HTTPException(
            401, "未登录或会话已过期 not logged in or session expired", headers={"WWW-Authenticate": "Bearer"}
        )
    if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        if _wants_html(request):
            raise HTTPException(
                303, "请先修改密码 change your password first", headers={"Location": "/password"}
            )
        raise HTTPException(
            403,
            "首次登录或密码被重置，请先修改密码 (POST /auth/password) "
            "the password must be changed before anything else",
        )
    if user.role == "employer" and not _employer_path(request.url.path):
        # an employer login reaches its own pages and API only: no route written for the other roles
        # (whose last branch is often "the bureau: everything") can be reached with it
        raise HTTPException(
            403,
            "参保单位账号只能使用单位参保与申报功能 an employer login may use the employer pages and API only",
        )
    p = principal_of(user)
    request.state.principal = p
    return p


# what a login that must change its password may still do
PASSWORD_CHANGE_PATHS = frozenset(
    {"/auth/password", "/auth/logout", "/auth/me", "/password", "/portal/logout"}
)
# what an employer login (参保单位) may reach: its own roster pages and API, and its session
EMPLOYER_PATHS = ("/api/employer/", "/dashboard/employer", "/dashboard/enrolment/employers/")


def _employer_path(path: str) -> bool:
    return path == "/" or path in PASSWORD_CHANGE_PATHS or path.startswith(EMPLOYER_PATHS)


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency factory: the caller if their role is one of ``roles``, else 403."""
    allowed = frozenset(roles)

    def dependency(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if p.role not in allowed:
            zh, en = ROLE_NAMES.get(p.role, (p.role, p.role))
            who_zh = "、".join(ROLE_NAMES.get(r, (r, r))[0] for r in sorted(allowed))
            raise HTTPException(
                403,
                f"{zh}无权访问此功能，仅限{who_zh} {en} may not do this "
                f"(allowed: {', '.join(sorted(allowed))})",
            )
        return p

    return dependency


def _throttle(request: Request) -> LoginThrottle:
    t = getattr(request.app.state, "login_throttle", None)
    if t is None:
        s = request.app.state.settings
        t = request.app.state.login_throttle = LoginThrottle(
            max_failures=s.login_max_failures,
            max_failures_ip=s.login_max_failures_ip,
            window=s.login_lockout_seconds,
            lockout=s.login_lockout_seconds,
        )
    return cast(LoginThrottle, t)


class LockedOut(HTTPException):
    def __init__(self, seconds: int) -> None:
        super().__init__(
            429,
            f"密码错误次数过多，请 {seconds} 秒后再试 too many wrong passwords; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def _authenticate(request: Request, username: str, password: str) -> UserRow | None:
    """:meth:`ServiceStore.authenticate` behind the login throttle (raises :class:`LockedOut`)."""
    throttle = _throttle(request)
    ip = request.client.host if request.client else "?"
    wait = throttle.retry_after(username, ip)
    if wait:
        raise LockedOut(wait)
    user = _store(request).authenticate(username, password)
    if user is None:
        throttle.failed(username, ip)
    else:
        throttle.succeeded(username)
    return user


# ---------------------------------------------------------------------- routes
router = APIRouter(tags=["auth 登录"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class LoginOut(BaseModel):
    token: str
    role: str
    display_name: str
    must_change_password: bool = Field(
        False, description="true: only POST /auth/password (and logout) work until the password is changed"
    )


class PasswordIn(BaseModel):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    user_id: str
    role: str
    display_name: str
    psn_no: str | None
    family_psn_nos: list[str]
    fixmedins_code: str | None
    emp_no: str | None = None


def _set_cookie(request: Request, response: Response, token: str) -> None:
    s = request.app.state.settings
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=s.cookie_secure,
        max_age=int(s.session_hours * 3600),
        path="/",
    )


@router.post(
    "/auth/login", response_model=LoginOut, responses={401: {"description": "wrong username or password"}}
)
def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
    """Password login → opaque session token (also set as the HttpOnly cookie ``yb_session``).  After
    repeated wrong passwords the username (and the client address) is locked for a while: 429."""
    store = _store(request)
    user = _authenticate(request, body.username, body.password)
    if user is None:
        raise HTTPException(401, "用户名或密码错误 wrong username or password")
    token = store.open_session(user.user_id)
    _set_cookie(request, response, token)
    return LoginOut(
        token=token,
        role=user.role,
        display_name=user.display_name,
        must_change_password=user.must_change_password,
    )


def _change_password(request: Request, user_id: str, old: str, new: str) -> None:
    try:
        _store(request).change_password(user_id, old, new, keep_session=_token(request))
    except UserError as exc:
        raise HTTPException(422, f"{exc.reason} ({exc.field})") from exc


@router.post(
    "/auth/password",
    status_code=204,
    responses={422: {"description": "wrong current password, or the new password is refused"}},
)
def change_password(
    body: PasswordIn, request: Request, p: Annotated[Principal, Depends(current_principal)]
) -> None:
    """Change the caller's own password (required first after an administrator's reset or a new login).
    Every other session of the login ends."""
    _change_password(request, p.user_id, body.old_password, body.new_password)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, p: Annotated[Principal, Depends(current_principal)]) -> None:
    """End this session (the token stops working; other workers within ``session_cache_seconds``)."""
    token = _token(request)
    if token:
        _store(request).close_session(token)
    response.delete_cookie(COOKIE, path="/")


@router.get("/auth/me", response_model=Me)
def me(p: Annotated[Principal, Depends(current_principal)]) -> Me:
    return Me(
        user_id=p.user_id,
        role=p.role,
        display_name=p.display_name,
        psn_no=p.psn_no,
        family_psn_nos=list(p.family_psn_nos),
        fixmedins_code=p.fixmedins_code,
        emp_no=p.emp_no,
    )


def _safe_next(target: str | None) -> str:
    # only local paths: no open redirect to another site
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, next_: str, error: str | None, status: int) -> Response:
    # the portal's page (its ``render(request, "login.html", ctx, status)``) when the portal is mounted
    renderer = getattr(request.app.state, "login_renderer", None)
    if renderer is not None:
        ctx = {"next": next_, "error": error, "demo": request.app.state.settings.demo}
        return cast(Response, renderer(request, "login.html", ctx, status))
    err = f'<p role="alert" style="color:#b00">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 Login · yibao 医保</title></head>
<body style="font-family:sans-serif;max-width:24rem;margin:3rem auto;font-size:1.15rem">
<h1>医保服务登录 <small>Login</small></h1>{err}
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(next_)}">
<p><label>用户名 Username<br><input name="username" autocomplete="username" required></label></p>
<p><label>密码 Password<br><input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">登录 Log in</button></p></form></body></html>"""
    return HTMLResponse(body, status_code=status)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_page(request, _safe_next(next), None, 200)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request) -> Response:
    form = await request.form()
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    next_ = _safe_next(str(form.get("next") or "/"))
    store = _store(request)
    try:
        user = (
            await run_in_threadpool(_authenticate, request, username, password)
            if username and password
            else None
        )
    except LockedOut as exc:
        return _login_page(request, next_, str(exc.detail), 429)
    if user is None:
        return _login_page(request, next_, "用户名或密码错误 Wrong username or password", 401)
    token = store.open_session(user.user_id)
    resp = RedirectResponse("/password" if user.must_change_password else next_, status_code=303)
    _set_cookie(request, resp, token)
    return resp


def _password_page(error: str | None, status: int, done: bool = False) -> HTMLResponse:
    err = f'<p role="alert" style="color:#b00">{html.escape(error)}</p>' if error else ""
    ok = '<p role="status">密码已修改 Password changed. <a href="/">继续 Continue</a></p>' if done else ""
    body = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>修改密码 Change password · yibao 医保</title></head>
<body style="font-family:sans-serif;max-width:24rem;margin:3rem auto;font-size:1.15rem">
<h1>修改密码 <small>Change password</small></h1>{err}{ok}
<form method="post" action="/password">
<p><label>当前密码 Current password<br><input name="old_password" type="password" autocomplete="current-password" required></label></p>
<p><label>新密码 New password (至少 8 个字符 at least 8 characters)<br><input name="new_password" type="password" autocomplete="new-password" minlength="8" required></label></p>
<p><button type="submit">修改 Change</button></p></form></body></html>"""
    return HTMLResponse(body, status_code=status)


@router.get("/password", response_class=HTMLResponse, include_in_schema=False)
def password_page(p: Annotated[Principal, Depends(current_principal)]) -> Response:
    return _password_page(None, 200)


@router.post("/password", response_class=HTMLResponse, include_in_schema=False)
async def password_form(request: Request) -> Response:
    p = await current_principal_async(request)
    form = await request.form()
    old, new = str(form.get("old_password") or ""), str(form.get("new_password") or "")
    try:
        await run_in_threadpool(_change_password, request, p.user_id, old, new)
    except HTTPException as exc:
        return _password_page(str(exc.detail), exc.status_code)
    return _password_page(None, 200, done=True)


Caller = Annotated[Principal, Depends(current_principal)]
