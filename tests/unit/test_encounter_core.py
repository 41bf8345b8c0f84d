"""The visit lifecycle's pure core: the split at upload is the engine's, the states allow what the
interface allows, the total must equal the lines, a stay counts in its discharge year."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.encounter import core
from yibao.encounter.core import EncounterError, FeeLine, VisitRecord
from yibao.money import QTY_ONE, price_times_qty
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Person

BOOK = PolicyBook.from_file(example_path("xian"))
POLICY = BOOK.for_date(dt.date(2025, 5, 3))
CODES = sorted(POLICY.catalogue)
PERSON = Person("P1", "张三", "610101199001011234", "M", dt.date(1990, 1, 1), "310", "11")


def visit(kind: str = core.OUTPATIENT, status: str = core.REGISTERED, end: str | None = None) -> VisitRecord:
    return VisitRecord(
        "M1",
        "H1",
        "P1",
        "310",
        kind,
        "11" if kind == core.OUTPATIENT else "21",
        "N1",
        "3",
        "02",
        "2025-12-30 09:00:00",
        end,
        status,
    )


def line(sn: str, code: str, price: int, qty: int, batch: str = "B", setl_id: str | None = None) -> FeeLine:
    return FeeLine(
        "M1",
        sn,
        batch,
        code,
        code,
        qty,
        price,
        price_times_qty(price, qty),
        "2025-12-30 10:00:00",
        setl_id=setl_id,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(CODES), st.integers(1, 500_00), st.integers(1, 5)), min_size=1, max_size=8
    )
)
def test_the_split_at_upload_is_the_engines_split(picks: list[tuple[str, int, int]]) -> None:
    lines = [line(str(i), c, p, q * QTY_ONE) for i, (c, p, q) in enumerate(picks)]
    uploaded = core.split(lines, dict(POLICY.catalogue))
    v = core.to_visit(visit(), uploaded, use_account=False)
    s = settle_visit(POLICY, PERSON, v, {}, 0, "310")
    assert [
        (ln.fulamt_ownpay_amt, ln.overlmt_amt, ln.preselfpay_amt, ln.inscp_scp_amt) for ln in uploaded
    ] == list(s.line_parts)
    for ln in uploaded:
        row = core.fee_result(ln, POLICY.catalogue[ln.med_list_codg])
        assert row["chrgitm_lv"] == POLICY.catalogue[ln.med_list_codg].cls


def test_an_unknown_code_is_refused_at_upload() -> None:
    with pytest.raises(EncounterError) as e:
        core.split([line("1", "NOT-A-CODE", 100, QTY_ONE)], dict(POLICY.catalogue))
    assert e.value.code == "unknown_item" and e.value.field == "input.feedetail[0].med_list_codg"


def test_settle_takes_one_unsettled_batch_and_a_stay_only_when_discharged() -> None:
    lines = [
        line("1", CODES[0], 100, QTY_ONE, "A"),
        line("2", CODES[0], 100, QTY_ONE, "B"),
        line("3", CODES[0], 100, QTY_ONE, "A", setl_id="S1"),
    ]
    assert [ln.feedetl_sn for ln in core.settle_lines(visit(), lines, "A")] == ["1"]
    with pytest.raises(EncounterError) as e:
        core.settle_lines(visit(), lines, "C")
    assert e.value.code == "no_lines"
    with pytest.raises(EncounterError):
        core.settle_lines(visit(status=core.CANCELLED), lines, "A")
    admitted = visit(core.INPATIENT, core.ADMITTED)
    with pytest.raises(EncounterError) as e:
        core.settle_lines(admitted, lines, None)
    assert e.value.code == "state"
    assert len(core.settle_lines(admitted, lines, None, mid_stay=True)) == 2
    assert (
        len(core.settle_lines(visit(core.INPATIENT, core.DISCHARGED, "2026-01-03 10:00:00"), lines, None))
        == 2
    )


def test_the_declared_total_must_equal_the_lines() -> None:
    lines = [line("1", CODES[0], 1234, QTY_ONE), line("2", CODES[0], 100, 2 * QTY_ONE)]
    core.check_total(1434, lines)
    with pytest.raises(EncounterError) as e:
        core.check_total(1435, lines)
    assert (
        e.value.field == "input.data.medfee_sumamt"
        and "14.35" in e.value.reason
        and "14.34" in e.value.reason
    )


def test_a_stay_counts_on_its_discharge_day_and_an_outpatient_visit_on_its_own() -> None:
    stay = visit(core.INPATIENT, core.DISCHARGED, "2026-01-03 10:00:00")
    v = core.to_visit(stay, [line("1", CODES[0], 100, QTY_ONE)], use_account=True)
    assert (v.begin_date, v.end_date, v.counts_on) == (
        dt.date(2025, 12, 30),
        dt.date(2026, 1, 3),
        dt.date(2026, 1, 3),
    )
    o = core.to_visit(visit(), [line("1", CODES[0], 100, QTY_ONE)], use_account=True)
    assert o.counts_on == dt.date(2025, 12, 30) and o.accounting_date is None


@pytest.mark.parametrize(
    ("med_type", "clr"), [("11", "11"), ("14", "11"), ("21", "21"), ("22", "21"), ("52", "21"), ("41", "41")]
)
def test_clearing_type_follows_the_medical_type(med_type: str, clr: str) -> None:
    assert core.clr_type(med_type) == clr


def test_an_emergency_said_at_registration_reaches_the_settlement_and_the_insured_region_as_filed() -> None:
    from dataclasses import replace

    from yibao.crossregion.filing import coverage
    from yibao.settlement import io as sio

    lines = [line("1", CODES[0], 1000, QTY_ONE)]
    plain = core.to_visit(visit(), lines, use_account=False)
    emergency = core.to_visit(replace(visit(), info={"emergency": "1"}), lines, use_account=False)
    assert (plain.emergency, emergency.emergency) == (False, True)
    # what the care region sends through the hub, read back at the insured region: treated as filed
    sent = sio.parse_visit(sio.visit_to_json(emergency))
    cov = coverage([], "610100", sent.begin_date, sent.end_date, emergency=sent.emergency)
    assert cov.locality == "remote_filed"
    with pytest.raises(EncounterError) as e:
        core.emergency_flag({"emergency": "急"}, "input.mdtrtinfo.emergency")
    assert e.value.field == "input.mdtrtinfo.emergency" and e.value.code == "bad_flag"
