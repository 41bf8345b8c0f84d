"""National-style transactions over HTTP JSON: ``POST /api/transaction`` (dispatch by ``infno``) and
``POST /fsi/api/{infno}``.  Business errors come back as ``infcode`` −1 with the field named; a
caller who may not do this at all gets HTTP 401/403."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from yibao.access.principal import Forbidden, Principal
from yibao.errors import FieldError
from yibao.money import MoneyError, yuan_to_fen
from yibao.settlement import io as sio
from yibao.usecases import eligibility, persons, settlement
from yibao.web import national
from yibao.web.auth import current_principal_async
from yibao.web.deps import access_log_of, audit_hook_of, book_of, eligibility_of, ledger_of
from yibao.web.jsonresp import json_response
from yibao.web.national import Envelope, EnvelopeError, Statement

router = APIRouter(tags=["national 国家接口"])

Handler = Callable[[Request, Principal, Envelope], dict[str, Any]]


def _1101(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    data = national.data_of(env)
    cert_type = national.text_field(data, "mdtrt_cert_type", required=False) or "02"
    if cert_type not in national.MDTRT_CERT_TYPES:
        raise EnvelopeError("input.data.mdtrt_cert_type", f"{cert_type!r} is not one of 01, 02, 03")
    cert_no = national.text_field(data, "mdtrt_cert_no", required=False) or national.text_field(
        data, "psn_no"
    )
    today = dt.date.today()
    with ledger_of(request) as led:
        psn_no = persons.find_psn_no(led, cert_type, cert_no)
        pers, balance = persons.read_person(
            led, p, psn_no, today, "1101 person info", access_log_of(request), presented=True
        )
    out = national.person_output(pers, balance, today)
    for row in out["insuinfo"]:  # the insurance status as the enrolment tables know it
        row.update(eligibility.insuinfo_overrides(eligibility_of(request), psn_no, today))
    return out


def _2001(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    """2001 人员待遇享受检查 (:func:`yibao.usecases.eligibility.check_2001`)."""
    data = national.data_of(env)
    psn_no = national.text_field(data, "psn_no")
    begntime = national.text_field(data, "begntime")
    try:
        day = dt.date.fromisoformat(begntime[:10])
    except ValueError:
        raise EnvelopeError("input.data.begntime", "就诊日期格式错误 invalid date", "invalid") from None
    return eligibility.benefit_check(
        p,
        eligibility_of(request),
        access_log_of(request),
        psn_no,
        day,
        national.text_field(data, "med_type"),
        national.text_field(data, "insutype", required=False),
    )


def _settle(pre: bool) -> Handler:
    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        data = national.data_of(env)
        visit = sio.parse_visit(data)
        if env.fixmedins_code and env.fixmedins_code != visit.fixmedins_code:
            raise EnvelopeError(
                "fixmedins_code", f"envelope {env.fixmedins_code} ≠ visit {visit.fixmedins_code}", "mismatch"
            )
        insu = env.insuplc_admdvs[:6]
        if insu and insu != book_of(request).admdvs:  # a visitor insured elsewhere (异地就医直接结算)
            from yibao.web.crossregion import settle_visitor

            return settle_visitor(request, p, env, visit, data, pre)
        with ledger_of(request) as led:
            out = settlement.settle(
                led,
                book_of(request),
                visit,
                env.msgid,
                audit=audit_hook_of(request),
                pre=pre,
                caller=p,
                eligibility=eligibility_of(request),
            )
        return national.settle_output(out)

    return handler


def _2208(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    data = national.data_of(env)
    with ledger_of(request) as led:
        out = settlement.cancel(
            led,
            p,
            national.text_field(data, "setl_id"),
            env.msgid,
            psn_no=national.text_field(data, "psn_no", required=False),
            mdtrt_id=national.text_field(data, "mdtrt_id", required=False),
        )
    return national.undo_output(out)


def _2601(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    data = national.data_of(env)
    oinfno = national.text_field(data, "oinfno", required=False)
    if oinfno and oinfno not in ("2207", "2208"):
        raise EnvelopeError("input.data.oinfno", f"{oinfno} cannot be reversed here (2207 or 2208)")
    with ledger_of(request) as led:
        out = settlement.reverse(led, p, national.text_field(data, "omsgid"), env.msgid)
    return national.undo_output(out)


def _fen(data: dict[str, Any], key: str, path: str = "input.data.") -> int:
    try:
        return yuan_to_fen(data.get(key, "0") if not isinstance(data.get(key), float) else str(data[key]))
    except MoneyError as exc:
        raise EnvelopeError(f"{path}{key}", str(exc), "bad_amount") from None


def _3201(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    data = national.data_of(env)
    cnt_raw = data.get("fixmedins_setl_cnt", 0)
    if isinstance(cnt_raw, bool) or not str(cnt_raw).isdigit():
        raise EnvelopeError(
            "input.data.fixmedins_setl_cnt", f"{cnt_raw!r} is not a non-negative whole number"
        )
    submitted = Statement(
        _fen(data, "medfee_sumamt"), _fen(data, "fund_pay_sumamt"), _fen(data, "acct_pay"), int(str(cnt_raw))
    )
    code = env.fixmedins_code or national.text_field(data, "fixmedins_code", required=False) or None
    with ledger_of(request) as led:
        ours = settlement.statement(
            led,
            p,
            fixmedins_code=code,
            insutype=national.text_field(data, "insutype", required=False),
            begin=national.parse_date(data.get("stmt_begndate"), "input.data.stmt_begndate"),
            end=national.parse_date(data.get("stmt_enddate"), "input.data.stmt_enddate"),
        )
    ledger_side = Statement(ours.medfee_sumamt, ours.fund_pay_sumamt, ours.acct_pay, ours.count)
    return national.reconcile(
        submitted, ledger_side, national.text_field(data, "setl_optins", required=False)
    )


def _3202(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    """3202 对明细账: the institution's list of settlements (``details``) against the ledger's, break by break."""
    data = national.data_of(env)
    raw = data.get("details", [])
    if not isinstance(raw, list):
        raise EnvelopeError("input.data.details", "须为结算明细列表 must be a list of settlements")
    submitted: dict[str, tuple[str, int, int, int]] = {}
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise EnvelopeError(f"input.data.details[{i}]", "须为对象 must be an object")
        sid = national.text_field(d, "setl_id", path=f"input.data.details[{i}].")
        flag = (
            national.text_field(d, "refd_setl_flag", required=False, path=f"input.data.details[{i}].") or "0"
        )
        where = f"input.data.details[{i}]."
        medfee, fund, acct = (_fen(d, k, where) for k in national.DETAIL_FIELDS)
        submitted[sid] = ("cancelled" if flag == "1" else "active", medfee, fund, acct)
    code = env.fixmedins_code or national.text_field(data, "fixmedins_code", required=False) or None
    with ledger_of(request) as led:
        rows = settlement.detail(
            led,
            p,
            fixmedins_code=code,
            begin=national.parse_date(data.get("stmt_begndate"), "input.data.stmt_begndate"),
            end=national.parse_date(data.get("stmt_enddate"), "input.data.stmt_enddate"),
        )
    ledger_side = {
        s.setl_id: (s.status, s.settlement.medfee_sumamt, s.settlement.fund_pay_sumamt, s.settlement.acct_pay)
        for s in rows
    }
    return national.reconcile_detail(submitted, ledger_side)


HANDLERS: dict[str, Handler] = {
    "1101": _1101,
    "2001": _2001,
    "2206": _settle(True),
    "2207": _settle(False),
    "2208": _2208,
    "2601": _2601,
    "3201": _3201,
    "3202": _3202,
}
ENVELOPE_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": Envelope.model_json_schema()}},
    }
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "应答报文 response envelope (infcode 0 or −1)", "model": national.EnvelopeResponse},
    401: {"description": "not logged in"},
    403: {"description": "role or institution not allowed"},
    422: {"description": "the body is not an envelope"},
}


async def _envelope(request: Request, infno: str | None) -> Envelope:
    body = await request.body()
    try:
        raw = sio.loads(body.decode("utf-8", errors="replace"))
        if isinstance(raw, dict) and infno is not None:
            raw.setdefault("infno", infno)
        env = Envelope.model_validate(raw)
    except FieldError as exc:
        raise HTTPException(422, [{"loc": ["body"], "msg": exc.reason, "type": exc.code}]) from None
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
    if infno is not None and env.infno != infno:
        raise HTTPException(
            422, [{"loc": ["body", "infno"], "msg": f"infno {env.infno} ≠ path {infno}", "type": "mismatch"}]
        )
    return env


def _run(request: Request, p: Principal, env: Envelope) -> Response:
    received = dt.datetime.now(dt.UTC)
    handler = HANDLERS.get(env.infno)
    if handler is None:
        err = EnvelopeError(
            "infno", f"unsupported transaction {env.infno} (supported: {', '.join(HANDLERS)})", "unsupported"
        )
        return json_response(national.response(env.mdtrtarea_admvs, None, received, error=err))
    try:
        output = handler(request, p, env)
    except Forbidden as exc:
        raise HTTPException(403, exc.reason) from None
    except FieldError as exc:
        return json_response(national.response(env.mdtrtarea_admvs, None, received, error=exc))
    return json_response(national.response(env.mdtrtarea_admvs, output, received))


async def _dispatch(request: Request, p: Principal, env: Envelope) -> Response:
    """Local transactions run on the event loop (short, under the ledger lock); a visitor's settlement waits
    on the clearing hub and the insured region, so it runs in a worker thread and never blocks the loop."""
    insu = env.insuplc_admdvs[:6]
    if env.infno in ("2206", "2207") and insu and insu != book_of(request).admdvs:
        return await run_in_threadpool(_run, request, p, env)
    return _run(request, p, env)


@router.post(
    "/api/transaction",
    response_model=national.EnvelopeResponse,
    responses=RESPONSES,
    openapi_extra=ENVELOPE_SCHEMA,
    summary="国家接口交易 (dispatch by infno)",
)
async def transaction(
    request: Request, p: Annotated[Principal, Depends(current_principal_async)]
) -> Response:
    """One national-style transaction; ``infno`` ∈ 1101, 2206, 2207, 2208, 2601, 3201."""
    return await _dispatch(request, p, await _envelope(request, None))


@router.post(
    "/fsi/api/{infno}",
    response_model=national.EnvelopeResponse,
    responses=RESPONSES,
    openapi_extra=ENVELOPE_SCHEMA,
    summary="国家接口交易 (infno in the path)",
)
async def transaction_by_path(
    infno: str, request: Request, p: Annotated[Principal, Depends(current_principal_async)]
) -> Response:
    return await _dispatch(request, p, await _envelope(request, infno))
