"""Bureau pages of the fund capability (auditor and admin): fund accounts, early warning with the alert
lifecycle, the projection's fan chart and backtest, the global budget and its clearing, the annual
assessment with each institution's explanation and appeals (an institution sees and appeals its own), and
the service-network map.  Charts with the vendored ECharts; data as JSON beside each page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.assess import appeal as ap
from yibao.assess.params import load_params as load_assess
from yibao.assess.store import AssessStore
from yibao.errors import FieldError
from yibao.fund import accounts, data
from yibao.fund import service as fs
from yibao.fund.store import FundStore
from yibao.fund.warning import NAMES, STATUS_NAMES, fmt_value
from yibao.web.auth import require
from yibao.web.dashboard.pages import render

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
StaffOrInstitution = Annotated[Principal, Depends(require("auditor", "admin", "institution"))]
LEVEL_NAMES = {
    "ok": ("正常", "ok"),
    "amber": ("黄色预警", "amber"),
    "red": ("红色预警", "red"),
    "excessive": ("结余过多", "excessive"),
    "na": ("不可用", "n/a"),
}


def _engine(request: Request) -> sa.Engine:
    return cast(sa.Engine, request.app.state.store.engine)


def _setup(request: Request) -> fs.Setup:
    s = getattr(request.app.state, "fund_setup", None)
    if s is None:
        s = request.app.state.fund_setup = fs.setup_for_region(request.app.state.settings.region_path())
    return cast(fs.Setup, s)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the region's fund set-up."""
    _setup(request)


def _institutions(request: Request) -> dict[str, data.Institution]:
    return data.load_institutions(request.app.state.settings.database_url)


def _common(request: Request) -> dict[str, Any]:
    s = _setup(request)
    return {
        "s": s,
        "names": s.scope_names(),
        "LEVEL_NAMES": LEVEL_NAMES,
        "IND_NAMES": NAMES,
        "fmt": fmt_value,
    }


# ------------------------------------------------------------------------------------------ accounts
@router.get("/fund")
def fund_accounts(request: Request, p: Staff) -> Response:
    s = _setup(request)
    store = FundStore(_engine(request))
    pos = fs.positions(store, s)
    years = {f: accounts.yearly(rows) for f, rows in pos.items()}
    return render(
        request,
        "fund_accounts.html",
        {
            **_common(request),
            "pos": pos,
            "years": years,
            "batches": store.batches(),
            "SOURCES": accounts.SOURCE_NAMES,
        },
    )


@router.get("/fund/accounts.json")
def fund_accounts_json(request: Request, p: Staff) -> JSONResponse:
    s = _setup(request)
    pos = fs.positions(FundStore(_engine(request)), s)
    return JSONResponse(
        {
            f: {
                "name": list(s.scope_names()[f]),
                "months": [r.month for r in rows],
                "income": [r.income for r in rows],
                "payments": [r.payments for r in rows],
                "closing": [r.closing for r in rows],
                "months_payable": [None if r.months_x100 is None else r.months_x100 / 100 for r in rows],
            }
            for f, rows in pos.items()
        }
    )


# ------------------------------------------------------------------------------------------ warnings
@router.get("/fund/warnings")
def fund_warnings(request: Request, p: Staff, month: str | None = None, all: int = 0) -> Response:
    store = FundStore(_engine(request))
    readings = store.readings(month)
    year = readings[0].month[:4] if readings else ""
    sources = store.members_sources()
    members = [(m, c, sources.get(m, "")) for m, c in store.members().items() if year and m.startswith(year)]
    cleared = sorted(
        ((m, sc, c) for (m, sc), c in (store.cleared_outflow() or {}).items() if year and m.startswith(year)),
        key=lambda x: (x[0], x[1]),
    )
    return render(
        request,
        "fund_warnings.html",
        {
            **_common(request),
            "members": members,
            "cleared": cleared,
            "readings": sorted(
                readings, key=lambda r: (r.level not in ("red", "amber", "excessive"), r.indicator, r.scope)
            ),
            "month": readings[0].month if readings else None,
            "alerts": store.alerts(open_only=not all),
            "all": bool(all),
            "STATUS_NAMES": STATUS_NAMES,
        },
    )


@router.get("/fund/alerts/{alert_id}")
def fund_alert(request: Request, p: Staff, alert_id: str) -> Response:
    store = FundStore(_engine(request))
    try:
        a = store.alert(alert_id)
    except FieldError as exc:
        raise HTTPException(404, "未找到该预警 alert not found") from exc
    from yibao.fund.warning import ALERT_MOVES

    return render(
        request,
        "fund_alert.html",
        {
            **_common(request),
            "a": a,
            "events": store.events(alert_id),
            "moves": sorted(ALERT_MOVES[a.status]),
            "STATUS_NAMES": STATUS_NAMES,
        },
    )


