"""The service survives losing its database connections: after PostgreSQL terminates every backend of
the service's database, the next 2207 settles (the ledger re-opens its connection and retries the
msgid-keyed transaction), ``/readyz`` answers 200 again, and while the database cannot be reached it
answers 503 while ``/healthz`` stays 200."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from ledger_support import admin_url, create_pg_database, drop_pg_database
from test_api_support import Api, build_api, new_msgid, visit_json

from yibao.ledger import Ledger

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api() -> Iterator[tuple[Api, str]]:
    name, url = create_pg_database()
    gen = build_api(url)
    try:
        yield next(gen), name
    finally:
        gen.close()
        drop_pg_database(name)


def _terminate(dbname: str) -> int:
    with psycopg.connect(admin_url(), autocommit=True) as c:
        rows = c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return len(rows)


def test_a_2207_succeeds_after_the_backends_are_terminated(pg_api: tuple[Api, str]) -> None:
    api, dbname = pg_api
    api.settle()
    assert api.client.get("/readyz").status_code == 200
    assert _terminate(dbname) >= 1
    msgid = new_msgid()
    r = api.tx("hospital", "2207", visit_json(), msgid)
    assert r.status_code == 200, r.text
    assert r.json()["infcode"] == 0, r.json()
    # the same msgid once more: the stored answer, not a second settlement
    again = api.tx("hospital", "2207", visit_json(), msgid)
    assert again.status_code == 200
    # every later call works too, reads included, and /readyz is green again
    assert _terminate(dbname) >= 1
    assert api.client.get("/readyz").status_code == 200
    me = api.client.get("/api/v1/persons/P000000001/settlements", headers=api.h("insured"))
    assert me.status_code == 200 and len(me.json()) == 2
    with Ledger.open(api.url) as led:
        assert led.row_counts()["settlement"] == 2
        assert led.verify().ok


def test_readyz_is_503_while_the_database_is_unreachable(
    pg_api: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, dbname = pg_api
    led: Ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    monkeypatch.setattr("yibao.ledger.core.RETRY_WAITS", (0.0, 0.01))
    good = led.conn.target
    led.conn.target = good.rsplit("/", 1)[0].replace("127.0.0.1:5432", "127.0.0.1:1") + "/" + dbname
    _terminate(dbname)
    assert api.client.get("/healthz").status_code == 200
    r = api.client.get("/readyz")
    assert r.status_code == 503 and r.json()["ledger"] != "ok"
    led.conn.target = good
    assert api.client.get("/readyz").status_code == 200
    api.settle()
