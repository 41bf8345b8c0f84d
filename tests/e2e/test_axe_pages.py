"""Every page a person reaches, in real headless Chromium: axe-core (WCAG 2.1 A and AA rules) and what a
reader sees.

Each role (insured, family — the insured login acting for a relative through 亲情账户 —, hospital, auditor,
admin, and an anonymous visitor) logs in to the seeded demo and the test walks the pages it can reach from
its home by following links on the same site (not downloads, not the API, not logout), one page of each
kind.  On every page: axe-core finds no violation, the console shows no error and no script throws, no
build note or machine text is visible (``DOMAIN.md``, ``[V]``/``[T]``/``[M]``/``[X]``, a raw
``{"detail"``, UTC ISO times), and no institution or catalogue item is shown by its code alone; on a phone
the page does not scroll sideways.

Coverage (one browser, one context per role and mode, to keep CI time reasonable):
* every page kind of every role at 1366×900 in Chinese, and again at 390×844 in Chinese;
* at 390×844 in English and in 长辈模式, each role's first PAGES_PER_MODE page kinds (breadth first from its
  home, so its main pages), the mode switched once on the home page and kept by its cookie;
* the home pages at 390×844 in each mode, and the look-up and family pages with their wide tables.

axe-core comes from the ``axe-playwright-python`` package (its bundled ``axe.min.js``); nothing is fetched
at run time.  A failing page is listed with each rule or problem found on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from browser_support import chromium, reading_problems, require_chromium, serving, watch_console

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.ledger import Ledger

PASSWORD = "yibao-demo-2026"
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES_PER_ROLE = 30
PAGES_PER_MODE = 8  # English and 长辈模式 on a phone: each role's main pages
PHONE, LAPTOP = (390, 844), (1366, 900)
HOMES = {
    "insured": "/me",
    "family": "/me?psn={family}",
    "hospital": "/hospital",
    "auditor": "/dashboard",
    "admin": "/dashboard",
    "anonymous": "/consult",
}
LOGINS = {"family": "insured", "anonymous": ""}  # the login of each role, when not its own name
# kinds of page each role must reach from its home on the seeded demo (fewer means the links broke)
MIN_PAGES = {"insured": 12, "family": 8, "hospital": 4, "auditor": 15, "admin": 15, "anonymous": 2}
# links that are not pages to check: leaving the session, files, machine interfaces, the API's own docs
SKIP = (
    "/logout",
    "/api/",
    "/fhir",
    "/docs",
    "/redoc",
    "/openapi",
    ".json",
    ".csv",
    ".js",
    ".png",
    "/download",
)

playwright_sync = pytest.importorskip("playwright.sync_api")
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    require_chromium()
    seeded = seed_demo_db(tmp_path_factory.mktemp("axe") / "demo.db", persons=120)
    log = tmp_path_factory.mktemp("axe-log") / "uvicorn.log"
    with serving({"YIBAO_DATABASE_URL": seeded.url, "YIBAO_DEMO": "1"}, log, wait=180) as base:
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


def _violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page, one readable line per rule."""
    found = axe_sync.Axe().run(page, options=WCAG).response["violations"]
    out = []
    for v in found:
        where = "; ".join(" ".join(n["target"]) for n in v["nodes"][:4])
        out.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}): {v['help']} — {where}")
    return out


