"""The bureau dashboard pages (auditor and admin only).  Charts with the vendored ECharts of
``yibao.simulate`` (served from this router by path; no CDN)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, cast

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from yibao.access.principal import Principal
from yibao.feedback import core as portal_core
from yibao.fund import core, data
from yibao.money import fmt_yuan
from yibao.simulate.report import ECHARTS_PATH
from yibao.web.auth import require
from yibao.web.deps import access_log_of, book_of
from yibao.web.portal.pages import install_filters, linked_visit, local_today, now_utc, portal_store
from yibao.web.portal.pages import render as portal_render
from yibao.web.warm import compile_templates

HERE = Path(__file__).resolve().parent
ECHARTS = ECHARTS_PATH
templates = Jinja2Templates(directory=[str(HERE / "templates"), str(HERE.parent / "portal" / "templates")])
install_filters(templates.env)
templates.env.globals["yuan"] = fmt_yuan
templates.env.globals["CASE_KINDS"] = portal_core.CASE_KINDS
templates.env.globals["STATUSES"] = portal_core.STATUSES

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
BAND_NAMES = {
    "red": ("不足", "insufficient"),
    "amber": ("预警", "warning"),
    "target": ("合理", "target"),
    "high": ("偏高", "high"),
    "excessive": ("结余过多", "excessive"),
    "none": ("—", "—"),
}


def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    # the portal's renderer (language, elderly mode) with this package's templates first
    return portal_render(request, name, {"BAND_NAMES": BAND_NAMES, **ctx}, status, env=templates)


def _engine(request: Request) -> sa.Engine:
    return cast(sa.Engine, request.app.state.store.engine)


def _institutions(request: Request) -> dict[str, data.Institution]:
    cached = getattr(request.app.state, "dashboard_institutions", None)
    if cached is None:
        cached = request.app.state.dashboard_institutions = data.load_institutions(
            request.app.state.settings.database_url
        )
    return cast(dict[str, data.Institution], cached)


def _frames(request: Request, insts: dict[str, data.Institution]) -> tuple[Any, Any]:
    """The settlement frames, read again only when a settlement was stored or cancelled since (one
    cheap count instead of reading every settlement and line on each view)."""
    key = data.settlement_fingerprint(_engine(request))
    cached = getattr(request.app.state, "dashboard_frames", None)
    if cached is None or cached[0] != key:
        cached = request.app.state.dashboard_frames = (key, data.settlement_frames(_engine(request), insts))
    return cast(tuple[Any, Any], cached[1])


def overview_data(request: Request) -> dict[str, Any]:
    """Everything the overview shows, as plain data (also served as JSON for the charts)."""
    params = core.load_params()
    insts = _institutions(request)
    df, lines = _frames(request, insts)
    book = book_of(request)
    region = book.loaded.region
    schemes = {s.code: (s.name, s.name_en) for s in region.schemes}
    levels = {x.code: (x.name, x.name_en) for x in region.hospital_levels}
    fund, fund_source, alerts = _fund_overview(request, df, params, schemes)
    catalogue: dict[str, Any] = {}
    for v in region.versions:
        catalogue.update(book.for_date(v.effective_from).catalogue)
    n = params.top_n
    return {
        "params": params,
        "fund": fund,
        "fund_source": fund_source,
        "alerts": alerts,
        "schemes": schemes,
        "levels": levels,
        "by_scheme": core.breakdown(df, "insutype"),
        "by_level": core.breakdown(df, "hosp_lv"),
        "by_district": core.breakdown(df, "district") if insts else [],
        "by_month": core.by_month(df),
        "top_items": core.top_items(lines, n),
        "top_diagnoses": core.top_by(df, "diagnosis", n),
        "top_institutions": core.top_by(df, "fixmedins_code", n),
        "catalogue": catalogue,
        "institutions": insts,
        "visits": df.height,
        "total_medfee": int(df["medfee"].sum()) if df.height else 0,
    }


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the dashboard's templates, the registry, the settlement frames
    and the overview's figures (polars plans and parameter files read once)."""
    compile_templates(templates.env)
    overview_data(request)


