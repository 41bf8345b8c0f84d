"""The designated institution's workspace (定点医疗机构工作台, role ``institution``): its settlements and
what the bureau's records say about them (3201 totals, cancellations, audit deductions), its DRG / DIP
payment, the audit notices with the appeal (申诉) form and evidence upload, ratings and complaints about
it, and its annual assessment.  A login sees its own institution only (``Principal.fixmedins_code``);
another institution's case answers 404, exactly like a missing one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.assess.store import AssessStore
from yibao.audit.cases import appeal
from yibao.audit.cases.evidence import check_upload
from yibao.audit.cases.model import AuditCaseError, Case
from yibao.audit.cases.review import EVENT_NAMES, OUTCOME_NAMES, STATE_NAMES, detector_names
from yibao.errors import FieldError
from yibao.fund.data import load_institutions
from yibao.ledger.queries import SettlementQuery, Statement
from yibao.payment.store import clearing_rows
from yibao.web.auth import require
from yibao.web.dashboard import audit_view as av
from yibao.web.dashboard.pages import render
from yibao.web.dashboard.work_pages import METHOD_NAMES, case_context, payment_context, send_evidence
from yibao.web.deps import book_of, ledger_of
from yibao.web.portal.pages import error_page, local_today, now_utc, portal_store

router = APIRouter(prefix="/hospital", include_in_schema=False)
Institution = Annotated[Principal, Depends(require("institution"))]
SETTLEMENTS_PAGE = 30
RECENT = 8


def _code(p: Principal) -> str:
    if not p.fixmedins_code:
        raise HTTPException(403, "该账号未绑定定点机构 this login is not linked to an institution")
    return p.fixmedins_code


def _visit_types(request: Request) -> dict[str, tuple[str, str]]:
    book = book_of(request)
    out: dict[str, tuple[str, str]] = {}
    for v in book.loaded.region.versions:
        out.update(book.for_date(v.effective_from).visit_types)
    return out


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the audit-case store and parameters, the visit register, the
    rule scores and the catalogue's names that the workspace and case pages read."""
    av.case_store(request)
    av.case_params(request)
    av.register(request)
    av.scores(request)
    av.item_names(request)
    detector_names()  # the rule library, read once
    _visit_types(request)


STATEMENT_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "count")
BEIJING = ZoneInfo("Asia/Shanghai")


def _beijing_window(begin: dt.date, end: dt.date) -> tuple[str, str]:
    """[begin 00:00, end+1 00:00) Beijing time as UTC instants, as settlements' ``created`` is stored (the
    days 3201 reconciles over)."""
    a = dt.datetime.combine(begin, dt.time(), BEIJING).astimezone(dt.UTC)
    b = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), BEIJING).astimezone(dt.UTC)
    return a.isoformat(timespec="microseconds"), b.isoformat(timespec="microseconds")


def _month_bounds(today: dt.date, back: int) -> tuple[dt.date, dt.date]:
    y, m = today.year, today.month - back
    while m < 1:
        y, m = y - 1, m + 12
    first = dt.date(y, m, 1)
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


@router.get("")
def workspace(request: Request, p: Institution) -> Response:
    code = _code(p)
    today = local_today()
    with ledger_of(request) as led:
        recent = led.search_settlements(SettlementQuery(fixmedins_code=code), RECENT, 0)
        cancelled = led.search_settlements(
            SettlementQuery(fixmedins_code=code, statuses=("cancelled",)), RECENT, 0
        )
        all_time = led.statement(fixmedins_code=code, insutype="", begin=None, end=None)
        months = []
        for back in (0, 1):
            a, b = _month_bounds(today, back)
            since, until = _beijing_window(a, b)
            per = led.statement_by_med_type(fixmedins_code=code, insutype="", since=since, until=until)
            months.append(
                (a, Statement(*(sum(getattr(s, f) for s in per.values()) for f in STATEMENT_FIELDS)))
            )
        deductions = led.list_deductions(code)
        complaints = portal_store(request).linked_complaints()
        ours = (
            {
                s.setl_id
                for s in led.search_settlements(
                    SettlementQuery(
                        fixmedins_code=code, setl_ids=tuple({c.setl_id for c in complaints if c.setl_id})
                    ),
                    500,
                    0,
                ).rows
            }
            if complaints
            else set()
        )
    complaints = [c for c in complaints if c.setl_id in ours]
    store = portal_store(request)
    ratings = store.ratings_for(code)
    summary = next(((n, mean) for c, n, mean in store.rating_summary() if c == code), (0, 0))
    params = av.case_params(request)
    cases = [(c, av.window(c, params, today)) for c in av.case_store(request).find(fixmedins_code=code)]
    assess = AssessStore(request.app.state.store.engine)
    run = assess.latest_run()
    score = None
    if run is not None:
        try:
            score = assess.get_score(run["run_id"], code)
        except FieldError:
            score = None
    persons = av.person_names(request, {s.psn_no for s in recent.rows} | {s.psn_no for s in cancelled.rows})
    info = load_institutions(request.app.state.settings.database_url).get(code)
    levels = {x.code: (x.name, x.name_en) for x in book_of(request).loaded.region.hospital_levels}
    return render(
        request,
        "hospital.html",
        {
            "code": code,
            "info": info,
            "levels": levels,
            "recent": recent,
            "cancelled": cancelled,
            "all_time": all_time,
            "months": months,
            "deductions": deductions,
            "persons": persons,
            "vt": _visit_types(request),
            **payment_context(clearing_rows(request.app.state.store.engine, code)),
            "cases": cases,
            "ratings": ratings,
            "rating_n": summary[0],
            "rating_mean": summary[1],
            "complaints": [(c, c.clock(store.params, today)) for c in complaints],
            "run": run,
            "score": score,
            **_names(),
        },
    )


