"""``cases_app`` (mounted by the lead as ``yibao audit cases``) end to end on a SQLite ledger."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from yibao.audit.flags import FLAG_SCHEMA
from yibao.cli.audit_cases import cases_app
from yibao.ledger import Ledger, PersonRecord
from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.settlement.model import Line, Visit

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


def run(*args: str) -> tuple[int, object]:
    res = runner.invoke(cases_app, list(args))
    return res.exit_code, json.loads(res.stdout) if res.stdout.strip() else None


def test_open_notify_appeal_decide_post_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    led = Ledger.open(url)
    try:
        led.migrate()
        led.add_persons(
            [PersonRecord("P1", "测试", "610100198003010000", "M", dt.date(1980, 3, 1), "310", "11")]
        )
        lines = (
            Line("1", "A01", 40 * QTY_ONE, 100_000, 4_000_000),
            Line("2", "B10", 20 * QTY_ONE, 50_000, 1_000_000),
        )
        v = Visit("MD-5", "P1", "21", "H1", "3", dt.date(2025, 5, 6), dt.date(2025, 5, 13), lines)
        setl = led.settle(PolicyBook.from_file(FIXTURES / "region.yaml"), v, "M1").setl_id
        fund = led.get_settlement(setl).settlement.fund_pay_sumamt
    finally:
        led.close()
    flags = pl.DataFrame(
        [
            {
                "flag_id": f"GZ:5:{sn}",
                "source": "rule",
                "rule_code": "GZ",
                "rule_class": "医疗",
                "psn_id": 1,
                "fixmedins_code": "H1",
                "visit_id": 5,
                "feedetl_sn": sn,
                "amount_fen": 20_000,
                "severity": "flag",
                "reason_zh": "超量开药",
                "reason_en": "over-prescription",
                "evidence": "{}",
            }
            for sn in (1, 2)
        ],
        schema=FLAG_SCHEMA,
    )
    flags.write_parquet(tmp_path / "flags.parquet")
    pl.DataFrame({"visit_id": [5], "mdtrt_id": ["MD-5"]}).write_parquet(tmp_path / "visits.parquet")
    db = ["--db", url]

    code, out = run(
        "open",
        "--flags",
        str(tmp_path / "flags.parquet"),
        "--period",
        "2025Q2",
        *db,
        "--now",
        "2025-06-03T10:00:00+08:00",
    )
    assert code == 0 and isinstance(out, list) and out[0]["case_id"] == "2025Q2:H1" and out[0]["items"] == 2
    code, out = run("notify", "2025Q2:H1", *db, "--now", "2025-06-03T10:00:00+08:00")
    assert code == 0 and isinstance(out, dict) and out["deadline"] == "2025-07-01"
    code, out = run("appeal", "2025Q2:H1", "--item", "2=有处方", *db, "--now", "2025-06-10T10:00:00+08:00")
    assert code == 0 and isinstance(out, dict) and out["state"] == "appealed"
    code, out = run("appeal", "2025Q2:H1", "--item", "1=迟了", *db, "--now", "2025-07-02T10:00:00+08:00")
    assert code == 2 and isinstance(out, dict) and out["code"] == "appeal_window_closed"
    code, out = run(
        "decide",
        "2025Q2:H1",
        "--decision",
        "2=partial:5000:部分合理",
        *db,
        "--now",
        "2025-07-03T10:00:00+08:00",
    )
    assert code == 0 and isinstance(out, dict) and out["upheld_fen"] == 25_000
    code, out = run(
        "post",
        "2025Q2:H1",
        *db,
        "--visits",
        str(tmp_path / "visits.parquet"),
        "--now",
        "2025-07-04T10:00:00+08:00",
    )
    assert code == 0 and isinstance(out, dict) and out["case"]["state"] == "deducted"
    assert 0 < out["case"]["deducted_fen"] <= min(25_000, fund) and not out["replayed"]
    code, out = run("post", "2025Q2:H1", *db, "--now", "2025-07-05T10:00:00+08:00")
    assert code == 0 and isinstance(out, dict) and out["replayed"]
    code, out = run("history", "2025Q2:H1", *db)
    assert code == 0 and isinstance(out, dict) and out["problems"] == []
    assert [e["event"] for e in out["events"]] == ["open", "notify", "appeal", "decide", "deduct"]
    code, out = run("list", *db, "--state", "deducted")
    assert code == 0 and isinstance(out, list) and len(out) == 1
    code, out = run("notify", "2025Q2:H9", *db)
    assert code == 2 and isinstance(out, dict) and out["code"] == "unknown_case"

    # `yibao ledger verify` passes with the deduction and fails once a deduction row is edited
    from yibao.cli import app

    assert runner.invoke(app, ["ledger", "verify", "--db", url]).exit_code == 0
    with sqlite3.connect(tmp_path / "y.db") as conn:
        conn.execute("UPDATE ledger_deduction SET memo = 'edited'")
    res = runner.invoke(app, ["ledger", "verify", "--db", url])
    assert res.exit_code == 1 and "hash mismatch" in res.output
