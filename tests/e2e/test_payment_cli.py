"""``yibao payment`` as a user runs it: DRG and DIP on files, the JSON summary, a bad file, the demo region."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from yibao.cli.payment import payment_app

app = typer.Typer()
app.add_typer(payment_app, name="payment")  # as the lead mounts it in yibao.cli
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["payment", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("claims")
    rows = []
    for year in (2023, 2024, 2025):
        for k in range(120):
            rows.append(
                {
                    "case_id": f"{year}-{k:04d}",
                    "fixmedins_code": f"H{k % 4}",
                    "hosp_lv": ["1", "2", "3", "3S"][k % 4],
                    "drg": ["GB11", "FR25", "ES39"][k % 3],
                    "pdx": ["K358", "I209", "J189"][k % 3],
                    "main_procedure": ["4701", "", "0639"][k % 3],
                    "medfee_sumamt": 200_000 + (k * 7919) % 900_000 + (5_000_000 if k == 7 else 0),
                    "los_days": 3 + k % 9,
                    "discharge_date": dt.date(year, 1 + k % 12, 1 + k % 28),
                }
            )
    df = pl.DataFrame(rows)
    claims = d / "claims.csv"
    df.filter(pl.col("discharge_date").dt.year() == 2025).write_csv(claims)
    history = d / "history.parquet"
    df.filter(pl.col("discharge_date").dt.year() < 2025).write_parquet(history)
    return claims, history


@pytest.mark.parametrize("method", ["drg", "dip"])
def test_pay_from_files_writes_reports_that_add_up(
    files: tuple[Path, Path], tmp_path: Path, method: str
) -> None:
    claims, history = files
    code, out = run(
        method, "--claims", str(claims), "--history", str(history), "--policy", "demo", "--out", str(tmp_path)
    )
    assert code == 0, out
    assert "年度清算 annual clearing" in out and "月度预结算 monthly pre-settlement" in out
    assert "== 预算 pool 通过 OK" in out
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    hospitals = pl.read_csv(tmp_path / "hospitals.csv")
    cases = pl.read_csv(tmp_path / "cases.csv")
    assert summary["due_fen"] == summary["pool_fen"] == hospitals.get_column("due_fen").sum()
    assert cases.get_column("payment_fen").sum() == summary["pool_fen"]
    assert cases.height == 120 and hospitals.height == 4
    # budget: 2024 total cost × 1.05 (the demo policy's basis)
    hist = pl.read_parquet(history).filter(pl.col("discharge_date").dt.year() == 2024)
    assert summary["pool_fen"] == (2 * hist.get_column("medfee_sumamt").sum() * 10_500 + 10_000) // 20_000


def test_json_summary(files: tuple[Path, Path]) -> None:
    claims, history = files
    code, out = run("dip", "-c", str(claims), "--history", str(history), "--json")
    assert code == 0, out
    s = json.loads(out)
    assert s["method"] == "dip" and s["cases"] == 120 and s["due_fen"] == s["pool_fen"]


def test_a_file_without_a_column_is_refused_by_name(files: tuple[Path, Path], tmp_path: Path) -> None:
    claims, _ = files
    bad = tmp_path / "bad.csv"
    pl.read_csv(claims).drop("hosp_lv").write_csv(bad)
    code, out = run("drg", "-c", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "claims.hosp_lv" in out and "missing" in out
    assert not (tmp_path / "o").exists()


def test_demo_region_end_to_end(tmp_path: Path) -> None:
    code, out = run(
        "demo", "--persons", "1500", "--workdir", str(tmp_path / "w"), "--out", str(tmp_path / "o")
    )
    assert code == 0, out
    assert out.count("== 预算 pool 通过 OK") == 2
    for method in ("drg", "dip"):
        s = json.loads((tmp_path / "o" / method / "summary.json").read_text(encoding="utf-8"))
        assert s["due_fen"] == s["pool_fen"] > 0 and s["cases"] > 0


def test_monthly_table_of_a_chosen_hospital(files: tuple[Path, Path]) -> None:
    claims, history = files
    code, out = run("drg", "-c", str(claims), "--history", str(history), "--hospital", "H2")
    assert code == 0, out
    assert "H2 月度预结算 monthly pre-settlement" in out
    code, out = run("drg", "-c", str(claims), "--history", str(history), "--hospital", "H9")
    assert code == 2 and "--hospital" in out
