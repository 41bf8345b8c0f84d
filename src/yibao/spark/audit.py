"""The after-the-fact audit (事后审核) on Spark: the rule library run partition by partition.

Most rule kinds look at one person's claims (a line, a visit, a person's year): they run on
partitions of whole persons.  The imaging positive-rate rule compares a provider's exams with each
other: it runs on partitions of whole providers.  Each partition runs the library's own batch query
(:func:`yibao.audit.rules.batch.run_rules` with ``only=`` the partition's rules), so the flags are the
same as on one machine; amounts at stake come from the Spark settlement when asked.

The anomaly models compare providers with region-wide peers and the network model counts co-visits
per provider (docs/SCALE.md: the shuffle it needs); here they run on the driver over the frames read
through Spark, with the same code as on one machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from yibao.audit.flags import FLAG_SCHEMA, conform, empty_flags
from yibao.policy.book import PolicyBook
from yibao.spark.settle import SparkInputs, field_errors, read_inputs, settle_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PROVIDER_KINDS = frozenset({"imaging_positive_rate"})
"""Rule kinds whose statistics span a provider's patients (partitioned by provider, not by person)."""

_SPARK_TYPES = {pl.String(): "string", pl.Int64(): "bigint", pl.Int32(): "int"}
_ARROW_TYPES = {pl.String(): pa.string(), pl.Int64(): pa.int64(), pl.Int32(): pa.int32()}
FLAG_ARROW = pa.schema([(n, _ARROW_TYPES[t]) for n, t in FLAG_SCHEMA.items()])


def flag_ddl() -> str:
    """The flag contract (FLAG_SCHEMA) as a Spark DDL string."""
    return ", ".join(f"{n} {_SPARK_TYPES[t]}" for n, t in FLAG_SCHEMA.items())


def _polars(df: DataFrame) -> pl.DataFrame:
    out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out


def _optional(spark: SparkSession, source: str, name: str) -> pl.DataFrame | None:
    path = f"{source.rstrip('/')}/{name}.parquet"
    if "://" not in source:
        path = os.path.abspath(path)
        if not os.path.exists(path):
            return None
    try:
        return _polars(spark.read.parquet(path))
    except Exception as exc:  # a URL without the file: the table is optional
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            return None
        raise


def rules_on_partitions(
    spark: SparkSession,
    inputs: SparkInputs,
    library: Any,
    knowledge: Any,
    codes: list[str],
    key: str,
    partitions: int,
    settled: DataFrame | None = None,
) -> DataFrame:
    """Flags of the rules ``codes`` with the data partitioned by ``key`` (psn_id or fixmedins_code)."""
    from pyspark.sql import functions as F

    from yibao.audit.rules.batch import run_rules

    pcols = inputs.persons.columns
    persons = inputs.persons.select(*(F.col(c).alias(f"p__{c}") for c in pcols))
    v = inputs.visits.join(persons, F.col("psn_id") == F.col("p__psn_id"), "left")
    if settled is not None:
        s = settled.select(
            F.col("visit_id").alias("s__visit_id"),
            F.col("fund_pay_sumamt").alias("s__fund_pay_sumamt"),
            F.col("medfee_sumamt").alias("s__medfee_sumamt"),
        )
        v = v.join(s, F.col("visit_id") == F.col("s__visit_id"), "left").drop("s__visit_id")
    v = v.withColumn("part", F.expr(f"pmod(xxhash64({key}), {int(partitions)})").cast("int"))
    vp = inputs.visits.select(
        F.col("visit_id").alias("l__visit_id"),
        F.expr(f"pmod(xxhash64({key}), {int(partitions)})").cast("int").alias("part"),
    )
    ln = inputs.lines.join(vp, F.col("visit_id") == F.col("l__visit_id"), "inner").drop("l__visit_id")
    only = set(codes)
    with_settled = settled is not None

    def run(visits: pa.Table, lines: pa.Table) -> pa.Table:
        vf = pl.from_arrow(visits)
        assert isinstance(vf, pl.DataFrame)
        if vf.height == 0:
            return FLAG_ARROW.empty_table()
        prs = (
            vf.select(pl.col(f"p__{c}").alias(c) for c in pcols)
            .filter(pl.col("psn_id").is_not_null())
            .unique("psn_id", keep="first")
            .sort("psn_id")
        )
        sv = (
            vf.select(
                "visit_id",
                pl.col("s__fund_pay_sumamt").alias("fund_pay_sumamt"),
                pl.col("s__medfee_sumamt").alias("medfee_sumamt"),
            )
            if with_settled
            else None
        )
        vv = vf.select([c for c in vf.columns if not c.startswith(("p__", "s__")) and c != "part"])
        lf = pl.from_arrow(lines)
        assert isinstance(lf, pl.DataFrame)
        out = run_rules(library, knowledge, prs, vv, lf.drop("part"), settled=sv, moment="after", only=only)
        return conform(out).to_arrow().cast(FLAG_ARROW)

    return v.groupBy("part").cogroup(ln.groupBy("part")).applyInArrow(run, flag_ddl())


