"""Screenshots of each role's main pages at a phone's and a laptop's width, for docs/PORTAL.md.

    PYTHONPATH=src python scripts/portal_screenshots.py [--db .yibao/shots/demo.db] [--out docs/img]

Builds the demo database (``yibao demo --persons 400 --no-serve``) unless ``--reuse`` and the file exists,
starts the service on a free port, logs in as each demo login in headless Chromium (Debian's ``chromium``)
and saves the first screen of each page as a compressed JPEG (390×844 phone, 1366×900 laptop)."""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CHROMIUM = os.environ.get("YIBAO_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "yibao-demo-2026"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 900)}


def build_demo(db: Path, persons: int = 400) -> None:
    from rich.console import Console

    from yibao.demo.run import run_demo

    run_demo(
        Console(file=io.StringIO()),
        region="xian",
        persons=persons,
        visits=0,
        year=2025,
        seed=7,
        db_path=db,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The service over ``db`` on a free port (the demo's knowledge directory beside it)."""
    port = free_port()
    env = {
        **os.environ,
        "YIBAO_DATABASE_URL": f"sqlite:///{db.resolve()}",
        "YIBAO_DEMO": "1",
        "YIBAO_AUDIT_KNOWLEDGE": str((db.parent / "demo-knowledge").resolve()),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "yibao.web.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the service did not start")
            time.sleep(0.3)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def login(page: object, base: str, username: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]


def pages_of(base: str) -> dict[str, list[tuple[str, str]]]:
    """Login → [(name, path)]: each role's main pages (paths needing an id are found by the caller).
    The family pages are the ``insured`` login acting for a relative (亲情账户); ``""`` is a visitor who
    has not logged in (the public consultations, 共治)."""
    return {
        "insured": [
            ("insured-home", "/me"),
            ("insured-visit", "@visit"),
            ("insured-estimate", "/me/estimate"),
            ("insured-progress", "/me/progress"),
            ("insured-policy", "/me/policy"),
            ("insured-family", "/me/family"),
            ("insured-institutions", "/me/institutions?condition=I10"),
            ("insured-drugs", "/me/drugs?q=amxl"),
            ("insured-cases", "/me/cases"),
            ("family-home", "@family"),
            ("family-progress", "/me/progress"),
        ],
        "hospital": [
            ("hospital-workspace", "/hospital"),
            ("hospital-settlements", "/hospital/settlements"),
            ("hospital-audit-case", "@own-case"),
        ],
        "auditor": [
            ("auditor-dashboard", "/dashboard"),
            ("auditor-complaints", "/dashboard/cases"),
            ("auditor-review-queue", "/dashboard/review"),
            ("auditor-audit-cases", "/dashboard/audit"),
            ("auditor-audit-case", "@late-case"),
            ("auditor-payment", "/dashboard/payment"),
            ("auditor-fund-warnings", "/dashboard/fund/warnings"),
            ("auditor-consult", "/dashboard/consult"),
            ("auditor-consult-detail", "@staff-consult"),
        ],
        "": [("public-consult", "/consult"), ("public-consult-detail", "@consult")],
    }


def resolve(page: object, base: str, path: str) -> str:
    if path == "@family":  # the relative the insured login may act for (its cookie then stays on them)
        page.goto(f"{base}/me/family")  # type: ignore[attr-defined]
        return str(page.locator("a[href^='/me?psn=']").first.get_attribute("href"))  # type: ignore[attr-defined]
    if path == "@consult":
        page.goto(f"{base}/consult")  # type: ignore[attr-defined]
        return str(page.locator("a.title").first.get_attribute("href"))  # type: ignore[attr-defined]
    if path == "@staff-consult":
        page.goto(f"{base}/dashboard/consult")  # type: ignore[attr-defined]
        return str(page.locator("main a[href^='/dashboard/consult/']").first.get_attribute("href"))  # type: ignore[attr-defined]
    if path == "@visit":
        page.goto(f"{base}/me")  # type: ignore[attr-defined]
        return str(page.locator("a.visit").first.get_attribute("href"))  # type: ignore[attr-defined]
    if path == "@own-case":
        page.goto(f"{base}/hospital")  # type: ignore[attr-defined]
        return str(page.locator("#audit a").first.get_attribute("href"))  # type: ignore[attr-defined]
    if path == "@late-case":
        page.goto(f"{base}/dashboard/audit")  # type: ignore[attr-defined]
        return str(page.locator("#audit-cases tr.overdue-row a").first.get_attribute("href"))  # type: ignore[attr-defined]
    return path


def shoot(base: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        for user, pages in pages_of(base).items():
            for width_name, (w, h) in WIDTHS.items():
                ctx = browser.new_context(viewport={"width": w, "height": h}, locale="zh-CN")
                page = ctx.new_page()
                if user:
                    login(page, base, user)
                for name, path in pages:
                    page.goto(base + resolve(page, base, path))
                    page.wait_for_load_state("networkidle")
                    f = out / f"{name}-{width_name}.jpg"
                    page.screenshot(path=str(f), type="jpeg", quality=62)
                    made.append(f)
                ctx.close()
        browser.close()
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path(".yibao/shots/demo.db"))
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--reuse", action="store_true", help="use the database if it exists")
    a = ap.parse_args()
    if not (a.reuse and a.db.exists()):
        a.db.parent.mkdir(parents=True, exist_ok=True)
        build_demo(a.db)
    with serving(a.db) as (base, _proc):
        for f in shoot(base, a.out):
            print(f"{f}\t{f.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
