"""The case store: optimistic locking, all-or-nothing opening, racing deductions (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import polars as pl
import pytest
from ledger_support import msgid, person, visit

from yibao.audit.cases import AuditCaseError, CaseStore, load_params, notify, open_cases, transition
from yibao.audit.cases.workflow import Notify
from yibao.audit.flags import FLAG_SCHEMA
from yibao.ledger import Ledger
from yibao.ledger.deduction import DeductionItem
from yibao.policy.book import PolicyBook

NOW = dt.datetime(2025, 6, 3, 2, 0, tzinfo=dt.UTC)
IP = [("A01", 100_000, 40), ("B10", 50_000, 20)]


def flags(*insts: str) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "flag_id": f"R:{n}:1",
                "source": "model",
                "rule_code": "MX-PEER-001",
                "rule_class": "模型",
                "psn_id": n,
                "fixmedins_code": inst,
                "visit_id": n,
                "feedetl_sn": 1,
                "amount_fen": 100 * n,
                "severity": "warn",
                "reason_zh": "同行离群",
                "reason_en": "peer outlier",
                "evidence": "{}",
            }
            for n, inst in enumerate(insts, 1)
        ],
        schema=FLAG_SCHEMA,
    )


def test_a_stale_write_is_refused_and_the_log_stays_linear(db_url: str) -> None:
    store = CaseStore(db_url)
    try:
        [case] = open_cases(store, flags("H1"), "P1", NOW)
        params = load_params()
        first, ev1 = transition(case, Notify("alice"), NOW, params)
        second, ev2 = transition(case, Notify("bob"), NOW, params)  # computed from the same version
        store.save(case, first, ev1)
        with pytest.raises(AuditCaseError) as e:
            store.save(case, second, ev2)
        assert e.value.code == "conflict"
        assert [(x.event, x.actor) for x in store.events(case.case_id)] == [
            ("open", "system"),
            ("notify", "alice"),
        ]
    finally:
        store.close()


def test_opening_is_all_or_nothing(db_url: str) -> None:
    store = CaseStore(db_url)
    try:
        open_cases(store, flags("H2"), "P1", NOW)
        with pytest.raises(AuditCaseError) as e:
            open_cases(store, flags("H1", "H2", "H3"), "P1", NOW)  # H2 exists: H1 and H3 must not be written
        assert e.value.code == "case_exists"
        assert [c.fixmedins_code for c in store.find()] == ["H2"]
        with pytest.raises(AuditCaseError) as unknown:
            notify(store, "P1:H1", NOW, "a")
        assert unknown.value.code == "unknown_case"
    finally:
        store.close()


def test_racing_posts_of_one_deduction_record_it_once(db_url: str, book: PolicyBook) -> None:
    setup = Ledger.open(db_url)
    try:
        setup.add_persons([person("R")])
        setl = setup.settle(book, visit("R", IP, med_type="21", mdtrt_id="9"), msgid()).setl_id
        fund = setup.get_settlement(setl).settlement.fund_pay_sumamt
    finally:
        setup.close()
    item = [DeductionItem(setl, "", fund)]  # all of it: a loser that re-checked the cap would be refused
    results: list[object] = []

    def post() -> None:
        led = Ledger.open(db_url)
        try:
            results.append(led.post_deduction("DED:race", "H61010000001", "race", item))
        except Exception as exc:  # collected and asserted on below
            results.append(exc)
        finally:
            led.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [r for r in results if not isinstance(r, Exception)]
    assert len(outcomes) == 4, results
    assert sorted(getattr(r, "replayed") for r in outcomes) == [False, True, True, True]  # noqa: B009
    check = Ledger.open(db_url)
    try:
        assert check.totals()["deduction_amt"] == fund and check.verify().ok
    finally:
        check.close()


def test_a_crash_after_the_ledger_post_is_completed_without_a_second_deduction(
    db_url: str, book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yibao.audit.cases import CaseState, close_expired, post_deductions

    led = Ledger.open(db_url)
    store = CaseStore(db_url)
    try:
        led.add_persons([person("K")])
        led.settle(
            book,
            dataclasses.replace(visit("K", IP, med_type="21", mdtrt_id="1"), fixmedins_code="H1"),
            msgid(),
        )
        [case] = open_cases(store, flags("H1"), "P1", NOW)
        notify(store, case.case_id, NOW, "a")
        close_expired(store, NOW + dt.timedelta(days=60))
        real_save = CaseStore.save

        def dies(self: CaseStore, *a: object) -> None:
            raise RuntimeError("process killed after the ledger commit")

        monkeypatch.setattr(CaseStore, "save", dies)
        with pytest.raises(RuntimeError):
            post_deductions(store, led, case.case_id, NOW + dt.timedelta(days=61))
        assert store.get(case.case_id).state is CaseState.DECIDED and led.totals()["deduction_count"] == 1
        monkeypatch.setattr(CaseStore, "save", real_save)
        done = post_deductions(store, led, case.case_id, NOW + dt.timedelta(days=62))
        assert done.replayed and done.case.state is CaseState.DEDUCTED
        assert (
            done.case.deducted_fen == led.totals()["deduction_amt"] > 0
            and led.totals()["deduction_count"] == 1
        )
        assert led.verify().ok
    finally:
        store.close()
        led.close()
