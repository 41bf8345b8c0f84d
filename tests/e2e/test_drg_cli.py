"""``yibao drg`` through the Typer app: group a CSV, list schemes, refuse a bad row."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from yibao.cli.drg import drg_app

HEADER = "case_id,discharge_date,age,sex,discharge_status,pdx,sdx,sdx_poa,procedures,age_days,weight_g,los_days,note\n"


def test_group_writes_one_row_per_case(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text(
        HEADER + "A1,2025-03-01,64,M,1,I214,J969|E119,1|1,3607,,,7,x\n"
        "A2,2025-03-02,0,F,1,P073,,,,5,1800,9,\n"
        "A3,2025-03-02,40,F,1,,,,,,,3,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(
        drg_app, ["group", "--scheme", "chs-drg-demo", "--input", str(src), "--output", str(out)]
    )
    assert r.exit_code == 0, r.output
    df = pl.read_csv(out, infer_schema=False)
    assert df.columns == ["case_id", "mdc", "adrg", "drg", "severity", "trace"]
    assert df["drg"].to_list() == ["FM11", "PS25", "0000"]
    assert df["trace"][0] == "MDC=F(pdx I214)>ADRG=FM1(OR proc 3607)>CC:MCC(J969)>DRG=FM11"


def test_bad_row_exits_2_naming_row_and_column_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text(
        HEADER + "A1,2025-03-01,64,M,1,I214,,,,,,,\nA2,2025-03-01,64,W,1,I214,,,,,,,\n", encoding="utf-8"
    )
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(
        drg_app, ["group", "--scheme", "chs-drg-demo", "--input", str(src), "--output", str(out)]
    )
    assert r.exit_code == 2
    assert "row 2 (case_id A2), column sex" in r.output
    assert not out.exists()


def test_schemes_lists_the_demo_as_not_official() -> None:
    r = CliRunner().invoke(drg_app, ["schemes"])
    assert r.exit_code == 0, r.output
    assert "chs-drg-demo" in r.output and "NOT OFFICIAL" in r.output


def test_group_ms_drg_keeps_the_columns(tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text(
        "case_id,discharge_date,age,sex,discharge_status,pdx,sdx,sdx_poa,procedures\n"
        "D1,2025-11-15,28,F,01,O6981X0,Z370,Y,10E0XZZ\n"
        "D2,2025-11-15,66,F,01,I214,I5021,Y,02703DZ|4A023N7\n"
        "D3,2025-11-15,50,M,01,XXXX,,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(
        drg_app, ["group", "--scheme", "ms-drg-v43", "--input", str(src), "--output", str(out)]
    )
    assert r.exit_code == 0, r.output
    df = pl.read_csv(out, infer_schema=False)
    assert df.columns == ["case_id", "mdc", "adrg", "drg", "severity", "trace"]
    assert df["drg"].to_list() == ["807", "321", "999"]
    assert df["adrg"][1] == "321-322" and df["severity"][1] == "MCC"


def test_conformance_prints_the_agreement_tables() -> None:
    import json

    r = CliRunner().invoke(drg_app, ["conformance", "--cases", "400", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "agreement" in r.output and "volume-weighted" in r.output and "MDC" in r.output
    r = CliRunner().invoke(drg_app, ["conformance", "--cases", "300", "--seed", "3", "--holdout", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["mix"] == "holdout" and data["seed"] == 9003 and data["cases"] == 300
    assert set(data["by_part"]) <= {"volume", "every_mdc", "pre_mdc", "edge"}


def test_conformance_refuses_a_scheme_without_formulas() -> None:
    r = CliRunner().invoke(drg_app, ["conformance", "--cases", "10", "--scheme", "chs-drg-demo"])
    assert r.exit_code == 2 and "不是公式方案" in r.output and "formula" in r.output
