"""Reconciliation breaks resolved from the bureau's cross-region page by a logged-in clearing clerk, as a
browser does it (form posts with the page's CSRF token), against a real hub in process: the region (Xi'an,
610100) and the hub talk through in-process HTTP clients; the hub's other region (610500) is served by the
same region service's hub-facing endpoints.  Each action changes both sides, is recorded with who, why and
when, and a bad request comes back as the page with a Chinese-first message, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_api_support import Api, build_api

import yibao.web.hub as hub_module
from yibao.crossregion.client import KEY_HEADER, JsonClient
from yibao.crossregion.schema import xr_dispute
from yibao.demo.logins import DEMO_PASSWORD

KEY = "test-hub-key"
XIAN, WEINAN = "610100", "610500"
BASE = "http://testserver"
HTML = {"accept": "text/html"}


class Cluster:
    def __init__(self, api: Api, hub_app: Any) -> None:
        self.api, self.hub_app = api, hub_app
        self.routes = hub_app.state.routes


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    region = build_api(f"sqlite:///{tmp_path / 'xian.db'}")
    api = next(region)
    region_app = api.client.app
    settings = region_app.state.settings  # type: ignore[attr-defined]
    # a closed port until the region's client is wired to the hub app below
    region_app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
        update={"hub_url": "http://127.0.0.1:9", "hub_key": KEY, "hub_timeout": 5.0}
    )
    # the start-up warm-up built the region's cross-region state from the settings it started with (no
    # hub); a server is started with its hub settings, so build it again from these
    region_app.state.crossregion = None  # type: ignore[attr-defined]

    class Wired(JsonClient):
        """The hub's client of a region, over the region app in process."""

        def __init__(self, base_url: str, key: str, timeout: float) -> None:
            super().__init__(base_url, key, timeout)
            self._http.close()
            self._http = TestClient(region_app, base_url=self.base_url, headers={KEY_HEADER: key})
            self._pool = None  # through the TestClient, not a socket

    monkeypatch.setattr(hub_module, "JsonClient", Wired)
    hub_app = hub_module.create_hub_app(
        f"sqlite:///{tmp_path / 'hub.db'}", {XIAN: "http://xian", WEINAN: "http://weinan"}, KEY, 5.0
    )
    assert api.client.get("/dashboard/crossregion", headers=api.h("admin")).status_code == 200
    hub = state_of(api).care.hub  # the region's client of the hub, over the hub app in process
    hub._http.close()
    hub._http = TestClient(hub_app, base_url="http://hub", headers={KEY_HEADER: KEY})
    hub._pool = None
    yield Cluster(api, hub_app)
    region.close()


def state_of(api: Api) -> Any:
    return api.client.app.state.crossregion  # type: ignore[attr-defined]


def browser(api: Api, user: str) -> TestClient:
    c = TestClient(api.client.app, base_url=BASE)
    assert c.post("/auth/login", json={"username": user, "password": DEMO_PASSWORD}).status_code == 200
    return c


def post_break(c: TestClient, data: dict[str, str], *, token: bool = True) -> Any:
    """Open the page, take the CSRF token its forms carry, and post the break's form as a browser does."""
    html = c.get("/dashboard/crossregion", headers=HTML).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the break forms carry a CSRF token"
    body = {**data, "csrf_token": found.group(1)} if token else data
    return c.post("/dashboard/crossregion/breaks/resolve", data=body,
                  headers={**HTML, "origin": BASE, "referer": BASE + "/dashboard/crossregion"})  # fmt: skip


def row_of(page: str, msgid: str) -> str:
    """The table row that names ``msgid`` in one of its cells."""
    before, after = page.split(f"<td>{msgid}</td>", 1)
    return before.rsplit("<tr>", 1)[1] + f"<td>{msgid}</td>" + after.split("</tr>", 1)[0]


def outbound(cl: Cluster, msgid: str, status: str = "settled", owed: int = 10_000) -> None:
    assert state_of(cl.api).care.outbound.insert(
        msgid, status, insu_admdvs=WEINAN, fixmedins_code="H61010000001", psn_no="P610500000001",
        mdtrt_id="M" + msgid, setl_date="2025-06-10", medfee_sumamt=20_000, fund_pay_sumamt=owed,
    )  # fmt: skip


def route(cl: Cluster, msgid: str, care: str, insu: str, owed: int) -> None:
    assert cl.routes.insert(msgid, "settled", care_admdvs=care, insu_admdvs=insu, setl_date="2025-06-12",
                            setl_id="S" + msgid, medfee_sumamt=30_000, fund_pay_sumamt=owed, acct_pay=0)  # fmt: skip


