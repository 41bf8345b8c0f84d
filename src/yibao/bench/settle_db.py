"""Ledger benchmarks: settlements written through :class:`yibao.ledger.Ledger` on SQLite and PostgreSQL.

``bench_sqlite`` runs one client on a temporary SQLite file; ``bench_postgres`` runs ``clients``
separate processes, each with its own connection, against a fresh PostgreSQL database that it creates
and drops.  Persons are spread (10,000 by default) so that lock contention is realistic.  Visits are
built from the book's own catalogue (or from ``codes``), so nothing here depends on the test suite.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from yibao.ledger import Ledger, PersonRecord
from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.settlement.model import Line, Visit

DAY = dt.date(2025, 6, 1)
DEFAULT_ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"


def _profile(book: PolicyBook, day: dt.date) -> tuple[str, str, str, list[str], list[tuple[str, int]]]:
    """(scheme, person type, visit type, hospital levels, [(code, unit price)]) to build visits from."""
    policy = book.for_date(day)
    ptypes = book.loaded.region.person_types
    pt = next((p for p in ptypes if p.group == "in_service"), ptypes[0])
    med_types = [vt for (scheme, vt) in policy.benefits if scheme == pt.scheme]
    med_type = "21" if "21" in med_types else (med_types[0] if med_types else next(iter(policy.visit_types)))
    items = [(c.code, c.unit_price or 1_000) for c in policy.catalogue.values()]
    return pt.scheme, pt.code, med_type, sorted(policy.levels), items


def _visits(
    book: PolicyBook, n: int, persons: int, lines: int, seed: int, codes: Sequence[str] | None, day: dt.date
) -> list[Visit]:
    _scheme, _pt, med_type, levels, items = _profile(book, day)
    if codes:
        known = dict(items)
        items = [(c, known.get(c, 1_000)) for c in codes]
    rng = random.Random(seed)
    out = []
    for k in range(n):
        picks = [items[rng.randrange(len(items))] for _ in range(lines)]
        ls = tuple(
            Line(str(j + 1), code, q * QTY_ONE, price, price * q)
            for j, (code, price, q) in enumerate((c, p, rng.randint(1, 5)) for c, p in picks)
        )
        out.append(
            Visit(
                f"B{seed:03d}{k:09d}",
                f"P{rng.randrange(persons):07d}",
                med_type,
                "H61000000001",
                rng.choice(levels),
                day,
                day + dt.timedelta(days=5),
                ls,
            )
        )
    return out


def _persons(book: PolicyBook, n: int, day: dt.date) -> list[PersonRecord]:
    scheme, pt, *_ = _profile(book, day)
    return [
        PersonRecord(
            f"P{i:07d}",
            f"基准{i}",
            f"610100{i:012d}",
            "MF"[i % 2],
            dt.date(1970 + i % 40, 1, 1),
            scheme,
            pt,
            book.admdvs,
            200_000,
        )
        for i in range(n)
    ]


def _run(led: Ledger, book: PolicyBook, visits: Sequence[Visit]) -> list[float]:
    lat = []
    tag = uuid.uuid4().hex[:8]
    for i, v in enumerate(visits):
        t0 = time.perf_counter()
        led.settle(book, v, f"BENCH{tag}{i:010d}")
        lat.append(time.perf_counter() - t0)
    return lat


def _summary(lat: list[float], elapsed: float, **extra: Any) -> dict[str, Any]:
    lat_sorted = sorted(lat)
    p99 = lat_sorted[min(len(lat_sorted) - 1, int(len(lat_sorted) * 0.99))] if lat_sorted else 0.0
    return {
        "throughput": len(lat) / elapsed if elapsed else 0.0,
        "p99_ms": p99 * 1e3,
        "p50_ms": statistics.median(lat_sorted) * 1e3 if lat_sorted else 0.0,
        "mean_ms": statistics.fmean(lat_sorted) * 1e3 if lat_sorted else 0.0,
        "settlements": len(lat),
        "seconds": elapsed,
        **extra,
    }


def bench_sqlite(
    book: PolicyBook,
    n_visits: int,
    lines_per_visit: int = 20,
    *,
    persons: int = 10_000,
    codes: Sequence[str] | None = None,
    day: dt.date = DAY,
) -> dict[str, Any]:
    """One client settling ``n_visits`` visits of ``lines_per_visit`` lines on a temporary SQLite file."""
    with tempfile.TemporaryDirectory(prefix="yibao-bench-") as tmp:
        led = Ledger.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            led.migrate()
            led.add_persons(_persons(book, persons, day))
            visits = _visits(book, n_visits + 50, persons, lines_per_visit, 1, codes, day)
            _run(led, book, visits[:50])  # warm up
            t0 = time.perf_counter()
            lat = _run(led, book, visits[50:])
            elapsed = time.perf_counter() - t0
            ok = led.verify().ok
        finally:
            led.close()
    return _summary(lat, elapsed, clients=1, backend="sqlite", verified=ok)


def _pg_client(
    url: str,
    book: PolicyBook,
    k: int,
    n: int,
    persons: int,
    lines: int,
    codes: Sequence[str] | None,
    day: dt.date,
    barrier: Any,
    out: Any,
) -> None:
    try:
        led = Ledger.open(url)
        visits = _visits(book, n + 20, persons, lines, 100 + k, codes, day)
        _run(led, book, visits[:20])  # warm up: prepared statements, policy compiled
        barrier.wait()
        t0 = time.perf_counter()
        lat = _run(led, book, visits[20:])
        out.put((k, lat, t0, time.perf_counter(), None))
        led.close()
    except BaseException as exc:  # report instead of hanging the parent
        out.put((k, [], 0.0, 0.0, repr(exc)))


def bench_postgres(
    book: PolicyBook,
    clients: int,
    n_visits: int,
    url: str | None = None,
    *,
    lines_per_visit: int = 20,
    persons: int = 10_000,
    codes: Sequence[str] | None = None,
    day: dt.date = DAY,
) -> dict[str, Any]:
    """``clients`` processes settle ``n_visits`` visits in total on a fresh database.

    ``url`` is an admin URL used to create and drop the database (default ``YIBAO_TEST_PG_URL`` or
    ``postgresql://root@127.0.0.1:5432/postgres``)."""
    import psycopg

    admin = url or os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL
    admin = admin.replace("postgresql+psycopg://", "postgresql://")
    name = "yibao_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        led = Ledger.open(db_url)
        led.migrate()
        led.add_persons(_persons(book, persons, day))
        led.close()
        # fork: children inherit the compiled book instead of re-loading it (no connection is open here)
        ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        barrier = ctx.Barrier(clients + 1)
        out = ctx.Queue()
        share = [n_visits // clients + (1 if i < n_visits % clients else 0) for i in range(clients)]
        procs = [
            ctx.Process(
                target=_pg_client,
                args=(db_url, book, k, share[k], persons, lines_per_visit, codes, day, barrier, out),
            )
            for k in range(clients)
        ]
        for p in procs:
            p.start()
        barrier.wait(timeout=600)
        results = [out.get(timeout=3600) for _ in procs]
        for p in procs:
            p.join()
        errors = [r[4] for r in results if r[4]]
        if errors:
            raise RuntimeError(f"bench client failed: {errors[0]}")
        lat = [x for r in results for x in r[1]]
        elapsed = max(r[3] for r in results) - min(r[2] for r in results)
        led = Ledger.open(db_url)
        ok = led.verify().ok
        led.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return _summary(lat, elapsed, clients=clients, backend="postgres", verified=ok)
