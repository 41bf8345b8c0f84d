"""``yibao audit cases …``: the case workflow from the command line.  Thin: parse, call the service, print JSON.

Every command takes ``--db`` (default ``$YIBAO_DATABASE_URL``, else the demo SQLite file), ``--actor``
(who acts, logged) and ``--now`` (ISO-8601 instant; default the current time — pass it to replay or test).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from yibao.audit.cases import service
from yibao.audit.cases.calendar import load_params
from yibao.audit.cases.model import Case, CaseError, Outcome
from yibao.audit.cases.store import CaseStore
from yibao.audit.cases.workflow import Decision
from yibao.errors import FieldError

cases_app = typer.Typer(help="稽核案件 audit cases: 疑点 → 告知 → 申诉 → 裁定 → 扣款", no_args_is_help=True)

DEFAULT_DB = Path(".yibao") / "demo.db"
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]
NowOpt = Annotated[
    str | None, typer.Option("--now", help="the clock, ISO-8601 with offset (default: now, UTC)")
]
ActorOpt = Annotated[str, typer.Option("--actor", help="who acts (logged in the case history)")]
ParamsOpt = Annotated[
    Path | None, typer.Option("--params", help="case parameters YAML (default: the shipped one)")
]
T = TypeVar("T")


def _url(db: str | None) -> str:
    return db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_DB}"


def _now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        now = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise CaseError("--now", f"时间格式错误 not an ISO-8601 instant: {text!r}") from exc
    if now.tzinfo is None:
        raise CaseError("--now", "时间须带时区偏移 give a UTC offset, e.g. 2025-06-02T09:00:00+08:00")
    return now


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _case_json(c: Case, items: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "case_id": c.case_id,
        "fixmedins_code": c.fixmedins_code,
        "period": c.period,
        "state": c.state.value,
        "items": len(c.items),
        "flagged_fen": c.flagged_fen,
        "upheld_fen": c.upheld_fen,
        "deducted_fen": c.deducted_fen,
        "deadline": c.deadline.isoformat() if c.deadline else None,
        "deduction_id": c.deduction_id,
    }
    if items:
        out["items"] = [dataclasses.asdict(i) for i in c.items]
    return out


@contextmanager
def _store(db: str | None) -> Iterator[CaseStore]:
    store = CaseStore(_url(db))
    try:
        yield store
    finally:
        store.close()


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except FieldError as exc:
        _print({"error": str(exc), "field": exc.field, "reason": exc.reason, "code": exc.code})
        raise typer.Exit(2) from exc


@cases_app.command("open")
def open_cmd(
    flags: Annotated[Path, typer.Option("--flags", help="flag frame (Parquet, FLAG_SCHEMA)")],
    period: Annotated[str, typer.Option("--period", help="audit period, e.g. 2025Q2")],
    db: DbOpt = None,
    now: NowOpt = None,
    actor: ActorOpt = "system",
) -> None:
    """立案 open one case per institution from a flag frame."""
    import polars as pl

    def go() -> list[dict[str, Any]]:
        if not flags.exists():
            raise CaseError("--flags", f"文件不存在 no such file {flags}")
        with _store(db) as s:
            return [
                _case_json(c) for c in service.open_cases(s, pl.read_parquet(flags), period, _now(now), actor)
            ]

    _print(_run(go))


@cases_app.command("notify")
def notify_cmd(
    case_id: str, db: DbOpt = None, now: NowOpt = None, actor: ActorOpt = "system", params: ParamsOpt = None
) -> None:
    """告知 send the notice; the appeal window starts."""

    def go() -> dict[str, Any]:
        with _store(db) as s:
            return _case_json(service.notify(s, case_id, _now(now), actor, load_params(params)))

    _print(_run(go))


def _pairs(values: list[str], what: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for v in values:
        no, sep, rest = v.partition("=")
        if not sep or not no.strip().isdigit():
            raise CaseError(what, f"格式错误 expected ITEM_NO=…, got {v!r}")
        out[int(no)] = rest
    return out


@cases_app.command("appeal")
def appeal_cmd(
    case_id: str,
    item: Annotated[list[str], typer.Option("--item", help="ITEM_NO=申诉理由 (repeatable)")],
    db: DbOpt = None,
    now: NowOpt = None,
    actor: ActorOpt = "institution",
    params: ParamsOpt = None,
) -> None:
    """申诉 the institution contests items within the window."""

    def go() -> dict[str, Any]:
        with _store(db) as s:
            return _case_json(
                service.appeal(s, case_id, _pairs(item, "--item"), _now(now), actor, load_params(params))
            )

    _print(_run(go))


def _decisions(values: list[str]) -> dict[int, Decision]:
    out: dict[int, Decision] = {}
    for no, spec in _pairs(values, "--decision").items():
        outcome, _sep, rest = spec.partition(":")
        amount: int | None = None
        if outcome == Outcome.PARTIAL.value:
            text, _sep, rest = rest.partition(":")
            if not text.isdigit():
                raise CaseError(f"--decision {no}", f"partial needs an amount in fen: {no}=partial:FEN:理由")
            amount = int(text)
        out[no] = Decision(outcome, rest, amount)
    return out


@cases_app.command("decide")
def decide_cmd(
    case_id: str,
    decision: Annotated[
        list[str],
        typer.Option(
            "--decision", help="ITEM_NO=upheld:理由 | ITEM_NO=dismissed:理由 | ITEM_NO=partial:FEN:理由"
        ),
    ] = [],  # noqa: B006
    db: DbOpt = None,
    now: NowOpt = None,
    actor: ActorOpt = "bureau",
    params: ParamsOpt = None,
) -> None:
    """裁定 decide the items (unappealed items stand once the window is over)."""

    def go() -> dict[str, Any]:
        with _store(db) as s:
            return _case_json(
                service.decide(s, case_id, _decisions(decision), _now(now), actor, load_params(params))
            )

    _print(_run(go))


@cases_app.command("post")
def post_cmd(
    case_id: str,
    db: DbOpt = None,
    now: NowOpt = None,
    actor: ActorOpt = "bureau",
    visits: Annotated[
        Path | None,
        typer.Option(
            "--visits", help="visits Parquet (visit_id → mdtrt_id); default mdtrt_id = str(visit_id)"
        ),
    ] = None,
    params: ParamsOpt = None,
) -> None:
    """扣款 post the decided case's deduction to the ledger (idempotent)."""
    from yibao.ledger import Ledger

    def go() -> dict[str, Any]:
        mdtrt_of: dict[int, str] | None = None
        if visits is not None:
            import polars as pl

            frame = pl.read_parquet(visits, columns=["visit_id", "mdtrt_id"])
            mdtrt_of = dict(zip(frame["visit_id"].to_list(), frame["mdtrt_id"].to_list(), strict=True))
        led = Ledger.open(_url(db))
        try:
            with _store(db) as s:
                r = service.post_deductions(s, led, case_id, _now(now), actor, mdtrt_of, load_params(params))
        finally:
            led.close()
        return {
            "case": _case_json(r.case),
            "replayed": r.replayed,
            "deduction": dataclasses.asdict(r.deduction) if r.deduction else None,
            "clamped": {str(k): {"upheld": a, "recovered": b} for k, (a, b) in r.clamped.items()},
        }

    _print(_run(go))


