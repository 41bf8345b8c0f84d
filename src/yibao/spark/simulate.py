"""The what-if simulator on Spark: both policies settled on the executors, the report from the same metrics.

The line-level work (every fee line split and every visit settled, twice) runs on Spark; the per-visit
results (visit_id and the money fields the report reads) are written as Parquet partitioned by
policy (``<out>/settled/policy=baseline/…``) and read back for the metrics, which are the Polars
simulator's own (:func:`yibao.simulate.core.report_from_settled`), so the report is the same.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import polars as pl

from yibao.policy.book import PolicyBook
from yibao.simulate.assumptions import AnalysisOptions, FundAssumptions, HouseholdModel
from yibao.simulate.core import (
    MONEY_KEEP,
    PERSON_COLS,
    VISIT_COLS,
    Progress,
    SimulationReport,
    report_from_settled,
)
from yibao.spark.settle import field_errors, read_inputs, settle_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _polars(df: DataFrame) -> pl.DataFrame:
    out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out


def simulate_spark(
    spark: SparkSession,
    baseline: PolicyBook,
    candidate: PolicyBook,
    source: str,
    *,
    out: str | None = None,
    partitions: int | None = None,
    fund: FundAssumptions | None = None,
    progress: Progress | None = None,
    household: HouseholdModel | None = None,
    options: AnalysisOptions | None = None,
) -> SimulationReport:
    """Read the region at ``source`` (a directory or URL with persons / visits / lines Parquet), settle it
    under both policies on Spark, write the settlements to ``out`` when given, and build the report."""
    if progress:
        progress("read")
    t0 = time.perf_counter()
    inputs = read_inputs(spark, source)
    seconds: dict[str, float] = {}
    settled: dict[str, pl.DataFrame] = {}
    for name, book in (("baseline", baseline), ("candidate", candidate)):
        if progress:
            progress(name)
        t = time.perf_counter()
        df = settle_spark(spark, book, inputs, partitions=partitions).select("visit_id", *MONEY_KEEP)
        with field_errors():
            if out is not None:
                path = f"{out.rstrip('/')}/settled/policy={name}"
                df.write.mode("overwrite").parquet(path)
                settled[name] = _polars(spark.read.parquet(path))
            else:
                settled[name] = _polars(df)
        seconds[name] = round(time.perf_counter() - t, 3)
    if progress:
        progress("metrics")
    t = time.perf_counter()
    persons = _polars(inputs.persons.select(*(c for c in PERSON_COLS if c in inputs.persons.columns)))
    visits = _polars(inputs.visits.select(*(c for c in VISIT_COLS if c in inputs.visits.columns)))
    report = report_from_settled(
        baseline,
        candidate,
        persons,
        visits,
        settled["baseline"],
        settled["candidate"],
        fund=fund,
        household=household,
        options=options,
    )
    seconds["metrics"] = round(time.perf_counter() - t, 3)
    seconds["read"] = round(time.perf_counter() - t0 - sum(seconds.values()), 3)
    report.meta["seconds"] = seconds
    report.meta["data"] = source
    report.meta["engine"] = "spark"
    return report
