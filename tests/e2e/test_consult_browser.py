"""Co-governance in real headless Chromium (Debian's ``chromium`` driven by Playwright) against the real app
under uvicorn over a seeded SQLite demo database: the bureau writes a draft, runs the simulation of its
impact and publishes it; an insured person and an institution comment; the bureau hides an abusive
opinion, records a hearing and groups the opinions; the opinion period ends; the bureau answers and
publishes the result, which an anonymous visitor reads — at 390×844 (a phone) and at 1366×900.  Every
page is checked for console errors and, on the phone, for horizontal scrolling.  Screenshots go to
``tests/e2e/artifacts/`` (never committed).

The end of the 30-day opinion period is reached by moving the consultation's stored publication time
and deadline 31 days back in the database, as if a month had passed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from browser_support import chromium, require_chromium, serving

from yibao.consult.schema import consult_consultation, consult_opinion
from yibao.demo.seed import Seeded, seed_demo_db

ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "yibao-demo-2026"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}

playwright_sync = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    require_chromium()
    seeded = seed_demo_db(tmp_path_factory.mktemp("consult-e2e") / "demo.db", persons=120)
    log = tmp_path_factory.mktemp("consult-e2e-log") / "uvicorn.log"
    with serving({"YIBAO_DATABASE_URL": seeded.url, "YIBAO_DEMO": "1"}, log) as base:
        yield base, seeded


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n", encoding="utf-8")
    with chromium(playwright_sync) as b:
        yield b


class Watched:
    """A browser context whose every page is checked: console errors and uncaught exceptions are
    collected, and on a phone width no page may scroll sideways."""

    def __init__(self, browser: Any, viewport: dict[str, int], name: str) -> None:
        self.ctx = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.ctx.new_page()
        self.phone = viewport["width"] < 600
        self.name = name
        self.errors: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(f"{m.text} {m.location}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )

    def check(self) -> None:
        assert self.errors == [], self.errors
        if self.phone:
            wide = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert wide <= 0, f"{self.page.url} scrolls {wide}px sideways at phone width"
        text = self.page.locator("body").inner_text()
        assert not re.search(r"DOMAIN\.md|\[[VTMX]\]|\{\"detail\"", text)

    def goto(self, url: str) -> None:
        self.page.goto(url)
        self.check()

    def shot(self, label: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"consult-{label}-{self.name}.png"), full_page=True)

    def login(self, base: str, username: str) -> None:
        self.page.goto(f"{base}/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()


def _a_month_passes(url: str, consult_id: str) -> None:
    """Move the consultation's timeline 31 days back: its 30-day opinion period has ended."""
    engine = sa.create_engine(url)
    back = dt.timedelta(days=31)
    try:
        with engine.begin() as c:
            row = c.execute(
                sa.select(consult_consultation.c.published_at, consult_consultation.c.deadline).where(
                    consult_consultation.c.consult_id == consult_id
                )
            ).one()
            c.execute(
                consult_consultation.update()
                .where(consult_consultation.c.consult_id == consult_id)
                .values(
                    published_at=(dt.datetime.fromisoformat(row.published_at) - back).isoformat(),
                    deadline=(dt.datetime.fromisoformat(row.deadline) - back).isoformat(),
                )
            )
            for oid, at in c.execute(
                sa.select(consult_opinion.c.id, consult_opinion.c.at).where(
                    consult_opinion.c.consult_id == consult_id
                )
            ).all():
                c.execute(
                    consult_opinion.update()
                    .where(consult_opinion.c.id == oid)
                    .values(at=(dt.datetime.fromisoformat(at) - back).isoformat())
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390x844", "1366x900"])
def test_a_consultation_is_published_commented_on_answered_and_closed(
    server: tuple[str, Seeded], browser: Any, viewport: dict[str, int]
) -> None:
    base, seeded = server
    tag = f"{viewport['width']}"
    title = f"关于降低城乡居民住院起付线的征求意见稿（{tag}）"
    staff = Watched(browser, viewport, f"staff-{tag}")
    desk = staff.page

    # ---- the bureau writes the draft, simulates its impact and publishes it
    staff.login(base, "admin")
    staff.goto(f"{base}/dashboard/consult")
    desk.fill("#new-draft input[name=title]", title)
    desk.fill("#new-draft textarea[name=summary]", "城乡居民住院起付线各级医院均适当降低，减轻住院群众负担。")
    desk.fill(
        "#new-draft textarea[name=body]", "第一条 城乡居民住院起付线调整为：一级医院100元，二级医院300元……"
    )
    desk.click("#new-draft button[type=submit]")
    desk.wait_for_url(re.compile(r".*/dashboard/consult/[0-9a-f]{16}$"))
    consult_id = desk.url.rsplit("/", 1)[1]
    staff.check()
    assert desk.locator("#consult-phase").inner_text() == "草稿（未发布）"
    desk.select_option("#simulate-form select[name=candidate]", "xian-lower-deductible")
    desk.click("#simulate-form button[type=submit]")
    desk.wait_for_url(re.compile(rf".*/dashboard/consult/{consult_id}#impact$"))
    staff.check()
    impact = desk.locator("#impact").inner_text()
    assert "医保基金一年多支付约" in impact and "由 150 元调整为 100 元" in impact
    assert desk.locator("#impact-changes tbody tr").count() == 4
    desk.click("#publish-form button[type=submit]")  # the default last day: 30 days on
    desk.wait_for_url(f"{base}/dashboard/consult/{consult_id}")
    staff.check()
    assert desk.locator("#consult-phase").inner_text() == "征求意见中"
    assert "还剩 30 天" in desk.locator("#consult-period").inner_text()
    staff.shot("1-published")

    # ---- anyone reads it; an insured person and an institution comment
    anon = Watched(browser, viewport, f"anonymous-{tag}")
    anon.goto(f"{base}/consult")
    anon.page.click(f"text={title}")
    anon.page.wait_for_url(f"{base}/consult/{consult_id}")
    anon.check()
    assert anon.page.locator("#login-to-comment").count() == 1
    assert "北京时间" in anon.page.locator("#consult-period").inner_text()

    person = Watched(browser, viewport, f"insured-{tag}")
    person.login(base, "insured")
    person.goto(f"{base}/consult/{consult_id}")
    person.page.fill("#opinion-form input[name=about]", "第一条")
    person.page.fill("#opinion-form textarea[name=body]", "起付线降低后老人住院负担能轻一些，支持。")
    person.page.click("#opinion-form button[type=submit]")
    person.page.wait_for_url(re.compile(rf".*/consult/{consult_id}\?sent=1#opinions$"))
    person.check()
    assert person.page.locator("#opinion-sent").is_visible()
    person.page.fill("#opinion-form textarea[name=body]", "你们这帮人全是骗子，滚！")
    person.page.click("#opinion-form button[type=submit]")
    person.page.wait_for_url(re.compile(rf".*/consult/{consult_id}\?sent=1#opinions$"))
    person.shot("2-commented")

    hospital = Watched(browser, viewport, f"hospital-{tag}")
    hospital.login(base, "hospital")
    hospital.goto(f"{base}/consult/{consult_id}")
    hospital.page.fill("#opinion-form textarea[name=body]", "建议同步明确三级医院转诊患者的起付线。")
    hospital.page.click("#opinion-form button[type=submit]")
    hospital.page.wait_for_url(re.compile(rf".*/consult/{consult_id}\?sent=1#opinions$"))
    hospital.check()
    assert "定点医药机构 示范医院" in hospital.page.locator("#opinions").inner_text()

    # ---- the bureau moderates, records a hearing and groups the opinions
    staff.goto(f"{base}/dashboard/consult/{consult_id}")
    abusive = desk.locator("ol.opinions li", has_text="全是骗子").get_attribute("id")
    assert abusive is not None
    oid = abusive.removeprefix("op-")
    desk.click(f"#moderate-{oid} summary")
    desk.fill(f"#moderate-{oid} input[name=reason]", "含辱骂内容")
    desk.click(f"#moderate-{oid} button[type=submit]")
    desk.wait_for_url(re.compile(rf".*/dashboard/consult/{consult_id}#op-{oid}$"))
    staff.check()
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date().isoformat()
    desk.fill("#hearing-form input[name=held_on]", today)
    desk.fill("#hearing-form input[name=place]", "市医保局三楼听证室")
    desk.fill(
        "#hearing-form textarea[name=participants]", "王＊ 参保人代表\n李＊ 三级医院代表\n周＊ 医保政策专家"
    )
    desk.fill("#hearing-form textarea[name=observers]", "赵＊、钱＊、孙＊")
    desk.fill(
        "#hearing-form textarea[name=summary]", "参保人代表支持降低起付线；医院代表建议明确转诊患者的起付线。"
    )
    desk.click("#hearing-form button[type=submit]")
    desk.wait_for_url(re.compile(rf".*/dashboard/consult/{consult_id}#hearings$"))
    staff.check()
    for text, theme in (("老人住院负担", "支持降低起付线"), ("转诊患者", "转诊患者的起付线")):
        desk.locator("ol.opinions li", has_text=text).locator("input[name=opinion]").check()
        desk.fill("#group-form input[name=title]", theme)
        desk.click("#group-form button[type=submit]")
        desk.wait_for_url(re.compile(rf".*/dashboard/consult/{consult_id}#themes$"))
        staff.check()
    assert desk.locator("ol.themes li").count() == 2
    assert desk.locator(".answer-form").count() == 0  # answers wait for the deadline
    staff.shot("3-grouped")

    # ---- a month passes; the bureau answers every theme and publishes the result
    _a_month_passes(seeded.url, consult_id)
    anon.goto(f"{base}/consult/{consult_id}")
    assert anon.page.locator("#consult-phase").inner_text() == "意见征集已截止，正在研究答复"
    staff.goto(f"{base}/dashboard/consult/{consult_id}")
    answers = (
        ("adopted", "起付线按征求意见稿降低。"),
        ("partly", "转诊患者起付线另行发文明确，本次先衔接计算方法。"),
    )
    for k, (decision, text) in enumerate(answers):
        form = desk.locator(".answer-form").nth(k)
        form.locator(f"input[name=decision][value={decision}]").check()
        form.locator("textarea[name=text]").fill(text)
        form.locator("button[type=submit]").click()
        desk.wait_for_load_state()
        staff.check()
    desk.fill("#close-form textarea[name=result]", "自2027年1月1日起，城乡居民住院起付线按征求意见稿执行。")
    desk.click("#close-form button[type=submit]")
    desk.wait_for_url(f"{base}/consult/{consult_id}")
    staff.check()

    # ---- everyone, logged in or not, sees the result
    anon.goto(f"{base}/consult/{consult_id}")
    page = anon.page
    assert page.locator("#consult-phase").inner_text() == "已公布采纳情况"
    assert "采纳率 100.0%" in page.locator("#adoption-rate").inner_text()
    result = page.locator("#result").inner_text()
    assert (
        "起付线按征求意见稿降低。" in result
        and "部分采纳" in result
        and "转诊患者起付线另行发文明确" in result
    )
    opinions = page.locator("#opinions").inner_text()
    assert "该意见已被隐藏，原因：含辱骂内容" in opinions and "全是骗子" not in opinions
    hearing = page.locator("#hearings").inner_text()
    assert "听证参加人（3 人）" in hearing and "旁听人员（3 人）" in hearing
    assert page.locator("#opinion-form").count() == 0
    anon.shot("4-result")
    anon.goto(f"{base}/consult/{consult_id}?big=1")
    assert "big" in (page.locator("body").get_attribute("class") or "")
    anon.shot("5-result-elderly")
    anon.goto(f"{base}/consult/{consult_id}?lang=en")
    assert "Adoption rate 100.0%" in page.locator("#adoption-rate").inner_text()
    anon.goto(f"{base}/consult?lang=zh&big=0")
    assert "采纳率 100.0%" in page.locator("#consults").inner_text()
    for w in (staff, anon, person, hospital):
        assert w.errors == []
        w.ctx.close()
