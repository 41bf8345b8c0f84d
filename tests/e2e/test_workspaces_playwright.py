"""The hospital's and the auditor's workspaces in real headless Chromium (Debian's ``chromium``) over the
demo database, at a phone's width (390×844) and a laptop's (1366×900), in zh-CN and in 长辈模式: no console
errors, no horizontal scroll on a phone, no build notes, no institution or item shown only by its code,
and a set of WCAG 2.1 AA checks written here (axe-core is not installed on this machine and nothing may be
downloaded at run time): page language, one h1, a name for every form control, link and button, alt text,
unique ids, and text contrast of at least 4.5:1 (3:1 for large text)."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, require_chromium, serving
from rich.console import Console

from yibao.demo.run import run_demo

PASSWORD = "yibao-demo-2026"
PHONE, LAPTOP = (390, 844), (1366, 900)
BUILD_NOTES = re.compile(r"DOMAIN\.md|\[(?:V|T|M|X)\]|\{\"detail\"|\+00:00|\d{4}-\d\d-\d\dT\d\d:")
INSTITUTION_CODE = re.compile(r"\b[HP]\d{11}\b")
ITEM_CODE = re.compile(r"\b[A-Z]{1,3}[A-Z0-9]{14,27}\b")

playwright_sync = pytest.importorskip("playwright.sync_api")

PAGE_FACTS = r"""() => {
  const hidden = (el) => !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden';
  // visible text, without the small secondary code notes
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) {
    const p = walker.currentNode.parentElement;
    if (!p || p.closest('.code, script, style') || hidden(p)) continue;
    parts.push(walker.currentNode.nodeValue);
  }
  const problems = [];
  if (!document.documentElement.lang) problems.push('html has no lang');
  if (document.querySelectorAll('h1').length < 1) problems.push('no h1');
  const name = (el) => (el.getAttribute('aria-label') || el.getAttribute('title') || el.textContent || el.value || el.alt || '').trim();
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`))
      || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    if (!labelled) problems.push('form control without a label: ' + (el.name || el.outerHTML.slice(0, 60)));
  }
  for (const el of document.querySelectorAll('a[href], button')) {
    if (!name(el) && !el.querySelector('img[alt]')) problems.push('link or button without a name: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) problems.push('img without alt');
  for (const el of document.querySelectorAll('[role=img]')) if (!el.getAttribute('aria-label')) problems.push('role=img without a name');
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) { ids[el.id] = (ids[el.id] || 0) + 1; }
  for (const [id, n] of Object.entries(ids)) if (n > 1) problems.push('duplicate id ' + id);
  // contrast of every element that holds visible text of its own
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 4 ? c[3] > 0.5 : c.length === 3) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.nodeValue.trim());
    if (!own || hidden(el)) continue;
    const st = getComputedStyle(el);
    const fg = rgb(st.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)} < ${need}: ${el.tagName} "${el.innerText.slice(0, 30)}"`);
  }
  return { scroll: document.documentElement.scrollWidth, width: window.innerWidth,
           text: parts.join(' '), problems: problems.slice(0, 20) };
}"""


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_chromium()
    db = tmp_path_factory.mktemp("work-e2e") / "demo.db"
    run_demo(Console(file=io.StringIO()), region="xian", persons=400, visits=0, year=2025, seed=7, db_path=db)
    env = {
        "YIBAO_DATABASE_URL": f"sqlite:///{db}",
        "YIBAO_DEMO": "1",
        "YIBAO_AUDIT_KNOWLEDGE": str(db.parent / "demo-knowledge"),
    }
    with serving(env, db.parent / "uvicorn.log", wait=90) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(playwright_sync) as b:
        yield b


def _session(browser: Any, base: str, user: str, size: tuple[int, int]) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page, errors


def _check(page: Any, path: str, size: tuple[int, int], errors: list[str]) -> str:
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + path)
    page.wait_for_load_state("networkidle")
    facts = page.evaluate(PAGE_FACTS)
    where = f"{path} at {size[0]}px"
    assert not errors, (where, errors)
    if size == PHONE:
        assert facts["scroll"] <= facts["width"], (where, "scrolls sideways", facts["scroll"])
    assert not BUILD_NOTES.search(facts["text"]), (where, BUILD_NOTES.search(facts["text"]))
    for pattern in (INSTITUTION_CODE, ITEM_CODE):
        m = pattern.search(facts["text"])
        assert m is None, (where, "shown only by its code", m.group(0) if m else "")
    assert facts["problems"] == [], (where, facts["problems"])
    if "lang=en" in path:  # one language per page: no Chinese sentence punctuation on an English page
        m = re.search(r"[，：；。]", facts["text"])
        assert m is None, (where, facts["text"][max(0, m.start() - 40) : m.end() + 40] if m else "")
    return str(facts["text"])


def _first_href(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.get_attribute("href"))


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
@pytest.mark.parametrize("mode", ["", "big=1", "lang=en"], ids=["zh", "elderly", "en"])
def test_the_hospital_workspace_reads_well_everywhere(
    base: str, browser: Any, size: tuple[int, int], mode: str
) -> None:
    ctx, page, errors = _session(browser, base, "hospital", size)
    q = f"?{mode}" if mode else ""
    zh = "lang=en" not in mode
    text = _check(page, f"/hospital{q}", size, errors)
    assert (
        ("医保结算" in text and "稽核告知与申诉" in text)
        if zh
        else ("Settlements" in text and "Audit notices" in text)
    )
    case = _first_href(page, "#audit a")
    _check(page, f"/hospital/settlements{q}", size, errors)
    text = _check(page, f"{case}{q}", size, errors)
    assert ("疑点明细" if zh else "Suspect items") in text
    ctx.close()


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
@pytest.mark.parametrize("mode", ["", "big=1", "lang=en"], ids=["zh", "elderly", "en"])
def test_the_auditor_workspace_reads_well_everywhere(
    base: str, browser: Any, size: tuple[int, int], mode: str
) -> None:
    ctx, page, errors = _session(browser, base, "auditor", size)
    q = f"?{mode}" if mode else ""
    zh = "lang=en" not in mode
    text = _check(page, f"/dashboard/review{q}", size, errors)
    assert ("审核队列" if zh else "Review queue") in text
    text = _check(page, f"/dashboard/audit{q}", size, errors)
    assert ("已超期" if zh else "overdue") in text
    late = _first_href(page, "#audit-cases tr.overdue-row a")
    text = _check(page, f"{late}{q}", size, errors)
    assert ("申诉期已过" if zh else "window closed") in text
    _check(page, f"/dashboard/payment{q}", size, errors)
    _check(page, f"/dashboard/cases{q}", size, errors)
    ctx.close()


def test_a_hospital_appeals_with_evidence_on_a_phone_and_the_auditor_closes_a_late_case(
    base: str, browser: Any, tmp_path: Path
) -> None:
    ctx, page, errors = _session(browser, base, "hospital", PHONE)
    page.goto(f"{base}/hospital")
    page.click("#audit a")
    page.wait_for_load_state("networkidle")
    case_url = page.url
    item = page.locator("article.qitem").nth(1)
    item.locator("details.appeal summary").click()
    item.locator("textarea[name=reason]").fill("该患者为门慢登记患者，长处方有据，附登记表。")
    png = tmp_path / "登记表.png"
    png.write_bytes(tiny_png())
    item.locator("input[type=file]").set_input_files(str(png))
    item.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert page.url.split("#")[0] == case_url
    assert page.locator("#audit-state").inner_text() == "已申诉，待裁定"
    assert "登记表.png" in page.locator("article.qitem").nth(1).inner_text()
    assert not errors
    ctx.close()

    ctx, desk, errors = _session(browser, base, "auditor", LAPTOP)
    desk.goto(f"{base}/dashboard/audit")
    desk.locator("#audit-cases tr.overdue-row a").first.click()
    desk.wait_for_load_state("networkidle")
    late_url = desk.url
    desk.click("#expire")
    desk.wait_for_url(late_url)
    assert desk.locator("#audit-state").inner_text() == "已裁定，待扣款"
    desk.click("#deduct")
    desk.wait_for_url(late_url)
    assert desk.locator("#audit-state").inner_text() == "已扣款"
    assert "扣款入账" in desk.locator("ol.timeline").inner_text()
    assert not errors
    ctx.close()
