"""The insured person's internet-care pages: show my voucher (QR), request a follow-up, my prescriptions and
deliveries, my bills (一单制), my credit bills and repayment, my family-doctor contract.

Ageing-friendly as the rest of the portal: Chinese first, ``?big=1`` large text, everything on one page with few
steps, and a family member can act (``?psn=``, 亲情账户).  Each form posts to the same use cases as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.care.store import CareService
from yibao.errors import FieldError
from yibao.money import MoneyError, yuan_to_fen
from yibao.voucher.qr import qr_svg
from yibao.web.auth import require
from yibao.web.care import _care, _now, _today, _vouchers
from yibao.web.deps import access_log_of, book_of, ledger_of
from yibao.web.portal.pages import _family, _remember_psn, acting_for, render

router = APIRouter(include_in_schema=False)
Insured = Annotated[Principal, Depends(require("insured"))]


def _refused(exc: FieldError) -> HTTPException:
    return HTTPException(422, f"{exc.reason}（{exc.field}）")


@router.get("/me/care", response_class=HTMLResponse)
def care_home(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    svc = _care(request)
    today = _today()
    access_log_of(request)(p, psn, "portal internet care")
    conditions = sorted(svc.conditions(psn))
    resp = render(
        request,
        "care.html",
        {
            "psn": psn,
            "family": _family(request, p),
            "conditions": [
                (c, svc.params.conditions[c].name) for c in conditions if c in svc.params.conditions
            ],
            "hospitals": list(svc.params.internet_hospitals.values()),
            "followups": svc.followups(psn_nos=[psn]),
            "prescriptions": svc.prescriptions(psn_nos=[psn]),
            "bills": svc.bills([psn]),
            "credit": svc.credit_bills([psn], today),
            "contracts": svc.contracts(psn_nos=[psn]),
            "packages": svc.params.packages,
        },
    )
    return _remember_psn(resp, request, psn)


@router.post("/me/care/voucher", response_class=HTMLResponse)
def show_voucher(request: Request, p: Insured, psn_no: Annotated[str, Form()]) -> Response:
    if psn_no not in p.family_psn_nos:
        raise HTTPException(403, "只能为本人或已绑定亲属出示凭证 only for yourself or linked family")
    vs = _vouchers(request)
    v = vs.issue(psn_no=psn_no, holder=p.psn_no or f"user:{p.user_id}", issued_by=p.user_id, now=_now())
    access_log_of(request)(p, psn_no, "voucher issued")
    refresh = max(10, vs.params.lifetime_seconds - 10)
    return render(
        request,
        "care_voucher.html",
        {
            "v": v,
            "svg": qr_svg(v.token, scale=6),
            "refresh": refresh,
            "psn": psn_no,
            "names": {f["psn_no"]: f["name"] for f in _family(request, p)},
        },
    )


@router.post("/me/care/followup")
def request_followup(
    request: Request,
    p: Insured,
    psn_no: Annotated[str, Form()],
    internet_hospital: Annotated[str, Form()],
    diagnosis: Annotated[str, Form()],
    address: Annotated[str, Form()],
) -> Response:
    if psn_no not in p.family_psn_nos:
        raise HTTPException(403, "只能为本人或已绑定亲属办理 only for yourself or linked family")
    try:
        _care(request).request_followup(
            psn_no=psn_no,
            internet_hospital=internet_hospital,
            diagnosis=diagnosis,
            requested_by=p.user_id,
            address=address,
            now=_now(),
        )
    except FieldError as exc:
        raise _refused(exc) from exc
    return RedirectResponse(f"/me/care?psn={psn_no}", status_code=303)


@router.post("/me/care/pay/{followup_id}")
def pay(
    request: Request, p: Insured, followup_id: str, pay_mode: Annotated[str, Form()] = "cash"
) -> Response:
    svc = _care(request)
    try:
        f = svc.followup(followup_id)
        if f["psn_no"] not in p.family_psn_nos:
            raise HTTPException(403, "无权代办 not allowed")
        with ledger_of(request) as led:
            svc.pay_followup(
                led,
                book_of(request),
                followup_id=followup_id,
                pay_mode=pay_mode,
                today=_today(),
                now=_now(),
                audit=request.app.state.audit_hook,
            )
    except FieldError as exc:
        raise _refused(exc) from exc
    return RedirectResponse(f"/me/care?psn={f['psn_no']}", status_code=303)


@router.post("/me/care/repay/{bill_id}")
def repay(request: Request, p: Insured, bill_id: str, amount: Annotated[str, Form()]) -> Response:
    svc = _care(request)
    try:
        bill = svc.bill(bill_id)
        if bill["psn_no"] not in p.family_psn_nos:
            raise HTTPException(403, "无权代办 not allowed")
        try:
            fen = yuan_to_fen(amount)
        except MoneyError as exc:
            raise FieldError("amount", f"金额无效 invalid amount: {exc}") from exc
        svc.repay(bill_id=bill_id, amount=fen, by_user=p.user_id, today=_today(), now=_now())
    except FieldError as exc:
        raise _refused(exc) from exc
    return RedirectResponse(f"/me/care?psn={bill['psn_no']}", status_code=303)


# ---------------------------------------------------------------------------- work pages and the bureau
Institution = Annotated[Principal, Depends(require("institution"))]
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]


@router.get("/desk/care", response_class=HTMLResponse)
def work_page(request: Request, p: Institution) -> Response:
    """An institution's work list: follow-ups waiting at its internet hospital, prescriptions routed to it
    (dispense, deliver), remote consultations it asked for or was asked, its consortium's contracts."""
    svc = _care(request)
    code = p.fixmedins_code or ""
    ih = code if code in svc.params.internet_hospitals else None
    return render(
        request,
        "care_work.html",
        {
            "code": code,
            "name": _institution_name(svc, code),
            "followups": svc.followups(internet_hospital=ih) if ih else [],
            "prescriptions": svc.prescriptions(target=code),
            "consults": svc.consults(code),
            "contracts": svc.contracts(consortium=svc.params.consortium_of(code) or "-"),
            "packages": svc.params.packages,
        },
    )


