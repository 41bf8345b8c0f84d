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
    knowledge: Annotated[
        Path | None, typer.Option(help="知识库目录 knowledge directory (default: the EXAMPLE tables)")
    ] = None,
    conventions: Annotated[
        str | None,
        typer.Option(
            help="计费习惯 billing conventions of the generated region: a preset of evaluation.yaml "
            "(e.g. holdout) or a YAML file; default: the generator's defaults"
        ),
    ] = None,
) -> None:
    """生成含全部欺诈场景的地区并评估审核的精确率与召回率 / precision and recall per scenario."""
    from yibao.audit.evaluate import evaluate, load_conventions

    try:
        conv = load_conventions(conventions) if conventions else None
        ev = evaluate(
            seed,
            persons,
            region,
            use_rules=rules,
            with_settlement=settle,
            knowledge_dir=knowledge,
            conventions=conv,
        )
    except FieldError as e:
        raise typer.BadParameter(str(e)) from e
    if as_json:
        for s in ev.scores:
            typer.echo(json.dumps(s.row(), ensure_ascii=False))
        for m in ev.metrics:
            typer.echo(json.dumps({"queue": m["scenario"], **m}, ensure_ascii=False))
        for d in ev.demoted.iter_rows(named=True):
            typer.echo(json.dumps({"demoted": d["rule_code"], **d}, ensure_ascii=False))
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
    tq = Table(title="审核队列 review queue — own flag set and the top of the ranking (one row per measure)")
    tq.add_column("measure")
    for m in ev.metrics:
        tq.add_column(m["scenario"][:10], justify="right")
    for c in [c for c in ev.metrics[-1] if c != "scenario"]:
        tq.add_row(c, *("" if m.get(c) is None else str(m[c]) for m in ev.metrics))
    console.print(tq)
    for d in ev.demoted.iter_rows(named=True):
        console.print(f"降级 demoted {d['rule_code']}: {d['note_zh']} / {d['note_en']}")
    console.print(f"timings {ev.timings}; rows {ev.rows}")


@audit_app.command("calibrate")
def calibrate_cmd(
    seeds: Annotated[str, typer.Option(help="tuning seeds, e.g. 1-9 or 1,2,3")] = "1-9",
    persons: Annotated[int, typer.Option(help="persons per region")] = 20_000,
    out: Annotated[Path, typer.Option(help="calibration table to write (CSV)")] = Path(
        "flag_calibration.csv"
    ),
    isotonic_out: Annotated[
        Path, typer.Option(help="isotonic curves to write (CSV, knowledge table flag_isotonic)")
    ] = Path("flag_isotonic.csv"),
) -> None:
    """在调参地区上拟合每条规则/模型的确认率与保序校准曲线 / fit each detector's confirmed share and its
    isotonic calibration curve on tuning regions."""
    from yibao.audit.evaluate import evaluate
    from yibao.audit.queue import isotonic_curves

    try:
        if "-" in seeds:
            lo, hi = (int(x) for x in seeds.split("-", 1))
            chosen = list(range(lo, hi + 1))
        else:
            chosen = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter("seeds: 形如 1-9 或 1,2,3 / like 1-9 or 1,2,3") from None
    parts, points = [], []
    for sd in chosen:
        ev = evaluate(sd, persons, with_settlement=False)
        parts.append(ev.calibration)
        points.append(ev.points)
        Console().print(f"seed {sd} done")
    cal = pl.concat(parts).group_by("rule_code").agg(pl.col("flagged", "confirmed").sum()).sort("rule_code")
    cal.write_csv(out)
    curves = isotonic_curves(pl.concat(points))
    curves.with_columns(pl.col("strength_from").round(6), pl.col("score").round(6)).write_csv(isotonic_out)
    Console().print(f"校准表已写入 calibration written → {out} ({cal.height} detectors, seeds {seeds})")
    Console().print(
        f"保序校准曲线已写入 isotonic curves written → {isotonic_out} "
        f"({curves['rule_code'].n_unique()} detectors, {curves.height} steps)"
    )


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
    knowledge: Annotated[
        Path | None,
        typer.Option(help="知识库目录 knowledge directory (default: the shipped EXAMPLE tables)"),
    ] = None,
    top: Annotated[
        str | None,
        typer.Option(
            help="审核队列 review queue: show the top visits (e.g. 1% or 500); written beside --out"
        ),
    ] = None,
) -> None:
    """事后审核：对一个期间的结算数据运行规则与模型，输出疑点 / after-the-fact audit → flags + summary."""
    if engine == "spark" and top is not None:
        raise typer.BadParameter(
            "top: 审核队列仅支持 polars 引擎 / the review queue runs with --engine polars"
        )
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
    _run_polars(Path(data), Path(out), rules, settle, region, knowledge, top)


