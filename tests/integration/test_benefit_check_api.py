"""The benefit check (待遇享受检查) over the national interface: 2207 refuses a person absent from a region's
enrolment data (national error shape), settles a late enrolee in the waiting period of 国办发〔2024〕38号
fully self-paid (the Xi'an enrolment file's ``not_covered.self_pay``) and a covered person as before; 2001
answers per fund; 1101 shows the insurance status; a region without enrolment data keeps today's behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import ME, PARENT, STRANGER, Api, build_api, new_msgid, visit_json

from yibao.enrolment.check import check
from yibao.enrolment.policy import policy_for_region
from yibao.enrolment.store import EnrolmentStore
from yibao.policy.loader import example_path, load_region

HEADER = "psn_no,certno,psn_name,year,paid_on,individual,assistance,identity,kind,household_no,district\n"


def _cert(body17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * k for c, k in zip(body17, w, strict=True)) % 11]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'api.db'}")


def _enrol(api: Api, tmp_path: Path) -> None:
    f = tmp_path / "collection-2025.csv"
    f.write_text(
        HEADER
        + f"{ME},{_cert('61010019900101123')},张三丰,2025,2024-10-01,400,,,,H1,雁塔区\n"  # in the period
        + f"{PARENT},{_cert('61010019600101567')},李四,2025,2025-03-15,400,,,,H2,碑林区\n",  # late
        encoding="utf-8",
    )
    policy = policy_for_region(load_region(example_path("xian")))
    assert policy is not None
    with EnrolmentStore(api.url, policy, migrate=False) as store:
        store.import_collection(f)


def test_without_enrolment_data_everyone_known_settles_as_before(api: Api) -> None:
    out = api.settle(psn_no=STRANGER)
    assert int(float(out["setlinfo"]["fund_pay_sumamt"]) * 100) > 0


def test_the_check_inside_2207_2206_and_2001(api: Api, tmp_path: Path) -> None:
    _enrol(api, tmp_path)
    # covered: settles with the funds paying
    out = api.settle(psn_no=ME)
    assert float(out["setlinfo"]["fund_pay_sumamt"]) > 0
    # absent from the region's enrolment data: refused in the national error shape, nothing written
    msgid = new_msgid()
    body = api.tx("hospital", "2207", visit_json(psn_no=STRANGER), msgid).json()
    assert body["infcode"] == -1 and body["err_code"] == "not_enrolled"
    assert body["err_field"] == "input.data.psn_no"
    assert body["err_msg"].startswith("input.data.psn_no: 人员待遇享受检查未通过：未参加本统筹区基本医疗保险")
    assert api.tx("hospital", "2206", visit_json(psn_no=STRANGER)).json()["err_code"] == "not_enrolled"
    # input the ledger refuses anyway is named first: an unknown person, a date without a policy
    assert (
        api.tx("hospital", "2207", visit_json(psn_no="NOBODY"), new_msgid()).json()["err_code"]
        == "unknown_person"
    )
    late = visit_json(psn_no=STRANGER)
    late["begntime"] = late["endtime"] = "2031-01-01"
    assert api.tx("hospital", "2207", late, new_msgid()).json()["err_code"] == "no_policy"
    # the late enrolee in the waiting period (visit on 2025-05-03): settled fully self-paid
    out = api.settle(psn_no=PARENT)
    info = out["setlinfo"]
    assert float(info["fund_pay_sumamt"]) == 0 and info["psn_part_amt"] == info["medfee_sumamt"]
    # 2001 per fund, with the reason and the day benefits start
    r = api.tx("hospital", "2001", {"psn_no": PARENT, "begntime": "2025-05-03", "med_type": "21"}).json()
    assert r["infcode"] == 0, r
    rows = r["output"]["trtinfo"]
    assert {x["fund_pay_type"] for x in rows} == {"390100", "390200"}
    assert {x["trt_enjymnt_flag"] for x in rows} == {"0"}
    assert (
        "2025年6月15日起享受待遇" in rows[0]["trt_chk_rslt"]
        and "国办发〔2024〕38号" in rows[0]["trt_chk_rslt"]
    )
    assert r["output"]["check"]["decision"] == "self_pay"
    r = api.tx("hospital", "2001", {"psn_no": PARENT, "begntime": "2025-06-15", "med_type": "21"}).json()
    assert {x["trt_enjymnt_flag"] for x in r["output"]["trtinfo"]} == {"1"}
    r = api.tx("hospital", "2001", {"psn_no": STRANGER, "begntime": "2025-06-15", "med_type": "21"}).json()
    assert r["output"]["check"]["decision"] == "refuse" and r["output"]["check"]["infcode"] == -1
    bad = api.tx("hospital", "2001", {"psn_no": PARENT, "begntime": "2025/06/15", "med_type": "21"}).json()
    assert bad["infcode"] == -1 and bad["err_field"] == "input.data.begntime"
    # 1101: the insurance status as the enrolment tables know it today
    import datetime as dt

    policy = policy_for_region(load_region(example_path("xian")))
    assert policy is not None
    with EnrolmentStore(api.url, policy, migrate=False) as store:
        today = check(store.status(PARENT), dt.date.today(), "")
    info = api.tx("hospital", "1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": PARENT}).json()
    row = info["output"]["insuinfo"][0]
    assert row["psn_insu_stas"] == today.psn_insu_stas
    assert row["trt_enjymnt_flag"] == ("1" if today.covered else "0")
    assert row.get("trt_chk_rslt", "") == ("" if today.covered else today.reason_zh)
    # an insured person may not check a stranger
    assert (
        api.tx(
            "insured", "2001", {"psn_no": STRANGER, "begntime": "2025-06-15", "med_type": "21"}
        ).status_code
        == 403
    )


def test_a_retry_of_a_settled_msgid_returns_the_first_result_after_a_refusal_starts(
    api: Api, tmp_path: Path
) -> None:
    msgid = new_msgid()
    visit = visit_json(psn_no=STRANGER)
    first = api.tx("hospital", "2207", visit, msgid).json()
    assert first["infcode"] == 0
    _enrol(api, tmp_path)  # the region's enrolment data arrives; STRANGER is not in it
    again = api.tx("hospital", "2207", visit, msgid).json()
    assert again["infcode"] == 0 and again["output"]["replayed"] is True
    assert again["output"]["setlinfo"] == first["output"]["setlinfo"]


def test_the_portal_explains_the_status_and_lists_the_payments(api: Api, tmp_path: Path) -> None:
    h = {**api.h("insured"), "accept": "text/html"}
    page = api.client.get("/me/insurance", headers=h)
    assert page.status_code == 200 and "尚未登记参保数据" in page.text
    _enrol(api, tmp_path)
    # the insured person's linked parent, a late enrolee, on a day in the waiting period
    page = api.client.get(f"/me/insurance?psn={PARENT}&on=2025-05-03", headers=h)
    assert page.status_code == 200, page.text
    assert "暂不能享受医保待遇" in page.text and "处于待遇等待期" in page.text
    assert "2025年6月15日起享受待遇" in page.text and "全部由个人负担" in page.text
    page = api.client.get(f"/me/insurance?psn={PARENT}&on=2025-06-15", headers=h)
    assert "可以享受医保待遇" in page.text
    page = api.client.get(f"/me/contributions?psn={PARENT}", headers=h)
    assert page.status_code == 200 and "2025-03-15" in page.text and "400.00" in page.text
    assert api.client.get("/me/insurance?on=2025-13-01", headers=h).status_code == 422
    assert api.client.get(f"/me/insurance?psn={STRANGER}", headers=h).status_code == 403


def test_the_bureau_sees_enrolment_figures_and_an_employers_arrears(api: Api, tmp_path: Path) -> None:
    h = {**api.h("auditor"), "accept": "text/html"}
    page = api.client.get("/dashboard/enrolment", headers=h)
    assert page.status_code == 200 and "暂无数据" in page.text
    _enrol(api, tmp_path)
    roster = tmp_path / "roster-2025-01.csv"
    roster.write_text(
        "emp_no,emp_name,month,psn_no,certno,psn_name,wage,action,paid_on,effective,psn_type\n"
        f"E1,西安示例公司,2025-01,W1,{_cert('61010019850101321')},赵六,6000,add,,,\n",
        encoding="utf-8",
    )
    policy = policy_for_region(load_region(example_path("xian")))
    assert policy is not None
    with EnrolmentStore(api.url, policy, migrate=False) as store:
        store.import_roster(roster)
    page = api.client.get("/dashboard/enrolment?year=2025&on=2025-05-03", headers=h)
    assert page.status_code == 200, page.text
    assert "雁塔区" in page.text and "碑林区" in page.text  # coverage by district
    assert "西安示例公司" in page.text and "waiting_period" in page.text
    page = api.client.get("/dashboard/enrolment/employers/E1?on=2025-05-03", headers=h)
    assert page.status_code == 200 and "W1" in page.text and "2025-01" in page.text
    assert api.client.get("/dashboard/enrolment/employers/NOPE", headers=h).status_code == 404
    assert api.client.get(
        "/dashboard/enrolment", headers={**api.h("insured"), "accept": "text/html"}
    ).status_code in (
        303,
        403,
    )


def test_fund_income_comes_from_the_recorded_premiums_once_there_are_any(api: Api, tmp_path: Path) -> None:
    from yibao.usecases.enrolment import fund_income

    loaded = load_region(example_path("xian"))
    assert fund_income(api.url, loaded, 2025) is None  # no enrolment data: the fund books its stand-in
    _enrol(api, tmp_path)
    inc = fund_income(api.url, loaded, 2025)
    assert inc is not None
    # cash basis: money in the month paid — the late premium of March 2025 (400 元 and the fiscal subsidy per
    # head of 2025, 700 元) is 2025's; the one paid in the collection period (October 2024) is 2024's
    assert int(inc["amount_fen"].sum()) == 40_000 + 70_000
    assert set(inc["month"].to_list()) == {"2025-03"}
    assert set(inc["fund_pay_type"].to_list()) == {"390100", "390200"}
    earlier = fund_income(api.url, loaded, 2024)
    assert earlier is not None and set(earlier["month"].to_list()) == {"2024-10"}
