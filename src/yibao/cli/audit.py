"""``yibao audit …``: evaluate the audit on a synthetic region, run it after the fact over a synth directory.

Thin: the work is in :mod:`yibao.audit.evaluate`, :mod:`yibao.audit.models` and the rule library.
The case workflow (``cases …``) and the before-the-fact check (``check``) are mounted by their owners.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from yibao.errors import FieldError
from yibao.money import fmt_yuan

audit_app = typer.Typer(help="智能审核与监控 / smart audit: evaluate, run", no_args_is_help=True)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


@audit_app.command("evaluate")
def evaluate_cmd(
    seed: Annotated[int, typer.Option(help="region seed")] = 1,
    persons: Annotated[int, typer.Option(help="persons in the generated region")] = 20_000,
    region: Annotated[Path | None, typer.Option(help="region file (default: the xian example)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    rules: Annotated[bool, typer.Option(help="include the rule library when installed")] = True,
    settle: Annotated[bool, typer.Option(help="amounts at stake from the batch settlement")] = True,
    by_detector: Annotated[bool, typer.Option(help="also a table per rule / model code")] = False,
) -> None:
    """生成含全部欺诈场景的地区并评估审核的精确率与召回率 / precision and recall per scenario."""
    from yibao.audit.evaluate import evaluate

    try:
        ev = evaluate(seed, persons, region, use_rules=rules, with_settlement=settle)
    except FieldError as e:
        raise typer.BadParameter(str(e)) from e
    if as_json:
        for s in ev.scores:
            typer.echo(json.dumps(s.row(), ensure_ascii=False))
        if by_detector:
            for d in ev.detectors.iter_rows(named=True):
                typer.echo(
                    json.dumps(
                        {"detector": d["rule_code"], **{k: v for k, v in d.items() if k != "rule_code"}},
                        ensure_ascii=False,
                    )
                )
        return
    t = Table(
        title=f"审核评估 audit evaluation — seed {seed}, {persons:,} persons, "
        f"rules {'on' if ev.rules_used else 'off'}"
    )
    for col in (
        "场景 scenario",
        "标注 labelled",
        "命中 TP",
        "误报 FP",
        "精确率 precision",
        "召回率 recall",
        "涉及金额 amount flagged (元)",
    ):
        t.add_column(col, justify="left" if col.startswith("场景") else "right", overflow="fold")
    for s in ev.scores:
        t.add_row(
            s.scenario,
            str(s.labelled),
            str(s.flagged),
            f"{s.false_pos:.1f}",
            _pct(s.precision),
            _pct(s.recall),
            fmt_yuan(s.amount_flagged),
        )
    console = Console()
    console.print(t)
    if by_detector:
        td = Table(title="按规则/模型 by detector (visits flagged, of which labelled)")
        for col in ("code", "source", "visits", "labelled", "precision", "found"):
            td.add_column(col, overflow="fold", min_width=11 if col == "code" else None)
        for d in ev.detectors.iter_rows(named=True):
            td.add_row(
                d["rule_code"],
                d["source"],
                str(d["visits"]),
                str(d["labelled"]),
                _pct(d["precision"]),
                d["found"],
            )
        console.print(td)
    console.print(f"timings {ev.timings}; rows {ev.rows}")


@audit_app.command("run")
def run_cmd(
    data: Annotated[
        str,
        typer.Argument(
            help="synth directory (persons / visits / lines / institutions Parquet); "
            "with --engine spark also a URL (s3a://…, hdfs://…)"
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            help="flags file (.parquet or .csv); with --engine spark a directory or URL of Parquet "
            "partitioned by source and rule code"
        ),
    ] = "flags.parquet",
    rules: Annotated[bool, typer.Option(help="include the rule library when installed")] = True,
    settle: Annotated[bool, typer.Option(help="amounts at stake from the batch settlement")] = False,
    region: Annotated[
        Path | None, typer.Option(help="region file for --settle (default: the xian example)")
    ] = None,
    engine: Annotated[str, typer.Option(help="polars (this machine) or spark")] = "polars",
    master: Annotated[str, typer.Option(help="Spark master: local[N] or a cluster URL")] = "local[2]",
) -> None:
    """事后审核：对一个期间的结算数据运行规则与模型，输出疑点 / after-the-fact audit → flags + summary."""
    if engine == "spark":
        from yibao.spark import spark_session
        from yibao.spark.audit import audit_spark

        session = spark_session(master, app_name="yibao-audit")
        try:
            flags, used = audit_spark(session, data, region=region, settle=settle, use_rules=rules, out=out)
        except FieldError as e:
            raise typer.BadParameter(str(e)) from e
        finally:
            session.stop()
        _summary(flags, used, out)
        return
    if engine != "polars":
        raise typer.BadParameter("engine: polars 或 spark / polars or spark")
    _run_polars(Path(data), Path(out), rules, settle, region)


def _run_polars(data: Path, out: Path, rules: bool, settle: bool, region: Path | None) -> None:
    from yibao.audit.evaluate import read_physicians, run_audit
    from yibao.audit.evaluate import settle as settle_fn
    from yibao.policy.loader import example_path

    for f in ("persons", "visits", "lines"):
        if not (data / f"{f}.parquet").exists():
            raise typer.BadParameter(f"缺少数据文件 {data} has no {f}.parquet")
    if out.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("输出文件须以 .parquet 或 .csv 结尾 out: must end in .parquet or .csv")
    p, v, ln = (pl.read_parquet(data / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    inst = (
        pl.read_parquet(data / "institutions.parquet") if (data / "institutions.parquet").exists() else None
    )
    settled = settle_fn(region or example_path("xian"), p, v, ln) if settle else None
    flags, _, used = run_audit(p, v, ln, inst, settled, rules, physicians=read_physicians(data))
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix == ".csv":
        flags.write_csv(tmp)
    else:
        flags.write_parquet(tmp)
    tmp.replace(out)
    _summary(flags, used, str(out))


def _summary(flags: pl.DataFrame, used: bool, out: str) -> None:
    summary = (
        flags.group_by("source", "rule_code", "severity")
        .agg(
            pl.len().alias("flags"),
            pl.col("visit_id").n_unique().alias("visits"),
            pl.col("amount_fen").sum().alias("amount_fen"),
        )
        .sort("source", "rule_code")
    )
    t = Table(
        title=f"疑点汇总 flags summary — {flags.height:,} flags, rules {'on' if used else 'off'} → {out}"
    )
    for col in (
        "来源 source",
        "规则/模型 code",
        "级别 severity",
        "疑点 flags",
        "就诊 visits",
        "金额 amount (元)",
    ):
        t.add_column(col, overflow="fold", min_width=11 if col.endswith("code") else None)
    for src, code, sev, n, nv, amt in summary.iter_rows():
        t.add_row(src, code, sev, str(n), str(nv), fmt_yuan(int(amt)))
    Console().print(t)