def _links(page: Any, base: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    out = []
    for h in hrefs:
        if not h or h.startswith(("#", "mailto:", "javascript:")):
            continue
        url = urljoin(page.url, h)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != base or any(s in parts.path for s in SKIP):
            continue
        if "lang=" in parts.query or "big=" in parts.query:
            continue  # the language and elderly switches are checked on the home pages below
        out.append(url.split("#", 1)[0])
    return out


def _walk(
    page: Any, base: str, home: str, *, limit: int = PAGES_PER_ROLE, phone: bool = False
) -> tuple[dict[str, list[str]], int]:
    """Visit up to ``limit`` kinds of page reachable from ``home`` (breadth first) → (problems by page:
    axe violations, console errors, what a reader should not see; kinds of page visited)."""
    errors = watch_console(page)
    seen: set[str] = set()
    queue = [f"{base}{home}"]
    bad: dict[str, list[str]] = {}
    while queue and len(seen) < limit:
        url = queue.pop(0)
        # one page of a kind is enough: /me/visits/A and /me/visits/B are the same template
        kind = "/".join(
            "*" if any(c.isdigit() for c in seg) and len(seg) > 6 else seg for seg in url.split("/")
        )
        if kind in seen:
            continue
        seen.add(kind)
        errors.clear()
        resp = page.goto(url)
        if resp is None or resp.status >= 400 or "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        page.wait_for_load_state("networkidle")
        found = _violations(page) + reading_problems(page, phone=phone) + errors
        if found:
            bad[url.removeprefix(base)] = found
        queue.extend(u for u in _links(page, base) if u not in queue)
    return bad, len(seen)


def _crawl(
    server: tuple[str, Seeded],
    browser: Any,
    role: str,
    size: tuple[int, int],
    mode: str = "",
    limit: int = PAGES_PER_ROLE,
) -> tuple[dict[str, list[str]], int]:
    """Log ``role`` in at ``size``, switch to ``mode`` (``lang=en`` / ``big=1``, kept by its cookie) and walk."""
    base, seeded = server
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    try:
        page = ctx.new_page()
        login = LOGINS.get(role, role)
        if login:
            _login(page, base, login)
        home = HOMES[role].format(family=seeded.family_psn_no)
        if mode:
            page.goto(f"{base}{home}{'&' if '?' in home else '?'}{mode}")
        return _walk(page, base, home, limit=limit, phone=size == PHONE)
    finally:
        ctx.close()


def _report(bad: dict[str, list[str]]) -> str:
    return "\n".join(f"{u}\n  " + "\n  ".join(v) for u, v in bad.items())


@pytest.mark.parametrize("role", list(HOMES))
def test_every_page_a_role_reaches_has_no_wcag_violation(
    server: tuple[str, Seeded], browser: Any, role: str
) -> None:
    bad, reached = _crawl(server, browser, role, LAPTOP)
    assert reached >= MIN_PAGES[role], f"only {reached} kinds of page reached from {HOMES[role]}"
    assert not bad, _report(bad)


@pytest.mark.parametrize("role", list(HOMES))
def test_every_page_a_role_reaches_reads_well_on_a_phone(
    server: tuple[str, Seeded], browser: Any, role: str
) -> None:
    bad, reached = _crawl(server, browser, role, PHONE)
    assert reached >= MIN_PAGES[role], f"only {reached} kinds of page reached from {HOMES[role]}"
    assert not bad, _report(bad)


@pytest.mark.parametrize("mode", ["lang=en", "big=1"], ids=["en", "elderly"])
@pytest.mark.parametrize("role", list(HOMES))
def test_each_roles_main_pages_read_well_on_a_phone_in_english_and_elderly_mode(
    server: tuple[str, Seeded], browser: Any, role: str, mode: str
) -> None:
    bad, reached = _crawl(server, browser, role, PHONE, mode, PAGES_PER_MODE)
    assert reached >= min(PAGES_PER_MODE, MIN_PAGES[role]), f"only {reached} kinds of page reached"
    assert not bad, _report(bad)


@pytest.mark.parametrize("query", ["", "?lang=en", "?big=1"])
@pytest.mark.parametrize("role", ["insured", "hospital", "auditor"])
def test_each_home_on_a_phone_in_each_mode_has_no_wcag_violation(
    server: tuple[str, Seeded], browser: Any, role: str, query: str
) -> None:
    base, _ = server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = ctx.new_page()
    _login(page, base, role)
    page.goto(f"{base}{HOMES[role]}{query}")
    page.wait_for_load_state("networkidle")
    found = _violations(page)
    ctx.close()
    assert not found, "\n".join(found)


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
    assert page.locator("#distance-note").count() == 0  # the demo login has no registered district here
    assert "lat=" not in page.url
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
