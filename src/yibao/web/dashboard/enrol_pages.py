"""Bureau pages of the enrolment capability (auditor and admin): 参保与征缴 — coverage rate by district,
continuity rate, arrears by employer, the collection of a benefit year and who cannot use their benefits
on a day, with why; and an employer's roster and arrears (单位参保与欠费) — which an employer login (参保单位)
also sees, for itself only, with the upload of its monthly roster (单位月度申报: every bad row listed,
nothing imported).

``?year=`` the benefit year (default the day's), ``?on=YYYY-MM-DD`` the day (default today, Beijing time).
Figures are computed from the enrolment tables and kept while the tables do not change."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from yibao.access.principal import Principal
from yibao.enrolment.model import ImportRejected
from yibao.errors import FieldError
from yibao.usecases import enrolment as uc
from yibao.usecases.eligibility import StoreEligibility
from yibao.web.auth import require
from yibao.web.dashboard.pages import render
from yibao.web.deps import ledger_of
from yibao.web.portal.pages import local_today

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
EmployerOrStaff = Annotated[Principal, Depends(require("employer", "auditor", "admin"))]
_lock = threading.Lock()
_FIGURES_KEPT = 8  # (year, day) pairs kept per version of the tables


def _day(request: Request) -> dt.date:
    raw = request.query_params.get("on")
    try:
        return dt.date.fromisoformat(raw) if raw else local_today()
    except ValueError:
        raise HTTPException(422, "日期格式错误 invalid date: on (YYYY-MM-DD)") from None


def _source(request: Request) -> StoreEligibility | None:
    src = getattr(request.app.state, "eligibility", None)
    return src if isinstance(src, StoreEligibility) else None


def enrolment_source(request: Request) -> StoreEligibility:
    """The region's enrolment tables (404 when the region has no enrolment file)."""
    src = _source(request)
    if src is None:
        raise HTTPException(404, "本统筹区没有参保政策文件 this region has no enrolment policy file")
    return src


def enrolment_frames(request: Request) -> tuple[Any, dict[str, Any]] | None:
    return _frames(request)


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


def _figures(request: Request, year: int, on: dt.date) -> dict[str, Any] | None:
    """The bureau's figures for (``year``, ``on``), kept per version of the tables (at most a few days)."""
    got = _frames(request)
    if got is None:
        return None
    store, frames = got
    version = request.app.state.enrol_frames[0]
    with _lock:
        kept: tuple[object, dict[tuple[int, dt.date], dict[str, Any]]] | None = getattr(
            request.app.state, "enrol_figures", None
        )
        if kept is None or kept[0] != version:
            kept = (version, {})
            request.app.state.enrol_figures = kept
        found = kept[1].get((year, on))
    if found is None:
        found = uc.region_figures(frames, store, year, on)
        with _lock:
            if len(kept[1]) >= _FIGURES_KEPT:
                kept[1].clear()
            kept[1][(year, on)] = found
    return found


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the enrolment tables' frames and today's figures."""
    on = local_today()
    _figures(request, on.year, on)


@router.get("/enrolment")
def enrolment(request: Request, p: Staff) -> Response:
    on = _day(request)
    try:
        year = int(request.query_params.get("year") or on.year)
    except ValueError:
        raise HTTPException(422, "年度格式错误 invalid year") from None
    figures = _figures(request, year, on)
    return render(request, "enrolment.html", {"f": figures, "on": on, "year": year})


@router.get("/employer")
def my_employer(p: EmployerOrStaff) -> Response:
    """An employer login's own page; the bureau goes to its enrolment figures."""
    if p.role == "employer" and p.emp_no:
        return RedirectResponse(f"/dashboard/enrolment/employers/{p.emp_no}", status_code=303)
    return RedirectResponse("/dashboard/enrolment", status_code=303)


def _employer_page(
    request: Request, p: Principal, emp_no: str, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    on = _day(request)
    uc.check_employer(p, emp_no)  # another employer's page: 403 before anything is read
    got = _frames(request)
    view = None
    if got is not None:
        store, frames = got
        try:
            view = uc.employer_view(p, frames, store, emp_no, on)
        except FieldError as exc:
            if p.role != "employer":  # the bureau asked for an employer that does not exist
                raise HTTPException(404, exc.reason) from None
    if view is None and p.role != "employer":
        raise HTTPException(404, "本统筹区尚无参保数据 no enrolment data")
    region = request.app.state.book.loaded.region
    type_names = {t.code: (t.name, t.name_en or t.name) for t in region.person_types}
    ctx = {
        "v": view,
        "emp_no": emp_no,
        "on": on,
        "type_names": type_names,
        "employer_login": p.role == "employer",
        "may_upload": p.role in ("employer", "admin"),
        **(extra or {}),
    }
    return render(request, "enrol_employer.html", ctx, status)


@router.get("/enrolment/employers/{emp_no}")
def employer(request: Request, p: EmployerOrStaff, emp_no: str) -> Response:
    return _employer_page(request, p, emp_no)


@router.post("/enrolment/employers/{emp_no}/roster")
async def upload_roster_form(request: Request, p: EmployerOrStaff, emp_no: str) -> Response:
    """单位月度申报 from the page: the roster file is imported whole or not at all; the page lists every bad
    row (line, column, reason)."""
    uc.check_employer(p, emp_no)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _employer_page(
            request, p, emp_no, {"upload_error": "请选择花名册文件 choose a roster file"}, 422
        )
    data = await upload.read()
    try:
        out = import_uploaded_roster(request, p, emp_no, upload.filename, data)
    except ImportRejected as exc:
        return _employer_page(request, p, emp_no, {"rejected": exc}, 422)
    except FieldError as exc:
        return _employer_page(request, p, emp_no, {"upload_error": f"{exc.field}: {exc.reason}"}, 422)
    return _employer_page(request, p, emp_no, {"imported": out})


def import_uploaded_roster(request: Request, p: Principal, emp_no: str, filename: str, data: bytes) -> Any:
    """Write the uploaded bytes to a private temporary file under their own name and import them through the
    use case (the caller's employer only; the ledger's persons follow)."""
    import tempfile
    from pathlib import Path

    src = enrolment_source(request)
    name = Path(filename).name or "roster.csv"
    if not name.lower().endswith((".csv", ".parquet")):
        raise FieldError(
            "file", "花名册须为CSV或Parquet文件 the roster must be a CSV or Parquet file", "invalid"
        )
    with tempfile.TemporaryDirectory(prefix="yibao-roster-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        with ledger_of(request) as led, src.lock:
            out = uc.upload_roster(p, led, src.store, path, emp_no)
    src.refresh()
    return out
