"""What the browser tests share: the real service under uvicorn on a free port over a demo database, and
Debian's Chromium launched through Playwright (never `playwright install`; the tests fail, not skip, when it
is missing)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("YIBAO_CHROMIUM", "/usr/bin/chromium")


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (this test must not skip)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], log: Path, *, wait: float = 60) -> Iterator[str]:
    """``yibao serve``'s app under uvicorn with ``env`` added to this process's environment; yields its base
    URL once ``/login`` answers, and stops it afterwards."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "yibao.web.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def chromium(playwright_sync: Any) -> Iterator[Any]:
    """Debian's Chromium, headless, for the length of the block."""
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


# ------------------------------------------------------------------ what a page shows a person
# build notes and machine text that must never reach a page: DOMAIN.md, [V]/[T]/[M]/[X] tags, a raw
# FastAPI error body, UTC ISO times
BUILD_NOTES = re.compile(r"DOMAIN\.md|\[(?:V|T|M|X)\]|\{\"detail\"|\+00:00|\d{4}-\d\d-\d\dT\d\d:")
# an institution or a catalogue item shown by its code alone (a code may stand in a small `.code` note
# beside the name, which the text read below leaves out)
INSTITUTION_CODE = re.compile(r"\b[HP]\d{11}\b")
ITEM_CODE = re.compile(r"\b[A-Z]{1,3}[A-Z0-9]{14,27}\b")
VISIBLE_TEXT = r"""() => {
  const hidden = (el) => !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) {
    const p = walker.currentNode.parentElement;
    if (!p || p.closest('.code, script, style') || hidden(p)) continue;
    parts.push(walker.currentNode.nodeValue);
  }
  return { scroll: document.documentElement.scrollWidth, width: window.innerWidth, text: parts.join(' ') };
}"""


def watch_console(page: Any) -> list[str]:
    """The console errors and uncaught exceptions of ``page`` from now on (a list that fills as they come)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


def reading_problems(page: Any, *, phone: bool) -> list[str]:
    """What is wrong for a reader of the page now shown: sideways scrolling on a phone, build notes, and
    institutions or items shown only by their codes — one line each."""
    facts = page.evaluate(VISIBLE_TEXT)
    text = " ".join(str(facts["text"]).split())
    out = []
    if phone and facts["scroll"] > facts["width"]:
        out.append(f"scrolls sideways: {facts['scroll']}px wide on a {facts['width']}px screen")
    for m in BUILD_NOTES.finditer(text):
        out.append(f"build note or machine text: …{text[max(0, m.start() - 30) : m.end() + 30]}…")
    for pattern in (INSTITUTION_CODE, ITEM_CODE):
        for m in pattern.finditer(text):
            out.append(f"shown only by its code: …{text[max(0, m.start() - 30) : m.end() + 30]}…")
    return out[:8]
