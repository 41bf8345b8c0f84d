"""ledger verify covers every money-bearing column: account balances against the journal, a
settlement's deltas edited together with the accumulator, line amounts, the stored visit (moved to
another hospital), and — through an exported anchor — a journal edited and re-hashed forward."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from ledger_support import msgid, person, visit
from typer.testing import CliRunner

from yibao.ledger import Ledger
from yibao.ledger import anchor as anchor_mod
from yibao.ledger.journal import GENESIS, row_hash
from yibao.policy.book import PolicyBook

OP = [("A01", 10_000, 9), ("B10", 3_000, 4)]
IP = [("A01", 100_000, 30), ("B10", 50_000, 6)]


def _exec(led: Ledger, sql: str, params: tuple[object, ...]) -> None:
    led.conn.execute(sql, params)
    if led.kind == "pg":
        led.conn.commit()


def _one(led: Ledger, sql: str, params: tuple[object, ...]) -> tuple[object, ...]:
    row = led.conn.execute(sql, params).fetchone()
    led.conn.end_read()
    return tuple(row)


def _workload(led: Ledger, book: PolicyBook) -> list[str]:
    led.add_persons(
        [person("E1", balance=100_000, family=["E2"]), person("E2", balance=60_000, family=["E1"])]
    )
    ids = [
        led.settle(book, visit("E1", OP), msgid()).setl_id,
        led.settle(book, visit("E2", IP, med_type="21", hosp_lv="3"), msgid()).setl_id,
        led.settle(book, visit("E1", OP, account_psn_no="E2"), msgid()).setl_id,
    ]
    assert led.verify().ok, led.verify().problems
    return ids


def test_an_edited_account_balance_is_reported(ledger: Ledger, book: PolicyBook) -> None:
    _workload(ledger, book)
    _exec(ledger, "UPDATE person SET account_balance = account_balance + 50000 WHERE psn_no = %s", ("E2",))
    r = ledger.verify()
    assert not r.ok and any("person[E2]: account balance" in p for p in r.problems)


def test_an_edited_balance_of_a_person_who_never_settled_is_reported(
    ledger: Ledger, book: PolicyBook
) -> None:
    ledger.add_persons([person("Q1", balance=1_000)])
    assert ledger.verify().ok
    _exec(ledger, "UPDATE person SET account_balance = 900000 WHERE psn_no = %s", ("Q1",))
    assert any("person[Q1]" in p for p in ledger.verify().problems)


def test_deltas_edited_together_with_the_accumulator_are_reported(ledger: Ledger, book: PolicyBook) -> None:
    ids = _workload(ledger, book)
    (deltas,) = _one(ledger, "SELECT deltas FROM settlement WHERE setl_id = %s", (ids[1],))
    d = json.loads(str(deltas))
    key = next(iter(d))
    d[key] = int(d[key]) - 10_000
    (counters,) = _one(ledger, "SELECT counters FROM accumulator WHERE psn_no = %s", ("E2",))
    c = json.loads(str(counters))
    c[key] = int(c[key]) - 10_000
    _exec(ledger, "UPDATE settlement SET deltas = %s WHERE setl_id = %s", (json.dumps(d), ids[1]))
    _exec(ledger, "UPDATE accumulator SET counters = %s WHERE psn_no = %s", (json.dumps(c), "E2"))
    r = ledger.verify()
    assert not r.ok and any(f"settlement[{ids[1]}]" in p and "digest" in p for p in r.problems)


def test_an_edited_line_amount_is_reported(ledger: Ledger, book: PolicyBook) -> None:
    ids = _workload(ledger, book)
    _exec(
        ledger,
        "UPDATE settlement_line SET amount = amount + 100, inscp_scp_amt = inscp_scp_amt + 100 "
        "WHERE setl_id = %s AND line_no = 1",
        (ids[0],),
    )
    assert any(f"settlement[{ids[0]}]" in p for p in ledger.verify().problems)


def test_a_visit_moved_to_another_hospital_is_reported(ledger: Ledger, book: PolicyBook) -> None:
    ids = _workload(ledger, book)
    (v,) = _one(ledger, "SELECT visit FROM settlement WHERE setl_id = %s", (ids[1],))
    moved = json.loads(str(v))
    moved["fixmedins_code"] = "H61999999999"
    _exec(
        ledger,
        "UPDATE settlement SET visit = %s, fixmedins_code = %s WHERE setl_id = %s",
        (json.dumps(moved), "H61999999999", ids[1]),
    )
    assert any(f"settlement[{ids[1]}]" in p for p in ledger.verify().problems)


def _rehash_forward(led: Ledger, chain: str, from_seq: int, new_amount: int) -> None:
    """Edit one row and recompute every later row's hash and the chain head: the chain is consistent
    again, so only an anchor can tell."""
    rows = led.conn.execute(
        "SELECT seq, setl_id, msgid, kind, item, field, amount, created FROM journal WHERE chain = %s "
        "ORDER BY seq",
        (chain,),
    ).fetchall()
    led.conn.end_read()
    prev = GENESIS
    for seq, setl_id, m, kind, item, field, amount, created in rows:
        amt = new_amount if seq == from_seq else int(amount)
        h = row_hash(prev, chain, int(seq), setl_id, m, kind, item, field, amt, created)
        _exec(
            led,
            "UPDATE journal SET amount = %s, prev_hash = %s, hash = %s WHERE chain = %s AND seq = %s",
            (amt, prev, h, chain, seq),
        )
        prev = h
    _exec(led, "UPDATE person SET chain_hash = %s WHERE psn_no = %s", (prev, chain))


def test_a_journal_rehashed_forward_is_caught_by_the_anchor(
    ledger: Ledger, book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workload(ledger, book)
    monkeypatch.setattr(anchor_mod, "SETTLE_MARGIN", dt.timedelta(0))  # no transaction in flight here
    a = anchor_mod.export(ledger.conn)
    assert a.rows == ledger.row_counts()["journal"] and ledger.check_anchor(a).ok
    # the ledger keeps settling after the anchor: still ok (rows only append)
    ledger.settle(book, visit("E1", OP), msgid())
    assert ledger.check_anchor(a).ok
    # the opening row of E1 raised and every later hash recomputed: the chain check passes …
    _rehash_forward(ledger, "E1", 1, 200_000)
    _exec(ledger, "UPDATE person SET account_balance = account_balance + 100000 WHERE psn_no = %s", ("E1",))
    assert ledger.verify().ok
    # … the anchor does not
    r = ledger.check_anchor(a)
    assert not r.ok and r.problem and "anchor" in r.problem


def test_anchor_export_and_check_commands(tmp_path: Path, book: PolicyBook) -> None:
    from yibao.cli import app as cli

    url = f"sqlite:///{tmp_path / 'a.db'}"
    with Ledger.open(url) as led:
        led.migrate()
        _workload(led, book)
    run = CliRunner()
    out = tmp_path / "anchors" / "day1.json"
    r = run.invoke(cli, ["ledger", "anchor", "export", "--db", url, "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == anchor_mod.FORMAT and len(doc["root"]) == 64
    assert run.invoke(cli, ["ledger", "anchor", "check", "--db", url, str(out)]).exit_code == 0
    # an anchor whose digest does not match (as after a forward re-hash of anchored rows)
    doc["root"] = "0" * 64
    out.write_text(json.dumps(doc), encoding="utf-8")
    r = run.invoke(cli, ["ledger", "anchor", "check", "--db", url, str(out)])
    assert r.exit_code == 1


@pytest.mark.parametrize("balance", [0, 5_000])
def test_a_person_with_or_without_an_opening_balance_verifies(ledger: Ledger, balance: int) -> None:
    ledger.add_persons([person("Z1", balance=balance)])
    r = ledger.verify()
    assert r.ok and r.chains == (1 if balance else 0)
