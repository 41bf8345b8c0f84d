"""First byte of every page, per role, on the demo database: one JSON line per page.

    PYTHONPATH=src python benchmarks/pages_ttfb.py [--db .yibao/shots/demo.db] [--reuse] [--n 20]
    PYTHONPATH=src python benchmarks/pages_ttfb.py --first-view [--reuse]

Builds the demo (``yibao demo --persons 400``) unless ``--reuse`` and the file exists, starts the service
(one uvicorn worker) and, per page, logs the first request (cold: caches filled on first use) and then
``n`` requests: wall time to the response headers (p50, p95, max, ms), the server process's CPU per request
(ms, from /proc), and the load average.

``--first-view``: the first view after a restart, for every page kind.  Per page the service is started
afresh, the role logs in (one JSON call, as a browser's login would) and the page is asked for once: its
first byte (ms), the server's CPU for that request (ms), and how long the service took to answer its
first request after being launched (``ready_s``: start-up, including any warm-up).  Page ids
(``@visit`` …) are looked up beforehand on a separate run of the service, so nothing of the measured
page is warmed by the look-up.  Asserts nothing: the machine is shared."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from portal_screenshots import PASSWORD, build_demo, serving

ROLES = {
    "insured": ["/me", "@visit", "/me/estimate", "/me/cases", "/me/notices", "/me/insurance"],
    "hospital": ["/hospital", "/hospital/settlements", "@own-case"],
    "auditor": [
        "/dashboard",
        "/dashboard/review",
        "/dashboard/audit",
        "@late-case",
        "/dashboard/payment",
        "/dashboard/cases",
    ],
}
# --first-view: every page kind a role reaches (one page of each template), "" = not logged in
FIRST_VIEW = {
    "insured": [
        "/me",
        "@visit",
        "/me/estimate",
        "/me/cases",
        "/me/notices",
        "/me/insurance",
        "/me/contributions",
        "/me/progress",
        "/me/policy",
        "/me/family",
        "/me/institutions?condition=I10",
        "/me/drugs?q=amxl",
        "/me/access",
        "/me/care",
        "/me/elsewhere",
        "/me/apps",
    ],
    "hospital": ["/hospital", "/hospital/settlements", "@own-case"],
    "auditor": [
        "/dashboard",
        "/dashboard/review",
        "/dashboard/audit",
        "@late-case",
        "/dashboard/payment",
        "/dashboard/cases",
        "/dashboard/fund",
        "/dashboard/fund/warnings",
        "/dashboard/consult",
        "/dashboard/simulation",
        "/dashboard/enrolment",
        "/dashboard/crossregion",
        "/dashboard/care",
    ],
    "": ["/login", "/consult"],
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resolve(c: httpx.Client, path: str) -> str:
    import re

    if path == "@visit":
        return re.search(r'class="visit" href="([^"]+)"', c.get("/me").text).group(1)  # type: ignore[union-attr]
    if path == "@own-case":
        return re.search(r'href="(/hospital/audit/[^"#]+)"', c.get("/hospital").text).group(1)  # type: ignore[union-attr]
    if path == "@late-case":
        page = c.get("/dashboard/audit").text
        return re.search(r'class="overdue-row">.*?href="(/dashboard/audit/[^"]+)"', page, re.S).group(1)  # type: ignore[union-attr]
    return path


def first_byte(c: httpx.Client, path: str) -> float:
    t = time.perf_counter()
    with c.stream("GET", path, headers={"accept": "text/html"}) as r:
        took = time.perf_counter() - t
        r.read()
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
    return took * 1000


def login(c: httpx.Client, role: str) -> None:
    if role:
        c.post("/auth/login", json={"username": role, "password": PASSWORD}).raise_for_status()


def first_views(db: Path, only: list[str]) -> None:
    """One JSON line per page kind (those containing one of ``only``, when given): its first byte on a
    freshly started service."""
    resolved: dict[tuple[str, str], str] = {}
    with serving(db) as (base, _proc):
        for role, paths in FIRST_VIEW.items():
            paths = [p for p in paths if not only or any(o in p for o in only)]
            with httpx.Client(base_url=base, timeout=60) as c:
                login(c, role)
                for raw in paths:
                    resolved[role, raw] = resolve(c, raw)
    for (role, raw), path in resolved.items():
        launched = time.perf_counter()
        with serving(db) as (base, proc), httpx.Client(base_url=base, timeout=60) as c:
            ready = time.perf_counter() - launched
            login(c, role)
            cpu0 = cpu_seconds(proc.pid)
            took = first_byte(c, path)
            cpu = (cpu_seconds(proc.pid) - cpu0) * 1000
        line = {
            "bench": "pages.first_view",
            "role": role or "anonymous",
            "page": raw,
            "first_ms": round(took, 1),
            "server_cpu_ms": round(cpu, 1),
            "ready_s": round(ready, 2),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path(".yibao/shots/demo.db"))
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--first-view", action="store_true", help="the first view after a restart, per page")
    ap.add_argument("--only", action="append", default=[], help="with --first-view: pages containing this")
    a = ap.parse_args()
    if not (a.reuse and a.db.exists()):
        a.db.parent.mkdir(parents=True, exist_ok=True)
        build_demo(a.db)
    if a.first_view:
        first_views(a.db, a.only)
        return
    with serving(a.db) as (base, proc):
        for role, paths in ROLES.items():
            c = httpx.Client(base_url=base, timeout=60)
            r = c.post("/auth/login", json={"username": role, "password": PASSWORD})
            r.raise_for_status()
            for raw in paths:
                path = resolve(c, raw)
                cold = first_byte(c, path)
                cpu0 = cpu_seconds(proc.pid)
                times = [first_byte(c, path) for _ in range(a.n)]
                cpu = (cpu_seconds(proc.pid) - cpu0) / a.n * 1000
                times.sort()
                print(
                    json.dumps(
                        {
                            "bench": "pages.ttfb",
                            "role": role,
                            "page": raw if raw.startswith("@") else path,
                            "cold_ms": round(cold, 1),
                            "p50_ms": round(statistics.median(times), 1),
                            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
                            "max_ms": round(times[-1], 1),
                            "server_cpu_ms": round(cpu, 1),
                            "n": a.n,
                            "loadavg": [round(x, 2) for x in os.getloadavg()],
                        },
                        ensure_ascii=False,
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
