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
from yibao.crossregion.clearing import ACTION_NAMES, break_actions
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
Clerk = Annotated[
    Principal, Depends(require("admin"))
]  # 清算经办: reversing and disputing is not an auditor's
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


def _breaks(
    request: Request, outbound: list[dict[str, Any]], inbound: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str]:
    """对账 with the hub, as the care region and as the insured region: every break, drilled down to the
    settlement, with how it closes and the actions that close it (empty, with the reason, when the hub is
    not reachable)."""
    st = state(request)
    if st.care is None:
        return [], ""
    code = book_of(request).admdvs
    peers = {"care": {r["msgid"]: r["insu_admdvs"] for r in outbound},
             "insured": {r["msgid"]: r["care_admdvs"] for r in inbound}}  # fmt: skip
    breaks: list[dict[str, Any]] = []
    try:
        for side, rows in (("care", outbound), ("insured", inbound)):
            mine = [{"msgid": r["msgid"], "status": r["status"], "owed": int(r["fund_pay_sumamt"]) + int(r["acct_pay"])}
                    for r in rows if r["status"] in ("settled", "reversed")]  # fmt: skip
            ans = st.care.hub.post("/hub/v1/reconcile", {"admdvs": code, "side": side, "records": mine})
            for b in ans.get("breaks") or []:
                peer = str(b.get("peer") or peers[side].get(b["msgid"], ""))
                acts = break_actions(str(b["kind"]), side, str(b["here"]), str(b["there"]))  # type: ignore[arg-type]
                breaks.append({**b, "side": side, "peer": peer, "hub": b.get("hub") or {}, "actions": acts})
    except Unreachable as exc:
        return [], str(exc)[:200]
    return breaks, ""


def _with_status(breaks: list[dict[str, Any]], log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each break with what was last done about it (处理状态): untouched, or the last action, its outcome, who
    and when (Beijing time)."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in reversed(log):  # oldest first, so the newest wins
        last[(r["msgid"], r["side"])] = {**r, "at_bj": _beijing(str(r["at"]))}
    return [{**b, "last": last.get((b["msgid"], b["side"]))} for b in breaks]


@router.get("/dashboard/crossregion", response_class=HTMLResponse)
def bureau(request: Request, p: Staff, month: str = "") -> Response:
    return _bureau_page(request, p, month)


def _bureau_page(
    request: Request, p: Principal, month: str, notice: tuple[str, str] | None = None, status_code: int = 200
) -> Response:
    st = state(request)
    outbound = st.care.outbound.all() if st.care else []
    inbound = st.inbound.all()
    months = sorted({str(r["setl_date"])[:7] for r in outbound + inbound if r["setl_date"]})
    month = month or (months[-1] if months else dt.date.today().isoformat()[:7])
    hub: dict[str, Any] | None = None
    hub_error = ""
    if st.care is not None:
        try:
            hub = st.care.hub.get(f"/hub/v1/clearing/{month}")
        except Unreachable as exc:
            hub_error = str(exc)[:200]
    breaks, break_error = _breaks(request, outbound, inbound)
    log = st.break_log.recent()
    resp = render(
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
            "breaks": _with_status(breaks, log),
            "hub_error": hub_error or break_error,
            "may_resolve": p.role == "admin",
            "action_names": ACTION_NAMES,
            "log": [{**r, "at_bj": _beijing(str(r["at"]))} for r in log[:50]],
            "notice": notice,
            "queue": st.filings.queue(),
            "types": FILING_TYPES,
            "channels": CHANNELS,
            "hub": hub,
            "fmt": fmt_yuan,
        },
        env=dashboard_templates,
    )
    resp.status_code = status_code
    return resp


@router.post("/dashboard/crossregion/breaks/resolve", response_class=HTMLResponse)
def resolve_break(
    request: Request,
    p: Clerk,
    msgid: Annotated[str, Form()],
    side: Annotated[str, Form()],
    action: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
) -> Response:
    """差异处理 by a clearing clerk: the break is found again by reconciling now (never taken from the form),
    then closed by the chosen action with the clerk's reason; the page comes back with what happened."""
    st = state(request)
    if st.care is None:
        return _bureau_page(
            request,
            p,
            month,
            ("本统筹区未接入清算中心，无法处理差异 this region has no clearing hub", "error"),
            422,
        )
    outbound = st.care.outbound.all()
    breaks, hub_error = _breaks(request, outbound, st.inbound.all())
    if hub_error:
        return _bureau_page(
            request,
            p,
            month,
            (f"清算中心暂不可达，请稍后重试 the hub is not reachable: {hub_error}", "error"),
            503,
        )
    found = next((b for b in breaks if b["msgid"] == msgid and b["side"] == side), None)
    if found is None:
        return _bureau_page(
            request, p, month, (f"报文 {msgid} 已无差异（可能已处理） no such break now", "error"), 409
        )
    case = xr.BreakCase(msgid, found["side"], str(found["kind"]), str(found["here"]), str(found["there"]),
                        found["peer"], found["hub"])  # fmt: skip
    actor = f"{p.display_name}（{p.user_id}）"
    try:
        note = xr.resolve_break(
            case, action, reason, actor, own_admdvs=book_of(request).admdvs, hub=st.care.hub, log=st.break_log,
            care=st.care, inbound=st.inbound, ledger=lambda: ledger_of(request), today=dt.date.today(),
        )  # fmt: skip
    except FieldError as exc:
        return _bureau_page(request, p, month, (f"未处理：{exc.reason}（{exc.field}）", "error"), 422)
    return _bureau_page(request, p, month, (f"报文 {msgid}：{note}", "ok"))
