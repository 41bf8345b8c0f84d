"""Adapter: write a computed :class:`~yibao.payment.core.Payment` (its annual clearing per institution) to
the platform database and read runs back.  The tables are created by the ledger's migrations (branch
``payment``); a run is all rows or none."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from yibao.db import make_engine
from yibao.ledger import Ledger
from yibao.payment.core import Payment
from yibao.payment.schema import payment_clearing, payment_run


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    method: str
    year: int
    pool_fen: int
    cases: int
    due_fen: int  # Σ over institutions: equals pool_fen


def _engine(url: str) -> sa.Engine:
    with Ledger.open(url) as led:
        led.migrate()
        return make_engine(led.sa_url)


def save_payment(
    url: str, payment: Payment, *, run_id: str, policy_name: str, now: dt.datetime | None = None
) -> StoredRun:
    """Insert the run and its clearing rows in one transaction; a ``run_id`` already stored is refused
    (``IntegrityError`` → nothing written)."""
    created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    h = payment.hospitals
    rows = [
        {
            "run_id": run_id,
            "fixmedins_code": r["fixmedins_code"],
            "hosp_lv": str(r["hosp_lv"]),
            "cases": int(r["cases"]),
            "cmi": int(r["cmi"]) if r.get("cmi") is not None else None,
            "points_pu": int(r["points_pu"]),
            "cost_fen": int(r["cost_fen"]),
            "due_fen": int(r["due_fen"]),
            "pre_paid_fen": int(r["pre_paid_fen"]),
            "withheld_fen": int(r["withheld_fen"]),
            "balance_fen": int(r["balance_fen"]),
            "profit_fen": int(r["profit_fen"]),
        }
        for r in h.iter_rows(named=True)
    ]
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                payment_run.insert().values(
                    run_id=run_id,
                    method=payment.method,
                    year=payment.year,
                    policy=policy_name[:200],
                    pool_fen=payment.pool_fen,
                    budget_point_value=str(payment.budget_point_value),
                    settlement_point_value=str(payment.settlement_point_value),
                    cases=payment.cases.height,
                    created=created,
                )
            )
            if rows:
                conn.execute(payment_clearing.insert(), rows)
    finally:
        engine.dispose()
    return StoredRun(
        run_id,
        payment.method,
        payment.year,
        payment.pool_fen,
        payment.cases.height,
        sum(r["due_fen"] for r in rows),
    )


def list_runs(url: str) -> list[StoredRun]:
    """Stored runs, newest first, with Σ due recomputed from their clearing rows."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            due = (
                sa.select(payment_clearing.c.run_id, sa.func.sum(payment_clearing.c.due_fen).label("due"))
                .group_by(payment_clearing.c.run_id)
                .subquery()
            )
            q = (
                sa.select(
                    payment_run.c.run_id,
                    payment_run.c.method,
                    payment_run.c.year,
                    payment_run.c.pool_fen,
                    payment_run.c.cases,
                    sa.func.coalesce(due.c.due, 0),
                )
                .select_from(payment_run.outerjoin(due, due.c.run_id == payment_run.c.run_id))
                .order_by(payment_run.c.created.desc(), payment_run.c.run_id)
            )
            return [
                StoredRun(str(a), str(b), int(c), int(d), int(e), int(f))
                for a, b, c, d, e, f in conn.execute(q)
            ]
    finally:
        engine.dispose()


@dataclass(frozen=True)
class ClearingRow:
    """One institution's annual clearing (清算) in a stored run, with the run's method, year and point values
    (fen per 1/10000 point, exact fractions as text)."""

    run_id: str
    method: str
    year: int
    fixmedins_code: str
    hosp_lv: str
    cases: int
    cmi: int | None  # 1/10000 (DRG)
    points_pu: int  # 1/10000 point
    cost_fen: int
    due_fen: int
    pre_paid_fen: int
    withheld_fen: int
    balance_fen: int
    profit_fen: int
    budget_point_value: str
    settlement_point_value: str


def clearing_rows(engine: sa.Engine, fixmedins_code: str | None = None) -> list[ClearingRow]:
    """Every stored run's clearing rows (one institution's when ``fixmedins_code`` is given), newest year
    first, then by method and amount due (largest first)."""
    r, c = payment_run, payment_clearing
    q = (
        sa.select(
            c.c.run_id,
            r.c.method,
            r.c.year,
            c.c.fixmedins_code,
            c.c.hosp_lv,
            c.c.cases,
            c.c.cmi,
            c.c.points_pu,
            c.c.cost_fen,
            c.c.due_fen,
            c.c.pre_paid_fen,
            c.c.withheld_fen,
            c.c.balance_fen,
            c.c.profit_fen,
            r.c.budget_point_value,
            r.c.settlement_point_value,
        )
        .select_from(c.join(r, r.c.run_id == c.c.run_id))
        .order_by(r.c.year.desc(), r.c.method, c.c.due_fen.desc(), c.c.fixmedins_code)
    )
    if fixmedins_code is not None:
        q = q.where(c.c.fixmedins_code == fixmedins_code)
    with engine.connect() as conn:
        return [
            ClearingRow(
                str(a[0]),
                str(a[1]),
                int(a[2]),
                str(a[3]),
                str(a[4]),
                int(a[5]),
                None if a[6] is None else int(a[6]),
                int(a[7]),
                int(a[8]),
                int(a[9]),
                int(a[10]),
                int(a[11]),
                int(a[12]),
                int(a[13]),
                str(a[14]),
                str(a[15]),
            )
            for a in conn.execute(q)
        ]
