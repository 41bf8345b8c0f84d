"""``yibao consult``: public consultations on a draft policy (共治) from the command line.

yibao consult impact -b xian -c xian-lower-deductible -v .yibao/demo-data
yibao consult draft --title … --summary … --body draft.txt -c xian-lower-deductible -v .yibao/demo-data
yibao consult publish <id> --last-day 2027-01-06
yibao consult list
yibao consult show <id>
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from yibao.consult.impact import Impact
    from yibao.consult.store import ConsultStore

consult_app = typer.Typer(help="政策征求意见 public consultations (共治)", no_args_is_help=True)
err = Console(stderr=True)

DbOpt = Annotated[str, typer.Option("--db", envvar="YIBAO_DATABASE_URL", help="database URL")]
BaselineOpt = Annotated[Path, typer.Option("--baseline", "-b", help="current policy: file or example (xian)")]
CandidateOpt = Annotated[
    Path | None, typer.Option("--candidate", "-c", help="candidate policy: file or example name")
]
VisitsOpt = Annotated[Path | None, typer.Option("--visits", "-v", help="synth directory of the claims")]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="a stored simulation report (yibao simulate --json)")
]


def _impact(baseline: Path, candidate: Path | None, visits: Path | None, report: Path | None) -> Impact:
    from yibao.consult.simulated import impact_from_file, simulate_impact
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import PolicyError
    from yibao.simulate.candidates import resolve_policy

    try:
        base = PolicyBook.from_file(resolve_policy(baseline))
        if report is not None:
            return impact_from_file(report, base)
        if candidate is None or visits is None:
            err.print(
                "[red]✗[/] 需要 --report，或 --candidate 与 --visits give --report, or --candidate and --visits"
            )
            raise typer.Exit(2)
        return simulate_impact(base, PolicyBook.from_file(resolve_policy(candidate)), visits)
    except (PolicyError, FileNotFoundError) as exc:
        err.print(f"[red]✗[/] {exc}")
        raise typer.Exit(2) from exc


def _store(db: str) -> ConsultStore:
    import sqlalchemy as sa

    from yibao.consult import core
    from yibao.consult.store import ConsultStore
    from yibao.ledger import Ledger

    led = Ledger.open(db or None)
    try:
        led.migrate()
        engine = sa.create_engine(led.sa_url)
    finally:
        led.close()
    return ConsultStore(engine, core.load_params())


def _fail(exc: Exception) -> None:
    field, reason = getattr(exc, "field", ""), getattr(exc, "reason", str(exc))
    err.print(f"[red]✗[/] {field}: {reason}")
    raise typer.Exit(2)


@consult_app.command("impact")
def impact_cmd(
    baseline: BaselineOpt = Path("xian"),
    candidate: CandidateOpt = None,
    visits: VisitsOpt = None,
    report: ReportOpt = None,
) -> None:
    """The impact of a candidate policy in plain words (a real simulation on the claims, or a report)."""
    from yibao.consult.core import ConsultError
    from yibao.consult.impact import explain

    try:
        text = explain(_impact(baseline, candidate, visits, report))
    except ConsultError as exc:
        _fail(exc)
        return
    console = Console()
    for zh, en in zip(text["zh"], text["en"], strict=True):
        console.print(f"{zh}\n[dim]{en}[/]")


@consult_app.command("draft")
def draft_cmd(
    title: Annotated[str, typer.Option(help="标题 title")],
    summary: Annotated[str, typer.Option(help="白话摘要 summary in plain words")],
    body: Annotated[Path, typer.Option(help="征求意见稿全文 (UTF-8 text file)")],
    baseline: BaselineOpt = Path("xian"),
    candidate: CandidateOpt = None,
    visits: VisitsOpt = None,
    report: ReportOpt = None,
    db: DbOpt = "",
) -> None:
    """Save a draft with its simulated impact; prints its id."""
    from yibao.consult.core import ConsultError

    try:
        text = body.read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]✗[/] body: 无法读取 cannot read {body}: {exc}")
        raise typer.Exit(2) from exc
    impact = _impact(baseline, candidate, visits, report)
    note = (
        f"政策模拟报告 {report.name} simulation report"
        if report
        else f"候选政策 {candidate} candidate policy"
    )
    try:
        c = _store(db).create_draft(
            title=title,
            summary=summary,
            body=text,
            actor_id="cli",
            now=dt.datetime.now(dt.UTC),
            impact=impact,
            impact_note=note,
        )
    except ConsultError as exc:
        _fail(exc)
        return
    print(c.consult_id)


@consult_app.command("publish")
def publish_cmd(
    consult_id: Annotated[str, typer.Argument(help="the draft's id")],
    last_day: Annotated[
        str, typer.Option(help="last day for opinions YYYY-MM-DD (closes 24:00 Beijing time)")
    ],
    reason: Annotated[str, typer.Option(help="why the period is shorter than the minimum, if it is")] = "",
    db: DbOpt = "",
) -> None:
    """Publish a draft for opinions until 24:00 Beijing time of ``--last-day``."""
    from yibao.consult.core import ConsultError

    try:
        day = dt.date.fromisoformat(last_day)
    except ValueError:
        err.print(f"[red]✗[/] last_day: {last_day!r} 不是日期 is not a YYYY-MM-DD date")
        raise typer.Exit(2) from None
    try:
        c = _store(db).publish(
            consult_id, last_day=day, short_reason=reason, actor_id="cli", now=dt.datetime.now(dt.UTC)
        )
    except ConsultError as exc:
        _fail(exc)
        return
    Console().print(
        f"[green]✓[/] {c.title}: {c.period_days} 日 days, 截止 closes {c.last_day} 24:00 北京时间"
    )


@consult_app.command("list")
def list_cmd(db: DbOpt = "") -> None:
    """Every consultation with its phase and adoption rate."""
    from yibao.consult.core import STATUSES, percent

    store = _store(db)
    now = dt.datetime.now(dt.UTC)
    t = Table("编号 id", "标题 title", "阶段 phase", "截止 last day", "意见 opinions", "采纳率 adoption")
    for c in store.listing(public=False):
        rate = store.adoption(c.consult_id)
        n = sum(1 for o in store.opinions(c.consult_id) if o.hidden_reason is None)
        t.add_row(
            c.consult_id,
            c.title,
            STATUSES[c.phase(now)][0],
            str(c.last_day or "—"),
            str(n),
            percent(rate.rate),
        )
    Console().print(t)


@consult_app.command("show")
def show_cmd(consult_id: Annotated[str, typer.Argument()], db: DbOpt = "") -> None:
    """A consultation: its impact in plain words, the themes with their answers, the adoption rate."""
    from yibao.consult.core import DECISIONS, STATUSES, ConsultError, percent
    from yibao.consult.impact import explain

    store = _store(db)
    try:
        c = store.get(consult_id)
    except ConsultError as exc:
        _fail(exc)
        return
    console = Console()
    console.print(f"[bold]{c.title}[/] · {STATUSES[c.phase(dt.datetime.now(dt.UTC))][0]}")
    if c.impact:
        for line in explain(c.impact)["zh"]:
            console.print(f"  {line}")
    for th in store.themes(consult_id):
        decision = DECISIONS[th.decision][0] if th.decision else "未答复"
        console.print(f"- {th.title}（{th.opinions} 条）：{decision} {th.response}")
    console.print(f"采纳率 adoption rate: {percent(store.adoption(consult_id).rate)}")
