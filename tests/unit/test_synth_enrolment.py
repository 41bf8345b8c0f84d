"""The synthetic region's enrolment: every history compiles under the rules, each scenario occurs, the
output is a pure function of the seed, and the generator's persons, visits and lines are the same as
without it (its own random stream)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

import yibao.synth.generator as gen
from yibao.enrolment.check import check
from yibao.enrolment.files import read_collection
from yibao.enrolment.policy import policy_for_region
from yibao.enrolment.store import statuses_from_frames
from yibao.policy.loader import example_path, load_region
from yibao.synth.enrolment import write_collection_file

FILES = ("enrol_persons", "employers", "enrol_events", "resident_premiums", "employee_contributions")


def frames(d: Path) -> dict[str, pl.DataFrame]:
    return {
        "persons": pl.read_parquet(d / "enrol_persons.parquet"),
        "events": pl.read_parquet(d / "enrol_events.parquet"),
        "premiums": pl.read_parquet(d / "resident_premiums.parquet"),
        "contributions": pl.read_parquet(d / "employee_contributions.parquet"),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_history_compiles_and_the_scenarios_occur(tmp_path: Path, seed: int) -> None:
    gen.generate(example_path("xian"), tmp_path, persons=4_000, year=2025, seed=seed, chunk_size=1_500)
    pol = policy_for_region(load_region(example_path("xian")))
    assert pol is not None
    statuses = list(statuses_from_frames(frames(tmp_path), pol))  # raises on an impossible history
    assert len(statuses) == 4_000
    m = json.loads((tmp_path / "enrolment.json").read_text(encoding="utf-8"))
    for k in ("resident_late_first", "resident_lapsed", "resident_newborn_late", "resident_transfer_out",
              "employee_left", "retiree_years_short", "deaths"):  # fmt: skip
        assert m["scenarios"][k] > 0, k
    reasons = {check(s, dt.date(2025, m_, 15), "21").reason_code for s in statuses for m_ in (3, 6, 9, 12)}
    assert {"ok", "waiting_period", "not_paid", "deceased", "transferred_out", "suspended"} <= reasons


def test_same_seed_same_files_and_the_generator_streams_are_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    gen.generate(example_path("xian"), a, persons=1_500, year=2025, seed=5)
    gen.generate(example_path("xian"), b, persons=1_500, year=2025, seed=5)
    for f in FILES:
        assert (a / f"{f}.parquet").read_bytes() == (b / f"{f}.parquet").read_bytes(), f
    monkeypatch.setattr(gen, "write_enrolment", lambda *args, **kw: None)
    gen.generate(example_path("xian"), c, persons=1_500, year=2025, seed=5)
    for f in ("persons", "visits", "lines", "institutions", "physicians"):
        assert (a / f"{f}.parquet").read_bytes() == (c / f"{f}.parquet").read_bytes(), f
    assert not (c / "enrol_events.parquet").exists()


def test_collection_file_ids_are_unique_and_valid(tmp_path: Path) -> None:
    pol = policy_for_region(load_region(example_path("xian")))
    assert pol is not None
    f = tmp_path / "c.csv"
    assert write_collection_file(f, pol, persons=50_000, year=2025, seed=9) == 50_000
    df = pl.read_csv(f, infer_schema=False)
    assert df["certno"].n_unique() == 50_000 and df["psn_no"].n_unique() == 50_000
    assert read_collection(f, pol).rows == 50_000  # every row passes validation


def test_scenario_shares_are_parameters_and_late_payers_wait(tmp_path: Path) -> None:
    """The shares drive the population: more late first enrolments give more people in a waiting period
    (国办发〔2024〕38号, 3 months), and late payers of a continuous year pay between March and June."""
    from yibao.synth.enrolment import EnrolmentScenarios

    pol = policy_for_region(load_region(example_path("xian")))
    assert pol is not None
    day = dt.date(2025, 8, 15)

    def waiting(d: Path, sc: EnrolmentScenarios | None) -> tuple[int, pl.DataFrame]:
        gen.generate(example_path("xian"), d, persons=1_500, year=2025, seed=9, enrolment=sc)
        st = list(statuses_from_frames(frames(d), pol))
        n = sum(check(s, day, "21").reason_code == "waiting_period" for s in st)
        return n, pl.read_parquet(d / "resident_premiums.parquet")

    base, _ = waiting(tmp_path / "base", None)
    many, _ = waiting(tmp_path / "many", EnrolmentScenarios(continuous=0.5, late_first=0.38))
    assert many > base
    _, prem = waiting(
        tmp_path / "late", EnrolmentScenarios(continuous=0.1, late_first=0.0, lapsed=0.0, late_payment=0.8)
    )
    late = prem.filter((pl.col("year") == 2025) & (pl.col("kind") == "annual"))
    paid_in_spring = late.filter(pl.col("paid_on").is_between(dt.date(2025, 3, 1), dt.date(2025, 6, 30)))
    assert paid_in_spring.height > late.height // 2


def test_bad_scenario_files_are_refused_naming_the_key(tmp_path: Path) -> None:
    from yibao.errors import FieldError
    from yibao.synth.enrolment import load_scenarios

    f = tmp_path / "sc.yaml"
    f.write_text("late_first: 0.1\nlate_frist: 0.2\n", encoding="utf-8")
    with pytest.raises(FieldError) as err:
        load_scenarios(f)
    assert err.value.field == "enrolment.late_frist"
    f.write_text("continuous: 0.9\nlate_first: 0.2\n", encoding="utf-8")
    with pytest.raises(FieldError):
        load_scenarios(f)
    f.write_text("newborn_late: 0.5\n", encoding="utf-8")
    assert load_scenarios(f).newborn_late == 0.5
