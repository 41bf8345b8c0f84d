"""异地就医 pages: the insured person files for care elsewhere (place, dates, type, reason), sees their filings
and where they may be treated and how; the bureau sees outflow and inflow by region and month, the filings
queue, unanswered settlements, and — from the hub — prepayment balances and disputes.  Each form posts to the
same use cases as the API."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.crossregion.client import Unreachable
from yibao.crossregion.filing import CHANNELS, FILING_TYPES
from yibao.errors import FieldError
from yibao.money import fmt_yuan
from yibao.usecases import crossregion as xr
from yibao.web.auth import require
from yibao.web.crossregion import state
from yibao.web.dashboard.pages import templates as dashboard_templates
from yibao.web.deps import access_log_of, book_of, ledger_of
from yibao.web.portal.pages import _family, _remember_psn, acting_for, render

router = APIRouter(include_in_schema=False)
BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")
Insured = Annotated[Principal, Depends(require("insured"))]
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
LOCALITY_NAMES = {
    "local": ("本地", "local"),
    "remote_longterm": ("异地长期居住已备案", "filed, long-term"),
    "remote_filed": ("异地临时外出已备案（含急诊抢救）", "filed, temporary (and emergencies)"),
    "remote_unfiled": ("异地未备案", "not filed"),
}


def _where(request: Request, psn: str) -> list[dict[str, Any]]:
    """What the person's own region pays for a stay at each kind of place (its policy, today's version)."""
    book = book_of(request)
    today = dt.date.today()
    with ledger_of(request) as led:
        person = led.get_person(psn, today)
    try:
        policy = book.for_date(today)
    except FieldError:
        return []
    benefit = policy.benefits.get((person.insutype, "21"))
    if benefit is None:
        return []
    top = max(policy.levels)
    rows = []
    for loc, names in LOCALITY_NAMES.items():
        refused = loc in benefit.refused
        ratio = benefit.ratio.get((top, person.psn_type, loc))
        rows.append({"names": names, "refused": refused, "ratio": None if ratio is None else ratio / 100})
    return rows


@router.get("/me/elsewhere", response_class=HTMLResponse)
def elsewhere(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    access_log_of(request)(p, psn, "portal filings")
    filings = state(request).filings.for_person(psn)
    resp = render(
        request,
        "elsewhere.html",
        {
            "psn": psn,
            "family": _family(request, p),
            "filings": filings,
            "types": FILING_TYPES,
            "where": _where(request, psn),
            "region": book_of(request).loaded.region.region.name,
            "today": dt.date.today().isoformat(),
        },
    )
    return _remember_psn(resp, request, psn)


@router.post("/me/elsewhere/file")
def file_form(
    request: Request,
    p: Insured,
    psn_no: Annotated[str, Form()],
    care_admdvs: Annotated[str, Form()],
    type_code: Annotated[str, Form()],
    begin: Annotated[str, Form()],
    end: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    if psn_no not in p.family_psn_nos:
        raise HTTPException(403, "只能为本人或已绑定亲属备案 only for yourself or linked family")
    st = state(request)
    data = {"psn_no": psn_no, "care_admdvs": care_admdvs, "type_code": type_code, "channel": "app",
            "begin": begin, "end": end, "reason": reason}  # fmt: skip
    try:
        xr.file(st.filings, st.params, book_of(request).admdvs, data, dt.date.today())
    except FieldError as exc:
        raise HTTPException(422, f"{exc.reason}（{exc.field}）") from None
    return RedirectResponse(f"/me/elsewhere?psn={psn_no}", status_code=303)


@router.post("/me/elsewhere/{filing_id}/cancel")
def cancel_form(request: Request, p: Insured, filing_id: str) -> Response:
    st = state(request)
    try:
        f = st.filings.get(filing_id)
        if f.psn_no not in p.family_psn_nos:
            raise HTTPException(403, "不是本人或亲属的备案 not yours")
        xr.cancel(st.filings, st.params, filing_id, f.psn_no, dt.date.today())
    except FieldError as exc:
        raise HTTPException(422, f"{exc.reason}（{exc.field}）") from None
    return RedirectResponse(f"/me/elsewhere?psn={f.psn_no}", status_code=303)


# ---------------------------------------------------------------------------- the bureau


def _beijing(iso: str) -> str:
    """A stored UTC timestamp as Beijing time for people."""
    try:
        return dt.datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso[:19]


def _flows(rows: list[dict[str, Any]], peer_key: str) -> list[dict[str, Any]]:
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r["status"] != "settled":
            continue
        a = acc[(str(r["setl_date"])[:7], str(r[peer_key]))]
        a[0] += 1
        a[1] += int(r["medfee_sumamt"])
        a[2] += int(r["fund_pay_sumamt"]) + int(r["acct_pay"])
    return [
        {"month": m, "region": k, "count": v[0], "medfee": fmt_yuan(v[1]), "owed": fmt_yuan(v[2])}
        for (m, k), v in sorted(acc.items(), reverse=True)
    ]


@router.get("/dashboard/crossregion", response_class=HTMLResponse)
def bureau(request: Request, p: Staff, month: str = "") -> Response:
    st = state(request)
    outbound = st.care.outbound.all() if st.care else []
    inbound = st.inbound.all()
    months = sorted({str(r["setl_date"])[:7] for r in outbound + inbound if r["setl_date"]})
    month = month or (months[-1] if months else dt.date.today().isoformat()[:7])
    hub: dict[str, Any] | None = None
    hub_error = ""
    breaks: list[dict[str, Any]] = []
    if st.care is not None:
        try:
            hub = st.care.hub.get(f"/hub/v1/clearing/{month}")
            # 对账 with the hub, as the care region and as the insured region: every break, drilled down to
            # the settlement, with how it closes
            code = book_of(request).admdvs
            for side, rows in (("care", outbound), ("insured", inbound)):
                mine = [{"msgid": r["msgid"], "status": r["status"], "owed": int(r["fund_pay_sumamt"]) + int(r["acct_pay"])}
                        for r in rows if r["status"] in ("settled", "reversed")]  # fmt: skip
                ans = st.care.hub.post("/hub/v1/reconcile", {"admdvs": code, "side": side, "records": mine})
                breaks += [{**b, "side": side} for b in ans.get("breaks") or []]
        except Unreachable as exc:
            hub_error = str(exc)[:200]
    return render(
        request,
        "crossregion_bureau.html",
        {
            "region": book_of(request).admdvs,
            "month": month,
            "months": months,
            "inflow": _flows(outbound, "insu_admdvs"),
            "outflow": _flows(inbound, "care_admdvs"),
            "unanswered": [
                {**r, "created_bj": _beijing(str(r["created"]))}
                for r in outbound
                if r["status"] in ("pending", "reversing")
            ],
            "breaks": breaks,
            "queue": st.filings.queue(),
            "types": FILING_TYPES,
            "channels": CHANNELS,
            "hub": hub,
            "hub_error": hub_error,
            "fmt": fmt_yuan,
        },
        env=dashboard_templates,
    )
