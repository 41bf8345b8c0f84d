"""``yibao simulate``: the what-if simulator on the command line (mounted by yibao.cli).

yibao simulate --baseline xian --candidate xian-lower-deductible --visits .yibao/synth
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from yibao.errors import FieldError
from yibao.policy.book import PolicyBook
from yibao.policy.loader import PolicyError
from yibao.simulate.candidates import resolve_policy

STAGES = {
    "read": "读取数据 reading Parquet",
    "baseline": "基线结算 settling under the baseline",
    "candidate": "候选结算 settling under the candidate",
    "metrics": "计算指标 computing metrics",
    "report": "生成报告 writing the report",
}


def simulate_cmd(
    baseline: Annotated[
        Path, typer.Option("--baseline", "-b", help="baseline policy: file or example name (xian)")
    ],
    candidate: Annotated[
        Path,
        typer.Option(
            "--candidate", "-c", help="candidate policy: file or example name (xian-lower-deductible)"
        ),
    ],
    visits: Annotated[
        str,
        typer.Option(
            "--visits",
            "-v",
            help="synth output directory, or its visits.parquet (persons.parquet "
            "and lines.parquet alongside); with --engine spark also a URL (s3a://…, hdfs://…)",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML report to write")] = Path("simulation.html"),
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the JSON report here")] = None,
    engine: Annotated[str, typer.Option(help="polars (this machine) or spark")] = "polars",
    master: Annotated[str, typer.Option(help="Spark master: local[N] or a cluster URL")] = "local[2]",
    parquet_out: Annotated[
        str | None,
        typer.Option(help="spark: write the per-visit settlements here as Parquet partitioned by policy"),
    ] = None,
    benefit_check: Annotated[
        bool,
        typer.Option(
            "--benefit-check/--no-benefit-check",
            help="check each visit against the region's generated enrolment (refused visits are not "
            "settled; waiting periods and arrears settle with no fund paying), on either engine",
        ),
    ] = True,
) -> None:
    """Re-settle a year of claims under two policies; write a self-contained HTML report (and JSON)."""
    from yibao.simulate.core import simulate
    from yibao.simulate.report import to_json, write_html

    console = Console(stderr=True)
    try:
        books = [PolicyBook.from_file(resolve_policy(p)) for p in (baseline, candidate)]
    except (PolicyError, FileNotFoundError) as exc:
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(2) from exc

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(STAGES["read"], total=len(STAGES))
        started: list[str] = []

        def step(stage: str) -> None:
            if started:
                bar.advance(task)
            started.append(stage)
            bar.update(task, description=STAGES.get(stage, stage))

        try:
            if engine == "spark":
                from yibao.spark import spark_session
                from yibao.spark.simulate import simulate_spark

                session = spark_session(master, app_name="yibao-simulate")
                try:
                    report = simulate_spark(
                        session,
                        books[0],
                        books[1],
                        visits,
                        out=parquet_out,
                        progress=step,
                        benefit_check=benefit_check,
                    )
                finally:
                    session.stop()
            elif engine == "polars":
                report = simulate(
                    books[0], books[1], Path(visits), progress=step, benefit_check=benefit_check
                )
            else:
                raise typer.BadParameter("engine: polars 或 spark / polars or spark")
        except (FileNotFoundError, FieldError) as exc:
            console.print(f"[red]✗[/] {exc}")
            raise typer.Exit(2) from exc
        step("report")
        write_html(report, out)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(to_json(report), ensure_ascii=False, indent=1), encoding="utf-8")
        bar.advance(task)
        bar.update(task, description="完成 done")

    console.print(f"[green]✓[/] {out}" + (f" · {json_out}" if json_out else ""))
    print(report.narrative.get("zh", ""))
    print(report.narrative.get("en", ""))
