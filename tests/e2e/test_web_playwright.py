"""End to end in real headless Chromium (Debian's ``chromium``, driven by Playwright): the real app under
uvicorn on a free port over a seeded SQLite demo database.  Screenshots go to ``tests/e2e/artifacts/``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import chromium, require_chromium, serving

from yibao.demo.seed import Seeded, seed_demo_db

ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "yibao-demo-2026"

playwright_sync = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    require_chromium()
    seeded = seed_demo_db(tmp_path_factory.mktemp("e2e") / "demo.db", persons=120)
    log = tmp_path_factory.mktemp("e2e-log") / "uvicorn.log"
    with serving({"YIBAO_DATABASE_URL": seeded.url, "YIBAO_DEMO": "1"}, log, wait=180) as base:
        yield base, seeded


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n", encoding="utf-8")  # screenshots are never committed
    with chromium(playwright_sync) as b:
        yield b


def _login(page: object, base: str, username: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_patient_opens_a_visit_explanation_and_files_a_complaint(
    server: tuple[str, Seeded], browser: object
) -> None:
    base, _seeded = server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, base, "insured")
    page.wait_for_url(f"{base}/me")
    assert "我的就诊" in page.content()
    page.screenshot(path=str(ARTIFACTS / "01-patient-home.png"), full_page=True)

    page.locator("a.visit").first.click()
    page.wait_for_url(re.compile(r".*/me/visits/[0-9a-f]{30}$"))
    explanation = page.locator("#explanation li")
    assert explanation.count() >= 2
    assert "本次医疗费用合计" in explanation.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "02-visit-explanation.png"), full_page=True)

    page.goto(f"{base}/me/cases?kind=complaint")
    page.select_option("select[name=kind]", "complaint")
    page.fill("textarea[name=detail]", "候诊时间过长，收费项目没有解释清楚。")
    page.click("#case-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/me/cases/[0-9a-f]{16}$"))
    assert page.locator("#case-status").inner_text() == "已提交"
    assert "15 个工作日" in page.locator("#sla-clock").inner_text()
    page.screenshot(path=str(ARTIFACTS / "03-complaint-tracked.png"), full_page=True)
    page.goto(f"{base}/me/cases")
    assert page.locator("ul.cases li").count() >= 1 and "投诉" in page.locator("ul.cases").inner_text()

    page.goto(f"{base}/me?big=1")
    assert "big" in (page.locator("body").get_attribute("class") or "")
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    body_size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_size > size  # elderly mode enlarges the text
    page.screenshot(path=str(ARTIFACTS / "04-elderly-mode.png"))
    ctx.close()


def test_auditor_opens_the_dashboard_with_charts(server: tuple[str, Seeded], browser: object) -> None:
    base, _seeded = server
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, base, "auditor")
    page.wait_for_url(f"{base}/dashboard")
    assert "医保基金运行监测" in page.content()
    # ECharts (vendored) draws into the chart containers
    page.wait_for_selector("#chart-fund canvas", timeout=15_000)
    page.wait_for_selector("#chart-level canvas", timeout=15_000)
    assert page.evaluate("typeof echarts") == "object"
    page.screenshot(path=str(ARTIFACTS / "05-dashboard.png"), full_page=True)
    page.goto(f"{base}/dashboard/cases")
    page.screenshot(path=str(ARTIFACTS / "06-complaint-queue.png"), full_page=True)
    ctx.close()


def test_the_complaint_loop_closes_in_a_browser(server: tuple[str, Seeded], browser: object) -> None:
    """A complaint about a visit, accepted and answered by the auditor, not satisfied → 复核 → answered
    again → satisfied; the person's header counts the unread notifications."""
    base, _seeded = server
    me = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[attr-defined]
    staff = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page, desk = me.new_page(), staff.new_page()
    _login(page, base, "insured")
    page.wait_for_url(f"{base}/me")
    page.goto(f"{base}/me/notices")  # start from nothing unread
    page.goto(f"{base}/me/cases?kind=complaint")
    picker = page.locator("#visit-pick option")
    assert picker.count() >= 2  # "no particular visit" and at least one of my visits
    visit_label = picker.nth(1).inner_text()
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 · \S", visit_label)  # a date and a hospital name
    page.select_option("#visit-pick", index=1)
    page.fill("textarea[name=detail]", "自费部分比医生说的多，没有签过告知书。")
    page.click("#case-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/me/cases/[0-9a-f]{16}$"))
    case_url = page.url
    case_id = case_url.rsplit("/", 1)[1]
    assert page.locator("#case-visit").count() == 1
    assert page.locator("#unread-count").inner_text() == "1"

    _login(desk, base, "auditor")
    desk.wait_for_url(f"{base}/dashboard")

    def staff_moves(status: str, note: str) -> None:
        desk.goto(f"{base}/dashboard/cases/{case_id}")
        desk.select_option("select[name=status]", status)
        desk.fill("textarea[name=note]", note)
        desk.click("form button[type=submit].primary")
        desk.wait_for_url(f"{base}/dashboard/cases/{case_id}")

    staff_moves("accepted", "已转医保科核查")
    page.goto(case_url)
    assert page.locator("#case-status").inner_text() == "已受理"
    assert "剩余" in page.locator("#sla-clock").inner_text()  # accepting does not stop the clock
    staff_moves("answered", "经核查，自费药品已按规定告知。")
    page.goto(case_url)
    assert page.locator("#case-status").inner_text() == "已答复"
    assert page.locator("#unread-count").inner_text() == "3"
    page.screenshot(path=str(ARTIFACTS / "07-complaint-answered.png"), full_page=True)
    page.fill("#verdict-reason", "没有看到签字的告知书。")
    page.click("#satisfied-no")
    page.wait_for_url(case_url)
    assert page.locator("#case-status").inner_text() == "复核中"
    assert "投诉复核答复" in page.locator("#sla-clock").inner_text()

    desk.goto(f"{base}/dashboard/cases")
    assert desk.locator(f"a[href='/dashboard/cases/{case_id}']").count() == 1
    staff_moves("answered", "已调取签字的告知书并寄送。")
    page.goto(case_url)
    page.click("#satisfied-yes")
    page.wait_for_url(case_url)
    assert page.locator("#case-status").inner_text() == "已办结"
    assert page.locator("#verdict").count() == 0 and page.locator("#withdraw-link").count() == 0
    assert page.locator("#unread-count").inner_text() == "6"
    page.click("#notices-link")
    page.wait_for_url(f"{base}/me/notices")
    assert page.locator(f"#notices a[href='/me/cases/{case_id}']").count() == 6
    page.screenshot(path=str(ARTIFACTS / "08-notices.png"), full_page=True)
    page.goto(f"{base}/me")
    assert page.locator("#unread-count").count() == 0  # read once the list was opened
    me.close()
    staff.close()


