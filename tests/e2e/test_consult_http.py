"""Co-governance over HTTP (the real app, FastAPI's TestClient, a seeded SQLite demo database): the bureau
publishes a draft with a real simulation of its impact, people comment, the bureau moderates, holds a
hearing, answers every theme and publishes the result, which anonymous visitors read.  The pages' clock
is moved past the deadline by patching the one clock of the consultation pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yibao.consult import core
from yibao.demo.seed import Seeded, seed_demo_db
from yibao.settings import Settings
from yibao.web.app import create_app
from yibao.web.portal import consult_pages

HTML = {"accept": "text/html"}
BUILD_NOTES = re.compile(r"DOMAIN\.md|\[[VTMX]\]|\{\"detail\"")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("consult") / "demo.db", persons=120)


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> Iterator[object]:
    yield create_app(Settings(database_url=seeded.url, demo=True))


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.datetime]]:
    """``at[0] = moment`` sets the pages' clock."""
    now = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(consult_pages, "clock", lambda: now[0])
    yield now


def client(app: object, username: str | None) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    if username:
        r = c.post("/auth/login", json={"username": username, "password": "yibao-demo-2026"})
        assert r.status_code == 200, r.text
    return c


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def new_published(app: object, last_day: dt.date) -> str:
    admin = client(app, "admin")
    r = admin.post(
        "/dashboard/consult",
        data={
            "title": "降低城乡居民住院起付线",
            "summary": "居民住院起付线各级医院均降低。",
            "body": "第一条 起付线……",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    cid = r.headers["location"].rsplit("/", 1)[1]
    r = admin.post(
        f"/dashboard/consult/{cid}/simulate",
        data={"candidate": "xian-lower-deductible"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    r = admin.post(
        f"/dashboard/consult/{cid}/publish", data={"last_day": last_day.isoformat()}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return cid


def test_a_consultation_goes_from_draft_to_a_public_result(app: object, at: list[dt.datetime]) -> None:
    start = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    at[0] = start
    last_day = dt.date(2027, 1, 6)
    admin, insured, hospital, anon = (client(app, u) for u in ("admin", "insured", "hospital", None))
    r = admin.post(
        "/dashboard/consult",
        data={
            "title": "降低城乡居民住院起付线",
            "summary": "居民住院起付线各级医院均降低。",
            "body": "第一条 起付线……",
        },
        follow_redirects=False,
    )
    cid = r.headers["location"].rsplit("/", 1)[1]
    assert anon.get(f"/consult/{cid}", headers=HTML).status_code == 404  # a draft is not public
    r = admin.post(
        f"/dashboard/consult/{cid}/simulate",
        data={"candidate": "xian-lower-deductible"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = text_of(admin.get(f"/dashboard/consult/{cid}", headers=HTML).text)
    assert "医保基金一年多支付约" in page and "起付线（一级医院）由 150 元调整为 100 元" in page
    r = admin.post(
        f"/dashboard/consult/{cid}/publish", data={"last_day": last_day.isoformat()}, follow_redirects=False
    )
    assert r.status_code == 303

    public = text_of(anon.get(f"/consult/{cid}", headers=HTML).text)
    assert "征求意见中" in public and "2026年12月7日 至 2027年1月6日 24:00（北京时间）" in public
    assert "还剩 30 天" in public and "登录后发表意见" in public

    at[0] = start + dt.timedelta(days=3)
    for c, body in (
        (insured, "起付线降低后住院负担轻多了，支持。"),
        (hospital, "建议三级医院起付线降幅再大一些。"),
        (insured, "一派胡言，全是骗子"),
    ):
        r = c.post(f"/consult/{cid}/opinions", data={"body": body}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("?sent=1#opinions")
    staff_page = admin.get(f"/dashboard/consult/{cid}", headers=HTML).text
    ids = [int(x) for x in re.findall(r'name="opinion" value="(\d+)"', staff_page)]
    assert len(ids) == 3
    r = admin.post(
        f"/dashboard/consult/{cid}/opinions/{ids[2]}/hide",
        data={"reason": "含辱骂内容"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = admin.post(
        f"/dashboard/consult/{cid}/hearings",
        data={
            "held_on": "2026-12-09",
            "place": "市医保局三楼会议室",
            "participants": "王＊ 参保人代表\n李＊ 三级医院代表",
            "observers": "赵＊、钱＊",
            "summary": "参保人代表支持调整；医院代表建议加大三级医院降幅。",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = admin.post(
        f"/dashboard/consult/{cid}/themes",
        data={"opinion": [ids[0]], "title": "支持降低起付线"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = admin.post(
        f"/dashboard/consult/{cid}/themes",
        data={"opinion": [ids[1]], "title": "三级医院降幅"},
        follow_redirects=False,
    )
    themes = [
        int(x)
        for x in re.findall(
            r"/themes/(\d+)/answer", admin.get(f"/dashboard/consult/{cid}", headers=HTML).text
        )
    ]
    assert themes == []  # answers only after the deadline
    r = admin.post(
        f"/dashboard/consult/{cid}/close", data={"result": "x"}, headers=HTML, follow_redirects=False
    )
    assert r.status_code == 409 and "意见征集尚未截止" in r.text

    at[0] = core.deadline_of(last_day)
    assert client(app, "insured2").post(f"/consult/{cid}/opinions", data={"body": "晚了"}).status_code == 409
    themes = [
        int(x)
        for x in re.findall(
            r"/themes/(\d+)/answer", admin.get(f"/dashboard/consult/{cid}", headers=HTML).text
        )
    ]
    assert len(themes) == 2
    for tid, decision, text in (
        (themes[0], "adopted", "按征求意见稿实施"),
        (themes[1], "not_adopted", "三级医院起付线与分级诊疗衔接，暂不再降"),
    ):
        r = admin.post(
            f"/dashboard/consult/{cid}/themes/{tid}/answer",
            data={"decision": decision, "text": text},
            follow_redirects=False,
        )
        assert r.status_code == 303
    r = admin.post(
        f"/dashboard/consult/{cid}/close",
        data={"result": "自2027年起按征求意见稿调整起付线。"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/consult/{cid}"

    result = text_of(anon.get(f"/consult/{cid}", headers=HTML).text)
    assert "已公布采纳情况" in result and "采纳率 50.0%" in result
    assert "按征求意见稿实施" in result and "三级医院起付线与分级诊疗衔接，暂不再降" in result
    assert "该意见已被隐藏，原因：含辱骂内容" in result and "一派胡言" not in result
    assert (
        "定点医药机构 示范医院" in result and "听证参加人（2 人）" in result and "旁听人员（2 人）" in result
    )
    assert "2026年12月9日" in result and not BUILD_NOTES.search(result)
    listing = text_of(anon.get("/consult", headers=HTML).text)
    assert "降低城乡居民住院起付线" in listing and "采纳率 50.0%" in listing
    assert "您已发表" not in listing
    mine = text_of(insured.get("/consult", headers=HTML).text)
    assert "您已发表 2 条意见，答复已公布，请查看" in mine
    assert text_of(insured.get(f"/consult/{cid}", headers=HTML).text).count("我的意见") == 2
    english = text_of(anon.get(f"/consult/{cid}?lang=en", headers=HTML).text)
    assert "Adoption rate 50.0%" in english and "The insurance funds would pay about" in english
    people_wrote = (  # what the bureau and the people typed stays as typed
        "居民住院起付线各级医院均降低。",
        "第一条 起付线……",
        "参保人代表支持调整；医院代表建议加大三级医院降幅。",
        "起付线降低后住院负担轻多了，支持。",
        "建议三级医院起付线降幅再大一些。",
        "三级医院起付线与分级诊疗衔接，暂不再降",
        "自2027年起按征求意见稿调整起付线。",
    )
    chrome = english
    for typed in people_wrote:
        chrome = chrome.replace(typed, "")
    assert not re.search(r"[：（）；。，、]", chrome)  # no full-width punctuation in English mode
    assert "Participants (2):" in english and "Observers (2):" in english


def test_only_the_bureau_manages_and_anyone_may_read(app: object) -> None:
    cid = new_published(app, dt.date.today() + dt.timedelta(days=40))
    for who in ("insured", "hospital"):
        r = client(app, who).get("/dashboard/consult", headers=HTML)
        assert r.status_code == 403 and "<html" in r.text
        r = client(app, who).post(f"/dashboard/consult/{cid}/close", data={"result": "x"})
        assert r.status_code == 403
    anon = client(app, None)
    assert anon.get("/consult", headers=HTML).status_code == 200
    assert anon.get(f"/consult/{cid}", headers=HTML).status_code == 200
    r = anon.post(f"/consult/{cid}/opinions", data={"body": "匿名访客"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/consult/{cid}"
    assert anon.get("/consult/nope", headers=HTML).status_code == 404


def test_a_short_period_without_a_reason_is_an_error_page_in_chinese(app: object) -> None:
    admin = client(app, "admin")
    r = admin.post(
        "/dashboard/consult", data={"title": "t", "summary": "s", "body": "b"}, follow_redirects=False
    )
    cid = r.headers["location"].rsplit("/", 1)[1]
    admin.post(f"/dashboard/consult/{cid}/simulate", data={"candidate": "xian-lower-deductible"})
    r = admin.post(
        f"/dashboard/consult/{cid}/publish",
        data={"last_day": (dt.date.today() + dt.timedelta(days=10)).isoformat()},
        headers=HTML,
    )
    assert r.status_code == 422 and "须说明缩短的理由" in r.text and "<html" in r.text
    assert not r.text.lstrip().startswith("{")
    r = admin.post(
        f"/dashboard/consult/{cid}/report",
        files={"report": ("r.json", b"[1, 2]", "application/json")},
        headers=HTML,
    )
    assert r.status_code == 422 and "JSON 对象" in r.text


def test_a_stored_simulation_report_can_be_uploaded_instead(app: object, tmp_path: Path) -> None:
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path
    from yibao.simulate import simulate_frames, to_json
    from yibao.simulate.candidates import resolve_policy
    from yibao.simulate.sample import make_sample

    base = PolicyBook.from_file(example_path("xian"))
    cand = PolicyBook.from_file(resolve_policy(Path("xian-lower-deductible")))
    import json

    report = json.dumps(
        to_json(simulate_frames(base, cand, *make_sample(base, n_persons=800, seed=3))), ensure_ascii=False
    )
    admin = client(app, "admin")
    r = admin.post(
        "/dashboard/consult", data={"title": "t2", "summary": "s", "body": "b"}, follow_redirects=False
    )
    cid = r.headers["location"].rsplit("/", 1)[1]
    r = admin.post(
        f"/dashboard/consult/{cid}/report",
        files={"report": ("lower-deductible.json", report.encode("utf-8"), "application/json")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = text_of(admin.get(f"/dashboard/consult/{cid}", headers=HTML).text)
    assert "我们用 800 名参保人" in page and "政策模拟报告（lower-deductible.json）" in page


def test_every_form_on_the_pages_carries_a_csrf_token(app: object) -> None:
    cid = new_published(app, dt.date.today() + dt.timedelta(days=35))
    for who, path in (
        ("insured", f"/consult/{cid}"),
        ("admin", f"/dashboard/consult/{cid}"),
        ("admin", "/dashboard/consult"),
    ):
        html = client(app, who).get(path, headers=HTML).text
        forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S)
        assert forms and all('name="csrf_token"' in f for f in forms)


def test_a_withdrawn_consultation_shows_why_and_takes_no_more_opinions(app: object) -> None:
    cid = new_published(app, dt.date.today() + dt.timedelta(days=45))
    admin = client(app, "admin")
    r = admin.post(f"/dashboard/consult/{cid}/withdraw", data={"reason": ""}, headers=HTML)
    assert r.status_code == 422 and "请说明撤回的理由" in r.text
    r = admin.post(
        f"/dashboard/consult/{cid}/withdraw",
        data={"reason": "上级政策调整，另行征求意见"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = text_of(client(app, None).get(f"/consult/{cid}", headers=HTML).text)
    assert "已撤回" in page and "上级政策调整，另行征求意见" in page
    insured = client(app, "insured")
    assert 'id="opinion-form"' not in insured.get(f"/consult/{cid}", headers=HTML).text
    r = insured.post(f"/consult/{cid}/opinions", data={"body": "还能发表吗"}, headers=HTML)
    assert r.status_code == 409 and "已撤回" in r.text


def test_the_login_page_leads_anonymous_visitors_to_the_consultations(app: object) -> None:
    assert 'href="/consult"' in client(app, None).get("/login", headers=HTML).text


def test_every_consultation_page_renders_in_both_languages_and_elderly_mode(app: object) -> None:
    from yibao.consult.store import ConsultStore

    new_published(app, dt.date.today() + dt.timedelta(days=33))
    store = ConsultStore(app.state.store.engine, core.load_params())  # type: ignore[attr-defined]
    admin, anon = client(app, "admin"), client(app, None)
    pages = ["/consult", "/dashboard/consult"] + [
        f"/{'dashboard/' if who == 'staff' else ''}consult/{c.consult_id}"
        for c in store.listing(public=False)
        for who in ("staff", "public")
        if who == "staff" or c.published_at
    ]
    for path in pages:
        for q in ("", "?lang=en", "?big=1"):
            c = admin if path.startswith("/dashboard") else anon
            r = c.get(path + q, headers=HTML)
            assert r.status_code == 200, (path, q, r.status_code)
            assert not BUILD_NOTES.search(text_of(r.text)), path
