"""The clean-room test region bills like real hospitals and keeps its fraud labels out of the claims."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "independent_region" / "generate.py"


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("indep")
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--persons", "400", "--seed", "7"], check=True
    )
    return out


@functools.cache
def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("indep_generate", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def test_every_line_is_a_catalogue_item_with_amount_price_times_quantity(region: Path) -> None:
    gen = _generator()
    lines = pl.read_parquet(region / "lines.parquet")
    assert set(lines["code"].unique()) <= {i.code for i in gen.CAT.values()}
    assert (lines["amount"] == (lines["price"] * lines["qty"] + 5000) // 10000).all()
    assert (lines["qty"] > 0).all()


def test_labels_live_apart_from_the_claims(region: Path) -> None:
    visits = pl.read_parquet(region / "visits.parquet")
    labels = pl.read_parquet(region / "labels.parquet")
    assert visits["scenario"].null_count() == visits.height
    assert set(labels["visit_id"]) <= set(visits["visit_id"])
    assert labels["scenario"].n_unique() == 12
    assert (labels["stake_fen"] >= 0).all()


def test_unlabelled_stays_bill_one_bed_day_per_night_on_its_own_date(region: Path) -> None:
    gen = _generator()
    beds = {i.code for i in gen.CAT.values() if i.name.startswith("普通病房床位费")}
    visits = pl.read_parquet(region / "visits.parquet").filter(pl.col("med_type") == "21")
    labels = pl.read_parquet(region / "labels.parquet")
    stays = visits.join(labels, on="visit_id", how="anti")
    lines = pl.read_parquet(region / "lines.parquet").filter(pl.col("code").is_in(list(beds)))
    per = lines.group_by("visit_id").agg(
        pl.len().alias("n"), pl.col("fee_ocur_time").n_unique().alias("days")
    )
    chk = stays.join(per, on="visit_id", how="left").with_columns(pl.col("n").fill_null(0))
    assert chk.height > 10
    assert (chk["n"] == chk["los_days"].cast(pl.UInt32)).all()
    assert (chk["days"] == chk["n"]).all()


def test_outpatient_drugs_are_mostly_dispensed_in_whole_packs(region: Path) -> None:
    gen = _generator()
    pack = {i.code: gen.pack_of(i)[0] for i in gen.CAT.values() if i.kind == "drug" and gen.pack_of(i)[0] > 1}
    lines = pl.read_parquet(region / "lines.parquet").filter(
        pl.col("prd_days").is_not_null() & pl.col("code").is_in(list(pack))
    )
    whole = sum(q % (pack[c] * 10000) == 0 for c, q in lines.select("code", "qty").iter_rows())
    assert lines.height > 100
    assert whole / lines.height > 0.8
