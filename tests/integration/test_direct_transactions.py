"""The national transactions are served by a shortcut in the router's stack (no route matching): every
answer must be the one FastAPI's own routing gives — status, envelope fields and headers — for good,
refused and malformed requests, on both paths; and the shortcut steps aside where it cannot repeat the
routes' steps (a dependency override in force, a route that changed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from test_api_support import CERT_ME, Api, build_api, envelope, new_msgid

from yibao.web import transactions
from yibao.web.auth import current_principal_async
from yibao.web.transactions import _Direct

_VOLATILE = {"refmsg_time", "respond_time", "refmsgid", "inf_refmsgid", "date", "x-request-id"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("direct")
    gen = build_api(f"sqlite:///{tmp / 'direct.db'}", mount_web=False)
    api = next(gen)
    try:
        yield api
    finally:
        gen.close()


def _app(api: Api) -> FastAPI:
    app = api.client.app
    assert isinstance(app, FastAPI)
    return app


def _answer(api: Api, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    if isinstance(body, bytes):
        r = api.client.post(path, content=body, headers=headers)
    else:
        r = api.client.post(path, json=body, headers=headers)
    try:
        out: Any = r.json()
    except ValueError:
        out = r.text
    if isinstance(out, dict):
        out = {k: v for k, v in out.items() if k not in _VOLATILE}
    hdrs = {k: v for k, v in r.headers.items() if k not in _VOLATILE and k != "content-length"}
    return r.status_code, out, hdrs


def _cases(api: Api) -> list[tuple[str, Any, dict[str, str]]]:
    hosp = api.h("hospital")
    query = {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERT_ME, "psn_name": "张三丰"}
    return [
        ("/api/transaction", envelope("1101", query, new_msgid()), hosp),  # replayed under one msgid
        ("/fsi/api/1101", envelope("1101", query, new_msgid()), hosp),
        ("/fsi/api/2207", envelope("1101", query, new_msgid()), hosp),  # path and infno disagree
        ("/api/transaction", envelope("9999", {}, new_msgid()), hosp),  # no such transaction
        ("/api/transaction", envelope("1101", query, new_msgid()), {}),  # no session
        ("/api/transaction", b"{not json", {**hosp, "Content-Type": "application/json"}),
        ("/api/transaction", b"infno=1101", {**hosp, "Content-Type": "text/plain"}),
    ]


def test_the_shortcut_is_in_place_and_answers_as_the_routes_do(env: Api) -> None:
    app = _app(env)
    direct = app.router.middleware_stack
    assert isinstance(direct, _Direct)
    cases = _cases(env)
    via_direct = [_answer(env, *c) for c in cases]
    app.router.middleware_stack = direct.app  # FastAPI's own routing
    try:
        via_routes = [_answer(env, *c) for c in cases]
    finally:
        app.router.middleware_stack = direct
    for case, a, b in zip(cases, via_direct, via_routes, strict=True):
        assert a == b, case[0]
    statuses = [a[0] for a in via_direct]
    assert statuses[0] == 200 and statuses[4] == 401 and statuses[6] == 415


def test_a_dependency_override_is_served_by_fastapi_itself(env: Api) -> None:
    app = _app(env)

    def teapot() -> None:
        raise HTTPException(status_code=418)

    app.dependency_overrides[current_principal_async] = teapot  # the routes see it; the shortcut must too
    try:
        status, _out, _h = _answer(env, *_cases(env)[4])  # no session: 401 if the override were skipped
    finally:
        app.dependency_overrides.clear()
    assert status == 418
    assert isinstance(app.router.middleware_stack, _Direct)


def test_a_route_that_changed_is_refused_by_the_shortcut() -> None:
    def extra() -> None:
        return None

    def route(endpoint: Any, *calls: Any) -> Any:
        return SimpleNamespace(
            endpoint=endpoint,
            dependant=SimpleNamespace(dependencies=[SimpleNamespace(call=c) for c in calls]),
        )

    good = {
        "/api/transaction": route(transactions.transaction, current_principal_async),
        "/fsi/api/{infno}": route(transactions.transaction_by_path, current_principal_async),
    }
    app = FastAPI()
    transactions.install_direct(app, good)
    assert isinstance(app.router.middleware_stack, _Direct)
    for changed in (
        {**good, "/api/transaction": route(transactions.transaction, current_principal_async, extra)},
        {**good, "/fsi/api/{infno}": route(extra, current_principal_async)},
    ):
        with pytest.raises(RuntimeError, match="直达处理不再适用"):
            transactions.install_direct(FastAPI(), changed)
