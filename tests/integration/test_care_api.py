"""Internet care end to end through the HTTP API: the voucher at the counter, follow-up → e-prescription →
payment (医保 + 商保 一单制) → dispensing → delivery with an insurer statement, credit pay to repayment and to
default, remote consultation split, a capitation month with a referral out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from ledger_support import create_pg_database, drop_pg_database
from test_api_support import ME, PARENT, STRANGER, Api, build_api, new_msgid, visit_json

from yibao.access.store import ServiceStore
from yibao.demo.logins import DEMO_PASSWORD
from yibao.encounter.store import EncounterStore
from yibao.money import apply_ratio, parse_ratio, yuan_to_fen

PARAMS = yaml.safe_load(
    (Path(__file__).parents[2] / "src/yibao/care/params.yaml").read_text(encoding="utf-8")
)
IH, PHARMACY, CLINIC, OUTSIDE = "IH61000000001", "D61000000001", "C61000000011", "H61000000099"
METFORMIN = {"code": "XA10BAA049A001010198648", "units": 60, "price": "0.04", "days": 30}
SITAGLIPTIN = {"code": "XA10BHA052A001010141309", "units": 30, "price": "2.10", "days": 30}
INJECTION = {"code": "XJ01DDA003B002010119046", "units": 1, "price": "3.50", "days": 1}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The seeded service (SQLite) with the care logins."""
    yield from _with_care_logins(build_api(f"sqlite:///{tmp_path / 'care.db'}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The same on SQLite and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield from _with_care_logins(build_api(f"sqlite:///{tmp_path / 'care.db'}"))
        return
    name, url = create_pg_database()
    try:
        yield from _with_care_logins(build_api(url))
    finally:
        drop_pg_database(name)


def _with_care_logins(apis: Iterator[Api]) -> Iterator[Api]:
    for a in apis:
        store = ServiceStore(a.client.app.state.ledger.sa_url)  # type: ignore[attr-defined]
        try:
            for name, code in (("ih", IH), ("pharmacy", PHARMACY), ("clinic", CLINIC), ("outside", OUTSIDE)):
                user = store.create_user(name, DEMO_PASSWORD, "institution", name, fixmedins_code=code)
                a.tokens[name] = store.open_session(user.user_id)
        finally:
            store.close()
        yield a


def post(api: Api, who: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
    r = api.client.post(f"/api/care{path}", json=body or {}, headers=api.h(who))
    assert r.status_code == status, r.text
    return r.json()


def get(api: Api, who: str, path: str) -> Any:
    r = api.client.get(f"/api/care{path}", headers=api.h(who))
    assert r.status_code == 200, r.text
    return r.json()


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def followup_paid(
    api: Api, psn: str, diagnosis: str, pay_mode: str = "cash", status: int = 200
) -> dict[str, Any]:
    f = post(
        api,
        "insured",
        "/followups",
        {"psn_no": psn, "internet_hospital": IH, "diagnosis": diagnosis, "address": "雁塔区"},
        201,
    )
    rx = post(
        api,
        "ih",
        f"/followups/{f['followup_id']}/prescription",
        {"prescriber": "D610100001", "target": PHARMACY, "lines": [METFORMIN, SITAGLIPTIN]},
    )
    paid = post(api, "insured", f"/followups/{f['followup_id']}/pay", {"pay_mode": pay_mode}, status)
    return {"followup": f, "rx": rx, "paid": paid}


def test_a_prescription_past_its_validity_days_is_blocked_in_the_settlement_and_refused_at_the_pharmacy(
    api: Api,
) -> None:
    import sqlalchemy as sa

    from yibao.audit.rules.model import load_library
    from yibao.care.schema import care_rx

    rule = load_library().by_code("GZ-YB-019")  # the audit rule, one definition for every moment
    days = rule.params.valid_days
    post(api, "hospital", "/conditions", {"psn_no": PARENT, "diagnosis": "E11.9"})
    f = post(
        api,
        "insured",
        "/followups",
        {"psn_no": PARENT, "internet_hospital": IH, "diagnosis": "E11.9", "address": "雁塔区"},
        201,
    )
    rx = post(
        api,
        "ih",
        f"/followups/{f['followup_id']}/prescription",
        {"prescriber": "D610100001", "target": PHARMACY, "lines": [METFORMIN]},
    )
    # the prescription was issued `days` days ago: today is past its validity
    issued = today() - dt.timedelta(days=days)
    led = api.client.app.state.ledger  # type: ignore[attr-defined]
    engine = sa.create_engine(led.sa_url)
    with engine.begin() as c:
        c.execute(care_rx.update().where(care_rx.c.rx_id == rx["rx_id"]).values(issued_on=issued.isoformat()))
    engine.dispose()
    reason = f"处方{issued.isoformat()}开具，{today().isoformat()}调剂，已超过{days}天有效期"
    # in-event (事中): the settlement's audit hook blocks the visit — every line fully self-paid, with the reason
    paid = post(api, "insured", f"/followups/{f['followup_id']}/pay", {"pay_mode": "cash"})
    (st,) = [x for x in led.list_settlements(PARENT, limit=10) if x.setl_id == paid["setl_id"]]
    found = [a for a in st.settlement.audit if a.rule_code == "GZ-YB-019"]
    assert [(a.severity, a.reason_zh) for a in found] == [("block", reason)]
    assert st.settlement.fund_pay_sumamt == 0 and paid["bill"]["hifp_pay"] == 0
    # the ledger keeps the prescription with the visit: replayed through the in-event checker (as the
    # after-the-fact audit does), the stored visit gets the same verdict
    from yibao.audit.knowledge import load_knowledge
    from yibao.audit.moments import EventChecker
    from yibao.settlement.model import Person

    stored_rx = st.visit.rx
    assert stored_rx is not None and stored_rx.issued_on == issued and stored_rx.dispensed_on == today()
    assert led.verify().ok
    who = Person(PARENT, "", "x", "F", dt.date(1960, 1, 1), "310", "11")
    again = EventChecker(load_library(), load_knowledge()).check(who, st.visit)
    assert [(a.rule_code, a.reason_zh) for a in again if a.rule_code == rule.code] == [(rule.code, reason)]
    # at the pharmacy's door: refused by the same rule, with its Chinese reason
    bad = post(api, "pharmacy", f"/prescriptions/{rx['rx_id']}/dispense", status=409)
    assert bad["code"] == "GZ-YB-019" and bad["reason"].startswith(reason)
    assert get(api, "insured", "/followups")[0]["status"] == "paid"  # nothing dispensed


def test_voucher_shown_by_a_family_member_is_verified_once_at_the_counter(api: Api) -> None:
    v = post(api, "insured", "/voucher", {"psn_no": PARENT})
    assert v["by_proxy"] and v["holder"] == ME and v["qr_svg"].startswith("<svg")
    ok = post(api, "hospital", "/voucher/verify", {"token": v["token"], "psn_no": PARENT})
    assert ok["psn_no"] == PARENT and ok["by_proxy"] is True
    again = post(api, "hospital", "/voucher/verify", {"token": v["token"]}, 409)
    assert again["code"] == "replayed" and "已使用" in again["reason"]
    assert post(api, "insured", "/voucher", {"psn_no": STRANGER}, 403)["code"] == "forbidden"
    lost = post(api, "insured", "/voucher", {"psn_no": ME})
    post(api, "insured", "/voucher/revoke", {"psn_no": ME})
    assert post(api, "pharmacy", "/voucher/verify", {"token": lost["token"]}, 409)["code"] == "revoked"


def test_followup_to_delivery_in_one_bill_with_commercial_cover_and_an_insurer_statement(
    api_both: Api,
) -> None:
    api = api_both
    post(api, "hospital", "/conditions", {"psn_no": PARENT, "diagnosis": "E11.9"})
    y = today().year
    post(
        api,
        "admin",
        "/covers",
        {"psn_no": PARENT, "product": "DM-ONLINE", "valid_from": f"{y}-01-01", "valid_to": f"{y}-12-31"},
    )
    # 复诊 only: a condition not registered offline is refused
    refused = post(
        api,
        "insured",
        "/followups",
        {"psn_no": ME, "internet_hospital": IH, "diagnosis": "E11.9", "address": "x"},
        422,
    )
    assert refused["code"] == "first_visit_online"
    f = post(
        api,
        "insured",
        "/followups",
        {"psn_no": PARENT, "internet_hospital": IH, "diagnosis": "E11.9", "address": "雁塔区"},
        201,
    )
    fid = f["followup_id"]
    # the prescription checks: registry entry, drugs outside the internet-hospital scope
    bad = post(
        api,
        "ih",
        f"/followups/{fid}/prescription",
        {"prescriber": "D610100002", "target": PHARMACY, "lines": [METFORMIN]},
        409,
    )
    assert bad["code"] == "GZ-YB-021" and bad["reason"].startswith("开方医师D610100002")
    bad = post(
        api,
        "ih",
        f"/followups/{fid}/prescription",
        {"prescriber": "D610100001", "target": PHARMACY, "lines": [INJECTION]},
        409,
    )
    assert bad["code"] == "CARE-RX-04" and bad["field"] == "prescription.lines[0]"
    assert (
        post(
            api,
            "hospital",
            f"/followups/{fid}/prescription",
            {"prescriber": "D610100001", "target": PHARMACY, "lines": [METFORMIN]},
            403,
        )["code"]
        == "forbidden"
    )
    rx = post(
        api,
        "ih",
        f"/followups/{fid}/prescription",
        {"prescriber": "D610100001", "target": PHARMACY, "lines": [METFORMIN, SITAGLIPTIN]},
    )
    paid = post(api, "insured", f"/followups/{fid}/pay", {"pay_mode": "cash"})
    bill, s = paid["bill"], paid["settlement"]
    # 线上线下一致: settled as 门诊慢特病 at the attached hospital, consultation fee + drugs
    drugs = 60 * 4 + 30 * 210
    consult = yuan_to_fen(PARAMS["online"]["consultation"]["price"])
    delivery = yuan_to_fen(PARAMS["online"]["delivery_fee"]["amount"])
    assert s["med_type"] == "14" and s["medfee_sumamt"] == consult + drugs and s["hifp_pay"] > 0
    # 一单制: in the same settlement, after the public funds, the product pays 80 % of the rest; one bill
    product = PARAMS["commercial"]["products"][0]
    expected = min(
        apply_ratio(s["psn_part_amt"], parse_ratio(product["ratio"])), yuan_to_fen(product["per_claim_cap"])
    )
    assert s["commercial_pay"] == bill["commercial_pay"] == expected > 0 and bill["insurer"] == "INS-01"
    assert s["commercial_product"] == "DM-ONLINE" and s["acct_pay"] == 0
    assert s["psn_cash_pay"] == s["psn_part_amt"] - s["commercial_pay"]  # no fen counted twice
    assert bill["patient_pay"] == s["psn_cash_pay"] + delivery
    assert bill["total"] == (
        bill["hifp_pay"]
        + bill["other_funds"]
        + bill["commercial_pay"]
        + bill["acct_pay"]
        + bill["patient_pay"]
    )
    assert s["psn_cash_pay"] * 10 < s["medfee_sumamt"]  # seed 002: the patient's share of the care below 10 %
    # the ledger holds the same settlement: its 2207 output, the journal's commercial row, the portal's bill
    stored = api.client.get(f"/api/v1/settlements/{paid['setl_id']}", headers=api.h("insured")).json()
    assert stored["setlinfo"]["commercial_pay"] == f"{expected / 100:.2f}"
    assert stored["setlinfo"]["commercial_product"] == "DM-ONLINE"
    led = api.client.app.state.ledger  # type: ignore[attr-defined]
    assert led.verify().ok
    page = api.client.get(f"/me/visits/{paid['setl_id']}", headers=api.h("insured"))
    assert page.status_code == 200 and "商业保险" in page.text and "糖尿病线上管理险" in page.text
    # dispensing once, then delivery
    assert post(api, "pharmacy", f"/prescriptions/{rx['rx_id']}/dispense")["status"] == "dispensed"
    assert post(api, "pharmacy", f"/prescriptions/{rx['rx_id']}/dispense", status=409)["code"] == "GZ-YB-020"
    post(api, "pharmacy", f"/prescriptions/{rx['rx_id']}/deliver", {})
    (mine,) = get(api, "insured", "/prescriptions")
    assert mine["delivery"]["status"] == "delivered" and mine["delivery"]["fee"] == delivery
    assert get(api, "insured", "/followups")[0]["status"] == "delivered"
    # the insurer's statement and reconciliation
    st = post(
        api,
        "admin",
        "/statements",
        {"insurer": "INS-01", "period_from": f"{y}-01-01", "period_to": f"{y}-12-31"},
        201,
    )
    assert st["claims"] == 1 and st["paid"] == bill["commercial_pay"]
    ((claim_id, amount),) = st["lines"]
    wrong = post(api, "admin", f"/statements/{st['statement_id']}/reconcile", {"claims": {claim_id: "0.01"}})
    assert wrong["status"] == "disputed" and wrong["result"]["amount_differs"] == [[claim_id, amount, 1]]
    right = post(
        api,
        "admin",
        f"/statements/{st['statement_id']}/reconcile",
        {"claims": {claim_id: f"{amount / 100:.2f}"}},
    )
    assert right["status"] == "reconciled" and right["result"]["balanced"]
    figures = get(api, "auditor", "/figures")
    assert figures["online_visits"] == 1 and figures["commercial"]["INS-01"]["paid"] == bill["commercial_pay"]


def test_a_cancelled_one_bill_settlement_gives_the_product_s_year_back_and_its_claim_is_void(
    api: Api,
) -> None:
    post(api, "hospital", "/conditions", {"psn_no": PARENT, "diagnosis": "E11.9"})
    y = today().year
    cover = {"psn_no": PARENT, "product": "DM-ONLINE", "valid_from": f"{y}-01-01", "valid_to": f"{y}-12-31"}
    post(api, "admin", "/covers", cover)
    first = followup_paid(api, PARENT, "E11.9")["paid"]
    second = followup_paid(api, PARENT, "E11.9")["paid"]
    led = api.client.app.state.ledger  # type: ignore[attr-defined]
    paid_counter = "com:DM-ONLINE:paid"
    both = first["settlement"]["commercial_pay"] + second["settlement"]["commercial_pay"]
    assert led.accumulators(PARENT, y)[paid_counter] == both
    # 2208 of the newer settlement (倒序撤销): the product's yearly use goes back with the funds'
    r = api.client.post(
        f"/api/v1/settlements/{second['setl_id']}/cancel",
        json={"msgid": new_msgid()},
        headers=api.h("hospital"),
    )
    assert r.status_code == 200, r.text
    assert led.accumulators(PARENT, y)[paid_counter] == first["settlement"]["commercial_pay"]
    assert led.verify().ok
    # the statement to the insurer leaves the cancelled settlement's claim off, as void
    st = post(
        api,
        "admin",
        "/statements",
        {"insurer": "INS-01", "period_from": f"{y}-01-01", "period_to": f"{y}-12-31"},
        201,
    )
    assert st["claims"] == 1 and st["paid"] == first["bill"]["commercial_pay"] and len(st["void"]) == 1
    claims = {c["claim_id"]: c for c in get(api, "admin", "/claims")}
    assert claims[st["void"][0]]["status"] == "void" and claims[st["void"][0]]["setl_id"] == second["setl_id"]
    assert get(api, "auditor", "/figures")["commercial"]["INS-01"]["paid"] == first["bill"]["commercial_pay"]


def test_credit_pay_to_repayment_and_to_default(api_both: Api) -> None:
    api = api_both
    post(api, "hospital", "/conditions", {"psn_no": ME, "diagnosis": "E11.9"})
    first = followup_paid(api, ME, "E11.9", "credit", 409)
    assert first["paid"]["code"] == "credit_not_eligible"  # no earlier paid follow-up; nothing settled
    assert get(api, "insured", "/bills") == []
    post(api, "insured", f"/followups/{first['followup']['followup_id']}/pay", {"pay_mode": "cash"})
    second = followup_paid(api, ME, "E11.9", "credit")
    owed = second["paid"]["bill"]["patient_pay"]
    (bill,) = get(api, "insured", "/credit")
    assert bill["status"] == "pending" and bill["amount"] == owed and bill["due_on"] is None
    rx = second["rx"]["rx_id"]
    post(api, "pharmacy", f"/prescriptions/{rx}/dispense")
    post(api, "pharmacy", f"/prescriptions/{rx}/deliver", {"on": today().isoformat()})
    (bill,) = get(api, "insured", "/credit")
    days = PARAMS["credit"]["repayment_days"]["value"]
    assert bill["status"] == "open" and bill["due_on"] == (today() + dt.timedelta(days=days)).isoformat()
    part = owed // 2
    r = post(api, "insured", f"/credit/{bill['bill_id']}/repay", {"amount": f"{part / 100:.2f}"})
    assert r["paid"] == part and r["status"] == "open"
    assert (
        post(api, "insured", f"/credit/{bill['bill_id']}/repay", {"amount": f"{owed / 100:.2f}"}, 409)["code"]
        == "overpay"
    )
    r = post(api, "insured", f"/credit/{bill['bill_id']}/repay", {"amount": f"{(owed - part) / 100:.2f}"})
    assert r["status"] == "paid" and r["closed_on"] == today().isoformat()
    # a third follow-up on credit, never repaid: overdue, then default; credit refused afterwards
    third = followup_paid(api, ME, "E11.9", "credit")
    rx = third["rx"]["rx_id"]
    post(api, "pharmacy", f"/prescriptions/{rx}/dispense")
    post(api, "pharmacy", f"/prescriptions/{rx}/deliver", {"on": today().isoformat()})
    due = today() + dt.timedelta(days=days)
    post(api, "admin", "/credit/sweep", {"on": (due + dt.timedelta(days=1)).isoformat()})
    states = {b["bill_id"]: b["status"] for b in get(api, "insured", "/credit")}
    assert sorted(states.values()) == ["overdue", "paid"]
    late = PARAMS["credit"]["default_after_days"]["value"]
    post(api, "admin", "/credit/sweep", {"on": (due + dt.timedelta(days=late + 1)).isoformat()})
    figures = get(api, "admin", "/figures")["credit"]
    assert figures["default"] == third["paid"]["bill"]["patient_pay"] and figures["repaid"] == owed
    assert figures["default_rate"] > 0
    fourth = followup_paid(api, ME, "E11.9", "credit", 409)
    assert fourth["paid"]["code"] == "credit_suspended"  # a default suspends credit


def test_remote_consultation_fee_split_and_tests_settled_at_the_clinic(api: Api) -> None:
    assert (
        post(
            api,
            "hospital",
            "/consults",
            {"psn_no": STRANGER, "consultant": "H61000000002", "reason": "x"},
            422,
        )["code"]
        == "not_higher"
    )
    c = post(
        api,
        "clinic",
        "/consults",
        {"psn_no": STRANGER, "consultant": "H61000000001", "reason": "胸痛待查"},
        201,
    )
    fee = yuan_to_fen(next(f["amount"] for f in PARAMS["consultation"]["fee_by_level"] if f["level"] == "3"))
    share = apply_ratio(fee, parse_ratio(PARAMS["consultation"]["consultant_share"]["value"]))
    assert (c["fee"], c["consultant_share"], c["requester_share"]) == (fee, share, fee - share)
    assert (
        post(api, "clinic", f"/consults/{c['consult_id']}/answer", {"advice": "x"}, 403)["code"]
        == "forbidden"
    )
    ultrasound = "002202010010000"
    post(api, "hospital", f"/consults/{c['consult_id']}/answer", {"advice": "做B超", "ordered": [ultrasound]})
    not_ordered = {"tests": [{"code": "002206000010000", "price": "180.00"}]}
    assert (
        post(api, "clinic", f"/consults/{c['consult_id']}/settle", not_ordered, 422)["code"] == "not_ordered"
    )
    out = post(
        api,
        "clinic",
        f"/consults/{c['consult_id']}/settle",
        {"tests": [{"code": ultrasound, "price": "40.00"}]},
    )
    assert out["bill"]["medfee_sumamt"] == fee + 4000 and out["setl_id"]
    assert out["consult"]["status"] == "settled" and out["consult"]["mdtrt_id"]
    # one visit record across both institutions: both see the consultation
    assert [x["consult_id"] for x in get(api, "hospital", "/consults")] == [c["consult_id"]]
    assert get(api, "clinic", "/consults")[0]["bill_id"] == out["bill"]["bill_id"]


def test_capitation_month_with_a_referral_out_and_an_outcome_bonus(api: Api) -> None:
    month = dt.date(2025, 5, 1)
    cap = PARAMS["family_doctor"]["capitation"]
    bad = {"psn_no": ME, "doctor": "家医王", "package": "basic", "payer": "self", "start": month.isoformat()}
    assert post(api, "clinic", "/contracts", bad, 422)["code"] == "bad_payer"
    post(api, "clinic", "/contracts", {**bad, "payer": "fund"}, 201)
    signed = post(
        api,
        "clinic",
        "/contracts",
        {
            "psn_no": PARENT,
            "doctor": "家医王",
            "package": "chronic-online",
            "payer": "account",
            "start": month.isoformat(),
        },
        201,
    )
    fee = yuan_to_fen(
        next(p["fee"] for p in PARAMS["family_doctor"]["packages"] if p["id"] == "chronic-online")
    )
    # the package fee settled at the clinic, paid from the personal account (no fund pays it)
    assert signed["bill"]["acct_pay"] == fee and signed["bill"]["patient_pay"] == 0
    assert signed["bill"]["hifp_pay"] == signed["bill"]["other_funds"] == 0
    assert post(api, "clinic", "/contracts", {**bad, "payer": "fund"}, 409)["code"] == "already_signed"
    post(api, "clinic", "/conditions", {"psn_no": PARENT, "diagnosis": "I10"})
    post(
        api,
        "clinic",
        "/outcomes",
        {"psn_no": PARENT, "month": "2025-05", "measure": "bp", "controlled": True},
    )
    # PARENT is treated outside the consortium in May (a referral out)
    v = visit_json(psn_no=PARENT, fixmedins_code=OUTSIDE)
    enc = EncounterStore.open(api.client.app.state.ledger.sa_url)  # type: ignore[attr-defined]
    enc.present_many([(OUTSIDE, "02", "610101196001015678", PARENT)])  # PARENT showed an ID card there
    enc.close()
    r = api.tx("outside", "2207", v, new_msgid(OUTSIDE))
    outside_fund = yuan_to_fen(str(r.json()["output"]["setlinfo"]["fund_pay_sumamt"]))
    assert outside_fund > 0
    got = post(api, "admin", "/capitation", {"consortium": "YLT-XA-01", "month": "2025-05"})
    w = {b["from"]: parse_ratio(b["weight"], allow_negative=True) for b in cap["age_bands"]}
    sex = {k: parse_ratio(v, allow_negative=True) for k, v in cap["sex"].items() if k != "source"}
    base = yuan_to_fen(cap["base_per_year"]["value"])
    me_w = w[7] * sex["M"] // 10_000  # 35 years old in May 2025
    parent_w = w[60] * sex["F"] // 10_000 + parse_ratio(
        cap["conditions"]["I10"], allow_negative=True
    )  # 65, I10
    budget = sum((base * wt + 60_000) // 120_000 for wt in (me_w, parent_w))
    pool = apply_ratio(budget, parse_ratio(cap["bonus_pool"]["value"]))
    withheld = min(outside_fund, apply_ratio(budget, parse_ratio(cap["referral_withhold_cap"]["value"])))
    assert (got["members"], got["budget"], got["pool"], got["withheld"]) == (2, budget, pool, withheld)
    assert got["bonus"] == pool  # blood pressure control 100 % ≥ target; glucose not measured
    assert got["payable"] == budget - withheld and got["outside_fund_paid"] == outside_fund
    assert get(api, "auditor", "/figures")["capitation"][0]["payable"] == budget - withheld
    assert sorted(c["package"] for c in get(api, "insured", "/contracts")) == ["basic", "chronic-online"]


def test_a_package_fee_is_paid_by_the_commercial_product_in_the_same_settlement_or_refused(api: Api) -> None:
    day = today()
    fee = yuan_to_fen(
        next(p["fee"] for p in PARAMS["family_doctor"]["packages"] if p["id"] == "chronic-online")
    )
    contract = {
        "doctor": "家医王",
        "package": "chronic-online",
        "payer": "commercial",
        "start": day.isoformat(),
    }
    refused = post(api, "clinic", "/contracts", {**contract, "psn_no": PARENT}, 409)
    assert refused["code"] == "no_cover" and "商业保险" in refused["reason"]
    assert get(api, "clinic", "/contracts") == []  # nothing written
    post(api, "hospital", "/conditions", {"psn_no": PARENT, "diagnosis": "E11.9"})
    y = day.year
    cover = {"psn_no": PARENT, "product": "DM-ONLINE", "valid_from": f"{y}-01-01", "valid_to": f"{y}-12-31"}
    post(api, "admin", "/covers", cover)
    signed = post(api, "clinic", "/contracts", {**contract, "psn_no": PARENT}, 201)
    ratio = parse_ratio(PARAMS["commercial"]["products"][0]["ratio"])
    bill = signed["bill"]
    assert bill["medfee_sumamt"] == fee and bill["commercial_pay"] == apply_ratio(fee, ratio)
    assert bill["patient_pay"] == fee - bill["commercial_pay"] and bill["hifp_pay"] == 0
    (claim,) = get(api, "admin", "/claims")
    assert claim["setl_id"] == bill["setl_id"] and claim["paid"] == bill["commercial_pay"]


def test_the_portal_page_lets_a_family_member_show_the_voucher_request_pay_and_repay(api: Api) -> None:
    post(api, "hospital", "/conditions", {"psn_no": PARENT, "diagnosis": "E11.9"})
    h = api.h("insured")
    page = api.client.get(f"/me/care?psn={PARENT}&big=1", headers=h)
    assert page.status_code == 200 and "医保电子凭证" in page.text and 'class="big"' in page.text
    assert "2型糖尿病" in page.text  # the registered condition is offered for a follow-up
    qr = api.client.post("/me/care/voucher", data={"psn_no": PARENT}, headers=h)
    assert qr.status_code == 200 and "<svg" in qr.text and "代办人" in qr.text
    assert f"<strong>{PARENT}</strong>" not in qr.text and f'<small class="code">{PARENT}</small>' in qr.text
    assert api.client.post("/me/care/voucher", data={"psn_no": STRANGER}, headers=h).status_code == 403
    r = api.client.post(
        "/me/care/followup",
        data={"psn_no": PARENT, "internet_hospital": IH, "diagnosis": "E11", "address": "灞桥区"},
        headers=h,
        follow_redirects=False,
    )
    assert r.status_code == 303
    (f,) = get(api, "insured", "/followups")
    post(
        api,
        "ih",
        f"/followups/{f['followup_id']}/prescription",
        {"prescriber": "D610100001", "target": PHARMACY, "lines": [METFORMIN]},
    )
    assert "先用药后付款" in api.client.get(f"/me/care?psn={PARENT}", headers=h).text
    paid = api.client.post(
        f"/me/care/pay/{f['followup_id']}", data={"pay_mode": "cash"}, headers=h, follow_redirects=False
    )
    assert paid.status_code == 303
    (bill,) = get(api, "insured", "/bills")
    page = api.client.get(f"/me/care?psn={PARENT}", headers=h).text
    assert f"{bill['patient_pay'] / 100:,.2f}" in page and "已支付，待发药" in page
    assert " · E11 · " not in page and " · 2型糖尿病 · " in page  # the condition by name, not its code
    assert "pending" not in page and "待发货" in page  # the delivery state in words


def test_the_pharmacy_dispenses_and_delivers_from_its_work_page_and_the_bureau_sees_the_figures(
    api: Api,
) -> None:
    post(api, "hospital", "/conditions", {"psn_no": PARENT, "diagnosis": "E11.9"})
    y = today().year
    cover = {"psn_no": PARENT, "product": "DM-ONLINE", "valid_from": f"{y}-01-01", "valid_to": f"{y}-12-31"}
    post(api, "admin", "/covers", cover)
    done = followup_paid(api, PARENT, "E11.9")
    rx_id = done["rx"]["rx_id"]
    work = api.client.get("/desk/care", headers=api.h("pharmacy"))
    assert (
        work.status_code == 200
        and "医联体中心药房" in work.text
        and f"/desk/care/dispense/{rx_id}" in work.text
    )
    assert api.client.get("/desk/care", headers=api.h("insured")).status_code == 403
    r = api.client.post(f"/desk/care/dispense/{rx_id}", headers=api.h("pharmacy"), follow_redirects=False)
    assert r.status_code == 303
    again = api.client.post(f"/desk/care/dispense/{rx_id}", headers=api.h("pharmacy"), follow_redirects=False)
    assert again.status_code == 422 and "重复" in again.text  # dispensed once only
    assert f"/desk/care/deliver/{rx_id}" in api.client.get("/desk/care", headers=api.h("pharmacy")).text
    api.client.post(f"/desk/care/deliver/{rx_id}", headers=api.h("pharmacy"), follow_redirects=False)
    assert get(api, "insured", "/prescriptions")[0]["delivery"]["status"] == "delivered"
    page = api.client.get("/dashboard/care", headers=api.h("auditor"))
    paid = done["paid"]["bill"]["commercial_pay"]
    assert (
        page.status_code == 200
        and "示例人寿保险股份有限公司" in page.text
        and f"{paid / 100:,.2f}" in page.text
    )
    assert "线上占比" in page.text and "违约率" in page.text
    assert api.client.get("/dashboard/care", headers=api.h("insured")).status_code == 403


def test_a_product_covering_counter_visits_pays_in_the_counter_s_2207_one_bill(api: Api) -> None:
    """医保+商保一单制 at the counter: a product whose scenes include the ordinary visit ("") pays in the
    national 2207 settlement, after every public fund, and the patient's cash is what is left."""
    from test_api_support import visit_json

    from yibao.care.policy import parse_params
    from yibao.care.store import CareService, CoverLookup
    from yibao.db import make_engine

    params_file = Path(__file__).resolve().parents[2] / "src" / "yibao" / "care" / "params.yaml"
    data = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    counter = dict(data["commercial"]["products"][0])
    counter.update(id="COUNTER-TEST", name="门诊一单制测试险", scenes=[""], conditions=[], ratio="0.50")
    counter.update(per_claim_cap="100000", annual_cap="100000")
    data["commercial"]["products"].append(counter)
    sa_url = api.client.app.state.ledger.sa_url  # type: ignore[attr-defined]
    svc = CareService(make_engine(sa_url), parse_params(data))
    y = today().year
    svc.add_cover(
        psn_no=ME, product="COUNTER-TEST", valid_from=dt.date(y - 1, 1, 1), valid_to=dt.date(y + 1, 12, 31)
    )
    app_state = api.client.app.state  # type: ignore[attr-defined]
    plain = api.tx("hospital", "2207", visit_json(psn_no=ME), new_msgid()).json()
    assert plain["infcode"] == 0
    app_state.covers = CoverLookup(sa_url, care=svc)
    try:
        got = api.tx("hospital", "2207", visit_json(psn_no=ME), new_msgid()).json()
    finally:
        app_state.covers.close()
    assert got["infcode"] == 0, got
    info = got["output"]["setlinfo"]
    assert "commercial_pay" not in plain["output"]["setlinfo"]  # the service's default has no counter product
    assert info["commercial_product"] == "COUNTER-TEST"
    paid = yuan_to_fen(info["commercial_pay"])
    assert paid > 0
    # one bill: the patient's part is the product's, the account's and the cash, to the fen
    assert yuan_to_fen(info["psn_part_amt"]) == paid + yuan_to_fen(info["acct_pay"]) + yuan_to_fen(
        info["psn_cash_pay"]
    )
