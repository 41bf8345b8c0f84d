"""``yibao bench portal``: the estimator (pure core) and the pages, in process over a seeded SQLite
database.  Prints JSON-lines records; asserts nothing."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from yibao.bench.settle import record
from yibao.settlement import estimate


def _timed(n: int, fn: Any) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return sorted(out)


def _p(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


def run(*, persons: int = 200, requests: int = 200) -> Iterator[dict[str, Any]]:
    """``portal.estimate`` (decision aid: all levels + drug alternatives, pure), ``portal.visit_page``,
    ``portal.estimate_page`` and ``dashboard.overview`` (TestClient, one process, no network)."""
    from fastapi.testclient import TestClient

    from yibao.demo.seed import seed_demo_db
    from yibao.feedback import core
    from yibao.ledger import Ledger
    from yibao.settings import Settings
    from yibao.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        seeded = seed_demo_db(Path(tmp) / "bench.db", persons=persons)
        led = Ledger.open(seeded.url)
        day = dt.date(2025, 6, 30)
        from yibao.policy.book import PolicyBook
        from yibao.policy.loader import example_path

        book = PolicyBook.from_file(example_path("xian"))
        policy = book.for_date(day)
        person = led.get_person(seeded.insured_psn_no, day)
        acc = led.accumulators(seeded.insured_psn_no, 2025)
        bal = led.account_balance(seeded.insured_psn_no)
        setl_id = led.list_settlements(seeded.insured_psn_no, limit=1)[0].setl_id
        led.close()
        params = core.load_params()
        picks = [
            estimate.Pick("XJ01DDA003B002010119046", 10),
            estimate.Pick("XC10AAA033A001020112059", 30),
            estimate.Pick("001101000010000", 1),
        ]
        picks = [p for p in picks if p.code in policy.catalogue]

        def aid() -> None:
            estimate.compare_levels(policy, person, picks, acc, bal, med_type="11", day=day)
            estimate.compare_drugs(policy, person, picks, acc, bal, params, level="2", med_type="11", day=day)

        xs = _timed(requests, aid)
        yield record("portal.estimate", "decision_aid_p50", _p(xs, 0.5), "ms")
        app = create_app(Settings(database_url=seeded.url))
        c = TestClient(app)
        c.post("/auth/login", json={"username": "insured", "password": seeded.password})
        xs = _timed(requests, lambda: c.get(f"/me/visits/{setl_id}"))
        yield record("portal.visit_page", "p50", _p(xs, 0.5), "ms")
        yield record("portal.visit_page", "p99", _p(xs, 0.99), "ms")
        form = {
            "level": "2",
            "med_type": "11",
            "code": [p.code for p in picks],
            "qty": [str(p.qty) for p in picks],
        }
        xs = _timed(max(requests // 4, 1), lambda: c.post("/me/estimate", data=form))
        yield record("portal.estimate_page", "p50", _p(xs, 0.5), "ms")
        s = TestClient(app)
        s.post("/auth/login", json={"username": "auditor", "password": seeded.password})
        if s.get("/dashboard").status_code != 200:
            raise RuntimeError("dashboard did not render")
        xs = _timed(max(requests // 10, 1), lambda: s.get("/dashboard"))
        yield record("dashboard.overview", "p50", _p(xs, 0.5), "ms")
        yield record("dashboard.overview", "settlements", seeded.settled, "rows")
