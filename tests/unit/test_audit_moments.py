"""Before (事前提醒) warnings, the during (事中) hook in settlement, and validation of the library and the
knowledge tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from yibao.audit.knowledge import Knowledge, KnowledgeError, from_frames, load_knowledge
from yibao.audit.moments import (
    Institution,
    PastItem,
    Prescribed,
    PrescriptionError,
    check_prescription,
    settlement_hook,
)
from yibao.audit.rules.model import RuleError, library_path, load_library, parse_library
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Line, Person, Visit
from yibao.settlement.trace import AuditSummary

KN = load_knowledge()
LIB = load_library()
WOMAN = Person("P000000001", "测试", "x", "F", dt.date(1990, 5, 1), "310", "11")
CLINIC = Institution("H61010000001", "1")
DAY = dt.date(2025, 3, 10)
FINASTERIDE, MEROPENEM, AMOX = "XG04CBA125A001010182834", "XJ01DHA011B002010137004", "XJ01CAA001E001010191924"
BUTYL = "XN07XXA105E006010111174"  # 120 units a year


def test_before_warns_in_both_languages_per_item() -> None:
    w = check_prescription(
        KN,
        WOMAN,
        CLINIC,
        [Prescribed(AMOX, 60_000), Prescribed(FINASTERIDE, 300_000), Prescribed(MEROPENEM, 20_000)],
        ["N40"],
        DAY,
    )
    got = {(x.item, x.rule_code) for x in w}
    assert got == {(1, "GZ-YB-001"), (2, "GZ-YB-003")}
    assert all(x.reason_zh and x.reason_en for x in w)


def test_before_warns_when_the_quantity_outlasts_the_days_written() -> None:
    clinic = Institution("H61010000001", "3")
    w = check_prescription(
        KN,
        WOMAN,
        clinic,
        [Prescribed(AMOX, 410_000, days=2), Prescribed(AMOX, 60_000, days=2)],
        ["I10"],
        DAY,
    )
    assert {(x.item, x.rule_code) for x in w} == {
        (0, "GZ-YB-018")
    }  # 41 units in 2 days > 8 a day (说明书) and a pack of 24 (whole-pack dispensing); 6 in 2 is not
    assert "2天" in w[0].reason_zh and "2 days" in w[0].reason_en
    assert (
        check_prescription(KN, WOMAN, clinic, [Prescribed(AMOX, 240_000)], ["I10"], DAY) == []
    )  # no days stated
    with pytest.raises(PrescriptionError, match=r"items\[0\]\.days"):
        check_prescription(KN, WOMAN, clinic, [Prescribed(AMOX, 10_000, days=0)], ["I10"], DAY)


def test_before_is_silent_for_a_clean_prescription() -> None:
    assert (
        check_prescription(
            KN, WOMAN, Institution("H61010000001", "3"), [Prescribed(AMOX, 60_000)], ["J101"], DAY
        )
        == []
    )


def test_before_uses_history_for_the_yearly_course() -> None:
    hist = [PastItem(dt.date(2025, 1, 5), BUTYL, 700_000), PastItem(dt.date(2024, 12, 1), BUTYL, 900_000)]
    w = check_prescription(KN, WOMAN, CLINIC, [Prescribed(BUTYL, 400_000)], ["I63"], DAY, hist, med_type="21")
    assert [(x.item, x.rule_code) for x in w] == []
    w = check_prescription(KN, WOMAN, CLINIC, [Prescribed(BUTYL, 510_000)], ["I63"], DAY, hist, med_type="21")
    assert [(x.item, x.rule_code) for x in w] == [(0, "GZ-YB-006")]


def test_before_uses_history_for_the_period_frequency() -> None:
    hba1c = "002503020020000"
    hist = [PastItem(DAY - dt.timedelta(days=59), hba1c, 10_000)]
    assert [
        x.rule_code
        for x in check_prescription(KN, WOMAN, CLINIC, [Prescribed(hba1c, 10_000)], ["E11"], DAY, hist)
    ] == ["GZ-YB-010"]
    hist = [PastItem(DAY - dt.timedelta(days=60), hba1c, 10_000)]
    assert check_prescription(KN, WOMAN, CLINIC, [Prescribed(hba1c, 10_000)], ["E11"], DAY, hist) == []


def test_before_rejects_a_non_positive_quantity_naming_the_item() -> None:
    with pytest.raises(PrescriptionError) as e:
        check_prescription(KN, WOMAN, CLINIC, [Prescribed(AMOX, 10_000), Prescribed(AMOX, 0)], [], DAY)
    assert e.value.field == "items[1].qty"


POLICY = PolicyBook(load_region(example_path("xian"))).for_date(dt.date(2025, 6, 1))


def _visit(*lines: Line, level: str = "3", dx: tuple[str, ...] = ("N40",)) -> Visit:
    return Visit("M1", WOMAN.psn_no, "11", "H61010000001", level, DAY, DAY, lines, diagnoses=dx)


def test_during_a_blocked_line_is_fully_self_paid_and_the_reason_kept() -> None:
    fin = Line("1", FINASTERIDE, 300_000, 120, 3_600)
    amox = Line("2", AMOX, 60_000, 25, 150)
    hook = settlement_hook(LIB, KN)
    plain = settle_visit(POLICY, WOMAN, _visit(fin, amox), {}, 10_000)
    s = settle_visit(POLICY, WOMAN, _visit(fin, amox), {}, 10_000, audit=hook)
    assert [(f.feedetl_sn, f.rule_code, f.severity) for f in s.audit] == [("1", "GZ-YB-001", "block")]
    assert s.line_parts[0] == (3_600, 0, 0, 0) and s.line_parts[1] == plain.line_parts[1]
    assert s.fulamt_ownpay_amt == plain.fulamt_ownpay_amt + 3_600 and s.medfee_sumamt == plain.medfee_sumamt
    assert AuditSummary(1, 1) in s.steps


def test_during_a_flag_is_recorded_but_settles_normally() -> None:
    over = Line("1", "002501010010000", 10_000, 2_400, 2_400)  # standard 2000, +20%
    hook = settlement_hook(LIB, KN)
    plain = settle_visit(POLICY, WOMAN, _visit(over), {}, 0)
    s = settle_visit(POLICY, WOMAN, _visit(over), {}, 0, audit=hook)
    assert [(f.rule_code, f.severity) for f in s.audit] == [("GZ-YB-012", "flag")]
    assert s.line_parts == plain.line_parts and s.fund_pay_sumamt == plain.fund_pay_sumamt


def test_during_settlement_after_death_blocks_every_line() -> None:
    kn = Knowledge(
        **{
            **KN.__dict__,
            "deaths": pl.DataFrame({"psn_no": [WOMAN.psn_no], "death_date": [DAY - dt.timedelta(days=1)]}),
        }
    )
    amox = Line("1", AMOX, 60_000, 25, 150)
    s = settle_visit(POLICY, WOMAN, _visit(amox, dx=("J101",)), {}, 0, audit=settlement_hook(LIB, kn))
    assert s.fund_pay_sumamt == 0 and s.line_parts == [(150, 0, 0, 0)]
    assert [f.rule_code for f in s.audit] == ["GZ-YB-016"]


def test_library_errors_name_the_rule_and_field() -> None:
    doc = yaml.safe_load(library_path().read_text(encoding="utf-8"))
    doc["rules"][2]["kind"] = "no_such_kind"
    with pytest.raises(RuleError) as e:
        parse_library(doc)
    assert e.value.field == "rules[2].kind" and e.value.reason.startswith(
        "未知的规则类型 unknown kind 'no_such_kind'"
    )
    doc = yaml.safe_load(library_path().read_text(encoding="utf-8"))
    doc["rules"][13]["moments"] = ["during"]  # split admission needs history
    with pytest.raises(
        RuleError,
        match=r"^rules\[13\]: 该类规则需要历史数据，不能在结算时运行 kind split_admission needs history and cannot run during settlement$",
    ):
        parse_library(doc)
    doc = yaml.safe_load(library_path().read_text(encoding="utf-8"))
    doc["rules"][11]["params"] = {"tolerance_bp": -1}
    with pytest.raises(RuleError) as e:
        parse_library(doc)
    assert e.value.field.startswith("rules[11].params")


def test_every_shipped_rule_cites_a_source_and_reads_existing_tables() -> None:
    tables = set(Knowledge.__dataclass_fields__)
    for r in LIB.rules:
        assert len(r.source) > 10 and set(r.knowledge) <= tables


def test_knowledge_errors_name_table_and_column(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as e:
        from_frames(item_sex=pl.DataFrame({"code": ["X"], "sex": ["Q"]}))
    assert e.value.field == "item_sex.sex"
    with pytest.raises(KnowledgeError) as e:
        from_frames(supply=pl.DataFrame({"code": ["X"], "max_units_per_day": ["0.00001"]}))
    assert e.value.field == "supply.max_units_per_day"
    with pytest.raises(KnowledgeError) as e:
        load_knowledge(tmp_path)
    assert e.value.reason.startswith("缺少文件 file ") and e.value.reason.endswith(" missing")


def test_during_reused_findings_keep_each_visits_own_reason() -> None:
    """The checker reuses finding objects per (check, code, line, context): the same line number and code on
    visits of different patients and hospitals must still carry that visit's age, sex and level."""
    hook = settlement_hook(LIB, KN)
    age_code = KN.item_age.filter(pl.col("min_age") == 18)["code"][0]
    lv_code = KN.item_level.filter(pl.col("min_level") == "3")["code"][0]
    male_code = KN.item_sex.filter(pl.col("sex") == "M")["code"][0]
    std = dict(KN.price_standard.select("code", "standard_price_fen").iter_rows())

    def visit(level: str) -> Visit:
        lines = tuple(
            Line(str(i + 1), c, 10_000, std[c], std[c]) for i, c in enumerate((age_code, lv_code, male_code))
        )
        return Visit("M1", "P1", "11", "H61010000001", level, DAY, DAY, lines, diagnoses=("J101",))

    got = {}
    for who, birth, level in (
        ("F", dt.date(2015, 1, 1), "1"),
        ("F", dt.date(2012, 1, 1), "2"),
        ("M", dt.date(2014, 1, 1), "1"),
    ):
        person = Person("P1", "x", "x", who, birth, "310", "11")
        got[(who, birth.year, level)] = {
            (f.rule_code, f.feedetl_sn): f.reason_en for f in hook(person, visit(level))
        }
    assert "the patient is 10" in got[("F", 2015, "1")][("GZ-YB-002", "1")]
    assert "the patient is 13" in got[("F", 2012, "2")][("GZ-YB-002", "1")]
    assert "this one is level 1" in got[("F", 2015, "1")][("GZ-YB-003", "2")]
    assert "this one is level 2" in got[("F", 2012, "2")][("GZ-YB-003", "2")]
    assert "the patient is F" in got[("F", 2015, "1")][("GZ-YB-001", "3")]
    assert ("GZ-YB-001", "3") not in got[("M", 2014, "1")]
    assert "the patient is 11" in got[("M", 2014, "1")][("GZ-YB-002", "1")]
