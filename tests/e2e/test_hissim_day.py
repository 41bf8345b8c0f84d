"""The HIS simulator's full day against ``yibao serve`` over HTTP (SQLite, bounded size): sign-in,
outpatient and inpatient flows with corrections, cancellations and a reversal after a lost answer,
queries, end-of-day reconciliation (3201 / 3202 through 9101 / 9102) and clearing (3203), sign-out —
every answer checked field by field against the specification by the simulator."""

from __future__ import annotations

from pathlib import Path

from yibao.bench.his import play, prepare, serve
from yibao.ledger import Ledger


def test_a_full_simulated_day_passes_every_check(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'his.db'}"
    prep = prepare(db, tmp_path, hospitals=2, persons=60, seed=3)
    with serve(db) as base:
        result, _cfg = play(base, prep, hospitals=2, visits=40, seed=3)
    failures = [f"{f.hospital} {f.context} {f.infno} {f.field}: {f.reason}" for f in result.failures]
    assert failures == []
    planned = sum(h.visits_planned for h in result.hospitals)
    assert planned > 80 and result.visits_done == planned
    sent = result.latencies()
    for infno in (
        "9001",
        "1101",
        "2201",
        "2202",
        "2203",
        "2204",
        "2205",
        "2206",
        "2207",
        "2208",
        "2601",
        "2001",
        "2401",
        "2403",
        "2301",
        "2303",
        "2304",
        "3201",
        "3202",
        "9101",
        "9102",
        "3203",
        "9002",
    ):
        assert sent.get(infno), f"the day sent no {infno}"
    settled = sum(h.settlements for h in result.hospitals)
    with Ledger.open(db) as led:
        assert led.row_counts()["settlement"] >= settled > 0
        assert led.verify().ok
