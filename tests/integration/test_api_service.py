"""The service through HTTP on SQLite: national envelope transactions, REST, FHIR, roles, access log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from test_api_support import CERT_ME, HOSP, HOSP2, ME, PARENT, STRANGER, Api, api, new_msgid, visit_json

from yibao.encounter.store import EncounterStore
from yibao.ledger import Ledger

__all__ = ["api"]  # the fixture, re-exported for pytest


def rows(url: str) -> dict[str, int]:
    with Ledger.open(url) as led:
        return led.row_counts()


# ---------------------------------------------------------------------- login
def test_requests_without_a_session_are_refused_with_401(api: Api) -> None:
    assert api.client.get("/api/v1/settlements").status_code == 401
    r = api.client.get("/api/v1/settlements", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_wrong_password_is_refused_and_logout_ends_the_session(api: Api) -> None:
    assert (
        api.client.post("/auth/login", json={"username": "admin", "password": "wrong-pass"}).status_code
        == 401
    )
    assert (
        api.client.post("/auth/login", json={"username": "nobody", "password": "wrong-pass"}).status_code
        == 401
    )
    assert api.client.get("/auth/me", headers=api.h("insured")).json()["family_psn_nos"] == [ME, PARENT]
    assert api.client.post("/auth/logout", headers=api.h("insured")).status_code == 204
    assert api.client.get("/auth/me", headers=api.h("insured")).status_code == 401


def test_login_form_sets_an_httponly_cookie_that_authenticates(api: Api) -> None:
    page = api.client.get("/login")
    assert page.status_code == 200 and "登录" in page.text
    r = api.client.post(
        "/login",
        data={"username": "insured", "password": "yibao-demo-2026", "next": "//evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in r.headers["set-cookie"].lower() and r.headers["set-cookie"].startswith("yb_session=")
    assert api.client.get("/auth/me").json()["role"] == "insured"  # the cookie alone
    api.client.cookies.clear()
    bad = api.client.post("/login", data={"username": "insured", "password": "nope-nope"})
    assert bad.status_code == 401 and "错误" in bad.text


def test_a_browser_without_a_session_is_sent_to_the_login_page(api: Api) -> None:
    r = api.client.get("/api/v1/settlements", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


# ---------------------------------------------------------------------- national transactions
def test_2207_settles_replays_its_msgid_and_2208_cancels(api: Api) -> None:
    v, msgid = visit_json(), new_msgid()
    first = api.tx("hospital", "2207", v, msgid).json()
    assert first["infcode"] == 0 and first["err_msg"] is None
    info = first["output"]["setlinfo"]
    assert Decimal(info["medfee_sumamt"]) == Decimal("3381.40")
    assert Decimal(info["psn_part_amt"]) == Decimal(info["acct_pay"]) + Decimal(info["psn_cash_pay"])
    assert len(first["inf_refmsgid"]) == 30 and first["inf_refmsgid"].startswith("610100")
    again = api.tx("hospital", "2207", v, msgid).json()
    assert again["output"]["setlinfo"]["setl_id"] == info["setl_id"] and again["output"]["replayed"] is True
    assert rows(api.url)["settlement"] == 1
    cancel = api.tx(
        "hospital", "2208", {"setl_id": info["setl_id"], "psn_no": ME, "mdtrt_id": v["mdtrt_id"]}
    ).json()
    assert cancel["infcode"] == 0 and cancel["output"]["status"] == "cancelled"
    assert Decimal(cancel["output"]["acct_change"]) == Decimal(info["acct_pay"])


def test_2601_reverses_a_settlement_by_its_original_msgid(api: Api) -> None:
    msgid = new_msgid()
    out = api.tx("hospital", "2207", visit_json(), msgid).json()["output"]
    r = api.client.post(
        "/fsi/api/2601",
        json={
            "infno": "2601",
            "msgid": new_msgid(),
            "input": {"data": {"psn_no": ME, "omsgid": msgid, "oinfno": "2207"}},
        },
        headers=api.h("hospital"),
    ).json()
    assert r["infcode"] == 0 and r["output"]["setl_id"] == out["setlinfo"]["setl_id"]
    assert r["output"]["action"] == "cancel"
    with Ledger.open(api.url) as led:
        assert led.totals()["count"] == 0


def test_2206_pre_settles_without_writing_anything(api: Api) -> None:
    before = rows(api.url)
    r = api.tx("hospital", "2206", visit_json()).json()
    assert r["infcode"] == 0 and r["output"]["setlinfo"]["setl_id"] is None
    assert rows(api.url) == before


def test_business_errors_answer_infcode_minus_1_naming_the_field_and_write_nothing(api: Api) -> None:
    v = visit_json()
    v["feedetail"][0]["det_item_fee_sumamt"] = "999.99"
    before = rows(api.url)
    r = api.tx("hospital", "2207", v)
    body = r.json()
    assert r.status_code == 200 and body["infcode"] == -1
    assert body["err_field"] == "feedetail[0].det_item_fee_sumamt" and body["output"] is None
    assert rows(api.url) == before
    unknown = api.tx("hospital", "9999", {}).json()
    assert unknown["infcode"] == -1 and unknown["err_field"] == "infno"
    assert unknown["err_msg"].startswith("不支持该交易 unsupported transaction 9999 (supported: ")
    missing = api.tx("hospital", "2208", {}).json()
    assert missing["err_field"] == "input.data.setl_id" and missing["err_code"] == "missing"
    assert missing["err_msg"] == "必填项缺失 is required（input.data.setl_id）"


def test_a_body_that_is_not_an_envelope_is_422(api: Api) -> None:
    r = api.client.post(
        "/api/transaction",
        content=b"{not json",
        headers={**api.h("hospital"), "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = api.client.post("/fsi/api/2207", json={"infno": "2208", "msgid": "x"}, headers=api.h("hospital"))
    assert r.status_code == 422


def test_1101_finds_the_person_by_id_number_and_logs_the_read(api: Api) -> None:
    r = api.tx(
        "hospital", "1101", {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERT_ME, "psn_name": "张三丰"}
    ).json()
    assert r["infcode"] == 0
    assert r["output"]["baseinfo"]["psn_no"] == ME and r["output"]["insuinfo"][0]["balc"] == "1000.00"
    log = api.client.get(f"/api/v1/persons/{ME}/access-log", headers=api.h("insured")).json()
    assert [(e["role"], e["what"]) for e in log] == [("institution", "1101 person info")]


def test_3201_reconciles_the_institutions_own_settlements(api: Api) -> None:
    a = api.settle()["setlinfo"]
    api.settle(who="hospital2", fixmedins_code=HOSP2, psn_no=PARENT)
    data = {
        "medfee_sumamt": a["medfee_sumamt"],
        "fund_pay_sumamt": a["fund_pay_sumamt"],
        "acct_pay": a["acct_pay"],
        "fixmedins_setl_cnt": 1,
        "setl_optins": "610100",
    }
    ok = api.tx("hospital", "3201", data).json()["output"]["stmtinfo"]
    assert ok["stmt_rslt"] == "0", ok
    data["medfee_sumamt"] = str(Decimal(a["medfee_sumamt"]) + Decimal("0.01"))
    bad = api.tx("hospital", "3201", data).json()["output"]["stmtinfo"]
    assert bad["stmt_rslt"] == "1" and "medfee_sumamt +0.01" in bad["stmt_rslt_dscr"]
    everyone = api.tx("admin", "3201", {**data, "fixmedins_setl_cnt": 2}).json()["output"]["stmtinfo"]
    assert everyone["fixmedins_setl_cnt"] == 2
    st = EncounterStore.open(api.client.app.state.ledger.sa_url)  # type: ignore[attr-defined]
    kept = st.reconciliations()
    st.close()
    assert [(r.fixmedins_code, r.agreed, r.differing) for r in kept] == [
        (HOSP, True, ()),
        (HOSP, False, ("medfee_sumamt",)),
    ]  # the admin's whole-ledger reconciliation is no institution's: not kept


# ---------------------------------------------------------------------- institution limits
def test_an_institution_may_not_settle_or_cancel_a_visit_of_another_institution(api: Api) -> None:
    before = rows(api.url)
    assert api.tx("hospital", "2207", visit_json(fixmedins_code=HOSP2), new_msgid(HOSP)).status_code == 403
    assert (
        api.tx("hospital2", "2207", visit_json(fixmedins_code=HOSP2), new_msgid(HOSP)).status_code == 403
    )  # msgid
    assert rows(api.url) == before
    setl = api.settle()["setlinfo"]["setl_id"]
    assert api.tx("hospital2", "2208", {"setl_id": setl}, new_msgid(HOSP2)).status_code == 403
    assert api.client.get(f"/api/v1/settlements/{setl}", headers=api.h("hospital2")).status_code == 403
    assert api.client.get(f"/api/v1/settlements/{setl}", headers=api.h("hospital")).status_code == 200
    assert api.client.get("/api/v1/settlements", headers=api.h("hospital2")).json() == []


def test_auditors_read_everything_but_settle_nothing(api: Api) -> None:
    api.settle()
    assert len(api.client.get("/api/v1/settlements", headers=api.h("auditor")).json()) == 1
    assert api.tx("auditor", "2207", visit_json()).status_code == 403
    assert api.tx("insured", "2207", visit_json()).status_code == 403


# ---------------------------------------------------------------------- insured persons and the access log
def test_an_insured_person_reads_own_and_family_records_but_no_one_elses(api: Api) -> None:
    api.settle(psn_no=PARENT)
    api.settle(psn_no=STRANGER)
    h = api.h("insured")
    assert api.client.get(f"/api/v1/persons/{ME}", headers=h).json()["certno"] == CERT_ME
    assert api.client.get(f"/api/v1/persons/{PARENT}", headers=h).status_code == 200
    assert api.client.get(f"/api/v1/persons/{STRANGER}", headers=h).status_code == 403
    mine = api.client.get("/api/v1/settlements", headers=h).json()
    assert [s["psn_no"] for s in mine] == [PARENT]
    assert api.client.get(f"/api/v1/persons/{STRANGER}/settlements", headers=h).status_code == 403
    assert api.client.get(f"/api/v1/persons/{ME}", headers=api.h("insured2")).status_code == 403


def test_who_looked_at_my_record_lists_every_reader_for_me_and_admin_only(api: Api) -> None:
    api.client.get(f"/api/v1/persons/{PARENT}", headers=api.h("auditor"))
    api.client.get(f"/fhir/Patient/{PARENT}", headers=api.h("insured"))
    seen = api.client.get(f"/api/v1/persons/{PARENT}/access-log", headers=api.h("insured2")).json()
    assert [(e["role"], e["what"]) for e in seen] == [
        ("insured", "FHIR Patient"),
        ("auditor", "person record"),
    ]
    assert api.client.get(f"/api/v1/persons/{PARENT}/access-log", headers=api.h("auditor")).status_code == 403
    assert (
        api.client.get(f"/api/v1/persons/{STRANGER}/access-log", headers=api.h("insured")).status_code == 403
    )
    all_rows = api.client.get("/api/v1/access-log", headers=api.h("admin")).json()
    assert {e["psn_no"] for e in all_rows} == {PARENT}


def test_lists_mask_names_and_id_numbers(api: Api) -> None:
    people = api.client.get("/api/v1/persons", headers=api.h("auditor")).json()
    me = next(p for p in people if p["psn_no"] == ME)
    assert me["psn_name"] == "张**" and me["certno"] == "610101********1234"
    users = api.client.get("/api/v1/users", headers=api.h("admin")).json()
    assert next(u for u in users if u["username"] == "insured")["display_name"] == "张**"


def test_year_so_far_shows_the_accumulators_after_a_settlement(api: Api) -> None:
    api.settle()
    y = api.client.get(f"/api/v1/persons/{ME}/year/2025", headers=api.h("insured")).json()
    assert y["year"] == 2025 and sum(y["accumulators"].values()) > 0


def test_rest_settle_cancel_and_reverse(api: Api) -> None:
    msgid = new_msgid()
    r = api.client.post(
        "/api/v1/settlements", json={"msgid": msgid, "visit": visit_json()}, headers=api.h("hospital")
    )
    assert r.status_code == 200, r.text
    setl = r.json()["setl_id"]
    c = api.client.post(
        f"/api/v1/settlements/{setl}/cancel", json={"msgid": new_msgid()}, headers=api.h("hospital")
    )
    assert c.json()["status"] == "cancelled"
    again = api.client.post(
        f"/api/v1/settlements/{setl}/cancel", json={"msgid": new_msgid()}, headers=api.h("hospital")
    )
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already_reversed"
    rv = api.client.post(
        "/api/v1/reversals",
        json={"msgid": new_msgid(), "omsgid": c.json()["msgid"]},
        headers=api.h("hospital"),
    )
    assert rv.json()["action"] == "restore" and rv.json()["status"] == "active"
    assert api.client.get("/api/v1/settlements/nope", headers=api.h("admin")).status_code == 404


def test_admin_creates_a_login_and_a_taken_username_is_409(api: Api) -> None:
    body: dict[str, Any] = {
        "username": "nurse",
        "password": "long-enough-1",
        "role": "institution",
        "display_name": "护士",
        "fixmedins_code": HOSP,
    }
    assert api.client.post("/api/v1/users", json=body, headers=api.h("admin")).status_code == 201
    dup = api.client.post("/api/v1/users", json=body, headers=api.h("admin"))
    assert dup.status_code == 409 and dup.json()["detail"]["field"] == "username"
    bad = api.client.post(
        "/api/v1/users", json={**body, "username": "x", "fixmedins_code": None}, headers=api.h("admin")
    )
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "fixmedins_code"


def test_log_masking_is_installed_when_the_app_starts(api: Api) -> None:
    import logging

    from yibao.web.masking import MaskingFilter

    logger = logging.getLogger("uvicorn.access")
    masks = [f for f in logger.filters if isinstance(f, MaskingFilter)]
    assert masks
    rec = logger.makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s", ("GET /x?id=610101199001011234",), None
    )
    assert masks[0].filter(rec) and "610101********1234" in rec.getMessage()


def test_an_institution_reading_a_settlement_is_in_the_patients_access_log(api: Api) -> None:
    setl = api.settle()["setlinfo"]["setl_id"]
    assert api.client.get(f"/api/v1/settlements/{setl}", headers=api.h("hospital")).status_code == 200
    log = api.client.get(f"/api/v1/persons/{ME}/access-log", headers=api.h("insured")).json()
    assert [(e["role"], e["what"]) for e in log] == [("institution", f"settlement {setl}")]


def test_an_expired_session_is_refused(api: Api) -> None:
    from yibao.access.store import ServiceStore

    with Ledger.open(api.url) as led:
        store = ServiceStore(led.sa_url, session_hours=-1.0)
    try:
        user = next(u for u in store.list_users() if u.username == "admin")
        stale = store.open_session(user.user_id)
        assert store.user_for_token(stale) is None
    finally:
        store.close()
    assert api.client.get("/auth/me", headers={"Authorization": f"Bearer {stale}"}).status_code == 401


def test_2207_runs_the_in_event_audit_and_settles_a_blocked_line_as_self_paid(api: Api) -> None:
    """事中审核: a male-only drug for a woman is blocked — the line is fully self-paid and the finding is
    returned; the same visit without the line has no blocking finding and 36 元 less fully self-paid."""
    plain = visit_json(psn_no=PARENT)
    out0 = api.tx("hospital", "2207", plain, new_msgid()).json()["output"]
    assert [f for f in out0["audit_info"] if f["severity"] == "block"] == []
    v = visit_json(psn_no=PARENT)
    v["feedetail"].append(
        {
            "feedetl_sn": "9",
            "med_list_codg": "XG04CBA125A001010182834",
            "cnt": 30,
            "pric": "1.20",
            "det_item_fee_sumamt": "36.00",
        }
    )
    out = api.tx("hospital", "2207", v, new_msgid()).json()["output"]
    blocked = [f for f in out["audit_info"] if f["severity"] == "block"]
    assert {f["feedetl_sn"] for f in blocked} == {"9"} and "GZ-YB-001" in {f["rule_code"] for f in blocked}
    assert Decimal(out["setlinfo"]["fulamt_ownpay_amt"]) - Decimal(
        out0["setlinfo"]["fulamt_ownpay_amt"]
    ) == Decimal("36.00")
