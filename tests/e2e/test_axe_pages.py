"""Every page a person reaches, in real headless Chromium: axe-core (WCAG 2.1 A and AA rules) and what a
reader sees.

Each role (insured, family — the insured login acting for a relative through 亲情账户 —, hospital, auditor,
admin, and an anonymous visitor) logs in to the seeded demo and the test walks the pages it can reach from
its home by following links on the same site (not downloads, not the API, not logout), one page of each
kind (record ids starred, query fields named), until no new kind is left; a link to a server error
fails.  On every page: axe-core finds no violation, the console shows no error and no script throws, no
build note or machine text is visible (``DOMAIN.md``, ``[V]``/``[T]``/``[M]``/``[X]``, a raw
``{"detail"``, UTC ISO times), no institution or catalogue item is shown by its code alone, the page is
in the mode asked for (``<html lang>``, the 长辈模式 class), and on a phone the page does not scroll
sideways.

Coverage: every page kind of every role, in Chinese, in English and in 长辈模式, at 390×844 and at
1366×900.  To keep CI time reasonable the walks (``yibao.web.walk``, the benchmark's too) run ``WALKERS``
at once, each walker a thread with a Chromium of its own, so that one page's idle wait and axe run overlap
another's; there is one logged-in context per role and mode (the mode switched once on the home page and
kept by its cookie) with axe-core as its init script (sent to the browser once); each page is loaded once
at 390×844 and checked there and again after the window is widened to 1366×900 — the pages' widths are CSS
media queries and charts that redraw on the window's resize event, so the wider window shows what loading
it wide would.  axe runs at both widths: colour contrast (text size, what lies behind), scrolling regions
and redrawn charts depend on the layout.  axe reports its violations only (not every rule that passed),
which is what the test reads.  The walks run in the first walk test's set-up (``--durations`` shows it
there), only for the walk tests collected.

axe-core comes from the ``axe-playwright-python`` package (its bundled ``axe.min.js``); nothing is fetched
at run time.  A failing page is listed with each rule or problem found on it, at each width.
"""

from __future__ import annotations

import datetime as dt
import io
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, reading_problems, require_chromium, serving, watch_console
from rich.console import Console

from yibao.access.store import ServiceStore
from yibao.demo.run import run_demo
from yibao.demo.seed import Seeded
from yibao.ledger import Ledger
from yibao.web.walk import Walk

PASSWORD = "yibao-demo-2026"
# the fewest persons with which ``yibao demo`` gives every page kind its data (cases, complaints, assessment …)
DEMO_PERSONS = 120
# WCAG 2.1 A/AA rules; violations only (the passes and the rules that do not apply are not read)
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
# axe's violations, one short record per rule, so that little crosses from the browser
AXE_RUN = """opts => axe.run(document, opts).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
  where: v.nodes.slice(0, 4).map(n => n.target.join(' ')).join('; ')})))"""
MODE_SHOWN = """() => ({lang: document.documentElement.lang, big: document.body.classList.contains('big')})"""
# after a resize, two frames: the resize event has fired (charts redrawn) and the layout is the new one
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
MAX_KINDS = 60  # a role reaching more kinds of page than this fails: the walk would stop short of them
WALKERS = 3  # walks at once (one Chromium each): a page's load, idle wait and axe overlap another's
PHONE, LAPTOP = (390, 844), (1366, 900)
WIDTHS = (PHONE, LAPTOP)  # a page is loaded at the first and widened to the second
# the modes: the query that switches it on (kept by its cookie) and what the page must show
MODES = {"zh": "", "en": "lang=en", "elderly": "big=1"}
SHOWN = {
    "zh": {"lang": "zh-CN", "big": False},
    "en": {"lang": "en", "big": False},
    "elderly": {"lang": "zh-CN", "big": True},
}
HOMES = {
    "insured": "/me",
    "family": "/me?psn={family}",
    "hospital": "/hospital",
    "auditor": "/dashboard",
    "admin": "/dashboard",
    "anonymous": "/consult",
}
LOGINS = {"family": "insured", "anonymous": ""}  # the login of each role, when not its own name
# kinds of page each role must reach from its home on the full demo (fewer means a link broke): its detail
# pages (audit case, assessment, consultation, fund alert, visit) included
MIN_PAGES = {"insured": 28, "family": 28, "hospital": 7, "auditor": 28, "admin": 28, "anonymous": 4}
playwright_sync = pytest.importorskip("playwright.sync_api")
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")
AXE_SCRIPT: str = axe_sync.Axe().axe_script


