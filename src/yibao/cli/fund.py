"""``yibao fund …``: fund accounts, early warning, projection, global budget and the service network on the
command line.  Thin: parse, call ``yibao.fund.service`` (or ``yibao.network``), print JSON.

    yibao fund book --year 2025            # book a year from the ledger (stand-in income until enrolment)
    yibao fund balances                    # balances by fund and month, months payable and band
    yibao fund outflow --clearing 2025-06.json   # the hub's closed clearing → cross-region outflow
    yibao fund warn                        # indicators of the latest booked year, alerts raised
    yibao fund alerts / yibao fund alert ID acknowledged --by 张三 --note …
    yibao fund project --paths 1000        # 60-month projection, fan of months payable, backtest
    yibao fund budget --year 2026          # global budget from the latest projection
    yibao fund clear --budget RUN          # annual clearing with the latest assessment
    yibao fund network --data .yibao/demo-data
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import polars as pl
import typer
import yaml

from yibao.errors import FieldError
from yibao.fund import accounts
from yibao.fund import service as fs
from yibao.fund.store import FundStore
from yibao.money import yuan_to_fen

fund_app = typer.Typer(
    help="医保基金 fund accounts, warnings, projection, budget (JSON)", no_args_is_help=True
)

DEFAULT_DB = Path(".yibao") / "demo.db"
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]
RegionOpt = Annotated[
    str, typer.Option("--region", "-r", help="example region name (xian, weinan) or a file")
]
T = TypeVar("T")


def _url(db: str | None) -> str:
    return db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_DB}"


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1, default=str))


def _run(fn: Callable[[], T]) -> T:
    """Run a step; a refused input prints ``{"error": …}`` (Chinese first) and exits 2."""
    try:
        return fn()
    except FieldError as exc:
        _print({"error": {"field": exc.field, "reason": exc.reason, "code": exc.code}})
        raise typer.Exit(2) from exc


def _read_frame(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise FieldError(str(path), "文件不存在 file not found", "missing")
    return (
        pl.read_parquet(path)
        if path.suffix == ".parquet"
        else pl.read_csv(path, schema_overrides={"fund_pay_type": pl.String, "month": pl.String})
    )


def _enrolment_income(url: str, region: str, year: int) -> pl.DataFrame | None:
    """The year's income from the enrolment tables when the region has enrolment data (else the stand-in)."""
    from yibao.policy.loader import example_path, load_region
    from yibao.usecases.enrolment import fund_income

    path = Path(region) if Path(region).exists() else example_path(region)
    return fund_income(url, load_region(path), year)


def _enrolment_members(url: str, region: str, year: int, groups: dict[str, str]) -> Any:
    """Insured persons at each month's end from the enrolment relation history (None without it)."""
    from yibao.policy.loader import example_path, load_region
    from yibao.usecases.enrolment import fund_members

    path = Path(region) if Path(region).exists() else example_path(region)
    counts = fund_members(url, load_region(path), year)
    return None if counts is None or counts.height == 0 else fs.members_from_frame(counts, groups)


