"""Grouping a table: the input contract, row-naming errors, synth adapter."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from yibao.drg import CaseError, cases_from_synth, group_frame, load_scheme

ROW = {
    "case_id": "A1",
    "discharge_date": "2025-03-01",
    "age": "64",
    "sex": "M",
    "discharge_status": "1",
    "pdx": "I214",
    "sdx": "I509|E119",
    "sdx_poa": "1|1",
    "procedures": "3607",
    "extra": "ignored",
}


def frame(**over: str) -> pl.DataFrame:
    rows = [dict(ROW), dict(ROW, case_id="A2", **over)]
    return pl.DataFrame(rows)


def test_output_columns_and_order_follow_the_input() -> None:
    df = pl.DataFrame(
        [dict(ROW, case_id=f"K{i}", pdx=p) for i, p in enumerate(["J189", "I10", "N40", "I214"])]
    )
    out = group_frame(load_scheme("chs-drg-demo"), df)
    assert out.columns == ["case_id", "mdc", "adrg", "drg", "severity", "trace"]
    assert out["case_id"].to_list() == ["K0", "K1", "K2", "K3"]
    assert out["adrg"].to_list() == ["EQY", "FM1", "MQY", "FM1"]  # 3607 is an OR procedure of MDC F only


@pytest.mark.parametrize(
    ("col", "value", "reason"),
    [
        ("sex", "X", "must be M or F"),
        ("age", "sixty", "whole number"),
        ("age", "200", "whole number from 0 to 150"),
        ("sdx_poa", "1", "1 entries for 2 secondary diagnoses"),
        ("discharge_date", "01/03/2025", "YYYY-MM-DD"),
    ],
)
@pytest.mark.parametrize("scheme", ["chs-drg-demo", "ms-drg-v43"])  # the formula scheme checks in one query
def test_malformed_row_is_refused_naming_row_column_and_reason(
    col: str, value: str, reason: str, scheme: str
) -> None:
    with pytest.raises(CaseError) as e:
        group_frame(load_scheme(scheme), frame(**{col: value}))
    assert e.value.field == f"row 2 (case_id A2), column {col}"
    assert reason in e.value.reason


@pytest.mark.parametrize("trace", [True, False])
def test_a_bad_optional_column_or_null_case_id_is_refused_by_the_formula_scheme_too(trace: bool) -> None:
    ms = load_scheme("ms-drg-v43")
    with pytest.raises(CaseError) as e:
        group_frame(ms, frame().with_columns(pl.Series("los_days", ["3", "x"])), trace=trace)
    assert e.value.field == "row 2 (case_id A2), column los_days"
    with pytest.raises(CaseError, match="column case_id"):
        group_frame(ms, frame().with_columns(pl.Series("case_id", ["A1", None])), trace=trace)


def test_blanks_around_codes_group_as_without_them() -> None:
    ms = load_scheme("ms-drg-v43")
    clean = group_frame(ms, frame())
    padded = group_frame(ms, frame(pdx=" I214 ", sex=" M", sdx="I509 | E119", sdx_poa="Y|Y "))
    assert padded.drop("case_id").row(1) == clean.drop("case_id").row(1)


def test_missing_column_is_refused() -> None:
    with pytest.raises(CaseError, match="column procedures"):
        group_frame(load_scheme("chs-drg-demo"), frame().drop("procedures"))


def test_cases_from_synth_builds_the_contract_from_visits_and_persons() -> None:
    visits = pl.DataFrame(
        {
            "visit_id": [1, 2, 3],
            "mdtrt_id": ["M1", "M2", "M3"],
            "psn_id": [10, 11, 10],
            "med_type": ["21", "11", "21"],
            "fixmedins_code": ["H1", "H1", "H2"],
            "hosp_lv": ["3", "3", "2"],
            "begin_date": [dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 6, 1)],
            "end_date": [dt.date(2025, 3, 9), dt.date(2025, 3, 2), dt.date(2025, 6, 5)],
            "diagnoses": ["I214|I10|E119", "J069", "P599"],
            "procedures": ["3607|8856", "", ""],
            "los_days": [8, 0, 4],
            "discharge_status": ["4", "1", "1"],
        }
    )
    persons = pl.DataFrame(
        {"psn_id": [10, 11], "gender": ["M", "F"], "birth_date": [dt.date(1960, 3, 2), dt.date(2025, 5, 29)]}
    )
    lines = pl.DataFrame({"visit_id": [1, 1, 3], "amount": [100, 250, 7]})
    c = cases_from_synth(visits, persons, lines)
    assert c["case_id"].to_list() == ["M1", "M3"]
    assert c["age"].to_list() == [64, 65]  # the day before the 65th birthday, then after it
    assert c["discharge_status"].to_list() == ["5", "1"]  # synth 4 (death) → 离院方式 5
    assert c["pdx"].to_list() == ["I214", "P599"]
    assert c["sdx"].to_list() == ["I10|E119", ""]
    assert c["sdx_poa"].to_list() == ["1|1", ""]
    assert c["medfee_sumamt"].to_list() == [350, 7]
    assert c["discharge_date"].to_list() == ["2025-03-09", "2025-06-05"]
    out = group_frame(load_scheme("chs-drg-demo"), c)
    assert out["drg"].to_list() == ["FM15", "PZ19"]


def test_synth_newborn_gets_age_days() -> None:
    visits = pl.DataFrame(
        {
            "visit_id": [1],
            "mdtrt_id": ["M1"],
            "psn_id": [1],
            "med_type": ["21"],
            "fixmedins_code": ["H1"],
            "begin_date": [dt.date(2025, 6, 3)],
            "end_date": [dt.date(2025, 6, 9)],
            "diagnoses": ["P599"],
            "procedures": [""],
            "los_days": [6],
            "discharge_status": ["1"],
            "medfee_sumamt": [500],
        }
    )
    persons = pl.DataFrame({"psn_id": [1], "gender": ["F"], "birth_date": [dt.date(2025, 5, 30)]})
    c = cases_from_synth(visits, persons)
    assert c["age_days"].to_list() == [4] and c["age"].to_list() == [0]
    assert group_frame(load_scheme("chs-drg-demo"), c)["drg"].to_list() == ["PV19"]


def test_bench_drg_prints_json_lines_in_the_bench_format(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from yibao.bench.drg import bench_drg

    recs = bench_drg(3_000, "chs-drg-demo", 1)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines == recs
    first = recs[0]
    assert (first["name"], first["metric"], first["unit"]) == ("drg.group", "throughput", "cases/s")
    assert first["value"] > 0 and first["cases"] == 3_000
