"""亲情账户 over HTTP, as two people's browsers would do it (forms with their CSRF token): a request by ID
number and name, the relative's consent, acting as proxy, the relative unbinding, and the proxy refused."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.ledger import Ledger
from yibao.settings import Settings
from yibao.web.app import create_app

HTML = {"accept": "text/html"}
BASE = "http://testserver"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("family") / "demo.db", persons=40)


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> Iterator[object]:
    yield create_app(Settings(database_url=seeded.url, demo=True))


def browser(app: object, username: str) -> TestClient:
    c = TestClient(app, base_url=BASE)  # type: ignore[arg-type]
    r = c.post("/auth/login", json={"username": username, "password": "yibao-demo-2026"})
    assert r.status_code == 200, r.text
    return c


def post_form(c: TestClient, page: str, action: str, data: dict[str, str]) -> object:
    """Open ``page``, take the CSRF token the page put into its forms, and post like a browser does."""
    html = c.get(page, headers=HTML).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, "the page's forms carry a CSRF token"
    return c.post(
        action,
        data={**data, "csrf_token": token.group(1)},
        headers={**HTML, "origin": BASE, "referer": BASE + page},
        follow_redirects=False,
    )


def person(seeded: Seeded, psn_no: str) -> tuple[str, str]:
    led = Ledger.open(seeded.url)
    try:
        p = led.get_person(psn_no, dt.date.today())
        return p.certno, p.name
    finally:
        led.close()


def test_request_approve_act_unbind_and_the_proxy_is_refused(app: object, seeded: Seeded) -> None:
    me, relative = browser(app, "insured2"), browser(app, "insured")
    target = seeded.insured_psn_no  # insured2 asks to act for the first person
    assert me.get(f"/me?psn={target}", headers=HTML).status_code == 403
    certno, name = person(seeded, target)

    wrong = post_form(
        me,
        "/me/family",
        "/me/family/request",
        {"certno": certno, "name": name + "甲", "relation": "parent", "kind": "proxy"},
    )
    assert wrong.status_code == 422 and "不匹配" in wrong.text  # type: ignore[attr-defined]

    r = post_form(
        me,
        "/me/family",
        "/me/family/request",
        {"certno": certno, "name": name, "relation": "parent", "kind": "proxy"},
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert me.get(f"/me?psn={target}", headers=HTML).status_code == 403  # no consent yet

    home = relative.get("/me", headers=HTML).text
    assert re.search(r'id="unread-count"[^>]*>\s*[1-9]', home)  # the message badge counts the request
    notices = relative.get("/me/notices", headers=HTML).text
    assert "提出绑定申请" in notices and 'href="/me/family"' in notices and '<li class="unread">' in notices
    page = relative.get("/me/family", headers=HTML).text
    assert "待我确认的申请" in page
    link_id = re.search(r"/me/family/([0-9a-f]{32})/approve", page)
    assert link_id
    r = post_form(relative, "/me/family", f"/me/family/{link_id.group(1)}/approve", {})
    assert r.status_code == 303  # type: ignore[attr-defined]

    acting = me.get(f"/me?psn={target}", headers=HTML)
    assert acting.status_code == 200 and name in acting.text
    mine = me.get("/me/family", headers=HTML).text
    assert name in mine and "父母" in mine and "同意" in mine  # the relation and the consent in my history

    r = post_form(relative, "/me/family", f"/me/family/{link_id.group(1)}/unbind", {})
    assert r.status_code == 303  # type: ignore[attr-defined]
    refused = me.get(f"/me?psn={target}", headers=HTML)
    assert refused.status_code == 403 and "只能查看本人或已绑定亲属" in refused.text
    history = me.get("/me/family", headers=HTML).text
    assert history.count("<time>") >= 3 and "解除绑定" in history


def test_a_form_post_without_the_token_is_refused_and_another_login_cannot_decide(
    app: object, seeded: Seeded
) -> None:
    me = browser(app, "insured2")
    r = me.post(
        "/me/family/request",
        data={"certno": "x", "name": "y", "relation": "parent"},
        headers={"origin": BASE},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = post_form(me, "/me/family", "/me/family/" + "0" * 32 + "/approve", {})
    assert r.status_code == 404  # type: ignore[attr-defined]


def test_the_page_states_what_a_proxy_may_not_see_in_both_languages_and_elderly_mode(app: object) -> None:
    c = browser(app, "insured")
    zh = c.get("/me/family?big=1", headers=HTML).text
    assert "举报只有提交人自己能看到" in zh and '<body class="big">' in zh
    en = c.get("/me/family?lang=en", headers=HTML).text
    assert "fraud reports" in en and "What a proxy may and may not do" in en
    assert '<a href="/me/family">' in c.get("/me", headers=HTML).text


def family_in_ledger(seeded: Seeded, psn_no: str) -> tuple[str, ...]:
    led = Ledger.open(seeded.url)
    try:
        return led.get_person(psn_no, dt.date.today()).family
    finally:
        led.close()


def test_a_mutual_aid_consent_reaches_the_ledger_the_settlement_checks_and_unbinding_takes_it_back(
    app: object, seeded: Seeded
) -> None:
    me, relative = browser(app, "insured2"), browser(app, "insured")
    mine, payer = seeded.family_psn_no, seeded.insured_psn_no  # insured2 asks insured's account to pay
    led = Ledger.open(seeded.url)
    try:
        led.set_family(mine, drop=(payer,))  # start from no link, whatever the demo household holds
    finally:
        led.close()
    certno, name = person(seeded, payer)
    r = post_form(
        me,
        "/me/family",
        "/me/family/request",
        {"certno": certno, "name": name, "relation": "parent", "kind": "mutual_aid"},
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert payer not in family_in_ledger(seeded, mine)  # asked, not agreed: the account may not pay yet
    page = relative.get("/me/family", headers=HTML).text
    link_id = re.search(r"/me/family/([0-9a-f]{32})/approve", page)
    assert link_id
    post_form(relative, "/me/family", f"/me/family/{link_id.group(1)}/approve", {})
    assert payer in family_in_ledger(seeded, mine)  # the engine now lets this account pay for me
    led = Ledger.open(seeded.url)
    try:
        led.set_family(mine, drop=(payer,))  # as if the ledger write after the consent had failed
    finally:
        led.close()
    me.get("/me/family", headers=HTML)
    assert payer in family_in_ledger(seeded, mine)  # opening the page repairs it from the stored consent
    post_form(me, "/me/family", f"/me/family/{link_id.group(1)}/unbind", {})
    assert payer not in family_in_ledger(seeded, mine)


def test_a_visit_that_names_no_account_is_paid_by_the_agreed_relative_and_the_bill_says_whose(
    app: object, seeded: Seeded
) -> None:
    """2207 with the account asked for and no ``acct_psn_no``: once the patient's own account is empty and
    one relative has agreed, the relative's account pays, and the 费用明白单 names the relative."""
    mine = seeded.family_psn_no
    book = app.state.book  # type: ignore[attr-defined]
    led = Ledger.open(seeded.url)
    try:
        # the relative: an employee (whose account may pay for family) with money left after the demo year
        own_type = led.get_person(seeded.insured_psn_no, dt.date.today()).insutype
        payer = next(
            p.psn_no
            for p in led.list_persons(limit=2000, offset=0)
            if p.psn_no != mine and p.insutype == own_type and led.account_balance(p.psn_no) > 0
        )
        past = led.list_settlements(mine, limit=1) or led.list_settlements(limit=1)
        template = replace(past[0].visit, psn_no=mine, use_account=True, account_psn_no=None)
        led.set_family(mine, drop=led.get_person(mine, dt.date.today()).family)
        for k in range(200):  # spend the patient's own account down to 0
            if led.account_balance(mine) <= 0:
                break
            led.settle(book, replace(template, mdtrt_id=f"DRAIN{k:04d}"), f"H61DRAIN{k:022d}")
        assert led.account_balance(mine) == 0
        led.set_family(mine, add=(payer,))
        before = led.account_balance(payer)
        out = led.settle(book, replace(template, mdtrt_id="FAMILYDEFAULT1"), "H61FAMILYDEFAULT00000000000001")
        assert out.settlement.account_psn_no == payer and out.settlement.acct_pay > 0
        assert led.account_balance(payer) == before - out.settlement.acct_pay
        payer_name = led.get_person(payer, dt.date.today()).name
        assert led.verify().ok
    finally:
        led.close()
    me = browser(app, "insured2")
    zh = me.get(f"/me/visits/{out.setl_id}", headers=HTML).text
    assert f"家庭共济：由{payer_name}的个人账户支付" in zh
    en = me.get(f"/me/visits/{out.setl_id}?lang=en", headers=HTML).text
    assert f"paid from the personal account of {payer_name}" in en