@cases_app.command("close-expired")
def close_expired_cmd(
    db: DbOpt = None, now: NowOpt = None, actor: ActorOpt = "system", params: ParamsOpt = None
) -> None:
    """逾期 finalise notified cases left unanswered past their deadline."""

    def go() -> list[dict[str, Any]]:
        with _store(db) as s:
            return [_case_json(c) for c in service.close_expired(s, _now(now), actor, load_params(params))]

    _print(_run(go))


@cases_app.command("list")
def list_cmd(
    db: DbOpt = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    inst: Annotated[str | None, typer.Option("--inst", help="fixmedins_code")] = None,
    period: Annotated[str | None, typer.Option("--period")] = None,
) -> None:
    """列表 list cases."""

    def go() -> list[dict[str, Any]]:
        with _store(db) as s:
            return [
                _case_json(c) for c in service.list_cases(s, state=state, fixmedins_code=inst, period=period)
            ]

    _print(_run(go))


@cases_app.command("show")
def show_cmd(case_id: str, db: DbOpt = None) -> None:
    """案件 one case with its items."""

    def go() -> dict[str, Any]:
        with _store(db) as s:
            return _case_json(s.get(case_id), items=True)

    _print(_run(go))


@cases_app.command("history")
def history_cmd(case_id: str, db: DbOpt = None) -> None:
    """记录 the case's event log (who, when, what, before / after) and whether its hash chain is intact."""

    def go() -> dict[str, Any]:
        with _store(db) as s:
            return {
                "events": [dataclasses.asdict(e) for e in service.case_history(s, case_id)],
                "problems": service.verify_case(s, case_id),
            }

    _print(_run(go))
