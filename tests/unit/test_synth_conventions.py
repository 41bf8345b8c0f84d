"""yibao.synth billing conventions: outpatient courses, same-day referrals across districts, a second
pharmacy the same day — present when the conventions ask for them, absent by default."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.policy.loader import example_path
from yibao.synth import generate
from yibao.synth.generator import Conventions

XIAN = example_path("xian")
COURSE_ITEMS = ("003402", "0043", "0044", "001204000030000")


def _region(out: Path, conv: Conventions | None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    generate(XIAN, out, persons=3_000, year=2025, seed=5, limits=prescribing_limits(), conventions=conv)
    v = pl.read_parquet(out / "visits.parquet")
    ln = pl.read_parquet(out / "lines.parquet")
    inst = pl.read_parquet(out / "institutions.parquet")
    return v, ln, inst


@pytest.fixture(scope="module")
def with_conventions(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, ...]:
    conv = Conventions(op_course_share=0.05, referral_share=0.2, pharmacy_split_share=0.2)
    return _region(tmp_path_factory.mktemp("conv"), conv)


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, ...]:
    return _region(tmp_path_factory.mktemp("default"), None)


def _course_runs(v: pl.DataFrame, ln: pl.DataFrame) -> pl.DataFrame:
    """(psn_id, fixmedins_code, sessions, span_days): outpatient visits carrying a course item, per person
    and provider."""
    is_course = pl.any_horizontal([pl.col("code").str.starts_with(x) for x in COURSE_ITEMS])
    course = ln.filter(is_course)
    sv = v.filter(pl.col("med_type") == "11").join(course.select("visit_id").unique(), on="visit_id")
    return sv.group_by("psn_id", "fixmedins_code").agg(
        pl.len().alias("sessions"),
        (pl.col("begin_date").max() - pl.col("begin_date").min()).dt.total_days().alias("span_days"),
    )


def test_an_outpatient_course_is_many_short_visits_on_consecutive_days_at_one_provider(
    with_conventions: tuple[pl.DataFrame, ...],
) -> None:
    v, ln, _ = with_conventions
    runs = _course_runs(v, ln).filter(pl.col("sessions") >= 6)
    assert runs.height >= 50
    # six sessions a week: a course of n sessions spans about 7n/6 days, never less than n - 1
    assert (runs["span_days"] >= runs["sessions"] - 1).all()
    assert (runs["span_days"] <= runs["sessions"] * 7 // 6 + 1).mean() > 0.9  # type: ignore[operator]


def test_a_same_day_referral_puts_one_person_in_two_districts_in_one_day(
    with_conventions: tuple[pl.DataFrame, ...], defaults: tuple[pl.DataFrame, ...]
) -> None:
    def two_districts(v: pl.DataFrame, inst: pl.DataFrame) -> int:
        op = v.filter(pl.col("med_type") == "11").join(
            inst.select("fixmedins_code", "district"), on="fixmedins_code"
        )
        per_day = op.group_by("psn_id", "begin_date").agg(pl.col("district").n_unique().alias("d"))
        return int((per_day["d"] >= 2).sum())

    v, _, inst = with_conventions
    dv, _, dinst = defaults
    assert two_districts(v, inst) > 3 * max(two_districts(dv, dinst), 10)


def test_a_second_pharmacy_the_same_day_appears_only_when_asked_for(
    with_conventions: tuple[pl.DataFrame, ...], defaults: tuple[pl.DataFrame, ...]
) -> None:
    def second_shops(v: pl.DataFrame) -> int:
        rx = v.filter(pl.col("med_type") == "41")
        per_day = rx.group_by("psn_id", "begin_date").agg(pl.col("fixmedins_code").n_unique().alias("n"))
        return int((per_day["n"] >= 2).sum())

    assert second_shops(with_conventions[0]) > 3 * max(second_shops(defaults[0]), 10)


def test_defaults_draw_no_courses(defaults: tuple[pl.DataFrame, ...]) -> None:
    v, ln, _ = defaults
    runs = _course_runs(v, ln)
    assert runs.filter(pl.col("sessions") >= 6).height == 0


def test_a_maternity_hospital_takes_deliveries_and_gynaecology_and_nothing_else(tmp_path: Path) -> None:
    conv = Conventions(maternity_hospitals=1, maternity_share=0.5)
    v, _, inst = _region(tmp_path, conv)
    mat = inst.filter(pl.col("name").str.contains("妇幼保健院"))
    assert mat.height == 1 and mat["kind"][0] == "hospital"
    there = v.filter(pl.col("fixmedins_code") == mat["fixmedins_code"][0])
    assert there.height > 30
    principal = there["diagnoses"].str.split("|").list.first()
    assert principal.str.contains("^(O80|O82|O34|N76|N77|N93|N95|D25)").all()
    assert set(there["med_type"].unique().to_list()) <= {"11", "21"}


def test_defaults_build_no_maternity_hospital(defaults: tuple[pl.DataFrame, ...]) -> None:
    assert not defaults[2]["name"].str.contains("妇幼保健院").any()
