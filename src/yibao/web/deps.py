"""What a route needs, as FastAPI dependencies with ``Annotated`` aliases: the settings, the policy book,
the ledger (one raw connection per process, held under a lock), the access store, the in-event audit
hook, the caller and an access log bound to the request.  Routes declare them; use cases receive them
as plain arguments."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, cast

from fastapi import Depends, Request

from yibao.access.principal import Principal, as_user
from yibao.access.store import ServiceStore
from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook
from yibao.settings import Settings
from yibao.settlement.model import AuditHook
from yibao.usecases.eligibility import EligibilitySource
from yibao.usecases.settlement import AccessLog, CoverSource


@contextmanager
def ledger_of(request: Request) -> Iterator[Ledger]:
    """``with ledger_of(request) as led:`` — the process's ledger, held under a re-entrant lock, because
    one :class:`~yibao.ledger.Ledger` is one database connection and sync routes run on several threads."""
    lock = cast(threading.RLock, request.app.state.ledger_lock)
    with lock:
        yield cast(Ledger, request.app.state.ledger)


def _ledger(request: Request) -> Iterator[Ledger]:
    with ledger_of(request) as led:
        yield led


def book_of(request: Request) -> PolicyBook:
    return cast(PolicyBook, request.app.state.book)


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def store_of(request: Request) -> ServiceStore:
    return cast(ServiceStore, request.app.state.store)


def audit_hook_of(request: Request) -> AuditHook | None:
    return cast("AuditHook | None", request.app.state.audit_hook)


def eligibility_of(request: Request) -> EligibilitySource | None:
    """Where the benefit check (待遇享受检查) reads enrolment statuses (None: the region has no enrolment file)."""
    return cast("EligibilitySource | None", request.app.state.eligibility)


def covers_of(request: Request) -> CoverSource | None:
    """Where the person's commercial products are read for a settlement (None: internet care not installed)."""
    return cast("CoverSource | None", getattr(request.app.state, "covers", None))


def access_log_of(request: Request) -> AccessLog:
    """Record that the caller read something of a person (个人信息访问记录), with this request's path."""
    store = store_of(request)
    where = request.url.path

    def log(p: Principal, psn_no: str, what: str) -> None:
        store.log_access(as_user(p), psn_no, what, where)

    return log


LedgerDep = Annotated[Ledger, Depends(_ledger)]
BookDep = Annotated[PolicyBook, Depends(book_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
StoreDep = Annotated[ServiceStore, Depends(store_of)]
AuditHookDep = Annotated["AuditHook | None", Depends(audit_hook_of)]
AccessLogDep = Annotated[AccessLog, Depends(access_log_of)]