def full_demo(db: Path, persons: int) -> Seeded:
    """``yibao demo``'s database at ``db``: the settled year with its audit cases, review queue, DRG/DIP
    payment, fund accounts and annual assessment, ratings and complaints, consultations and the demo logins;
    the ``insured`` login's person and the relative it acts for (亲情账户) read back from the login."""
    result = run_demo(
        Console(file=io.StringIO()), region="xian", persons=persons, visits=0, year=2025, seed=7, db_path=db
    )
    url = f"sqlite:///{db}"
    led = Ledger.open(url)
    try:
        store = ServiceStore(led.sa_url)
    finally:
        led.close()
    try:
        insured = next(u for u in store.list_users() if u.username == "insured")
    finally:
        store.close()
    assert insured.psn_no is not None
    family = next(f for f in insured.family_psn_nos if f != insured.psn_no)
    return Seeded(url, db.parent / "demo-data", result["settled"], insured.psn_no, family, PASSWORD)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    require_chromium()
    db = tmp_path_factory.mktemp("axe") / "demo.db"
    seeded = full_demo(db, DEMO_PERSONS)
    log = tmp_path_factory.mktemp("axe-log") / "uvicorn.log"
    env = {
        "YIBAO_DATABASE_URL": seeded.url,
        "YIBAO_DEMO": "1",
        "YIBAO_AUDIT_KNOWLEDGE": str(db.parent / "demo-knowledge"),
    }
    with serving(env, log, wait=180) as base:
        yield base, seeded


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(playwright_sync) as b:
        yield b


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _violations(page: Any, *, inject: bool = True) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page, one readable line per rule (``inject=False``: axe
    is already on this page)."""
    if inject:
        page.evaluate(AXE_SCRIPT)
    found = page.evaluate(AXE_RUN, WCAG)
    return [f"{v['id']} ({v['impact']}, {v['count']}): {v['help']} — {v['where']}" for v in found]


def _walk(page: Any, base: str, home: str, mode: str) -> tuple[dict[str, list[str]], set[str]]:
    """Visit every kind of page reachable from ``home`` (breadth first, ``yibao.web.walk``), each loaded
    at 390×844 and checked there and at 1366×900 → (problems by page and width: axe violations, console
    errors, what a reader should not see, a page not in ``mode``; the kinds of page visited).  axe-core is
    already on every page (the context's init script)."""
    errors = watch_console(page)
    walk = Walk(base, home, max_kinds=MAX_KINDS)
    bad: dict[str, list[str]] = {}
    for url in walk:
        page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})
        errors.clear()
        resp = page.goto(url)
        if resp is not None and resp.status >= 500:
            bad[url.removeprefix(base)] = [f"HTTP {resp.status}: a link leads to a server error"]
        if resp is None or resp.status >= 400 or "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        page.wait_for_load_state("networkidle")
        shown = page.evaluate(MODE_SHOWN)
        for i, (w, h) in enumerate(WIDTHS):
            if i:
                page.set_viewport_size({"width": w, "height": h})
                page.evaluate(TWO_FRAMES)
            found = _violations(page, inject=False) + reading_problems(page, phone=(w, h) == PHONE)
            if shown != SHOWN[mode]:
                found.append(f"not in the {mode} mode: {shown}")
            if found:
                bad[f"{url.removeprefix(base)} at {w}×{h}"] = found
        if errors:  # the console of the load and of both widths
            bad.setdefault(f"{url.removeprefix(base)} console", []).extend(errors)
        walk.follow(
            page.url, page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        )
    return bad, walk.kinds


def _crawl(
    server: tuple[str, Seeded], browser: Any, role: str, mode: str
) -> tuple[dict[str, list[str]], set[str]]:
    """Log ``role`` in, switch to ``mode`` (``lang=en`` / ``big=1``, kept by its cookie) and walk."""
    base, seeded = server
    ctx = browser.new_context(viewport={"width": WIDTHS[0][0], "height": WIDTHS[0][1]}, locale="zh-CN")
    ctx.add_init_script(script=AXE_SCRIPT)  # on every page before its own scripts, sent to the browser once
    try:
        page = ctx.new_page()
        login = LOGINS.get(role, role)
        if login:
            _login(page, base, login)
        home = HOMES[role].format(family=seeded.family_psn_no)
        if MODES[mode]:
            page.goto(f"{base}{home}{'&' if '?' in home else '?'}{MODES[mode]}")
        return _walk(page, base, home, mode)
    finally:
        ctx.close()


def _report(bad: dict[str, list[str]]) -> str:
    return "\n".join(f"{u}\n  " + "\n  ".join(v) for u, v in bad.items())


WALKS = [(role, mode) for role in HOMES for mode in MODES]


