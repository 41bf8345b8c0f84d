"""yibao.synth: determinism, schema, consistency, restrictions, calibration, injector hook, chunking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.bench.synth import bench_generate
from yibao.policy.loader import example_path, load_region
from yibao.synth import (
    INSTITUTIONS_SCHEMA,
    LINES_SCHEMA,
    PERSONS_SCHEMA,
    PHYSICIANS_SCHEMA,
    VISITS_SCHEMA,
    DuplicateCharging,
    generate,
    register_injector,
)

XIAN = example_path("xian")
FILES = ("persons", "institutions", "physicians", "visits", "lines")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth-small")
    generate(XIAN, out, persons=2_000, year=2025, seed=7, chunk_size=700, limits=prescribing_limits())
    return out


def _tables(d: Path) -> dict[str, pa.Table]:
    return {f: pq.read_table(d / f"{f}.parquet") for f in FILES}


def test_deterministic_same_seed(small: Path, tmp_path: Path) -> None:
    generate(XIAN, tmp_path, persons=2_000, year=2025, seed=7, chunk_size=700, limits=prescribing_limits())
    a, b = _tables(small), _tables(tmp_path)
    for f in FILES:
        assert a[f].equals(b[f]), f
        assert (small / f"{f}.parquet").read_bytes() == (tmp_path / f"{f}.parquet").read_bytes(), f


def test_different_seed_differs(small: Path, tmp_path: Path) -> None:
    generate(XIAN, tmp_path, persons=2_000, year=2025, seed=8, chunk_size=700, limits=prescribing_limits())
    assert not _tables(small)["lines"].equals(_tables(tmp_path)["lines"])


def test_schema_exact(small: Path) -> None:
    t = _tables(small)
    for f, schema in zip(
        FILES,
        (PERSONS_SCHEMA, INSTITUTIONS_SCHEMA, PHYSICIANS_SCHEMA, VISITS_SCHEMA, LINES_SCHEMA),
        strict=True,
    ):
        assert t[f].schema.remove_metadata().equals(schema), f
    p = t["persons"].to_pydict()
    assert p["psn_id"] == list(range(2_000))
    assert all(len(x) == 10 and x[0] == "P" and x[1:].isdigit() for x in p["psn_no"])
    assert set(p["insutype"]) == {"310", "390"}
    assert set(p["gender"]) == {"M", "F"}
    codes = [x.code for x in load_region(XIAN).region.person_types]
    assert set(p["psn_type"]) <= set(codes)
    inst = t["institutions"].to_pydict()
    assert all(len(c) == 12 for c in inst["fixmedins_code"])
    assert set(inst["kind"]) == {"hospital", "primary", "pharmacy", "internet"}
    v = t["visits"].to_pydict()
    assert len(set(v["visit_id"])) == len(v["visit_id"]) and len(set(v["seq"])) == len(v["seq"])
    assert set(v["med_type"]) == {"11", "14", "21", "41"}
    assert set(v["fixmedins_code"]) <= set(inst["fixmedins_code"])
    assert all(x is None for x in v["scenario"])
    assert manifest_rows(small) == {f: t[f].num_rows for f in FILES}


def test_physicians_and_consultation_grade(small: Path) -> None:
    """Every visit but a pharmacy purchase names a physician of its own institution's roster, and at
    level 3 and above the consultation grade billed is the one the physician's title allows."""
    t = {f: pl.from_arrow(x) for f, x in _tables(small).items()}
    dr, inst, v, ln = t["physicians"], t["institutions"], t["visits"], t["lines"]
    assert isinstance(dr, pl.DataFrame) and isinstance(inst, pl.DataFrame)
    assert isinstance(v, pl.DataFrame) and isinstance(ln, pl.DataFrame)
    assert dr["dr_code"].is_unique().all() and set(dr["title"]) <= {"231", "232", "233", "234"}
    assert set(dr["fixmedins_code"]) == set(inst.filter(pl.col("kind") != "pharmacy")["fixmedins_code"])
    vv = v.join(inst.select("fixmedins_code", "kind"), on="fixmedins_code")
    assert vv.filter((pl.col("kind") == "pharmacy") != pl.col("bilg_dr_codg").is_null()).height == 0
    own = vv.join(dr, left_on="bilg_dr_codg", right_on="dr_code", how="inner", suffix="_dr")
    assert own.height == vv.filter(pl.col("bilg_dr_codg").is_not_null()).height
    assert (own["fixmedins_code"] == own["fixmedins_code_dr"]).all()
    grade = {"001102000020000": {"231", "232"}, "001102000030000": {"231"}}
    billed = ln.filter(pl.col("code").is_in(list(grade))).join(own.select("visit_id", "title"), on="visit_id")
    assert billed.height > 0
    assert all(t in grade[c] for c, t in billed.select("code", "title").iter_rows())