def _run_polars(
    data: Path,
    out: Path,
    rules: bool,
    settle: bool,
    region: Path | None,
    knowledge_dir: Path | None,
    top: str | None = None,
) -> None:
    from yibao.audit.evaluate import region_knowledge, run_audit
    from yibao.audit.evaluate import settle as settle_fn
    from yibao.policy.loader import example_path

    for f in ("persons", "visits", "lines"):
        if not (data / f"{f}.parquet").exists():
            raise typer.BadParameter(f"缺少数据文件 {data} has no {f}.parquet")
    if out.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("输出文件须以 .parquet 或 .csv 结尾 out: must end in .parquet or .csv")
    try:  # the folder of --out is made when missing, before the run (not after minutes of work)
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise typer.BadParameter(
            f"无法创建输出目录 {out.parent}（{e.strerror}） out: cannot create the folder of --out"
        ) from e
    p, v, ln = (pl.read_parquet(data / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    inst = (
        pl.read_parquet(data / "institutions.parquet") if (data / "institutions.parquet").exists() else None
    )
    settled = settle_fn(region or example_path("xian"), p, v, ln) if settle else None
    try:
        know = region_knowledge(data, knowledge_dir)
    except FieldError as e:
        raise typer.BadParameter(str(e)) from e
    flags, _, used = run_audit(p, v, ln, inst, settled, rules, knowledge=know)
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix == ".csv":
        flags.write_csv(tmp)
    else:
        flags.write_parquet(tmp)
    tmp.replace(out)
    if top is None:
        _summary(flags, used, str(out))
        return
    _queue(flags, v.height, know.flag_calibration, top, out, know.flag_isotonic)


def _queue(
    flags: pl.DataFrame,
    n_visits: int,
    calibration: pl.DataFrame,
    top: str,
    out: Path,
    curves: pl.DataFrame | None = None,
) -> None:
    """Score the flags, rank the visits, write the queue beside ``out`` and show its top."""
    from yibao.audit.queue import parse_top, score_flags, visit_queue

    try:
        n = parse_top(top, n_visits)
    except FieldError as e:
        raise typer.BadParameter(str(e)) from e
    scored, report = score_flags(flags, n_visits, calibration, curves=curves)
    queue = visit_queue(scored)
    qpath = out.with_name(out.stem + ".queue.parquet")
    queue.write_parquet(qpath)
    own = int(queue["own"].sum())
    t = Table(
        title=f"审核队列 review queue — top {min(n, queue.height):,} of {n_visits:,} visits; "
        f"own flag set {own:,} ({own / max(n_visits, 1):.2%}) → {qpath}"
    )
    for col in (
        "序 rank",
        "就诊 visit",
        "机构 institution",
        "分值 score",
        "金额 amount (元)",
        "规则/模型 detectors",
        "理由 reason",
    ):
        t.add_column(col, overflow="fold")
    for r in queue.head(n).iter_rows(named=True):
        t.add_row(
            str(r["rank"]),
            str(r["visit_id"]),
            r["fixmedins_code"],
            f"{r['score']:.3f}",
            fmt_yuan(int(r["amount_fen"])),
            r["detectors"],
            r["reason_zh"],
        )
    console = Console()
    console.print(t)
    for d in report.filter(pl.col("demoted")).iter_rows(named=True):
        console.print(f"降级 demoted {d['rule_code']}: {d['note_zh']} / {d['note_en']}")


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


@audit_app.command("knowledge-import")
def knowledge_import_cmd(
    catalogue: Annotated[Path, typer.Argument(help="目录表 catalogue CSV with restriction columns")],
    out: Annotated[Path, typer.Argument(help="knowledge directory to write")],
    base: Annotated[
        Path | None,
        typer.Option(help="tables the catalogue does not give are copied from here (default: EXAMPLE)"),
    ] = None,
) -> None:
    """从目录表导入知识库 / build a knowledge directory from a catalogue with restriction columns."""
    from yibao.audit.knowledge.importer import import_catalogue

    try:
        k = import_catalogue(catalogue, out, base)
    except FieldError as e:
        raise typer.BadParameter(str(e)) from e
    Console().print(
        f"知识库已写入 knowledge written → {out}: {k.item_pack.height} 包装/日最大量 pack rows, "
        f"{k.days_limit.height} 天数限制 days-limit rows, {k.price_standard.height} 价格 price rows"
    )
