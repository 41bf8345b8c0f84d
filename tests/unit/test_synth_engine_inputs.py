"""Generated visits are valid real-time engine inputs, in global time order."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import identity_violations
from yibao.synth import generate, read_visits_as_engine_inputs

XIAN = example_path("xian")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth-engine")
    generate(XIAN, out, persons=2_000, year=2025, seed=5, chunk_size=1_000, limits=prescribing_limits())
    return out


def test_every_visit_settles(region: Path) -> None:
    book = PolicyBook.from_file(XIAN)
    persons = pl.read_parquet(region / "persons.parquet")
    insutype = dict(zip(persons["psn_no"].to_list(), persons["insutype"].to_list(), strict=True))
    balance = dict(zip(persons["psn_no"].to_list(), persons["account_balance"].to_list(), strict=True))
    n = 0
    last = None
    family = 0
    for person, visit in read_visits_as_engine_inputs(region):
        payer = visit.account_psn_no or person.psn_no
        s = settle_visit(
            book.for_date(visit.begin_date), person, visit, {}, balance[payer], payer_insutype=insutype[payer]
        )
        assert not identity_violations(s), visit.mdtrt_id
        assert s.medfee_sumamt == sum(ln.amount for ln in visit.lines)
        key = visit.begin_date
        assert last is None or key >= last
        last = key
        family += visit.account_psn_no is not None
        n += 1
    assert n == pl.read_parquet(region / "visits.parquet").height
    assert family > 0


def test_limit_and_order(region: Path) -> None:
    got = [v.mdtrt_id for _, v in read_visits_as_engine_inputs(region, limit=50)]
    v = pl.read_parquet(region / "visits.parquet").sort(["begin_date", "seq"]).head(50)
    assert got == v["mdtrt_id"].to_list()
