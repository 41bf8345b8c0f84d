"""Adapter: the fund tables (``yibao.fund.schema``) — booking batches of entries, reading them back, the
alert lifecycle, stored projections and budgets.  Every write is one transaction: all rows or none."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from yibao.db import make_engine
from yibao.fund.accounts import ENTRY_SCHEMA, KINDS, FundError, check_entries
from yibao.fund.schema import (
    fund_activity,
    fund_alert,
    fund_alert_event,
    fund_batch,
    fund_budget,
    fund_budget_line,
    fund_budget_month,
    fund_cleared_outflow,
    fund_clearing,
    fund_entry,
    fund_institution_year,
    fund_members,
    fund_members_month,
    fund_projection,
    fund_reading,
)
from yibao.fund.warning import ACTIVITY_SCHEMA, AlertError, Cleared, Members, Reading, check_move
from yibao.fund.warning import members_by_month as warning_members_by_month


@dataclass(frozen=True)
class Batch:
    batch_id: str
    kind: str
    period: str
    label: str
    source: str
    entries: int
    total_fen: int
    created: str
    created_by: str


@dataclass(frozen=True)
class Alert:
    alert_id: str
    indicator: str
    scope: str
    first_month: str
    last_month: str
    level: str
    value: int | None
    unit: str
    threshold: int | None
    message_zh: str
    message_en: str
    source: str
    status: str
    raised_at: str
    updated_at: str


@dataclass(frozen=True)
class AlertEvent:
    at: str
    status: str
    actor: str
    note: str


def _now(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")


class FundStore:
    """The fund tables on one engine (the migrated platform database)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> FundStore:
        """Migrate the database at ``url`` (every branch) and open the fund tables on it."""
        from yibao.db import parse_url
        from yibao.db.migrate import upgrade

        _, _, sa_url = parse_url(url)
        upgrade(sa_url)
        return cls(make_engine(sa_url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> FundStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- entries
    def book(
        self,
        entries: pl.DataFrame,
        *,
        batch_id: str,
        kind: str,
        period: str,
        label: str,
        source: str,
        funds: Sequence[str],
        actor: str,
        now: dt.datetime | None = None,
        activity: pl.DataFrame | None = None,
        members: tuple[int, Members] | None = None,
        members_by_month: tuple[Mapping[str, Members], str] | None = None,
        institution_year: pl.DataFrame | None = None,
    ) -> Batch:
        """Book a batch of entries (and, with payments, the care activity, the insured count of the year
        and of each month — with where the counts come from — and each institution's payments by fund); a
        ``batch_id`` already booked is refused (nothing written), so booking the same month twice cannot
        double a fund."""
        if not batch_id.strip() or len(batch_id) > 80:
            raise FundError("batch_id", "批次号须为 1–80 个字符 batch id must be 1–80 characters")
        if kind not in (*KINDS, "payments", "transfer"):
            raise FundError("kind", f"未知批次类别 {kind!r} unknown batch kind")
        if not source.strip():
            raise FundError("source", "须注明数据来源 the source of the figures is required", "missing")
        df = check_entries(entries, funds)
        created = _now(now)
        total = int(df["amount_fen"].sum()) if df.height else 0
        with self.engine.begin() as c:
            if c.execute(sa.select(fund_batch.c.batch_id).where(fund_batch.c.batch_id == batch_id)).first():
                raise FundError("batch_id", f"批次 {batch_id} 已记账 already booked", "duplicate")
            c.execute(
                fund_batch.insert().values(
                    batch_id=batch_id,
                    kind=kind,
                    period=period,
                    label=label[:200],
                    source=source,
                    entries=df.height,
                    total_fen=total,
                    created=created,
                    created_by=actor,
                )
            )
            if df.height:
                c.execute(
                    fund_entry.insert(), [{"batch_id": batch_id, **r} for r in df.iter_rows(named=True)]
                )
            if activity is not None and activity.height:
                c.execute(
                    fund_activity.insert(),
                    [
                        {
                            "batch_id": batch_id,
                            "month": r["month"],
                            "insutype": r["insutype"],
                            "med_type": r["med_type"],
                            "locality": r["locality"],
                            "visits": int(r["visits"]),
                            "medfee_fen": int(r["medfee"]),
                            "fund_fen": int(r["fund"]),
                        }
                        for r in activity.iter_rows(named=True)
                    ],
                )
            if members is not None:
                year, m = members
                c.execute(fund_members.delete().where(fund_members.c.year == year))
                c.execute(
                    fund_members.insert().values(
                        year=year,
                        batch_id=batch_id,
                        in_service=m.in_service,
                        retired=m.retired,
                        residents=m.residents,
                    )
                )
            if members_by_month is not None:
                monthly, m_src = members_by_month
                if monthly:
                    c.execute(
                        fund_members_month.delete().where(fund_members_month.c.month.in_(list(monthly)))
                    )
                    c.execute(
                        fund_members_month.insert(),
                        [
                            {
                                "month": mo,
                                "batch_id": batch_id,
                                "in_service": m.in_service,
                                "retired": m.retired,
                                "residents": m.residents,
                                "source": m_src,
                            }
                            for mo, m in sorted(monthly.items())
                        ],
                    )
            if institution_year is not None and institution_year.height:
                c.execute(
                    fund_institution_year.insert(),
                    [{"batch_id": batch_id, **r} for r in institution_year.iter_rows(named=True)],
                )
        return Batch(batch_id, kind, period, label[:200], source, df.height, total, created, actor)

    def has_batch(self, batch_id: str) -> bool:
        with self.engine.connect() as c:
            return (
                c.execute(sa.select(fund_batch.c.batch_id).where(fund_batch.c.batch_id == batch_id)).first()
                is not None
            )

    def batches(self) -> list[Batch]:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(fund_batch).order_by(fund_batch.c.created, fund_batch.c.batch_id)
            ).all()
        return [Batch(*(r[k] for k in fund_batch.c.keys())) for r in (x._mapping for x in rows)]

    def entries(self, funds: Sequence[str] | None = None, last_month: str | None = None) -> pl.DataFrame:
        """Booked entries (``accounts.ENTRY_SCHEMA``), optionally of some funds, up to a month."""
        q = sa.select(*[fund_entry.c[k] for k in ENTRY_SCHEMA])
        if funds is not None:
            q = q.where(fund_entry.c.fund_pay_type.in_(list(funds)))
        if last_month is not None:
            q = q.where(fund_entry.c.month <= last_month)
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(fund_entry.c.id)).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=ENTRY_SCHEMA, orient="row")

    def activity(self) -> pl.DataFrame:
        """Booked care activity (``warning.ACTIVITY_SCHEMA``)."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    fund_activity.c.month,
                    fund_activity.c.insutype,
                    fund_activity.c.med_type,
                    fund_activity.c.locality,
                    fund_activity.c.visits,
                    fund_activity.c.medfee_fen,
                    fund_activity.c.fund_fen,
                )
            ).all()
        df = pl.DataFrame([tuple(r) for r in rows], schema=ACTIVITY_SCHEMA, orient="row")
        return (
            df.group_by("month", "insutype", "med_type", "locality")
            .agg(pl.col("visits").sum(), pl.col("medfee").sum(), pl.col("fund").sum())
            .sort("month", "insutype", "med_type", "locality")
        )

    def members(self) -> dict[str, Members]:
        """Insured persons at each month's end ('YYYY-MM'), as booked; a year booked with one count only
        (before monthly counts) gives that count to each of its months."""
        out = warning_members_by_month(self.members_by_year())
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    fund_members_month.c.month,
                    fund_members_month.c.in_service,
                    fund_members_month.c.retired,
                    fund_members_month.c.residents,
                )
            ).all()
        out.update({str(r[0]): Members(int(r[1]), int(r[2]), int(r[3])) for r in rows})
        return dict(sorted(out.items()))

    def members_sources(self) -> dict[str, str]:
        """Where each month's insured count comes from (enrolment history or the register)."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(fund_members_month.c.month, fund_members_month.c.source)).all()
        return {str(r[0]): str(r[1]) for r in rows}

    # ------------------------------------------------------------------------ cross-region clearing
    def record_cleared_outflow(
        self, rows: pl.DataFrame, *, source: str, actor: str, now: dt.datetime | None = None
    ) -> int:
        """Record the outflow cleared with other regions (``month``, ``insutype``, ``cleared_fen``,
        ``cleared_lines``, ``routed_fen``, ``routed_lines``): a (month, scheme) recorded again is replaced
        (a later statement of the same month supersedes the earlier one); all rows or none."""
        if not source.strip():
            raise FundError("source", "须注明数据来源 the source of the figures is required", "missing")
        need = ("month", "insutype", "cleared_fen", "cleared_lines", "routed_fen", "routed_lines")
        for col in need:
            if col not in rows.columns:
                raise FundError(f"cleared.{col}", "缺少该列 required column is missing", "missing")
        bad = rows.filter(~pl.col("month").cast(pl.String).str.contains(r"^\d{4}-(0[1-9]|1[0-2])$"))
        if bad.height:
            raise FundError("cleared.month", f"月份格式应为 YYYY-MM: {bad['month'][0]!r} is not a month")
        for col in need[2:]:
            neg = rows.filter(pl.col(col) < 0)
            if neg.height:
                raise FundError(f"cleared.{col}", f"不能为负 negative value {neg[col][0]}")
        at = _now(now)
        recs = [
            {
                "month": str(r["month"]),
                "insutype": str(r["insutype"]),
                **{k: int(r[k]) for k in need[2:]},
                "source": source,
                "recorded": at,
                "recorded_by": actor,
            }
            for r in rows.iter_rows(named=True)
        ]
        with self.engine.begin() as c:
            for r in recs:
                c.execute(
                    fund_cleared_outflow.delete().where(
                        (fund_cleared_outflow.c.month == r["month"])
                        & (fund_cleared_outflow.c.insutype == r["insutype"])
                    )
                )
            if recs:
                c.execute(fund_cleared_outflow.insert(), recs)
        return len(recs)

    def cleared_outflow(self) -> dict[tuple[str, str], Cleared] | None:
        """(month, scheme) → what was cleared with other regions; None when nothing was ever recorded
        (the clearing is not connected)."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(fund_cleared_outflow)).all()
        if not rows:
            return None
        return {
            (r.month, r.insutype): Cleared(r.cleared_fen, r.routed_fen, r.cleared_lines, r.routed_lines)
            for r in rows
        }

    def members_by_year(self) -> dict[int, Members]:
        """Insured persons by year, as booked (one count a year)."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    fund_members.c.year,
                    fund_members.c.in_service,
                    fund_members.c.retired,
                    fund_members.c.residents,
                )
            ).all()
        return {int(r[0]): Members(int(r[1]), int(r[2]), int(r[3])) for r in rows}

    def institution_history(self) -> pl.DataFrame:
        """Each institution's payments per fund and year (``budget.HISTORY_SCHEMA``)."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    fund_institution_year.c.fixmedins_code,
                    fund_institution_year.c.fund_pay_type,
                    fund_institution_year.c.year,
                    fund_institution_year.c.paid_fen,
                    fund_institution_year.c.inpatient_fen,
                )
            ).all()
        return pl.DataFrame(
            [tuple(r) for r in rows],
            schema={
                "fixmedins_code": pl.String,
                "fund_pay_type": pl.String,
                "year": pl.Int64,
                "paid_fen": pl.Int64,
                "inpatient_fen": pl.Int64,
            },
            orient="row",
        )

    # ------------------------------------------------------------------------------------- readings
    def save_readings(self, readings: Sequence[Reading], now: dt.datetime | None = None) -> None:
        """Store the indicators computed for their months (replacing earlier computations of them)."""
        at = _now(now)
        months = sorted({r.month for r in readings})
        with self.engine.begin() as c:
            if months:
                c.execute(fund_reading.delete().where(fund_reading.c.month.in_(months)))
            if readings:
                c.execute(
                    fund_reading.insert(),
                    [
                        {
                            "month": r.month,
                            "indicator": r.indicator,
                            "scope": r.scope,
                            "value": r.value,
                            "unit": r.unit,
                            "level": r.level,
                            "threshold": r.threshold,
                            "national": r.national,
                            "source": r.source,
                            "note_zh": r.note_zh,
                            "note_en": r.note_en,
                            "computed_at": at,
                        }
                        for r in readings
                    ],
                )

    def readings(self, month: str | None = None) -> list[Reading]:
        """Stored indicators of ``month`` (default: the latest month computed)."""
        with self.engine.connect() as c:
            if month is None:
                month = c.execute(sa.select(sa.func.max(fund_reading.c.month))).scalar()
            if month is None:
                return []
            rows = c.execute(sa.select(fund_reading).where(fund_reading.c.month == month)).all()
        return [
            Reading(
                r.indicator,
                r.scope,
                r.month,
                r.value,
                r.level,
                r.threshold,
                r.source,
                r.note_zh,
                r.note_en,
                r.national,
            )
            for r in rows
        ]

    def reading_series(self, indicator: str) -> list[Reading]:
        """One indicator over every month computed."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(fund_reading)
                .where(fund_reading.c.indicator == indicator)
                .order_by(fund_reading.c.month)
            ).all()
        return [
            Reading(
                r.indicator,
                r.scope,
                r.month,
                r.value,
                r.level,
                r.threshold,
                r.source,
                r.note_zh,
                r.note_en,
                r.national,
            )
            for r in rows
        ]

    # -------------------------------------------------------------------------------------- alerts
    def raise_alerts(
        self,
        readings: Sequence[Reading],
        messages: Mapping[tuple[str, str], tuple[str, str]],
        now: dt.datetime | None = None,
    ) -> list[str]:
        """Record breaches: a breach of an indicator for a scope that already has an alert not yet closed
        updates it (latest month, value, level; a change of level is logged); otherwise a new alert opens.
        Returns the ids of new alerts."""
        at = _now(now)
        new: list[str] = []
        with self.engine.begin() as c:
            for r in readings:
                if not r.breach:
                    continue
                zh, en = messages[(r.indicator, r.scope)]
                live = c.execute(
                    sa.select(fund_alert.c.alert_id, fund_alert.c.level, fund_alert.c.last_month)
                    .where(
                        fund_alert.c.indicator == r.indicator,
                        fund_alert.c.scope == r.scope,
                        fund_alert.c.status != "closed",
                    )
                    .limit(1)
                ).first()
                if live is not None:
                    if r.month < live.last_month:
                        continue
                    c.execute(
                        fund_alert.update()
                        .where(fund_alert.c.alert_id == live.alert_id)
                        .values(
                            last_month=r.month,
                            level=r.level,
                            value=r.value,
                            threshold=r.threshold,
                            message_zh=zh,
                            message_en=en,
                            updated_at=at,
                        )
                    )
                    if live.level != r.level:
                        c.execute(
                            fund_alert_event.insert().values(
                                alert_id=live.alert_id,
                                at=at,
                                status="level",
                                actor="system",
                                note=f"{r.month} 级别 {live.level} → {r.level}",
                            )
                        )
                    continue
                alert_id = (
                    "A" + hashlib.sha256(f"{r.indicator}|{r.scope}|{r.month}|{at}".encode()).hexdigest()[:15]
                )
                c.execute(
                    fund_alert.insert().values(
                        alert_id=alert_id,
                        indicator=r.indicator,
                        scope=r.scope,
                        first_month=r.month,
                        last_month=r.month,
                        level=r.level,
                        value=r.value,
                        unit=r.unit,
                        threshold=r.threshold,
                        message_zh=zh,
                        message_en=en,
                        source=r.source,
                        status="open",
                        raised_at=at,
                        updated_at=at,
                    )
                )
                c.execute(
                    fund_alert_event.insert().values(
                        alert_id=alert_id, at=at, status="open", actor="system", note=zh
                    )
                )
                new.append(alert_id)
        return new

    def alerts(self, *, open_only: bool = False) -> list[Alert]:
        q = sa.select(fund_alert)
        if open_only:
            q = q.where(fund_alert.c.status != "closed")
        q = q.order_by(
            sa.case((fund_alert.c.level == "red", 0), else_=1),
            fund_alert.c.raised_at.desc(),
            fund_alert.c.alert_id,
        )
        with self.engine.connect() as c:
            return [Alert(**dict(r._mapping)) for r in c.execute(q)]

    def alert(self, alert_id: str) -> Alert:
        with self.engine.connect() as c:
            r = c.execute(sa.select(fund_alert).where(fund_alert.c.alert_id == alert_id)).first()
        if r is None:
            raise AlertError("alert_id", f"预警 {alert_id} 不存在 unknown alert", "unknown_alert")
        return Alert(**dict(r._mapping))

    def events(self, alert_id: str) -> list[AlertEvent]:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    fund_alert_event.c.at,
                    fund_alert_event.c.status,
                    fund_alert_event.c.actor,
                    fund_alert_event.c.note,
                )
                .where(fund_alert_event.c.alert_id == alert_id)
                .order_by(fund_alert_event.c.id)
            ).all()
        return [AlertEvent(*r) for r in rows]

    def move_alert(
        self, alert_id: str, status: str, *, actor: str, note: str = "", now: dt.datetime | None = None
    ) -> Alert:
        """Acknowledge, follow up or close an alert (who, when, note); the status is read under the
        transaction's write lock so two people cannot both acknowledge."""
        at = _now(now)
        with self.engine.begin() as c:
            q = sa.select(fund_alert.c.status).where(fund_alert.c.alert_id == alert_id)
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update()
            row = c.execute(q).first()
            if row is None:
                raise AlertError("alert_id", f"预警 {alert_id} 不存在 unknown alert", "unknown_alert")
            check_move(row.status, status, actor, note)
            done = c.execute(
                fund_alert.update()
                .where(fund_alert.c.alert_id == alert_id, fund_alert.c.status == row.status)
                .values(status=status, updated_at=at)
            )
            if done.rowcount != 1:
                raise AlertError(
                    "status", "预警已被他人处理，请刷新 the alert was changed meanwhile; reload", "conflict"
                )
            c.execute(
                fund_alert_event.insert().values(
                    alert_id=alert_id, at=at, status=status, actor=actor.strip(), note=note.strip()
                )
            )
        return self.alert(alert_id)

    # --------------------------------------------------------------------------------- projections
    def save_projection(
        self,
        run_id: str,
        label: str,
        base_month: str,
        horizon: int,
        paths: int,
        result: Mapping[str, Any],
        now: dt.datetime | None = None,
    ) -> None:
        """Store a projection run (replacing one with the same id)."""
        with self.engine.begin() as c:
            c.execute(fund_projection.delete().where(fund_projection.c.run_id == run_id))
            c.execute(
                fund_projection.insert().values(
                    run_id=run_id,
                    created=_now(now),
                    label=label[:200],
                    base_month=base_month,
                    horizon=horizon,
                    paths=paths,
                    result=json.dumps(result, ensure_ascii=False),
                )
            )

    def latest_projection(self) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(fund_projection)
                .order_by(fund_projection.c.created.desc(), fund_projection.c.run_id.desc())
                .limit(1)
            ).first()
        if r is None:
            return None
        out: dict[str, Any] = json.loads(r.result)
        out["run_id"], out["created"], out["label"] = r.run_id, r.created, r.label
        return out

    # -------------------------------------------------------------------------------------- budgets
    def save_budget(
        self,
        run_id: str,
        year: int,
        *,
        projection_run: str | None,
        total: int,
        reserve: int,
        region_budget: int,
        basis: Mapping[str, Any],
        lines: Sequence[Mapping[str, Any]],
        months: Sequence[Mapping[str, Any]],
        clearing: Sequence[Mapping[str, Any]] = (),
        now: dt.datetime | None = None,
    ) -> None:
        """Store a budget run with its institution lines, monthly advances and (when done) clearing; a
        run id already stored is replaced as a whole."""
        with self.engine.begin() as c:
            for t in (fund_clearing, fund_budget_month, fund_budget_line, fund_budget):
                c.execute(t.delete().where(t.c.run_id == run_id))
            c.execute(
                fund_budget.insert().values(
                    run_id=run_id,
                    year=year,
                    created=_now(now),
                    projection_run=projection_run,
                    total_fen=total,
                    reserve_fen=reserve,
                    region_budget_fen=region_budget,
                    basis=json.dumps(basis, ensure_ascii=False),
                )
            )
            if lines:
                c.execute(fund_budget_line.insert(), [{"run_id": run_id, **x} for x in lines])
            if months:
                c.execute(fund_budget_month.insert(), [{"run_id": run_id, **x} for x in months])
            if clearing:
                c.execute(fund_clearing.insert(), [{"run_id": run_id, **x} for x in clearing])

    def save_clearing(self, run_id: str, clearing: Sequence[Mapping[str, Any]]) -> None:
        """Replace the clearing rows of a stored budget run."""
        with self.engine.begin() as c:
            if (
                c.execute(sa.select(fund_budget.c.run_id).where(fund_budget.c.run_id == run_id)).first()
                is None
            ):
                raise FundError("run_id", f"预算 {run_id} 不存在 unknown budget run", "unknown_budget")
            c.execute(fund_clearing.delete().where(fund_clearing.c.run_id == run_id))
            if clearing:
                c.execute(fund_clearing.insert(), [{"run_id": run_id, **x} for x in clearing])

    def budget_runs(self) -> list[tuple[str, int, str, int]]:
        """(run_id, year, created, region budget) of every stored budget, newest first."""
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    fund_budget.c.run_id,
                    fund_budget.c.year,
                    fund_budget.c.created,
                    fund_budget.c.region_budget_fen,
                ).order_by(fund_budget.c.created.desc(), fund_budget.c.run_id.desc())
            ).all()
        return [(str(a), int(b), str(c_), int(d)) for a, b, c_, d in rows]

    def latest_budget(self) -> dict[str, Any] | None:
        """The newest budget run with its lines, months and clearing rows (plain dicts)."""
        runs = self.budget_runs()
        return self.budget_run(runs[0][0]) if runs else None

    def budget_run(self, run_id: str) -> dict[str, Any] | None:
        """A stored budget run with its lines, months and clearing rows (plain dicts); None if unknown."""
        with self.engine.connect() as c:
            head = c.execute(sa.select(fund_budget).where(fund_budget.c.run_id == run_id)).first()
            if head is None:
                return None
            rid = head.run_id

            def rows(t: sa.Table, *order: Any) -> list[dict[str, Any]]:
                return [
                    dict(r._mapping)
                    for r in c.execute(sa.select(t).where(t.c.run_id == rid).order_by(*order))
                ]

            out = dict(head._mapping)
            out["basis"] = json.loads(out["basis"])
            out["lines"] = rows(
                fund_budget_line, fund_budget_line.c.fixmedins_code, fund_budget_line.c.fund_pay_type
            )
            out["months"] = rows(
                fund_budget_month, fund_budget_month.c.fixmedins_code, fund_budget_month.c.month
            )
            out["clearing"] = rows(fund_clearing, fund_clearing.c.fixmedins_code)
            for r in out["clearing"]:
                r["explanation"] = json.loads(r["explanation"])
        return out
