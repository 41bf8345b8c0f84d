"""CSRF tokens on every form post (double-submit, synchroniser style).

* Every HTML page the service renders gets ``<input type="hidden" name="csrf_token" value="…">`` inserted
  into each ``<form method="post">``; the token is a random 256-bit value also set as the cookie
  ``yb_csrf`` (``HttpOnly``, ``SameSite=Strict``) on the first page a browser receives.
* A form post (``application/x-www-form-urlencoded`` or ``multipart/form-data``) made by a browser — one
  that sends ``Origin``, ``Referer`` or ``Sec-Fetch-Site``, as every browser does on a POST — must carry
  a ``csrf_token`` field equal to the cookie, else 403.  Programs that send none of those headers (API
  clients, scripts) cannot be driven by another site and are not asked for a token; JSON APIs are
  covered by the JSON-only content type and the origin check in :mod:`yibao.web.secure`.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import parse_qs

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "yb_csrf"
FIELD = "csrf_token"
_FORM = re.compile(rb"<form\b[^>]*\bmethod=[\"']?post[\"']?[^>]*>", re.I)
_MULTIPART_FIELD = re.compile(rb'name="csrf_token"\r\n\r\n([A-Za-z0-9_\-]{20,100})\r\n')
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(headers: dict[str, str]) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None


class CsrfTokens:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        cookie = _cookie(headers)
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        from_browser = any(h in headers for h in ("origin", "referer", "sec-fetch-site"))
        if scope.get("method") == "POST" and ctype in FORM_TYPES and from_browser:
            body = b""
            more = True
            while more:
                msg = await receive()
                body += msg.get("body", b"")
                more = bool(msg.get("more_body"))
            sent = _token_in(body, ctype)
            if not cookie or not sent or not hmac.compare_digest(sent, cookie):
                resp = JSONResponse(
                    {
                        "detail": "表单已过期或来源不明，请刷新页面后重试 missing or wrong CSRF token; reload the page"
                    },
                    status_code=403,
                )
                await resp(scope, receive, send)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay
        token = cookie or secrets.token_urlsafe(32)
        await self.app(scope, receive, _Inject(send, token, set_cookie=cookie is None))


def _token_in(body: bytes, ctype: str) -> str | None:
    if ctype == "multipart/form-data":
        m = _MULTIPART_FIELD.search(body)
        return m.group(1).decode() if m else None
    values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD)
    return values[0] if values else None


class _Inject:
    """Buffers an HTML response, inserts the hidden token field into each post form, sets the cookie."""

    def __init__(self, send: Send, token: str, *, set_cookie: bool) -> None:
        self.send, self.token, self.set_cookie = send, token, set_cookie
        self.start: Message | None = None
        self.html = False
        self.chunks: list[bytes] = []

    async def __call__(self, msg: Message) -> None:
        if msg["type"] == "http.response.start":
            ctype = next((v for k, v in msg.get("headers", []) if k.lower() == b"content-type"), b"")
            self.html = ctype.startswith(b"text/html")
            if not self.html:
                await self.send(msg)
                return
            self.start = msg
            return
        if msg["type"] != "http.response.body" or not self.html:
            await self.send(msg)
            return
        self.chunks.append(msg.get("body", b""))
        if msg.get("more_body"):
            return
        assert self.start is not None
        field = f'<input type="hidden" name="{FIELD}" value="{self.token}">'.encode()
        body = _FORM.sub(lambda m: m.group(0) + field, b"".join(self.chunks))
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        if self.set_cookie:
            headers.append(
                (b"set-cookie", f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode())
            )
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
