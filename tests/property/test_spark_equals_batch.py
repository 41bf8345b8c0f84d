"""One semantics, three executors: Spark (local mode) == the Polars batch == the real-time engine, to the fen.

The partition function is checked on many random cases without Spark (any split of the persons into
whole components settles the same); then fewer cases go through a real local SparkSession.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_batch_equals_engine import (
    BOOK,
    build,
    random_cases,
    realtime,
    visit_st,
)

from yibao.batch import settle_batch
from yibao.batch.io import read_inputs as read_polars
from yibao.batch.settle import MONEY_OUT
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import SettlementError
from yibao.spark import SparkInputs, field_errors, read_inputs, settle_partition, settle_spark
from yibao.spark.partition import PERSON_ATTRS, VISIT_COLS
from yibao.spark.settle import label_components
from yibao.synth import generate, read_visits_as_engine_inputs

RESULT = ["visit_id", *MONEY_OUT, "pool_prop_selfpay"]


def _attach(persons: pl.DataFrame, visits: pl.DataFrame) -> pl.DataFrame:
    """Visit rows with their person's and payer's attributes, as the Spark plan builds them."""
    p = persons.select("psn_id", *PERSON_ATTRS)
    return (
        visits.select(*VISIT_COLS)
        .join(p.rename({a: f"psn_{a}" for a in PERSON_ATTRS}), on="psn_id", how="left")
        .join(
            p.rename({"psn_id": "account_payer_id", **{a: f"payer_{a}" for a in PERSON_ATTRS}}),
            on="account_payer_id",
            how="left",
        )
    )


def settle_in_pieces(
    book: PolicyBook, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame, pieces: int, seed: int
) -> pl.DataFrame:
    """Split the persons' components at random into ``pieces`` partitions and settle each one alone."""
    edges = (
        visits.filter((pl.col("account_payer_id") >= 0) & (pl.col("account_payer_id") != pl.col("psn_id")))
        .select("psn_id", "account_payer_id")
        .to_numpy()
    )
    ids, comp = label_components(edges.astype(np.int64))
    comp_of = dict(zip(ids.tolist(), comp.tolist(), strict=True))
    rng = np.random.default_rng(seed)
    salt = {c: int(rng.integers(pieces)) for c in set(comp_of.values()) | set(visits["psn_id"].to_list())}
    v = _attach(persons, visits).with_columns(
        pl.col("psn_id").map_elements(lambda p: salt[comp_of.get(p, p)], return_dtype=pl.Int64).alias("part")
    )
    ln = lines.join(v.select("visit_id", "part"), on="visit_id")
    out = []
    for k in range(pieces):
        vk = v.filter(pl.col("part") == k).drop("part")
        lk = ln.filter(pl.col("part") == k).drop("part")
        res, _ = settle_partition(book, vk.to_arrow(), lk.to_arrow())
        out.append(pl.from_arrow(res))
    return pl.concat(out).sort("visit_id")  # type: ignore[arg-type]


def _rows(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    return {
        f"V{r['visit_id']}": {k: r[k] for k in (*MONEY_OUT, "pool_prop_selfpay")}
        for r in frame.iter_rows(named=True)
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(visit_st, min_size=1, max_size=40), st.integers(1, 4), st.integers(0, 10_000))
def test_any_split_into_whole_components_settles_like_the_engine(
    visits: list[tuple], pieces: int, seed: int
) -> None:
    persons, vdf, ldf, pairs = build(visits)
    expected, _ = realtime(pairs)
    got = _rows(settle_in_pieces(BOOK, persons, vdf, ldf, pieces, seed))
    assert got == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_cases(), st.integers(1, 4), st.integers(0, 10_000))
def test_partitions_agree_with_the_engine_on_random_policies(case: Any, pieces: int, seed: int) -> None:
    book, persons, vdf, ldf, expected, _accumulators = case
    assert _rows(settle_in_pieces(book, persons, vdf, ldf, pieces, seed)) == expected


def _spark_inputs(
    spark: Any, persons: pl.DataFrame, visits: pl.DataFrame, lines: pl.DataFrame
) -> SparkInputs:
    return SparkInputs(*(spark.createDataFrame(f.to_arrow()) for f in (persons, visits, lines)))


