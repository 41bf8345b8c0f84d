"""Batch settlement on Spark: partition by person component, settle each partition with the batch kernel.

The plan (docs/SCALE.md):

1. family-account payments (``account_payer_id`` ≠ ``psn_id``) link persons into components; the
   edges are few (at most one per payer/member pair), so they are collected and labelled on the driver
   and broadcast back as a small (psn_id → component) table;
2. every visit row gets its person's and its payer's attributes (two joins with persons) and a
   partition number ``pmod(xxhash64(component), N)``; every line gets its visit's partition number
   (a join on visit_id — none when the lines already carry ``psn_id``);
3. visits and lines are co-grouped by partition number and each group is settled by
   :func:`yibao.spark.partition.settle_partition` over Arrow tables (``applyInArrow``): the same
   kernel as the Polars batch, so the three executors agree to the fen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from yibao.errors import FieldError
from yibao.policy.book import PolicyBook
from yibao.settlement.model import SettlementError
from yibao.spark.partition import (
    ELIG_VISIT_COLS,
    LINE_COLS,
    PERSON_ATTRS,
    VISIT_COLS,
    accumulator_schema,
    result_schema,
    settle_partition,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_MARK = "YIBAO_FIELD_ERROR:"


@dataclass
class SparkInputs:
    """The three inputs of a settlement as Spark DataFrames (the synth Parquet schema)."""

    persons: DataFrame
    visits: DataFrame
    lines: DataFrame


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def read_inputs(spark: SparkSession, source: str) -> SparkInputs:
    """Read ``persons``, ``visits`` and ``lines`` Parquet from a directory path or a URL
    (``file:///…``, ``s3a://bucket/year``, ``hdfs://…``): ``<source>/persons.parquet`` and so on."""
    import os

    base = source
    if "://" not in source:
        base = os.path.abspath(source)
        for f in ("persons", "visits", "lines"):
            if not os.path.exists(_join(base, f"{f}.parquet")):
                raise FieldError("data", f"缺少 {f}.parquet missing {f}.parquet in {source}")
    persons, visits, lines = (
        spark.read.parquet(_join(base, f"{f}.parquet")) for f in ("persons", "visits", "lines")
    )
    return SparkInputs(persons, visits, lines)


def component_edges(visits: DataFrame) -> np.ndarray:
    """(n, 2) array of distinct (member, payer) pairs of family-account payments, collected to the driver."""
    from pyspark.sql import functions as F

    rows = (
        visits.where((F.col("account_payer_id") >= 0) & (F.col("account_payer_id") != F.col("psn_id")))
        .select(F.col("psn_id").cast("long"), F.col("account_payer_id").cast("long"))
        .distinct()
        .toArrow()
    )
    if rows.num_rows == 0:
        return np.zeros((0, 2), dtype=np.int64)
    return np.column_stack([rows.column(0).to_numpy(), rows.column(1).to_numpy()]).astype(np.int64)


def label_components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(psn_id, component) for every person on an edge: the component is its smallest psn_id."""
    if len(edges) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ids, inv = np.unique(edges.ravel(), return_inverse=True)
    a, b = inv.reshape(-1, 2).T
    comp = np.arange(len(ids))
    while True:
        low = np.minimum(comp[a], comp[b])
        before = comp.copy()
        np.minimum.at(comp, a, low)
        np.minimum.at(comp, b, low)
        comp = comp[comp]
        if np.array_equal(before, comp):
            break
    return ids, ids[comp]


BROADCAST_VISITS = 5_000_000
"""Up to this many visits, the (visit_id → partition) table is broadcast to the lines instead of
shuffling the lines for the join (about 12 bytes a visit)."""


def partitioned(
    spark: SparkSession, inputs: SparkInputs, partitions: int, opening: DataFrame | None = None
) -> tuple[DataFrame, DataFrame]:
    """(visits with person/payer attributes and ``part``, lines with ``part``): step 1 and 2 of the plan.
    ``opening`` (psn_id, year, counter, value) rides on the person's visit rows as ``psn_opening``."""
    from pyspark.sql import functions as F

    psn, comp = label_components(component_edges(inputs.visits))
    comp_df = spark.createDataFrame(pa.table({"psn_id": psn, "comp": comp}))
    part_of = F.expr(f"pmod(xxhash64(coalesce(comp, psn_id)), {int(partitions)})").cast("int")
    p = inputs.persons.select("psn_id", *PERSON_ATTRS)
    own = p.select(F.col("psn_id"), *(F.col(a).alias(f"psn_{a}") for a in PERSON_ATTRS))
    payer = p.select(
        F.col("psn_id").alias("account_payer_id"), *(F.col(a).alias(f"payer_{a}") for a in PERSON_ATTRS)
    )
    v = (
        inputs.visits.select(*VISIT_COLS, *(c for c in ELIG_VISIT_COLS if c in inputs.visits.columns))
        .join(own, on="psn_id", how="left")
        .join(payer, on="account_payer_id", how="left")
        .join(F.broadcast(comp_df), on="psn_id", how="left")
        .withColumn("part", part_of)
        .drop("comp")
    )
    if opening is not None:
        per_person = opening.groupBy("psn_id").agg(
            F.collect_list(
                F.struct(
                    F.col("year").cast("int").alias("year"),
                    F.col("counter").cast("string").alias("counter"),
                    F.col("value").cast("long").alias("value"),
                )
            ).alias("psn_opening")
        )
        v = v.join(per_person, on="psn_id", how="left")
    lines = inputs.lines
    if "psn_id" in lines.columns:  # a 2204-style export names the person on each line: no join needed
        ln = (
            lines.join(F.broadcast(comp_df), on="psn_id", how="left")
            .withColumn("part", part_of)
            .select(*LINE_COLS, "part")
        )
    else:
        vp = inputs.visits.select("visit_id", "psn_id").join(F.broadcast(comp_df), on="psn_id", how="left")
        vp = vp.select("visit_id", part_of.alias("line_part"))
        if inputs.visits.count() <= BROADCAST_VISITS:
            vp = F.broadcast(vp)
        ln = (
            lines.select(*LINE_COLS)
            .join(vp, on="visit_id", how="inner")
            .select(*LINE_COLS, F.col("line_part").alias("part"))
        )
    return v, ln


def _raise_marked(exc: SettlementError) -> None:
    raise RuntimeError(_MARK + json.dumps([exc.field, exc.reason, exc.code], ensure_ascii=False)) from exc


@contextmanager
def field_errors() -> Iterator[None]:
    """Turn a SettlementError raised on an executor back into the SettlementError it was (field, reason)."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        i = text.find(_MARK)
        if i < 0:
            raise
        payload = text[i + len(_MARK) :]
        field, reason, code = json.JSONDecoder().raw_decode(payload)[0]
        raise SettlementError(field, reason, code) from None


def settle_spark(
    spark: SparkSession,
    book: PolicyBook,
    inputs: SparkInputs,
    *,
    partitions: int | None = None,
    opening: DataFrame | None = None,
) -> DataFrame:
    """Settle every visit in time order per person on Spark; one row per visit with the batch's
    columns (visit_id, the 2207 money fields, pool_prop_selfpay).  ``opening``: accumulators at the
    start of the period (psn_id, year, counter, value).  Lazy: an action runs it (wrap the action in
    :func:`field_errors` to get input errors back as SettlementError)."""
    from pyspark.sql.types import StructType

    n = partitions or int(spark.conf.get("spark.sql.shuffle.partitions") or 8)
    v, ln = partitioned(spark, inputs, n, opening)
    schema = StructType.fromJson(json.loads(_spark_schema_json(result_schema())))

    def settle_group(visits: pa.Table, lines: pa.Table) -> pa.Table:
        try:
            out, _ = settle_partition(book, visits, lines)
        except SettlementError as exc:
            _raise_marked(exc)
        return out

    return v.groupBy("part").cogroup(ln.groupBy("part")).applyInArrow(settle_group, schema)


def closing_accumulators(
    spark: SparkSession,
    book: PolicyBook,
    inputs: SparkInputs,
    *,
    partitions: int | None = None,
    opening: DataFrame | None = None,
) -> DataFrame:
    """The accumulators after the period, one row per (psn_id, year, counter) with a non-zero value."""
    from pyspark.sql.types import StructType

    n = partitions or int(spark.conf.get("spark.sql.shuffle.partitions") or 8)
    v, ln = partitioned(spark, inputs, n, opening)
    schema = StructType.fromJson(json.loads(_spark_schema_json(accumulator_schema())))

    def group_acc(visits: pa.Table, lines: pa.Table) -> pa.Table:
        try:
            _, acc = settle_partition(book, visits, lines, accumulators=True)
        except SettlementError as exc:
            _raise_marked(exc)
        assert acc is not None
        return acc

    return v.groupBy("part").cogroup(ln.groupBy("part")).applyInArrow(group_acc, schema)


_TYPES: dict[Any, str] = {pa.int64(): "long", pa.int32(): "integer", pa.string(): "string"}


def _spark_schema_json(schema: pa.Schema) -> str:
    return json.dumps(
        {
            "type": "struct",
            "fields": [
                {"name": f.name, "type": _TYPES[f.type], "nullable": True, "metadata": {}} for f in schema
            ],
        }
    )
