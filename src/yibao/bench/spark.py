"""``yibao bench spark``: batch settlement on Spark in local mode, by size and executor cores.

For each size (lines) a synthetic year is generated once (about 25 lines a person; kept under
``--data`` so re-runs reuse it), then each core count runs in a fresh process: a SparkSession
``local[N]`` starts (timed apart), the settlement runs once to a ``noop`` sink (every partition
settled, nothing written), and a second job measures the cost of each partition inside its Python
worker (the batch kernel's seconds for that partition's lines) — the figure docs/SCALE.md scales to a
cluster.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LINES_PER_PERSON = 25

_CHILD = r"""
import json, sys, time
import pyarrow as pa
t0 = time.perf_counter()
from yibao.spark import spark_session, read_inputs, settle_spark, field_errors
from yibao.spark.settle import partitioned
from yibao.spark.partition import settle_partition
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
data, cores, parts, region = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
spark = spark_session(f"local[{cores}]", shuffle_partitions=parts, driver_memory=sys.argv[5])
t_start = time.perf_counter() - t0
book = PolicyBook.from_file(example_path(region))
inputs = read_inputs(spark, data)
lines = inputs.lines.count()
visits = inputs.visits.count()
t0 = time.perf_counter()
with field_errors():
    settle_spark(spark, book, inputs, partitions=parts).write.format("noop").mode("overwrite").save()
t_settle = time.perf_counter() - t0

def cost(v, ln):
    t = time.perf_counter()
    settle_partition(book, v, ln)
    return pa.table({"visits": [v.num_rows], "lines": [ln.num_rows], "seconds": [time.perf_counter() - t]})

vp, lp = partitioned(spark, inputs, parts)
per = vp.groupBy("part").cogroup(lp.groupBy("part")).applyInArrow(cost, "visits long, lines long, seconds double")
per = per.toArrow().to_pydict()
spark.stop()
print(json.dumps({"start_s": t_start, "settle_s": t_settle, "lines": lines, "visits": visits,
                  "partitions": per}))
"""


def _record(metric: str, value: float, unit: str, **fields: Any) -> dict[str, Any]:
    return {"bench": "spark.batch", "metric": metric, "value": round(value, 3), "unit": unit, **fields}


def ensure_year(lines: int, data: Path, region: str = "xian", seed: int = 7) -> Path:
    """A synthetic year of about ``lines`` fee lines under ``data`` (generated once, then reused)."""
    from yibao.policy.loader import example_path
    from yibao.synth.generator import generate

    persons = max(lines // LINES_PER_PERSON, 100)
    out = data / f"{region}-{persons}-{seed}"
    if not (out / "manifest.json").exists():
        generate(example_path(region), out, persons=persons, seed=seed)
    return out


def run(
    sizes: list[int],
    cores: list[int],
    *,
    data: Path,
    region: str = "xian",
    partition_lines: int = 1_000_000,
    driver_memory: str = "6g",
) -> Iterator[dict[str, Any]]:
    """JSON records: ``spark.batch`` throughput (lines/s) per size and core count, session start, and the
    cost per partition (seconds, lines, microseconds a line)."""
    for size in sizes:
        year = ensure_year(size, data, region)
        for n in cores:
            parts = max(2 * n, math.ceil(size / partition_lines))
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(year), str(n), str(parts), region, driver_memory],
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-4000:])
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            per = res["partitions"]
            base = {"lines": res["lines"], "visits": res["visits"], "cores": n, "partitions": parts}
            yield _record("throughput", res["lines"] / res["settle_s"], "lines/s", **base)
            yield _record("settle_wall", res["settle_s"], "s", **base)
            yield _record("session_start", res["start_s"], "s", **base)
            yield _record("process_wall", wall, "s", **base)
            secs, lns = per["seconds"], per["lines"]
            yield _record(
                "partition_cost",
                sum(secs) / len(secs),
                "s",
                **base,
                max_s=round(max(secs), 3),
                mean_lines=round(sum(lns) / len(lns)),
                us_per_line=round(1e6 * sum(secs) / max(sum(lns), 1), 3),
            )
