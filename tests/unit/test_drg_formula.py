"""Formula schemes (format 2): parsing, evaluation, the rule order, reroutes, severity per rule, clusters,
counters, HAC and the validation of the format — on a small hand-written scheme."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from yibao.drg import Case, SchemeError, compile_scheme, group_case
from yibao.drg.conformance import VOLUME_FILE, volumes
from yibao.drg.formula import FormulaError, compile_formula, parse, triggers
from yibao.drg.loader import load_scheme, validate


def test_and_binds_tighter_than_or_and_not_negates() -> None:
    t = compile_formula("a | b & ~c")
    assert t({"a"}, 0) and t({"b"}, 0) and not t({"b", "c"}, 0) and not t(set(), 0)
    assert compile_formula("(a | b) & c")({"a", "c"}, 0) and not compile_formula("(a | b) & c")({"a"}, 0)


def test_severity_atoms_read_the_level_not_the_marks() -> None:
    t = compile_formula("MCC & x")
    assert t({"x"}, 2) and not t({"x"}, 1) and not t({"x", "MCC"}, 0)
    assert compile_formula("CC")(set(), 1) and not compile_formula("CC")(set(), 2)


@pytest.mark.parametrize("bad", ["", "a &", "(a | b", "a b)", "& a"])
def test_a_broken_formula_is_refused(bad: str) -> None:
    with pytest.raises(FormulaError):
        parse(bad)


def test_triggers_pick_the_rarest_part_of_an_and() -> None:
    tree = parse("common & (rare1 | rare2) & ~other")
    weight = {"common": 1000, "rare1": 1, "rare2": 1}.get
    assert triggers(tree, lambda m: weight(m) or 1) == frozenset({"rare1", "rare2"})
    assert triggers(parse("MCC | a")) is None  # a severity alone can satisfy it: no trigger


def scheme() -> dict[str, Any]:
    """A tiny formula scheme: two MDCs, a pre-MDC reroute, an unrelated-OR list, a cluster, a counter."""
    pats = [
        ["cardio"],  # 0 pdx of MDC 01
        ["ortho"],  # 1 pdx of MDC 02
        ["hiv"],  # 2
        [],  # 3 a plain secondary diagnosis
        ["stent", "ORPROC", "d468"],  # 4
        ["site_l", "ORPROC", "d468", "joint"],  # 5
        ["site_r", "ORPROC", "d468", "joint"],  # 6
        ["pairproc"],  # 7 cluster code marks
        ["HAC01"],  # 8
        ["mccalive"],  # 9
    ]
    return {
        "format": 2,
        "id": "tiny",
        "name": "tiny",
        "version": "1",
        "official": False,
        "sources": [{"what": "test", "source": "hand-written"}],
        "discharge_status": {"home": ["01"], "death": ["20"], "transfer": ["02"], "against_advice": ["07"]},
        "ungroupable": {"adrg": "999", "drg": "999"},
        "mdcs": [{"code": "01", "name": "one", "pdx": ["C1"]}, {"code": "02", "name": "two", "pdx": ["O1"]}],
        "formulas": {
            "patterns": pats,
            "dx": {
                "C1": [1, 0, 0],
                "O1": [2, 0, 1],
                "H1": [1, 0, 2],
                "X": [0, 0, 3],
                "M": [0, 2, 3],
                "K": [0, 1, 3],
                "HAC": [0, 2, 8],
                "A": [0, 2, 9],
            },
            "pr": {"P1": 4, "L": 5, "R": 6, "Q1": 3, "Q2": 3, "Z@1": 7},
            "clusters": [{"code": "Z@1", "choices": [["Q1"], ["Q2"]], "suppress_mdcs": ["01"]}],
            "exclusion_groups": [["K"]],
            "pdx_exclusion": {"C1": 0},
            "families": {
                "10-11": {
                    "name": "stent",
                    "mdc": "01",
                    "surgical": True,
                    "drg": {"MCC": "10", "CC": "11", "NONE": "11"},
                },
                "12": {"name": "medical", "mdc": "01", "drg": {"ALL": "12"}},
                "20": {"name": "joints", "mdc": "02", "surgical": True, "drg": {"ALL": "20"}},
                "21": {"name": "ortho", "mdc": "02", "drg": {"ALL": "21"}},
                "30": {"name": "hiv", "mdc": "25", "drg": {"ALL": "30"}},
                "40": {"name": "pair", "mdc": "01", "surgical": True, "drg": {"ALL": "40"}},
                "98": {"name": "unrelated", "mdc": "UNRELATED", "surgical": True, "drg": {"ALL": "98"}},
            },
            "rules": {
                "00": [
                    {"formula": "PDX:ecode", "ungroupable": True},
                    {"formula": "SDX:hiv", "reroute": "25"},
                ],
                "01": [
                    {"formula": "pairproc", "drg": "40", "family": "40"},
                    {"formula": "stent & MCC", "drg": "10", "family": "10-11"},
                    {"formula": "stent", "drg": "11", "family": "10-11"},
                    {"formula": "d468", "reroute": "29"},
                    {"formula": "PDX:cardio", "drg": "12", "family": "12"},
                ],
                "02": [
                    {"formula": "BILATERAL", "drg": "20", "family": "20"},
                    {"formula": "PDX:ortho", "drg": "21", "family": "21"},
                ],
                "25": [{"formula": "ANY:hiv", "drg": "30", "family": "30"}],
                "29": [{"formula": "d468", "drg": "98", "family": "98"}],
            },
            "pre": "00",
            "unrelated": "29",
            "counters": [{"mark": "BILATERAL", "min": 2, "distinct": ["site_l", "site_r"]}],
            "status_marks": {"01": ["ALIVE"], "20": ["DIED"]},
            "dead_excludes": ["mccalive"],
            "hac": {"01": "SDX:HAC01"},
            "hac_lists": {"HAC01": "01"},
        },
    }


def g(
    pdx: str,
    sdx: tuple[str, ...] = (),
    poa: tuple[str, ...] = (),
    procs: tuple[str, ...] = (),
    status: str = "01",
):  # type: ignore[no-untyped-def]
    cs = compile_scheme(validate(scheme()))
    return group_case(cs, Case("t", 50, "F", status, pdx, sdx, poa or ("Y",) * len(sdx), procs))


def test_rules_are_tried_in_order_and_the_severity_splits_the_family() -> None:
    assert g("C1").drg == "12"
    assert g("C1", procs=("P1",)).drg == "11"
    r = g("C1", ("M",), procs=("P1",))
    assert (r.drg, r.adrg, r.severity) == ("10", "10-11", "MCC")
    assert r.trace == "MDC=01(pdx C1)>ADRG=10-11(rule 01.1: stent & MCC)>CC:MCC(M)>DRG=10"


def test_pdx_exclusion_death_exclusion_and_hac_remove_a_cc() -> None:
    assert g("C1", ("K",), procs=("P1",)).severity == "NONE"  # K is excluded under C1
    assert g("C1", ("A",), procs=("P1",)).severity == "MCC"
    assert g("C1", ("A",), procs=("P1",), status="20").severity == "NONE"  # MCC only if alive
    assert g("C1", ("HAC",), ("Y",), procs=("P1",)).severity == "MCC"
    assert g("C1", ("HAC",), ("N",), procs=("P1",)).severity == "NONE"  # acquired in hospital


def test_reroutes_unrelated_or_and_pre_mdc() -> None:
    r = g("O1", procs=("P1",))  # an OR procedure the ortho MDC has no rule for: none reroutes, medical
    assert r.drg == "21"
    r = g("C1", procs=("L",))  # MDC 01 reroutes any other OR procedure to the unrelated list
    assert (r.drg, r.mdc) == ("98", "01") and "REROUTE 29:" in r.trace
    r = g("C1", ("H1",))
    assert (r.drg, r.mdc) == ("30", "25") and r.trace.startswith("PRE-MDC:")


def test_counter_marks_and_clusters() -> None:
    assert g("O1", procs=("L", "R")).drg == "20"  # two different sites: BILATERAL
    assert g("O1", procs=("L", "L")).drg == "21"
    assert g("C1", procs=("Q1", "Q2")).drg == "40"  # the pair forms the cluster
    assert g("C1", procs=("Q1",)).drg == "12"


def test_a_status_written_without_its_leading_zero_is_read_as_the_two_digit_code() -> None:
    assert g("C1", ("A",), procs=("P1",), status="20").severity == "NONE"
    ms = load_scheme("ms-drg-v43")
    a = group_case(ms, Case("t", 40, "M", "7", "F10230"))
    b = group_case(ms, Case("t", 40, "M", "07", "F10230"))
    assert a.drg == b.drg == "894"


def test_formula_schemes_match_codes_exactly() -> None:
    raw = scheme()
    raw["code_match"] = "prefix"
    with pytest.raises(SchemeError, match="match codes exactly"):
        validate(raw, "tiny.json")


def test_unknown_pdx_is_ungroupable() -> None:
    r = g("NOPE")
    assert r.drg == "999" and "UNGROUPABLE" in r.trace


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("formulas", "rules", "01", 0, "family"), "nope", "family 'nope' is not in families"),
        (("formulas", "rules", "01", 3, "reroute"), "77", "reroute to '77'"),
        (("formulas", "dx", "C1"), [1, 5, 0], "dx.C1"),
        (("formulas", "pr", "P1"), 99, "pattern index 99"),
        (("formulas", "pre"), "55", "no rule list"),
    ],
)
def test_format_2_validation_names_the_problem(path: tuple[Any, ...], value: Any, needle: str) -> None:
    raw = copy.deepcopy(scheme())
    node = raw
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(SchemeError) as e:
        validate(raw, "tiny.json")
    assert needle in str(e.value)


def test_the_volume_weights_cite_a_source_and_name_drgs_of_the_scheme() -> None:
    import yaml

    data = yaml.safe_load(VOLUME_FILE.read_text(encoding="utf-8"))
    assert "HCUP" in data["source"] and "MedPAR" in data["source"]
    w = volumes()
    assert len(w) >= 150 and all(v > 0 for v in w.values())
    f = load_scheme("ms-drg-v43").scheme.formulas
    assert f is not None
    drgs = {r.drg for rules in f.rules.values() for r in rules if r.drg}
    assert set(w) <= drgs
