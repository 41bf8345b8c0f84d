"""First byte of every page, per role, on the demo database: one JSON line per page.

    PYTHONPATH=src python benchmarks/pages_ttfb.py [--db .yibao/shots/demo.db] [--reuse] [--n 20]
    PYTHONPATH=src python benchmarks/pages_ttfb.py --first-view [--reuse] [--only /me/care]

Builds the demo (``yibao demo --persons 400``) unless ``--reuse`` and the file exists, starts the service
(one uvicorn worker) and, per page, logs the first request (cold: caches filled on first use) and then
``n`` requests: wall time to the response headers (p50, p95, max, ms), the server process's CPU per request
(ms, from /proc), and the load average.

``--first-view``: the first view after a restart, for every page kind of every role.  The pages are found
by the walk the browser test (tests/e2e/test_axe_pages.py) uses (``yibao.web.walk``): each role (insured, the family view of the
insured login's first relative, hospital, auditor, admin, anonymous) follows the same-site links from its
home, one page of each kind (record ids starred, query fields named), on a separate run of the service so
that nothing of a measured page is warmed by the look-up.  Then per page the service is started afresh,
the role logs in (one JSON call, as a browser's login would) and the page is asked for once: its first
byte (ms), the server's CPU for that request (ms), and how long the service took to answer its first
request after being launched (``ready_s``: start-up, including any warm-up).  Asserts nothing: the
machine is shared."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from portal_screenshots import PASSWORD, build_demo, serving

from yibao.web.walk import Walk, kind

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
# --first-view: each role's login ("" = not logged in) and home ("@family": the insured's first relative)
HOMES = {
    "insured": ("insured", "/me"),
    "family": ("insured", "@family"),
    "hospital": ("hospital", "/hospital"),
    "auditor": ("auditor", "/dashboard"),
    "admin": ("admin", "/dashboard"),
    "anonymous": ("", "/consult"),
}
MAX_KINDS = 80
HREF = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"', re.S)


@dataclass
class Service:
    """A freshly started service: its base URL, its process id and how long it took to answer."""

    base: str
    pid: int
    ready_s: float

    @contextmanager
    def client(self, login: str) -> Iterator[httpx.Client]:
        """A client of the service, logged in as ``login`` (one JSON call, as a browser's login would;
        ``""``: not logged in)."""
        with httpx.Client(base_url=self.base, timeout=60) as c:
            if login:
                c.post("/auth/login", json={"username": login, "password": PASSWORD}).raise_for_status()
            yield c


@contextmanager
def service(db: Path) -> Iterator[Service]:
    """The service over ``db`` (one uvicorn worker), started for the block and stopped after it."""
    launched = time.perf_counter()
    with serving(db) as (base, proc):
        yield Service(base, proc.pid, time.perf_counter() - launched)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resolve(c: httpx.Client, path: str) -> str:
    if path == "@visit":
        return re.search(r'class="visit" href="([^"]+)"', c.get("/me").text).group(1)  # type: ignore[union-attr]
    if path == "@own-case":
        return re.search(r'href="(/hospital/audit/[^"#]+)"', c.get("/hospital").text).group(1)  # type: ignore[union-attr]
    if path == "@late-case":
        page = c.get("/dashboard/audit").text
        return re.search(r'class="overdue-row">.*?href="(/dashboard/audit/[^"]+)"', page, re.S).group(1)  # type: ignore[union-attr]
    if path == "@family":
        return re.search(r'href="(/me\?psn=[^"]+)"', c.get("/me/family").text).group(1)  # type: ignore[union-attr]
    return path


def page_kinds(c: httpx.Client, home: str) -> dict[str, str]:
    """Kind → the first page of that kind reached from ``home`` by following same-site links (the walk of
    ``yibao.web.walk``, as the browser test walks; pages that are not HTML or do not answer 200 are left
    out)."""
    base = str(c.base_url).rstrip("/")
    walk = Walk(base, home, max_kinds=MAX_KINDS)
    found: dict[str, str] = {}
    for url in walk:
        r = c.get(url, headers={"accept": "text/html"})
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            continue
        found[kind(url)] = url.removeprefix(base)
        walk.follow(str(r.url), (h.replace("&amp;", "&") for h in HREF.findall(r.text)))
    return found


def first_byte(c: httpx.Client, path: str) -> float:
    t = time.perf_counter()
    with c.stream("GET", path, headers={"accept": "text/html"}) as r:
        took = time.perf_counter() - t
        r.read()
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
    return took * 1000


def first_views(db: Path, only: list[str]) -> None:
    """One JSON line per page kind of every role (those containing one of ``only``, when given): its first
    byte on a freshly started service."""
    pages: list[tuple[str, str, str]] = []  # role, kind, path
    with service(db) as svc:
        for role, (login, home) in HOMES.items():
            with svc.client(login) as c:
                for k, path in page_kinds(c, resolve(c, home)).items():
                    if not only or any(o in path or o in k for o in only):
                        pages.append((role, k, path))
    for role, k, path in pages:
        with service(db) as svc, svc.client(HOMES[role][0]) as c:
            cpu0 = cpu_seconds(svc.pid)
            took = first_byte(c, path)
            cpu = (cpu_seconds(svc.pid) - cpu0) * 1000
        line = {
            "bench": "pages.first_view",
            "role": role,
            "page": k,
            "path": path,
            "first_ms": round(took, 1),
            "server_cpu_ms": round(cpu, 1),
            "ready_s": round(svc.ready_s, 2),
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
    with service(a.db) as svc:
        for role, paths in ROLES.items():
            with svc.client(role) as c:
                for raw in paths:
                    path = resolve(c, raw)
                    cold = first_byte(c, path)
                    cpu0 = cpu_seconds(svc.pid)
                    times = [first_byte(c, path) for _ in range(a.n)]
                    cpu = (cpu_seconds(svc.pid) - cpu0) / a.n * 1000
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
