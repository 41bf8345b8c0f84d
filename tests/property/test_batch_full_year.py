"""A generated year settled by the batch engine equals the real-time engine, visit by visit, to the fen."""

from __future__ import annotations

from pathlib import Path

import polars as pl
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


def test_a_generated_year_with_its_enrolment_agrees_with_the_realtime_check(tmp_path: Path) -> None:
    """The synthetic region enrols its population (late enrolment, lapses, newborns, deaths, transfers,
    arrears): the batch's benefit check per visit and the real-time one (the use case's rule on the same
    compiled statuses) refuse, self-pay and settle the same visits, to the fen."""
    from yibao.batch.eligibility import with_region_eligibility
    from yibao.batch.settle import REFUSE, SELF_PAY
    from yibao.enrolment.check import by_psn
    from yibao.enrolment.policy import policy_for_region
    from yibao.enrolment.store import statuses_from_frames
    from yibao.usecases.eligibility import BenefitRefused, MemoryEligibility, entitlement_for

    out = tmp_path / "xian"
    generate(example_path("xian"), out, persons=1_500, year=2025, seed=13, limits=prescribing_limits())
    book = PolicyBook.from_file(example_path("xian"))
    policy = policy_for_region(book.loaded)
    assert policy is not None
    persons, visits, lines = read_inputs(out)
    visits = with_region_eligibility(out, book.loaded, visits)
    decided = visits["elig_decision"].value_counts()
    assert set(decided["elig_decision"].to_list()) >= {0, SELF_PAY, REFUSE}  # every outcome occurs
    result = settle_batch(book, persons, visits, lines)
    batch = {
        r["mdtrt_id"]: r
        for r in result.visits.join(visits.select("visit_id", "mdtrt_id"), on="visit_id").iter_rows(
            named=True
        )
    }
    frames = {
        name: pl.read_parquet(out / f"{file}.parquet")
        for name, file in (
            ("persons", "enrol_persons"),
            ("events", "enrol_events"),
            ("premiums", "resident_premiums"),
            ("contributions", "employee_contributions"),
        )
    }
    source = MemoryEligibility(by_psn(statuses_from_frames(frames, policy)))
    balances = dict(zip(persons["psn_id"].to_list(), persons["account_balance"].to_list(), strict=True))
    schemes = dict(zip(persons["psn_id"].to_list(), persons["insutype"].to_list(), strict=True))
    acc: dict[tuple[str, int], dict[str, int]] = {}
    refused = set()
    for person, visit in read_visits_as_engine_inputs(out):
        try:
            ent = entitlement_for(source, visit)
        except BenefitRefused:
            refused.add(visit.mdtrt_id)
            assert visit.mdtrt_id not in batch
            continue
        a = acc.setdefault((person.psn_no, visit.begin_date.year), {})
        payer = int((visit.account_psn_no or person.psn_no)[1:])
        s = settle_visit(
            book.for_date(visit.begin_date),
            person,
            visit,
            a,
            balances[payer],
            schemes[payer],
            entitlement=ent,
        )
        for k, v in s.deltas.items():
            a[k] = a.get(k, 0) + v
        balances[payer] -= s.acct_pay
        row = batch[visit.mdtrt_id]
        assert {f: row[f] for f in MONEY_OUT} == {f: getattr(s, f) for f in MONEY_OUT}, visit.mdtrt_id
    assert refused and len(refused) == result.refused.height