@fund_app.command("book")
def book(
    year: Annotated[int, typer.Option(help="the year to book (its settlements must be in the ledger)")],
    db: DbOpt = None,
    region: RegionOpt = "xian",
    income: Annotated[
        list[Path] | None,
        typer.Option(
            help="income in the enrolment income_frame shape (Parquet/CSV; repeat for several files, e.g. "
            "`yibao enrol income` plus the assistance budget); default: the enrolment contributions and "
            "premiums recorded in the database, or the stand-in contributions when there are none"
        ),
    ] = None,
    opening: Annotated[
        Path | None, typer.Option(help="opening balances YAML {source: …, balances: {fund code: 元}}")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="who books (logged)")] = "cli",
) -> None:
    """Book a year: income, retirees' account top-ups, payments from the ledger's settlements, interest."""
    from yibao.fund import data

    def go() -> Any:
        s = fs.setup_for_region(region)
        with FundStore.open(_url(db)) as store:
            settled = data.settled_frame(store.engine, year)
            persons = data.persons_frame(store.engine)
            inc = (
                pl.concat(
                    [_read_frame(f).select("month", "fund_pay_type", "source", "amount_fen") for f in income]
                )
                if income
                else _enrolment_income(_url(db), region, year)
            )
            op, op_src = None, ""
            if opening is not None:
                body = yaml.safe_load(opening.read_text(encoding="utf-8")) or {}
                if not str(body.get("source") or "").strip():
                    raise FieldError(
                        "opening.source", "须注明来源 the opening balances need a source", "missing"
                    )
                op = {
                    str(k): yuan_to_fen(v, allow_negative=True)
                    for k, v in (body.get("balances") or {}).items()
                }
                op_src = str(body["source"])
            batches = fs.book_year(
                store,
                s,
                year,
                settled,
                persons,
                income_frame=inc,
                members_by_month=_enrolment_members(_url(db), region, year, s.groups),
                opening=op,
                opening_source=op_src,
                actor=by,
            )
            return [b.__dict__ for b in batches]

    _print({"booked": _run(go)})


@fund_app.command("balances")
def balances(
    db: DbOpt = None, region: RegionOpt = "xian", year: Annotated[int | None, typer.Option()] = None
) -> None:
    """Balances by fund: every month (income, interest, transfers, payments, closing, months payable, band)
    and the year (current-year balance rate)."""

    def go() -> Any:
        s = fs.setup_for_region(region)
        with FundStore.open(_url(db)) as store:
            pos = fs.positions(store, s)
        out = {}
        for f, rows in pos.items():
            ys = [y for y in accounts.yearly(rows) if year is None or y.year == year]
            out[f] = {
                "name": s.fp.fund(f).name,
                "years": [y.__dict__ for y in ys],
                "months": [
                    {
                        "month": r.month,
                        "opening_fen": r.opening,
                        "income_fen": r.income,
                        "income_by_source": r.income_by_source,
                        "interest_fen": r.interest,
                        "transfer_in_fen": r.transfer_in,
                        "transfer_out_fen": r.transfer_out,
                        "payments_fen": r.payments,
                        "closing_fen": r.closing,
                        "months_payable": None if r.months_x100 is None else r.months_x100 / 100,
                        "band": r.band,
                    }
                    for r in rows
                    if year is None or r.month.startswith(str(year))
                ],
            }
        return out

    _print(_run(go))


@fund_app.command("warn")
def warn(
    db: DbOpt = None,
    region: RegionOpt = "xian",
    month: Annotated[
        list[str] | None, typer.Option(help="months YYYY-MM (default: the latest booked year)")
    ] = None,
) -> None:
    """Compute the early-warning indicators, store them and raise alerts; print the last month's readings."""

    def go() -> Any:
        s = fs.setup_for_region(region)
        with FundStore.open(_url(db)) as store:
            rs, new = fs.warn(store, s, month)
        return {"readings": [r.__dict__ | {"unit": r.unit} for r in rs], "new_alerts": new}

    _print(_run(go))


def _alert_json(a: Any) -> dict[str, Any]:
    return dict(a.__dict__)


@fund_app.command("alerts")
def alerts(
    db: DbOpt = None, all: Annotated[bool, typer.Option("--all", help="closed ones too")] = False
) -> None:
    """The alerts and where each stands."""
    with FundStore.open(_url(db)) as store:
        _print(
            [
                _alert_json(a) | {"events": [e.__dict__ for e in store.events(a.alert_id)]}
                for a in store.alerts(open_only=not all)
            ]
        )


@fund_app.command("alert")
def alert(
    alert_id: Annotated[str, typer.Argument()],
    status: Annotated[str, typer.Argument(help="acknowledged / following_up / closed")],
    by: Annotated[str, typer.Option("--by", help="who acts")],
    note: Annotated[str, typer.Option("--note", help="what was done (required to follow up or close)")] = "",
    db: DbOpt = None,
) -> None:
    """Acknowledge, follow up or close an alert."""
    with FundStore.open(_url(db)) as store:
        a = _run(lambda: store.move_alert(alert_id, status, actor=by, note=note))
        _print(_alert_json(a) | {"events": [e.__dict__ for e in store.events(alert_id)]})