def audit_spark(
    spark: SparkSession,
    source: str,
    *,
    region: str | Path | None = None,
    settle: bool = False,
    use_rules: bool = True,
    use_models: bool = True,
    partitions: int | None = None,
    out: str | None = None,
) -> tuple[pl.DataFrame, bool]:
    """The whole after-the-fact audit of the region at ``source`` → (flag frame, rules used).

    The flags equal :func:`yibao.audit.evaluate.run_audit` on the same data (models first, then rules);
    with ``out`` they are also written as Parquet partitioned by source and rule code."""
    from yibao.audit.evaluate import find_rules
    from yibao.audit.models import run_models
    from yibao.policy.loader import example_path, load_region

    n = partitions or int(spark.conf.get("spark.sql.shuffle.partitions") or 8)
    inputs = read_inputs(spark, source)
    settled_df = None
    if settle:
        book = PolicyBook(load_region(region or example_path("xian")))
        settled_df = settle_spark(spark, book, inputs, partitions=n).select(
            "visit_id", "fund_pay_sumamt", "acct_pay", "medfee_sumamt"
        )
    physicians = _optional(spark, source, "physicians")
    frames: list[pl.DataFrame] = []
    with field_errors():
        settled = _polars(settled_df) if settled_df is not None else None
        if use_models:
            persons, visits, lines = (_polars(f) for f in (inputs.persons, inputs.visits, inputs.lines))
            inst = _optional(spark, source, "institutions")
            frames.append(run_models(persons, visits, lines, settled, institutions=inst))
        fn, _ = find_rules(physicians) if use_rules else (None, {})
        if fn is not None:
            library, knowledge = _library(physicians, _optional(spark, source, "registered_conditions"))
            active = library.active("after")
            parts: list[DataFrame] = []
            by_person = [r.code for r in active if r.kind not in PROVIDER_KINDS]
            by_provider = [r.code for r in active if r.kind in PROVIDER_KINDS]
            settled_spark = spark.createDataFrame(settled.to_arrow()) if settled is not None else None
            for codes, key in ((by_person, "psn_id"), (by_provider, "fixmedins_code")):
                if codes:
                    parts.append(
                        rules_on_partitions(spark, inputs, library, knowledge, codes, key, n, settled_spark)
                    )
            rules = pl.concat([empty_flags(), *(_polars(p) for p in parts)]).sort(
                "rule_code", "visit_id", "feedetl_sn", nulls_last=True
            )
            frames.append(rules)
    flags = pl.concat([empty_flags(), *frames])
    if out is not None:
        write_flags(spark, flags, out)
    return flags, fn is not None


def _library(physicians: pl.DataFrame | None, registered: pl.DataFrame | None = None) -> tuple[Any, Any]:
    """The rule library and the knowledge tables with the region's physician registry and 门慢门特
    register (the over-supply rule allows registered persons their long prescriptions)."""
    from dataclasses import replace

    from yibao.audit import knowledge as know
    from yibao.audit.rules import model

    library = model.load_library()
    knowledge = know.load_knowledge()
    if physicians is not None:
        knowledge = know.with_physicians(knowledge, physicians)
    if registered is not None and knowledge.registered_conditions.height == 0:
        reg = know.from_frames(registered_conditions=registered.cast(pl.String)).registered_conditions
        knowledge = replace(knowledge, registered_conditions=reg)
    return library, knowledge


def write_flags(spark: SparkSession, flags: pl.DataFrame, out: str) -> None:
    """Write ``flags`` as Parquet partitioned by ``source`` and ``rule_code`` (a directory or URL)."""
    target = out if "://" in out else os.path.abspath(out)
    df = spark.createDataFrame(flags.to_arrow(), schema=flag_ddl())
    df.write.mode("overwrite").partitionBy("source", "rule_code").parquet(target)


def read_flags(spark: SparkSession, out: str) -> pl.DataFrame:
    """Flags written by :func:`write_flags`, in the contract's column order."""
    target = out if "://" in out else os.path.abspath(out)
    return conform(_polars(spark.read.parquet(target)))


__all__ = ["PROVIDER_KINDS", "audit_spark", "flag_ddl", "read_flags", "rules_on_partitions", "write_flags"]
