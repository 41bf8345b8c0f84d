"""Clean synthetic care keeps to the knowledge base's prescribing limits (docs/SYNTH.md, "Compliant care")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from yibao.audit.knowledge import load_knowledge, with_physicians, with_region
from yibao.audit.knowledge.limits import prescribing_limits
from yibao.audit.rules.batch import run_rules
from yibao.audit.rules.model import load_library
from yibao.money import QTY_ONE
from yibao.policy.loader import example_path
from yibao.synth.generator import PrescribingLimits, Tables, _apply_limits, generate

XIAN = example_path("xian")
# the rules whose limits the generator applies, plus the age, death, exclusive-pair, physician-title and
# stated-days rules that clean care must not break either, and the rules of billing conventions (per-day
# lines, whole packs, long prescriptions of registered persons, courses)
CLEAN_RULES = {
    "GZ-YB-007",
    "GZ-YB-014",
    "GZ-YB-015",
    "GZ-YB-002",
    "GZ-YB-005",
    "GZ-YB-006",
    "GZ-YB-008",
    "GZ-YB-009",
    "GZ-YB-010",
    "GZ-YB-011",
    "GZ-YB-016",
    "GZ-YB-017",
    "GZ-YB-018",
}


def _flags(d: Path) -> pl.DataFrame:
    p, v, ln = (pl.read_parquet(d / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    kn = with_region(load_knowledge(), d)  # physicians and the 门慢门特 register of the region
    return run_rules(load_library(), kn, p, v, ln, only=CLEAN_RULES)


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    limited, free = tmp_path_factory.mktemp("limited"), tmp_path_factory.mktemp("free")
    generate(XIAN, limited, 8_000, seed=5, limits=prescribing_limits())
    generate(XIAN, free, 8_000, seed=5, limits=PrescribingLimits())
    return limited, free


def test_clean_region_breaks_none_of_the_limit_rules(regions: tuple[Path, Path]) -> None:
    f = _flags(regions[0])
    assert f.height == 0, f.group_by("rule_code").len().rows()


def test_without_the_limits_the_same_region_does_break_them(regions: tuple[Path, Path]) -> None:
    # the check above can fail: the generator's own quantity model runs past the payment courses
    codes = set(_flags(regions[1])["rule_code"].to_list())
    assert {"GZ-YB-005", "GZ-YB-006"} <= codes


def test_the_title_and_days_rules_do_fire_on_that_region_when_its_bills_are_altered(
    regions: tuple[Path, Path],
) -> None:
    """The clean result above is not vacuous: a chief's consultation fee on every level-3 visit, and the
    stated days cut to one on every drug line that has them, are caught."""
    d = regions[0]
    p, v, ln = (pl.read_parquet(d / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    kn = with_physicians(load_knowledge(), pl.read_parquet(d / "physicians.parquet"))
    graded = ln["code"].is_in(["001102000010000", "001102000020000"])
    bad = ln.with_columns(
        pl.when(graded).then(pl.lit("001102000030000")).otherwise(pl.col("code")).alias("code"),
        pl.when(pl.col("prd_days").is_not_null())
        .then(pl.lit(1, pl.Int16))
        .otherwise(pl.col("prd_days"))
        .alias("prd_days"),
    )
    codes = run_rules(load_library(), kn, p, v, bad, only={"GZ-YB-017", "GZ-YB-018"})[
        "rule_code"
    ].value_counts()
    assert set(codes["rule_code"]) == {"GZ-YB-017", "GZ-YB-018"}


def test_limits_are_read_from_the_shipped_library_and_knowledge() -> None:
    lim = prescribing_limits()
    k = load_knowledge()
    assert lim.supply_days == {"11": 7, "14": 30, "41": 30}
    assert lim.supply_days_long == {"11": 30} and "I10" in lim.long_term_prefixes
    oseltamivir = "XJ05AHA019E001010158960"
    row = k.payment_course.filter(pl.col("code") == oseltamivir).row(0, named=True)
    assert lim.course_year[oseltamivir] == row["max_days"] * row["units_per_day_q"] == 10 * QTY_ONE
    assert lim.period["002503020020000"] == (60, QTY_ONE)  # HbA1c once in 60 days


def _toy_tables(n_items: int) -> Tables:
    t = Tables.__new__(Tables)
    t.cap_visit = np.full((4, n_items), np.iinfo(np.int64).max, dtype=np.int64)
    t.cap_visit_long = t.cap_visit  # the same array: no long-term supply in these toy tables
    t.dx_long = np.zeros(1, dtype=bool)
    t.lim_window = np.zeros(n_items, dtype=np.int64)
    t.lim_total = np.zeros(n_items, dtype=np.int64)
    return t


def test_greedy_history_caps_keep_every_window_within_its_limit() -> None:
    t = _toy_tables(3)
    t.lim_window[0], t.lim_total[0] = 60, QTY_ONE  # once per 60 days
    t.lim_window[1], t.lim_total[1] = 400, 10 * QTY_ONE  # 10 units a year
    t.cap_visit[0, 2] = 90 * QTY_ONE  # 90 units per outpatient visit
    vt = np.zeros(6, dtype=np.int64)  # six outpatient visits of one person
    who = np.zeros(6, dtype=np.int64)
    day = np.array([0, 30, 60, 100, 101, 102], dtype=np.int64)
    lv = np.array([0, 1, 2, 3, 4, 5, 5], dtype=np.int64)
    li = np.array([0, 0, 0, 1, 1, 1, 2], dtype=np.int64)
    lq = np.array([1, 1, 1, 6, 6, 3, 90.5], dtype=np.float64) * QTY_ONE
    q = _apply_limits(t, vt, who, day, lv, li, lq.astype(np.int64), np.zeros(6, dtype=np.int64)) / QTY_ONE
    # day 30 falls in day 0's 60-day window, day 60 does not; the year course leaves 4 then 0 units;
    # the half tablet on top of 90 units is not prescribed
    assert q.tolist() == [1, 0, 1, 6, 4, 0, 90]
