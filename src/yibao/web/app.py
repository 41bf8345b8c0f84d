"""The FastAPI application: auth, national transactions, REST resources, FHIR R4, and — when installed —
the portal and dashboard pages."""

from __future__ import annotations

import importlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute

from yibao.access.store import ServiceStore
from yibao.enrolment.model import ClaimHistory
from yibao.ledger import Ledger
from yibao.ledger.types import StoredSettlement
from yibao.policy.book import PolicyBook
from yibao.settings import Settings
from yibao.usecases.eligibility import ledger_claims, open_source
from yibao.web.limits import install_input_guards
from yibao.web.masking import install_log_masking
from yibao.web.warm import Warmer, warm_up

WEB_ROUTERS = (
    "yibao.web.portal.pages",
    "yibao.web.portal.care_pages",
    "yibao.web.portal.enrol_pages",
    "yibao.web.portal.smart_pages",
    "yibao.web.portal.crossregion_pages",
    "yibao.web.portal.consult_pages",
    "yibao.web.portal.finder_pages",
    "yibao.web.portal.progress_pages",
    "yibao.web.portal.family_pages",
    "yibao.web.dashboard.pages",
    "yibao.web.dashboard.fund_pages",
    "yibao.web.dashboard.enrol_pages",
    "yibao.web.dashboard.consult_pages",
    "yibao.web.dashboard.work_pages",
    "yibao.web.dashboard.hospital_pages",
)
STATIC_DIRS = {  # URL name -> folder under src/yibao
    "portal": "web/portal/static",
    "dashboard": "web/dashboard/static",
    "simulate": "simulate/static",
}


def _optional_router(app: FastAPI, module_name: str) -> bool:
    """Include ``module_name.router`` if the capability is installed; a module that offers
    ``render(request, name, ctx, status)`` (the portal) also renders the ``/login`` page."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return False  # capability not installed in this build
        raise
    app.include_router(module.router)
    if callable(getattr(module, "render", None)) and getattr(app.state, "login_renderer", None) is None:
        app.state.login_renderer = module.render
    if callable(getattr(module, "install_page_errors", None)):
        module.install_page_errors(app)  # errors on pages as a page, in the reader's language
    if callable(getattr(module, "install", None)):
        module.install(app)  # what the capability adds to every request's settle path
    if callable(getattr(module, "warm", None)):
        app.state.warmers.append((module_name, module.warm))  # run once in the lifespan (yibao.web.warm)
    return True


def route_table(app: FastAPI) -> list[tuple[frozenset[str], str]]:
    """Every (HTTP methods, path) the app serves, included routers flattened (FastAPI ≥ 0.120 keeps
    included routers as one route object each); mounts appear with no methods."""
    out: list[tuple[frozenset[str], str]] = []

    def walk(routes: list[BaseRoute] | list[object]) -> None:
        for r in routes:
            contexts = getattr(r, "effective_route_contexts", None)
            if contexts is not None:
                for ctx in contexts():
                    out.append((frozenset(getattr(ctx.original_route, "methods", None) or ()), ctx.path))
            elif isinstance(r, APIRoute) or hasattr(r, "methods"):
                out.append((frozenset(getattr(r, "methods", None) or ()), str(getattr(r, "path", ""))))
            else:
                out.append((frozenset(), str(getattr(r, "path", ""))))

    walk(list(app.routes))
    return out


def route_objects(app: FastAPI) -> dict[str, BaseRoute]:
    """The POST routes' objects by path, included routers flattened (the first of a path wins, as in
    matching)."""
    out: dict[str, BaseRoute] = {}
    for r in app.routes:
        contexts = getattr(r, "effective_route_contexts", None)
        pairs = (
            [(ctx.path, ctx.original_route) for ctx in contexts()]
            if contexts is not None
            else [(str(getattr(r, "path", "")), r)]
        )
        for path, route in pairs:
            if "POST" in (getattr(route, "methods", None) or ()):
                out.setdefault(path, route)
    return out


def _ledger_claims(app: FastAPI) -> Callable[[str], ClaimHistory]:
    """The zero-claim reward's history read from the process's ledger (under its lock)."""

    def read(psn_no: str) -> list[StoredSettlement]:
        with app.state.ledger_lock:
            return cast(Ledger, app.state.ledger).list_settlements(psn_no, 10_000)

    return ledger_claims(read)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service.  ``app.state``: ``settings``, ``ledger`` (one :class:`Ledger` per process; use
    :func:`yibao.web.deps.ledger_of` to hold it), ``ledger_lock``, ``book`` (:class:`PolicyBook`),
    ``store`` (:class:`ServiceStore`: users, sessions, access log).

    Static files: ``/static/<pkg>`` serves ``yibao/<pkg>/static`` for ``portal``, ``dashboard`` and
    ``simulate`` (the vendored ECharts) when that folder exists."""
    from yibao.web import auth, fhir, health, rest, secure, transactions

    settings = settings or Settings.from_env()
    ledger = Ledger.open(settings.database_url)
    if settings.migrate:
        ledger.migrate()
    book = PolicyBook.from_file(settings.region_path())
    store = ServiceStore(
        ledger.sa_url,
        session_hours=settings.session_hours,
        cache_seconds=settings.session_cache_seconds,
        access_flush_seconds=settings.access_log_flush_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_masking()  # here, in every worker, after uvicorn has configured its loggers
        if settings.warm_up:  # before the first request, so the first view does not pay for it
            await anyio.to_thread.run_sync(warm_up, app, list(app.state.warmers))
        yield
        store.close()
        ledger.close()
        if app.state.eligibility is not None:
            app.state.eligibility.store.close()
        covers = getattr(app.state, "covers", None)
        if covers is not None:
            covers.close()

    app = FastAPI(
        title="yibao 医保服务 API",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served from local files by yibao.web.secure (no CDN)
        redoc_url=None,
        description="National-style transactions (国家医保接口 envelope), REST resources and FHIR R4. "
        "See docs/API.md.",
    )
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.ledger_lock = threading.RLock()
    app.state.book = book
    app.state.store = store
    app.state.login_renderer = None
    app.state.warmers = cast(list[tuple[str, Warmer]], [])
    app.state.audit_hook = settings.audit_hook()
    app.state.eligibility = open_source(settings.database_url, book.loaded, _ledger_claims(app))
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(transactions.router)
    app.include_router(rest.router)
    app.include_router(fhir.router)
    _optional_router(app, "yibao.web.care")  # internet care and the voucher (/api/care)
    _optional_router(app, "yibao.web.smart")  # SMART App Launch: OAuth 2 server, discovery
    _optional_router(app, "yibao.web.crossregion")  # 异地就医: visitors via the hub, filings
    _optional_router(app, "yibao.web.employer")  # 参保单位: own roster, arrears and the monthly roster
    fhir.install_error_handlers(app)
    rest.install_error_handlers(app)
    transactions.install_direct(
        app, route_objects(app)
    )  # the national transactions without FastAPI's route matching
    secure.install_csrf(app)  # innermost of the three: the body limit below wraps it
    install_input_guards(app, settings)
    secure.install(app)
    if settings.mount_web:
        for name in WEB_ROUTERS:
            _optional_router(app, name)
    if not any(path == "/" for _, path in route_table(app)):

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse("/docs", status_code=307)

    base = Path(__file__).resolve().parent.parent
    for pkg, folder in STATIC_DIRS.items():
        d = base / folder
        if d.is_dir():
            app.mount(f"/static/{pkg}", StaticFiles(directory=d), name=f"static-{pkg}")
    return app
