"""Payment runs are stored whole or not at all, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from yibao.ledger import Ledger
from yibao.payment.drg import pay_drg
from yibao.payment.policy import example_policy_path, load_policy
from yibao.payment.store import list_runs, save_payment


def _claims() -> pl.DataFrame:
    rows = [
        ("a1", "H1", "3", "A", 100_000, 1),
        ("a2", "H1", "3", "A", 120_000, 2),
        ("a3", "H2", "1", "A", 90_000, 2),
        ("b1", "H1", "3", "B", 300_000, 3),
        ("b2", "H2", "1", "B", 310_000, 3),
        ("b3", "H3", "2", "B", 280_000, 4),
    ]
    return pl.DataFrame(
        {
            "case_id": [r[0] for r in rows],
            "fixmedins_code": [r[1] for r in rows],
            "hosp_lv": [r[2] for r in rows],
            "drg": [r[3] for r in rows],
            "pdx": ["K358"] * len(rows),
            "main_procedure": [""] * len(rows),
            "medfee_sumamt": [r[4] for r in rows],
            "los_days": [5] * len(rows),
            "discharge_date": [dt.date(2025, r[5], 15) for r in rows],
        },
        schema_overrides={"medfee_sumamt": pl.Int64, "discharge_date": pl.Date},
    )


def test_a_stored_run_adds_up_to_its_pool_and_a_repeated_run_id_writes_nothing(db_url: str) -> None:
    policy = load_policy(example_policy_path("demo"))
    pay = pay_drg(_claims(), policy, _claims().with_columns(pl.col("discharge_date").dt.offset_by("-1y")))
    now = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    stored = save_payment(db_url, pay, run_id="drg-2025-a", policy_name="demo", now=now)
    assert stored.due_fen == pay.pool_fen > 0
    with pytest.raises(sa.exc.IntegrityError):
        save_payment(db_url, pay, run_id="drg-2025-a", policy_name="demo", now=now)
    runs = list_runs(db_url)
    assert [(r.run_id, r.method, r.due_fen, r.cases) for r in runs] == [
        ("drg-2025-a", "drg", pay.pool_fen, pay.cases.height)
    ]
    with Ledger.open(db_url) as led:
        engine = sa.create_engine(led.sa_url)
    try:
        with engine.connect() as conn:
            n = conn.execute(sa.text("select count(*) from payment_clearing")).scalar_one()
    finally:
        engine.dispose()
    assert n == pay.hospitals.height
