"""Health checks for a load balancer or an orchestrator: ``/healthz`` (the process answers) and
``/readyz`` (the database and the ledger answer, else 503)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from yibao.web.deps import ledger_of, store_of

router = APIRouter(tags=["health 健康检查"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving requests (touches no database)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the database or the ledger does not answer"}})
def readyz(request: Request) -> JSONResponse:
    """Readiness: the ledger's connection (re-opened if it was lost) and the service database pool each
    answer one round trip; 503 with the failing part otherwise."""
    checks: dict[str, Any] = {}
    try:
        with ledger_of(request) as led:
            led.ping()
            checks["ledger_reconnects"] = led.reconnects
        checks["ledger"] = "ok"
    except Exception as exc:
        checks["ledger"] = f"不可用 unavailable ({type(exc).__name__})"
    try:
        with store_of(request).engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"不可用 unavailable ({type(exc).__name__})"
    ready = checks["ledger"] == "ok" and checks["database"] == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )
