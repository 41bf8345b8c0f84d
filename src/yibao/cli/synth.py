"""``yibao synth``: generate a synthetic region year (mounted by the main CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import yibao.audit.scenarios  # noqa: F401  (registers the audit's labelled fraud scenarios as injectors)
from yibao.audit.knowledge.limits import prescribing_limits
from yibao.policy.loader import example_path
from yibao.synth.generator import DEFAULT_CHUNK, generate
from yibao.synth.inject import injector_names

synth_app = typer.Typer(help="合成数据 synthetic region generator", no_args_is_help=True)
console = Console()


@synth_app.command("generate")
def generate_cmd(
    region: Annotated[
        str, typer.Option("--region", "-r", help="example region name (xian, weinan) or a file")
    ] = "xian",
    persons: Annotated[
        int, typer.Option("--persons", "-n", min=1, help="number of insured persons")
    ] = 100_000,
    year: Annotated[int, typer.Option("--year", help="calendar year of the visits")] = 2025,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed + size → same content)")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory")] = Path("synth-out"),
    inject: Annotated[
        str, typer.Option("--inject", help="comma-separated injectors: " + ", ".join(injector_names()))
    ] = "",
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="persons per chunk (row group)")
    ] = DEFAULT_CHUNK,
    enrolment: Annotated[
        Path | None,
        typer.Option(
            "--enrolment",
            help="YAML of enrolment scenario shares (late_first, lapsed, newborn_late, death_75 …; "
            "docs/ENROLMENT.md §7); default: the generator's",
        ),
    ] = None,
) -> None:
    """Generate persons, institutions, visits and fee lines as Parquet, plus manifest.json (and the region's
    enrolment histories and contributions when it has an enrolment file)."""
    from yibao.errors import FieldError
    from yibao.synth.enrolment import load_scenarios

    path = Path(region) if Path(region).exists() else example_path(region)
    try:
        scenarios = load_scenarios(enrolment) if enrolment is not None else None
    except (FieldError, OSError) as exc:
        console.print(f"[red]✗ {exc}")
        raise typer.Exit(2) from None
    names = tuple(x.strip() for x in inject.split(",") if x.strip())
    with Progress(
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("generate", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        m = generate(
            path,
            out,
            persons=persons,
            year=year,
            seed=seed,
            inject=names,
            chunk_size=chunk_size,
            progress=step,
            limits=prescribing_limits(),
            enrolment=scenarios,
        )
    lines = m.rows["lines"]
    console.print(
        f"wrote {out}: {m.rows['persons']:,} persons, {m.rows['visits']:,} visits, {lines:,} lines "
        f"in {m.elapsed_s:.1f}s ({lines / max(m.elapsed_s, 1e-9):,.0f} lines/s)"
    )
    for r in m.calibration:
        tgt = "—" if r["target"] is None else f"{r['target']:,.4g}"
        got = "—" if r["achieved"] is None else f"{r['achieved']:,.4g}"
        console.print(f"  {r['metric']:<46} target {tgt:>10}  achieved {got:>10}")
