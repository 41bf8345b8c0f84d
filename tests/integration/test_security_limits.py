"""Limits before authentication and input the database cannot take: body size (413), login throttling
(429 even with the right password), and un-storable values answered 4xx, never 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, build_api, envelope, visit_json

from yibao.access.throttle import LoginThrottle
from yibao.demo.logins import DEMO_PASSWORD


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'lim.db'}", mount_web=False)


def test_a_large_body_is_refused_before_authentication(api: Api) -> None:
    big = b'{"username": "' + b"x" * 3_000_000 + b'", "password": "y"}'
    r = api.client.post("/auth/login", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "request body larger" in r.text
    # no Content-Length (chunked): counted as it streams in

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 100_000

    r = api.client.post("/api/v1/users", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    # the transaction endpoint takes a large 2204 upload (its own limit), not an unlimited one
    r = api.client.post(
        "/api/transaction", content=b" " * 17_000_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert (
        api.client.post("/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}).status_code
        == 200
    )


def test_repeated_wrong_passwords_lock_the_login(api: Api) -> None:
    c = api.client
    for _ in range(5):
        assert (
            c.post("/auth/login", json={"username": "auditor", "password": "wrong-guess"}).status_code == 401
        )
    locked = c.post("/auth/login", json={"username": "auditor", "password": DEMO_PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    form = c.post("/login", data={"username": "auditor", "password": DEMO_PASSWORD}, follow_redirects=False)
    assert form.status_code == 429
    # another login is not affected
    assert c.post("/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}).status_code == 200


def test_the_throttle_unlocks_after_the_lockout_and_a_success_clears_the_count() -> None:
    now = [0.0]
    t = LoginThrottle(max_failures=3, max_failures_ip=100, window=60, lockout=60, clock=lambda: now[0])
    t.failed("u", "1.2.3.4")
    t.failed("u", "1.2.3.4")
    t.succeeded("u")
    t.failed("u", "1.2.3.4")
    assert t.retry_after("u", "1.2.3.4") == 0
    t.failed("U", "1.2.3.4")
    t.failed("u", "1.2.3.4")
    assert t.retry_after("u", "9.9.9.9") > 0
    now[0] = 61.0
    assert t.retry_after("u", "1.2.3.4") == 0


@pytest.mark.parametrize(
    "body",
    [
        '{"infno": "2207", "msgid": "M1", "input": {"data": ' + "[" * 50_000 + "]" * 50_000 + "}}",
        '{"infno": "2207", "msgid": "M1", "input": {"data": {"x": ' + "9" * 5000 + "}}}",
    ],
    ids=["deep", "huge-int"],
)
def test_unstorable_input_is_a_client_error(api: Api, body: str) -> None:
    r = api.client.post(
        "/api/transaction",
        content=body.encode(),
        headers={**api.h("hospital"), "content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


def test_nul_and_surrogates_in_visit_fields_and_msgids_are_refused(api: Api) -> None:
    for bad in ("H6100\x00", "H61\ud800"):
        v = visit_json()
        v["mdtrt_id"] = bad
        for env in (envelope("2207", v), envelope("2207", visit_json(), msgid="H610000000010000" + bad)):
            r = api.client.post(
                "/api/transaction",
                content=json.dumps(env).encode(),
                headers={**api.h("hospital"), "content-type": "application/json"},
            )
            assert r.status_code < 500, r.text[:300]
            assert r.status_code != 200 or r.json()["infcode"] != 0
