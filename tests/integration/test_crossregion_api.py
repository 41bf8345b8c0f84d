"""Cross-region endpoints of one region service, in process: filings over JSON (the person's own, the
bureau's queue), the hub-only endpoints refusing a caller without the hub key, and a visitor's 2207 with no
hub configured refused with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import ME, STRANGER, Api, build_api, visit_json

from yibao.ledger import Ledger


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'api.db'}", mount_web=False)


def test_the_insured_files_lists_and_cancels_their_own_filing(api: Api) -> None:
    c = api.client
    r = c.post("/api/crossregion/filings", headers=api.h("insured"),
               json={"care_admdvs": "110000", "type_code": "23", "channel": "app", "begin": "2025-03-01"})  # fmt: skip
    assert r.status_code == 200, r.text
    f = r.json()
    assert (f["psn_no"], f["kind"], f["end"], f["status"]) == (ME, "temporary", "2025-09-01", "active")
    listed = c.get("/api/crossregion/filings", headers=api.h("insured")).json()
    assert [x["filing_id"] for x in listed] == [f["filing_id"]]
    r = c.post(f"/api/crossregion/filings/{f['filing_id']}/cancel", headers=api.h("stranger"))
    assert r.status_code == 403
    r = c.post(f"/api/crossregion/filings/{f['filing_id']}/cancel", headers=api.h("insured"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_a_bad_filing_names_the_field_and_another_persons_filing_is_refused(api: Api) -> None:
    c = api.client
    r = c.post("/api/crossregion/filings", headers=api.h("insured"),
               json={"care_admdvs": "11", "type_code": "23", "channel": "app", "begin": "2025-03-01"})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "care_admdvs"]
    r = c.post("/api/crossregion/filings", headers=api.h("insured"),
               json={"psn_no": STRANGER, "care_admdvs": "110000", "type_code": "23", "channel": "app",
                     "begin": "2025-03-01"})  # fmt: skip
    assert r.status_code == 403


def test_hub_endpoints_answer_without_acting_when_the_key_is_wrong(api: Api) -> None:
    with Ledger.open(api.url) as led:
        before = led.row_counts()
    body = {"msgid": "X1", "care_admdvs": "110000", "data": visit_json(), "priced": {}}
    r = api.client.post("/api/crossregion/inbound/settle", json=body, headers={"X-Yibao-Hub-Key": "guess"})
    assert r.status_code == 200 and r.json() == {
        "ok": False, "field": "X-Yibao-Hub-Key", "reason": "清算中心密钥不符 not the clearing hub", "code": "hub_key"
    }  # fmt: skip
    # who a person is is not told to a caller without the hub key either, nor is a non-object body taken
    r = api.client.post(
        "/api/crossregion/inbound/person", json={"psn_no": ME}, headers={"X-Yibao-Hub-Key": "x"}
    )
    assert r.status_code == 200 and r.json()["code"] == "hub_key" and "person" not in r.json()
    r = api.client.post(
        "/api/crossregion/inbound/reverse", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    with Ledger.open(api.url) as led:
        assert led.row_counts() == before


def test_a_visitor_without_a_hub_is_refused_naming_the_insured_region(api: Api) -> None:
    r = api.tx("hospital", "2207", visit_json(), insuplc_admdvs="110000")
    body = r.json()
    assert body["infcode"] == -1 and body["err_field"] == "insuplc_admdvs" and body["err_code"] == "no_hub"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'web.db'}")


def test_portal_filing_form_and_where_i_may_be_treated(web: Api) -> None:
    c = web.client
    page = c.get("/me/elsewhere", headers=web.h("insured"))
    assert page.status_code == 200 and "异地未备案" in page.text and "办理备案" in page.text
    r = c.post("/me/elsewhere/file", headers=web.h("insured"), follow_redirects=False,
               data={"psn_no": ME, "care_admdvs": "310000", "type_code": "12", "begin": "2025-02-01"})  # fmt: skip
    assert r.status_code == 303
    page = c.get("/me/elsewhere", headers=web.h("insured"))
    assert "异地长期居住" in page.text and "310000" in page.text
    bad = c.post("/me/elsewhere/file", headers=web.h("insured"),
                 data={"psn_no": ME, "care_admdvs": "3100", "type_code": "12", "begin": "2025-02-01"})  # fmt: skip
    assert bad.status_code == 422 and "care_admdvs" in bad.text
    assert c.get("/dashboard/crossregion", headers=web.h("insured")).status_code in (303, 403)


def test_bureau_page_lists_flows_filings_and_says_when_there_is_no_hub(web: Api) -> None:
    c = web.client
    c.post("/api/crossregion/filings", headers=web.h("insured"),
           json={"care_admdvs": "110000", "type_code": "23", "channel": "app", "begin": "2025-03-01"})  # fmt: skip
    page = c.get("/dashboard/crossregion", headers=web.h("admin"))
    assert page.status_code == 200
    assert "其他临时外出" in page.text and "本统筹区未接入清算中心" in page.text


class _Hub:
    """The hub as the bureau page reads it: a month's clearing preview and reconciliation against its log,
    which here holds one settlement the region does not (and misses none)."""

    def __init__(self) -> None:
        from yibao.crossregion.clearing import Record

        self.log = [Record("HUBONLY0001", "settled", 4_560)]

    def get(self, path: str) -> dict[str, object]:
        return {"net_sum_fen": 0, "closed": False, "prepayments": [], "positions": [], "carried_disputes": []}

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        from dataclasses import asdict

        from yibao.crossregion.clearing import Record, reconcile, resolution

        assert path == "/hub/v1/reconcile"
        mine = [Record(str(r["msgid"]), str(r["status"]), int(r["owed"])) for r in body["records"]]  # type: ignore[attr-defined,index]
        there = self.log if body["side"] == "insured" else []
        side = "insured" if body["side"] == "insured" else "care"
        return {"breaks": [{**asdict(b), **asdict(resolution(b, side))} for b in reconcile(mine, there)]}  # type: ignore[arg-type]


def test_bureau_page_lists_each_break_with_the_hub_and_how_it_closes(web: Api) -> None:
    from yibao.crossregion.schema import xr_outbound
    from yibao.crossregion.store import RouteTable
    from yibao.usecases import crossregion as xr

    c = web.client
    assert c.get("/dashboard/crossregion", headers=web.h("admin")).status_code == 200  # the state exists now
    st = c.app.state.crossregion  # type: ignore[attr-defined]
    outbound = RouteTable(st.engine, xr_outbound)
    assert outbound.insert("CAREONLY0001", "settled", insu_admdvs="610500", fixmedins_code="H61010000001",
                           psn_no="P610500000001", mdtrt_id="M1", setl_date="2025-06-10", fund_pay_sumamt=12_300)  # fmt: skip
    st.care = xr.CareSide(outbound, _Hub(), "610100")  # type: ignore[arg-type]
    page = c.get("/dashboard/crossregion", headers=web.h("admin")).text
    care_row = page.split("<td>CAREONLY0001</td>", 1)[1].split("</tr>", 1)[0]
    hub_row = page.split("<td>HUBONLY0001</td>", 1)[1].split("</tr>", 1)[0]
    assert "清算中心缺失" in care_row and "settled:12300" in care_row and "就医地冲正" in care_row
    # the hub holds a settlement this region (as insured region) lacks: the care region reverses it
    assert "本地缺失" in hub_row and "settled:4560" in hub_row and "就医地冲正" in hub_row