def _fund_overview(
    request: Request, df: Any, params: core.DashParams, schemes: dict[str, tuple[str, str]]
) -> tuple[dict[str, list[core.MonthRow]], str | None, list[core.Alert]]:
    """The pooled funds month by month: from the booked fund accounts (with their open alerts), else from a
    bureau's fund file, else expenditure only (income not booked: no months payable, no alerts)."""
    from yibao.fund.accounts import positions
    from yibao.fund.params import load_params as load_fund_params
    from yibao.fund.store import FundStore

    fp = load_fund_params()
    store = FundStore(_engine(request))
    entries = store.entries()
    if entries.height:
        pos = positions(entries, fp.codes(), fp.months_payable)
        fund = {
            f.scheme or f.code: [
                core.MonthRow(
                    r.month,
                    r.income + r.interest + r.transfer_in - r.transfer_out,
                    r.payments,
                    r.closing,
                    r.months_x100,
                    r.band,
                )
                for r in pos[f.code]
            ]
            for f in fp.funds
            if f.group == "pool"
        }
        alerts = [
            core.Alert("red" if a.level == "red" else "amber", a.scope, a.message_zh, a.message_en)
            for a in store.alerts(open_only=True)
        ]
        return fund, "基金账户（已记账，见“基金账户”页） booked fund accounts", alerts
    exp = core.expenditure_by_scheme_month(df)
    fund_file = data.load_fund_file()
    if fund_file is not None:
        fund = {
            scheme: core.fund_by_month(
                by_month,
                fund_file.income.get(scheme, {}),
                fund_file.opening_balance.get(scheme, 0),
                params.bands,
            )
            for scheme, by_month in sorted(exp.items())
        }
        return fund, fund_file.source, core.alerts_for(schemes, fund, params.bands)
    fund = {
        scheme: [core.MonthRow(m, 0, by_month[m], 0, None, "none") for m in sorted(by_month)]
        for scheme, by_month in sorted(exp.items())
    }
    return fund, None, []


@router.get("/echarts.min.js")
def echarts(_p: Staff) -> FileResponse:
    """The ECharts build vendored by ``yibao.simulate`` (licence beside it)."""
    return FileResponse(ECHARTS, media_type="text/javascript")


@router.get("")
def overview(request: Request, p: Staff) -> Response:
    d = overview_data(request)
    store = portal_store(request)
    today = local_today()
    queue = [(c, c.clock(store.params, today)) for c in store.queue()]
    return render(
        request,
        "dashboard.html",
        {
            **d,
            "queue_open": len(queue),
            "queue_overdue": sum(1 for _, k in queue if k.overdue),
            "ratings": store.rating_summary(),
        },
    )


@router.get("/data.json")
def chart_data(request: Request, p: Staff) -> JSONResponse:
    d = overview_data(request)
    lang = request.cookies.get("yb_lang", "zh")
    pick = 1 if lang == "en" else 0

    def name(names: dict[str, tuple[str, str]], key: str) -> str:
        return names.get(key, (key, key))[pick]

    # money in integer fen; the page divides by 100 for display
    return JSONResponse(
        {
            "fund": {
                name(d["schemes"], s): [
                    {
                        "month": r.month,
                        "income": r.income,
                        "expenditure": r.expenditure,
                        "months_payable": None if r.months_x100 is None else r.months_x100 / 100,
                    }
                    for r in rows
                ]
                for s, rows in d["fund"].items()
            },
            "bands": {
                "red_below": d["params"].bands.red_below,
                "amber_below": d["params"].bands.amber_below,
                "target_upto": d["params"].bands.target_upto,
            },
            "by_month": [{"month": m, "visits": k, "medfee": a, "fund": f} for m, k, a, f in d["by_month"]],
            "by_level": [
                {"name": name(d["levels"], g.key), "medfee": g.medfee, "fund": g.fund} for g in d["by_level"]
            ],
            "by_scheme": [{"name": name(d["schemes"], g.key), "medfee": g.medfee} for g in d["by_scheme"]],
            "by_district": [{"name": g.key or "?", "medfee": g.medfee} for g in d["by_district"]],
        }
    )


