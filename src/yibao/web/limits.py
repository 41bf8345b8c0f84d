"""Request limits applied before anything else runs (authentication included): the body size, and a
safety net that answers input the database or the parser cannot take (NUL bytes, unpaired surrogates,
numbers out of range, nesting too deep) with a 4xx naming the problem instead of a 500."""

from __future__ import annotations

import decimal
import json
import logging
import sqlite3
from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.db.connection import refusal_kind
from yibao.web.national import DATABASE_REFUSALS, RETRY_AFTER_SECONDS

log = logging.getLogger("yibao.web")
TRANSACTION_PATHS = ("/api/transaction", "/fsi/api/")


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"请求体过大（上限 {limit:,} 字节） request body larger than {limit:,} bytes"},
        status_code=413,
    )


class BodyLimit:
    """413 for a body over the limit: at once from ``Content-Length``, else while it streams in (the
    application sees a truncated body never)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_transaction_bytes: int) -> None:
        self.app, self.max_bytes, self.max_transaction_bytes = app, max_bytes, max_transaction_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.max_transaction_bytes if path.startswith(TRANSACTION_PATHS) else self.max_bytes
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return msg

        async def tracking(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited, tracking)
        except _BodyTooLarge:
            if not started:
                await _too_large(limit)(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises an HTTPException met while reading the body, so the
    exception handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求体过大（上限 {limit:,} 字节） request body larger than {limit:,} bytes")


def _bad_input(request: Request, exc: Exception, status: int, reason: str) -> JSONResponse:
    log.info("refused input on %s: %s", request.url.path, type(exc).__name__)
    return JSONResponse(
        {"detail": {"field": "input", "reason": reason, "code": "bad_input"}}, status_code=status
    )


def install_input_guards(app: FastAPI, settings: Any) -> None:
    """Add :class:`BodyLimit` and the handlers that turn un-storable input into a 4xx."""
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        max_transaction_bytes=settings.max_transaction_body_bytes,
    )

    async def data_error(request: Request, exc: Exception) -> JSONResponse:
        return _bad_input(
            request,
            exc,
            422,
            "输入值超出范围或含有无效字符 a value is out of range or contains invalid characters",
        )

    async def too_deep(request: Request, exc: Exception) -> JSONResponse:
        return _bad_input(request, exc, 400, "JSON 嵌套过深 the JSON is nested too deeply")

    async def bad_json(request: Request, exc: Exception) -> JSONResponse:
        return _bad_input(request, exc, 400, "JSON 格式错误 the body is not valid JSON")

    for kind in (
        psycopg.DataError,
        sqlalchemy.exc.DataError,
        OverflowError,
        decimal.Overflow,
        decimal.InvalidOperation,
        UnicodeEncodeError,
    ):
        app.add_exception_handler(kind, data_error)

    async def database_refused(request: Request, exc: Exception) -> JSONResponse:
        kind = refusal_kind(exc)
        if kind is None:
            raise exc
        log.warning("refused by the database on %s: %s (%s)", request.url.path, kind, type(exc).__name__)
        return JSONResponse(
            {"detail": {"field": "database", "reason": DATABASE_REFUSALS[kind], "code": kind}},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for failing in (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        sqlite3.OperationalError,
        sqlalchemy.exc.OperationalError,
    ):
        app.add_exception_handler(failing, database_refused)
    app.add_exception_handler(RecursionError, too_deep)
    app.add_exception_handler(json.JSONDecodeError, bad_json)
