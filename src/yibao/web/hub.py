"""The clearing hub (standing for the national platform, 国家异地就医结算系统): routes a care region's
visitor settlement to the insured region and back, relays reversals, and logs every route with its
outcome — the record the monthly clearing nets.  Its own database; regions are registered by code and URL.

``POST /hub/v1/settle`` and ``/hub/v1/reverse`` (the shared hub key), ``GET /hub/v1/routes``, ``/health``."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from yibao.crossregion.client import KEY_HEADER, JsonClient, Unreachable
from yibao.crossregion.schema import xr_route
from yibao.crossregion.store import RouteTable
from yibao.money import yuan_to_fen


def create_hub_app(db_url: str, regions: dict[str, str], key: str, timeout: float) -> FastAPI:
    """The hub over ``db_url`` (migrated here), forwarding to ``regions`` (admdvs → base URL) with
    ``timeout`` seconds for each answer."""
    from yibao.db import migrate, parse_url

    _kind, _target, sa_url = parse_url(db_url)
    migrate.upgrade(sa_url)
    engine = sa.create_engine(sa_url, connect_args={"timeout": 30} if sa_url.startswith("sqlite") else {})
    routes = RouteTable(engine, xr_route)
    clients = {code: JsonClient(url, key, timeout) for code, url in regions.items()}
    app = FastAPI(title="yibao 异地就医结算清算中心 clearing hub", version="0.1.0")
    app.state.routes = routes

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

    @app.post("/hub/v1/settle")
    def settle(body: dict[str, Any], x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None) -> Any:
        check(x_key)
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
            ans = target.post("/api/crossregion/inbound/settle", body)
        except Unreachable as exc:
            if not pre:
                routes.move(msgid, ("forwarded",), "timeout")
            return timeout_answer(msgid, str(exc)[:100])
        if pre:
            return ans
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
        return ans

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

    @app.get("/hub/v1/routes")
    def list_routes(
        status: str = "", x_key: Annotated[str | None, Header(alias=KEY_HEADER)] = None
    ) -> list[dict[str, Any]]:
        check(x_key)
        return routes.with_status(status) if status else routes.all()

    return app


def hub_from_env() -> FastAPI:
    """Factory for uvicorn: ``YIBAO_XRHUB_DB``, ``YIBAO_XRHUB_REGIONS`` (``code=url,code=url``),
    ``YIBAO_HUB_KEY``, ``YIBAO_HUB_TIMEOUT`` (seconds; default the cross-region parameters' figure)."""
    import os

    from yibao.crossregion.params import load_params

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
