"""Employer logins (参保单位) over HTTP: an employer logs in, sees only its own roster and arrears, uploads its
monthly roster (every bad row listed, nothing imported; a row of another employer refused), and is refused
another employer's data and every route written for the other roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import ME, Api, build_api

from yibao.access.store import ServiceStore, UserError
from yibao.demo.logins import DEMO_PASSWORD
from yibao.ledger import Ledger

HEADER = "emp_no,emp_name,month,psn_no,certno,psn_name,wage,action,paid_on\n"


def _cert(body17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * k for c, k in zip(body17, w, strict=True)) % 11]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'api.db'}")


def _login(api: Api, username: str) -> dict[str, str]:
    r = api.client.post("/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "employer"
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _employers(api: Api) -> tuple[dict[str, str], dict[str, str]]:
    with Ledger.open(api.url) as led:
        sa_url = led.sa_url
    store = ServiceStore(sa_url)
    try:
        with pytest.raises(UserError) as exc:  # an employer login must name its employer
            store.create_user("nobody", DEMO_PASSWORD, "employer", "无单位")
        assert exc.value.field == "emp_no" and exc.value.reason.startswith("单位账号须填写参保单位编号")
        store.create_user("e1", DEMO_PASSWORD, "employer", "甲公司经办", emp_no="E1")
        store.create_user("e2", DEMO_PASSWORD, "employer", "乙公司经办", emp_no="E2")
    finally:
        store.close()
    return _login(api, "e1"), _login(api, "e2")


def test_an_employer_sees_and_declares_only_its_own_roster(api: Api) -> None:
    e1, e2 = _employers(api)
    assert api.client.get("/auth/me", headers=e1).json()["emp_no"] == "E1"
    w1, w2, w3 = _cert("61010019850101321"), _cert("61010019900202432"), _cert("61010019920303543")
    roster = (
        HEADER
        + f"E1,甲公司,2025-01,W1,{w1},赵六,6000,add,2025-01-10\n"
        + f"E1,甲公司,2025-01,W2,{w2},钱七,5000,add,\n"  # not paid: arrears once the grace has passed
    )
    r = api.client.post(
        "/api/employer/E1/roster?filename=e1-2025-01.csv", content=roster.encode(), headers=e1
    )
    assert r.status_code == 200, r.text
    assert r.json()["output"]["rows"] == 2 and r.json()["output"]["persons_registered"] == 2
    api.client.app.state.eligibility.refresh()  # type: ignore[attr-defined]

    own = api.client.get("/api/employer/E1?on=2025-06-01", headers=e1)
    assert own.status_code == 200, own.text
    body = own.json()
    assert {r["psn_no"] for r in body["roster"]} == {"W1", "W2"}
    assert body["arrears"]["persons"] == 1 and body["arrears"]["amount_fen"] > 0
    assert [u["psn_no"] for u in body["unpaid"]] == ["W2"]

    # another employer's roster and upload: refused, nothing read or written
    other = api.client.get("/api/employer/E1?on=2025-06-01", headers=e2)
    assert other.status_code == 403 and "无权查看或申报参保单位 E1" in other.text
    bad = HEADER + f"E1,甲公司,2025-02,W1,{w1},赵六,6000,keep,2025-02-10\n"
    assert api.client.post("/api/employer/E1/roster", content=bad.encode(), headers=e2).status_code == 403
    # a file naming another employer, uploaded to one's own: each such row is an error, nothing imported
    mixed = (
        HEADER
        + f"E2,乙公司,2025-02,W3,{w3},孙八,4000,add,2025-02-10\n"
        + f"E1,甲公司,2025-02,W1,{w1},赵六,6000,keep,2025-02-10\n"
    )
    r = api.client.post("/api/employer/E2/roster?filename=mixed.csv", content=mixed.encode(), headers=e2)
    assert r.status_code == 422 and r.json()["infcode"] == -1
    assert r.json()["problems"] == [
        {"row": 3, "field": "emp_no", "reason": "不是本单位（E2）的编号 E1 is not your employer (E2)"}
    ]
    # a bad row of its own (a month that is not a month, an unknown action): line, column, reason, nothing kept
    broken = HEADER + f"E2,乙公司,2025-13,W3,{w3},孙八,4000,hire,2025-02-10\n"
    r = api.client.post("/api/employer/E2/roster?filename=broken.csv", content=broken.encode(), headers=e2)
    assert r.status_code == 422
    assert {(p["row"], p["field"]) for p in r.json()["problems"]} >= {(2, "month"), (2, "action")}
    assert api.client.get("/api/employer/E2", headers=e2).status_code in (404, 422)  # still nothing of E2

    # the pages: its own roster, not another's, and the upload form
    html = {**e1, "accept": "text/html"}
    page = api.client.get("/dashboard/enrolment/employers/E1?on=2025-06-01", headers=html)
    assert page.status_code == 200 and "W2" in page.text and "单位月度申报" in page.text
    assert "参保与征缴" not in page.text  # no bureau menu
    assert api.client.get("/dashboard/enrolment/employers/E2", headers=html).status_code == 403
    assert (
        api.client.get("/dashboard/employer", headers=html, follow_redirects=False).headers["location"]
        == "/dashboard/enrolment/employers/E1"
    )

    # nothing written for the other roles is reachable with an employer login
    for path in (
        "/dashboard/enrolment",
        "/api/v1/settlements",
        f"/api/v1/persons/{ME}",
        "/api/care/followups",
        "/me",
    ):
        assert api.client.get(path, headers=e1).status_code == 403, path

    # the bureau still sees any employer
    assert api.client.get("/api/employer/E1?on=2025-06-01", headers=api.h("auditor")).status_code == 200


def test_the_roster_page_upload_lists_the_bad_rows_and_imports_a_good_file(api: Api) -> None:
    e1, _ = _employers(api)
    html = {**e1, "accept": "text/html"}
    w1 = _cert("61010019850101321")
    bad = HEADER + f"E1,甲公司,2025-01,W1,{w1},赵六,-5,add,2025-01-10\n"
    page = api.client.post(
        "/dashboard/enrolment/employers/E1/roster", files={"file": ("e1.csv", bad.encode())}, headers=html
    )
    assert page.status_code == 422 and "未导入任何数据" in page.text and "wage" in page.text
    good = HEADER + f"E1,甲公司,2025-01,W1,{w1},赵六,6000,add,2025-01-10\n"
    page = api.client.post(
        "/dashboard/enrolment/employers/E1/roster", files={"file": ("e1.csv", good.encode())}, headers=html
    )
    assert page.status_code == 200 and "花名册已导入" in page.text and "W1" in page.text


def test_the_bureau_page_keeps_its_figures_only_while_the_tables_do_not_change(api: Api) -> None:
    e1, _ = _employers(api)
    staff = {**api.h("auditor"), "accept": "text/html"}
    paid = HEADER + f"E1,甲公司,2025-01,W1,{_cert('61010019850101321')},赵六,6000,add,2025-01-10\n"
    r = api.client.post("/api/employer/E1/roster?filename=e1-paid.csv", content=paid.encode(), headers=e1)
    assert r.status_code == 200, r.text
    api.client.app.state.eligibility.refresh()  # type: ignore[attr-defined]
    before = api.client.get("/dashboard/enrolment?on=2025-06-01", headers=staff)
    assert before.status_code == 200 and "甲公司" not in before.text
    kept = api.client.app.state.enrol_figures  # type: ignore[attr-defined]
    again = api.client.get("/dashboard/enrolment?on=2025-06-01", headers=staff)
    assert again.text == before.text and api.client.app.state.enrol_figures is kept  # type: ignore[attr-defined]
    w2 = _cert("61010019900202432")
    unpaid = HEADER + f"E1,甲公司,2025-01,W2,{w2},钱七,5000,add,\n"
    r = api.client.post("/api/employer/E1/roster?filename=e1.csv", content=unpaid.encode(), headers=e1)
    assert r.status_code == 200, r.text
    api.client.app.state.eligibility.refresh()  # type: ignore[attr-defined]
    after = api.client.get("/dashboard/enrolment?on=2025-06-01", headers=staff)
    assert after.status_code == 200 and "甲公司" in after.text  # the new arrears, not the kept figures
