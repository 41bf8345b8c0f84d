"""``yibao assess …``: the annual assessment of designated institutions on the command line (JSON).

yibao assess survey --year 2025 survey.csv --surveyor 某调查公司     # import a third-party survey
yibao assess score --year 2025 --data .yibao/demo-data              # score and notify
yibao assess show H61010000001                                       # one institution's explanation
yibao assess appeal-file H61010000001 --indicator drug_share --reason … --by 医保办
yibao assess appeal-move AP… under_review --by 稽核员 --role auditor
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

from yibao.assess.params import load_params
from yibao.assess.store import AssessStore
from yibao.errors import FieldError
from yibao.money import MoneyError, parse_ratio

assess_app = typer.Typer(help="定点机构年度考核 institution assessment (JSON)", no_args_is_help=True)
DEFAULT_DB = Path(".yibao") / "demo.db"
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]
T = TypeVar("T")


def _url(db: str | None) -> str:
    return db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_DB}"


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1, default=str))


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except FieldError as exc:
        _print({"error": {"field": exc.field, "reason": exc.reason, "code": exc.code}})
        raise typer.Exit(2) from exc


def _date(text: str | None, field: str) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise FieldError(field, f"不是日期 {text!r} is not a date (YYYY-MM-DD)") from exc


@assess_app.command("survey")
def survey(
    file: Annotated[Path, typer.Argument(help="CSV: fixmedins_code,respondents,satisfied[,surveyor]")],
    year: Annotated[int, typer.Option()],
    surveyor: Annotated[str, typer.Option(help="the survey company (unless a column names it)")] = "",
    db: DbOpt = None,
) -> None:
    """Import a third-party satisfaction survey (all rows or none)."""
    from yibao.assess.survey import parse_survey_csv

    def go() -> Any:
        if not file.exists():
            raise FieldError(str(file), "文件不存在 file not found", "missing")
        df = parse_survey_csv(file.read_text(encoding="utf-8"), surveyor)
        with AssessStore.open(_url(db)) as st:
            return {"imported": st.import_survey(year, df, file.name), "year": year}

    _print(_run(go))


@assess_app.command("score")
def score(
    year: Annotated[int, typer.Option()],
    data_dir: Annotated[
        Path, typer.Option("--data", help="directory with institutions.parquet (name, kind, level)")
    ],
    db: DbOpt = None,
    region: Annotated[str, typer.Option("--region", "-r")] = "xian",
    inputs: Annotated[
        Path | None, typer.Option(help="explicit indicator values CSV (fixmedins_code + columns)")
    ] = None,
    notified: Annotated[
        str | None, typer.Option(help="notice date YYYY-MM-DD (starts the appeal clock)")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="default assess-YEAR")] = None,
) -> None:
    """Score every designated institution of the year and store the run with its explanations."""
    import sqlalchemy as sa

    from yibao.assess.service import assess_year
    from yibao.assess.survey import parse_inputs_csv
    from yibao.fund import data
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path
    from yibao.usecases.reconciliation import reconciliations_of_year

    def go() -> Any:
        p = load_params()
        inst_file = data_dir / "institutions.parquet"
        if not inst_file.exists():
            raise FieldError(str(inst_file), "文件不存在 file not found", "missing")
        inst = pl.read_parquet(inst_file)
        book = PolicyBook.from_file(Path(region) if Path(region).exists() else example_path(region))
        kinds: dict[str, str] = {}
        for v in book.loaded.region.versions:
            kinds.update({c: it.kind for c, it in book.for_date(v.effective_from).catalogue.items()})
        extra = parse_inputs_csv(inputs.read_text(encoding="utf-8"), list(p.indicators)) if inputs else None
        with AssessStore.open(_url(db)) as st:
            settled = data.settled_frame(st.engine, year)
            previous = data.settled_frame(st.engine, year - 1)
            with st.engine.connect() as c:
                ln = c.execute(
                    sa.text(
                        "SELECT s.setl_id, l.code, l.amount, l.fulamt_ownpay_amt FROM settlement_line l "
                        "JOIN settlement s ON s.setl_id = l.setl_id WHERE s.status = 'active'"
                    )
                ).all()
            lines = pl.DataFrame(
                [tuple(r) for r in ln],
                schema={
                    "setl_id": pl.String,
                    "code": pl.String,
                    "amount": pl.Int64,
                    "fulamt_ownpay_amt": pl.Int64,
                },
                orient="row",
            ).join(settled.select("setl_id", "fixmedins_code"), on="setl_id")
            rid = run_id or f"assess-{year}"
            _, scores = assess_year(
                st,
                p,
                year,
                inst.select("fixmedins_code", "level", "kind"),
                run_id=rid,
                notified_on=_date(notified, "notified"),
                names=dict(inst.select("fixmedins_code", "name").iter_rows()),
                settled=settled,
                previous=previous if previous.height else None,
                lines=lines,
                kinds=kinds,
                reconciliations=reconciliations_of_year(st.engine, year),
                inputs=extra,
            )
        return {
            "run_id": rid,
            "institutions": [
                {
                    "fixmedins_code": x.code,
                    "score": x.score_x100 / 100,
                    "release_ratio": x.release_ratio / 10_000,
                    "coefficient": x.coefficient / 10_000,
                    "satisfaction": None if x.satisfaction is None else x.satisfaction / 10_000,
                }
                for x in scores
            ],
        }

    _print(_run(go))


@assess_app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="fixmedins_code")],
    db: DbOpt = None,
    run_id: Annotated[str | None, typer.Option("--run")] = None,
) -> None:
    """One institution's score, explained step by step (Chinese, then English), and its appeals."""

    def go() -> Any:
        with AssessStore.open(_url(db)) as st:
            run = run_id or (st.latest_run() or {}).get("run_id")
            if run is None:
                raise FieldError("run", "尚无考核结果 no assessment stored yet", "no_run")
            s = st.get_score(run, code)
            return {
                "run_id": run,
                "fixmedins_code": code,
                "score": s.score_x100 / 100,
                "release_ratio": s.release_ratio / 10_000,
                "coefficient": s.coefficient / 10_000,
                "explanation_zh": s.zh,
                "explanation_en": s.en,
                "appeals": [a.__dict__ for a in st.appeals(run, code)],
            }

    _print(_run(go))


