"""Scenario injectors keep the synth schema's invariants and label everything they touch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.audit.scenarios import SCENARIOS
from yibao.audit.scenarios.apply import inject_dir
from yibao.audit.scenarios.base import catalogue
from yibao.audit.scenarios.injectors import (
    BedHanging,
    CollusiveRing,
    DrugResale,
    OverPrescription,
    PhantomBilling,
    SexAgeImpossible,
    SplitAdmission,
    Upcoding,
)
from yibao.policy.loader import example_path
from yibao.synth.generator import LINES_SCHEMA, VISITS_SCHEMA, generate
from yibao.synth.inject import get_injector

PERSONS = 4000


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("clean")
    generate(example_path("xian"), d, PERSONS, seed=11, limits=prescribing_limits())
    return d


def _chunk(d: Path) -> tuple[Any, Any, Any]:
    return tuple(pq.ParquetFile(d / f"{f}.parquet").read_row_group(0) for f in ("persons", "visits", "lines"))


def check_invariants(v: pl.DataFrame, ln: pl.DataFrame, first_id: int) -> None:
    assert v["visit_id"].n_unique() == v.height
    assert v["visit_id"].to_list() == list(range(first_id, first_id + v.height))
    assert (v["seq"] == v["visit_id"]).all()
    assert (v["mdtrt_id"].str.tail(12).cast(pl.Int64) == v["visit_id"]).all()
    # visit ids increase with begin_date inside the chunk
    assert (v["begin_date"].diff().drop_nulls().dt.total_days() >= 0).all()
    sn = ln.group_by("visit_id").agg(pl.col("feedetl_sn").sort().alias("sn"), pl.len().alias("n"))
    assert all(s.to_list() == list(range(1, n + 1)) for s, n in zip(sn["sn"], sn["n"], strict=True))
    counts = v.join(sn, on="visit_id", how="left").select(pl.col("n").fill_null(0), "n_lines")
    assert (counts["n"] == counts["n_lines"].cast(pl.UInt32)).all()
    assert (ln["amount"] == (ln["price"] * ln["qty"] + 5000) // 10000).all()
    assert ln["code"].is_in(catalogue()["code"].implode()).all()
    assert (v["end_date"] >= v["begin_date"]).all()
    assert set(ln["visit_id"].to_list()) <= set(v["visit_id"].to_list())


def _signatures(v: pl.DataFrame, ln: pl.DataFrame) -> Counter[tuple[Any, ...]]:
    items = (
        ln.sort("code", "qty", "price")
        .group_by("visit_id")
        .agg(
            pl.concat_str(
                [pl.col("code"), pl.col("qty").cast(pl.String), pl.col("price").cast(pl.String)],
                separator="/",
            )
            .str.join(",")
            .alias("items")
        )
    )
    cols = [
        "psn_id",
        "med_type",
        "fixmedins_code",
        "begin_date",
        "end_date",
        "los_days",
        "diagnoses",
        "items",
    ]
    return Counter(v.join(items, on="visit_id", how="left").select(cols).iter_rows())


INJECTORS = [
    SexAgeImpossible(cfg={"rate": 0.05}),
    Upcoding(cfg={"provider_share": 0.5, "visit_share": 0.5}),
    SplitAdmission(cfg={"rate": 0.2}),
    BedHanging(cfg={"rate": 0.2}),
    OverPrescription(cfg={"rate": 0.05}),
    DrugResale(cfg={"rings_per_100k": 50.0}),
    CollusiveRing(cfg={"rings_per_100k": 50.0}),
    PhantomBilling(cfg={"provider_share": 0.5}),
]


@pytest.mark.parametrize("inj", INJECTORS, ids=lambda i: i.name)
def test_injector_keeps_invariants_and_labels_what_it_touches(clean: Path, inj: Any) -> None:
    persons, visits, lines = _chunk(clean)
    out_v, out_l = inj(np.random.default_rng(3), persons, visits, lines)
    assert (
        out_v.schema == VISITS_SCHEMA and out_l.schema == LINES_SCHEMA
    )  # no extra column a detector could read
    v, ln = pl.from_arrow(out_v), pl.from_arrow(out_l)
    assert isinstance(v, pl.DataFrame) and isinstance(ln, pl.DataFrame)
    check_invariants(v, ln, 0)
    labelled = v.filter(pl.col("scenario") == inj.name)
    assert labelled.height > 0, "the injector touched nothing at these rates"
    assert set(v["scenario"].drop_nulls().unique().to_list()) == {inj.name}
    # a labelled line always sits on a labelled visit
    bad = ln.filter(pl.col("scenario").is_not_null()).join(
        labelled.select("visit_id"), on="visit_id", how="anti"
    )
    assert bad.height == 0
    # every unlabelled visit after injection is one of the original visits, unchanged (lines included)
    v0, l0 = pl.from_arrow(visits), pl.from_arrow(lines)
    assert isinstance(v0, pl.DataFrame) and isinstance(l0, pl.DataFrame)
    before = _signatures(v0, l0)
    after = _signatures(v.filter(pl.col("scenario").is_null()), ln)
    assert not (after - before), "an unlabelled visit was changed or added"


def test_split_admission_makes_a_readmission_to_the_same_hospital(clean: Path) -> None:
    persons, visits, lines = _chunk(clean)
    out_v, _ = SplitAdmission(cfg={"rate": 0.3})(np.random.default_rng(5), persons, visits, lines)
    v = pl.from_arrow(out_v)
    assert isinstance(v, pl.DataFrame)
    lab = v.filter(pl.col("scenario") == "split_admission").sort("psn_id", "begin_date")
    pairs = lab.with_columns(
        pl.col("begin_date").shift(-1).over("psn_id").alias("next_begin"),
        pl.col("fixmedins_code").shift(-1).over("psn_id").alias("next_code"),
        pl.col("diagnoses").shift(-1).over("psn_id").alias("next_dx"),
    ).drop_nulls("next_begin")
    assert pairs.height > 0
    gap = (pairs["next_begin"] - pairs["end_date"]).dt.total_days()
    assert ((gap >= 1) & (gap <= 15)).any()
    assert (pairs["next_code"] == pairs["fixmedins_code"]).any() and (
        pairs["next_dx"] == pairs["diagnoses"]
    ).any()


def test_sex_age_impossible_items_really_are_impossible(clean: Path) -> None:
    persons, visits, lines = _chunk(clean)
    out_v, out_l = SexAgeImpossible(cfg={"rate": 0.05})(np.random.default_rng(2), persons, visits, lines)
    ln, v, p = pl.from_arrow(out_l), pl.from_arrow(out_v), pl.from_arrow(persons)
    assert isinstance(ln, pl.DataFrame) and isinstance(v, pl.DataFrame) and isinstance(p, pl.DataFrame)
    added = (
        ln.filter(pl.col("scenario").is_not_null())
        .join(v.select("visit_id", "psn_id"), on="visit_id")
        .join(p.select("psn_id", "gender", "age"), on="psn_id")
        .join(catalogue(), on="code")
    )
    assert added.height > 0
    wrong_sex = added["sex"].is_not_null() & (added["sex"] != added["gender"])
    too_young = added["min_age"].is_not_null() & (added["age"] < added["min_age"])
    too_old = added["max_age"].is_not_null() & (added["age"] > added["max_age"])
    assert (wrong_sex | too_young | too_old).all()


def test_inject_dir_injects_every_scenario_deterministically(tmp_path: Path) -> None:
    outs = []
    for k in range(2):
        d = tmp_path / f"r{k}"
        generate(example_path("xian"), d, 6000, seed=4, chunk_size=3000, limits=prescribing_limits())
        rows = inject_dir(d, SCENARIOS, seed=4)
        v, ln = pl.read_parquet(d / "visits.parquet"), pl.read_parquet(d / "lines.parquet")
        assert rows == {"visits": v.height, "lines": ln.height}
        assert v["visit_id"].to_list() == list(range(v.height))  # unique across the two chunks
        outs.append((v, ln))
    assert outs[0][0].equals(outs[1][0]) and outs[0][1].equals(outs[1][1])
    found = set(outs[0][0]["scenario"].drop_nulls().unique().to_list())
    assert {
        "phantom_billing",
        "upcoding",
        "split_admission",
        "over_prescription",
        "duplicate_charging",
    } <= found
    share = outs[0][0]["scenario"].is_not_null().mean()
    assert isinstance(share, float) and share < 0.05  # realistic low rates


def test_every_scenario_is_registered() -> None:
    for name in SCENARIOS:
        assert callable(get_injector(name))