def test_a_care_side_orphan_is_reversed_through_the_hub_with_who_why_and_when(cluster: Cluster) -> None:
    outbound(cluster, "CAREONLY0001")
    c = browser(cluster.api, "admin")
    page = c.get("/dashboard/crossregion", headers=HTML).text
    row = row_of(page, "CAREONLY0001")
    assert "清算中心缺失" in row and "未处理" in row and 'value="reverse"' in row and "冲正（2601）" in row
    assert 'value="dispute"' not in row  # the hub holds nothing to dispute

    r = post_break(
        c, {"msgid": "CAREONLY0001", "side": "care", "action": "reverse", "reason": "医院未收到应答"}
    )
    assert r.status_code == 200 and "报文 CAREONLY0001：已冲正" in r.text
    # both sides: the care record is reversed, the hub logged the reversal, the insured side left a tombstone
    assert state_of(cluster.api).care.outbound.get("CAREONLY0001")["status"] == "reversed"
    assert cluster.routes.get("CAREONLY0001")["status"] == "reversed"
    assert state_of(cluster.api).inbound.get("CAREONLY0001")["status"] == "reversed"
    # the break is gone and the record says who, why and when (Beijing time)
    assert "<td>CAREONLY0001</td><td>就医地" not in r.text
    log = r.text.split('id="break-log"', 1)[1]
    entry = row_of(log, "CAREONLY0001")
    assert "医院未收到应答" in entry and "管理员" in entry and "已办理" in entry
    assert re.search(r"<td>20\d\d-\d\d-\d\d \d\d:\d\d:\d\d</td><td>管理员", log)
    (rec,) = state_of(cluster.api).break_log.recent()
    assert (rec["action"], rec["outcome"], rec["side"], rec["kind"]) == (
        "reverse",
        "done",
        "care",
        "missing_there",
    )


def test_a_care_side_amount_break_takes_the_insured_regions_amount(cluster: Cluster) -> None:
    outbound(cluster, "AMOUNT000001", owed=10_000)
    route(cluster, "AMOUNT000001", XIAN, WEINAN, 12_000)
    c = browser(cluster.api, "admin")
    row = row_of(c.get("/dashboard/crossregion", headers=HTML).text, "AMOUNT000001")
    assert "金额不符" in row and ">10000<" in row and ">12000<" in row and WEINAN in row
    r = post_break(
        c, {"msgid": "AMOUNT000001", "side": "care", "action": "accept_other", "reason": "以参保地为准"}
    )
    assert r.status_code == 200 and "已按参保地金额更正" in r.text
    rec = state_of(cluster.api).care.outbound.get("AMOUNT000001")
    assert (rec["status"], rec["fund_pay_sumamt"], rec["acct_pay"]) == ("settled", 12_000, 0)
    assert "<td>AMOUNT000001</td><td>就医地" not in r.text


def test_an_insured_side_break_is_disputed_and_carried_and_its_status_shows(cluster: Cluster) -> None:
    route(cluster, "HUBONLY00001", WEINAN, XIAN, 4_560)  # the hub says we (insured) owe it; we hold nothing
    c = browser(cluster.api, "admin")
    r = post_break(
        c, {"msgid": "HUBONLY00001", "side": "insured", "action": "dispute", "reason": "本地无此结算，待核实"}
    )
    assert r.status_code == 200 and "已标记疑点（2025-06）" in r.text
    with cluster.routes.engine.connect() as conn:
        d = conn.execute(sa.select(xr_dispute).where(xr_dispute.c.msgid == "HUBONLY00001")).one()
    assert (d.state, d.raised, d.reason) == ("open", "2025-06", "本地无此结算，待核实")
    # held out of June's clearing and carried
    june = cluster.api.client.get("/dashboard/crossregion?month=2025-06", headers=cluster.api.h("admin")).text
    assert "HUBONLY00001 · 2025-06 · 本地无此结算，待核实" in june
    # the break still stands, and its status says it was disputed, by whom
    row = row_of(june, "HUBONLY00001")
    assert "标记疑点" in row and "已办理" in row and "管理员" in row
    # disputing again is refused by the hub, shown on the page, recorded as refused
    again = post_break(c, {"msgid": "HUBONLY00001", "side": "insured", "action": "dispute", "reason": "再报"})
    assert again.status_code == 422 and "未处理：报文 HUBONLY00001 已有疑点" in again.text
    assert [x["outcome"] for x in state_of(cluster.api).break_log.recent()] == ["refused", "done"]


def test_a_reason_is_required_and_an_action_must_fit_the_break(cluster: Cluster) -> None:
    outbound(cluster, "CAREONLY0002")
    c = browser(cluster.api, "admin")
    r = post_break(c, {"msgid": "CAREONLY0002", "side": "care", "action": "reverse", "reason": "  "})
    assert r.status_code == 422 and "未处理：请填写处理理由" in r.text and "（reason）" in r.text
    r = post_break(c, {"msgid": "CAREONLY0002", "side": "care", "action": "dispute", "reason": "x"})
    assert r.status_code == 422 and "不能用“标记疑点" in r.text and "（action）" in r.text
    r = post_break(c, {"msgid": "NOSUCHBREAK1", "side": "care", "action": "reverse", "reason": "x"})
    assert r.status_code == 409 and "已无差异" in r.text
    assert state_of(cluster.api).care.outbound.get("CAREONLY0002")["status"] == "settled"
    assert cluster.routes.get("CAREONLY0002") is None


def test_the_form_needs_its_csrf_token_and_an_auditor_may_look_but_not_act(cluster: Cluster) -> None:
    outbound(cluster, "CAREONLY0003")
    admin = browser(cluster.api, "admin")
    r = post_break(
        admin, {"msgid": "CAREONLY0003", "side": "care", "action": "reverse", "reason": "x"}, token=False
    )
    assert r.status_code == 403 and "表单已过期" in r.text
    auditor = browser(cluster.api, "auditor")
    page = auditor.get("/dashboard/crossregion", headers=HTML).text
    assert "CAREONLY0003" in page and "/dashboard/crossregion/breaks/resolve" not in page
    r = auditor.post("/dashboard/crossregion/breaks/resolve",
                     data={"msgid": "CAREONLY0003", "side": "care", "action": "reverse", "reason": "x"})  # fmt: skip
    assert r.status_code == 403
    assert state_of(cluster.api).care.outbound.get("CAREONLY0003")["status"] == "settled"