@assess_app.command("appeal-file")
def appeal_file(
    code: Annotated[str, typer.Argument(help="fixmedins_code")],
    indicator: Annotated[str, typer.Option(help="the indicator disputed")],
    reason: Annotated[str, typer.Option(help="why")],
    by: Annotated[str, typer.Option("--by", help="who files")],
    db: DbOpt = None,
    run_id: Annotated[str | None, typer.Option("--run")] = None,
    today: Annotated[str | None, typer.Option(help="filing date YYYY-MM-DD (default today)")] = None,
) -> None:
    """An institution appeals one indicator of its assessment (within the working-day window)."""
    from yibao.workdays import national_calendar

    def go() -> Any:
        with AssessStore.open(_url(db)) as st:
            run = run_id or (st.latest_run() or {}).get("run_id")
            if run is None:
                raise FieldError("run", "尚无考核结果 no assessment stored yet", "no_run")
            a = st.file_appeal(
                run,
                code,
                indicator,
                reason,
                actor=by,
                today=_date(today, "today"),
                p=load_params(),
                cal=national_calendar(),
            )
            return a.__dict__

    _print(_run(go))


@assess_app.command("appeal-move")
def appeal_move(
    appeal_id: Annotated[str, typer.Argument()],
    status: Annotated[
        str, typer.Argument(help="under_review / upheld / partly_upheld / rejected / withdrawn")
    ],
    by: Annotated[str, typer.Option("--by")],
    role: Annotated[str, typer.Option(help="auditor / admin / institution")],
    note: Annotated[str, typer.Option()] = "",
    value: Annotated[
        str | None, typer.Option(help="the corrected indicator value (decimal), when upheld")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Move an appeal; upholding it rescores the institution with the corrected value."""

    def go() -> Any:
        try:
            revised = parse_ratio(value, allow_negative=True) if value is not None else None
        except MoneyError as exc:
            raise FieldError("value", f"不是小数 {value!r} is not a decimal") from exc
        with AssessStore.open(_url(db)) as st:
            return st.move_appeal(
                appeal_id, status, actor=by, role=role, note=note, revised_value=revised, p=load_params()
            ).__dict__

    _print(_run(go))