def _collect(df: Any) -> pl.DataFrame:
    with field_errors():
        out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out.sort("visit_id")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=random_cases(), partitions=st.integers(1, 5))
def test_spark_agrees_with_the_engine_and_the_batch_on_random_policies(
    spark: Any, case: Any, partitions: int
) -> None:
    book, persons, vdf, ldf, expected, _accumulators = case
    got = _collect(settle_spark(spark, book, _spark_inputs(spark, persons, vdf, ldf), partitions=partitions))
    assert _rows(got) == expected
    assert got.equals(settle_batch(book, persons, vdf, ldf).visits.select(RESULT).sort("visit_id"))


def test_spark_reports_an_unknown_item_code_naming_the_field(spark: Any) -> None:
    persons, vdf, ldf, _ = build([(0, "11", "1", 10, "local", False, True, False, [("A01", 100, 1)])])
    ldf = ldf.with_columns(pl.lit("NOPE").alias("code"))
    with pytest.raises(SettlementError) as e:
        _collect(settle_spark(spark, BOOK, _spark_inputs(spark, persons, vdf, ldf)))
    assert e.value.field == "lines.code" and "NOPE" in e.value.reason


@pytest.mark.parametrize(("region", "seed"), [("xian", 21), ("weinan", 22)])
def test_a_synthetic_year_spark_equals_batch_equals_engine(
    spark: Any, tmp_path: Path, region: str, seed: int
) -> None:
    out = tmp_path / region
    generate(example_path(region), out, persons=1_500, year=2025, seed=seed)
    book = PolicyBook.from_file(example_path(region))
    got = _collect(settle_spark(spark, book, read_inputs(spark, str(out)), partitions=4))
    persons, visits, lines = read_polars(out)
    batch = settle_batch(book, persons, visits, lines).visits.select(RESULT).sort("visit_id")
    assert got.equals(batch)
    ids = dict(zip(visits["mdtrt_id"].to_list(), visits["visit_id"].to_list(), strict=True))
    rows = {r["visit_id"]: r for r in got.iter_rows(named=True)}
    balances = dict(zip(persons["psn_id"].to_list(), persons["account_balance"].to_list(), strict=True))
    schemes = dict(zip(persons["psn_id"].to_list(), persons["insutype"].to_list(), strict=True))
    acc: dict[tuple[str, int], dict[str, int]] = {}
    n = 0
    for person, visit in read_visits_as_engine_inputs(out):
        a = acc.setdefault((person.psn_no, visit.begin_date.year), {})
        payer = int((visit.account_psn_no or person.psn_no)[1:])
        s = settle_visit(book.for_date(visit.begin_date), person, visit, a, balances[payer], schemes[payer])
        for k, v in s.deltas.items():
            a[k] = a.get(k, 0) + v
        balances[payer] -= s.acct_pay
        row = rows[ids[visit.mdtrt_id]]
        assert {f: row[f] for f in MONEY_OUT} == {f: getattr(s, f) for f in MONEY_OUT}, visit.mdtrt_id
        n += 1
    assert n == got.height > 3_000
    assert int(got["acct_mulaid_pay"].sum()) > 0  # family-account payments crossed partitions' persons


def test_a_synthetic_year_with_its_benefit_check_spark_equals_batch(spark: Any, tmp_path: Path) -> None:
    """The generated region's enrolment checked on every visit: Spark carries the decision columns to its
    partitions and settles exactly what the batch settles (refused visits by neither)."""
    from yibao.batch.eligibility import with_region_eligibility

    out = tmp_path / "xian"
    generate(example_path("xian"), out, persons=1_500, year=2025, seed=23)
    book = PolicyBook.from_file(example_path("xian"))
    persons, visits, lines = read_polars(out)
    checked = with_region_eligibility(out, book.loaded, visits)
    assert (checked["elig_decision"] == 2).any() and (checked["elig_decision"] == 1).any()
    inputs = read_inputs(spark, str(out))
    inputs = SparkInputs(inputs.persons, spark.createDataFrame(checked.to_arrow()), inputs.lines)
    got = _collect(settle_spark(spark, book, inputs, partitions=4))
    result = settle_batch(book, persons, checked, lines)
    assert got.equals(result.visits.select(RESULT).sort("visit_id"))
    assert got.height + result.refused.height == visits.height
