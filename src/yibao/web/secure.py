"""Browser-facing protections on every response and request: security headers (CSP, no framing, no
MIME sniffing, no referrer leak, ``no-store`` on everything but static files), a same-origin check on
cookie-authenticated state-changing requests (CSRF, together with the ``SameSite=Lax`` session cookie),
validation errors that never echo a password, and the API documentation served from local files."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.errors import validation_reason

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
# the API documentation pages start Swagger UI / ReDoc with an inline script (their files are local)
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: under no-referrer a browser sends ``Origin: null`` on every form post
    # (Fetch standard, "serialize a request origin"), which the cross-site check must refuse; nothing
    # leaves for other sites either way
    (b"referrer-policy", b"same-origin"),
]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_FIELDS = frozenset({"password", "old_password", "new_password", "client_secret", "token", "code"})


class SecurityHeaders:
    """Adds :data:`HEADERS` to every response, ``Cache-Control: no-store`` to everything but static
    files (personal pages and API answers are never cached), and refuses a cookie-authenticated unsafe
    request whose ``Origin`` (or, lacking it, ``Referer``) names another site (403)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if scope.get("method") in UNSAFE and _cross_site(scope):
            resp = JSONResponse(
                {"detail": "跨站请求被拒绝 cross-site request refused (Origin does not match this site)"},
                status_code=403,
            )
            await resp(scope, receive, send)
            return
        static = path.startswith("/static/")
        csp = (DOCS_CSP if path in DOCS_PATHS else CSP).encode()

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in HEADERS if k not in have)
                if b"content-security-policy" not in have:
                    headers.append((b"content-security-policy", csp))
                if not static and b"cache-control" not in have:
                    headers.append((b"cache-control", b"no-store"))
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)


def _cross_site(scope: Scope) -> bool:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    if "authorization" in headers or "yb_session=" not in headers.get("cookie", ""):
        return False  # a bearer token is not sent by a browser on its own: no CSRF
    host = headers.get("host", "")
    source = str(headers.get("origin") or headers.get("referer") or "")
    if not source or source == "null":
        return source == "null"
    return bool(str(urlsplit(source).netloc) != host)


def _scrub(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors without the submitted value of a secret field, long inputs cut short, and each
    message Chinese first."""
    out = []
    for e in errors:
        e = dict(e)
        loc = [str(x) for x in e.get("loc", ())]
        if any(x in SECRET_FIELDS for x in loc):
            e.pop("input", None)
            e.pop("ctx", None)
        elif isinstance(e.get("input"), str) and len(e["input"]) > 200:
            e["input"] = e["input"][:200] + "…"
        e["msg"] = validation_reason(e)  # Chinese first, then pydantic's English
        out.append(e)
    return out


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with :func:`_scrub` applied (and values such as Decimal made JSON-safe)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": jsonable_encoder(_scrub(list(exc.errors())))}, status_code=422)


def install_csrf(app: FastAPI) -> None:
    """The CSRF token middleware; add it before the body limit so that the limit wraps it."""
    from yibao.web.csrf import CsrfTokens

    app.add_middleware(CsrfTokens)


def install(app: FastAPI) -> None:
    """Security headers (outermost) and the local API documentation."""
    app.add_middleware(SecurityHeaders)
    import fastapi_standalone_docs

    static = Path(fastapi_standalone_docs.__file__).parent / "static"
    app.mount("/static/apidocs", StaticFiles(directory=static), name="static-apidocs")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} — Swagger UI",
            swagger_js_url="/static/apidocs/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/apidocs/swagger/swagger-ui.css",
            swagger_favicon_url="/static/apidocs/fastapi/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} — ReDoc",
            redoc_js_url="/static/apidocs/redoc/redoc.standalone.js",
            redoc_favicon_url="/static/apidocs/fastapi/favicon.png",
            with_google_fonts=False,
        )