@fund_app.command("project")
def project(
    db: DbOpt = None,
    region: RegionOpt = "xian",
    base_month: Annotated[
        str | None, typer.Option(help="YYYY-MM (default: the last month with payments)")
    ] = None,
    horizon: Annotated[int | None, typer.Option(min=12, max=120, help="months (default 60)")] = None,
    paths: Annotated[int | None, typer.Option(min=10, help="Monte-Carlo paths (default 1000)")] = None,
    simulation: Annotated[
        Path | None,
        typer.Option(help="a `yibao simulate --json` report: its fund-payment change is the policy scenario"),
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="store the run under this id")] = None,
    backtest: Annotated[bool, typer.Option("--backtest/--no-backtest")] = True,
) -> None:
    """Project every fund: fan of months payable by scenario, band crossings, backtest error."""
    from yibao.fund import data, projection

    def go() -> Any:
        s = fs.setup_for_region(region)
        change, label = None, ""
        if simulation is not None:
            change = projection.policy_change_from_simulation(
                json.loads(simulation.read_text(encoding="utf-8"))
            )
            label = simulation.stem
        with FundStore.open(_url(db)) as store:
            bm = base_month
            settled = data.settled_frame(store.engine)
            persons = data.persons_frame(store.engine)
            if settled.height == 0:
                raise FieldError(
                    "settlement", "账本中没有结算，无法建立预测基础 no settlements in the ledger", "no_data"
                )
            res = fs.project(
                store,
                s,
                persons,
                settled,
                base_month=bm,
                policy_change=change,
                policy_label=label,
                horizon=horizon,
                paths=paths,
                run_id=run_id or f"cli-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}",
                with_backtest=backtest,
            )
        summary = {
            "run_id": res.get("run_id"),
            "base_month": res["base_month"],
            "horizon": res["horizon"],
            "paths": res["paths"],
            "fit": res["fit"],
            "scenarios": {
                name: {
                    f: {
                        "months_payable_p50_by_year_end": {
                            m: v
                            for m, v in zip(res["months"], body["fan"]["p50"], strict=True)
                            if m.endswith("-12")
                        },
                        "crossings": body["crossings"],
                        "prob_red_by_year": body["prob_red_by_year"],
                    }
                    for f, body in sc["funds"].items()
                }
                for name, sc in res["scenarios"].items()
            },
        }
        if "backtest" in res:
            summary["backtest"] = {k: v for k, v in res["backtest"].items() if k != "series"}
        return summary

    _print(_run(go))


@fund_app.command("budget")
def budget(
    year: Annotated[int, typer.Option(help="the budget year (inside the projection)")],
    db: DbOpt = None,
    region: RegionOpt = "xian",
    run_id: Annotated[str | None, typer.Option(help="store under this id (default budget-YEAR)")] = None,
) -> None:
    """The region's global budget for a year from the latest stored projection, split by fund and
    institution, with monthly advances."""

    def go() -> Any:
        s = fs.setup_for_region(region)
        with FundStore.open(_url(db)) as store:
            proj = store.latest_projection()
            if proj is None:
                raise FieldError(
                    "projection",
                    "尚无预测，请先运行 yibao fund project no projection stored yet",
                    "no_projection",
                )
            if not any(m.startswith(str(year)) for m in proj["months"]):
                raise FieldError(
                    "year",
                    f"{year} 不在预测期内 is outside the projection ({proj['months'][0]}–{proj['months'][-1]})",
                )
            b = fs.set_budget(
                store,
                s,
                year,
                fs.projected_year(proj, year),
                run_id=run_id or f"budget-{year}",
                projection_run=proj.get("run_id"),
                season=proj["fit"]["season"],
            )
        return {
            "run_id": run_id or f"budget-{year}",
            "year": year,
            "total_fen": b.total,
            "reserve_fen": b.reserve,
            "region_budget_fen": b.region_budget,
            "region_by_fund": b.region_by_fund,
            "institutions_sum_fen": sum(b.by_institution().values()),
            "institutions": [ln.__dict__ for ln in b.lines],
        }

    _print(_run(go))


