"""The policy readings several regions need (docs/POLICY_FORMAT.md §十一), each on the test fixture with one
change, settled by the engine (and, where the ledger is involved, by the ledger's choice of year).

Figures worked by hand from tests/fixtures/region.yaml (see test_engine_rules.py's header)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.policy.loader import PolicyError, load_region_text
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Line, Person, Settlement, SettlementError, Visit, identity_violations

FIXTURES = Path(__file__).parent.parent / "fixtures"
DAY = dt.date(2025, 5, 1)
IP = "versions[0].benefits[0]"


def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / "region.yaml").read_text(encoding="utf-8"))
    return data


def book_of(data: dict[str, Any]) -> PolicyBook:
    text = yaml.safe_dump(data, allow_unicode=True)
    return PolicyBook(load_region_text(text, file="mutated.yaml", base_dir=FIXTURES))


def policy_of(data: dict[str, Any]) -> CompiledPolicy:
    return book_of(data).for_date(DAY)


def person(psn_type: str = "11", identities: tuple[str, ...] = ()) -> Person:
    scheme = "390" if psn_type == "31" else "310"
    return Person("P1", "张三", "x", "M", dt.date(1960, 1, 1), scheme, psn_type, frozenset(identities))


def visit(
    yuan: int, *, locality: str = "local", hosp_lv: str = "3", emergency: bool = False, code: str = "A01"
) -> Visit:
    line = Line("1", code, QTY_ONE, yuan * 100, yuan * 100)
    return Visit("M1", "P1", "21", "H1", hosp_lv, DAY, DAY, (line,), locality=locality, emergency=emergency)


def settle(p: CompiledPolicy, who: Person, v: Visit, acc: dict[str, int] | None = None) -> Settlement:
    s = settle_visit(p, who, v, acc or {})
    assert identity_violations(s) == []
    return s


# --- a locality the region does not accept ------------------------------------------------------


def test_a_refused_locality_is_refused_with_a_clear_error_not_settled() -> None:
    data = raw()
    data["sources"]["no-unfiled"] = {"title": "未备案不直接结算（测试）", "tag": "X"}
    data["versions"][0]["benefits"][0]["refuse"] = {"localities": ["remote_unfiled"], "source": "no-unfiled"}
    p = policy_of(data)
    with pytest.raises(SettlementError) as e:
        settle(p, person(), visit(10_000, locality="remote_unfiled"))
    assert (e.value.field, e.value.code) == ("visit.locality", "locality_refused")
    assert "测试统筹区" in e.value.reason and "住院" in e.value.reason
    # filed visitors and an emergency (treated as filed) still settle: (10000 − 1200) × 70%
    assert settle(p, person(), visit(10_000, locality="remote_filed")).hifp_pay == 616_000
    assert settle(p, person(), visit(10_000, locality="remote_unfiled", emergency=True)).hifp_pay == 616_000


def test_long_term_residents_take_the_local_ratio_unless_the_file_says_otherwise() -> None:
    data = raw()
    p = policy_of(data)
    assert settle(p, person(), visit(10_000, locality="remote_longterm")).hifp_pay == 704_000  # 80%
    data["versions"][0]["benefits"][0]["locality_adjustment"]["remote_longterm"] = "-0.05"
    assert settle(policy_of(data), person(), visit(10_000, locality="remote_longterm")).hifp_pay == 660_000


# --- repeat admissions: compounding as well as linear -------------------------------------------


@pytest.mark.parametrize(
    ("admissions_before", "linear", "compound"),
    [
        (0, 1200_00, 1200_00),
        (1, 960_00, 960_00),  # −20% / ×0.8 agree on the second admission
        (2, 720_00, 768_00),  # 1200 × (1 − 0.4) vs 1200 × 0.8²
        (4, 240_00, 491_52),  # 1200 × 0.2 vs 1200 × 0.8⁴ = 491.52
        (6, 200_00, 314_58),  # floor 200 vs …491.52 → 393.22 → 314.58 (each step rounded to the fen)
    ],
)
def test_compounding_repeat_deductible_against_the_linear_one(
    admissions_before: int, linear: int, compound: int
) -> None:
    acc = {"emp-ip-ded:n": admissions_before}
    lin = settle(policy_of(raw()), person(), visit(20_000), acc)
    data = raw()
    data["versions"][0]["benefits"][0]["deductible"]["repeat"] = {"compound": "0.8", "floor": "200"}
    comp = settle(policy_of(data), person(), visit(20_000), acc)
    assert (lin.act_pay_dedc, comp.act_pay_dedc) == (linear, compound)


def test_compound_reaches_its_floor() -> None:
    data = raw()
    data["versions"][0]["benefits"][0]["deductible"]["repeat"] = {"compound": "0.5", "floor": "400"}
    s = settle(policy_of(data), person(), visit(20_000), {"emp-ip-ded:n": 3})  # 1200 × 0.125 = 150 < 400
    assert s.act_pay_dedc == 400_00


# --- a 大病 base that leaves the basic deductible out (Weinan) -----------------------------------


def test_critical_illness_base_can_leave_the_basic_deductible_out() -> None:
    # resident, level 3, 50,000 inpatient: deductible 1,000; pool (50000 − 1000) × 65% = 31,850;
    # compliant self-pay left 18,150.  With the deductible counted, the 大病 base is 18,150:
    # (18150 − 10000) × 60% = 4,890.  Without it, 17,150: (17150 − 10000) × 60% = 4,290.
    v = visit(50_000)
    counted = settle(policy_of(raw()), person("31"), v)
    data = raw()
    data["versions"][0]["layers"][1]["exclude_basic_deductible"] = True
    excluded = settle(policy_of(data), person("31"), v)
    assert (counted.hifp_pay, excluded.hifp_pay) == (31_850_00, 31_850_00)
    assert (counted.hifmi_pay, excluded.hifmi_pay) == (4_890_00, 4_290_00)
    assert excluded.deltas["res-ci"] == 17_150_00


def test_weinan_counts_only_compliant_selfpay_above_the_deductible() -> None:
    wn = PolicyBook.from_file(FIXTURES.parent.parent / "src/yibao/policy/regions/weinan.yaml").for_date(DAY)
    # level 3, 50,000 of class A: deductible 1,000, pool 49,000 × 65% = 31,850, left 18,150, base 17,150
    s = settle(wn, person("31"), visit(50_000, code="XJ01CAA001E001010191924"))  # a class-A drug
    assert s.deltas["res-ci"] == 17_150_00 and s.hifmi_pay == 4_290_00


def test_exclude_basic_deductible_is_refused_on_an_over_cap_layer() -> None:
    data = raw()
    data["versions"][0]["layers"][0]["exclude_basic_deductible"] = True
    with pytest.raises(PolicyError) as e:
        policy_of(data)
    assert any("exclude_basic_deductible" in p.reason for p in e.value.problems)


# --- the hardship tilt as a rule ------------------------------------------------------------------


def test_a_tilt_rule_equals_the_typed_out_variant() -> None:
    typed = policy_of(raw())
    data = raw()
    layer = data["versions"][0]["layers"][1]
    del layer["variants"]
    layer["tilts"] = [{"identities": ["DB", "TK"], "deductible_factor": "0.5", "ratio_points": "0.05",
                       "cap": "none"}]  # fmt: skip
    ruled = policy_of(data)
    a = next(x for x in typed.layers[("390", "21")] if x.id == "res-ci")
    b = next(x for x in ruled.layers[("390", "21")] if x.id == "res-ci")
    ta, tb = a.terms_for(frozenset({"DB"})), b.terms_for(frozenset({"DB"}))
    assert ta is not None and tb is not None
    assert (ta.deductible, ta.bounds, ta.cap) == (tb.deductible, tb.bounds, tb.cap)
    assert tb.bounds[0] == (5000_00, 30000_00, 6500)
    who = person("31", ("DB",))
    assert settle(typed, who, visit(120_000)).hifmi_pay == settle(ruled, who, visit(120_000)).hifmi_pay


def test_a_tilt_never_lifts_a_ratio_above_100_percent_and_may_keep_the_cap() -> None:
    data = raw()
    layer = data["versions"][0]["layers"][1]
    layer["tilts"] = [{"identities": ["TK"], "ratio_points": "0.30", "cap": "keep"}]
    del layer["variants"]
    p = policy_of(data)
    t = next(x for x in p.layers[("390", "21")] if x.id == "res-ci").terms_for(frozenset({"TK"}))
    assert t is not None and t.cap == 300000_00 and [r for _, _, r in t.bounds] == [9000, 10000, 10000]


# --- source tags and sources per parameter inside a layer ---------------------------------------


def test_assumed_figure_tag_and_per_parameter_sources_are_checked() -> None:
    data = raw()
    data["sources"]["mid"] = {"title": "取区间中值（假定）", "tag": "A", "note": "1–2万 → 1.5万"}
    layer = data["versions"][0]["layers"][1]
    layer["deductible_source"] = "mid"
    layer["cap_source"] = "ill"
    layer["segments"][0]["source"] = "dom13"
    policy_of(data)  # accepted
    layer["segments"][1]["source"] = "nowhere"
    layer["cap_source"] = "gone"
    with pytest.raises(PolicyError) as e:
        policy_of(data)
    paths = {p.path for p in e.value.problems}
    assert paths == {"versions[0].layers[1].segments[1].source", "versions[0].layers[1].cap_source"}
    data["sources"]["mid"]["tag"] = "Q"
    with pytest.raises(PolicyError):
        policy_of(data)


# --- the settlement year from the discharge date ------------------------------------------------


def test_discharge_basis_picks_the_version_and_year_of_the_discharge_date() -> None:
    data = raw()
    v2026 = yaml.safe_load(yaml.safe_dump(data["versions"][0]))
    v2026.update(id="T2026", effective_from=dt.date(2026, 1, 1), effective_to=dt.date(2026, 12, 31))
    v2026["benefits"][0]["deductible"]["amounts"][2]["amount"] = "1000"
    data["versions"].append(v2026)
    by_admission = book_of(data)
    data["settlement_date"] = {"basis": "discharge", "source": "ill"}
    by_discharge = book_of(data)
    begin, end = dt.date(2025, 12, 28), dt.date(2026, 1, 5)
    assert by_admission.settlement_day(begin, end) == begin
    assert by_discharge.settlement_day(begin, end) == end
    assert by_discharge.for_date(by_discharge.settlement_day(begin, end)).version_id == "T2026"
    assert by_admission.for_date(by_admission.settlement_day(begin, end)).version_id == "T2025"
    data["settlement_date"] = {"basis": "discharge", "source": "none-such"}
    with pytest.raises(PolicyError):
        book_of(data)
