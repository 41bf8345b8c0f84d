"""Benchmark of the anomaly models (JSON lines like ``yibao.bench.settle``): ``audit.models`` elapsed / throughput.

Generates a region (``persons``, ``seed``) with every scenario injected into a temporary directory, then
times one ``run_models`` call over all of it.  Generation and injection are reported separately and are
not part of the model figure.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from yibao.audit.knowledge.limits import prescribing_limits


def record(bench: str, metric: str, value: float, unit: str) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit}


def run(
    persons: int = 400_000, seed: int = 7, work_dir: str | Path | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the benchmark records (about 10M lines at the default 400,000 persons)."""
    from yibao.audit.models import run_models
    from yibao.audit.scenarios import SCENARIOS
    from yibao.audit.scenarios.apply import inject_dir
    from yibao.policy.loader import example_path
    from yibao.synth.generator import generate

    with tempfile.TemporaryDirectory(prefix="yibao-bench-audit-models-") as tmp:
        d = Path(work_dir) if work_dir is not None else Path(tmp)
        t0 = time.perf_counter()
        generate(example_path("xian"), d, persons, seed=seed, limits=prescribing_limits())
        yield record("audit.models.generate", "elapsed", time.perf_counter() - t0, "s")
        t0 = time.perf_counter()
        inject_dir(d, SCENARIOS, seed)
        yield record("audit.models.inject", "elapsed", time.perf_counter() - t0, "s")
        p, v, ln, inst = (
            pl.read_parquet(d / f"{f}.parquet") for f in ("persons", "visits", "lines", "institutions")
        )
    t0 = time.perf_counter()
    flags = run_models(p, v, ln, institutions=inst)
    el = time.perf_counter() - t0
    yield record("audit.models", "elapsed", el, "s")
    yield record("audit.models", "throughput", ln.height / el, "lines/s")
    yield record("audit.models", "lines", ln.height, "lines")
    yield record("audit.models", "flags", flags.height, "flags")
