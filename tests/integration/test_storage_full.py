"""The service when the database's disk is full: a 2207 is refused on the national envelope with HTTP 503
and Retry-After (never a 500), nothing of it is written, and the same msgid settles once space returns.
SQLite's ``max_page_count`` stands in for the full disk: the database may not grow by one page."""

from __future__ import annotations

import sqlite3
from typing import Any

from test_api_support import Api, api, new_msgid, visit_json  # noqa: F401 (api: the fixture)

from yibao.ledger import Ledger


def _ledger_db(service: Api) -> sqlite3.Connection:
    led: Ledger = service.client.app.state.ledger  # type: ignore[attr-defined]
    raw = led.conn.raw
    assert isinstance(raw, sqlite3.Connection)
    return raw


def _long_visit() -> dict[str, Any]:
    """A stay of 400 fee lines: its rows need pages the full database no longer has."""
    v = visit_json()
    lines = v["feedetail"]
    v["feedetail"] = [{**lines[k % len(lines)], "feedetl_sn": f"F{k:05d}"} for k in range(400)]
    return v


def test_a_settlement_on_a_full_disk_is_refused_cleanly_and_settles_once_space_returns(api: Api) -> None:  # noqa: F811
    api.settle()
    db = _ledger_db(api)
    db.execute("VACUUM")  # no free pages left inside the file
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    with Ledger.open(api.url) as led:
        before = led.row_counts()
    msgid, visit = new_msgid(), _long_visit()
    r = api.tx("hospital", "2207", visit, msgid)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"].isdigit()
    body = r.json()
    assert body["infcode"] == -1 and body["output"] is None
    assert body["err_field"] == "msgid" and body["err_code"] == "storage_full"
    assert body["err_msg"].startswith("数据库存储空间已满")
    with Ledger.open(api.url) as led:
        assert led.row_counts() == before  # not a row of it: no message, settlement, line or journal row
        assert led.verify().ok

    db.execute("PRAGMA max_page_count = 1073741823")
    ok = api.tx("hospital", "2207", visit, msgid)
    assert ok.status_code == 200 and ok.json()["infcode"] == 0, ok.text
    again = api.tx("hospital", "2207", visit, msgid)
    assert again.json()["output"]["setlinfo"]["setl_id"] == ok.json()["output"]["setlinfo"]["setl_id"]
    with Ledger.open(api.url) as led:
        after = led.row_counts()
        assert after["settlement"] == before["settlement"] + 1
        assert after["message"] == before["message"] + 1
        assert led.verify().ok
