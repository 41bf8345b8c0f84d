"""``yibao drg``: group a CSV of discharges with a scheme, list the shipped schemes (mounted by yibao.cli).

yibao drg group --scheme chs-drg-demo --input cases.csv --output out.csv
yibao drg schemes
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


@drg_app.command("schemes")
def schemes() -> None:
    """列出方案 List the shipped grouping schemes."""
    t = Table("id", "名称 name", "版本 version", "官方 official", "ADRG", "DRG")
    for sid in scheme_ids():
        s = load_scheme(sid).scheme
        drgs = {d for a in s.adrgs for d in a.drg.values()}
        t.add_row(
            s.id,
            f"{s.name}\n{s.name_en}",
            s.version,
            "是 yes" if s.official else "否 NOT OFFICIAL",
            str(len(s.adrgs)),
            str(len(drgs)),
        )
    Console().print(t)
