"""``yibao bench audit-cases``: grouping flags into cases, and the workflow with deductions on a real ledger.

JSON-line records like :mod:`yibao.bench.settle`: ``audit.cases.group`` (flags/s), then on SQLite (and
PostgreSQL when ``pg_url`` is given) ``audit.cases.<db>`` open / notify / close_expired / post throughput
in cases/s and ``verify`` elapsed in s.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from yibao.audit.cases import service
from yibao.audit.cases.grouping import group_flags
from yibao.audit.cases.store import CaseStore
from yibao.audit.flags import FLAG_SCHEMA
from yibao.ledger import Ledger, PersonRecord
from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.model import Line, Visit

NOTICE = dt.datetime(2025, 6, 3, 2, 0, tzinfo=dt.UTC)
AFTER = dt.datetime(2025, 8, 1, 2, 0, tzinfo=dt.UTC)


def record(bench: str, metric: str, value: float, unit: str) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit}


def synthetic_flags(n: int, institutions: int, seed: int = 1) -> pl.DataFrame:
    """``n`` random flags over ``institutions`` institutions (about 3 flags per flagged line)."""
    rng = np.random.default_rng(seed)
    visit = rng.integers(1, max(2, n // 6), n)
    sn = rng.integers(1, 3, n).astype(np.int32)
    rule = rng.integers(1, 30, n)
    frame = pl.DataFrame(
        {
            "rule_code": [f"GZ-{r:03d}" for r in rule],
            "visit_id": visit,
            "feedetl_sn": sn,
            "psn_id": visit // 3,
            "fixmedins_code": [f"H{v % institutions:06d}" for v in visit],
            "amount_fen": rng.integers(100, 100_000, n),
        }
    ).unique(["rule_code", "visit_id", "feedetl_sn"])
    return frame.with_columns(
        flag_id=pl.concat_str(
            [pl.col("rule_code"), pl.col("visit_id").cast(pl.String), pl.col("feedetl_sn").cast(pl.String)],
            separator=":",
        ),
        source=pl.lit("rule"),
        rule_class=pl.lit("政策"),
        severity=pl.lit("flag"),
        reason_zh=pl.lit("基准"),
        reason_en=pl.lit("bench"),
        evidence=pl.lit("{}"),
    ).select([pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items()])


def bench_group(n: int) -> Iterator[dict[str, Any]]:
    flags = synthetic_flags(n, 500)
    t0 = time.perf_counter()
    drafts = group_flags(flags, "B")
    el = time.perf_counter() - t0
    yield record("audit.cases.group", "throughput", flags.height / el, "flags/s")
    yield record("audit.cases.group", "cases", len(drafts), "cases")


def bench_workflow(url: str, name: str, cases: int) -> Iterator[dict[str, Any]]:
    """Settle one inpatient visit per institution, flag two lines of each, run the workflow to deduction."""
    book = PolicyBook(load_region(example_path("xian")))
    policy = book.for_date(dt.date(2025, 5, 6))
    emp = next(p for p in book.loaded.region.person_types if p.group == "in_service")
    items = [c for c in policy.catalogue.values() if c.unit_price and c.cls == "01" and c.min_age is None][:4]
    led = Ledger.open(url)
    led.migrate()
    led.add_persons(
        PersonRecord(
            f"P{k:07d}", "基准", f"61010019900101{k:04d}", "M", dt.date(1990, 1, 1), emp.scheme, emp.code
        )
        for k in range(cases)
    )
    rows = []
    for k in range(cases):
        # large quantities of class-A drugs: well past the inpatient deductible, so the fund pays each line
        lines = tuple(
            Line(str(j + 1), it.code, 2_000 * QTY_ONE, it.unit_price or 0, 2_000 * (it.unit_price or 0))
            for j, it in enumerate(items)
        )
        v = Visit(
            str(k), f"P{k:07d}", "21", f"H{k:06d}", "3", dt.date(2025, 5, 6), dt.date(2025, 5, 12), lines
        )
        led.settle(book, v, f"BENCH{k:025d}")
        rows += [
            {
                "flag_id": f"GZ:{k}:{sn}",
                "source": "rule",
                "rule_code": "GZ",
                "rule_class": "政策",
                "psn_id": k,
                "fixmedins_code": f"H{k:06d}",
                "visit_id": k,
                "feedetl_sn": sn,
                "amount_fen": 50_000,
                "severity": "flag",
                "reason_zh": "基准",
                "reason_en": "bench",
                "evidence": "{}",
            }
            for sn in (1, 2)
        ]
    flags = pl.DataFrame(rows, schema=FLAG_SCHEMA)
    store = CaseStore(url)
    try:
        t0 = time.perf_counter()
        opened = service.open_cases(store, flags, "B", NOTICE)
        t1 = time.perf_counter()
        for c in opened:
            service.notify(store, c.case_id, NOTICE, "bench")
        t2 = time.perf_counter()
        closed = service.close_expired(store, AFTER)
        t3 = time.perf_counter()
        for c in closed:
            service.post_deductions(store, led, c.case_id, AFTER, "bench")
        t4 = time.perf_counter()
        report = led.verify()
        t5 = time.perf_counter()
    finally:
        store.close()
        led.close()
    assert report.ok and report.deductions == cases, report.problems[:5]
    b = f"audit.cases.{name}"
    for metric, el in (("open", t1 - t0), ("notify", t2 - t1), ("close_expired", t3 - t2), ("post", t4 - t3)):
        yield record(b, metric, cases / el, "cases/s")
    yield record(b, "verify", t5 - t4, "s")


def run(*, flags: int = 1_000_000, cases: int = 200, pg_url: str | None = None) -> Iterator[dict[str, Any]]:
    """All records; PostgreSQL only when ``pg_url`` names an empty, writable database."""
    yield from bench_group(flags)
    with tempfile.TemporaryDirectory() as tmp:
        yield from bench_workflow(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite", cases)
    if pg_url:
        yield from bench_workflow(pg_url, "postgres", cases)


if __name__ == "__main__":  # python -m yibao.bench.audit_cases
    import json
    import os

    for rec in run(pg_url=os.environ.get("YIBAO_BENCH_PG_URL")):
        print(json.dumps(rec, ensure_ascii=False))
