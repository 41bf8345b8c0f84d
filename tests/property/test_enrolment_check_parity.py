"""The benefit check and its vectorised twin give identical answers on random histories, and the compiled
statuses keep their invariants (intervals cover every day in order; nobody is covered after death; a
covered resident has paid the year; a covered employee has no month unpaid past its grace)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.enrolment.check import FRAME_FIELDS, check, check_frame, status_frame
from yibao.enrolment.contributions import grace_end
from yibao.enrolment.eligibility import PersonStatus, compile_status
from yibao.enrolment.history import relation_segments
from yibao.enrolment.model import (
    EmployeeContribution,
    EventKind,
    PersonFacts,
    RelationEvent,
    ResidentPremium,
)
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.policy.loader import example_path, load_region

POL = policy_for_region(load_region(example_path("xian")))
assert POL is not None
POLICY: EnrolmentPolicy = POL
D0 = dt.date(2019, 6, 1).toordinal()
D1 = dt.date(2026, 12, 31).toordinal()


def _day(o: int) -> dt.date:
    return dt.date.fromordinal(o)


@st.composite
def person(
    draw: st.DrawFn, k: int
) -> tuple[PersonFacts, list[RelationEvent], list[ResidentPremium], list[EmployeeContribution]]:
    psn = f"P{k:04d}"
    birth = _day(draw(st.integers(dt.date(1940, 1, 1).toordinal(), dt.date(2025, 10, 1).toordinal())))
    gender = draw(st.sampled_from("MF"))
    idents: tuple[tuple[str, dt.date, dt.date | None], ...] = ()
    if draw(st.booleans()) and draw(st.booleans()):
        idents = ((draw(st.sampled_from(["DB", "TK", "FP"])), dt.date(2018, 1, 1), None),)
    scheme = draw(st.sampled_from(["390", "390", "310", "310r"]))
    start = max(draw(st.integers(D0, D1 - 200)), birth.toordinal())
    ev: list[RelationEvent] = []
    pr: list[ResidentPremium] = []
    co: list[EmployeeContribution] = []
    insutype = "310" if scheme.startswith("310") else "390"
    ptype = "21" if scheme == "310r" else ("11" if insutype == "310" else "31")
    carried = draw(st.integers(0, 400)) if scheme == "310r" else 0
    ev.append(
        RelationEvent(psn, _day(start), EventKind.ENROL, insutype, ptype, emp_no="E1", months_carried=carried)
    )
    day = start
    for _ in range(draw(st.integers(0, 3))):
        day += draw(st.integers(30, 500))
        if day > D1:
            break
        last = ev[-1].kind
        if last in (EventKind.ENROL, EventKind.RESUME):
            kind = draw(
                st.sampled_from(
                    [EventKind.SUSPEND, EventKind.TERMINATE, EventKind.DEATH, EventKind.TRANSFER_OUT]
                )
            )
        elif last == EventKind.SUSPEND:
            kind = draw(st.sampled_from([EventKind.RESUME, EventKind.TERMINATE, EventKind.DEATH]))
        elif last in (EventKind.TERMINATE, EventKind.TRANSFER_OUT):
            kind = EventKind.ENROL
        else:
            break
        ev.append(RelationEvent(psn, _day(day), kind, insutype if kind == EventKind.ENROL else "", ptype))
    if insutype == "390":
        for y in range(2020, 2027):
            ry = POLICY.resident_year(y)
            assert ry is not None
            if draw(st.booleans()):
                lo, hi = ry.collection.opens.toordinal(), dt.date(y, 12, 31).toordinal()
                paid = _day(draw(st.integers(lo, hi)))
                pr.append(ResidentPremium(psn, y, paid, ry.individual_fen, 0, ry.fiscal_subsidy_fen))
            elif draw(st.integers(0, 4)) == 0:
                paid = _day(
                    draw(st.integers(dt.date(y + 1, 1, 1).toordinal(), dt.date(y + 2, 6, 1).toordinal()))
                )
                pr.append(ResidentPremium(psn, y, paid, ry.individual_fen, 0, 0, kind="repair"))
    else:
        y, m = _day(start).year, _day(start).month
        for _ in range(draw(st.integers(0, 30))):
            if draw(st.integers(0, 5)) == 0:
                paid = None
            else:
                due = dt.date(y, m, 1).toordinal()
                paid = _day(due + draw(st.integers(0, 150)))
            co.append(EmployeeContribution(psn, "E1", (y, m), 600_000, 42_000, 12_000, 12_000, paid))
            y, m = (y + (m == 12), m % 12 + 1)
        if scheme == "310r" and draw(st.booleans()):
            co.append(
                EmployeeContribution(
                    psn,
                    "",
                    (2025, 1),
                    0,
                    1,
                    0,
                    0,
                    _day(draw(st.integers(D0, D1))),
                    "top_up",
                    draw(st.integers(1, 200)),
                )
            )
    return PersonFacts(psn, birth, gender, idents), ev, pr, co


@st.composite
def region(
    draw: st.DrawFn,
) -> list[tuple[PersonFacts, list[RelationEvent], list[ResidentPremium], list[EmployeeContribution]]]:
    n = draw(st.integers(1, 8))
    return [draw(person(k)) for k in range(n)]


VISITS = st.lists(
    st.tuples(st.integers(0, 7), st.integers(D0 - 400, D1 + 400), st.sampled_from(["11", "14", "21", "41"])),
    min_size=1,
    max_size=60,
)


def _compile(people: list) -> list[PersonStatus]:  # type: ignore[type-arg]
    return [compile_status(f, ev, POLICY, premiums=pr, contributions=co) for f, ev, pr, co in people]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(region(), VISITS)
def test_vectorised_check_equals_the_scalar_check(people: list, visits: list) -> None:  # type: ignore[type-arg]
    statuses = _compile(people)
    rows = [(f"P{k:04d}", _day(o), mt) for k, o, mt in visits]  # P0005 … may be unknown persons
    frame = pl.DataFrame(
        {"psn_no": [r[0] for r in rows], "visit_date": [r[1] for r in rows], "med_type": [r[2] for r in rows]}
    )
    out = check_frame(frame, status_frame(statuses), POLICY.account_only_med_types)
    by = {s.psn_no: s for s in statuses}
    for (psn, day, mt), got in zip(rows, out.iter_rows(named=True), strict=True):
        e = check(by.get(psn), day, mt)
        assert {k: getattr(e, k) for k in FRAME_FIELDS} == {k: got[k] for k in FRAME_FIELDS}, (psn, day, mt)


def _due_months(ev: list[RelationEvent], day: dt.date) -> set[tuple[int, int]]:
    """Months of the current run of the relation (since the last enrolment up to ``day``) in which it was active."""
    segs = [s for s in relation_segments(ev) if s.start <= day]
    runs = [i for i, s in enumerate(segs) if s.opened_by.kind in (EventKind.ENROL, EventKind.TRANSFER_IN)]
    out: set[tuple[int, int]] = set()
    for s in segs[runs[-1] :] if runs else []:
        if s.state != "active":
            continue
        a = s.start
        b = min(s.end - dt.timedelta(days=1) if s.end else day, day)
        y, m = a.year, a.month
        while (y, m) <= (b.year, b.month):
            out.add((y, m))
            y, m = (y + (m == 12), m % 12 + 1)
    return out


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(region(), VISITS)
def test_status_invariants(people: list, visits: list) -> None:  # type: ignore[type-arg]
    statuses = _compile(people)
    for (_facts, ev, pr, co), s in zip(people, statuses, strict=True):
        assert s.starts[0] == 1 and list(s.starts) == sorted(set(s.starts))
        deaths = [e.day for e in ev if e.kind == EventKind.DEATH]
        paid_years = {p.year for p in pr if p.kind == "annual"}
        for _k, o, mt in visits:
            day = _day(o)
            e = check(s, day, mt)
            if e.covered:
                assert not deaths or day <= deaths[0]
                assert e.since is None or e.since <= day
                assert e.until is None or day <= e.until
                if e.insutype == "390":
                    assert day.year in paid_years
                if e.insutype == "310" and e.psn_type == "11":
                    due = _due_months(ev, day)
                    late = [
                        c for c in co
                        if c.kind == "normal" and c.month in due
                        and grace_end(c.month, POLICY) < day and (c.paid_on is None or c.paid_on > day)
                    ]  # fmt: skip
                    assert not late
            else:
                assert e.reason_code != "ok" and e.reason_zh
                assert not e.account_usable or (e.insutype == "310" and mt in POLICY.account_only_med_types)
