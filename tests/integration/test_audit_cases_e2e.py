"""The case workflow end to end on a real ledger (SQLite and PostgreSQL): settle → flags → case → notice →
appeal → decision → deduction; ledger consistent, idempotent, tamper-evident."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from ledger_support import msgid, person, visit
from sqlalchemy import create_engine, text

from yibao.audit.cases import (
    AuditCaseError,
    CaseState,
    CaseStore,
    Decision,
    appeal,
    case_history,
    close_expired,
    decide,
    list_cases,
    notify,
    open_cases,
    post_deductions,
    verify_case,
)
from yibao.audit.flags import FLAG_SCHEMA
from yibao.ledger import Ledger, LedgerError
from yibao.ledger.deduction import DeductionItem
from yibao.money import split_largest_remainder
from yibao.policy.book import PolicyBook

CST = dt.timezone(dt.timedelta(hours=8))
H1 = "H61010000001"  # the visit factory's institution
IP = [("A01", 100_000, 40), ("B10", 50_000, 20), ("M01", 140_000, 2), ("C01", 10_000, 3)]


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


def flag(
    rule: str, visit_id: int, sn: int | None, amount: int, psn: int = 1, inst: str = H1
) -> dict[str, object]:
    return {
        "flag_id": f"{rule}:{visit_id}:{sn or 0}",
        "source": "rule",
        "rule_code": rule,
        "rule_class": "政策",
        "psn_id": psn,
        "fixmedins_code": inst,
        "visit_id": visit_id,
        "feedetl_sn": sn,
        "amount_fen": amount,
        "severity": "flag",
        "reason_zh": "测试疑点",
        "reason_en": "test flag",
        "evidence": '{"k": 1}',
    }


def line_shares(ledger: Ledger, setl_id: str) -> dict[str, int]:
    """Independent of the ledger's code: the fund payment split over lines by in-scope amount."""
    s = ledger.get_settlement(setl_id)
    shares = split_largest_remainder(s.settlement.fund_pay_sumamt, [ln.inscp_scp_amt for ln in s.lines])
    return {ln.feedetl_sn: v for ln, v in zip(s.lines, shares, strict=True)}


def execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_suspect_to_appeal_to_deduction_keeps_the_ledger_consistent(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("A"), person("B")])
    s101 = ledger.settle(book, visit("A", IP, med_type="21", hosp_lv="3", mdtrt_id="101"), msgid()).setl_id
    s102 = ledger.settle(book, visit("B", IP, med_type="21", hosp_lv="1", mdtrt_id="102"), msgid()).setl_id
    s103 = ledger.settle(book, visit("B", IP, med_type="21", mdtrt_id="103"), msgid()).setl_id
    before_totals, before_rows = ledger.totals(), ledger.row_counts()
    before_acc = {p: ledger.accumulators(p, 2025) for p in ("A", "B")}
    shares101, shares103 = line_shares(ledger, s101), line_shares(ledger, s103)
    fund102 = ledger.get_settlement(s102).settlement.fund_pay_sumamt
    assert shares101["1"] > 0 and fund102 > 0

    flags = pl.DataFrame(
        [
            flag("GZ-A", 101, 1, 30_000),
            flag("GZ-B", 101, 1, 20_000),  # one line, two rules: one item
            flag("GZ-C", 101, 2, 12_345),
            flag("GZ-D", 102, None, fund102 + 9_999, psn=2),  # visit-level, more than the fund paid
            flag("GZ-E", 103, 3, 5_000, psn=2),
        ],
        schema=FLAG_SCHEMA,
    )
    store = CaseStore(ledger.sa_url)
    try:
        [case] = open_cases(store, flags, "2025Q2", at("2025-06-03"), actor="auditor")
        assert case.case_id == f"2025Q2:{H1}" and len(case.items) == 4
        with pytest.raises(AuditCaseError) as dup:
            open_cases(store, flags, "2025Q2", at("2025-06-03"))
        assert dup.value.code == "case_exists"
        with pytest.raises(AuditCaseError) as early:
            post_deductions(store, ledger, case.case_id, at("2025-06-03"))
        assert early.value.code == "illegal_transition"

        case = notify(store, case.case_id, at("2025-06-03"), "auditor")
        assert case.deadline == dt.date(2025, 7, 1)  # 20 working days after Tue 6-03 (no holiday in between)
        by_visit = {(i.visit_id, i.feedetl_sn): i.item_no for i in case.items}
        line1, line2 = by_visit[(101, 1)], by_visit[(101, 2)]
        whole, line3 = by_visit[(102, None)], by_visit[(103, 3)]
        case = appeal(
            store, case.case_id, {line2: "有医嘱，合理用药", whole: "急诊抢救"}, at("2025-06-20"), "H1-医保办"
        )
        with pytest.raises(AuditCaseError) as late:
            appeal(store, case.case_id, {line3: "迟到的申诉"}, at("2025-07-02", 9), "H1-医保办")
        assert late.value.code == "appeal_window_closed"
        assert store.get(case.case_id).item(line3).appeal_at is None  # refused: nothing written

        case = decide(
            store,
            case.case_id,
            {
                line2: Decision("dismissed", "医嘱齐全"),
                whole: Decision("partial", "部分合理", fund102 + 5_000),
            },
            at("2025-07-03"),
            "bureau",
        )
        assert case.state is CaseState.DECIDED
        assert case.item(line1).decided_fen == 30_000 and case.item(line3).decided_fen == 5_000

        result = post_deductions(store, ledger, case.case_id, at("2025-07-04"), "bureau")
        got = {i.item_no: i.deducted_fen for i in result.case.items}
        assert got == {
            line1: min(30_000, shares101["1"]),
            line2: 0,
            whole: fund102,
            line3: min(5_000, shares103["3"]),
        }
        assert result.clamped[whole] == (fund102 + 5_000, fund102)  # never more than the fund paid
        assert result.case.state is CaseState.DEDUCTED and not result.replayed
        posted = sum(v or 0 for v in got.values())

        # the ledger: consistent, deduction in the totals, patients and accumulators untouched
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.deductions == 1
        totals = ledger.totals()
        assert totals["deduction_count"] == 1 and totals["deduction_amt"] == posted
        assert {k: v for k, v in totals.items() if not k.startswith("deduction")} == {
            k: v for k, v in before_totals.items() if not k.startswith("deduction")
        }
        assert ledger.row_counts() == before_rows  # no journal, settlement or accumulator rows added
        assert {p: ledger.accumulators(p, 2025) for p in ("A", "B")} == before_acc

        # idempotent: a second post changes nothing
        again = post_deductions(store, ledger, case.case_id, at("2025-07-05"), "bureau")
        assert again.replayed and again.deduction is not None and again.deduction.amount == posted
        assert ledger.totals()["deduction_amt"] == posted and ledger.totals()["deduction_count"] == 1
        with pytest.raises(LedgerError) as conflict:
            ledger.post_deduction(f"DED:{case.case_id}", H1, case.case_id, [DeductionItem(s101, "4", 1)])
        assert conflict.value.code == "deduction_conflict"
        assert conflict.value.reason.startswith("该扣款编号已入账且内容不同 deduction ")

        # caps hold for further deductions, and a deducted settlement cannot be cancelled
        with pytest.raises(LedgerError) as over:
            ledger.post_deduction("DED:extra", H1, "manual", [DeductionItem(s102, "", 1)])
        assert over.value.code == "over_fund_paid" and over.value.field == "items[0].amount"
        assert over.value.reason.startswith("扣款超过该笔结算尚未追回的基金支付 1 fen exceeds")
        with pytest.raises(LedgerError) as wrong:
            ledger.post_deduction("DED:other", "H99", "manual", [DeductionItem(s101, "4", 1)])
        assert wrong.value.code == "wrong_institution"
        assert wrong.value.reason.startswith("该笔结算不是本机构结算的 settlement ")
        with pytest.raises(LedgerError) as cancel:
            ledger.cancel(s103, msgid())
        assert cancel.value.code == "deducted"
        assert ledger.totals()["deduction_count"] == 1 and ledger.verify().ok

        # every step audited, chain intact
        history = case_history(store, case.case_id)
        assert [e.event for e in history] == ["open", "notify", "appeal", "decide", "deduct"]
        assert [e.actor for e in history] == ["auditor", "auditor", "H1-医保办", "bureau", "bureau"]
        assert history[-1].detail["deducted_fen"] == posted
        assert verify_case(store, case.case_id) == []
        assert [c.case_id for c in list_cases(store, state="deducted")] == [case.case_id]

        # tampering is detected: a deduction item, a deleted deduction, a case event
        execute(
            ledger.sa_url, f"UPDATE ledger_deduction_item SET amount = amount - 1 WHERE setl_id = '{s101}'"
        )
        bad = ledger.verify()
        assert not bad.ok and any("hash mismatch" in p for p in bad.problems)
        execute(
            ledger.sa_url, f"UPDATE ledger_deduction_item SET amount = amount + 1 WHERE setl_id = '{s101}'"
        )
        assert ledger.verify().ok
        execute(ledger.sa_url, "UPDATE audit_case_event SET actor = 'nobody' WHERE seq = 4")
        assert any("hash mismatch" in p for p in verify_case(store, case.case_id))
        execute(ledger.sa_url, "DELETE FROM ledger_deduction_item")
        execute(ledger.sa_url, "DELETE FROM ledger_deduction")
        gone = ledger.verify()
        assert not gone.ok and any("deduction_chain" in p for p in gone.problems)
    finally:
        store.close()


