"""HTTP face of internet care and the voucher: ``/api/care/...`` for the insured (and the family member acting
for them), hospitals, pharmacies, clinics, the bureau and the insurer's clearing.  Thin: parse, check who may
act, call :class:`yibao.care.store.CareService` / :class:`yibao.voucher.store.VoucherStore`, answer JSON.

Refusals are ``{"field", "reason", "code"}`` with 404 (not found), 403 (not yours), 409 (the state forbids it)
or 422 (bad input); nothing is half-written."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from yibao.access.principal import Principal
from yibao.care.online import RxLine
from yibao.care.store import CareService, CoverLookup
from yibao.errors import FieldError
from yibao.money import MoneyError, yuan_to_fen
from yibao.voucher.qr import qr_svg
from yibao.voucher.store import VoucherStore
from yibao.web.auth import current_principal, require
from yibao.web.deps import book_of, ledger_of

router = APIRouter(prefix="/api/care", tags=["internet care"])
Caller = Annotated[Principal, Depends(current_principal)]
Insured = Annotated[Principal, Depends(require("insured"))]
Institution = Annotated[Principal, Depends(require("institution"))]
Bureau = Annotated[Principal, Depends(require("auditor", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
BEIJING = ZoneInfo("Asia/Shanghai")
_LOCK = threading.Lock()


def install(app: Any) -> None:
    """Every settle path of the service (2206/2207, the visit flow's 2304, FHIR) reads the person's commercial
    products from here (医保+商保一单制 at the counter as online)."""
    app.state.covers = CoverLookup(app.state.ledger.sa_url)


STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "bad_move": 409,
    "conflict": 409,
    "not_paid": 409,
    "already_signed": 409,
    "written_off": 409,
    "overpay": 409,
    "replayed": 409,
    "revoked": 409,
    "expired": 409,
    "account_short": 409,
    "no_cover": 409,
    "ledger_mismatch": 409,
}


class Refused(Exception):
    def __init__(self, exc: FieldError) -> None:
        self.exc = exc


def _refuse(exc: FieldError) -> JSONResponse:
    code = exc.code
    status = STATUS.get(code, 409 if code.startswith(("credit_", "CARE-RX", "GZ-YB")) else 422)
    return JSONResponse({"field": exc.field, "reason": exc.reason, "code": code}, status_code=status)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def _care(request: Request) -> CareService:
    with _LOCK:
        svc = getattr(request.app.state, "care", None)
        if svc is None:
            svc = CareService.open(request.app.state.ledger.sa_url)
            request.app.state.care = svc
    return cast(CareService, svc)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the care service and its parameters (the 报销进度 page reads
    the insurers' names from it)."""
    _care(request)


def _vouchers(request: Request) -> VoucherStore:
    with _LOCK:
        vs = getattr(request.app.state, "vouchers", None)
        if vs is None:
            vs = VoucherStore.open(request.app.state.ledger.sa_url)
            vs.ensure_key(_now())
            request.app.state.vouchers = vs
    return cast(VoucherStore, vs)


def _for(p: Principal, psn_no: str) -> str:
    """The insured may act for themself and their linked family (亲情账户) only."""
    if psn_no not in p.family_psn_nos:
        raise FieldError("psn_no", "无权代办该参保人 you may not act for this person", "forbidden")
    return psn_no


def _inst(p: Principal, code: str) -> None:
    if p.fixmedins_code != code:
        raise FieldError("fixmedins_code", "不是本机构的业务 not your institution's business", "forbidden")


def _fen(value: str, field: str) -> int:
    try:
        return yuan_to_fen(value)
    except MoneyError as exc:
        raise FieldError(field, f"金额无效 invalid amount: {exc}") from exc


def _date(value: str | None, field: str) -> dt.date:
    if not value:
        return _today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise FieldError(field, "日期须为 YYYY-MM-DD date must be YYYY-MM-DD") from exc


def _run(fn: Any) -> Any:
    try:
        return fn()
    except FieldError as exc:
        return _refuse(exc)


# ---------------------------------------------------------------------------- voucher
class VoucherIn(BaseModel):
    psn_no: str = Field(description="人员编号 of the insured (oneself or a linked family member)")


class VerifyIn(BaseModel):
    token: str = Field(max_length=2000)
    psn_no: str | None = None


class RevokeIn(BaseModel):
    psn_no: str
    nonce: str | None = None


@router.post("/voucher", summary="出示医保电子凭证 show my voucher (QR)")
def voucher_show(body: VoucherIn, request: Request, p: Insured) -> Any:
    def go() -> Any:
        psn = _for(p, body.psn_no)
        holder = p.psn_no or f"user:{p.user_id}"
        v = _vouchers(request).issue(psn_no=psn, holder=holder, issued_by=p.user_id, now=_now())
        c = v.claims
        return {
            "token": v.token,
            "psn_no": c.psn_no,
            "holder": c.holder,
            "by_proxy": c.by_proxy,
            "expires_at": c.expires_at,
            "qr_svg": qr_svg(v.token),
        }

    return _run(go)


@router.post("/voucher/verify", summary="核验医保电子凭证 verify a voucher at the counter (1101 / 2201)")
def voucher_verify(body: VerifyIn, request: Request, p: Institution) -> Any:
    def go() -> Any:
        c = _vouchers(request).verify(
            body.token, now=_now(), fixmedins_code=p.fixmedins_code or "", expect_psn_no=body.psn_no
        )
        return {
            "psn_no": c.psn_no,
            "holder": c.holder,
            "by_proxy": c.by_proxy,
            "admdvs": c.admdvs,
            "kid": c.kid,
        }

    return _run(go)


@router.post("/voucher/keys/rotate", summary="轮换签名密钥 rotate the voucher signing key")
def voucher_rotate(request: Request, p: Admin) -> Any:
    vs = _vouchers(request)
    kid = vs.rotate(_now())
    return {"kid": kid, "keys": [{"kid": k.kid, "state": k.state} for k in vs.keys()]}


@router.post("/voucher/revoke", summary="作废凭证 revoke one voucher or all (lost phone)")
def voucher_revoke(body: RevokeIn, request: Request, p: Insured) -> Any:
    def go() -> Any:
        _vouchers(request).revoke(
            psn_no=_for(p, body.psn_no), by_user=p.user_id, now=_now(), nonce=body.nonce
        )
        return {"revoked": True}

    return _run(go)


# ---------------------------------------------------------------------------- follow-up to delivery
class ConditionIn(BaseModel):
    psn_no: str
    diagnosis: str = Field(description="ICD-10 code diagnosed at this offline visit")


class FollowupIn(BaseModel):
    psn_no: str
    internet_hospital: str
    diagnosis: str
    address: str = Field(max_length=500)


class RxLineIn(BaseModel):
    code: str
    units: int
    price: str = Field(description="unit price, 元")
    days: int


class PrescribeIn(BaseModel):
    prescriber: str
    target: str = Field(description="pharmacy code, or the attached hospital's own code")
    lines: list[RxLineIn]


class PayIn(BaseModel):
    pay_mode: str = Field("cash", description="cash (pay now) or credit (先诊疗后付费)")
    use_account: bool = Field(
        False,
        description="the personal account pays what the funds and commercial cover left (as its rule allows)",
    )


class DeliverIn(BaseModel):
    on: str | None = Field(None, description="day the drugs arrived (default today)")


@router.post("/conditions", summary="登记慢病 register a chronic condition at an offline visit")
def register_condition(body: ConditionIn, request: Request, p: Institution) -> Any:
    return _run(
        lambda: {
            "code": _care(request).register_condition(
                body.psn_no, body.diagnosis, _today(), p.fixmedins_code or ""
            )
        }
    )


@router.post("/followups", status_code=201, summary="申请线上复诊 request an online follow-up")
def request_followup(body: FollowupIn, request: Request, p: Insured) -> Any:
    return _run(
        lambda: _care(request).request_followup(
            psn_no=_for(p, body.psn_no),
            internet_hospital=body.internet_hospital,
            diagnosis=body.diagnosis,
            requested_by=p.user_id,
            address=body.address,
            now=_now(),
        )
    )


@router.get("/followups", summary="复诊列表 follow-ups (mine and my family's, or my internet hospital's)")
def list_followups(request: Request, p: Caller) -> Any:
    svc = _care(request)
    if p.role == "insured":
        return svc.followups(psn_nos=list(p.family_psn_nos))
    if p.role == "institution":
        return svc.followups(internet_hospital=p.fixmedins_code or "")
    return svc.followups()


@router.post("/followups/{followup_id}/prescription", summary="开具电子处方 issue the e-prescription")
def prescribe(followup_id: str, body: PrescribeIn, request: Request, p: Institution) -> Any:
    def go() -> Any:
        lines = [
            RxLine(ln.code, ln.units, _fen(ln.price, f"lines[{i}].price"), ln.days)
            for i, ln in enumerate(body.lines)
        ]
        return _care(request).prescribe(
            followup_id=followup_id,
            internet_hospital=p.fixmedins_code or "",
            prescriber=body.prescriber,
            lines=lines,
            target=body.target,
            today=_today(),
            now=_now(),
        )

    return _run(go)


@router.post("/followups/{followup_id}/pay", summary="支付（医保+商保一单制，或信用支付）pay the follow-up")
def pay_followup(followup_id: str, body: PayIn, request: Request, p: Insured) -> Any:
    def go() -> Any:
        svc = _care(request)
        _for(p, svc.followup(followup_id)["psn_no"])
        with ledger_of(request) as led:
            paid = svc.pay_followup(
                led,
                book_of(request),
                followup_id=followup_id,
                pay_mode=body.pay_mode,
                today=_today(),
                now=_now(),
                audit=request.app.state.audit_hook,
                use_account=body.use_account,
            )
        s = paid.settlement
        return {
            "bill": paid.bill,
            "setl_id": paid.setl_id,
            "settlement": {
                "med_type": s.med_type,
                "medfee_sumamt": s.medfee_sumamt,
                "hifp_pay": s.hifp_pay,
                "fund_pay_sumamt": s.fund_pay_sumamt,
                "psn_part_amt": s.psn_part_amt,
                "commercial_pay": s.commercial_pay,
                "commercial_product": s.commercial_product,
                "acct_pay": s.acct_pay,
                "psn_cash_pay": s.psn_cash_pay,
            },
        }

    return _run(go)


@router.get(
    "/prescriptions", summary="处方与配送 prescriptions and deliveries (mine, or routed to my pharmacy)"
)
def list_prescriptions(request: Request, p: Caller) -> Any:
    svc = _care(request)
    if p.role == "insured":
        return svc.prescriptions(psn_nos=list(p.family_psn_nos))
    if p.role == "institution":
        return svc.prescriptions(target=p.fixmedins_code or "")
    return svc.prescriptions()


@router.post("/prescriptions/{rx_id}/dispense", summary="调剂发药 dispense (once, checked)")
def dispense(rx_id: str, request: Request, p: Institution) -> Any:
    return _run(
        lambda: _care(request).dispense(
            rx_id=rx_id, pharmacy=p.fixmedins_code or "", today=_today(), now=_now()
        )
    )


@router.post("/prescriptions/{rx_id}/deliver", summary="送达 delivered to the patient")
def deliver(rx_id: str, body: DeliverIn, request: Request, p: Institution) -> Any:
    return _run(
        lambda: _care(request).deliver(
            rx_id=rx_id, pharmacy=p.fixmedins_code or "", on=_date(body.on, "on"), now=_now()
        )
    )


@router.get("/bills", summary="我的账单（一单制）my bills: every payer and my part")
def my_bills(request: Request, p: Insured) -> Any:
    return _care(request).bills(list(p.family_psn_nos))


# ---------------------------------------------------------------------------- credit pay
class RepayIn(BaseModel):
    amount: str = Field(description="元")


class SweepIn(BaseModel):
    on: str | None = None


@router.get("/credit", summary="信用账单 credit bills (mine; the bureau: all)")
def credit_bills(request: Request, p: Caller) -> Any:
    svc = _care(request)
    if p.role == "insured":
        return svc.credit_bills(list(p.family_psn_nos), _today())
    if p.role in ("auditor", "admin"):
        return svc.credit_bills(None, _today())
    return _refuse(FieldError("role", "无权查看 not allowed", "forbidden"))


@router.post("/credit/{bill_id}/repay", summary="还款 repay a credit bill")
def repay(bill_id: str, body: RepayIn, request: Request, p: Insured) -> Any:
    def go() -> Any:
        svc = _care(request)
        bill = svc.bill(bill_id)
        _for(p, bill["psn_no"])
        return svc.repay(
            bill_id=bill_id, amount=_fen(body.amount, "amount"), by_user=p.user_id, today=_today(), now=_now()
        )

    return _run(go)


@router.post(
    "/credit/sweep", summary="逾期处理 move unpaid bills to overdue / default / written off (daily job)"
)
def credit_sweep(body: SweepIn, request: Request, p: Admin) -> Any:
    return _run(lambda: {"changed": _care(request).refresh_credit(_date(body.on, "on"))})


# ---------------------------------------------------------------------------- remote consultation
class ConsultIn(BaseModel):
    psn_no: str
    consultant: str
    reason: str = Field(max_length=2000)


class AnswerIn(BaseModel):
    advice: str = Field(max_length=4000)
    ordered: list[str] = Field(default_factory=list, description="item codes to be done at the clinic")


class TestIn(BaseModel):
    code: str
    units: int = 1
    price: str


class SettleConsultIn(BaseModel):
    tests: list[TestIn] = Field(default_factory=list)
    diagnoses: list[str] = Field(
        default_factory=list, description="ICD-10 codes of the visit (a commercial product may require one)"
    )


@router.post("/consults", status_code=201, summary="发起远程会诊 request a remote consultation")
def request_consult(body: ConsultIn, request: Request, p: Institution) -> Any:
    return _run(
        lambda: _care(request).request_consult(
            psn_no=body.psn_no,
            requester=p.fixmedins_code or "",
            consultant=body.consultant,
            reason=body.reason,
            now=_now(),
        )
    )


@router.get("/consults", summary="会诊列表 consultations of my institution")
def list_consults(request: Request, p: Caller) -> Any:
    svc = _care(request)
    if p.role == "institution":
        return svc.consults(institution=p.fixmedins_code or "")
    if p.role == "insured":
        return svc.consults(psn_nos=list(p.family_psn_nos))
    return svc.consults()


@router.post("/consults/{consult_id}/answer", summary="会诊意见 the consultant's advice and orders")
def answer_consult(consult_id: str, body: AnswerIn, request: Request, p: Institution) -> Any:
    return _run(
        lambda: _care(request).answer_consult(
            consult_id=consult_id,
            consultant=p.fixmedins_code or "",
            advice=body.advice,
            ordered=body.ordered,
            now=_now(),
        )
    )


@router.post("/consults/{consult_id}/settle", summary="本地结算 settle the fee and the tests at the clinic")
def settle_consult(consult_id: str, body: SettleConsultIn, request: Request, p: Institution) -> Any:
    def go() -> Any:
        tests = [(t.code, t.units, _fen(t.price, f"tests[{i}].price")) for i, t in enumerate(body.tests)]
        svc = _care(request)
        with ledger_of(request) as led:
            paid = svc.settle_consult(
                led,
                book_of(request),
                consult_id=consult_id,
                requester=p.fixmedins_code or "",
                test_lines=tests,
                today=_today(),
                now=_now(),
                audit=request.app.state.audit_hook,
                diagnoses=tuple(body.diagnoses),
            )
        return {"bill": paid.bill, "setl_id": paid.setl_id, "consult": svc.consult(consult_id)}

    return _run(go)


# ---------------------------------------------------------------------------- family doctor and capitation
class ContractIn(BaseModel):
    psn_no: str
    doctor: str
    package: str
    payer: str = Field(description="fund / account / commercial / self (as the package allows)")
    start: str | None = None


class OutcomeIn(BaseModel):
    psn_no: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    measure: str
    controlled: bool


class CapitationIn(BaseModel):
    consortium: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")


@router.post("/contracts", status_code=201, summary="家庭医生签约 sign a family-doctor contract")
def sign_contract(body: ContractIn, request: Request, p: Institution) -> Any:
    def go() -> Any:
        svc = _care(request)
        with ledger_of(request) as led:
            contract = svc.sign_contract(
                led,
                book_of(request),
                psn_no=body.psn_no,
                fixmedins_code=p.fixmedins_code or "",
                doctor=body.doctor,
                package=body.package,
                payer=body.payer,
                start=_date(body.start, "start"),
                now=_now(),
                audit=request.app.state.audit_hook,
            )
        bill = svc.bill(contract["bill_id"]) if contract["bill_id"] else None
        return {**contract, "bill": bill}

    return _run(go)


@router.get("/contracts", summary="签约 contracts (mine, or my consortium's)")
def list_contracts(request: Request, p: Caller) -> Any:
    svc = _care(request)
    if p.role == "insured":
        return svc.contracts(psn_nos=list(p.family_psn_nos))
    if p.role == "institution":
        return svc.contracts(consortium=svc.params.consortium_of(p.fixmedins_code or "") or "-")
    return svc.contracts()


@router.post("/outcomes", summary="慢病控制结果 record a contracted patient's control result")
def record_outcome(body: OutcomeIn, request: Request, p: Institution) -> Any:
    def go() -> Any:
        _care(request).record_outcome(
            psn_no=body.psn_no,
            month=body.month,
            measure=body.measure,
            controlled=body.controlled,
            by=p.user_id,
        )
        return {"recorded": True}

    return _run(go)


@router.post("/capitation", summary="按人头付费月度结算 compute a consortium's capitation month")
def capitation(body: CapitationIn, request: Request, p: Admin) -> Any:
    def go() -> Any:
        month = _date(body.month + "-01", "month")
        with ledger_of(request) as led:
            return _care(request).compute_capitation(
                led, consortium=body.consortium, month_first=month, now=_now()
            )

    return _run(go)


# ---------------------------------------------------------------------------- commercial cover and the insurer
class CoverIn(BaseModel):
    psn_no: str
    product: str
    valid_from: str
    valid_to: str


class StatementIn(BaseModel):
    insurer: str
    period_from: str
    period_to: str


class ReconcileIn(BaseModel):
    claims: dict[str, str] = Field(description="claim id → amount the insurer accepts, 元")


@router.post("/covers", summary="商保参保 record a person's commercial cover (the insurer's enrolment feed)")
def add_cover(body: CoverIn, request: Request, p: Admin) -> Any:
    def go() -> Any:
        _care(request).add_cover(
            psn_no=body.psn_no,
            product=body.product,
            valid_from=_date(body.valid_from, "valid_from"),
            valid_to=_date(body.valid_to, "valid_to"),
        )
        return {"ok": True}

    return _run(go)


@router.get("/claims", summary="商保理赔 commercial claims")
def list_claims(request: Request, p: Bureau, insurer: str | None = None) -> Any:
    return _care(request).claims(insurer)


@router.post("/statements", status_code=201, summary="对保险公司出清算单 statement to an insurer")
def make_statement(body: StatementIn, request: Request, p: Admin) -> Any:
    def go() -> Any:
        with ledger_of(request) as led:
            return _care(request).make_statement(
                led,
                insurer=body.insurer,
                period_from=_date(body.period_from, "period_from"),
                period_to=_date(body.period_to, "period_to"),
                now=_now(),
            )

    return _run(go)


@router.post(
    "/statements/{statement_id}/reconcile", summary="对账 reconcile with the insurer's returned file"
)
def reconcile(statement_id: str, body: ReconcileIn, request: Request, p: Admin) -> Any:
    def go() -> Any:
        theirs = {k: _fen(v, f"claims.{k}") for k, v in body.claims.items()}
        return _care(request).reconcile_statement(statement_id=statement_id, theirs=theirs)

    return _run(go)


# ---------------------------------------------------------------------------- bureau figures
@router.get("/figures", summary="局端指标 online share, capitation, credit defaults, commercial paid")
def figures(request: Request, p: Bureau) -> Any:
    def go() -> Any:
        with ledger_of(request) as led:
            return _care(request).figures(led, _today())

    return _run(go)