def test_withdrawing_asks_for_confirmation_in_a_browser(server: tuple[str, Seeded], browser: object) -> None:
    base, _seeded = server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, base, "insured")
    page.wait_for_url(f"{base}/me")
    page.goto(f"{base}/me/cases?kind=complaint")
    page.fill("textarea[name=detail]", "窗口排队太久。")
    page.click("#case-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/me/cases/[0-9a-f]{16}$"))
    case_url = page.url
    page.click("#withdraw-link")
    page.wait_for_url(case_url + "/withdraw")
    assert "确定撤回吗" in page.content()
    page.click("text=不撤回，返回")
    page.wait_for_url(case_url)
    assert page.locator("#case-status").inner_text() == "已提交"
    page.click("#withdraw-link")
    page.click("#withdraw-confirm")
    page.wait_for_url(case_url)
    assert page.locator("#case-status").inner_text() == "已撤回"
    ctx.close()


def test_the_estimator_list_follows_pinyin_initials_typed(
    server: tuple[str, Seeded], browser: object
) -> None:
    base, _seeded = server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    _login(page, base, "insured")
    page.wait_for_url(f"{base}/me")
    page.goto(f"{base}/me/estimate")
    before = page.locator("#catalogue option").count()
    page.locator("input[list=catalogue]").first.type("tbqs")
    playwright_sync.expect(page.locator("#catalogue option")).to_have_count(1, timeout=10_000)
    assert before > 1
    assert (
        page.locator("#catalogue option")
        .first.get_attribute("value", timeout=1_000)
        .startswith(  # type: ignore[union-attr]
            "注射用头孢曲松钠"
        )
    )
    ctx.close()
