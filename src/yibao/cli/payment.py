"""``yibao payment``: DRG / DIP hospital payment on the command line (mounted by yibao.cli as ``payment``).

yibao payment drg  --claims grouped.parquet --history earlier.parquet --policy demo --out out/drg
yibao payment dip  --claims grouped.parquet --history earlier.parquet --policy demo --out out/dip
yibao payment demo --persons 20000 --out out/demo
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console

from yibao.errors import FieldError
from yibao.money import fmt_yuan
from yibao.payment.core import Payment
from yibao.payment.policy import PaymentPolicy, load_policy
from yibao.payment.report import clearing_table, monthly_table, summary, write_outputs

payment_app = typer.Typer(
    help="DRG / DIP 医院付费 hospital payment: weights, points, pre-settlement, clearing",
    no_args_is_help=True,
)

STRING_COLUMNS = ("case_id", "fixmedins_code", "hosp_lv", "drg", "adrg", "mdc", "pdx", "main_procedure")

ClaimsOpt = Annotated[
    Path, typer.Option("--claims", "-c", help="grouped discharges of the policy year (Parquet or CSV)")
]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help="earlier years' grouped discharges for calibration and the budget (default: --claims)",
    ),
]
PolicyOpt = Annotated[
    str, typer.Option("--policy", "-p", help="payment policy YAML, or a shipped example (demo)")
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="directory for CSV / JSON reports")]
HospitalOpt = Annotated[
    str | None,
    typer.Option("--hospital", help="institution whose monthly pre-settlement to show (default: the first)"),
]


def read_claims(path: Path) -> pl.DataFrame:
    """A claims file: Parquet, or CSV with codes read as text and dates parsed."""
    if not path.exists():
        raise FieldError(str(path), "文件不存在 file not found", "missing")
    if path.suffix.lower() == ".parquet":
        return pl.read_parquet(path)
    head = pl.read_csv(path, n_rows=0)
    overrides = {c: pl.String for c in STRING_COLUMNS if c in head.columns}
    if "discharge_date" in head.columns:
        overrides["discharge_date"] = pl.Date  # type: ignore[assignment]
    try:
        return pl.read_csv(path, schema_overrides=overrides)
    except pl.exceptions.PolarsError as exc:
        raise FieldError(
            str(path), f"无法读取结算清单 CSV cannot read as claims CSV: {exc}", "unreadable"
        ) from exc


def _console() -> Console:
    """Wide enough for the clearing table when the output is not a terminal (files, pipes, tests)."""
    return Console() if sys.stdout.isatty() else Console(width=140)


def _show(console: Console, p: Payment, out: Path | None, hospital: str | None = None) -> None:
    s = summary(p)
    console.print(
        f"[bold]{p.method.upper()} {p.year}[/] 预算 pool {fmt_yuan(s['pool_fen'])} 元 · "
        f"病例 cases {s['cases']:,} · 组 groups {s['groups']:,} · 点数 points {s['points']} · "
        f"预算点值 budget point value {s['budget_point_value_yuan']} 元 · "
        f"结算点值 settlement point value {s['settlement_point_value_yuan']} 元 · "
        f"费率 base rate {s['base_rate_yuan']} 元 / RW"
    )
    console.print(clearing_table(p))
    if hospital is not None and hospital not in set(p.hospitals.get_column("fixmedins_code")):
        raise FieldError(
            "--hospital", f"该机构在结算清单中没有病例 {hospital} has no case in the claims", "unknown"
        )
    console.print(monthly_table(p, hospital))
    ok = s["due_fen"] == s["pool_fen"]
    console.print(
        f"Σ 年度应付 due = {fmt_yuan(s['due_fen'])} 元 "
        f"{'== 预算 pool 通过 OK' if ok else '!= 预算 pool 失败 FAILED'}"
    )
    if out is not None:
        files = write_outputs(p, out)
        console.print(f"写出 wrote {', '.join(f.name for f in files)} → {out}")


def _run(
    pay: Callable[[pl.DataFrame, PaymentPolicy, pl.DataFrame | None], Payment],
    claims: Path,
    history: Path | None,
    policy: str,
    out: Path | None,
    as_json: bool,
    hospital: str | None,
) -> None:
    console = _console()
    try:
        pol = load_policy(policy)
        result = pay(read_claims(claims), pol, read_claims(history) if history else None)
        if as_json:
            if out is not None:
                write_outputs(result, out)
            typer.echo(json.dumps(summary(result), ensure_ascii=False))
            return
        _show(console, result, out, hospital)
    except (FieldError, FileNotFoundError) as exc:
        Console(stderr=True).print(f"[red]错误 error[/]: {exc}")
        raise typer.Exit(2) from exc


@payment_app.command("drg")
def drg_cmd(
    claims: ClaimsOpt,
    policy: PolicyOpt = "demo",
    history: HistoryOpt = None,
    out: OutOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    hospital: HospitalOpt = None,
) -> None:
    """DRG 点数法: calibrate weights, score cases, split the budget, pre-settle monthly, clear the year."""
    from yibao.payment.drg import pay_drg

    _run(pay_drg, claims, history, policy, out, as_json, hospital)


@payment_app.command("dip")
def dip_cmd(
    claims: ClaimsOpt,
    policy: PolicyOpt = "demo",
    history: HistoryOpt = None,
    out: OutOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    hospital: HospitalOpt = None,
) -> None:
    """DIP 按病种分值: build the catalogue, score cases (with deviation rules), split the budget, clear the year."""
    from yibao.payment.dip import pay_dip

    _run(pay_dip, claims, history, policy, out, as_json, hospital)


@payment_app.command("demo")
def demo_cmd(
    persons: Annotated[int, typer.Option("--persons", help="insured persons per synthetic year")] = 20_000,
    region: Annotated[str, typer.Option("--region", help="synth region (example name or YAML)")] = "xian",
    policy: PolicyOpt = "demo",
    workdir: Annotated[Path, typer.Option("--workdir", help="where the synthetic years are kept")] = Path(
        ".yibao/payment-demo"
    ),
    out: OutOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """演示: synth 3 history years + the policy year → group (chs-drg-demo) → pay by DRG and by DIP."""
    from yibao.demo.payment import demo_region

    console = _console()
    try:
        pol = load_policy(policy)
        res = demo_region(
            pol,
            workdir / f"{region}-{persons}-{seed}",
            region=region,
            persons=persons,
            seed=seed,
            progress=lambda m: console.print(f"[dim]{m}[/]"),
        )
    except (FieldError, FileNotFoundError) as exc:
        Console(stderr=True).print(f"[red]错误 error[/]: {exc}")
        raise typer.Exit(2) from exc
    for p in (res.drg, res.dip):
        console.rule(f"{p.method.upper()} 付费 payment")
        _show(console, p, out / p.method if out else None)