@pytest.fixture(scope="module")
def walks(
    server: tuple[str, Seeded], request: pytest.FixtureRequest
) -> dict[tuple[str, str], tuple[dict[str, list[str]], set[str]] | BaseException]:
    """The walks of the roles and modes whose tests were collected, ``WALKERS`` at once, each walker a
    thread with its own Chromium taking the next walk as it finishes one → (role, mode): what ``_crawl``
    returned, or what it raised (raised again by that walk's test)."""
    wanted = {
        (item.callspec.params["role"], item.callspec.params["mode"])
        for item in request.session.items
        if item.module is request.module and item.originalname == _WALK_TEST
    }
    jobs: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for job in sorted(wanted, key=lambda j: (-MIN_PAGES[j[0]], WALKS.index(j))):  # the longest first
        jobs.put(job)
    out: dict[tuple[str, str], tuple[dict[str, list[str]], set[str]] | BaseException] = {}

    def walker() -> None:
        try:
            with chromium(playwright_sync) as b:
                while True:
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        out[job] = _crawl(server, b, *job)
                    except Exception as e:  # raised again in that walk's own test
                        out[job] = e
        except Exception as e:  # the browser did not start: every walk left fails with it
            while True:
                try:
                    out[jobs.get_nowait()] = e
                except queue.Empty:
                    return

    threads = [threading.Thread(target=walker, daemon=True) for _ in range(min(WALKERS, len(wanted)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.mark.parametrize(("role", "mode"), WALKS, ids=[f"{r}-{m}" for r, m in WALKS])
def test_every_page_a_role_reaches_reads_well_on_a_phone_and_a_laptop_in_each_mode(
    walks: dict[tuple[str, str], tuple[dict[str, list[str]], set[str]] | BaseException], role: str, mode: str
) -> None:
    result = walks[(role, mode)]
    if isinstance(result, BaseException):
        raise result
    bad, reached = result
    print(f"{role} {mode}: {len(reached)} kinds", *sorted(reached), sep="\n  ")
    assert len(reached) >= MIN_PAGES[role], f"only {len(reached)} kinds of page reached from {HOMES[role]}"
    assert not bad, _report(bad)


_WALK_TEST = test_every_page_a_role_reaches_reads_well_on_a_phone_and_a_laptop_in_each_mode.__name__


@pytest.mark.parametrize(
    "path",
    [
        "/me/institutions?condition=I10",
        "/me/institutions?q=yy&lang=en&big=1",
        "/me/institutions?near=碑林区&sort=distance&condition=I10",
        "/me/institutions?near=碑林区&sort=distance&lang=en&big=1",
        "/me/drugs?q=z&big=1",
    ],
)
def test_the_look_up_pages_with_their_result_columns_have_no_wcag_violation(
    server: tuple[str, Seeded], browser: Any, path: str
) -> None:
    base, _ = server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = ctx.new_page()
    _login(page, base, "insured")
    resp = page.goto(f"{base}{path}")
    assert resp is not None and resp.status == 200
    page.wait_for_load_state("networkidle")
    assert page.locator("table.grid tbody tr").count() > 0  # the wide table is there to check
    found = _violations(page)
    ctx.close()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("query", ["", "?lang=en", "?big=1"])
def test_the_family_page_with_a_request_waiting_has_no_wcag_violation_on_a_phone(
    server: tuple[str, Seeded], browser: Any, query: str
) -> None:
    base, seeded = server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = ctx.new_page()
    _login(page, base, "insured")
    page.goto(f"{base}/me/family{query}")
    if page.locator("#to-answer").count() == 0:  # a request from insured2 waits on the page (made once)
        other = browser.new_context()
        asker = other.new_page()
        _login(asker, base, "insured2")
        asker.goto(f"{base}/me/family")
        led = Ledger.open(seeded.url)
        try:
            me = led.get_person(seeded.insured_psn_no, dt.date.today())
        finally:
            led.close()
        asker.fill("input[name=certno]", me.certno)
        asker.fill("input[name=name]", me.name)
        asker.select_option("select[name=kind]", "mutual_aid")
        asker.click("#ask button[type=submit]")
        other.close()
        page.goto(f"{base}/me/family{query}")
    assert page.locator("#to-answer").count() == 1
    page.wait_for_load_state("networkidle")
    found = _violations(page)
    ctx.close()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("query", ["", "&lang=en", "&big=1"])
def test_my_location_is_asked_only_on_the_click_and_the_nearest_come_first_without_sideways_scroll(
    server: tuple[str, Seeded], browser: Any, query: str
) -> None:
    """定点机构查询 on a phone: the page does not ask for the location by itself; pressing 按我的位置查询 (the
    browser grants a location near the Bell Tower) lists the nearest first with distances and estimated
    times, and nothing scrolls sideways in any mode."""
    base, _ = server
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        geolocation={"latitude": 34.261, "longitude": 108.942},
        permissions=["geolocation"],
    )
    page = ctx.new_page()
    _login(page, base, "insured")
    page.goto(f"{base}/me/institutions?q={query}")
    page.wait_for_load_state("networkidle")
    # before the click: no location asked, and any note speaks of the registered district, not of here
    before = " ".join(page.locator("#distance-note").all_inner_texts())
    assert "lat=" not in page.url and "current location" not in before and "您当前的位置" not in before
    page.click("#my-location")
    page.wait_for_url("**/me/institutions?*lat=*")
    page.wait_for_load_state("networkidle")
    assert "lat=34.261" in page.url and "sort=distance" in page.url
    note = page.locator("#distance-note").inner_text()
    assert ("current location" in note) if "lang=en" in query else ("您当前的位置" in note)
    cells = page.locator("#institutions td.distance").all_inner_texts()
    assert cells and all(
        ("km" in c or " m" in c) if "lang=en" in query else ("公里" in c or "米" in c) for c in cells
    )
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the page scrolls sideways by {wide}px"
    found = _violations(page)
    ctx.close()
    assert not found, "\n".join(found)
