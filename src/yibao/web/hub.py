"""The clearing hub (standing for the national platform, 国家异地就医结算系统): routes a care region's
visitor settlement to the insured region and back, relays reversals, and logs every route with its
outcome — the record the monthly clearing nets.  Its own database; regions are registered by code and URL.

``POST /hub/v1/settle`` and ``/hub/v1/reverse`` (the shared hub key), ``GET /hub/v1/routes``, ``/health``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.crossregion.clearing import MonthClearing, Record, reconcile, resolution, statement
from yibao.crossregion.client import KEY_HEADER, JsonClient, Unreachable
from yibao.crossregion.hubstore import ClearingStore
from yibao.crossregion.params import load_params
from yibao.crossregion.schema import xr_route
from yibao.crossregion.store import RouteTable, engine_for
from yibao.errors import FieldError
from yibao.money import yuan_to_fen

_KEY_PARAM = {
    "name": KEY_HEADER,
    "in": "header",
    "required": False,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": KEY_HEADER},
}


def create_hub_app(db_url: str, regions: dict[str, str], key: str, timeout: float) -> FastAPI:
    """The hub over ``db_url`` (migrated here), forwarding to ``regions`` (admdvs → base URL) with
    ``timeout`` seconds for each answer."""
    from yibao.db import migrate, parse_url

    _kind, _target, sa_url = parse_url(db_url)
    migrate.upgrade(sa_url)
    engine = engine_for(sa_url)
    routes = RouteTable(engine, xr_route)
    clients = {code: JsonClient(url, key, timeout) for code, url in regions.items()}
    params = load_params()
    app = FastAPI(title="yibao 异地就医结算清算中心 clearing hub", version="0.1.0")
    app.state.routes = routes

    async def json_body(request: Request) -> tuple[bytes, dict[str, Any]]:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise HTTPException(
                422, [{"loc": ["body"], "msg": "须为 JSON 对象 must be a JSON object", "type": "json"}]
            )
        return raw, body

    def check(given: str | None) -> None:
        if not key or given != key:
            raise HTTPException(403, "清算中心密钥不符 wrong hub key")

    def region(code: str, field: str) -> JsonClient:
        c = clients.get(code)
        if c is None:
            raise HTTPException(
                422,
                [
                    {
                        "loc": ["body", field],
                        "msg": f"未接入清算中心的统筹区 {code!r} unknown region",
                        "type": "unknown_region",
                    }
                ],
            )
        return c

    def timeout_answer(msgid: str, what: str) -> JSONResponse:
        return JSONResponse(
            {
                "ok": False,
                "field": "insuplc_admdvs",
                "reason": f"参保地未在时限内应答 no answer in time ({what})",
                "code": "remote_timeout",
                "msgid": msgid,
            },
            status_code=504,
        )

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "regions": sorted(clients)}

    # the key read from the headers, not declared as a parameter: no dependency solving on the hot path
    # (documented for the OpenAPI page as the other endpoints' parameter is)
    @app.post("/hub/v1/settle", openapi_extra={"parameters": [_KEY_PARAM]})
    async def settle(request: Request) -> Any:
        check(request.headers.get(KEY_HEADER))
        raw, body = await json_body(request)
        return await run_in_threadpool(relay_settle, raw, body)

    def relay_settle(raw: bytes, body: dict[str, Any]) -> Any:
        """Log the route, send the body on as received, log the outcome, answer the insured region's bytes."""
        msgid = str(body.get("msgid") or "")
        insu, care = str(body.get("insu_admdvs") or ""), str(body.get("care_admdvs") or "")
        target = region(insu, "insu_admdvs")
        region(care, "care_admdvs")
        pre = bool(body.get("pre"))
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        setl_date = str((data or {}).get("endtime") or (data or {}).get("begntime") or "")[:10]
        if not pre:
            routes.insert(msgid, "forwarded", care_admdvs=care, insu_admdvs=insu, setl_date=setl_date)
        try:
            answer, ans = target.post_raw("/api/crossregion/inbound/settle", raw)
        except Unreachable as exc:
            if not pre:
                routes.move(msgid, ("forwarded",), "timeout")
            return timeout_answer(msgid, str(exc)[:100])
        if pre:
            return Response(answer, media_type="application/json")
        if ans.get("ok"):
            setl = ans["output"]["setlinfo"]
            routes.move(
                msgid,
                ("forwarded", "timeout", "settled"),
                "settled",
                setl_id=str(setl.get("setl_id") or ""),
                **{
                    k: yuan_to_fen(str(setl.get(k) or "0"))
                    for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
                },
            )
        else:
            routes.move(msgid, ("forwarded", "timeout"), "refused")
        return Response(answer, media_type="application/json")

    @app.post("/hub/v1/person")
    def person(body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None) -> Any:
        """Who a visitor is (1101 / 2201 at a care region), asked of the insured region; nothing logged
        for clearing, nothing written."""
        check(x_key)
        target = region(str(body.get("insu_admdvs") or ""), "insu_admdvs")
        region(str(body.get("care_admdvs") or ""), "care_admdvs")
        try:
            return target.post("/api/crossregion/inbound/person", body)
        except Unreachable as exc:
            return timeout_answer(str(body.get("psn_no") or ""), str(exc)[:100])

    @app.post("/hub/v1/reverse")
    def reverse(body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None) -> Any:
        check(x_key)
        omsgid = str(body.get("omsgid") or "")
        insu = str(body.get("insu_admdvs") or "")
        target = region(insu, "insu_admdvs")
        try:
            ans = target.post("/api/crossregion/inbound/reverse", body)
        except Unreachable as exc:
            return timeout_answer(omsgid, str(exc)[:100])
        if ans.get("ok"):
            if not routes.move(omsgid, ("forwarded", "timeout", "settled", "refused"), "reversed"):
                routes.insert(
                    omsgid, "reversed", care_admdvs=str(body.get("care_admdvs") or ""), insu_admdvs=insu
                )
        return ans

    store = ClearingStore(engine, params.prepay_months, params.history_months)

    def bad(exc: FieldError) -> HTTPException:
        return HTTPException(422, [{"loc": ["body", exc.field], "msg": exc.reason, "type": exc.code}])

    @app.post("/hub/v1/disputes")
    def raise_dispute(
        body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None
    ) -> Any:
        """疑点: the insured region disputes one settlement; it is held out of clearing until decided."""
        check(x_key)
        try:
            d = store.raise_dispute(
                str(body.get("msgid") or ""), str(body.get("month") or ""), str(body.get("reason") or "")
            )
        except FieldError as exc:
            raise bad(exc) from None
        return {"msgid": d.msgid, "raised": d.raised, "state": d.state}

    @app.post("/hub/v1/disputes/{msgid}/decide")
    def decide(
        msgid: str, body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None
    ) -> Any:
        check(x_key)
        try:
            store.decide(msgid, str(body.get("state") or ""), str(body.get("month") or ""))
        except FieldError as exc:
            raise bad(exc) from None
        return {"msgid": msgid, "state": body.get("state")}

    @app.get("/hub/v1/clearing/{month}")
    def preview(month: str, x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None) -> Any:
        check(x_key)
        try:
            return clearing_json(store.compute(month), closed=store.closed(month))
        except FieldError as exc:
            raise bad(exc) from None

    @app.post("/hub/v1/clearing/{month}/close")
    def close(month: str, x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None) -> Any:
        check(x_key)
        try:
            return clearing_json(store.close(month), closed=True)
        except FieldError as exc:
            raise bad(exc) from None

    @app.post("/hub/v1/reconcile")
    def reconcile_side(
        body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None
    ) -> Any:
        """对账: a region's own records (as care or insured region) against the hub's route log; the breaks
        and how each closes."""
        check(x_key)
        admdvs, side = str(body.get("admdvs") or ""), str(body.get("side") or "")
        if side not in ("care", "insured"):
            raise HTTPException(
                422,
                [
                    {
                        "loc": ["body", "side"],
                        "msg": "须为 care 或 insured must be care or insured",
                        "type": "invalid",
                    }
                ],
            )
        col = "care_admdvs" if side == "care" else "insu_admdvs"
        peer_col = "insu_admdvs" if side == "care" else "care_admdvs"
        logged = {
            str(r["msgid"]): r
            for r in routes.all()
            if r[col] == admdvs and r["status"] in ("settled", "reversed")
        }
        hub_side = [
            Record(m, str(r["status"]), int(r["fund_pay_sumamt"]) + int(r["acct_pay"]))
            for m, r in logged.items()
        ]
        try:
            mine = [
                Record(str(x["msgid"]), str(x["status"]), int(x["owed"])) for x in body.get("records") or []
            ]
        except (KeyError, TypeError, ValueError):
            raise HTTPException(
                422,
                [
                    {
                        "loc": ["body", "records"],
                        "msg": "须为 [{msgid, status, owed}] 列表 must be a list of {msgid, status, owed}",
                        "type": "invalid",
                    }
                ],
            ) from None
        breaks = reconcile(mine, hub_side)
        here_is: Literal["care", "insured"] = "care" if side == "care" else "insured"
        return {
            "admdvs": admdvs,
            "side": side,
            "records": len(mine),
            "breaks": [
                {**asdict(b), **asdict(resolution(b, here_is)), **_route_of(logged.get(b.msgid), peer_col)}
                for b in breaks
            ],
        }

    @app.post("/hub/v1/resync")
    def resync(body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None) -> Any:
        """请求重新报送: ask the insured region for its record of ``msgid`` and log it as the route (the insured
        region's record decides, 参保地政策); ``record`` is null when the insured region holds none."""
        check(x_key)
        msgid = str(body.get("msgid") or "")
        insu = str(body.get("insu_admdvs") or "")
        target = region(insu, "insu_admdvs")
        try:
            ans = target.post("/api/crossregion/inbound/record", {"msgid": msgid})
        except Unreachable as exc:
            return timeout_answer(msgid, str(exc)[:100])
        rec = ans.get("record")
        if not ans.get("ok") or not isinstance(rec, dict) or rec.get("status") not in ("settled", "reversed"):
            return {**ans, "record": None, "changed": False}
        values: dict[str, Any] = {
            k: int(rec.get(k) or 0) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
        }
        values["setl_id"] = str(rec.get("setl_id") or "")
        moved = routes.move(
            msgid, ("forwarded", "timeout", "settled", "refused", "reversed"), str(rec["status"]), **values
        )
        if not moved:
            routes.insert(msgid, str(rec["status"]), care_admdvs=str(rec.get("care_admdvs") or ""), insu_admdvs=insu,
                          setl_date=str(rec.get("setl_date") or ""), **values)  # fmt: skip
        return {"ok": True, "record": rec, "changed": True}

    @app.get("/hub/v1/routes")
    def list_routes(
        status: str = "", x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None
    ) -> list[dict[str, Any]]:
        check(x_key)
        return routes.with_status(status) if status else routes.all()

    return app