def test_an_unanswered_notice_is_closed_and_deducted(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("C")])
    setl = {}
    for vid in (77, 78):
        v = dataclasses.replace(visit("C", IP, med_type="21", mdtrt_id=f"MD-{vid}"), fixmedins_code="H2")
        setl[vid] = ledger.settle(book, v, msgid()).setl_id
    share = {vid: line_shares(ledger, s)["1"] for vid, s in setl.items()}
    flags = pl.DataFrame(
        [flag("GZ-X", 77, 1, 800, inst="H2"), flag("GZ-Y", 78, 1, 500, inst="H2")], schema=FLAG_SCHEMA
    )
    store = CaseStore(ledger.sa_url)
    try:
        [case] = open_cases(store, flags, "2025Q3", at("2025-09-25"))
        case = notify(store, case.case_id, at("2025-09-25"), "auditor")
        # Thu 9-25 + 20 working days: 9-28 (Sunday) and 10-11 (Saturday) are make-up working days and
        # 10-01…10-08 a holiday; counted by hand: 9-26, 9-28, 9-29, 9-30, 10-09, 10-10, 10-11, 10-13 … 10-29
        assert case.deadline == dt.date(2025, 10, 29)
        assert close_expired(store, at("2025-10-29", 23)) == []  # still the last day of the window
        [closed] = close_expired(store, at("2025-10-30", 0))
        assert closed.state is CaseState.DECIDED and closed.upheld_fen == 1_300
        assert [e.event for e in case_history(store, case.case_id)][-1] == "expire"
        assert close_expired(store, at("2025-10-31")) == []  # nothing left to close
        with pytest.raises(AuditCaseError) as unresolved:
            post_deductions(store, ledger, case.case_id, at("2025-10-31"), mdtrt_of={77: "MD-77"})
        assert unresolved.value.code == "unresolved_settlement"  # no mdtrt_id for visit 78: nothing written
        assert store.get(case.case_id).state is CaseState.DECIDED and ledger.totals()["deduction_count"] == 0
        done = post_deductions(
            store, ledger, case.case_id, at("2025-10-31"), mdtrt_of={77: "MD-77", 78: "MD-78"}
        )
        want = min(800, share[77]) + min(500, share[78])
        assert want > 0 and done.case.state is CaseState.DEDUCTED and done.case.deducted_fen == want
        assert ledger.verify().ok and ledger.totals()["deduction_amt"] == want
        assert [d.deduction_id for d in ledger.list_deductions("H2")] == [f"DED:{case.case_id}"]
    finally:
        store.close()