@fund_app.command("clear")
def clear(
    budget_run: Annotated[str, typer.Option("--budget", help="the stored budget run to clear")],
    db: DbOpt = None,
    region: RegionOpt = "xian",
    assess_run: Annotated[
        str | None, typer.Option("--assess", help="assessment run (default: the latest)")
    ] = None,
) -> None:
    """The annual clearing of a budget: actual payments, savings kept or overspend shared, the satisfaction
    coefficient, the deposit released by score; explained per institution."""

    def go() -> Any:
        s = fs.setup_for_region(region)
        with FundStore.open(_url(db)) as store:
            stored = store.budget_run(budget_run)
            if stored is None:
                raise FieldError("budget", f"预算 {budget_run} 不存在 unknown budget run", "unknown_budget")
            rows = fs.clear_year(
                store, s, budget_run, stored, fs.assessments_from_run(store.engine, assess_run)
            )
        return [r.__dict__ for r in rows]

    _print(_run(go))


@fund_app.command("outflow")
def outflow(
    clearing: Annotated[
        list[Path],
        typer.Option(
            help="the hub's closed clearing of a month (JSON of GET /hub/v1/clearing/{month}); repeatable"
        ),
    ],
    db: DbOpt = None,
    region: RegionOpt = "xian",
    by: Annotated[str, typer.Option("--by", help="who records (logged)")] = "cli",
) -> None:
    """Record the outflow cleared with other regions (跨省清算) for the early warning's cross-region
    indicator: each statement line matched to this region's routed settlement; lines that do not reconcile
    are listed, not counted."""
    from yibao.crossregion.schema import xr_inbound
    from yibao.crossregion.store import RouteTable
    from yibao.fund import data
    from yibao.policy.loader import example_path, load_region
    from yibao.usecases.fund import cleared_outflow

    def go() -> Any:
        path = Path(region) if Path(region).exists() else example_path(region)
        admdvs = load_region(path).region.region.admdvs
        docs = []
        for f in clearing:
            if not f.exists():
                raise FieldError(str(f), "文件不存在 file not found", "missing")
            try:
                docs.append(json.loads(f.read_text(encoding="utf-8")))
            except json.JSONDecodeError as exc:
                raise FieldError(str(f), f"不是有效的 JSON not valid JSON ({exc.msg})") from None
        with FundStore.open(_url(db)) as store:
            res = cleared_outflow(
                docs, admdvs, RouteTable(store.engine, xr_inbound).all(), data.settled_frame(store.engine)
            )
            n = store.record_cleared_outflow(
                res.rows,
                source=f"跨省异地就医清算结果 {', '.join(res.months)} cross-region clearing",
                actor=by,
            )
        return {
            "recorded": n,
            "months": list(res.months),
            "rows": res.rows.to_dicts(),
            "unmatched": res.unmatched,
            "not_in_ledger": list(res.not_in_ledger),
            "differs": {k: {"statement_fen": a, "own_fen": b} for k, (a, b) in res.differs.items()},
        }

    _print(_run(go))


@fund_app.command("network")
def network(
    data_dir: Annotated[
        Path, typer.Option("--data", help="synth output directory (persons, institutions, visits)")
    ],
    seed: Annotated[int, typer.Option(help="seed of the synthetic geography")] = 0,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="database URL: cross-district outflow from its settlements (visits and fund)"
        ),
    ] = None,
) -> None:
    """Service-network equity: institutions per 10k by district and tier, residents beyond the travel-time
    line, cross-district outflow, where new sites would help most (writes the region GeoJSON if missing)."""
    from yibao.network.report import network_report

    def go() -> Any:
        if db is None:
            return network_report(data_dir, seed)
        from yibao.fund import data

        with FundStore.open(db) as store:
            return network_report(data_dir, seed, settled=data.settled_frame(store.engine))

    _print(_run(go))
