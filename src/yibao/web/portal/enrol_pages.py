"""The insured person's 参保信息 (insurance status, with the reason in plain words when benefits cannot be used
today and the day they start again) and 缴费记录 (premiums and monthly contributions, 欠缴 marked).

Family members (亲情账户) as on the other portal pages (``?psn=``); ``?on=YYYY-MM-DD`` shows the status on
another day (e.g. a planned admission).  The pages read the same benefit check as 2001 and 2207
(:mod:`yibao.usecases.eligibility`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from yibao.access.principal import Principal
from yibao.usecases.eligibility import insurance_record
from yibao.web.auth import require
from yibao.web.deps import access_log_of, eligibility_of
from yibao.web.portal.pages import _family, _remember_psn, acting_for, local_today, render

router = APIRouter(include_in_schema=False)
Insured = Annotated[Principal, Depends(require("insured"))]


def _day(request: Request) -> dt.date:
    raw = request.query_params.get("on")
    if not raw:
        return local_today()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(422, "日期格式错误 invalid date: on (YYYY-MM-DD)") from None


def _page(request: Request, p: Principal, name: str) -> Response:
    psn = acting_for(request, p)
    on = _day(request)
    rec = insurance_record(p, eligibility_of(request), access_log_of(request), psn, on)
    resp = render(request, name, {"rec": rec, "psn": psn, "on": on, "family": _family(request, p)})
    return _remember_psn(resp, request, psn)


@router.get("/me/insurance", response_class=HTMLResponse)
def my_insurance(request: Request, p: Insured) -> Response:
    """参保信息: the status on the day and every status period, the relation's history."""
    return _page(request, p, "insurance.html")


@router.get("/me/contributions", response_class=HTMLResponse)
def my_contributions(request: Request, p: Insured) -> Response:
    """缴费记录: resident premiums and employee monthly contributions."""
    return _page(request, p, "contributions.html")
