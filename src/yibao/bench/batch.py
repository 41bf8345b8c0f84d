"""``yibao bench batch``: generate a year to Parquet (or take one already generated), then settle it with
the batch engine.

Each settlement runs in a fresh child process, so its peak resident memory is its own (``ru_maxrss``
of the child) and nothing is warm.  Reading Parquet is timed apart from settling; the settle stage
reports its wall time and its CPU time (user + system over all threads, and the system part alone) — on a
shared machine the CPU figure, lines per CPU-second, moves much less with other people's load than the
wall figure.  With ``compare`` the runs alternate between this tree and another checkout's ``src`` on the
same files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from yibao.bench.settle import record

_CHILD = """
import json, os, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def sys_cpu():
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime
from yibao.batch import settle_batch
from yibao.batch.io import read_inputs
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
book = PolicyBook.from_file(example_path(sys.argv[2]))
t0 = time.perf_counter(); persons, visits, lines = read_inputs(sys.argv[1]); t_read = time.perf_counter() - t0
c0 = cpu(); s0 = sys_cpu(); t0 = time.perf_counter()
r = settle_batch(book, persons, visits, lines)
t_settle = time.perf_counter() - t0; c_settle = cpu() - c0; s_settle = sys_cpu() - s0
print(json.dumps({"read_s": t_read, "settle_s": t_settle, "settle_cpu_s": c_settle, "settle_sys_s": s_settle,
                  "lines": lines.height,
                  "visits": visits.height, "fund": int(r.visits["fund_pay_sumamt"].sum()),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def settle_once(year: Path, region: str, src: str | None = None) -> dict[str, Any]:
    """Settle the generated ``year`` in a fresh process (``src``: another checkout's ``src`` directory to
    import yibao from); its timings, lines, peak RSS and the total fund payment (a check that two trees
    agree)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(year), region], capture_output=True, text=True, check=True, env=env
    )
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = time.perf_counter() - t0
    res["load1"] = load
    return res


def run_record(res: dict[str, Any], tree: str) -> dict[str, Any]:
    """One JSON line per settlement: lines, wall, CPU, lines/s, lines per CPU-second, peak RSS, load."""
    return {
        "bench": "batch.settle",
        "metric": "run",
        "tree": tree,
        "lines": res["lines"],
        "visits": res["visits"],
        "wall_s": round(res["settle_s"], 3),
        "cpu_s": round(res["settle_cpu_s"], 3),
        "sys_s": round(res["settle_sys_s"], 3),  # of cpu_s, the kernel's (page faults, mostly)
        "lines_per_s": round(res["lines"] / res["settle_s"]),
        "lines_per_cpu_s": round(res["lines"] / res["settle_cpu_s"]),
        "read_s": round(res["read_s"], 3),
        "process_wall_s": round(res["process_wall_s"], 3),
        "peak_rss_mb": round(res["peak_rss_mb"], 1),
        "fund_fen": res["fund"],
        "load1": round(res["load1"], 2),
    }


def run(
    persons: int,
    region: str = "xian",
    keep: Path | None = None,
    data: Path | None = None,
    repeat: int = 1,
    compare: str | None = None,
) -> Iterator[dict[str, Any]]:
    """JSON records: generation throughput (unless ``data`` names a generated year), then ``repeat``
    settlements, each in a fresh process (alternating with the ``compare`` checkout when given)."""
    from yibao.bench.synth import bench_generate

    with tempfile.TemporaryDirectory(prefix="yibao-bench-") as tmp:
        out = data or keep or Path(tmp) / "year"
        if data is None:
            g = bench_generate(persons, region=region, out_dir=out)
            yield record("synth.generate", "throughput", g["lines_per_s"], "lines/s")
            yield record("synth.generate", "lines", g["lines"], "lines")
        for _ in range(repeat):
            res = settle_once(out, region)
            yield run_record(res, "this")
            if compare is not None:
                yield run_record(settle_once(out, region, compare), compare)
        yield record("batch.settle", "throughput", res["lines"] / res["settle_s"], "lines/s")
        yield record(
            "batch.settle",
            "throughput_incl_read",
            res["lines"] / (res["read_s"] + res["settle_s"]),
            "lines/s",
        )
        yield record("batch.settle", "lines_per_cpu_s", res["lines"] / res["settle_cpu_s"], "lines/CPU-s")
        yield record("batch.settle", "visits_per_s", res["visits"] / res["settle_s"], "visits/s")
        yield record("batch.settle", "peak_memory", res["peak_rss_mb"], "MB")
        yield record("batch.settle", "process_wall", res["process_wall_s"], "s")
