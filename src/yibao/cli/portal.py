"""``yibao portal``: seed a demo database for the portal, compute a case's due date, list the open cases.

yibao portal seed .yibao/portal-demo.db --persons 200
yibao portal due complaint --on 2026-09-29
yibao portal queue
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

portal_app = typer.Typer(help="参保人服务门户 patient portal (备案、投诉举报、时限)", no_args_is_help=True)


@portal_app.command("seed")
def seed(
    db: Annotated[Path, typer.Argument(help="SQLite file to create (replaced if present)")] = Path(
        ".yibao/portal-demo.db"
    ),
    persons: Annotated[int, typer.Option(help="synthetic insured persons")] = 200,
    region: Annotated[str, typer.Option(help="example region name or region file")] = "xian",
) -> None:
    """Settle a small synthetic year into ``db`` and create the demo logins."""
    from yibao.demo.seed import seed_demo_db

    s = seed_demo_db(db, region=region, persons=persons)
    console = Console()
    console.print(f"[green]✓[/] {s.settled:,} 笔结算 settlements in {s.url}")
    console.print(
        f"登录 logins (password {s.password}): insured (acts for {s.family_psn_no}), insured2, "
        "hospital, auditor, admin"
    )
    console.print(
        f"启动 serve: YIBAO_DATABASE_URL={s.url} YIBAO_DEMO=1 uvicorn yibao.web.app:create_app --factory"
    )


@portal_app.command("due")
def due(
    kind: Annotated[
        str,
        typer.Argument(
            help="filing_chronic / filing_referral / complaint / fraud_report (异地就医备案 is a structured filing: /api/crossregion/filings)"
        ),
    ],
    on: Annotated[str, typer.Option(help="submission date YYYY-MM-DD (default today)")] = "",
) -> None:
    """The due date of a case filed on ``--on`` (working days, holidays from the portal parameters)."""
    from yibao.feedback.core import load_params

    params = load_params()
    rule = params.sla.get(kind)
    if rule is None:
        Console(stderr=True).print(f"[red]✗[/] kind: unknown case kind {kind!r} ({', '.join(params.sla)})")
        raise typer.Exit(2)
    try:
        day = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError as exc:
        Console(stderr=True).print(f"[red]✗[/] on: {on!r} is not a YYYY-MM-DD date")
        raise typer.Exit(2) from exc
    Console().print(
        f"{rule.name} {rule.name_en}: {rule.days} 个工作日 working days from {day} → "
        f"[bold]{params.calendar.add_working_days(day, rule.days)}[/]  ({rule.source})"
    )


@portal_app.command("queue")
def queue(
    database_url: Annotated[str, typer.Option(envvar="YIBAO_DATABASE_URL", help="ledger database URL")] = "",
) -> None:
    """Open cases, oldest due date first, with their SLA clocks."""
    import sqlalchemy as sa

    from yibao.feedback.core import CASE_KINDS, STATUSES, load_params
    from yibao.feedback.store import PortalStore
    from yibao.ledger import Ledger

    led = Ledger.open(database_url or None)
    try:
        led.migrate()
        engine = sa.create_engine(led.sa_url)
    finally:
        led.close()
    params = load_params()
    store = PortalStore(engine, params)
    today = dt.date.today()
    t = Table("事项 case", "类型 kind", "状态 status", "提交 filed", "截止 due", "时限 clock")
    for c in store.queue():
        k = c.clock(params, today)
        if k.stopped:
            clock = f"已决定 decided ({k.elapsed})" + (" [red]超期 late[/]" if k.overdue else "")
        else:
            clock = f"[red]超期 overdue {-k.remaining}[/]" if k.overdue else f"剩余 left {k.remaining}"
        t.add_row(
            c.case_id, CASE_KINDS[c.kind][0], STATUSES[c.status][0], str(c.opened_on), str(k.due), clock
        )
    Console().print(t)
    engine.dispose()
