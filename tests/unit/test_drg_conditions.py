"""Conditions of the scheme format on a small scheme written in the test (LOS, age, groups, pairs …)."""

from __future__ import annotations

from typing import Any

import pytest

from yibao.drg import Case, SchemeError, compile_scheme, group_case
from yibao.drg.loader import validate


def scheme(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t",
        "name": "t",
        "version": "1",
        "official": False,
        "sources": [{"what": "test", "source": "written in the test"}],
        "discharge_status": {"home": ["1"], "death": ["5"], "transfer": ["2"], "against_advice": ["4"]},
        "ungroupable": {"adrg": "0000", "drg": "0000"},
        "mdcs": [{"code": "X", "name": "x", "pdx": ["A1", "A2", "T1", "T2"]}],
        "or_procedures": ["P1", "P2", "L1", "R1"],
        "adrgs": [
            {
                "code": "XB",
                "name": "bilateral",
                "mdc": "X",
                "kind": "or",
                "procedures": ["L1", "R1"],
                "when": {
                    "distinct_procedure_groups": {"min": 2, "groups": {"left": ["L1"], "right": ["R1"]}}
                },
                "drg": {"ALL": "XB9"},
            },
            {
                "code": "XP",
                "name": "pair",
                "mdc": "X",
                "kind": "or",
                "procedures": ["P1", "L1", "R1"],
                "procedure_pairs": {"P1": ["P2"]},
                "drg": {"ALL": "XP9"},
            },
            {
                "code": "XS",
                "name": "short stay",
                "mdc": "X",
                "kind": "medical",
                "pdx": ["A1"],
                "when": {"los_max": 1},
                "drg": {"ALL": "XS9"},
            },
            {
                "code": "XC",
                "name": "child",
                "mdc": "X",
                "kind": "medical",
                "pdx": ["A1"],
                "when": {"age_max": 17},
                "drg": {"ALL": "XC9"},
            },
            {
                "code": "XM",
                "name": "trauma two sites",
                "mdc": "X",
                "kind": "medical",
                "pdx": ["T1", "T2"],
                "when": {"distinct_groups": {"min": 2, "groups": {"head": ["T1"], "leg": ["T2"]}}},
                "drg": {"ALL": "XM9"},
            },
            {
                "code": "XA",
                "name": "adult",
                "mdc": "X",
                "kind": "medical",
                "pdx": None,
                "drg": {"ALL": "XA9"},
            },
        ],
        "unrelated_or": [{"adrg": "XQY", "name": "qy", "drg": {"ALL": "XQY"}}],
    }
    base.update(extra)
    return base


def grp(c: Case) -> str:
    return group_case(compile_scheme(validate(scheme())), c).drg


def test_length_of_stay_and_age_conditions() -> None:
    assert grp(Case("1", 40, "M", "1", "A1", los_days=1)) == "XS9"
    assert grp(Case("1", 40, "M", "1", "A1", los_days=5)) == "XA9"
    assert grp(Case("1", 10, "M", "1", "A1", los_days=5)) == "XC9"
    assert grp(Case("1", 40, "M", "1", "A1")) == "XA9"  # LOS unknown: a LOS condition does not hold


def test_two_different_procedure_sites_and_code_pairs() -> None:
    assert grp(Case("1", 40, "M", "1", "A2", procedures=("L1", "R1"))) == "XB9"
    assert grp(Case("1", 40, "M", "1", "A2", procedures=("L1",))) == "XP9"
    assert grp(Case("1", 40, "M", "1", "A2", procedures=("P1",))) == "XQY"  # P1 without its companion P2
    assert grp(Case("1", 40, "M", "1", "A2", procedures=("P1", "P2"))) == "XP9"


def test_distinct_diagnosis_groups() -> None:
    assert grp(Case("1", 40, "M", "1", "T1", sdx=("T2",))) == "XM9"
    assert grp(Case("1", 40, "M", "1", "T1", sdx=("T1",))) == "XA9"


def test_a_split_without_severity_digits_is_refused() -> None:
    raw = scheme()
    raw["adrgs"][0] = {k: v for k, v in raw["adrgs"][0].items() if k != "drg"} | {"split": "cc"}
    with pytest.raises(SchemeError, match="severity_digits"):
        validate(raw, "t.yaml")


def test_a_drg_map_must_be_all_or_the_three_levels() -> None:
    raw = scheme()
    raw["adrgs"][0]["drg"] = {"MCC": "X1", "NONE": "X5"}
    with pytest.raises(SchemeError, match="exactly MCC, CC and NONE"):
        validate(raw, "t.yaml")


def test_when_any_needs_one_of_its_condition_sets() -> None:
    raw = scheme()
    raw["adrgs"].insert(
        0,
        {
            "code": "XE",
            "name": "either",
            "mdc": "X",
            "kind": "medical",
            "pdx": ["A2"],
            "when_any": [{"sex": "F"}, {"age_min": 80}],
            "drg": {"ALL": "XE9"},
        },
    )
    cs = compile_scheme(validate(raw))
    assert group_case(cs, Case("1", 40, "F", "1", "A2")).drg == "XE9"
    assert group_case(cs, Case("1", 85, "M", "1", "A2")).drg == "XE9"
    assert group_case(cs, Case("1", 40, "M", "1", "A2")).drg == "XA9"
