"""The portal against the real ledger database (SQLite and PostgreSQL): the estimator equals the
ledger's own pre-settlement, and cases and ratings are stored with their history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from ledger_support import msgid, person

from yibao.feedback import core
from yibao.feedback.store import PortalStore
from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement import estimate

BOOK = PolicyBook(load_region(example_path("xian")))
DAY = dt.date(2025, 6, 2)
NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def test_estimate_equals_the_ledgers_pre_settlement_and_writes_nothing(ledger: Ledger) -> None:
    ledger.add_persons([person("E1", balance=150_000)])
    policy = BOOK.for_date(DAY)
    # an earlier visit this year, so the deductible and the account are partly used
    earlier = estimate.build_visit(
        policy,
        "E1",
        [estimate.Pick("XJ01DDA005B002010110133", 30)],
        level="2",
        med_type="11",
        day=dt.date(2025, 3, 1),
    )
    ledger.settle(BOOK, dataclasses.replace(earlier, mdtrt_id="M-EARLIER"), msgid())
    picks = [estimate.Pick("XJ01DDA003B002010119046", 40), estimate.Pick("001101000010000", 1)]
    visit = estimate.build_visit(policy, "E1", picks, level="3", med_type="11", day=DAY)
    before = ledger.row_counts()
    acc = ledger.accumulators("E1", DAY.year)
    assert acc, "the earlier visit must have left accumulators"
    mine = estimate.estimate(policy, ledger.get_person("E1", DAY), visit, acc, ledger.account_balance("E1"))
    theirs = ledger.settle(BOOK, visit, msgid(), pre=True)
    assert theirs.setl_id == ""
    assert dataclasses.asdict(mine) == dataclasses.asdict(theirs.settlement)
    assert mine.acct_pay > 0 and mine.fund_pay_sumamt > 0
    assert ledger.row_counts() == before


def _store(ledger: Ledger) -> PortalStore:
    return PortalStore(sa.create_engine(ledger.sa_url), core.load_params())


def test_a_complaint_is_tracked_from_submission_to_satisfaction_with_a_review(ledger: Ledger) -> None:
    store = _store(ledger)
    c = store.open_case(
        kind="complaint",
        psn_no="P1",
        filed_by="u1",
        actor_role="insured",
        subject="H1",
        detail="挂号排队两小时",
        now=NOW,
        setl_id="S1",
    )
    assert (c.status, c.sla_days, c.opened_on, c.due_on, c.setl_id, c.review_round) == (
        "submitted",
        15,
        NOW.date(),
        dt.date(2026, 12, 14),
        "S1",
        0,
    )

    def move(new: str, days: int, role: str = "auditor", note: str = "") -> object:
        actor = "u1" if role == "insured" else "a1"
        return store.move(
            c.case_id, new, actor_id=actor, actor_role=role, note=note, now=NOW + dt.timedelta(days=days)
        )

    accepted = move("accepted", 2, note="已受理")
    assert store.get_case(c.case_id).decided_on is None, "accepting does not stop a complaint's clock"
    assert accepted is not None
    move("answered", 9, note="已责令医院改进挂号流程")
    answered = store.get_case(c.case_id)
    assert answered.decided_on == dt.date(2026, 12, 2)  # the answer stopped the clock
    clock = answered.clock(store.params, dt.date(2027, 1, 1))
    assert (clock.elapsed, clock.stopped, clock.overdue) == (7, True, False)
    assert [x.case_id for x in store.queue()] == [], "an answered complaint waits for the person"

    move("reopened", 10, role="insured", note="排队问题依旧")
    review = store.get_case(c.case_id)
    assert (review.status, review.review_round, review.opened_on, review.sla_days) == (
        "reopened",
        1,
        dt.date(2026, 12, 3),
        store.params.review["complaint"].days,
    )
    assert review.due_on == dt.date(2026, 12, 24) and review.decided_on is None
    assert [x.case_id for x in store.queue()] == [c.case_id], "a review is back in the staff queue"
    late = review.clock(store.params, dt.date(2026, 12, 28))
    assert late.overdue and not late.stopped and late.remaining == -2  # Fri 25th and Mon 28th

    move("answered", 14, note="已增设挂号窗口")
    move("resolved", 15, role="insured", note="")
    done = store.get_case(c.case_id)
    assert done.status == "resolved" and done.decided_on == dt.date(2026, 12, 7)
    assert [(e.status, e.actor_role) for e in store.events(c.case_id)] == [
        ("submitted", "insured"),
        ("accepted", "auditor"),
        ("answered", "auditor"),
        ("reopened", "insured"),
        ("answered", "auditor"),
        ("resolved", "insured"),
    ]
    notices = store.notices("u1")
    assert [n.status for n in notices] == [
        "resolved",
        "answered",
        "reopened",
        "answered",
        "accepted",
        "submitted",
    ]
    assert store.notices("a1") == []
    assert store.unread("u1") == 6
    assert store.mark_read("u1", NOW) == 6
    assert store.unread("u1") == 0 and all(n.read for n in store.notices("u1"))


def test_a_refused_move_writes_nothing(ledger: Ledger) -> None:
    store = _store(ledger)
    c = store.open_case(
        kind="filing_referral",
        psn_no="P1",
        filed_by="u1",
        actor_role="insured",
        subject="西京医院",
        detail="转诊备案",
        now=NOW,
    )
    with pytest.raises(core.PortalError) as e:
        store.move(c.case_id, "resolved", actor_id="a1", actor_role="auditor", note="", now=NOW)
    assert e.value.code == "bad_transition"
    with pytest.raises(core.PortalError) as e:
        store.move(c.case_id, "accepted", actor_id="u1", actor_role="insured", note="", now=NOW)
    assert e.value.code == "bad_transition"
    assert store.get_case(c.case_id).status == "submitted"
    assert len(store.events(c.case_id)) == 1
    with pytest.raises(core.PortalError) as e:
        store.open_case(
            kind="complaint",
            psn_no="P1",
            filed_by="u1",
            actor_role="insured",
            subject="",
            detail=" ",
            now=NOW,
        )
    assert e.value.field == "detail"
    assert len(store.cases_for(["P1"])) == 1


def test_rating_again_replaces_the_first_and_institutions_get_a_mean(ledger: Ledger) -> None:
    store = _store(ledger)
    store.rate(setl_id="S1", psn_no="P1", user_id="u1", fixmedins_code="H1", stars=2, comment="", now=NOW)
    store.rate(setl_id="S1", psn_no="P1", user_id="u1", fixmedins_code="H1", stars=5, comment="好", now=NOW)
    store.rate(setl_id="S2", psn_no="P1", user_id="u1", fixmedins_code="H1", stars=4, comment="", now=NOW)
    r = store.rating("S1")
    assert r is not None and (r.stars, r.comment) == (5, "好")
    assert store.rating_summary() == [("H1", 2, 450)]
    with pytest.raises(core.PortalError):
        store.rate(setl_id="S3", psn_no="P1", user_id="u1", fixmedins_code="H1", stars=9, comment="", now=NOW)
    assert store.rating("S3") is None