def _names() -> dict[str, Any]:
    return {
        "STATE_NAMES": STATE_NAMES,
        "EVENT_NAMES": EVENT_NAMES,
        "OUTCOME_NAMES": OUTCOME_NAMES,
        "METHOD_NAMES": METHOD_NAMES,
    }


@router.get("/settlements")
def settlements(request: Request, p: Institution, page: int = 1, status: str = "") -> Response:
    code = _code(p)
    page = max(1, page)
    statuses = (status,) if status in ("active", "cancelled") else None
    with ledger_of(request) as led:
        found = led.search_settlements(
            SettlementQuery(fixmedins_code=code, statuses=statuses),
            SETTLEMENTS_PAGE,
            (page - 1) * SETTLEMENTS_PAGE,
        )
    return render(
        request,
        "hospital_settlements.html",
        {
            "found": found,
            "page": page,
            "pages": max(1, -(-found.total // SETTLEMENTS_PAGE)),
            "status": status,
            "persons": av.person_names(request, {s.psn_no for s in found.rows}),
            "vt": _visit_types(request),
        },
    )


def _own_case(request: Request, p: Principal, case_id: str) -> Case:
    try:
        case = av.case_store(request).get(case_id)
    except AuditCaseError:
        case = None
    if case is None or case.fixmedins_code != _code(p):
        raise HTTPException(404, "未找到该稽核案件 audit case not found")
    return case


@router.get("/audit/{case_id}")
def audit_case(request: Request, p: Institution, case_id: str) -> Response:
    case = _own_case(request, p, case_id)
    return render(request, "audit_case.html", {**case_context(request, case), "staff": False})


def _refused(request: Request, exc: AuditCaseError) -> Response:
    status = (
        409
        if exc.code in ("illegal_transition", "appeal_window_closed", "already_appealed", "conflict")
        else 422
    )
    return error_page(request, status, exc.reason, exc.field)


def _item_no(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise AuditCaseError("item_no", f"明细序号应为数字 the item number must be a number, got {raw!r}")
    return int(raw)


@router.post("/audit/{case_id}/appeal")
async def file_appeal(
    request: Request,
    p: Institution,
    case_id: str,
    item_no: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """An appeal of one item with its reason and, optionally, one file of evidence (checked before
    anything is written)."""
    case = _own_case(request, p, case_id)
    params, now = av.case_params(request), now_utc()
    content = await file.read() if file is not None and file.filename else b""
    filename = (file.filename or "") if file is not None else ""
    try:
        no = _item_no(item_no)
        if no is None:
            raise AuditCaseError("item_no", "请选择要申诉的疑点 choose the item you appeal", "missing")
        if content:
            check_upload(case, no, filename, content, now, params)
        appealed = appeal(av.case_store(request), case_id, {no: reason}, now, p.user_id, params)
        if content:
            av.evidence_store(request).add(appealed, no, filename, content, "", now, p.user_id, params)
    except AuditCaseError as exc:
        return _refused(request, exc)
    return RedirectResponse(f"/hospital/audit/{case_id}#item-{no}", status_code=303)


@router.post("/audit/{case_id}/evidence")
async def add_evidence(
    request: Request,
    p: Institution,
    case_id: str,
    file: Annotated[UploadFile, File()],
    item_no: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    case = _own_case(request, p, case_id)
    content = await file.read()
    try:
        av.evidence_store(request).add(
            case,
            _item_no(item_no),
            file.filename or "",
            content,
            note,
            now_utc(),
            p.user_id,
            av.case_params(request),
        )
    except AuditCaseError as exc:
        return _refused(request, exc)
    return RedirectResponse(f"/hospital/audit/{case_id}#add-evidence", status_code=303)


@router.get("/audit/{case_id}/evidence/{evidence_id}")
def evidence_file(request: Request, p: Institution, case_id: str, evidence_id: str) -> Response:
    _own_case(request, p, case_id)
    return send_evidence(request, case_id, evidence_id)
