"""Bureau pages of the enrolment capability (auditor and admin): 参保与征缴 — coverage rate by district,
continuity rate, arrears by employer, the collection of a benefit year and who cannot use their benefits
on a day, with why; and an employer's roster and arrears (单位参保与欠费).

``?year=`` the benefit year (default the day's), ``?on=YYYY-MM-DD`` the day (default today, Beijing time).
Figures are computed from the enrolment tables and kept while the tables do not change."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from yibao.access.principal import Principal
from yibao.errors import FieldError
from yibao.usecases import enrolment as uc
from yibao.usecases.eligibility import StoreEligibility
from yibao.web.auth import require
from yibao.web.dashboard.pages import render
from yibao.web.portal.pages import local_today

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
_lock = threading.Lock()


def _day(request: Request) -> dt.date:
    raw = request.query_params.get("on")
    try:
        return dt.date.fromisoformat(raw) if raw else local_today()
    except ValueError:
        raise HTTPException(422, "日期格式错误 invalid date: on (YYYY-MM-DD)") from None


def _source(request: Request) -> StoreEligibility | None:
    src = getattr(request.app.state, "eligibility", None)
    return src if isinstance(src, StoreEligibility) else None


def _frames(request: Request) -> tuple[Any, dict[str, Any]] | None:
    """(store, frames) of the region's enrolment tables, cached while they do not change; None without data."""
    src = _source(request)
    if src is None:
        return None
    with _lock, src.lock:
        store = src.store
        version = store.version()
        cached = getattr(request.app.state, "enrol_frames", None)
        if cached is None or cached[0] != version:
            cached = (version, store.frames())
            request.app.state.enrol_frames = cached
    frames = cached[1]
    return (store, frames) if uc.has_data(frames) else None


@router.get("/enrolment")
def enrolment(request: Request, p: Staff) -> Response:
    on = _day(request)
    try:
        year = int(request.query_params.get("year") or on.year)
    except ValueError:
        raise HTTPException(422, "年度格式错误 invalid year") from None
    got = _frames(request)
    figures = None
    if got is not None:
        store, frames = got
        figures = uc.bureau_figures(p, frames, store, year, on)
    return render(request, "enrolment.html", {"f": figures, "on": on, "year": year})


@router.get("/enrolment/employers/{emp_no}")
def employer(request: Request, p: Staff, emp_no: str) -> Response:
    on = _day(request)
    got = _frames(request)
    if got is None:
        raise HTTPException(404, "本统筹区尚无参保数据 no enrolment data")
    store, frames = got
    try:
        view = uc.employer_view(p, frames, store, emp_no, on)
    except FieldError as exc:
        raise HTTPException(404, exc.reason) from None
    return render(request, "enrol_employer.html", {"v": view, "on": on})