@router.post("/fund/alerts/{alert_id}")
def move_alert(
    request: Request,
    p: Staff,
    alert_id: str,
    status: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        FundStore(_engine(request)).move_alert(
            alert_id, status, actor=f"{p.display_name} ({p.user_id})", note=note
        )
    except FieldError as exc:
        code = 404 if exc.code == "unknown_alert" else 409
        raise HTTPException(code, f"{exc.field}: {exc.reason}") from exc
    return RedirectResponse(f"/dashboard/fund/alerts/{alert_id}", status_code=303)


# ---------------------------------------------------------------------------------------- projection
@router.get("/fund/projection")
def fund_projection(request: Request, p: Staff) -> Response:
    proj = FundStore(_engine(request)).latest_projection()
    return render(request, "fund_projection.html", {**_common(request), "proj": proj})


@router.get("/fund/projection.json")
def fund_projection_json(request: Request, p: Staff) -> JSONResponse:
    proj = FundStore(_engine(request)).latest_projection()
    if proj is None:
        return JSONResponse({})
    return JSONResponse(proj)


# -------------------------------------------------------------------------------------------- budget
@router.get("/fund/budget")
def fund_budget(request: Request, p: Staff, run: str | None = None) -> Response:
    store = FundStore(_engine(request))
    runs = store.budget_runs()
    b = store.budget_run(run) if run else None
    if b is None and runs:  # the newest run that has been cleared, else the newest
        stored = [store.budget_run(r[0]) for r in runs]
        b = next((x for x in stored if x and x["clearing"]), stored[0])
    by_inst: dict[str, dict[str, int]] = {}
    if b is not None:
        for ln in b["lines"]:
            x = by_inst.setdefault(
                ln["fixmedins_code"], {"budget": 0, "drg_dip": 0, "other": 0, "history": 0}
            )
            x["budget"] += ln["budget_fen"]
            x["drg_dip"] += ln["drg_dip_fen"]
            x["other"] += ln["other_fen"]
            x["history"] += ln["history_fen"]
        for m in b["months"]:
            x = by_inst.setdefault(m["fixmedins_code"], {"budget": 0, "drg_dip": 0, "other": 0, "history": 0})
            x["paid"] = x.get("paid", 0) + m["paid_fen"]
            x["withheld"] = x.get("withheld", 0) + m["withheld_fen"]
    return render(
        request,
        "fund_budget.html",
        {
            **_common(request),
            "runs": runs,
            "b": b,
            "by_inst": by_inst,
            "institutions": _institutions(request),
            "sum_inst": sum(v["budget"] for v in by_inst.values()),
            "clear_by": {c["fixmedins_code"]: c for c in (b["clearing"] if b else [])},
            "chart": {
                "codes": list(by_inst),
                "budget": [v["budget"] for v in by_inst.values()],
                "actual": [
                    next(
                        (c["actual_fen"] for c in (b["clearing"] if b else []) if c["fixmedins_code"] == k),
                        None,
                    )
                    for k in by_inst
                ],
            },
        },
    )


# ---------------------------------------------------------------------------------------- assessment
def _today() -> Any:
    from yibao.web.portal import pages as portal_pages

    return portal_pages.local_today()


def _may_see(p: Principal, code: str) -> None:
    if p.role == "institution" and p.fixmedins_code != code:
        raise HTTPException(403, "只能查看本机构的考核结果 an institution sees its own assessment only")


INPUT_NAMES = {
    "settlements": ("本年结算", "settlements"),
    "previous_year": ("上年结算", "previous year"),
    "lines": ("费用明细", "fee lines"),
    "drg_cases": ("DRG 付费病例", "DRG cases"),
    "audit_cases": ("稽核案件", "audit cases"),
    "portal_ratings": ("门户评价", "portal ratings"),
    "survey": ("第三方满意度调查", "third-party survey"),
    "encounter_uploads": ("接口上传明细", "interface uploads"),
    "reconciliations": ("国家接口对账记录（3201/3202）", "national reconciliations (3201/3202)"),
    "inputs": ("导入指标值", "imported values"),
}


@router.get("/assess")
def assess_list(request: Request, p: Staff) -> Response:
    st = AssessStore(_engine(request))
    run = st.latest_run()
    scores = st.scores(run["run_id"]) if run else []
    return render(
        request,
        "assess_list.html",
        {
            **_common(request),
            "run": run,
            "scores": scores,
            "ap": load_assess(),
            "INPUT_NAMES": INPUT_NAMES,
            "institutions": _institutions(request),
            "chart": {"codes": [x.code for x in scores], "scores": [x.score_x100 / 100 for x in scores]},
        },
    )


@router.get("/assess/{code}")
def assess_detail(request: Request, p: StaffOrInstitution, code: str) -> Response:
    _may_see(p, code)
    st = AssessStore(_engine(request))
    run = st.latest_run()
    if run is None:  # the menu links here before any assessment: a plain empty state, not an error page
        return _no_assessment(request, p, code, run)
    try:
        sc = st.get_score(run["run_id"], code)
    except FieldError:  # the latest assessment did not score this institution
        return _no_assessment(request, p, code, run)
    params = load_assess()
    from yibao.workdays import national_calendar

    cal = national_calendar()
    file_by = ap.file_by(sc.notified_on, params, cal)
    appeals = st.appeals(run["run_id"], code)
    stored_budget = FundStore(_engine(request)).budget_runs()
    clearing = None
    for rid, *_ in stored_budget:
        b = FundStore(_engine(request)).budget_run(rid)
        if b:
            clearing = next((c for c in b["clearing"] if c["fixmedins_code"] == code), None)
            if clearing:
                break
    return render(
        request,
        "assess_detail.html",
        {
            **_common(request),
            "run": run,
            "sc": sc,
            "ap": params,
            "file_by": file_by,
            "appeals": [
                (
                    a,
                    st.appeal_events(a.appeal_id),
                    sorted(m for (f, m), roles in ap.MOVES.items() if f == a.status and p.role in roles),
                )
                for a in appeals
            ],
            "STATE_NAMES": ap.STATE_NAMES,
            "inst": _institutions(request).get(code),
            "clearing": clearing,
            "can_file": p.role == "institution" and p.fixmedins_code == code and _today() <= file_by,
            "window_open": _today() <= file_by,
        },
    )


def _no_assessment(request: Request, p: Principal, code: str, run: dict[str, Any] | None) -> Response:
    own = p.role == "institution"
    return render(
        request,
        "assess_none.html",
        {
            **_common(request),
            "run": run,
            "code": code,
            "inst": _institutions(request).get(code),
            "back": "/hospital" if own else "/dashboard/assess",
            "back_name": ("工作台", "Workspace") if own else ("年度考核", "Assessment"),
        },
    )


@router.post("/assess/{code}/appeal")
def file_appeal(
    request: Request,
    p: StaffOrInstitution,
    code: str,
    indicator: Annotated[str, Form()],
    reason: Annotated[str, Form()],
) -> Response:
    if p.role != "institution" or p.fixmedins_code != code:
        raise HTTPException(403, "只有本机构可以提出申诉 only the institution itself may appeal")
    st = AssessStore(_engine(request))
    run = st.latest_run()
    if run is None:
        raise HTTPException(404, "尚无考核结果 no assessment yet")
    from yibao.web.portal.pages import local_today
    from yibao.workdays import national_calendar

    try:
        st.file_appeal(
            run["run_id"],
            code,
            indicator,
            reason,
            actor=f"{p.display_name} ({p.user_id})",
            today=local_today(),
            p=load_assess(),
            cal=national_calendar(),
        )
    except FieldError as exc:
        raise HTTPException(409, f"{exc.field}: {exc.reason}") from exc
    return RedirectResponse(f"/dashboard/assess/{code}", status_code=303)


@router.post("/assess/appeals/{appeal_id}")
def move_appeal(
    request: Request,
    p: StaffOrInstitution,
    appeal_id: str,
    status: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    from yibao.money import MoneyError, parse_ratio

    st = AssessStore(_engine(request))
    try:
        a = st.get_appeal(appeal_id)
        _may_see(p, a.code)
        revised = parse_ratio(value, allow_negative=True) if value.strip() else None
        st.move_appeal(
            appeal_id,
            status,
            actor=f"{p.display_name} ({p.user_id})",
            role=p.role,
            note=note,
            revised_value=revised,
            p=load_assess(),
        )
    except MoneyError as exc:
        raise HTTPException(409, f"value: 不是小数 not a decimal ({exc})") from exc
    except FieldError as exc:
        code = 404 if exc.code == "unknown_appeal" else 403 if exc.code == "forbidden" else 409
        raise HTTPException(code, f"{exc.field}: {exc.reason}") from exc
    return RedirectResponse(f"/dashboard/assess/{a.code}", status_code=303)


# ------------------------------------------------------------------------------------------- network
def _data_dir(request: Request) -> Path | None:
    return data.data_dir_for(request.app.state.settings.database_url)


@router.get("/fund/network")
def fund_network(request: Request, p: Staff) -> Response:
    d = _data_dir(request)
    report = _network(request, d) if d is not None else None
    return render(request, "fund_network.html", {**_common(request), "r": report, "data_dir": d})


@router.get("/fund/network.json")
def fund_network_json(request: Request, p: Staff) -> JSONResponse:
    d = _data_dir(request)
    if d is None:
        return JSONResponse({})
    return JSONResponse(_network(request, d))


def _network(request: Request, d: Path) -> dict[str, Any]:
    """The network figures of the data directory, with the ledger's settled care for the outflow (kept
    for the app's life: the synthetic region does not change under a running service)."""
    from yibao.network.report import network_report

    cached = getattr(request.app.state, "network_report", None)
    if cached is None or cached[0] != str(d):
        settled = data.settled_frame(_engine(request))
        cached = request.app.state.network_report = (str(d), network_report(d, settled=settled))
    return dict(cached[1])


@router.get("/fund/region.geojson")
def region_geojson(request: Request, p: Staff) -> Response:
    d = _data_dir(request)
    if d is None or not (d / "region.geojson").is_file():
        raise HTTPException(404, "没有合成统筹区地图 no region map")
    return FileResponse(d / "region.geojson", media_type="application/geo+json")
