"""The what-if simulator on Spark: both policies settled on the executors, the report from the same metrics.

The line-level work (every fee line split and every visit settled, twice) runs on Spark; the per-visit
results (visit_id and the money fields the report reads) are written as Parquet partitioned by
policy (``<out>/settled/policy=baseline/…``) and read back for the metrics, which are the Polars
simulator's own (:func:`yibao.simulate.core.report_from_settled`), so the report is the same.

``benefit_check``: every visit is checked against the region's enrolment files (beside the visits:
``enrol_persons``, ``enrol_events``, ``resident_premiums``, ``employee_contributions``) on its begin date,
exactly as the Polars simulator does (:func:`yibao.batch.eligibility.attach_eligibility`, on the driver:
the statuses and one small row per visit); the decision columns ride on the visits to the executors, whose
kernel leaves refused visits out and settles self-paid ones with no fund paying.  Data without enrolment
files is simulated unchecked.
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
from yibao.spark.settle import SparkInputs, field_errors, read_inputs, settle_spark

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
    benefit_check: bool = False,
) -> SimulationReport:
    """Read the region at ``source`` (a directory or URL with persons / visits / lines Parquet), settle it
    under both policies on Spark, write the settlements to ``out`` when given, and build the report.
    ``benefit_check``: check each visit against the region's enrolment files first (see the module)."""
    if progress:
        progress("read")
    t0 = time.perf_counter()
    inputs = read_inputs(spark, source)
    checked: pl.DataFrame | None = None
    if benefit_check:
        inputs, checked = _with_eligibility(spark, inputs, source, baseline)
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
    visits = (
        checked
        if checked is not None
        else _polars(inputs.visits.select(*(c for c in VISIT_COLS if c in inputs.visits.columns)))
    )
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


ENROLMENT_FRAMES = (
    ("persons", "enrol_persons"),
    ("events", "enrol_events"),
    ("premiums", "resident_premiums"),
    ("contributions", "employee_contributions"),
)


def _with_eligibility(
    spark: SparkSession, inputs: SparkInputs, source: str, book: PolicyBook
) -> tuple[SparkInputs, pl.DataFrame | None]:
    """The inputs with the benefit check's columns joined onto the visits, and the checked visits as the
    Polars simulator sees them (for the report); the inputs unchanged and None when the region has no
    enrolment file or the data no enrolment files."""
    import os

    from yibao.batch.eligibility import attach_eligibility
    from yibao.enrolment.check import status_frame
    from yibao.enrolment.policy import policy_for_region
    from yibao.enrolment.store import statuses_from_frames
    from yibao.spark.partition import ELIG_VISIT_COLS
    from yibao.spark.settle import _join

    policy = policy_for_region(book.loaded)
    if policy is None:
        return inputs, None
    base = source if "://" in source else os.path.abspath(source)
    frames: dict[str, pl.DataFrame] = {}
    for key, name in ENROLMENT_FRAMES:
        path = _join(base, f"{name}.parquet")
        if "://" not in source and not os.path.exists(path):
            return inputs, None  # no enrolment data: nothing to check against
        try:
            frames[key] = _polars(spark.read.parquet(path))
        except Exception as exc:  # a URL without the file: Spark's AnalysisException (PATH_NOT_FOUND)
            if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
                return inputs, None
            raise
    statuses = status_frame(statuses_from_frames(frames, policy))
    visits = _polars(inputs.visits.select(*(c for c in VISIT_COLS if c in inputs.visits.columns)))
    persons = _polars(inputs.persons.select("psn_id", "psn_no"))
    checked = attach_eligibility(visits, persons, statuses, policy.account_only_med_types)
    cols = spark.createDataFrame(checked.select("visit_id", *ELIG_VISIT_COLS).to_arrow())
    joined = inputs.visits.drop(*(c for c in ELIG_VISIT_COLS if c in inputs.visits.columns)).join(
        cols, on="visit_id", how="left"
    )
    return SparkInputs(inputs.persons, joined, inputs.lines), checked
