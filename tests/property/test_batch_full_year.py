"""A generated year settled by the batch engine equals the real-time engine, visit by visit, to the fen."""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.batch import settle_batch
from yibao.batch.io import read_inputs
from yibao.batch.settle import MONEY_OUT
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.synth import generate, read_visits_as_engine_inputs


@pytest.mark.parametrize(("region", "seed"), [("xian", 11), ("weinan", 12)])
def test_a_generated_year_agrees_with_the_realtime_engine(tmp_path: Path, region: str, seed: int) -> None:
    out = tmp_path / region
    generate(example_path(region), out, persons=1_500, year=2025, seed=seed, limits=prescribing_limits())
    book = PolicyBook.from_file(example_path(region))
    persons, visits, lines = read_inputs(out)
    batch = {
        r["mdtrt_id"]: r
        for r in settle_batch(book, persons, visits, lines)
        .visits.join(visits.select("visit_id", "mdtrt_id"), on="visit_id")
        .iter_rows(named=True)
    }
    balances = dict(zip(persons["psn_id"].to_list(), persons["account_balance"].to_list(), strict=True))
    schemes = dict(zip(persons["psn_id"].to_list(), persons["insutype"].to_list(), strict=True))
    acc: dict[tuple[str, int], dict[str, int]] = {}
    n = fund = 0
    for person, visit in read_visits_as_engine_inputs(out):
        a = acc.setdefault((person.psn_no, visit.begin_date.year), {})
        payer = int((visit.account_psn_no or person.psn_no)[1:])
        s = settle_visit(book.for_date(visit.begin_date), person, visit, a, balances[payer], schemes[payer])
        for k, v in s.deltas.items():
            a[k] = a.get(k, 0) + v
        balances[payer] -= s.acct_pay
        row = batch[visit.mdtrt_id]
        assert {f: row[f] for f in MONEY_OUT} == {f: getattr(s, f) for f in MONEY_OUT}, visit.mdtrt_id
        n += 1
        fund += s.fund_pay_sumamt
    assert n == len(batch) and n > 3_000
    assert fund > 0
