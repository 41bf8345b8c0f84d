"""Opening accumulators: a year settled in two halves — the second starting from the first half's
accumulators and balances — equals the year settled at once, on every executor (the real-time engine
through the ledger, the Polars batch, Spark)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from ledger_support import create_pg_database, drop_pg_database

from yibao.batch import settle_batch
from yibao.batch.io import read_inputs
from yibao.batch.settle import MONEY_OUT, OPENING_SCHEMA
from yibao.demo.region import person_records
from yibao.ledger import Ledger, LedgerError
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.spark import SparkInputs, closing_accumulators, field_errors, settle_spark
from yibao.synth import generate, read_visits_as_engine_inputs

MID = dt.date(2025, 7, 1)
BOOK = PolicyBook.from_file(example_path("xian"))


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("opening") / "year"
    generate(example_path("xian"), out, persons=400, year=2025, seed=43)
    return out


def _halves(visits: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    return visits.filter(pl.col("begin_date") < MID), visits.filter(pl.col("begin_date") >= MID)


def _after_first_half(persons: pl.DataFrame, first: Any) -> pl.DataFrame:
    """The persons with their account balances as the first half left them."""
    bal = first.state.balance
    return persons.with_columns(
        pl.Series("account_balance", bal[persons["psn_id"].to_numpy()]).alias("account_balance")
    )


def _merge_closing(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    """What the two halves know at the end: the second half's rows, and the first half's for person-years
    the second half did not touch."""
    keys = ["psn_id", "year"]
    rest = first.join(second.select(keys).unique(), on=keys, how="anti")
    return pl.concat([second, rest]).sort("psn_id", "year", "counter")


def test_the_batch_settles_two_halves_like_the_whole_year(year: Path) -> None:
    persons, visits, lines = read_inputs(year)
    whole = settle_batch(BOOK, persons, visits, lines)
    v1, v2 = _halves(visits)
    assert v1.height > 500 and v2.height > 500
    first = settle_batch(BOOK, persons, v1, lines.join(v1.select("visit_id"), on="visit_id"))
    opening = first.closing()
    second = settle_batch(
        BOOK, _after_first_half(persons, first), v2, lines.join(v2.select("visit_id"), on="visit_id"), opening
    )
    got = pl.concat([first.visits, second.visits]).sort("visit_id")
    assert got.equals(whole.visits.sort("visit_id"))
    assert _merge_closing(opening, second.closing()).equals(whole.closing().sort("psn_id", "year", "counter"))
    # without the opening, the second half pays the deductibles again: the test can tell
    fresh = settle_batch(
        BOOK, _after_first_half(persons, first), v2, lines.join(v2.select("visit_id"), on="visit_id")
    )
    assert int(fresh.visits["act_pay_dedc"].sum()) > int(second.visits["act_pay_dedc"].sum())


def test_the_batch_refuses_a_negative_opening_value(year: Path) -> None:
    from yibao.settlement.model import SettlementError

    persons, visits, lines = read_inputs(year)
    bad = pl.DataFrame(
        {"psn_id": [0], "year": [2025], "counter": ["x"], "value": [-1]}, schema=OPENING_SCHEMA
    )
    with pytest.raises(SettlementError) as e:
        settle_batch(BOOK, persons, visits, lines, bad)
    assert e.value.field == "opening.value"


def test_spark_settles_two_halves_like_the_whole_year(spark: Any, year: Path) -> None:
    persons, visits, lines = read_inputs(year)
    whole = settle_batch(BOOK, persons, visits, lines)
    v1, v2 = _halves(visits)

    def inputs(p: pl.DataFrame, v: pl.DataFrame) -> SparkInputs:
        ln = lines.join(v.select("visit_id"), on="visit_id")
        return SparkInputs(*(spark.createDataFrame(f.to_arrow()) for f in (p, v, ln)))

    with field_errors():
        first_in = inputs(persons, v1)
        got1 = pl.from_arrow(settle_spark(spark, BOOK, first_in, partitions=3).toArrow())
        opening = pl.from_arrow(closing_accumulators(spark, BOOK, first_in, partitions=3).toArrow())
        assert isinstance(opening, pl.DataFrame)
        batch_first = settle_batch(BOOK, persons, v1, lines.join(v1.select("visit_id"), on="visit_id"))
        assert opening.sort("psn_id", "year", "counter").equals(
            batch_first.closing().sort("psn_id", "year", "counter")
        )
        second_in = inputs(_after_first_half(persons, batch_first), v2)
        opening_df = spark.createDataFrame(opening.to_arrow())
        got2 = pl.from_arrow(settle_spark(spark, BOOK, second_in, partitions=2, opening=opening_df).toArrow())
        closing2 = pl.from_arrow(
            closing_accumulators(spark, BOOK, second_in, partitions=2, opening=opening_df).toArrow()
        )
    assert (
        isinstance(got1, pl.DataFrame)
        and isinstance(got2, pl.DataFrame)
        and isinstance(closing2, pl.DataFrame)
    )
    assert pl.concat([got1, got2]).sort("visit_id").equals(whole.visits.sort("visit_id"))
    assert _merge_closing(opening, closing2).equals(whole.closing().sort("psn_id", "year", "counter"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_ledgers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """Two migrated, empty ledgers on one backend: the whole year, and the one that starts mid-year."""
    made: list[str] = []
    urls = []
    for k in range(2):
        if request.param == "sqlite":
            urls.append(f"sqlite:///{tmp_path / f'l{k}.db'}")
        else:
            name, url = create_pg_database()
            made.append(name)
            urls.append(url)
    ledgers = [Ledger.open(u) for u in urls]
    try:
        for led in ledgers:
            led.migrate()
        yield ledgers[0], ledgers[1]
    finally:
        for led in ledgers:
            led.close()
        for name in made:
            drop_pg_database(name)


def test_the_ledger_starts_mid_year_from_opening_accumulators(
    two_ledgers: tuple[Ledger, Ledger], year: Path
) -> None:
    whole, late = two_ledgers
    persons = pl.read_parquet(year / "persons.parquet")
    records = person_records(persons, BOOK.admdvs, 2025)
    whole.add_persons(records)
    pairs = list(read_visits_as_engine_inputs(year))
    k = next(i for i, (_, v) in enumerate(pairs) if v.begin_date >= MID)
    for i, (_, v) in enumerate(pairs[:k]):
        whole.settle(BOOK, v, f"a{i}")
    # the new system opens with the old one's balances and accumulators at mid-year
    balances = {r.psn_no: whole.account_balance(r.psn_no) for r in records}
    late.add_persons([dataclasses.replace(r, account_balance=balances[r.psn_no]) for r in records])
    opened = 0
    for r in records:
        acc = whole.accumulators(r.psn_no, 2025)
        if acc:
            late.open_accumulators(
                r.psn_no, 2025, acc, "上一系统 2025-06-30 结转 carried over from the previous system"
            )
            opened += 1
    assert opened > 50
    fields = list(MONEY_OUT)
    for i, (_, v) in enumerate(pairs[k:]):
        a = whole.settle(BOOK, v, f"b{i}").settlement
        b = late.settle(BOOK, v, f"b{i}").settlement
        assert {f: getattr(b, f) for f in fields} == {f: getattr(a, f) for f in fields}, v.mdtrt_id
    for r in records:
        assert late.accumulators(r.psn_no, 2025) == whole.accumulators(r.psn_no, 2025)
    report = late.verify()
    assert report.ok, report.problems[:3]
    # stated once, before settlements only
    busy = next(r.psn_no for r in records if late.accumulators(r.psn_no, 2025))
    with pytest.raises(LedgerError) as e:
        late.open_accumulators(busy, 2025, {"x": 1}, "again")
    assert e.value.code == "already_open"
    with pytest.raises(LedgerError) as e:
        late.open_accumulators(busy, 2026, {"x": -1}, "bad")
    assert e.value.field == "counters.x"
