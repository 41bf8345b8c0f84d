"""The service on the real PostgreSQL server: login, 2207 / 2208 / 2601, 3201 and the access log."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from ledger_support import create_pg_database, drop_pg_database
from test_api_support import CERT_ME, ME, Api, build_api, new_msgid, visit_json

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api() -> Iterator[Api]:
    name, url = create_pg_database()
    try:
        yield from build_api(url)
    finally:
        drop_pg_database(name)


def test_the_service_settles_and_undoes_on_postgres(pg_api: Api) -> None:
    api = pg_api
    msgid = new_msgid()
    out = api.tx("hospital", "2207", visit_json(), msgid).json()
    assert out["infcode"] == 0, out
    info = out["output"]["setlinfo"]
    stmt = api.tx(
        "hospital",
        "3201",
        {
            "medfee_sumamt": info["medfee_sumamt"],
            "fund_pay_sumamt": info["fund_pay_sumamt"],
            "acct_pay": info["acct_pay"],
            "fixmedins_setl_cnt": 1,
        },
    ).json()
    assert stmt["output"]["stmtinfo"]["stmt_rslt"] == "0"
    rev = api.tx("hospital", "2601", {"omsgid": msgid, "psn_no": ME}).json()
    assert rev["output"]["status"] == "cancelled" and Decimal(rev["output"]["acct_change"]) == Decimal(
        info["acct_pay"]
    )
    again = api.tx("hospital", "2208", {"setl_id": info["setl_id"]}).json()
    assert again["infcode"] == -1 and again["err_code"] == "already_reversed"
    assert (
        api.tx(
            "hospital", "1101", {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERT_ME, "psn_name": "张三丰"}
        ).json()["infcode"]
        == 0
    )
    log = api.client.get(f"/api/v1/persons/{ME}/access-log", headers=api.h("insured")).json()
    assert [e["what"] for e in log] == ["1101 person info"]
