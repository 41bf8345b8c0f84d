"""``yibao bench audit``: the whole rule library (and the anomaly models, when present) over a synthetic
region of about ``lines`` fee lines; and the settlement engine with and without the in-event hook.

Output: JSON-line records as :func:`yibao.bench.settle.record` makes them.  Generating and reading the
region are timed apart from the audit; ``audit.full`` / ``elapsed`` is rules + models + queue.  Each audit
stage also reports ``cpu``: CPU seconds of the whole process (every polars and scikit-learn thread) while it
ran — on a shared machine the wall time mostly measures the other work, the CPU seconds do not.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.bench.settle import record

LINES_PER_PERSON = 30  # synth average with per-day lines of stays (docs/SYNTH.md calibration table)


def _region(lines: int, seed: int, cache_dir: Path | None) -> tuple[Path, float | None]:
    from yibao.policy.loader import example_path
    from yibao.synth.generator import GENERATOR_VERSION, generate

    persons = max(lines // LINES_PER_PERSON, 1_000)
    version = GENERATOR_VERSION.rsplit("/", 1)[-1]  # a region of an older generator is not reused
    out = (cache_dir or Path("/tmp")) / f"yibao-audit-bench-{persons}-s{seed}-g{version}"
    if (out / "manifest.json").exists():
        return out, None
    t0 = time.perf_counter()
    generate(example_path("xian"), out, persons, 2025, seed, limits=prescribing_limits())
    return out, time.perf_counter() - t0


def bench_audit(
    lines: int = 10_000_000, *, seed: int = 1, cache_dir: Path | None = None, models: bool = True
) -> Iterator[dict[str, Any]]:
    """Rules (+ models) over a cached synth region of about ``lines`` lines."""
    from yibao.audit.knowledge import load_knowledge, with_region
    from yibao.audit.rules.batch import run_rules
    from yibao.audit.rules.model import load_library

    def clock() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    path, gen_s = _region(lines, seed, cache_dir)
    if gen_s is not None:
        yield record("audit.synth", "elapsed", gen_s, "s")
    t0 = time.perf_counter()
    persons = pl.read_parquet(path / "persons.parquet")
    visits = pl.read_parquet(path / "visits.parquet")
    fee_lines = pl.read_parquet(path / "lines.parquet")
    institutions = pl.read_parquet(path / "institutions.parquet")
    yield record("audit.read", "elapsed", time.perf_counter() - t0, "s")
    n = fee_lines.height
    yield record("audit.full", "lines", n, "lines")
    # the whole library: the title rule needs the physician registry, over-supply the 门慢门特 register
    library, knowledge = load_library(), with_region(load_knowledge(), path)
    t0, c0 = clock()
    flags = run_rules(library, knowledge, persons, visits, fee_lines)
    t_rules, c_rules = (a - b for a, b in zip(clock(), (t0, c0), strict=True))
    yield record("audit.rules", "elapsed", t_rules, "s")
    yield record("audit.rules", "cpu", c_rules, "s")
    yield record("audit.rules", "throughput", n / t_rules, "lines/s")
    yield record("audit.rules", "flags", flags.height, "flags")
    t_models = c_models = 0.0
    if models:
        try:
            from yibao.audit.models import run_models
        except ImportError:  # the models package is built separately; rules alone are still measured
            run_models = None  # type: ignore[assignment]
        if run_models is not None:
            t0, c0 = clock()
            mflags = run_models(persons, visits, fee_lines, institutions=institutions)
            t_models, c_models = (a - b for a, b in zip(clock(), (t0, c0), strict=True))
            yield record("audit.models", "elapsed", t_models, "s")
            yield record("audit.models", "cpu", c_models, "s")
            yield record("audit.models", "throughput", n / t_models, "lines/s")
            yield record("audit.models", "flags", mflags.height, "flags")
    # the review queue: score every flag, rank the visits
    from yibao.audit.queue import score_flags, visit_queue

    t0, c0 = clock()
    allf = pl.concat([flags, mflags]) if models and t_models else flags
    scored, _ = score_flags(allf, visits.height, knowledge.flag_calibration, curves=knowledge.flag_isotonic)
    queue = visit_queue(scored)
    t_queue, c_queue = (a - b for a, b in zip(clock(), (t0, c0), strict=True))
    yield record("audit.queue", "elapsed", t_queue, "s")
    yield record("audit.queue", "cpu", c_queue, "s")
    yield record("audit.queue", "visits", queue.height, "visits")
    total = t_rules + t_models + t_queue
    yield record("audit.full", "elapsed", total, "s")
    yield record("audit.full", "cpu", c_rules + c_models + c_queue, "s")
    yield record("audit.full", "throughput", n / total, "lines/s")


def bench_settle_hook(visits: int = 100_000) -> Iterator[dict[str, Any]]:
    """``settle.engine`` throughput on the settle benchmark's twenty-line visits, without and with the
    in-event audit hook (the same visits, interleaved runs, best of three each)."""
    from yibao.audit.knowledge import load_knowledge
    from yibao.audit.moments import settlement_hook
    from yibao.audit.rules.model import load_library
    from yibao.bench.settle import twenty_line_visits
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path, load_region
    from yibao.settlement.engine import settle_visit
    from yibao.settlement.model import Person

    book = PolicyBook(load_region(example_path("xian")))
    policy = book.for_date(dt.date(2025, 6, 1))
    emp = next(p for p in book.loaded.region.person_types if p.group == "in_service")
    person = Person("P0000001", "基准", "610100199001010011", "M", dt.date(1990, 1, 1), emp.scheme, emp.code)
    pool = twenty_line_visits(book, 2_000)
    hook = settlement_hook(load_library(), load_knowledge())
    findings = sum(len(hook(person, v)) for v in pool)
    accs: list[dict[str, int]] = [{}, {"emp-ip-ded": 50_000}]

    def run(h: Any) -> float:
        t0 = time.perf_counter()
        for k in range(visits):
            settle_visit(policy, person, pool[k % len(pool)], accs[k & 1], 100_000, audit=h)
        return time.perf_counter() - t0

    run(None)
    run(hook)
    best: dict[str, float] = {"plain": float("inf"), "hook": float("inf")}
    for _ in range(3):
        best["plain"] = min(best["plain"], run(None))
        best["hook"] = min(best["hook"], run(hook))
    yield record("settle.engine", "throughput", visits / best["plain"], "visits/s")
    yield record("settle.engine+audit", "throughput", visits / best["hook"], "visits/s")
    yield record("settle.engine+audit", "findings_per_visit", findings / len(pool), "findings")
    yield from _replay(policy, visits)


def _replay(policy: Any, visits: int) -> Iterator[dict[str, Any]]:
    """The same comparison on realistic claims: a small synth region's visits replayed through the engine
    (the twenty-line benchmark visits draw items at random, without diagnoses, so most lines break a rule)."""
    import tempfile

    from yibao.audit.knowledge import load_knowledge, with_physicians
    from yibao.audit.moments import settlement_hook, visits_from_frames
    from yibao.audit.rules.model import load_library
    from yibao.policy.loader import example_path
    from yibao.settlement.engine import settle_visit
    from yibao.synth.generator import generate

    with tempfile.TemporaryDirectory(prefix="yibao-audit-hook-") as tmp:
        generate(example_path("xian"), tmp, 3_000, 2025, 7, limits=prescribing_limits())
        p, v, ln, dr = (
            pl.read_parquet(Path(tmp) / f"{n}.parquet") for n in ("persons", "visits", "lines", "physicians")
        )
    # the whole library on realistic claims: the title rule checks against the region's physician registry
    hook = settlement_hook(load_library(), with_physicians(load_knowledge(), dr))
    every = [(person, visit) for _, person, visit in visits_from_frames(p, v, ln)]
    inpatient = [c for c in every if c[1].med_type == "21"]
    for name, claims in (("settle.replay", every), ("settle.replay_inpatient", inpatient)):
        n_lines = sum(len(c[1].lines) for c in claims)
        findings = sum(len(hook(person, visit)) for person, visit in claims)

        def run(h: Any, claims: list[Any] = claims) -> float:
            t0 = time.perf_counter()
            for k in range(visits):
                person, visit = claims[k % len(claims)]
                settle_visit(policy, person, visit, {}, 0, audit=h)
            return time.perf_counter() - t0

        best = {"plain": float("inf"), "hook": float("inf")}
        for _ in range(3):
            best["plain"] = min(best["plain"], run(None))
            best["hook"] = min(best["hook"], run(hook))
        yield record(name, "throughput", visits / best["plain"], "visits/s")
        yield record(f"{name}+audit", "throughput", visits / best["hook"], "visits/s")
        yield record(f"{name}+audit", "lines_per_visit", n_lines / len(claims), "lines")
        yield record(f"{name}+audit", "findings_per_visit", findings / len(claims), "findings")


def run(
    lines: int = 10_000_000, settle_visits: int = 100_000, seed: int = 1, cache_dir: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Everything ``yibao bench audit`` prints, with the host's 1-minute load average before and after (the
    figures mean little on a machine that is busy with other work); ``settle_visits`` 0 leaves out the
    in-event hook benchmark."""
    yield record("host", "load_1m", os.getloadavg()[0], "load")
    # 1 when polars' allocator keeps freed pages (benchmarks/audit.sh sets it; docs/AUDIT_EVALUATION.md)
    kept = "dirty_decay_ms:-1" in os.environ.get("_RJEM_MALLOC_CONF", "")
    yield record("host", "allocator_keeps_pages", float(kept), "flag")
    if settle_visits > 0:
        yield from bench_settle_hook(settle_visits)
    yield from bench_audit(lines, seed=seed, cache_dir=cache_dir)
    yield record("host", "load_1m", os.getloadavg()[0], "load")
