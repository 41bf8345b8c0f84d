"""``yibao bench drg``: grouping throughput on a large batch (JSON lines, as ``yibao bench settle``)."""

from __future__ import annotations

import json
import os
import resource
import time
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
    """``n`` distinct cases for ``scheme``: demo cases from the synthetic region's code set, or for MS-DRG
    the seeded v43 case generator of tools/compare_msdrg.py's kind (pdx / sdx / POA / procedures)."""
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
    return recs


def bench_drg_cmd(
    cases: int = 1_000_000, scheme: str = "chs-drg-demo", workers: int = 2, all_schemes: bool = False
) -> None:
    """Typer entry (``benchmarks/drg.sh``): print drg.group JSON lines for one scheme, or for every shipped one."""
    from yibao.drg.loader import scheme_ids

    for sid in scheme_ids() if all_schemes else [scheme]:
        bench_drg(cases, sid, workers)
