"""Accessibility of every page a person reaches, checked by axe-core (WCAG 2.1 A and AA rules) in real
headless Chromium.

Each role logs in to the seeded demo and the test walks the pages it can reach from its home by following
links on the same site (not downloads, not the API, not logout), and runs axe-core on each: zh-CN at
1366×900 for every page, and the role's home at 390×844 in Chinese, English and 长辈模式.  axe-core comes
from the ``axe-playwright-python`` package (its bundled ``axe.min.js``); nothing is fetched at run time.
A page with any violation fails the test with the rule, its impact and the offending elements listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from browser_support import chromium, require_chromium, serving

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.ledger import Ledger

PASSWORD = "yibao-demo-2026"
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES_PER_ROLE = 30
HOMES = {
    "insured": "/me",
    "hospital": "/hospital",
    "auditor": "/dashboard",
    "admin": "/dashboard",
    "anonymous": "/consult",
}
# kinds of page each role must reach from its home on the seeded demo (fewer means the links broke)
MIN_PAGES = {"insured": 12, "hospital": 4, "auditor": 15, "admin": 15, "anonymous": 2}
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
    with serving({"YIBAO_DATABASE_URL": seeded.url, "YIBAO_DEMO": "1"}, log) as base:
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


def _walk(page: Any, base: str, home: str) -> tuple[dict[str, list[str]], int]:
    """Visit up to PAGES_PER_ROLE kinds of page reachable from ``home`` (breadth first) → (violations by
    page, kinds of page visited)."""
    seen: set[str] = set()
    queue = [f"{base}{home}"]
    bad: dict[str, list[str]] = {}
    while queue and len(seen) < PAGES_PER_ROLE:
        url = queue.pop(0)
        # one page of a kind is enough: /me/visits/A and /me/visits/B are the same template
        kind = "/".join(
            "*" if any(c.isdigit() for c in seg) and len(seg) > 6 else seg for seg in url.split("/")
        )
        if kind in seen:
            continue
        seen.add(kind)
        resp = page.goto(url)
        if resp is None or resp.status >= 400 or "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        page.wait_for_load_state("networkidle")
        found = _violations(page)
        if found:
            bad[url.removeprefix(base)] = found
        queue.extend(u for u in _links(page, base) if u not in queue)
    return bad, len(seen)


@pytest.mark.parametrize("role", list(HOMES))
def test_every_page_a_role_reaches_has_no_wcag_violation(
    server: tuple[str, Seeded], browser: Any, role: str
) -> None:
    base, _ = server
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    if role != "anonymous":
        _login(page, base, role)
    bad, reached = _walk(page, base, HOMES[role])
    ctx.close()
    assert reached >= MIN_PAGES[role], f"only {reached} kinds of page reached from {HOMES[role]}"
    assert not bad, "\n".join(f"{u}\n  " + "\n  ".join(v) for u, v in bad.items())


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
