"""``yibao bench settle``: the pure engine, then the ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from typing import Any

from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Line, Person, Visit


def record(bench: str, metric: str, value: float, unit: str) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit}


def twenty_line_visits(book: PolicyBook, n: int, seed: int = 1) -> list[Visit]:
    """Distinct inpatient visits of exactly 20 lines drawn from the region's catalogue."""
    rng = random.Random(seed)
    policy = book.for_date(dt.date(2025, 6, 1))
    items = [c for c in policy.catalogue.values() if c.unit_price]
    out = []
    for k in range(n):
        picks = rng.sample(items, 20)
        lines = tuple(
            Line(str(j + 1), it.code, q * QTY_ONE, it.unit_price or 0, (it.unit_price or 0) * q)
            for j, (it, q) in enumerate((it, rng.randint(1, 5)) for it in picks)
        )
        out.append(
            Visit(
                f"B{k:09d}",
                "P0000001",
                "21",
                "H61000001",
                rng.choice("123"),
                dt.date(2025, 6, 1),
                dt.date(2025, 6, 8),
                lines,
            )
        )
    return out


def bench_engine(n: int) -> Iterator[dict[str, Any]]:
    book = PolicyBook(load_region(example_path("xian")))
    policy = book.for_date(dt.date(2025, 6, 1))
    emp = next(p for p in book.loaded.region.person_types if p.group == "in_service")
    person = Person("P0000001", "基准", "610100199001010011", "M", dt.date(1990, 1, 1), emp.scheme, emp.code)
    pool = twenty_line_visits(book, 2_000)
    accs: list[dict[str, int]] = [{}, {"emp-ip-ded": 50_000}]
    for v in pool[:200]:  # warm up
        settle_visit(policy, person, v, {}, 100_000)
    t0 = time.perf_counter()
    for k in range(n):
        settle_visit(policy, person, pool[k % len(pool)], accs[k & 1], 100_000)
    el = time.perf_counter() - t0
    yield record("settle.engine", "throughput", n / el, "visits/s")
    yield record("settle.engine", "latency_mean", el / n * 1e6, "us")


def run(*, visits: int, db_visits: int, postgres: bool, pg_url: str | None) -> Iterator[dict[str, Any]]:
    yield from bench_engine(visits)
    from yibao.bench import settle_db

    book = PolicyBook(load_region(example_path("xian")))
    r = settle_db.bench_sqlite(book, db_visits)
    yield record("settle.sqlite.1", "throughput", r["throughput"], "settlements/s")
    yield record("settle.sqlite.1", "p99", r["p99_ms"], "ms")
    if postgres:
        for clients in (1, 8):
            r = settle_db.bench_postgres(book, clients, db_visits, url=pg_url)
            yield record(f"settle.postgres.{clients}", "throughput", r["throughput"], "settlements/s")
            yield record(f"settle.postgres.{clients}", "p99", r["p99_ms"], "ms")
