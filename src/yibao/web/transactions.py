"""National-style transactions over HTTP JSON: ``POST /api/transaction`` (dispatch by ``infno``) and
``POST /fsi/api/{infno}``.  Business errors come back as ``infcode`` −1 with the field named; a
caller who may not do this at all gets HTTP 401/403."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from fastapi.routing import request_response
from pydantic import ValidationError
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from yibao.access.principal import Forbidden, Principal
from yibao.db.connection import refusal_kind
from yibao.encounter.core import Reconciliation
from yibao.errors import FieldError
from yibao.money import MoneyError, yuan_to_fen
from yibao.settlement import io as sio
from yibao.usecases import settlement
from yibao.web import national
from yibao.web import national_flow as flow
from yibao.web.auth import current_principal_async
from yibao.web.deps import audit_hook_of, book_of, covers_of, eligibility_of, ledger_of
from yibao.web.jsonresp import json_response
from yibao.web.national import Envelope, EnvelopeError, Statement
from yibao.web.refusals import record_refusal

log = logging.getLogger(__name__)
router = APIRouter(tags=["national 国家接口"])

Handler = Callable[[Request, Principal, Envelope], Any]


def _settle(pre: bool) -> Handler:
    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        data = national.data_of(env)
        visit = sio.parse_visit(data)
        if env.fixmedins_code and env.fixmedins_code != visit.fixmedins_code:
            raise EnvelopeError(
                "fixmedins_code",
                f"报文机构与就诊机构不一致 envelope {env.fixmedins_code} ≠ visit {visit.fixmedins_code}",
                "mismatch",
            )
        insu = env.insuplc_admdvs[:6]
        if insu and insu != book_of(request).admdvs:
            # a visitor insured elsewhere (异地就医直接结算): the person is not in this region's records, so
            # the insured region answers for them (identity, status, policy) through the clearing hub
            from yibao.web.crossregion import settle_visitor

            return settle_visitor(request, p, env, visit, data, pre)
        if p.role == "institution" and not flow.store_of(request).presented_at(
            p.fixmedins_code or "", visit.psn_no
        ):
            raise EnvelopeError(
                "psn_no",
                "该人员未在本机构出示就诊凭证（请先做 1101 人员信息获取） "
                "no credential of this person was presented here (1101 first)",
                "not_presented",
            )
        if env.fixmedins_code and env.fixmedins_code != visit.fixmedins_code:
            raise EnvelopeError(
                "fixmedins_code",
                f"报文机构与就诊机构不一致 envelope {env.fixmedins_code} ≠ visit {visit.fixmedins_code}",
                "mismatch",
            )
        try:
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
                    covers=covers_of(request),
                )
        except FieldError as exc:
            if not pre:
                record_refusal(request, visit, env.msgid, p.user_id, exc)
            raise
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
        raise EnvelopeError(
            "input.data.oinfno",
            f"该交易不能在此冲正（仅 2207 或 2208） {oinfno} cannot be reversed here (2207 or 2208)",
        )
    from yibao.web.crossregion import reverse_routed  # a visitor's 2207 was settled at the insured region

    routed = reverse_routed(request, p, national.text_field(data, "omsgid"))
    if routed is not None:
        return routed
    with ledger_of(request) as led:
        out = settlement.reverse(led, p, national.text_field(data, "omsgid"), env.msgid)
    return national.undo_output(out)


def _fen(data: dict[str, Any], key: str) -> int:
    try:
        return yuan_to_fen(data.get(key, "0") if not isinstance(data.get(key), float) else str(data[key]))
    except MoneyError as exc:
        raise EnvelopeError(f"input.data.{key}", str(exc), "bad_amount") from None


def _3201(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    data = national.data_of(env)
    cnt_raw = data.get("fixmedins_setl_cnt", 0)
    if isinstance(cnt_raw, bool) or not str(cnt_raw).isdigit():
        raise EnvelopeError(
            "input.data.fixmedins_setl_cnt",
            f"结算笔数须为非负整数 {cnt_raw!r} is not a non-negative whole number",
        )
    submitted = Statement(
        _fen(data, "medfee_sumamt"), _fen(data, "fund_pay_sumamt"), _fen(data, "acct_pay"), int(str(cnt_raw))
    )
    code = env.fixmedins_code or national.text_field(data, "fixmedins_code", required=False) or None
    if p.role == "institution":
        code = p.fixmedins_code
    insutype = national.text_field(data, "insutype", required=False)
    begin = national.parse_date(data.get("stmt_begndate"), "input.data.stmt_begndate")
    end = national.parse_date(data.get("stmt_enddate"), "input.data.stmt_enddate")
    optins = national.text_field(data, "setl_optins", required=False)
    with ledger_of(request) as led:
        ours = settlement.statement(led, p, fixmedins_code=code, insutype=insutype, begin=begin, end=end)
    ledger_side = Statement(ours.medfee_sumamt, ours.fund_pay_sumamt, ours.acct_pay, ours.count)
    answer = national.reconcile(submitted, ledger_side, optins)
    if code:  # an institution's reconciliation (not the whole ledger's): kept; "" = an open period end
        flow.keep_reconciliation(
            request,
            Reconciliation(
                "3201",
                env.msgid,
                code,
                begin.isoformat() if begin else "",
                end.isoformat() if end else "",
                insutype,
                "",
                optins,
                flow.figures(submitted),
                flow.figures(ledger_side),
            ),
        )
    return answer


_INLINE_2206, _INLINE_2207 = _settle(True), _settle(False)


def _2206(request: Request, p: Principal, env: Envelope) -> Any:
    """2206 by mdtrt_id + chrg_bchno (the national flow), or with its lines inline (yibao extension)."""
    if flow.is_flow_settle(env):
        return flow.FLOW_2206(request, p, env)
    return _INLINE_2206(request, p, env)


def _2207(request: Request, p: Principal, env: Envelope) -> Any:
    if flow.is_flow_settle(env):
        return flow.FLOW_2207(request, p, env)
    return _INLINE_2207(request, p, env)


def _2208_any(request: Request, p: Principal, env: Envelope) -> Any:
    """2208 of a settlement made through the visit flow updates the visit's lines too."""
    data = env.input.get("data", env.input)
    setl_id = str(data.get("setl_id") or "") if isinstance(data, dict) else ""
    if setl_id and flow.store_of(request).settled_lines(setl_id):
        return flow.FLOW_2208(request, p, env)
    return _2208(request, p, env)