# ---------------------------------------------------------------------------- complaint / filing queue
@router.get("/cases")
def case_queue(request: Request, p: Staff, all: int = 0) -> Response:
    store = portal_store(request)
    today = local_today()
    cases = [(c, c.clock(store.params, today)) for c in store.queue(open_only=not all)]
    return render(
        request,
        "queue.html",
        {
            "cases": cases,
            "all": bool(all),
            "params": store.params,
            "persons": _person_names(request, {c.psn_no for c, _ in cases}),
            "about": {c.case_id: linked_visit(request, c) for c, _ in cases if c.setl_id},
        },
    )


def _person_names(request: Request, psn_nos: set[str]) -> dict[str, str]:
    from yibao.ledger import LedgerError
    from yibao.web.deps import ledger_of

    out: dict[str, str] = {}
    with ledger_of(request) as led:
        for psn in sorted(psn_nos):
            try:
                out[psn] = led.get_person(psn, local_today()).name
            except LedgerError:
                out[psn] = ""
    return out


@router.get("/cases/{case_id}")
def staff_case(request: Request, p: Staff, case_id: str) -> Response:
    store = portal_store(request)
    try:
        case = store.get_case(case_id)
    except portal_core.PortalError as exc:
        raise HTTPException(404, "未找到该事项 case not found") from exc
    access_log_of(request)(p, case.psn_no, f"case {case_id}")
    return render(
        request,
        "staff_case.html",
        {
            "case": case,
            "clock": case.clock(store.params, local_today()),
            "events": store.events(case_id),
            "rule": store.params.review[case.kind] if case.review_round else store.params.sla[case.kind],
            "moves": sorted(
                portal_core.allowed_moves(case.kind, case.status, p.role),
                key=lambda m: (m not in ("answered", "approved"), m),  # the answer first: the obvious click
            ),
            "visit": linked_visit(request, case),
            "note_required": portal_core.NOTE_REQUIRED,
            "person": _person_names(request, {case.psn_no}).get(case.psn_no, ""),
        },
    )


@router.post("/cases/{case_id}/status")
def move_case(
    request: Request,
    p: Staff,
    case_id: str,
    status: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        portal_store(request).move(
            case_id, status, actor_id=p.user_id, actor_role=p.role, note=note, now=now_utc()
        )
    except portal_core.PortalError as exc:
        code = 404 if exc.code == "unknown_case" else 422 if exc.code == "missing" else 409
        raise HTTPException(code, exc.reason) from exc
    return RedirectResponse(f"/dashboard/cases/{case_id}", status_code=303)


# ---------------------------------------------------------------------------- pages other capabilities fill
def _reports_dir() -> Path:

    return Path(os.environ.get("YIBAO_REPORTS_DIR") or ".yibao/reports")


@router.get("/simulation")
def simulation(request: Request, p: Staff) -> Response:
    d = _reports_dir()
    reports = (
        sorted((f for f in d.glob("*.html") if f.is_file()), key=lambda f: f.stat().st_mtime, reverse=True)
        if d.is_dir()
        else []
    )
    return render(
        request,
        "capability.html",
        {
            "title": ("政策模拟报告", "Policy simulation reports"),
            "tables": [],
            "reports": [(f.name, dt.datetime.fromtimestamp(f.stat().st_mtime, dt.UTC)) for f in reports],
            "how": "yibao simulate -b xian -c <candidate> -v <synth dir> -o " + str(d / "report.html"),
            "installed": _importable("yibao.simulate"),
        },
    )


@router.get("/reports/{name}")
def report_file(p: Staff, name: str) -> FileResponse:
    d = _reports_dir().resolve()
    f = (d / name).resolve()
    if f.parent != d or f.suffix != ".html" or not f.is_file():
        raise HTTPException(404, "未找到该报告 report not found")
    return FileResponse(f, media_type="text/html")


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
