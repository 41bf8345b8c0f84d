"""``yibao bench batch``: generate a year to Parquet, then settle it with the batch engine.

Settlement runs in a child process so its peak resident memory is measured alone
(``ru_maxrss`` of the child).  Reading Parquet is timed separately from settling.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from yibao.bench.settle import record

_CHILD = """
import json, sys, time
from yibao.batch import settle_batch
from yibao.batch.io import read_inputs
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
book = PolicyBook.from_file(example_path(sys.argv[2]))
t0 = time.perf_counter(); persons, visits, lines = read_inputs(sys.argv[1]); t_read = time.perf_counter() - t0
t0 = time.perf_counter(); r = settle_batch(book, persons, visits, lines); t_settle = time.perf_counter() - t0
print(json.dumps({"read_s": t_read, "settle_s": t_settle, "lines": lines.height, "visits": visits.height,
                  "fund": int(r.visits["fund_pay_sumamt"].sum())}))
"""


def run(persons: int, region: str = "xian", keep: Path | None = None) -> Iterator[dict[str, Any]]:
    from yibao.bench.synth import bench_generate

    with tempfile.TemporaryDirectory(prefix="yibao-bench-") as tmp:
        out = keep or Path(tmp) / "year"
        g = bench_generate(persons, region=region, out_dir=out)
        yield record("synth.generate", "throughput", g["lines_per_s"], "lines/s")
        yield record("synth.generate", "lines", g["lines"], "lines")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(out), region], capture_output=True, text=True, check=True
        )
        wall = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        yield record("batch.settle", "throughput", res["lines"] / res["settle_s"], "lines/s")
        yield record(
            "batch.settle",
            "throughput_incl_read",
            res["lines"] / (res["read_s"] + res["settle_s"]),
            "lines/s",
        )
        yield record("batch.settle", "visits_per_s", res["visits"] / res["settle_s"], "visits/s")
        yield record("batch.settle", "peak_memory", max(peak_kb, before) / 1024, "MB")
        yield record("batch.settle", "process_wall", wall, "s")