def _2601_any(request: Request, p: Principal, env: Envelope) -> Any:
    """2601 of a message of the visit flow (any reversible one), else of a ledger message."""
    data = env.input.get("data", env.input)
    omsgid = str(data.get("omsgid") or "") if isinstance(data, dict) else ""
    if omsgid and flow.store_of(request).message(omsgid) is not None:
        return flow.HANDLERS["2601"](request, p, env)
    if isinstance(data, dict) and str(data.get("oinfno") or "") == "2601":
        raise EnvelopeError(
            "input.data.oinfno", "冲正交易不能再冲正 a reversal cannot be reversed", "not_reversible"
        )
    return _2601(request, p, env)


def _3201_any(request: Request, p: Principal, env: Envelope) -> Any:
    if flow.is_flow_3201(env):
        return flow.FLOW_3201(request, p, env)
    return _3201(request, p, env)


HANDLERS: dict[str, Handler] = {
    **flow.HANDLERS,
    "1101": flow.HANDLERS["1101"],
    "2206": _2206,
    "2207": _2207,
    "2208": _2208_any,
    "2601": _2601_any,
    "3201": _3201_any,
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
    415: {"description": "the body is not application/json"},
    422: {"description": "the body is not an envelope"},
}


async def _envelope(request: Request, infno: str | None) -> Envelope:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        # a browser may send text/plain cross-site without a preflight: only JSON is an envelope
        raise HTTPException(
            415, f"报文须为 application/json the envelope must be application/json, not {ctype!r}"
        )
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
            422,
            [
                {
                    "loc": ["body", "infno"],
                    "msg": f"交易编号与地址不一致 infno {env.infno} ≠ path {infno}",
                    "type": "mismatch",
                }
            ],
        )
    return env


