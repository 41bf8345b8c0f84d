"""Each rule of the EXAMPLE library: a positive and a negative case on a tiny claim set, run through the
vectorised after-run; single-visit rules also through the in-event checker (same flags)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
import pytest

from yibao.audit.flags import validate_flags
from yibao.audit.knowledge import Knowledge, KnowledgeError, from_frames, load_knowledge, with_physicians
from yibao.audit.moments import EventChecker, death_register, run_rules, visits_from_frames
from yibao.audit.rules.model import Library, load_library

D = dt.date
LIB = load_library()
KN = load_knowledge()


@dataclass
class Claims:
    """A tiny region: persons, visits and lines in the synth schema."""

    persons: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def person(self, pid: int, gender: str = "F", birth: dt.date = D(1990, 5, 1)) -> int:
        self.persons.append(
            {
                "psn_id": pid,
                "psn_no": f"P{pid:09d}",
                "certno": "x",
                "gender": gender,
                "birth_date": birth,
                "insutype": "310",
                "psn_type": "11",
            }
        )
        return pid

    def visit(
        self,
        vid: int,
        pid: int,
        *items: tuple[str, float] | tuple[str, float, int],
        med_type: str = "11",
        begin: dt.date = D(2025, 3, 10),
        days: int = 0,
        hosp_lv: str = "3",
        dx: str = "I10",
        inst: str = "H61010000001",
        emergency: bool = False,
        discharge: str = "1",
        doctor: str | None = None,
        prd: tuple[int | None, ...] = (),
        on: tuple[int, ...] = (),
        rx: tuple[str, str, str, dt.date] | None = None,
    ) -> int:
        """``on``: each line's service day as days after ``begin`` (default: the visit's first day); ``rx``:
        the e-prescription the visit dispenses on ``begin`` (rx_id, prescriber, internet hospital, issue day)."""
        self.visits.append(
            {
                "visit_id": vid,
                "mdtrt_id": f"M{vid}",
                "psn_id": pid,
                "med_type": med_type,
                "fixmedins_code": inst,
                "hosp_lv": hosp_lv,
                "begin_date": begin,
                "end_date": begin + dt.timedelta(days=days),
                "diagnoses": dx,
                "emergency": emergency,
                "discharge_status": discharge,
                "bilg_dr_codg": doctor,
                **dict(
                    zip(
                        ("rx_id", "rx_prescriber", "rx_internet_hospital", "rx_issued_on"),
                        rx or (None,) * 4,
                        strict=True,
                    )
                ),
            }
        )
        std = dict(KN.price_standard.select("code", "standard_price_fen").iter_rows())
        for sn, it in enumerate(items, start=1):
            code, units = it[0], it[1]
            price = it[2] if len(it) == 3 else std[code]  # type: ignore[misc]
            qty = round(units * 10_000)
            self.lines.append(
                {
                    "visit_id": vid,
                    "feedetl_sn": sn,
                    "code": code,
                    "qty": qty,
                    "price": price,
                    "amount": (price * qty + 5_000) // 10_000,
                    "prd_days": prd[sn - 1] if sn <= len(prd) else None,
                    "fee_ocur_time": begin + dt.timedelta(days=on[sn - 1] if sn <= len(on) else 0),
                }
            )
        return vid

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        p = pl.DataFrame(
            self.persons,
            schema={
                "psn_id": pl.Int64,
                "psn_no": pl.String,
                "certno": pl.String,
                "gender": pl.String,
                "birth_date": pl.Date,
                "insutype": pl.String,
                "psn_type": pl.String,
            },
        )
        v = pl.DataFrame(
            self.visits,
            schema={
                "visit_id": pl.Int64,
                "mdtrt_id": pl.String,
                "psn_id": pl.Int64,
                "med_type": pl.String,
                "fixmedins_code": pl.String,
                "hosp_lv": pl.String,
                "begin_date": pl.Date,
                "end_date": pl.Date,
                "diagnoses": pl.String,
                "emergency": pl.Boolean,
                "discharge_status": pl.String,
                "bilg_dr_codg": pl.String,
                "rx_id": pl.String,
                "rx_prescriber": pl.String,
                "rx_internet_hospital": pl.String,
                "rx_issued_on": pl.Date,
            },
        )
        ln = pl.DataFrame(
            self.lines,
            schema={
                "visit_id": pl.Int64,
                "feedetl_sn": pl.Int32,
                "code": pl.String,
                "qty": pl.Int64,
                "price": pl.Int64,
                "amount": pl.Int64,
                "prd_days": pl.Int16,
                "fee_ocur_time": pl.Date,
            },
        )
        return p, v, ln


def from_frames_like(k: Knowledge, **tables: pl.DataFrame) -> Knowledge:
    """``k`` with some tables replaced by in-memory string frames (typed as the loader types them)."""
    typed = from_frames(**tables)
    return replace(k, **{name: getattr(typed, name) for name in tables})


def flagged(
    c: Claims, code: str, knowledge: Knowledge = KN, library: Library = LIB
) -> set[tuple[int, int | None]]:
    """(visit_id, feedetl_sn) flagged by rule ``code`` after the batch run — and, for a single-visit rule,
    checked equal to what the in-event checker finds on the same visits."""
    p, v, ln = c.frames()
    flags = validate_flags(run_rules(library, knowledge, p, v, ln, only={code}))
    got = {(r["visit_id"], r["feedetl_sn"]) for r in flags.iter_rows(named=True)}
    for r in flags.iter_rows(named=True):
        json.loads(r["evidence"])
        assert r["reason_zh"] and r["reason_en"] and r["amount_fen"] >= 0
    rule = library.by_code(code)
    if "during" in rule.moments:
        checker = EventChecker(library, knowledge, "during", death_register(knowledge, p, v))
        event = {
            (vid, None if f.feedetl_sn is None else int(f.feedetl_sn))
            for vid, person, visit in visits_from_frames(p, v, ln)
            for f in checker.check(person, visit)
            if f.rule_code == code
        }
        assert event == got
    return got


AMOX = "XJ01CAA001E001010191924"  # cheap oral, 8 a day (说明书: 0.5 g every 6 hours), packs of 24


def test_sex_restriction_flags_a_male_only_drug_for_a_woman_only() -> None:
    c = Claims()
    c.person(1, "F")
    c.person(2, "M")
    c.visit(10, 1, (AMOX, 6), ("XG04CBA125A001010182834", 30), dx="N40")
    c.visit(11, 2, ("XG04CBA125A001010182834", 30), dx="N40")
    assert flagged(c, "GZ-YB-001") == {(10, 2)}


def test_age_restriction_uses_completed_years_on_the_visit_date() -> None:
    c = Claims()
    c.person(1, birth=D(2010, 3, 11))  # 14 on 2025-03-10, 15 from 2025-03-11
    c.visit(10, 1, ("XN02BEA087G001010110869", 6), begin=D(2025, 3, 10))
    c.visit(11, 1, ("XN02BEA087G001010110869", 6), begin=D(2025, 3, 11))
    assert flagged(c, "GZ-YB-002") == {(11, 1)}


def test_level_restriction_flags_below_the_minimum_level_only() -> None:
    c = Claims()
    c.person(1)
    c.visit(10, 1, ("XJ01DHA011B002010137004", 4), hosp_lv="1", med_type="21", days=2)
    c.visit(11, 1, ("XJ01DHA011B002010137004", 4), hosp_lv="2", med_type="21", days=2)
    c.visit(12, 1, ("XJ01DHA011B002010137004", 4), hosp_lv="3S", med_type="21", days=2)
    assert flagged(c, "GZ-YB-003") == {(10, 1)}


def test_indication_matches_any_diagnosis_by_prefix_dots_ignored() -> None:
    c = Claims()
    c.person(1)
    c.visit(10, 1, ("XJ05AHA019E001010158960", 4), dx="I10")
    c.visit(11, 1, ("XJ05AHA019E001010158960", 4), dx="I10|J101")
    c.visit(12, 1, ("XB03BAA067A001010153781", 30), dx="E114")  # table prefix E11.4
    c.visit(13, 1, ("XB03BAA067A001010153781", 30), dx="E119")
    assert flagged(c, "GZ-YB-004") == {(10, 1), (13, 1)}


def test_course_within_one_admission_counts_the_visit_total_of_the_drug() -> None:
    drug = "XC01EBA048B001010127476"  # 14 days × 8 units = 112
    c = Claims()
    c.person(1)
    c.visit(10, 1, (drug, 60), (drug, 53), med_type="21", days=20)
    c.visit(11, 1, (drug, 60), (drug, 52), med_type="21", days=20)
    assert flagged(c, "GZ-YB-005") == {(10, 1), (10, 2)}


def test_course_per_year_flags_the_lines_past_the_yearly_limit() -> None:
    drug = "XN07XXA105E006010111174"  # 20 days × 6 = 120 a year
    c = Claims()
    c.person(1)
    c.person(2)
    c.visit(10, 1, (drug, 70), begin=D(2025, 2, 1))
    c.visit(11, 1, (drug, 60), begin=D(2025, 3, 1))
    c.visit(12, 2, (drug, 70), begin=D(2024, 12, 1))
    c.visit(13, 2, (drug, 50), begin=D(2025, 1, 5))
    c.visit(14, 2, (drug, 50), begin=D(2025, 2, 5))
    assert flagged(c, "GZ-YB-006") == {(11, 1)}


def test_duplicate_line_is_the_same_code_on_the_same_day_beyond_its_daily_maximum() -> None:
    infusion, bed, cbc = "001204000030000", "001109000010000", "002501010010000"  # 1 a day, 1 a day, none
    c = Claims()
    c.person(1)
    c.visit(10, 1, (infusion, 1), (AMOX, 6), (infusion, 1))  # twice on one day: the second is over
    c.visit(11, 1, (infusion, 1), (infusion, 2))
    # a stay billing its bed once a day on one line a day is not duplicate charging (per-day lines)
    c.visit(12, 1, (bed, 1), (bed, 1), (bed, 1), (bed, 1), med_type="21", days=4, on=(0, 1, 2, 3))
    c.visit(13, 1, (bed, 1), (bed, 1), (bed, 1), med_type="21", days=4, on=(0, 1, 1))  # day 1 twice
    # no daily maximum known: a line repeating quantity and price on the same day
    c.visit(14, 1, (cbc, 1), (cbc, 1), (cbc, 1), med_type="21", days=3, on=(0, 0, 2))
    c.visit(15, 1, (cbc, 1), (cbc, 2))
    assert flagged(c, "GZ-YB-007") == {(10, 3), (11, 2), (13, 3), (14, 2)}


def test_duplicate_pair_flags_the_excluded_item_when_both_are_billed() -> None:
    c = Claims()
    c.person(1)
    c.visit(10, 1, ("001102000010000", 1), ("001102000020000", 1))
    c.visit(11, 1, ("001102000020000", 1), (AMOX, 6))
    # bed grades exclude each other on the same day only: a move to another room is not a duplicate
    c.visit(12, 1, ("001109000010000", 2), ("001109000020000", 2), med_type="21", days=4, on=(0, 2))
    c.visit(13, 1, ("001109000010000", 2), ("001109000020000", 2), med_type="21", days=4, on=(1, 1))
    assert flagged(c, "GZ-YB-008") == {(10, 2), (13, 2)}


def test_frequency_per_day_scales_with_inpatient_days() -> None:
    c = Claims()
    c.person(1)
    c.visit(10, 1, ("001109000010000", 6), med_type="21", days=5)
    c.visit(11, 1, ("001109000010000", 5), med_type="21", days=5)
    c.visit(12, 1, ("001204000030000", 2))
    c.visit(13, 1, ("001204000030000", 1))
    assert flagged(c, "GZ-YB-009") == {(10, 1), (12, 1)}


def test_frequency_rules_read_each_lines_service_day() -> None:
    dialysis = "003110000010000"  # once a day, three times in 7 days
    c = Claims()
    c.person(1)
    c.person(2)
    # a month of sessions settled as one outpatient visit, each line dated: Mon / Wed / Fri for 4 weeks
    month = tuple(7 * w + d for w in range(4) for d in (0, 2, 4))
    c.visit(10, 1, *[(dialysis, 1)] * 12, begin=D(2025, 3, 3), on=month)
    # two sessions on one day, and a fourth session inside one week
    c.visit(20, 2, (dialysis, 1), (dialysis, 1), begin=D(2025, 3, 3), on=(0, 0))
    c.visit(21, 2, (dialysis, 1), (dialysis, 1), begin=D(2025, 3, 5), on=(0, 2))
    assert flagged(c, "GZ-YB-009") == {(20, 1), (20, 2)}
    assert flagged(c, "GZ-YB-010") == {(21, 2)}


def test_frequency_per_period_uses_a_rolling_window() -> None:
    hba1c = "002503020020000"  # once per 60 days
    c = Claims()
    c.person(1)
    c.person(2)
    c.visit(10, 1, (hba1c, 1), begin=D(2025, 1, 1))
    c.visit(11, 1, (hba1c, 1), begin=D(2025, 1, 31))
    c.visit(12, 2, (hba1c, 1), begin=D(2025, 1, 1))
    c.visit(13, 2, (hba1c, 1), begin=D(2025, 3, 2))  # 60 days later: the first is out of the window
    assert flagged(c, "GZ-YB-010") == {(11, 1)}


def test_over_supply_limits_days_of_drug_by_visit_type() -> None:
    c = Claims()
    c.person(1)
    # amoxicillin: an acute item (7 days, 8 a day) dispensed in packs of 24: 56 + one pack = 80 pass
    c.visit(10, 1, (AMOX, 60), (AMOX, 21), med_type="41")  # 81 > 80
    c.visit(11, 1, (AMOX, 80), med_type="41")
    c.visit(12, 1, (AMOX, 500), med_type="21", days=10)  # inpatient drugs are not a take-home supply
    assert flagged(c, "GZ-YB-011") == {(10, 1), (10, 2)}


def test_an_ordinary_outpatient_prescription_is_limited_to_seven_days_unless_the_condition_is_long_term() -> (
    None
):
    c = Claims()
    c.person(1)
    c.visit(20, 1, (AMOX, 81), dx="J029")  # 81 > 8 a day × 7 days + one pack of 24
    c.visit(21, 1, (AMOX, 24), dx="J029")  # one whole pack for a 5-day course: normal dispensing
    c.visit(22, 1, (AMOX, 81), dx="I10")  # the item's own limit, not the diagnosis, decides
    assert flagged(c, "GZ-YB-011") == {(20, 1), (22, 1)}
    # an item without its own days limit: 7 days at an ordinary visit, 30 for a long-term condition
    plain = replace(KN, days_limit=KN.days_limit.filter(pl.col("code") != AMOX))
    c2 = Claims()
    c2.person(1)
    c2.visit(23, 1, (AMOX, 81), dx="J029")
    c2.visit(24, 1, (AMOX, 81), dx="E11.9|J029")  # the principal diagnosis decides (dots ignored)
    assert flagged(c2, "GZ-YB-011", plain) == {(23, 1)}


def test_a_person_on_the_chronic_register_may_be_supplied_for_twelve_weeks() -> None:
    metformin = "XA10BAA049A001010198648"
    c = Claims()
    c.person(1)
    c.person(2)
    c.visit(40, 1, (metformin, 84 * 3), dx="E119", prd=(84,))  # registered: 84 days allowed
    c.visit(41, 2, (metformin, 84 * 3), dx="E119", prd=(84,))  # not registered: 28 days for this item
    c.visit(42, 1, (metformin, 120 * 3), dx="E119", prd=(120,))  # beyond 12 weeks
    # a visit settled as 门慢门特 is itself proof of registration, register file or not
    c.visit(43, 2, (metformin, 84 * 3), med_type="14", dx="E119", prd=(84,))
    c.visit(44, 2, (metformin, 120 * 3), med_type="14", dx="E119", prd=(120,))
    reg = pl.DataFrame({"psn_no": ["P000000001"], "icd_prefix": ["E11"], "condition": ["diabetes"]})
    k = from_frames_like(KN, registered_conditions=reg)
    assert flagged(c, "GZ-YB-011", k) == {(41, 1), (42, 1), (44, 1)}


def test_over_supply_also_reads_the_days_a_line_is_written_for() -> None:
    c = Claims()
    c.person(1)
    c.visit(24, 1, (AMOX, 12), dx="J029", prd=(10,))  # 12 units are within 7 days, but written for 10
    c.visit(25, 1, (AMOX, 12), dx="J029", prd=(7,))
    c.visit(26, 1, (AMOX, 12), med_type="14", dx="I10", prd=(8,))  # the item's 7 days at any visit type
    c.visit(28, 1, (AMOX, 500), med_type="21", days=10, prd=(60,))  # not a take-home supply
    assert flagged(c, "GZ-YB-011") == {(24, 1), (26, 1)}


def test_dose_days_flags_a_quantity_the_stated_days_cannot_use_up() -> None:
    c = Claims()
    c.person(1)
    # amoxicillin: 8 a day at most, packs of 24 — a quantity within one pack above the days' need passes
    c.visit(30, 1, (AMOX, 24), dx="J029", prd=(5,))  # one pack for a 5-day course: whole-pack dispensing
    c.visit(31, 1, (AMOX, 81), dx="J029", prd=(7,))  # 56 + 24 = 80 at most
    c.visit(32, 1, (AMOX, 126), dx="I10", prd=(7,))  # multiplied, days left as written
    c.visit(33, 1, (AMOX, 126), dx="I10", prd=(42,))  # multiplied and the days with it: consistent
    c.visit(34, 1, (AMOX, 126), dx="I10")  # no stated days: nothing to compare
    c.visit(
        35, 1, ("001102000010000", 5), (AMOX, 65), dx="I10", prd=(1, 5)
    )  # line 2 (40 + 24 = 64); line 1 has no supply row
    assert flagged(c, "GZ-YB-018") == {(31, 1), (32, 1), (35, 2)}
    c.visit(36, 1, (AMOX, 126), dx="I10", prd=(0,))  # 0 days: not stated, not judged
    assert flagged(c, "GZ-YB-018") == {(31, 1), (32, 1), (35, 2)}


def test_fractional_prescribed_days_are_refused_naming_the_column() -> None:
    from yibao.audit.rules.batch import AuditInputError

    c = Claims()
    c.person(1)
    c.visit(1, 1, (AMOX, 41), dx="J029", prd=(3,))
    p, v, ln = c.frames()
    with pytest.raises(AuditInputError, match=r"lines\.prd_days"):
        run_rules(LIB, KN, p, v, ln.with_columns(pl.lit(2.5).alias("prd_days")), only={"GZ-YB-018"})
    whole = ln.with_columns(
        pl.lit(2.0).alias("prd_days")
    )  # 41 units > 2 days × 8 + a pack, as an integer would
    assert run_rules(LIB, KN, p, v, whole, only={"GZ-YB-018"}).height == 1


def test_over_price_allows_the_tolerance_and_stakes_the_excess() -> None:
    c = Claims()
    c.person(1)
    c.visit(10, 1, ("001104000010000", 2, 1651), med_type="21", days=2)
    c.visit(11, 1, ("001104000010000", 2, 1650), med_type="21", days=2)
    p, v, ln = c.frames()
    f = run_rules(LIB, KN, p, v, ln, only={"GZ-YB-012"})
    assert f.select("visit_id", "feedetl_sn", "amount_fen").rows() == [(10, 1, (1651 - 1500) * 2)]
    assert flagged(c, "GZ-YB-012") == {(10, 1)}


def test_split_item_flags_a_component_beside_its_package() -> None:
    c = Claims()
    c.person(1)
    c.visit(10, 1, ("003310030010000", 1), ("003316010010000", 1), med_type="21", days=3)
    c.visit(11, 1, ("003316010010000", 1))
    assert flagged(c, "GZ-YB-013") == {(10, 2)}


def test_split_admission_same_hospital_same_disease_within_window_not_emergency() -> None:
    c = Claims()
    for pid in (1, 2, 3, 4):
        c.person(pid)
    c.visit(10, 1, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 1), days=5, dx="K350")
    c.visit(11, 1, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 21), days=5, dx="K359")  # gap 15
    c.visit(20, 2, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 1), days=5, dx="K350")
    c.visit(21, 2, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 22), days=5, dx="K350")  # gap 16
    c.visit(30, 3, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 1), days=5, dx="K350")
    c.visit(
        31, 3, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 8), days=5, dx="K350", emergency=True
    )
    c.visit(40, 4, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 1), days=5, dx="K350")
    c.visit(41, 4, ("001109000010000", 5), med_type="21", begin=D(2025, 3, 8), days=5, dx="I10")
    assert flagged(c, "GZ-YB-014") == {(10, None), (11, None)}  # both halves of the pair
    p, v, ln = c.frames()
    f = run_rules(LIB, KN, p, v, ln, only={"GZ-YB-014"})
    amounts = dict(f.select("visit_id", "amount_fen").rows())
    assert amounts[10] == 0 and amounts[11] == int(ln.filter(pl.col("visit_id") == 11)["amount"].sum())
    roles = {vid: json.loads(e)["role"] for vid, e in f.select("visit_id", "evidence").rows()}
    assert roles == {10: "index_admission", 11: "readmission"}


def test_bed_hanging_counts_bed_days_without_care() -> None:
    c = Claims()
    c.person(1)
    c.visit(
        10,
        1,
        ("001104000010000", 5),
        ("001109000010000", 10),
        ("001201000040000", 10),
        med_type="21",
        days=10,
    )
    c.visit(11, 1, ("001104000010000", 8), ("001109000010000", 10), med_type="21", days=10)
    assert flagged(c, "GZ-YB-015") == {(10, None)}
    p, v, ln = c.frames()
    f = run_rules(LIB, KN, p, v, ln, only={"GZ-YB-015"})
    bed, nurse = (
        int(KN.price_standard.filter(pl.col("code") == x)["standard_price_fen"][0])
        for x in ("001109000010000", "001201000040000")
    )
    assert f["amount_fen"].to_list() == [5 * bed + 5 * nurse]  # five empty days of bed and nursing


def test_a_stay_with_daily_medication_or_tests_is_cared_for_without_a_consultation_code() -> None:
    cbc = "002501010010000"
    c = Claims()
    c.person(1)
    # no daily consultation billed, but a drug or a test on each of 9 of the 10 days: cared for
    c.visit(
        12,
        1,
        ("001109000010000", 10),
        *[(AMOX, 3)] * 5,
        *[(cbc, 1)] * 4,
        med_type="21",
        days=10,
        on=(0, 0, 1, 2, 3, 4, 5, 6, 7, 8),
    )
    # medication on 4 days of 10 only, and nursing every day: nursing alone is not care
    c.visit(
        13,
        1,
        ("001109000010000", 10),
        ("001201000040000", 10),
        *[(AMOX, 3)] * 4,
        med_type="21",
        days=10,
        on=(0, 0, 0, 1, 2, 3),
    )
    assert flagged(c, "GZ-YB-015") == {(13, None)}


def test_a_chemotherapy_cycle_or_a_dialysis_course_is_not_a_split_admission() -> None:
    c = Claims()
    for pid in (1, 2, 3):
        c.person(pid)
    bed = ("001109000010000", 3)
    # chemotherapy every 14 days (procedure 99.25): the next cycle, not a split
    c.visit(10, 1, bed, med_type="21", begin=D(2025, 3, 1), days=3, dx="C349")
    c.visit(11, 1, bed, med_type="21", begin=D(2025, 3, 15), days=3, dx="C349")
    # a chemotherapy stay readmitted 2 days later: shorter than a cycle, still a suspect split
    c.visit(20, 2, bed, med_type="21", begin=D(2025, 3, 1), days=3, dx="Z511|C349")
    c.visit(21, 2, bed, med_type="21", begin=D(2025, 3, 6), days=3, dx="Z511|C349")
    # the same pair without a course marker
    c.visit(30, 3, bed, med_type="21", begin=D(2025, 3, 1), days=3, dx="C349")
    c.visit(31, 3, bed, med_type="21", begin=D(2025, 3, 15), days=3, dx="C349")
    p, v, ln = c.frames()
    v = v.with_columns(
        pl.when(pl.col("visit_id").is_in([10, 11]))
        .then(pl.lit("9925"))
        .otherwise(pl.lit(""))
        .alias("procedures")
    )
    got = set(run_rules(LIB, KN, p, v, ln, only={"GZ-YB-014"})["visit_id"].to_list())
    assert got == {20, 21, 30, 31}


def test_settlement_after_death_from_the_register_and_from_a_death_discharge() -> None:
    c = Claims()
    c.person(1)
    c.person(2)
    c.person(3)
    c.visit(10, 1, (AMOX, 6), begin=D(2025, 3, 1))
    c.visit(11, 1, (AMOX, 6), begin=D(2025, 3, 2))
    c.visit(20, 2, ("001109000010000", 5), med_type="21", begin=D(2025, 2, 1), days=5, discharge="4")
    c.visit(21, 2, (AMOX, 6), begin=D(2025, 2, 7))
    c.visit(30, 3, (AMOX, 6), begin=D(2025, 2, 7))
    kn = Knowledge(
        **{**KN.__dict__, "deaths": pl.DataFrame({"psn_no": ["P000000001"], "death_date": [D(2025, 3, 1)]})}
    )
    assert flagged(c, "GZ-YB-016", kn) == {(11, None), (21, None)}


def test_imaging_positive_rate_below_the_floor_flags_the_negative_exams() -> None:
    def region(n_pos: int) -> Claims:
        c = Claims()
        c.person(1)
        for i in range(30):
            c.visit(100 + i, 1, ("002103000010000", 1), dx="C341" if i < n_pos else "R51")
        return c

    low = flagged(region(17), "ZB-YB-001")  # 17/30 = 56.7% < 60%
    assert low == {(100 + i, 1) for i in range(17, 30)}
    assert flagged(region(18), "ZB-YB-001") == set()  # 60% is not below the floor


def test_imaging_uses_a_result_column_when_the_lines_carry_one() -> None:
    c = Claims()
    c.person(1)
    for i in range(30):
        c.visit(100 + i, 1, ("002103000010000", 1), dx="C341")
    p, v, ln = c.frames()
    ln = ln.with_columns((pl.col("visit_id") < 110).alias("positive"))  # 10/30 positive despite the diagnoses
    f = run_rules(LIB, KN, p, v, ln, only={"ZB-YB-001"})
    assert sorted(f["visit_id"].to_list()) == list(range(110, 130))


def test_title_grade_checks_the_billing_physician_against_the_registry() -> None:
    chief, deputy, ordinary = "001102000030000", "001102000020000", "001102000010000"
    registry = pl.DataFrame(
        {
            "dr_code": ["D-CHIEF", "D-DEP", "D-ATT", "D-ATT"],
            "fixmedins_code": ["H61010000001"] * 4,
            "title": ["231", "232", "233", "233"],
        }
    )
    kn = with_physicians(KN, registry)
    c = Claims()
    c.person(1)
    c.visit(1, 1, (chief, 1), doctor="D-CHIEF")  # allowed
    c.visit(2, 1, (deputy, 1), doctor="D-CHIEF")  # billing below the title is allowed
    c.visit(3, 1, (chief, 1), doctor="D-DEP")  # above the title
    c.visit(4, 1, ("XJ01CAA001E001010191924", 6), (deputy, 1), doctor="D-ATT")  # line 2, above the title
    c.visit(5, 1, (ordinary, 1), doctor="D-ATT")  # the ordinary grade needs no title
    c.visit(6, 1, (deputy, 1), doctor="D-GHOST")  # not in the registry
    c.visit(7, 1, (chief, 1))  # no physician named: nothing to check
    assert flagged(c, "GZ-YB-017", kn) == {(3, 1), (4, 2), (6, 1)}
    assert flagged(c, "GZ-YB-017") == set()  # no registry loaded: the rule cannot judge anyone
    p, v, ln = c.frames()
    out = run_rules(LIB, kn, p, v, ln, only={"GZ-YB-017"})
    f = out.filter(pl.col("visit_id") == 3)
    assert json.loads(f["evidence"][0]) == {
        "code": chief,
        "titles": "231",
        "physician": "D-DEP",
        "title": "232",
        "allowed_price_fen": 2000,
    }
    # at stake: the excess over the dearest grade the physician may bill (standard prices 10 / 20 / 30 元);
    # all of it when the physician is not registered
    assert dict(out.select("visit_id", "amount_fen").iter_rows()) == {3: 3000 - 2000, 4: 2000 - 1000, 6: 2000}
    assert f["reason_zh"][0] == f"项目{chief}限职称231收取，开单医师D-DEP职称为232"
    with pytest.raises(KnowledgeError, match=r"physicians\.title"):
        with_physicians(KN, registry.drop("title"))
    # a physician column that is all null (e.g. built from dicts of None) is no physician, not an error
    v_null = v.with_columns(pl.lit(None).alias("bilg_dr_codg"))
    assert run_rules(LIB, kn, p, v_null, ln, only={"GZ-YB-017"}).height == 0
    # the physician named on the line wins over the visit's
    ln_dr = ln.with_columns(
        pl.when(pl.col("visit_id") == 1).then(pl.lit("D-DEP")).otherwise(None).alias("bilg_dr_codg")
    )
    assert {
        r[0] for r in run_rules(LIB, kn, p, v, ln_dr, only={"GZ-YB-017"}).select("visit_id").iter_rows()
    } == {1, 3, 4, 6}


IH = "IH61000000001"
METFORMIN = "XA10BAA049A001010198648"


def test_an_e_prescription_dispensed_on_or_after_its_validity_day_is_blocked() -> None:
    c = Claims()
    c.person(1)
    issued = D(2025, 3, 10)
    days = LIB.by_code("GZ-YB-019").params.valid_days  # 3: 《处方管理办法》第十八条
    c.visit(1, 1, (METFORMIN, 60), begin=issued, rx=("RX1", "D1", IH, issued))  # the issue day
    c.visit(2, 1, (METFORMIN, 60), begin=issued + dt.timedelta(days=days - 1), rx=("RX2", "D1", IH, issued))
    c.visit(3, 1, (METFORMIN, 60), begin=issued + dt.timedelta(days=days), rx=("RX3", "D1", IH, issued))
    c.visit(4, 1, (METFORMIN, 60), begin=issued - dt.timedelta(days=1), rx=("RX4", "D1", IH, issued))
    c.visit(5, 1, (METFORMIN, 60), begin=issued + dt.timedelta(days=30))  # no e-prescription: not judged
    assert flagged(c, "GZ-YB-019") == {(3, None), (4, None)}
    p, v, ln = c.frames()
    out = run_rules(LIB, KN, p, v, ln, only={"GZ-YB-019"}).filter(pl.col("visit_id") == 3)
    assert out["reason_zh"][0] == f"处方2025-03-10开具，2025-03-13调剂，已超过{days}天有效期"
    assert (
        out["severity"][0] == "block"
        and out["amount_fen"][0] == ln.filter(pl.col("visit_id") == 3)["amount"].sum()
    )


def test_an_e_prescription_dispensed_a_second_time_is_blocked_not_the_first() -> None:
    c = Claims()
    c.person(1)
    day = D(2025, 3, 10)
    c.visit(1, 1, (METFORMIN, 60), begin=day, rx=("RX1", "D1", IH, day))
    c.visit(2, 1, (METFORMIN, 60), begin=day + dt.timedelta(days=1), rx=("RX1", "D1", IH, day))
    c.visit(3, 1, (METFORMIN, 60), begin=day + dt.timedelta(days=1), rx=("RX2", "D1", IH, day))
    c.visit(4, 1, (METFORMIN, 60), begin=day + dt.timedelta(days=2), rx=("RX1", "D1", IH, day))
    assert flagged(c, "GZ-YB-020") == {(2, None), (4, None)}
    p, v, ln = c.frames()
    reasons = dict(
        run_rules(LIB, KN, p, v, ln, only={"GZ-YB-020"}).select("visit_id", "reason_zh").iter_rows()
    )
    assert reasons == {2: "处方RX1已调剂1次，不能重复调剂取药", 4: "处方RX1已调剂2次，不能重复调剂取药"}


def test_the_prescriber_must_be_in_the_physician_registry_and_registered_at_the_internet_hospital() -> None:
    c = Claims()
    c.person(1)
    day = D(2025, 3, 10)
    c.visit(1, 1, (METFORMIN, 60), begin=day, rx=("RX1", "D-OK", IH, day))
    c.visit(2, 1, (METFORMIN, 60), begin=day, rx=("RX2", "D-GHOST", IH, day))  # not in the 医保医师库
    c.visit(3, 1, (METFORMIN, 60), begin=day, rx=("RX3", "D-OFF", IH, day))  # no internet registration
    c.visit(
        4, 1, (METFORMIN, 60), begin=day, rx=("RX4", "D-OK", "IH-OTHER", day)
    )  # another internet hospital
    c.visit(5, 1, (METFORMIN, 60), begin=day, rx=("RX5", "D-OLD", IH, day))  # registration ended before
    assert flagged(c, "GZ-YB-021") == set()  # no register loaded: nothing can be judged
    registry = pl.DataFrame(
        {"dr_code": ["D-OK", "D-OFF", "D-OLD"], "fixmedins_code": ["H1"] * 3, "title": ["233"] * 3}
    )
    internet = pl.DataFrame(
        {
            "dr_code": ["D-OK", "D-OLD"],
            "internet_hospital": [IH, IH],
            "valid_from": ["2024-01-01", "2024-01-01"],
            "valid_to": ["2027-12-31", "2025-03-09"],
        }
    )
    only_insured = with_physicians(KN, registry)
    assert flagged(c, "GZ-YB-021", only_insured) == {(2, None)}
    kn = from_frames_like(only_insured, internet_physicians=internet)
    assert flagged(c, "GZ-YB-021", kn) == {(2, None), (3, None), (4, None), (5, None)}
    p, v, ln = c.frames()
    reasons = dict(
        run_rules(LIB, kn, p, v, ln, only={"GZ-YB-021"}).select("visit_id", "reason_zh").iter_rows()
    )
    assert reasons[2] == "开方医师D-GHOST不在医保医师库"
    assert reasons[4] == "开方医师D-OK在2025-03-10未在互联网医院IH-OTHER备案"


def test_every_rule_of_the_library_has_a_test_here() -> None:
    import sys

    src = open(sys.modules[__name__].__file__ or "", encoding="utf-8").read()
    missing = [r.code for r in LIB.rules if f'flagged(c, "{r.code}"' not in src and f'"{r.code}")' not in src]
    assert missing == []


def test_flags_are_deterministic_and_follow_the_contract() -> None:
    c = Claims()
    c.person(1, "F")
    c.visit(10, 1, ("XG04CBA125A001010182834", 30), ("001102000010000", 1), ("001102000020000", 1), dx="N40")
    p, v, ln = c.frames()
    a = validate_flags(run_rules(LIB, KN, p, v, ln))
    b = run_rules(LIB, KN, p, v, ln)
    assert a.equals(b)
    assert set(a["flag_id"]) == {"GZ-YB-001:10:1", "GZ-YB-008:10:3"}
    assert set(a["severity"]) == {"block", "flag"} and set(a["source"]) == {"rule"}


def test_missing_input_column_names_the_field() -> None:
    from yibao.audit.rules.batch import AuditInputError

    c = Claims()
    c.person(1)
    c.visit(10, 1, (AMOX, 6))
    p, v, ln = c.frames()
    with pytest.raises(AuditInputError) as e:
        run_rules(LIB, KN, p, v.drop("hosp_lv"), ln)
    assert e.value.field == "visits.hosp_lv"


BED3, NURSE2, ROUND = "001109000010000", "001201000040000", "001104000010000"


def test_idle_stay_reads_each_day_and_a_ward_round_alone_is_not_treatment() -> None:
    c = Claims()
    c.person(1)
    days = 12
    daily = [(BED3, 1), (NURSE2, 1), (ROUND, 1)] * days
    on = tuple(d for d in range(days) for _ in range(3))
    cbc = "002501010010000"
    # 挂床: bed, nursing and the ward round every day, a blood count and a drug on the first day only
    c.visit(20, 1, *daily, (cbc, 1), (AMOX, 8), med_type="21", days=days, hosp_lv="1", on=(*on, 0, 0))
    # look-alike: a long stay cared for every day (a drug on each day besides the per-day fees)
    c.visit(21, 1, *daily, *[(AMOX, 8)] * days, med_type="21", days=days, on=(*on, *range(days)))
    # a stay billed without service days (one line per item on the first day) cannot be read by day
    c.visit(22, 1, (BED3, days), (NURSE2, days), (ROUND, days), med_type="21", days=days)
    # look-alike: care on four scattered days (drugs for several days billed once), the last on day 10 —
    # 8 idle days, but only one after the last care day
    c.visit(23, 1, *daily, *[(AMOX, 24)] * 4, med_type="21", days=days, on=(*on, 0, 3, 7, 10))
    assert flagged(c, "GZ-YB-022") == {(20, None)}
    p, v, ln = c.frames()
    f = run_rules(LIB, KN, p, v, ln, only={"GZ-YB-022"})
    ev = json.loads(f["evidence"][0])
    assert (ev["stay_days"], ev["care_days"], ev["idle_days"], ev["idle_after_last_care"]) == (12, 1, 11, 11)
    per_day = sum(r["amount"] for r in c.lines if r["visit_id"] == 20 and r["code"] in (BED3, NURSE2, ROUND))
    assert f["amount_fen"][0] == per_day * 11 // 12  # the per-day fees of the 11 idle days


def test_stay_elsewhere_flags_a_purchase_at_another_institution_within_the_stay() -> None:
    c = Claims()
    c.person(1)
    c.person(2)
    stay = c.visit(30, 1, (BED3, 10), med_type="21", begin=D(2025, 3, 1), days=10, inst="H1")
    shop = c.visit(31, 1, (AMOX, 24), med_type="41", begin=D(2025, 3, 5), inst="P1")
    # look-alikes: a purchase on the discharge day, an outpatient visit the day before admission, and a
    # visit at the hospital of the stay itself
    c.visit(32, 2, (BED3, 10), med_type="21", begin=D(2025, 3, 1), days=10, inst="H1")
    c.visit(33, 2, (AMOX, 24), med_type="41", begin=D(2025, 3, 11), inst="P1")
    c.visit(34, 2, (AMOX, 24), begin=D(2025, 2, 28), inst="H2")
    c.visit(35, 2, (AMOX, 24), begin=D(2025, 3, 4), inst="H1")
    # shipped disabled (docs/AUDIT_RULES.md): a bureau enables it
    lib = LIB.model_copy(update={"rules": tuple(r.model_copy(update={"enabled": True}) for r in LIB.rules)})
    assert flagged(c, "GZ-YB-023", library=lib) == {(stay, None), (shop, None)}
    assert flagged(c, "GZ-YB-023") == set()
    p, v, ln = c.frames()
    f = run_rules(lib, KN, p, v, ln, only={"GZ-YB-023"}).sort("visit_id")
    assert [json.loads(e)["role"] for e in f["evidence"]] == ["stay", "elsewhere"]
    assert f["amount_fen"].to_list() == [int(ln.filter(pl.col("visit_id") == stay)["amount"].sum()), 0]


def _with_params(code: str, **params: Any) -> Library:
    """The EXAMPLE library with some params of rule ``code`` changed."""
    return LIB.model_copy(
        update={
            "rules": tuple(
                r.model_copy(update={"params": r.params.model_copy(update=params)}) if r.code == code else r
                for r in LIB.rules
            )
        }
    )


def test_repeat_supply_finds_rings_collecting_a_drug_far_beyond_its_usual_dose() -> None:
    sac = (
        "XC09DXA027A001010114101"  # 沙库巴曲缬沙坦钠片, priced per box, at most 0.2 box a day (5 days a box)
    )
    start = D(2025, 1, 6)
    c = Claims()
    # the region's usual dose: 30 lines state 6 boxes for 42 days (a box lasts 7 days, not the largest dose's 5)
    for pid in range(10, 15):
        c.person(pid)
        for i in range(6):
            c.visit(
                2000 + 10 * pid + i,
                pid,
                (sac, 6),
                med_type="41",
                begin=start + dt.timedelta(days=42 * i),
                inst="P9",
                prd=(42,),
            )
    # 回流药 ring: three card holders each collect 6 boxes (42 days) every 14 days at two pharmacies
    ring: dict[int, list[int]] = {}
    for pid in (1, 2, 3):
        c.person(pid)
        ring[pid] = [
            c.visit(
                100 * pid + i,
                pid,
                (sac, 6),
                med_type="41",
                begin=start + dt.timedelta(days=14 * i + pid),
                inst=f"P{i % 2}",
            )
            for i in range(8)
        ]
    # look-alike: the same stock kept by two persons at two other pharmacies (not a ring of three)
    for pid in (4, 5):
        c.person(pid)
        for i in range(8):
            c.visit(
                100 * pid + i,
                pid,
                (sac, 6),
                med_type="41",
                begin=start + dt.timedelta(days=14 * i),
                inst=f"P{2 + i % 2}",
            )
    # look-alike: a registered chronic patient's 12-week prescriptions (84 days at the usual dose) at two hospitals
    c.person(6)
    for i in range(4):
        c.visit(
            600 + i, 6, (sac, 12), med_type="14", begin=start + dt.timedelta(days=84 * i), inst=f"H{i % 2}"
        )
    # look-alike: three supplies in one week at the ring's pharmacies, then nothing (a burst, not a stock kept up)
    c.person(7)
    for i in range(3):
        c.visit(
            700 + i, 7, (sac, 12), med_type="41", begin=start + dt.timedelta(days=3 * i), inst=f"P{i % 2}"
        )
    got = flagged(c, "GZ-YB-024")
    # 42 days every 14 days: on hand before each supply 0, 28, 56, 84, 112 …; the stock never runs out, so the
    # whole run is the excess; possession ratio 8 × 42 / (7 × 14 + 42) = 2.4
    assert got == {(v, 1) for vs in ring.values() for v in vs}
    p, v, ln = c.frames()
    f = (
        run_rules(LIB, KN, p, v, ln, only={"GZ-YB-024"})
        .filter(pl.col("visit_id").is_in(ring[1]))
        .sort("visit_id")
    )
    ev = [json.loads(e) for e in f["evidence"]]
    assert [e["days_on_hand"] for e in ev] == [0, 28, 56, 84, 112, 140, 168, 196]
    assert {(e["ring_persons"], e["supplies"], e["possession_ratio"], e["units_per_day"]) for e in ev} == {
        (3, 8, 2.4, str(round(6 / 42, 4)))
    }
    # only the supplies made while more than 84 days were on hand
    only_over = _with_params("GZ-YB-024", whole_run=False)
    assert flagged(c, "GZ-YB-024", library=only_over) == {(v, 1) for vs in ring.values() for v in vs[4:]}
    # at the largest daily dose a supply lasts 30 days: ratio 8 × 30 / 128 < 2, nobody is flagged
    assert flagged(c, "GZ-YB-024", library=_with_params("GZ-YB-024", dose="largest")) == set()
    # with fewer than min_dose_lines lines stating days the largest dose is used, too
    assert flagged(c, "GZ-YB-024", library=_with_params("GZ-YB-024", min_dose_lines=31)) == set()
    # rings of two are let in by min_ring 2, a lone stock by 1; the burst and the long prescriptions never
    pairs = {v for v, _ in flagged(c, "GZ-YB-024", library=_with_params("GZ-YB-024", min_ring=2))}
    assert {vid // 100 for vid in pairs} == {1, 2, 3, 4, 5}
    lone = {v for v, _ in flagged(c, "GZ-YB-024", library=_with_params("GZ-YB-024", min_ring=1))}
    assert lone == pairs
    # the burst (at the ring's pharmacies) is let in only without the supply count and the possession ratio
    loose = _with_params("GZ-YB-024", min_supplies=1, min_possession_bp=0)
    assert {vid // 100 for vid, _ in flagged(c, "GZ-YB-024", library=loose) if vid < 800} == {1, 2, 3, 7}