def manifest_rows(d: Path) -> dict[str, int]:
    return json.loads((d / "manifest.json").read_text(encoding="utf-8"))["rows"]  # type: ignore[no-any-return]


def test_certno_checksum(small: Path) -> None:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    p = pl.read_parquet(small / "persons.parquet")
    for certno, birth, gender in p.select("certno", "birth_date", "gender").head(300).iter_rows():
        assert "10X98765432"[sum(int(c) * k for c, k in zip(certno[:17], w, strict=True)) % 11] == certno[17]
        assert certno[6:14] == birth.strftime("%Y%m%d")
        assert (int(certno[16]) % 2 == 1) == (gender == "M")


def test_lines_consistent_and_in_catalogue(small: Path) -> None:
    loaded = load_region(XIAN)
    cat = loaded.catalogue_for(loaded.region.versions[0])
    lines = pl.read_parquet(small / "lines.parquet")
    visits = pl.read_parquet(small / "visits.parquet")
    assert lines.filter(pl.col("amount") != (pl.col("price") * pl.col("qty") + 5_000) // 10_000).height == 0
    assert set(lines["code"].unique().to_list()) <= set(cat)
    unit = pl.DataFrame({"code": list(cat), "unit": [c.unit_price for c in cat.values()]})
    j = lines.join(unit, on="code")
    assert j.filter(pl.col("price") > 3 * pl.col("unit")).height == 0
    assert j.filter(pl.col("qty") <= 0).height == 0
    # feedetl_sn is 1..n and n_lines matches
    g = lines.group_by("visit_id").agg(
        pl.len().alias("n"), pl.col("feedetl_sn").min().alias("lo"), pl.col("feedetl_sn").max().alias("hi")
    )
    g = g.join(visits.select("visit_id", "n_lines"), on="visit_id")
    assert g.height == visits.height
    assert (
        g.filter(
            (pl.col("lo") != 1) | (pl.col("hi") != pl.col("n")) | (pl.col("n") != pl.col("n_lines"))
        ).height
        == 0
    )
    # line counts by visit type
    vt = g.join(visits.select("visit_id", "med_type"), on="visit_id")
    rng = vt.group_by("med_type").agg(
        pl.col("n").min().alias("lo"), pl.col("n").max().alias("hi"), pl.col("n").mean().alias("mean")
    )
    r = {row["med_type"]: row for row in rng.iter_rows(named=True)}
    assert r["11"]["lo"] >= 1 and r["11"]["hi"] <= 8
    assert r["41"]["lo"] >= 1 and r["41"]["hi"] <= 6
    # a stay bills its per-day items one line a day: its distinct items are what the line model draws
    items = lines.join(visits.filter(pl.col("med_type") == "21").select("visit_id"), on="visit_id")
    per_stay = items.group_by("visit_id").agg(pl.col("code").n_unique().alias("k"), pl.len().alias("n"))
    assert 18 <= per_stay["k"].mean() <= 45  # type: ignore[operator]
    assert per_stay.filter(pl.col("n") > pl.col("k")).height > 0.5 * per_stay.height


def test_restricted_items_respect_patient_and_level(small: Path) -> None:
    loaded = load_region(XIAN)
    cat = loaded.catalogue_for(loaded.region.versions[0])
    rank = {x.code: i for i, x in enumerate(loaded.region.hospital_levels)}
    lines = pl.read_parquet(small / "lines.parquet")
    visits = pl.read_parquet(small / "visits.parquet")
    persons = pl.read_parquet(small / "persons.parquet")
    x = lines.join(
        visits.select("visit_id", "psn_id", "hosp_lv", "begin_date", "diagnoses"), on="visit_id"
    ).join(persons.select("psn_id", "gender", "birth_date"), on="psn_id")
    checked = 0
    for code, lv, begin, dx, gender, birth in x.select(
        "code", "hosp_lv", "begin_date", "diagnoses", "gender", "birth_date"
    ).iter_rows():
        it = cat[code]
        if it.sex:
            assert it.sex == gender, code
        age = begin.year - birth.year - ((begin.month, begin.day) < (birth.month, birth.day))
        if it.min_age is not None:
            assert age >= it.min_age - 1, (code, age)  # catalogue ages are checked on 1 Jan (age column)
        if it.max_age is not None:
            assert age <= it.max_age + 1, (code, age)
        if it.min_level:
            assert rank[lv] >= rank[it.min_level], (code, lv)
        if it.indications:
            principal = dx.split("|")[0]
            assert principal.startswith(tuple(i.replace(".", "") for i in it.indications)), (code, dx)
        checked += 1
    assert checked == lines.height


def test_restricted_items_by_age_on_jan1(small: Path) -> None:
    loaded = load_region(XIAN)
    cat = loaded.catalogue_for(loaded.region.versions[0])
    lines = pl.read_parquet(small / "lines.parquet")
    x = lines.join(
        pl.read_parquet(small / "visits.parquet").select("visit_id", "psn_id"), on="visit_id"
    ).join(pl.read_parquet(small / "persons.parquet").select("psn_id", "age"), on="psn_id")
    for code, age in x.select("code", "age").iter_rows():
        it = cat[code]
        assert it.min_age is None or age >= it.min_age
        assert it.max_age is None or age <= it.max_age


def test_dates_and_stays(small: Path) -> None:
    v = pl.read_parquet(small / "visits.parquet")
    import datetime as dt

    assert v["begin_date"].min() >= dt.date(2025, 1, 1) and v["end_date"].max() <= dt.date(2025, 12, 31)
    ip = v.filter(pl.col("med_type") == "21")
    assert (
        ip.filter((pl.col("end_date") - pl.col("begin_date")).dt.total_days() != pl.col("los_days")).height
        == 0
    )
    assert v.filter((pl.col("med_type") != "21") & (pl.col("los_days") != 0)).height == 0
    assert ip.filter(pl.col("procedures") != "").height > 0
    assert set(v["locality"].unique().to_list()) <= {"local", "remote_filed", "remote_unfiled"}


def test_every_line_carries_a_service_date_within_its_visit(small: Path) -> None:
    v = pl.read_parquet(small / "visits.parquet").select("visit_id", "med_type", "begin_date", "end_date")
    ln = pl.read_parquet(small / "lines.parquet").join(v, on="visit_id")
    assert ln["fee_ocur_time"].null_count() == 0
    assert ln.filter(
        (pl.col("fee_ocur_time") < pl.col("begin_date")) | (pl.col("fee_ocur_time") > pl.col("end_date"))
    ).is_empty()
    stays = ln.filter(pl.col("med_type") == "21")
    assert stays.filter(pl.col("fee_ocur_time") > pl.col("begin_date")).height > 0  # spread over the stay
    reg = pl.read_parquet(small / "registered_conditions.parquet")
    assert reg.height > 0 and reg["psn_no"].is_unique().all()


def test_family_payer_links(small: Path) -> None:
    p = pl.read_parquet(small / "persons.parquet")
    v = pl.read_parquet(small / "visits.parquet")
    linked = p.filter(pl.col("family_payer_id") >= 0)
    assert linked.height > 0
    payers = p.join(
        linked.select(pl.col("family_payer_id").alias("psn_id"), pl.col("household_id").alias("hh")),
        on="psn_id",
    )
    assert payers.filter(pl.col("household_id") != pl.col("hh")).height == 0
    assert payers.filter((pl.col("insutype") != "310") | (pl.col("account_balance") <= 0)).height == 0
    fam = v.filter(pl.col("account_payer_id") >= 0).join(
        p.select("psn_id", "family_payer_id", "account_balance"), on="psn_id"
    )
    assert fam.height > 0
    assert (
        fam.filter(
            (pl.col("account_payer_id") != pl.col("family_payer_id")) | (pl.col("account_balance") != 0)
        ).height
        == 0
    )
    assert p.filter((pl.col("insutype") == "390") & (pl.col("account_balance") != 0)).height == 0


def test_chunks_are_row_groups(small: Path) -> None:
    for f in ("persons", "visits", "lines"):
        assert pq.ParquetFile(small / f"{f}.parquet").metadata.num_row_groups == 3  # 2000 persons / 700


def test_injector_labels(tmp_path: Path) -> None:
    register_injector("test_dup_high", DuplicateCharging(rate=0.05, name="test_dup_high"))
    generate(
        XIAN,
        tmp_path,
        persons=2_000,
        year=2025,
        seed=7,
        chunk_size=700,
        inject=("test_dup_high",),
        limits=prescribing_limits(),
    )
    v = pl.read_parquet(tmp_path / "visits.parquet")
    ln = pl.read_parquet(tmp_path / "lines.parquet")
    hit = v.filter(pl.col("scenario") == "test_dup_high")
    assert hit.height > 0
    assert set(v["scenario"].drop_nulls().to_list()) == {"test_dup_high"}
    labelled = ln.filter(pl.col("scenario").is_not_null())
    assert labelled.height == hit.height
    assert set(labelled["visit_id"].to_list()) == set(hit["visit_id"].to_list())
    # each labelled line duplicates a clean line of the same visit
    clean = ln.filter(pl.col("scenario").is_null())
    j = labelled.join(clean, on=["visit_id", "code", "qty", "price", "amount"], how="inner")
    assert j.height >= labelled.height
    # untouched visits stay null and n_lines still matches
    n = ln.group_by("visit_id").agg(pl.len().alias("n")).join(v.select("visit_id", "n_lines"), on="visit_id")
    assert n.filter(pl.col("n") != pl.col("n_lines")).height == 0
    assert v.filter(pl.col("scenario").is_null()).height == v.height - hit.height


def test_default_injector_registered(tmp_path: Path) -> None:
    m = generate(
        XIAN, tmp_path, persons=1_000, seed=3, inject=("duplicate_charging",), limits=prescribing_limits()
    )
    assert m.inject == ("duplicate_charging",)
    with pytest.raises(KeyError):
        generate(
            XIAN, tmp_path, persons=1_000, seed=3, inject=("no_such_injector",), limits=prescribing_limits()
        )


def test_calibration_20k(tmp_path: Path) -> None:
    m = generate(XIAN, tmp_path, persons=20_000, seed=11, limits=prescribing_limits())
    got = {r["metric"]: r["achieved"] for r in m.calibration}
    bands = {
        "admission rate, employees": (0.15, 0.28),
        "admission rate, residents": (0.15, 0.28),
        "cost per admission, employees (元)": (8_000, 16_000),
        "cost per admission, residents (元)": (5_000, 10_500),
        "retiree / in-service medical cost per head": (2.3, 4.5),
        "pharmacy share of employee benefit events": (0.3, 0.5),
        "employee share of insured": (0.24, 0.34),
        "retired share of employees": (0.22, 0.34),
        "residents with 低保/特困/返贫致贫": (0.03, 0.06),
        "those identities in bottom income quintile": (0.99, 1.0),
        "lines per person-year": (15, 32),
        "remote (异地) share of non-pharmacy visits": (0.04, 0.09),
    }
    for k, (lo, hi) in bands.items():
        assert lo <= got[k] <= hi, (k, got[k])
    on_disk = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["calibration"] == m.calibration
    assert on_disk["rows"]["lines"] == pq.ParquetFile(tmp_path / "lines.parquet").metadata.num_rows


def test_bench_generate() -> None:
    r = bench_generate(1_000)
    assert r["lines"] > 0 and r["lines_per_s"] > 0 and r["elapsed_s"] > 0
    assert np.isfinite(r["value"])