def _run(request: Request, p: Principal, env: Envelope) -> Response:
    received = dt.datetime.now(dt.UTC)
    handler = HANDLERS.get(env.infno)
    if handler is None:
        err = EnvelopeError(
            "infno",
            f"不支持该交易 unsupported transaction {env.infno} (supported: {', '.join(HANDLERS)})",
            "unsupported",
        )
        return json_response(national.response(env.mdtrtarea_admvs, None, received, error=err))
    try:
        flow.check_sign(request, p, env)
        output = handler(request, p, env)
    except Forbidden as exc:
        raise HTTPException(403, exc.reason) from None
    except FieldError as exc:
        return json_response(national.response(env.mdtrtarea_admvs, None, received, error=exc))
    except Exception as exc:  # the database full or gone: nothing was committed, the HIS resends the msgid
        kind = refusal_kind(exc)
        if kind is None:
            raise
        log.warning("%s refused by the database: %s (%s)", env.infno, kind, type(exc).__name__)
        resp = json_response(
            national.response(env.mdtrtarea_admvs, None, received, error=national.database_refusal(kind)),
            status_code=503,
        )
        resp.headers["Retry-After"] = str(national.RETRY_AFTER_SECONDS)
        return resp
    return json_response(national.response(env.mdtrtarea_admvs, output, received))


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
    """One national-style transaction, dispatched by ``infno`` (docs/NATIONAL_INTERFACE.md lists them)."""
    return await run_in_threadpool(_run, request, p, await _envelope(request, None))


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
    return await run_in_threadpool(_run, request, p, await _envelope(request, infno))


_BY_PATH = re.compile(r"/fsi/api/([^/]+)")  # what the route ``/fsi/api/{infno}`` matches


class _Direct:
    """``POST /api/transaction`` and ``POST /fsi/api/{infno}`` served first in the router's own stack (inside
    the app's middleware and exception handlers): the same steps as the routes above — the caller's session,
    the envelope, :func:`_run` in the thread pool, inside FastAPI's own request wrapper (so an exception
    meets the same handlers at the same two levels) — without FastAPI matching the path against every route
    before them and solving the endpoint's signature, about a tenth of a transaction's CPU.  Any other
    request, and every request while FastAPI's telemetry watches it (it names the route), goes the normal
    way."""

    def __init__(self, app: ASGIApp, routes: dict[str, Any]) -> None:
        self.app = app
        self.routes = routes  # route path → the route object (for ``scope["route"]``, as the router sets it)
        self.serve = request_response(self._respond)

    @staticmethod
    async def _respond(request: Request) -> Response:
        infno = request.path_params.get("infno")
        p = await current_principal_async(request)
        return await run_in_threadpool(_run, request, p, await _envelope(request, infno))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("fastapi.telemetry") is None
            and not getattr(scope.get("app"), "dependency_overrides", None)
        ):
            path = get_route_path(scope)
            m = None if path == "/api/transaction" else _BY_PATH.fullmatch(path)
            key = path if m is None else "/fsi/api/{infno}"
            route = self.routes.get(key)
            if route is not None:
                scope["route"] = route
                scope["endpoint"] = transaction if m is None else transaction_by_path
                scope["path_params"] = {
                    **scope.get("path_params", {}),
                    **({"infno": m.group(1)} if m else {}),
                }
                await self.serve(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_direct(app: FastAPI, post_routes: dict[str, Any]) -> None:
    """Serve the two transaction routes through :class:`_Direct`; ``post_routes``: the app's POST routes by
    path (:func:`yibao.web.app.route_objects`, taken once every router before them is included)."""
    routes: dict[str, Any] = {
        path: post_routes[path] for path in ("/api/transaction", "/fsi/api/{infno}") if path in post_routes
    }
    expected = {"/api/transaction": transaction, "/fsi/api/{infno}": transaction_by_path}
    for path, route in routes.items():
        # the shortcut repeats these endpoints' steps: anything added to the routes later (a dependency, a
        # router-level one, another endpoint) must be served by FastAPI itself, so the shortcut stays off
        deps = [d.call for d in route.dependant.dependencies]
        if route.endpoint is not expected[path] or deps != [current_principal_async]:
            raise RuntimeError(
                f"交易路由 {path} 已改变，直达处理不再适用 (the route changed; _Direct no longer applies)"
            )
    if len(routes) == 2:
        app.router.middleware_stack = _Direct(app.router.middleware_stack, routes)
