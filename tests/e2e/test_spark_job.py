"""The spark-submit job (yibao/spark/job.py) run as a program: results and closing accumulators on disk
equal the Polars batch; bad input exits 2 naming the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from yibao.batch import settle_batch
from yibao.batch.io import read_inputs
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.synth import generate


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env["PYSPARK_SUBMIT_ARGS"] = "--master local[1] --conf spark.ui.enabled=false pyspark-shell"
    return subprocess.run(
        [sys.executable, "-m", "yibao.spark.job", *args], capture_output=True, text=True, env=env, timeout=900
    )


def test_the_submit_job_writes_what_the_batch_computes(tmp_path: Path) -> None:
    data, out = tmp_path / "year", tmp_path / "out"
    generate(example_path("weinan"), data, persons=300, seed=51)
    proc = _run(
        "--policy", str(example_path("weinan")), "--source", str(data), "--out", str(out), "--partitions", "3"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    persons, visits, lines = read_inputs(data)
    res = settle_batch(PolicyBook.from_file(example_path("weinan")), persons, visits, lines)
    got = pl.read_parquet(out / "visits" / "**" / "*.parquet", hive_partitioning=True).drop("bucket")
    assert got.sort("visit_id").equals(res.visits.sort("visit_id"))
    acc = pl.read_parquet(out / "accumulators" / "**" / "*.parquet", hive_partitioning=True)
    key = ["psn_id", "year", "counter"]
    assert (
        acc.select(*key, "value")
        .with_columns(pl.col("year").cast(pl.Int32))
        .sort(key)
        .equals(res.closing().sort(key))
    )
    bad = _run("--policy", str(example_path("xian")), "--source", str(tmp_path / "none"), "--out", str(out))
    assert bad.returncode == 2 and "persons.parquet" in bad.stderr
