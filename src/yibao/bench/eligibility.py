"""``yibao bench eligibility``: the benefit check's cost per visit on the engine, its vectorised twin, and
the import of a resident premium collection file into PostgreSQL (generated on the fly).

JSON lines:

* ``eligibility.check latency_mean`` (µs) — the benefit check as the settle use case runs it per visit
  (:func:`yibao.usecases.eligibility.entitlement_for`) on the compiled statuses of a synthetic region (its
  enrolment histories: late enrolment, lapses, newborns, arrears, deaths …) and its own visits;
* ``eligibility.settle latency_mean`` (µs CPU) — the engine's settlement of those visits with the check,
  beside ``without_check_us``;
* ``eligibility.check_bare latency_mean`` (µs) — :func:`yibao.enrolment.check.check` alone (the binary
  search), visits drawn over the year and over visit types;
* ``eligibility.check_frame throughput`` (visits/s) — the vectorised check for batch, with the count of
  answers that differ from the scalar check (must be 0);
* ``eligibility.compile throughput`` (persons/s) — compiling histories into status intervals;
* ``enrol.import elapsed`` (s) — a ``persons``-row collection file imported into a fresh PostgreSQL
  database in one transaction (validation included), with its phases.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from yibao.enrolment.check import by_psn, check, check_frame, status_frame
from yibao.enrolment.policy import policy_for_region
from yibao.enrolment.store import EnrolmentStore, statuses_from_frames
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Entitlement, Person, Visit
from yibao.synth.enrolment import write_collection_file
from yibao.synth.generator import generate
from yibao.synth.reader import read_visits_as_engine_inputs
from yibao.usecases.eligibility import BenefitRefused, MemoryEligibility, entitlement_for

DEFAULT_ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"
MED_TYPES = ("11", "11", "11", "14", "21", "41", "41")
SETTLE_POOL = 50_000  # the region's visits the in-settlement check runs on (cycled)


def record(bench: str, metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit, **extra}


def bench_check(persons: int, visits: int, seed: int = 1, region: str = "xian") -> Iterator[dict[str, Any]]:
    """Compile a synthetic region's statuses, then time the check as settlement runs it, the bare binary
    search, and the vectorised check."""
    path = example_path(region)
    loaded = load_region(path)
    policy = policy_for_region(loaded)
    assert policy is not None
    book = PolicyBook(loaded)
    tmp = tempfile.mkdtemp(prefix="yibao-elig-")
    try:
        generate(path, tmp, persons=persons, year=2025, seed=seed)
        d = Path(tmp)
        frames = {
            "persons": pl.read_parquet(d / "enrol_persons.parquet"),
            "events": pl.read_parquet(d / "enrol_events.parquet"),
            "premiums": pl.read_parquet(d / "resident_premiums.parquet"),
            "contributions": pl.read_parquet(d / "employee_contributions.parquet"),
        }
        engine_inputs = list(read_visits_as_engine_inputs(d, limit=SETTLE_POOL))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    statuses = list(statuses_from_frames(frames, policy))
    el = time.perf_counter() - t0
    yield record("eligibility.compile", "throughput", persons / el, "persons/s", persons=persons)
    intervals = sum(len(s.starts) for s in statuses)
    yield from _check_in_settlement(book, statuses, engine_inputs, visits, persons, intervals)
    rng = random.Random(seed)
    start = dt.date(2025, 1, 1).toordinal()
    pool = [
        (
            statuses[rng.randrange(len(statuses))],
            dt.date.fromordinal(start + rng.randrange(365)),
            rng.choice(MED_TYPES),
        )
        for _ in range(min(visits, 200_000))
    ]
    for st, day, mt in pool[:2_000]:  # warm up
        check(st, day, mt)
    n = len(pool)
    rounds = max(1, visits // n)
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for st, day, mt in pool:
            check(st, day, mt)
    el, cpu = time.perf_counter() - t0, time.process_time() - c0
    calls = rounds * n
    yield record(
        "eligibility.check_bare",
        "latency_mean",
        el / calls * 1e6,
        "us",
        cpu_us=round(cpu / calls * 1e6, 3),  # this process's CPU time: what the check costs on a busy machine
        load_1min=round(os.getloadavg()[0], 2),
        calls=calls,
        persons=persons,
        intervals_per_person=round(intervals / len(statuses), 2),
    )
    frame = status_frame(statuses)
    vis = pl.DataFrame(
        {
            "psn_no": [st.psn_no for st, _, _ in pool],
            "visit_date": [day for _, day, _ in pool],
            "med_type": [mt for _, _, mt in pool],
        }
    )
    t0 = time.perf_counter()
    out = check_frame(vis, frame, policy.account_only_med_types)
    el = time.perf_counter() - t0
    scalar = [check(st, day, mt) for st, day, mt in pool]
    differ = sum(
        1
        for e, (cov, code, acct) in zip(
            scalar, out.select("covered", "reason_code", "account_usable").rows(), strict=True
        )
        if (e.covered, e.reason_code, e.account_usable) != (cov, code, acct)
    )
    yield record("eligibility.check_frame", "throughput", n / el, "visits/s", visits=n, differ=differ)


def _check_in_settlement(
    book: PolicyBook,
    statuses: list[Any],
    engine_inputs: list[tuple[Person, Visit]],
    visits: int,
    persons: int,
    intervals: int,
) -> Iterator[dict[str, Any]]:
    """``eligibility.check``: what the settle use case runs per visit before the engine
    (:func:`yibao.usecases.eligibility.entitlement_for`: the region-has-data test, the status lookup, the
    binary search and the decision — a refusal included), on the region's own visits; and the engine's
    settlement of the same visits with and without the check (``eligibility.settle``)."""
    source = MemoryEligibility(by_psn(statuses))
    pool = [v for _p, v in engine_inputs]

    def one(v: Visit) -> Entitlement | None:
        try:
            return entitlement_for(source, v)
        except BenefitRefused:
            return None

    for v in pool[:2_000]:  # warm up
        one(v)
    rounds = max(1, visits // max(len(pool), 1))
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        for v in pool:
            one(v)
    el, cpu = time.perf_counter() - t0, time.process_time() - c0
    calls = rounds * len(pool)
    ents = [one(v) for v in pool]
    yield record(
        "eligibility.check",
        "latency_mean",
        el / calls * 1e6,
        "us",
        cpu_us=round(cpu / calls * 1e6, 3),
        load_1min=round(os.getloadavg()[0], 2),
        calls=calls,
        persons=persons,
        intervals_per_person=round(intervals / max(len(statuses), 1), 2),
        refused=sum(1 for e in ents if e is None),
        self_paid=sum(1 for e in ents if e is not None and e.self_pay),
        path="usecases.eligibility.entitlement_for",
    )
    # the engine with the check's answer vs without: what the check adds to a settlement
    pairs = [(p, v, e) for (p, v), e in zip(engine_inputs, ents, strict=True) if e is not None]
    timings = {}
    for label, with_check in (("without", False), ("with", True)):
        c0 = time.process_time()
        for p, v, e in pairs:
            if with_check:
                one(v)
            settle_visit(
                book.for_date(v.begin_date),
                p,
                replace(v, account_psn_no=None),
                {},
                100_000,
                None,
                entitlement=e if with_check else None,
            )
        timings[label] = (time.process_time() - c0) / max(len(pairs), 1) * 1e6
    yield record(
        "eligibility.settle",
        "latency_mean",
        timings["with"],
        "us",
        without_check_us=round(timings["without"], 3),
        visits=len(pairs),
        note="CPU time per visit of settle_visit with the check (lookup + decision) vs without",
    )


def bench_import(persons: int, pg_url: str | None = None, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Write a collection file of ``persons`` rows, import it into a fresh PostgreSQL database, time it."""
    import psycopg

    policy = policy_for_region(load_region(example_path("xian")))
    assert policy is not None
    admin = (pg_url or os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    tmp = tempfile.mkdtemp(prefix="yibao-enrol-")
    name = "yibao_bench_" + uuid.uuid4().hex[:10]
    try:
        f = Path(tmp) / "collection-2025.csv"
        t0 = time.perf_counter()
        write_collection_file(f, policy, persons=persons, year=2025, seed=seed)
        yield record(
            "enrol.collection_file",
            "elapsed",
            time.perf_counter() - t0,
            "s",
            persons=persons,
            bytes=f.stat().st_size,
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{admin.rsplit('/', 1)[0]}/{name}"
        store = EnrolmentStore(url, policy)
        try:
            pid = store.server_pid()
            srv0, cli0 = _proc_cpu(pid), time.process_time()
            out = store.import_collection(f)
            srv1, cli1 = _proc_cpu(pid), time.process_time()
            phases = dict(store.last_phases)
        finally:
            store.close()
        yield record(
            "enrol.import",
            "elapsed",
            out.elapsed_s,
            "s",
            backend="postgres",
            load_1min=round(os.getloadavg()[0], 2),
            rows=out.rows,
            rows_per_s=round(out.rows / out.elapsed_s, 1),
            phases=phases,
            # CPU seconds actually spent: this process (validation, formatting) and the PostgreSQL backend
            # (parsing, indexes, WAL) — on a shared machine the wall clock also counts others' work
            cpu_client_s=round(cli1 - cli0, 2),
            cpu_server_s=round(srv1 - srv0, 2) if srv0 is not None and srv1 is not None else None,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _proc_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a local process (Linux ``/proc``); None when not readable."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run(
    *, persons: int, visits: int, import_persons: int, postgres: bool, pg_url: str | None
) -> Iterator[dict[str, Any]]:
    yield from bench_check(persons, visits)
    if postgres and import_persons > 0:
        yield from bench_import(import_persons, pg_url)
