"""Enrolment changes reach the ledger's person row (the scheme and person type settlement reads) through
the use case :func:`yibao.usecases.enrolment.sync_ledger`: a resident hired by an employer becomes an
employee in the ledger, a retirement changes the person type, and persons the ledger does not hold are
left alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from yibao.enrolment.model import EventKind, RelationEvent
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.enrolment.store import EnrolmentStore
from yibao.ledger import Ledger
from yibao.ledger.types import PersonRecord
from yibao.policy.loader import example_path, load_region
from yibao.synth.enrolment import write_collection_file
from yibao.usecases.enrolment import sync_ledger

D = dt.date


@pytest.fixture(scope="module")
def pol() -> EnrolmentPolicy:
    p = policy_for_region(load_region(example_path("xian")))
    assert p is not None
    return p


def test_a_hired_resident_and_a_retirement_reach_the_ledger_person(
    db_url: str, tmp_path: Path, pol: EnrolmentPolicy
) -> None:
    c = tmp_path / "c.csv"
    write_collection_file(c, pol, persons=4, year=2025, seed=4)
    people = pl.read_csv(c, infer_schema=False).select("psn_no", "certno", "psn_name").rows()
    hired, kept = people[0], people[1]
    roster = tmp_path / "r.csv"
    roster.write_text(
        "emp_no,emp_name,month,psn_no,certno,psn_name,wage,action,paid_on\n"
        f"E1,甲公司,2025-03,{hired[0]},{hired[1]},{hired[2]},8000,add,2025-03-12\n",
        encoding="utf-8",
    )
    led = Ledger.open(db_url)
    try:
        with EnrolmentStore(db_url, pol) as store:
            store.import_collection(c)
            # the ledger holds two of the four, as residents of the type the registry gave them
            led.add_persons(
                PersonRecord(r.psn_no, "测试", cert, "M", D(1980, 1, 1), r.insutype, r.psn_type, "610100")
                for r, cert in zip(store.relations([hired[0], kept[0]]), (hired[1], kept[1]), strict=True)
            )
            assert sync_ledger(led, store) == []  # nothing differs yet

            store.import_roster(roster)
            in_service = store.relations([hired[0]])[0].psn_type
            assert in_service in pol.in_service_types
            assert led.get_person(hired[0], D(2025, 4, 1)).insutype == "390"  # not carried yet
            assert sync_ledger(led, store) == [hired[0]]
            after = led.get_person(hired[0], D(2025, 4, 1))
            assert (after.insutype, after.psn_type) == ("310", in_service)
            assert led.get_person(kept[0], D(2025, 4, 1)).insutype == "390"

            retired = sorted(pol.retired_types)[0]
            store.record_events(
                [RelationEvent(hired[0], D(2025, 6, 1), EventKind.CHANGE_TYPE, "310", retired, "E1")]
            )
            assert sync_ledger(led, store, [hired[0]]) == [hired[0]]
            assert led.get_person(hired[0], D(2025, 7, 1)).psn_type == retired
            # nothing left to carry; a registered person the ledger does not hold is skipped
            assert sync_ledger(led, store) == []
            assert sync_ledger(led, store, [people[2][0]]) == []
    finally:
        led.close()
