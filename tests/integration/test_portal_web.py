"""The portal pages through FastAPI's TestClient over a seeded SQLite demo database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.ledger import Ledger
from yibao.ledger.types import StoredSettlement
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settings import Settings
from yibao.settlement import estimate
from yibao.settlement.explain import explain
from yibao.web.app import create_app
from yibao.web.portal.pages import VISITS_SHOWN, estimate_day, local_today

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("portal") / "demo.db", persons=120)


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> Iterator[object]:
    yield create_app(Settings(database_url=seeded.url, demo=True))


def client(app: object, username: str | None, password: str = "yibao-demo-2026") -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    if username:
        r = c.post("/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
    return c


def _ledger(seeded: Seeded) -> Ledger:
    return Ledger.open(seeded.url)


def led_settlements(seeded: Seeded, psn_no: str) -> list[StoredSettlement]:
    led = _ledger(seeded)
    try:
        return led.list_settlements(psn_no, limit=10_000)
    finally:
        led.close()


def test_anonymous_browser_is_sent_to_login_and_api_caller_gets_401(app: object) -> None:
    c = client(app, None)
    r = c.get("/me", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/me").status_code == 401
    assert c.get("/dashboard").status_code == 401


def test_my_visits_list_only_my_settlements(app: object, seeded: Seeded) -> None:
    led = _ledger(seeded)
    mine = {s.setl_id for s in led.list_settlements(seeded.insured_psn_no, limit=1000)}
    theirs = {s.setl_id for s in led.list_settlements(seeded.family_psn_no, limit=1000)}
    led.close()
    c = client(app, "insured")
    year = max(s.year for s in led_settlements(seeded, seeded.insured_psn_no))
    in_year = {s.setl_id for s in led_settlements(seeded, seeded.insured_psn_no) if s.year == year}
    first = set(re.findall(r"/me/visits/([0-9a-f]+)\"", c.get("/me").text))
    assert first and first <= mine and not first & theirs
    assert len(first) == min(len(in_year), VISITS_SHOWN)
    every = set(re.findall(r"/me/visits/([0-9a-f]+)\"", c.get(f"/me?year={year}&all=1").text))
    assert every == in_year


def test_family_account_switches_to_a_linked_person_only(app: object, seeded: Seeded) -> None:
    c = client(app, "insured")
    r = c.get(f"/me?psn={seeded.family_psn_no}")
    assert r.status_code == 200
    led = _ledger(seeded)
    theirs = {s.setl_id for s in led.list_settlements(seeded.family_psn_no, limit=1000)}
    stranger = next(
        s.psn_no
        for s in led.list_settlements(None, limit=1000)
        if s.psn_no not in (seeded.insured_psn_no, seeded.family_psn_no)
    )
    led.close()
    assert set(re.findall(r"/me/visits/([0-9a-f]+)\"", r.text)) <= theirs
    assert c.get(f"/me?psn={stranger}").status_code == 403
    # insured2 is the family member's own login, with no link back
    assert client(app, "insured2").get(f"/me?psn={seeded.insured_psn_no}").status_code == 403


def test_a_visit_explains_who_paid_what_and_logs_the_read(app: object, seeded: Seeded) -> None:
    led = _ledger(seeded)
    stored = led.list_settlements(seeded.insured_psn_no, limit=1)[0]
    led.close()
    policy = PolicyBook.from_file(example_path("xian")).for_date(stored.visit.begin_date)
    expected = explain(stored.settlement, stored.visit, policy)
    c = client(app, "insured")
    page = c.get(f"/me/visits/{stored.setl_id}").text
    for sentence in expected["zh"]:
        assert sentence in page.replace("&#34;", '"').replace("&#39;", "'")
    assert fmt_yuan(stored.settlement.psn_cash_pay) in page
    en = c.get(f"/me/visits/{stored.setl_id}?lang=en")
    assert expected["en"][0] in en.text and en.cookies.get("yb_lang") == "en"
    who = c.get("/me/access?lang=zh").text
    # the read in words, the reader's role by its name, the time in Beijing time as people write it
    assert f"查看一次就诊的费用明细（结算号 {stored.setl_id}）" in who
    assert "<td>参保人或其亲属</td>" in who and "<td>insured</td>" not in who
    assert re.search(r"<td>\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}</td>", who) and "+00:00" not in who


def test_someone_elses_visit_is_not_found(app: object, seeded: Seeded) -> None:
    led = _ledger(seeded)
    other = next(
        s
        for s in led.list_settlements(None, limit=1000)
        if s.psn_no not in (seeded.insured_psn_no, seeded.family_psn_no)
    )
    led.close()
    assert client(app, "insured").get(f"/me/visits/{other.setl_id}").status_code == 404
    assert client(app, "insured").get("/me/visits/nonexistent").status_code == 404


def test_estimator_page_shows_the_real_pre_settlement(app: object, seeded: Seeded) -> None:
    c = client(app, "insured")
    form = {
        "level": "2",
        "med_type": "11",
        "code": ["XJ01DDA003B002010119046", "001101000010000", ""],
        "qty": ["12", "1", "1"],
    }
    r = c.post("/me/estimate", data=form)
    assert r.status_code == 200
    book = PolicyBook.from_file(example_path("xian"))
    my_year = max(s.year for s in led_settlements(seeded, seeded.insured_psn_no))
    day = estimate_day(book, local_today(), my_year)
    assert day.year == my_year  # the estimate counts in the year "my year" shows
    policy = book.for_date(day)
    led = _ledger(seeded)
    picks = [estimate.Pick("XJ01DDA003B002010119046", 12), estimate.Pick("001101000010000", 1)]
    visit = estimate.build_visit(policy, seeded.insured_psn_no, picks, level="2", med_type="11", day=day)
    s = led.settle(book, visit, "EST" + "0" * 27, pre=True).settlement
    led.close()
    m = re.search(r'id="own-cash">([^<]+)<', r.text)
    assert m and m.group(1) == fmt_yuan(s.psn_cash_pay)
    assert "decision-aid" in r.text and "暂无数据" in r.text


def test_the_estimator_counts_in_the_year_my_year_shows(app: object, seeded: Seeded) -> None:
    c = client(app, "insured")
    shown = max(s.year for s in led_settlements(seeded, seeded.insured_psn_no))
    assert f"{shown} 年度" in c.get("/me").text
    hint = re.search(r'id="estimate-year">(.*?)</p>', c.get("/me/estimate").text, re.S)
    assert hint and f"<strong>{shown}</strong>" in hint.group(1)
    # choosing another year on /me moves the estimator with it (one year across pages)
    assert c.get(f"/me?year={shown + 1}").status_code == 200
    hint = re.search(r'id="estimate-year">(.*?)</p>', c.get("/me/estimate").text, re.S)
    assert hint and f"<strong>{shown + 1}</strong>" in hint.group(1)


def test_estimator_names_a_bad_item_in_chinese_and_keeps_the_rows(app: object) -> None:
    r = client(app, "insured").post(
        "/me/estimate?lang=zh",
        data={"level": "1", "med_type": "11", "code": ["挂号费", "NOPE"], "qty": ["1", "2"]},
    )
    assert r.status_code == 422 and "目录中没有该项目" in r.text and "items[1].code" in r.text
    assert "is not in the catalogue" not in r.text
    assert 'value="挂号费"' in r.text and 'value="NOPE"' in r.text and 'value="2"' in r.text


def test_estimator_type_ahead_searches_on_the_server(app: object) -> None:
    me = client(app, "insured")
    found = me.get("/me/estimate/items", params={"q": "tbqs"}).json()
    assert [f["code"] for f in found] == ["XJ01DDA003B002010119046"]
    assert found[0]["name"].startswith("注射用头孢曲松钠") and found[0]["price"]
    # what the list offers is what the form reads back
    r = me.post(
        "/me/estimate", data={"level": "3", "med_type": "11", "code": [found[0]["label"]], "qty": ["1"]}
    )
    assert r.status_code == 200, r.text[:500]
    english = me.get("/me/estimate/items", params={"q": "ceftriaxone", "lang": "en"}).json()
    assert english and all("eftriaxone" in f["name"] for f in english)
    assert me.get("/me/estimate/items", params={"q": "no such thing"}).json() == []
    assert client(app, "auditor").get("/me/estimate/items", params={"q": "tbqs"}).status_code == 403


def test_estimator_takes_names_and_shows_names_after_the_estimate(app: object) -> None:
    r = client(app, "insured").post(
        "/me/estimate?lang=en",
        data={"level": "2", "med_type": "11", "code": ["ceftriaxone sodium for injection 1 g"], "qty": ["2"]},
    )
    assert r.status_code == 200 and 'id="estimate-result"' in r.text
    assert 'value="ceftriaxone sodium for injection 1 g"' in r.text
    assert 'name="code" list="catalogue" aria-label="item name" value="XJ01DDA003B002010119046"' not in r.text


def test_a_complaint_is_filed_tracked_and_answered_by_staff(app: object, seeded: Seeded) -> None:
    me = client(app, "insured")
    r = me.post(
        "/me/cases",
        data={
            "kind": "complaint",
            "psn_no": seeded.family_psn_no,
            "subject": "H1",
            "detail": "替父亲投诉：收费不透明",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    case_id = r.headers["location"].rsplit("/", 1)[1]
    page = me.get(f"/me/cases/{case_id}").text
    assert "已提交" in page and "15 个工作日" in page and 'id="sla-clock"' in page
    staff = client(app, "auditor")
    assert case_id in staff.get("/dashboard/cases").text
    r = staff.post(
        f"/dashboard/cases/{case_id}/status",
        data={"status": "accepted", "note": "已转稽核科"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = me.get(f"/me/cases/{case_id}").text
    assert "已受理" in page and "已转稽核科" in page
    # staff may not move it backwards; the applicant may not decide
    assert staff.post(f"/dashboard/cases/{case_id}/status", data={"status": "submitted"}).status_code == 409
    assert me.post(f"/dashboard/cases/{case_id}/status", data={"status": "resolved"}).status_code == 403
    # staff reading the case is in the person's "who read my record"
    assert staff.get(f"/dashboard/cases/{case_id}").status_code == 200
    who = me.get(f"/me/access?psn={seeded.family_psn_no}").text
    assert f"查看办理事项（{case_id}）" in who and "<td>医保经办稽核人员</td>" in who
    # the person it was filed for sees it under their own login too
    assert client(app, "insured2").get(f"/me/cases/{case_id}").status_code == 200


def test_a_case_of_someone_not_linked_is_not_found(app: object, seeded: Seeded) -> None:
    r = client(app, "insured").post(
        "/me/cases",
        data={
            "kind": "fraud_report",
            "psn_no": seeded.insured_psn_no,
            "subject": "某药店",
            "detail": "刷卡换购日用品",
        },
        follow_redirects=False,
    )
    case_id = r.headers["location"].rsplit("/", 1)[1]
    assert client(app, "insured2").get(f"/me/cases/{case_id}").status_code == 404
    assert client(app, "insured2").post(f"/me/cases/{case_id}/withdraw").status_code == 404


def test_a_fraud_report_is_never_shown_to_or_withdrawn_by_the_reporters_proxies(
    app: object, seeded: Seeded
) -> None:
    # insured2 (the parent) reports; the "insured" login may act for the parent (亲情账户) — and may be
    # the very relative the report is about
    reporter = client(app, "insured2")
    r = reporter.post(
        "/me/cases",
        data={
            "kind": "fraud_report",
            "psn_no": seeded.family_psn_no,
            "subject": "家人冒用医保卡",
            "detail": "子女用我的医保卡在药店换购日用品",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    case_id = r.headers["location"].rsplit("/", 1)[1]
    assert reporter.get(f"/me/cases/{case_id}").status_code == 200
    assert case_id in reporter.get("/me/cases").text
    proxy = client(app, "insured")
    assert case_id not in proxy.get("/me/cases").text
    assert proxy.get(f"/me/cases/{case_id}").status_code == 404
    assert proxy.post(f"/me/cases/{case_id}/withdraw").status_code == 404
    assert "已提交" in reporter.get(f"/me/cases/{case_id}").text  # not withdrawn
    # a complaint of the same person stays visible to the proxy (family access still works)
    r = reporter.post(
        "/me/cases",
        data={"kind": "complaint", "psn_no": seeded.family_psn_no, "detail": "窗口排队太久"},
        follow_redirects=False,
    )
    assert proxy.get(r.headers["location"]).status_code == 200


def test_the_cases_page_sends_care_elsewhere_to_the_structured_filing(app: object, seeded: Seeded) -> None:
    me = client(app, "insured")
    page = me.get("/me/cases").text
    assert 'value="filing_remote"' not in page and 'href="/me/elsewhere"' in page
    r = me.post(
        "/me/cases", data={"kind": "filing_remote", "psn_no": seeded.insured_psn_no, "detail": "上海"}
    )
    assert r.status_code == 422 and "异地就医备案不再以文字事项受理" in r.text


def test_filing_for_an_unlinked_person_is_forbidden(app: object, seeded: Seeded) -> None:
    r = client(app, "insured2").post(
        "/me/cases", data={"kind": "filing_referral", "psn_no": seeded.insured_psn_no, "detail": "x"}
    )
    assert r.status_code == 403


def test_withdrawing_a_case_stops_its_clock(app: object, seeded: Seeded) -> None:
    me = client(app, "insured")
    r = me.post(
        "/me/cases",
        data={
            "kind": "filing_referral",
            "psn_no": seeded.insured_psn_no,
            "subject": "西京医院",
            "detail": "转诊转院",
        },
        follow_redirects=False,
    )
    case_id = r.headers["location"].rsplit("/", 1)[1]
    # withdrawing asks first: a bare post only leads to the question, nothing changes
    r = me.post(f"/me/cases/{case_id}/withdraw", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/me/cases/{case_id}/withdraw"
    assert "已提交" in me.get(f"/me/cases/{case_id}").text
    ask = me.get(f"/me/cases/{case_id}/withdraw").text
    assert "确定撤回吗" in ask and 'name="confirm" value="yes"' in ask
    r = me.post(f"/me/cases/{case_id}/withdraw", data={"confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    page = me.get(f"/me/cases/{case_id}").text
    assert "已撤回" in page and "已作出决定" in page
    assert me.post(f"/me/cases/{case_id}/withdraw", data={"confirm": "yes"}).status_code == 409


def test_a_page_error_is_a_page_in_the_readers_language_with_a_way_back(app: object, seeded: Seeded) -> None:
    c = client(app, "insured")
    r = c.get("/me/visits/nonexistent", headers={**HTML, "referer": "http://testserver/me"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "未找到该结算" in r.text and "settlement not found" not in r.text and '{"detail"' not in r.text
    assert 'href="http://testserver/me"' in r.text and 'href="/"' in r.text
    en = c.get("/me/visits/nonexistent?lang=en")
    assert en.status_code == 404 and "settlement not found" in en.text and "未找到该结算" not in en.text
    # a form refused on a page: the reason in Chinese, the field as a detail, no JSON
    stored = led_settlements(seeded, seeded.insured_psn_no)[0]
    bad = c.post(f"/me/visits/{stored.setl_id}/rating?lang=zh", data={"stars": "7"})
    assert bad.status_code == 422 and "评分须为 1 到 5 星" in bad.text and "<code>stars</code>" in bad.text
    missing = c.post(f"/me/visits/{stored.setl_id}/rating?lang=zh", data={"comment": "x"})
    assert (
        missing.status_code == 422 and "请填写完整" in missing.text and "<code>stars</code>" in missing.text
    )
    # a role on the wrong page, in words
    staff = client(app, "auditor").get("/me", headers=HTML)
    assert staff.status_code == 403 and "医保经办稽核人员无权访问此功能，仅限参保人或其亲属" in staff.text
    assert "auditor" not in staff.text and '{"detail"' not in staff.text
    # the API keeps its JSON
    api = c.get("/api/v1/settlements/nonexistent")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
    # and its validation errors read Chinese first, in FastAPI's shape
    bad_login = client(app, None).post("/auth/login", json={"username": "x"})
    assert bad_login.status_code == 422
    assert bad_login.json()["detail"][0]["msg"] == "缺少必填项 Field required"


def test_rating_a_visit(app: object, seeded: Seeded) -> None:
    led = _ledger(seeded)
    stored = led.list_settlements(seeded.insured_psn_no, limit=1)[0]
    led.close()
    c = client(app, "insured")
    r = c.post(
        f"/me/visits/{stored.setl_id}/rating",
        data={"stars": "4", "comment": "医生耐心"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert 'value="4" checked' in page and "医生耐心" in page
    assert c.post(f"/me/visits/{stored.setl_id}/rating", data={"stars": "7"}).status_code == 422


def test_elderly_mode_and_language_are_remembered(app: object) -> None:
    c = client(app, "insured")
    r = c.get("/me?big=1&lang=en")
    assert '<body class="big">' in r.text and 'lang="en"' in r.text
    r = c.get("/me")
    assert '<body class="big">' in r.text and "My visits" in r.text
    assert '<body class="">' in c.get("/me?big=0").text


ROUTES = [
    "/me",
    "/me/estimate",
    "/me/institutions",
    "/me/drugs",
    "/me/cases",
    "/me/access",
    "/me/progress",
    "/me/policy",
    "/dashboard",
    "/dashboard/data.json",
    "/dashboard/cases",
    "/dashboard/simulation",
    "/dashboard/payment",
    "/dashboard/audit",
    "/dashboard/review",
    "/hospital",
    "/hospital/settlements",
]


def _allowed(role: str, route: str) -> bool:
    if route.startswith("/me"):
        return role == "insured"
    if route.startswith("/hospital"):
        return role == "hospital"
    return role in ("auditor", "admin")


EXPECT = {
    None: dict.fromkeys(ROUTES, 401),
    **{
        u: {r: 200 if _allowed(u, r) else 403 for r in ROUTES}
        for u in ("insured", "hospital", "auditor", "admin")
    },
}


@pytest.mark.parametrize("user", list(EXPECT))
def test_every_role_on_every_page(app: object, user: str | None) -> None:
    c = client(app, user)
    got = {r: c.get(r).status_code for r in ROUTES}
    assert got == EXPECT[user]


BUILD_NOTES = re.compile(r"DOMAIN\.md|/work/|\.\./shared|\[(?:V|T|M|X)\]|\{\"detail\"|\+00:00")


@pytest.mark.parametrize("user", ["insured", "hospital", "auditor"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_build_notes_raw_errors_or_utc_times_on_any_page(app: object, user: str, lang: str) -> None:
    c = client(app, user)
    pages = [r for r in ROUTES if r.endswith(".json") is False and EXPECT[user][r] == 200]
    for r in [*pages, "/me/visits/nonexistent", "/dashboard/cases/nonexistent"]:
        text = c.get(f"{r}?lang={lang}", headers=HTML).text
        assert not BUILD_NOTES.search(text), (r, BUILD_NOTES.search(text))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_hospital_menus_assessment_link_before_any_assessment_is_an_empty_state_not_a_404(
    app: object, lang: str
) -> None:
    """The seeded demo has no annual assessment: the hospital's menu still links to its assessment, which
    answers 200 saying there is none yet, with the way back to the workspace (no link leads to a 404)."""
    c = client(app, "hospital")
    home = c.get(f"/hospital?lang={lang}", headers=HTML).text
    links = re.findall(r'href="(/dashboard/assess/\w+)"', home)
    assert links, "the hospital menu links to its assessment"
    r = c.get(links[0], headers=HTML)
    assert r.status_code == 200
    assert ("No assessment yet" if lang == "en" else "尚无考核结果") in r.text
    assert 'href="/hospital"' in r.text.split('id="no-assessment"', 1)[1]
    staff = client(app, "auditor").get(links[0], headers=HTML)
    assert (
        staff.status_code == 200
        and 'href="/dashboard/assess"' in staff.text.split('id="no-assessment"', 1)[1]
    )
    assert c.get("/dashboard/assess/H00000000000", headers=HTML).status_code == 403  # not its own


def test_home_sends_each_role_to_its_place(app: object) -> None:
    assert client(app, "insured").get("/", follow_redirects=False).headers["location"] == "/me"
    assert client(app, "auditor").get("/", follow_redirects=False).headers["location"] == "/dashboard"
    assert client(app, "hospital").get("/", follow_redirects=False).headers["location"] == "/hospital"


def test_logout_from_a_page_ends_the_session(app: object) -> None:
    c = client(app, "insured")
    r = c.post("/portal/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    c.cookies.clear()
    assert c.get("/me").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/me",
        "/me/cases",
        "/me/access",
        "/me/estimate",
        "/me/institutions",
        "/me/drugs",
        "/me/progress",
        "/me/policy",
    ],
)
def test_english_pages_use_english_punctuation(app: object, path: str) -> None:
    page = client(app, "insured").get(path + "?lang=en").text
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", page, flags=re.S))
    # Chinese proper names (institutions, people) are data and keep their own punctuation
    words = [w for w in text.split() if not re.search(r"[\u4e00-\u9fff]", w)]
    assert not re.findall(r"[：（）。，；、]", " ".join(words))


def test_a_failed_login_says_why_in_the_readers_language(app: object) -> None:
    c = client(app, None)
    zh = c.post("/login?lang=zh", data={"username": "insured", "password": "wrong-password"})
    assert zh.status_code == 401 and "用户名或密码错误" in zh.text and "Wrong username" not in zh.text
    en = c.post("/login?lang=en", data={"username": "insured", "password": "wrong-password"})
    assert (
        en.status_code == 401
        and "Wrong username or password" in en.text
        and "用户名或密码错误" not in en.text
    )


def test_the_review_page_shows_the_file_queue_it_is_pointed_at(
    app: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl

    from yibao.audit.queue import visit_queue

    scored = pl.DataFrame(
        {
            "visit_id": [424242, 7],
            "rule_code": ["GZ-YB-011", "MX-PEER-004"],
            "score": [0.97, 0.01],
            "amount_fen": [12_345, 10],
            "psn_id": [1, 2],
            "fixmedins_code": ["H61010000001", "H61010000002"],
            "demoted": [False, False],
            "severity": ["flag", "warn"],
            "reason_zh": ["药品超量开药", "重复就诊"],
            "reason_en": ["over-supply", "repeat visits"],
        }
    )
    path = tmp_path / "f.queue.parquet"
    visit_queue(scored).write_parquet(path)
    c = client(app, "auditor")
    assert "424242" not in c.get("/dashboard/review").text  # no queue named: only the case items
    monkeypatch.setenv("YIBAO_AUDIT_QUEUE", str(path))
    page = c.get("/dashboard/review").text
    assert 'id="file-queue"' in page and "424242" in page and "123.45" in page and "药品超量开药" in page
    assert "超量开药" in page.split('id="file-queue"')[1]  # the rule by its name, not only GZ-YB-011
    assert page.index("424242") < page.index("H61010000002")  # ranked: the likelier case first


def _unread(page: str) -> int:
    m = re.search(r'id="unread-count"[^>]*>(\d+)<', page)
    return int(m.group(1)) if m else 0


def test_the_complaint_loop_closes_from_visit_to_satisfaction_with_a_review(
    app: object, seeded: Seeded
) -> None:
    """Filed about a visit → accepted → answered → not satisfied → reviewed → answered → satisfied, with a
    notification to the person at every step."""
    me, staff = client(app, "insured"), client(app, "auditor")
    me.get("/me/notices")  # start from nothing unread
    visit = led_settlements(seeded, seeded.insured_psn_no)[0]
    form = me.get(f"/me/cases?psn={seeded.insured_psn_no}").text
    assert f'<option value="{visit.setl_id}"' in form  # the visit picker lists my own visits
    r = me.post(
        "/me/cases",
        data={
            "kind": "complaint",
            "psn_no": seeded.insured_psn_no,
            "setl_id": visit.setl_id,
            "detail": "自费部分比医生说的多",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    case_id = r.headers["location"].rsplit("/", 1)[1]
    page = me.get(f"/me/cases/{case_id}").text
    assert f'href="/me/visits/{visit.setl_id}"' in page and _unread(page) == 1
    assert f"/dashboard/cases/{case_id}" in staff.get("/dashboard/cases").text

    def staff_move(status: str, note: str) -> int:
        return staff.post(
            f"/dashboard/cases/{case_id}/status",
            data={"status": status, "note": note},
            follow_redirects=False,
        ).status_code

    assert staff_move("accepted", "已转医保科核查") == 303
    page = me.get(f"/me/cases/{case_id}").text
    assert "已受理" in page and "已作出决定" not in page and "剩余" in page  # the clock still runs
    assert staff_move("answered", "") == 422  # an answer needs its text; nothing changed
    assert staff_move("answered", "经核查，自费药品已按规定告知") == 303
    page = me.get(f"/me/cases/{case_id}").text
    assert "已答复" in page and "您对答复满意吗" in page and "经核查，自费药品已按规定告知" in page
    assert _unread(page) == 3
    # not satisfied needs a reason
    r = me.post(f"/me/cases/{case_id}/verdict", data={"satisfied": "no", "reason": " "})
    assert r.status_code == 422 and "不满意的原因" in r.text
    r = me.post(
        f"/me/cases/{case_id}/verdict",
        data={"satisfied": "no", "reason": "没有看到告知书"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = me.get(f"/me/cases/{case_id}").text
    assert (
        "复核中" in page and "第1次复核" in page and "投诉复核答复" in page and "您对答复满意吗" not in page
    )
    assert "复核" in staff.get("/dashboard/cases").text and case_id in staff.get("/dashboard/cases").text
    assert staff_move("answered", "已调取签字的自费告知书，附件已寄送") == 303
    r = me.post(f"/me/cases/{case_id}/verdict", data={"satisfied": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    page = me.get(f"/me/cases/{case_id}").text
    assert "已办结" in page and "您对答复满意吗" not in page and "withdraw-link" not in page
    assert staff_move("answered", "再答复") == 409  # closed
    # every change notified the person: filed, accepted, answered, re-opened, answered, resolved
    assert _unread(page) == 6
    notices = me.get("/me/notices").text
    assert notices.count(f"/me/cases/{case_id}") == 6 and "请查看答复并评价是否满意" in notices
    assert _unread(me.get("/me").text) == 0  # read once opened
    # the staff login gets no notifications of its own
    assert "unread-count" not in staff.get("/dashboard/cases").text


def test_a_complaint_cannot_name_someone_elses_visit(app: object, seeded: Seeded) -> None:
    theirs = led_settlements(seeded, seeded.family_psn_no)[0]
    r = client(app, "insured2").post(
        "/me/cases",
        data={
            "kind": "complaint",
            "psn_no": seeded.family_psn_no,
            "setl_id": led_settlements(seeded, seeded.insured_psn_no)[0].setl_id,
            "detail": "x",
        },
    )
    assert r.status_code == 404  # another person's visit looks like a missing one
    # the insured login acts for its parent, but cannot pin the parent's complaint on its own visit
    r = client(app, "insured").post(
        "/me/cases",
        data={
            "kind": "complaint",
            "psn_no": seeded.insured_psn_no,
            "setl_id": theirs.setl_id,
            "detail": "x",
        },
    )
    assert r.status_code == 422 and "不是该参保人的" in r.text


def test_staff_approve_a_filing_in_one_click_and_the_person_is_told(app: object, seeded: Seeded) -> None:
    me, staff = client(app, "insured"), client(app, "auditor")
    r = me.post(
        "/me/cases",
        data={
            "kind": "filing_referral",
            "psn_no": seeded.insured_psn_no,
            "subject": "西京医院",
            "detail": "转诊转院",
        },
        follow_redirects=False,
    )
    case_id = r.headers["location"].rsplit("/", 1)[1]
    page = staff.get(f"/dashboard/cases/{case_id}").text
    first = re.search(r'<select name="status"><option value="(\w+)"', page)
    assert first and first.group(1) == "approved"  # the obvious choice comes first
    r = staff.post(f"/dashboard/cases/{case_id}/status", data={"status": "approved"}, follow_redirects=False)
    assert r.status_code == 303
    assert "备案通过" in me.get(f"/me/cases/{case_id}").text
    notices = me.get("/me/notices").text
    assert f"/me/cases/{case_id}" in notices and "备案通过" in notices