def _route_of(r: dict[str, Any] | None, peer_col: str) -> dict[str, Any]:
    """What the hub logged of a settlement in a break, for the region to act on (nothing when it has none)."""
    if r is None:
        return {}
    return {
        "peer": str(r[peer_col]),
        "hub": {
            k: r[k]
            for k in ("status", "setl_id", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "setl_date")
        },
    }


def clearing_json(c: MonthClearing, *, closed: bool) -> dict[str, Any]:
    """A month's clearing for the regions: pairs with their statements, positions, prepayments, carried disputes."""
    return {
        "month": c.month,
        "closed": closed,
        "net_sum_fen": c.net_sum,
        "pairs": [
            {
                "care_admdvs": p.care,
                "insu_admdvs": p.insu,
                "amount_fen": p.amount,
                "count": len(p.lines),
                "held": list(p.held),
                "statement": {
                    "lines": [{"msgid": x.msgid, "owed_fen": x.owed} for x in statement(p).lines],
                    "total_fen": statement(p).total,
                },
            }
            for p in c.pairs
        ],
        "positions": [
            {"region": k, "receivable_fen": v.receivable, "payable_fen": v.payable, "net_fen": v.net}
            for k, v in c.positions.items()
        ],
        "prepayments": [
            {
                "region": k,
                "opening_fen": v.opening,
                "after_clearing_fen": v.after_clearing,
                "target_fen": v.target,
                "top_up_fen": v.top_up,
                "closing_fen": v.closing,
            }
            for k, v in c.prepayments.items()
        ],
        "carried_disputes": [{"msgid": d.msgid, "raised": d.raised, "reason": d.reason} for d in c.carried],
    }


def hub_from_env() -> FastAPI:
    """Factory for uvicorn: ``YIBAO_XRHUB_DB``, ``YIBAO_XRHUB_REGIONS`` (``code=url,code=url``),
    ``YIBAO_HUB_KEY``, ``YIBAO_HUB_TIMEOUT`` (seconds; default the cross-region parameters' figure)."""
    import os

    regions = dict(
        item.split("=", 1) for item in os.environ.get("YIBAO_XRHUB_REGIONS", "").split(",") if "=" in item
    )
    timeout = float(os.environ.get("YIBAO_HUB_TIMEOUT") or load_params().timeout_seconds)
    return create_hub_app(
        os.environ.get("YIBAO_XRHUB_DB", "sqlite:///.yibao/hub.db"),
        regions,
        os.environ.get("YIBAO_HUB_KEY", ""),
        timeout,
    )
