"""CPU time per unit of work, for a side-by-side comparison of two checkouts on a busy machine.

Wall-clock throughput on a shared two-core machine moves with everyone else's load; CPU time of the
measuring process moves much less.  This script measures, in whichever yibao is first on PYTHONPATH
(it only uses interfaces both the pre-house and the current tree have):

* ``cpu.engine``   — µs of CPU per 20-line visit through ``settle_visit`` (min of 7 runs of 4,000 visits);
* ``cpu.ledger``   — µs of client CPU per stored settlement, SQLite in process and PostgreSQL, 1,400
  settlements of 20 lines after 100 to warm up; on PostgreSQL also the server's CPU for them (the backend
  processes' user + system time from ``/proc``, 10 ms ticks; only when the server runs on this machine);
* ``cpu.batch``    — lines per CPU-second of ``settle_batch`` on a generated year (min of 3);
* ``cpu.drg``      — cases per CPU-second of ``group_frame`` on one worker, both shipped schemes;
* ``cpu.audit``    — CPU seconds of the after-the-fact rules and models on a cached region.

Usage (one checkout after the other, interleaved, is what ``benchmarks/compare.sh`` does for wall time):

    PYTHONPATH=BEFORE/src python benchmarks/cpu_ab.py before YEAR_DIR_BEFORE AUDIT_REGION
    PYTHONPATH=AFTER/src  python benchmarks/cpu_ab.py after  YEAR_DIR_AFTER  AUDIT_REGION

YEAR_DIR is a year written by that checkout's ``yibao synth generate`` (the layouts differ between
versions); AUDIT_REGION a region both can read (``yibao bench audit`` caches one under /tmp).  Prints
JSON lines and asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def emit(tree: str, bench: str, metric: str, value: float, unit: str) -> None:
    row: dict[str, Any] = {
        "bench": bench,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "tree": tree,
    }
    print(json.dumps(row), flush=True)


def engine(tree: str) -> None:
    from yibao.bench.settle import Person, PolicyBook, example_path, load_region, twenty_line_visits
    from yibao.settlement.engine import settle_visit

    book = PolicyBook(load_region(example_path("xian")))
    policy = book.for_date(dt.date(2025, 6, 1))
    emp = next(p for p in book.loaded.region.person_types if p.group == "in_service")
    person = Person("P0000001", "基准", "610100199001010011", "M", dt.date(1990, 1, 1), emp.scheme, emp.code)
    pool = twenty_line_visits(book, 2000)
    accs: list[dict[str, int]] = [{}, {"emp-ip-ded": 50_000}]

    def loop(n: int) -> None:
        for k in range(n):
            settle_visit(policy, person, pool[k % len(pool)], accs[k & 1], 100_000)

    loop(500)
    best = 1e9
    for _ in range(7):
        t = time.thread_time()
        loop(4000)
        best = min(best, (time.thread_time() - t) / 4000 * 1e6)
    emit(tree, "cpu.engine", "cpu_per_visit", best, "us")


def _server_cpu(admin: str, name: str) -> float | None:
    """CPU seconds used so far by the server processes serving database ``name`` (None if unreadable)."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as c:
        pids = [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    ticks = 0
    try:
        for pid in pids:
            # after the command name: state is field 3, utime and stime are fields 14 and 15
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    except OSError:  # the server runs elsewhere
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def scratch_ledger(
    backend: str, prefix: str, admin: str, book: Any, day: dt.date
) -> Iterator[tuple[Any, str | None]]:
    """A migrated ledger holding the settle bench's 2,000 persons, on a fresh SQLite file or on a fresh
    PostgreSQL database dropped afterwards → (the ledger, the database's name, None for SQLite).  It uses
    the ledger of whichever tree is on the path, the pre-house tree's too (which has no ``close``)."""
    import psycopg

    from yibao.bench import settle_db as bdb
    from yibao.ledger import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        name = None
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'b.db'}"
        else:
            name = prefix + os.urandom(4).hex()
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f"CREATE DATABASE {name}")
            url = admin.rsplit("/", 1)[0] + "/" + name
        try:
            led = Ledger.open(url)
            led.migrate()
            led.add_persons(bdb._persons(book, 2000, day))
            yield led, name
            close = getattr(led, "close", None)
            if close is not None:
                close()
        finally:
            if name:
                with psycopg.connect(admin, autocommit=True) as c:
                    c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def ledger(tree: str, backends: tuple[str, ...] = ("sqlite", "postgres")) -> None:
    """The ``cpu.ledger`` figures; ``backends`` picks SQLite, PostgreSQL or both (the default)."""
    from yibao.bench import settle_db as bdb
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    book = PolicyBook.from_file(example_path("xian"))
    day = dt.date(2025, 6, 1)
    admin = os.environ.get("YIBAO_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
    for backend in backends:
        with scratch_ledger(backend, "cpuab_", admin, book, day) as (led, name):
            vs = bdb._visits(book, 1500, 2000, 20, 7, None, day)
            bdb._run(led, book, vs[:100])
            s0 = _server_cpu(admin, name) if name else None
            t0 = time.process_time()
            bdb._run(led, book, vs[100:])
            t1 = time.process_time()
            s1 = _server_cpu(admin, name) if name else None
            emit(tree, f"cpu.ledger.{backend}", "client_cpu_per_settlement", (t1 - t0) / 1400 * 1e6, "us")
            if name and s0 is not None and s1 is not None:
                emit(tree, f"cpu.ledger.{backend}", "server_cpu_per_settlement", (s1 - s0) / 1400 * 1e6, "us")


def batch(tree: str, year: str) -> None:
    from yibao.batch import settle_batch
    from yibao.batch.io import read_inputs
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    book = PolicyBook.from_file(example_path("xian"))
    persons, visits, lines = read_inputs(year)
    best = 1e9
    for _ in range(3):
        t0 = time.process_time()
        settle_batch(book, persons, visits, lines)
        best = min(best, time.process_time() - t0)
    emit(tree, "cpu.batch", "lines_per_cpu_second", lines.height / best, "lines/cpu-s")


def drg(tree: str) -> None:
    from yibao.drg.cases import random_cases
    from yibao.drg.frame import group_frame
    from yibao.drg.loader import load_scheme

    for scheme in ("chs-drg-demo", "ms-drg-v43"):
        cs = load_scheme(scheme)
        cases = random_cases(cs, 60_000, 1)
        group_frame(cs, cases.head(2000), workers=1)
        best = 1e9
        for _ in range(3):
            t0 = time.process_time()
            group_frame(cs, cases, workers=1)
            best = min(best, time.process_time() - t0)
        emit(tree, f"cpu.drg.{scheme}", "cases_per_cpu_second", 60_000 / best, "cases/cpu-s")


def audit(tree: str, region: str) -> None:
    import polars as pl

    from yibao.audit.knowledge import load_knowledge, with_physicians
    from yibao.audit.models import run_models
    from yibao.audit.rules.batch import run_rules
    from yibao.audit.rules.model import load_library

    path = Path(region)
    persons = pl.read_parquet(path / "persons.parquet")
    visits = pl.read_parquet(path / "visits.parquet")
    fee_lines = pl.read_parquet(path / "lines.parquet")
    inst = pl.read_parquet(path / "institutions.parquet")
    library, knowledge = load_library(), load_knowledge()
    knowledge = with_physicians(knowledge, pl.read_parquet(path / "physicians.parquet"))
    br = bm = 1e9
    for _ in range(2):
        t0 = time.process_time()
        run_rules(library, knowledge, persons, visits, fee_lines)
        br = min(br, time.process_time() - t0)
        t0 = time.process_time()
        run_models(persons, visits, fee_lines, institutions=inst)
        bm = min(bm, time.process_time() - t0)
    emit(tree, "cpu.audit.rules", "cpu_seconds", br, "s")
    emit(tree, "cpu.audit.models", "cpu_seconds", bm, "s")
    emit(tree, "cpu.audit", "lines", fee_lines.height, "lines")


if __name__ == "__main__":
    tree, year, region = sys.argv[1], sys.argv[2], sys.argv[3]
    engine(tree)
    ledger(tree)
    batch(tree, year)
    drg(tree)
    audit(tree, region)
