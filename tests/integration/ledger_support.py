"""Helpers shared by the ledger integration tests (factories, fresh PostgreSQL databases).

PostgreSQL tests run against the real local server (admin URL from ``YIBAO_TEST_PG_URL``, default
``postgresql://root@127.0.0.1:5432/postgres``); each test gets a fresh database, dropped afterwards.
An unreachable server FAILS the test — it never skips — so CI proves these tests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from yibao.ledger import Ledger, PersonRecord
from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.settlement.model import MONEY_FIELDS, Line, Settlement, Visit

FIXTURES = Path(__file__).parent.parent / "fixtures"
REGION = FIXTURES / "region.yaml"
DAY = dt.date(2025, 5, 1)
DEFAULT_ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL


def create_pg_database() -> tuple[str, str]:
    """(database name, URL) of a fresh database; fails loudly if PostgreSQL is unreachable."""
    name = "yibao_test_" + uuid.uuid4().hex[:12]
    try:
        with psycopg.connect(admin_url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {admin_url()} is unreachable (these tests must not skip): {exc}")
    base = admin_url().rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def person(
    psn_no: str,
    *,
    insutype: str = "310",
    psn_type: str = "11",
    balance: int = 0,
    identities: Sequence[tuple[str, dt.date, dt.date | None]] = (),
    family: Sequence[str] = (),
    birth: dt.date = dt.date(1980, 3, 1),
) -> PersonRecord:
    """Person factory: an in-service employee by default (scheme 310, type 11)."""
    return PersonRecord(
        psn_no,
        f"测试{psn_no}",
        f"6101{psn_no:0>14}"[-18:],
        "M",
        birth,
        insutype,
        psn_type,
        "610100",
        balance,
        list(identities),
        list(family),
    )


_mdtrt = itertools.count(1)


def visit(
    psn_no: str,
    lines: Sequence[tuple[str, int, int]],
    *,
    med_type: str = "11",
    hosp_lv: str = "1",
    day: dt.date = DAY,
    account_psn_no: str | None = None,
    use_account: bool = True,
    mdtrt_id: str | None = None,
) -> Visit:
    """Visit factory: ``lines`` are (item code, unit price in fen, quantity)."""
    return Visit(
        mdtrt_id or f"MD{next(_mdtrt):08d}",
        psn_no,
        med_type,
        "H61010000001",
        hosp_lv,
        day,
        day + dt.timedelta(days=7 if med_type == "21" else 0),
        tuple(
            Line(str(i), code, qty * QTY_ONE, price, price * qty)
            for i, (code, price, qty) in enumerate(lines, 1)
        ),
        use_account=use_account,
        account_psn_no=account_psn_no,
    )


def msgid() -> str:
    """A 30-character msgid: institution (12) + yyyyMMddHHmmss (14) + sequence (4), made unique."""
    return "H61010000001" + uuid.uuid4().hex[:18]


def open_ledger(url: str) -> Ledger:
    return Ledger.open(url)


def money(s: Settlement) -> dict[str, int]:
    """The money fields of a settlement (what a comparison of two results should look at)."""
    return {f: getattr(s, f) for f in (*MONEY_FIELDS, "pool_prop_selfpay")}


def snapshot(led: Ledger, psn_nos: Sequence[str], year: int = DAY.year) -> dict[str, object]:
    """Everything a refused or crashed call must leave untouched."""
    return {
        "rows": led.row_counts(),
        "acc": {p: led.accumulators(p, year) for p in psn_nos},
        "balance": {p: led.account_balance(p) for p in psn_nos},
    }


def visit_to_json(v: Visit) -> str:
    return json.dumps(
        {
            "mdtrt_id": v.mdtrt_id,
            "psn_no": v.psn_no,
            "med_type": v.med_type,
            "fixmedins_code": v.fixmedins_code,
            "hosp_lv": v.hosp_lv,
            "begin_date": v.begin_date.isoformat(),
            "end_date": v.end_date.isoformat(),
            "lines": [[ln.feedetl_sn, ln.code, ln.qty, ln.price, ln.amount] for ln in v.lines],
            "use_account": v.use_account,
            "account_psn_no": v.account_psn_no,
        }
    )


def visit_from_json(text: str) -> Visit:
    d = json.loads(text)
    return Visit(
        d["mdtrt_id"],
        d["psn_no"],
        d["med_type"],
        d["fixmedins_code"],
        d["hosp_lv"],
        dt.date.fromisoformat(d["begin_date"]),
        dt.date.fromisoformat(d["end_date"]),
        tuple(Line(*x) for x in d["lines"]),
        use_account=d["use_account"],
        account_psn_no=d["account_psn_no"],
    )


def book_from_fixture() -> PolicyBook:
    return PolicyBook.from_file(REGION)