@router.post("/desk/care/dispense/{rx_id}")
def work_dispense(request: Request, p: Institution, rx_id: str) -> Response:
    try:
        _care(request).dispense(rx_id=rx_id, pharmacy=p.fixmedins_code or "", today=_today(), now=_now())
    except FieldError as exc:
        raise _refused(exc) from None
    return RedirectResponse("/desk/care", status_code=303)


@router.post("/desk/care/deliver/{rx_id}")
def work_deliver(request: Request, p: Institution, rx_id: str) -> Response:
    try:
        _care(request).deliver(rx_id=rx_id, pharmacy=p.fixmedins_code or "", on=_today(), now=_now())
    except FieldError as exc:
        raise _refused(exc) from None
    return RedirectResponse("/desk/care", status_code=303)


@router.get("/dashboard/care", response_class=HTMLResponse)
def bureau_page(request: Request, p: Staff) -> Response:
    """The bureau's internet-care figures: online share of visits, capitation months, credit bills and
    defaults, commercial cover paid per insurer and the statements to insurers."""
    from yibao.web.dashboard.pages import templates as dashboard_templates

    svc = _care(request)
    with ledger_of(request) as led:
        fig = svc.figures(led, _today())
    statements = svc.statements()
    return render(
        request,
        "care_bureau.html",
        {"fig": fig, "insurers": svc.params.insurers, "statements": statements},
        env=dashboard_templates,
    )


def _institution_name(svc: CareService, code: str) -> str:
    params = svc.params
    for table in (params.internet_hospitals, params.hospitals, params.pharmacies):
        if code in table:
            return str(table[code].name)
    return code
