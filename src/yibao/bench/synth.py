"""``synth.generate`` throughput, for ``yibao bench batch``."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.policy.loader import example_path
from yibao.synth.generator import DEFAULT_CHUNK, generate


def bench_generate(
    n_persons: int,
    region: str = "xian",
    seed: int = 1,
    out_dir: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> dict[str, Any]:
    """Generate ``n_persons`` to Parquet (a temporary directory unless ``out_dir``) and time it."""
    tmp = None
    if out_dir is None:
        tmp = tempfile.mkdtemp(prefix="yibao-synth-")
        out_dir = tmp
    path = Path(region) if Path(region).exists() else example_path(region)
    try:
        t0 = time.perf_counter()
        m = generate(
            path, out_dir, persons=n_persons, seed=seed, chunk_size=chunk_size, limits=prescribing_limits()
        )
        elapsed = time.perf_counter() - t0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    lines = m.rows["lines"]
    return {
        "name": "synth.generate",
        "metric": "throughput",
        "unit": "lines/s",
        "value": round(lines / elapsed, 1),
        "lines_per_s": round(lines / elapsed, 1),
        "elapsed_s": round(elapsed, 3),
        "persons": n_persons,
        "visits": m.rows["visits"],
        "lines": lines,
        "chunk_size": chunk_size,
    }
