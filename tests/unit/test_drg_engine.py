"""The table-driven engine on the CHS-DRG demonstration scheme, case by case."""

from __future__ import annotations

import copy

import pytest

from yibao.drg import Case, SchemeError, group_case, load_scheme, scheme_ids
from yibao.drg.loader import _path_for, read_raw, validate
from yibao.errors import FieldError


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    return load_scheme("chs-drg-demo")


def case(pdx: str, sdx: tuple[str, ...] = (), procs: tuple[str, ...] = (), **kw: object) -> Case:
    base: dict[str, object] = {"case_id": "c1", "age": 60, "sex": "M", "discharge_status": "1"}
    base.update(kw)
    return Case(pdx=pdx, sdx=sdx, procedures=procs, **base)  # type: ignore[arg-type]


def test_shipped_schemes_are_listed_and_demo_is_marked_not_official(demo) -> None:  # type: ignore[no-untyped-def]
    assert "chs-drg-demo" in scheme_ids()
    assert demo.scheme.official is False
    assert "NOT OFFICIAL" in demo.scheme.notice


def test_surgical_adrg_wins_over_medical_and_mcc_sets_last_digit_1(demo) -> None:  # type: ignore[no-untyped-def]
    g = group_case(demo, case("I214", sdx=("J969",), procs=("8856", "3607")))
    assert (g.mdc, g.adrg, g.drg, g.severity) == ("F", "FM1", "FM11", "MCC")
    assert g.trace == "MDC=F(pdx I214)>ADRG=FM1(OR proc 3607)>CC:MCC(J969)>DRG=FM11"


def test_non_or_procedure_beats_medical(demo) -> None:  # type: ignore[no-untyped-def]
    g = group_case(demo, case("I214", procs=("8856",)))
    assert (g.adrg, g.drg) == ("FK1", "FK15")


def test_cc_gives_digit_3_and_none_gives_5(demo) -> None:  # type: ignore[no-untyped-def]
    assert group_case(demo, case("J189", sdx=("E114",))).drg == "ES33"
    assert group_case(demo, case("J189", sdx=("E119",))).drg == "ES35"


def test_pdx_exclusion_cancels_a_cc(demo) -> None:  # type: ignore[no-untyped-def]
    # J44 is a CC, but not for a respiratory principal diagnosis (exclusion list "resp")
    g = group_case(demo, case("J189", sdx=("J441",)))
    assert (g.drg, g.severity) == ("ES35", "NONE")
    assert group_case(demo, case("I10", sdx=("J441",))).drg == "FW13"


def test_hospital_acquired_condition_counts_only_when_present_on_admission(demo) -> None:  # type: ignore[no-untyped-def]
    present = group_case(demo, Case("c", 70, "F", "1", "M179", ("L899",), ("1",)))
    acquired = group_case(demo, Case("c", 70, "F", "1", "M179", ("L899",), ("2",)))
    assert present.drg == "IU11"
    assert acquired.drg == "IU15"


def test_unrelated_or_procedure_goes_to_the_mdc_qy_group(demo) -> None:  # type: ignore[no-untyped-def]
    g = group_case(demo, case("I10", procs=("4709",)))
    assert (g.mdc, g.adrg, g.drg) == ("F", "FQY", "FQY")
    assert "unrelated" in g.trace


def test_death_selects_the_discharge_status_group(demo) -> None:  # type: ignore[no-untyped-def]
    assert group_case(demo, case("I214", discharge_status="5")).drg == "FR29"
    assert group_case(demo, case("I214", discharge_status="1")).drg == "FR15"


def test_pre_mdc_transplant_and_ventilation(demo) -> None:  # type: ignore[no-untyped-def]
    g = group_case(demo, case("K746", procs=("5059",)))
    assert (g.mdc, g.adrg, g.drg) == ("A", "AB1", "AB19")
    assert g.trace.startswith("PRE-MDC:ADRG=AB1(OR proc 5059)")
    assert group_case(demo, case("J189", procs=("9672",))).adrg == "AH1"


def test_newborns_split_by_weight_and_age_days(demo) -> None:  # type: ignore[no-untyped-def]
    nb = {"age": 0, "age_days": 3}
    assert group_case(demo, case("P073", weight_g=1200, **nb)).drg == "PS19"
    assert group_case(demo, case("P073", weight_g=1800, **nb)).drg == "PS25"
    assert group_case(demo, case("P599", weight_g=3200, **nb)).drg == "PU15"
    assert group_case(demo, case("P599", **nb)).drg == "PV19"  # weight not reported
    older = group_case(demo, case("P599", age=0, age_days=60))
    assert (older.mdc, older.drg) == ("P", "PZ19")


def test_sex_condition_on_mdc_makes_a_contradiction_ungroupable(demo) -> None:  # type: ignore[no-untyped-def]
    g = group_case(demo, case("N40", sex="F"))
    assert (g.adrg, g.drg) == ("0000", "0000")
    assert "UNGROUPABLE" in g.trace


def test_unknown_or_missing_pdx_is_0000(demo) -> None:  # type: ignore[no-untyped-def]
    assert group_case(demo, case("ZZZ9")).drg == "0000"
    assert "no principal diagnosis" in group_case(demo, case("")).trace


def test_prefix_matching_accepts_bureau_extension_codes(demo) -> None:  # type: ignore[no-untyped-def]
    assert group_case(demo, case("I21.000x001".replace(".", ""))).adrg == "FR1"


def test_bad_scheme_names_the_path_and_reason() -> None:
    raw = copy.deepcopy(read_raw(_path_for("chs-drg-demo")))
    raw["adrgs"][20]["mdc"] = "Q9"
    with pytest.raises(SchemeError) as e:
        validate(raw, "demo.yaml")
    assert "demo.yaml" in str(e.value) and "Q9" in str(e.value)
    raw = copy.deepcopy(read_raw(_path_for("chs-drg-demo")))
    raw["adrgs"][0]["kind"] = "surgery"
    with pytest.raises(FieldError, match=r"adrgs\.0\.kind"):
        validate(raw, "demo.yaml")


def test_unknown_scheme_lists_the_shipped_ones() -> None:
    with pytest.raises(SchemeError, match="chs-drg-demo"):
        load_scheme("no-such-scheme")
