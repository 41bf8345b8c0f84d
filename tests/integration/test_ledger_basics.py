"""Settling through the ledger gives the engine's result, stores enough to explain it again later,
and keeps persons, accounts, accumulators and totals consistent."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from ledger_support import DAY, money, msgid, person, visit

from yibao.ledger import Ledger, LedgerError
from yibao.policy.book import PolicyBook
from yibao.settlement.engine import settle_visit
from yibao.settlement.explain import explain
from yibao.settlement.model import AuditFinding, Person, Visit, identity_violations

IP = [("C01", 100_000, 1), ("M01", 140_000, 1), ("B10", 600_000, 1), ("A01", 1_160_000, 1)]  # DOMAIN §1.8


def test_the_worked_example_settles_through_the_ledger(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=0)])
    v = visit("P1", IP, med_type="21", hosp_lv="3", use_account=False)
    out = ledger.settle(book, v, msgid())
    s = out.settlement
    assert (s.medfee_sumamt, s.inscp_scp_amt, s.act_pay_dedc, s.hifp_pay, s.psn_part_amt) == (
        2_000_000,
        1_800_000,
        120_000,
        1_344_000,
        656_000,
    )
    assert identity_violations(s) == []
    engine = settle_visit(book.for_date(DAY), ledger.get_person("P1", DAY), v, {}, 0, "310")
    assert money(s) == money(engine)
    assert ledger.accumulators("P1", 2025) == engine.deltas
    assert ledger.accumulators("P1", 2024) == {}


def test_a_stored_settlement_rebuilds_the_visit_and_its_explanation(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=30_000)])
    v = visit("P1", IP, med_type="21", hosp_lv="3")
    out = ledger.settle(book, v, msgid())
    stored = ledger.get_settlement(out.setl_id)
    assert stored.active and stored.year == 2025 and stored.psn_no == "P1" and stored.cancel_msgid is None
    assert stored.visit == v
    assert money(stored.settlement) == money(out.settlement)
    assert stored.settlement.setldetail == out.settlement.setldetail
    assert stored.settlement.line_parts == out.settlement.line_parts
    assert stored.settlement.deltas == out.settlement.deltas
    assert [ln.code for ln in stored.lines] == ["C01", "M01", "B10", "A01"]
    policy = book.for_date(DAY)
    assert explain(stored.settlement, stored.visit, policy) == explain(out.settlement, v, policy)


def test_in_event_findings_and_prescription_details_are_kept_with_the_stored_settlement(
    ledger: Ledger, book: PolicyBook
) -> None:
    """事中 findings travel in the stored trace: read back, the settlement has the same findings and its
    explanation says why a line was not paid; the billing physician and prescribed days come back too."""
    ledger.add_persons([person("P1", balance=30_000)])
    base = visit("P1", [("C01", 100_000, 1), ("M01", 2_000, 3)])
    v = replace(
        base, bilg_dr_codg="D6101000000001", lines=(base.lines[0], replace(base.lines[1], prd_days=3))
    )

    def hook(p: Person, vis: Visit) -> list[AuditFinding]:
        return [
            AuditFinding("2", "GZ-YB-001", "block", "限女性使用", "female only"),
            AuditFinding(None, "GZ-YB-016", "warn", "整次提示", "whole visit noted"),
        ]

    out = ledger.settle(book, v, msgid(), audit=hook)
    assert out.settlement.line_parts[1] == (6_000, 0, 0, 0)  # blocked: fully self-paid
    stored = ledger.get_settlement(out.setl_id)
    assert stored.visit == v
    assert stored.settlement.audit == out.settlement.audit == hook(ledger.get_person("P1", DAY), v)
    text = explain(stored.settlement, stored.visit, book.for_date(DAY))
    assert "第 2 行（GZ-YB-001，不予支付）：限女性使用。" in text["zh"]
    assert "the whole visit (GZ-YB-016, noted): whole visit noted." in text["en"]
    assert text == explain(out.settlement, v, book.for_date(DAY))
    mid = msgid()
    again = ledger.settle(book, replace(v, mdtrt_id="MDX"), mid, audit=hook)
    assert ledger.settle(book, replace(v, mdtrt_id="MDX"), mid, audit=hook).replayed and not again.replayed
    for changed in (
        replace(v, mdtrt_id="MDX", bilg_dr_codg="D-OTHER"),
        replace(v, mdtrt_id="MDX", lines=(v.lines[0], replace(v.lines[1], prd_days=30))),
    ):
        with pytest.raises(
            LedgerError, match="different visit"
        ):  # what the audit depends on is part of the visit
            ledger.settle(book, changed, mid, audit=hook)


def test_accounts_family_payment_totals_and_listing(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons(
        [person("A", balance=10_000, family=["B"]), person("B", psn_type="21", balance=90_000)]
    )
    own = ledger.settle(book, visit("A", [("A01", 10_000, 3)]), msgid()).settlement
    assert own.acct_pay == 10_000 and ledger.account_balance("A") == 0 and own.balc == 0
    fam = ledger.settle(book, visit("A", [("A01", 10_000, 3)], account_psn_no="B"), msgid()).settlement
    assert fam.acct_mulaid_pay == fam.acct_pay > 0
    assert ledger.account_balance("B") == 90_000 - fam.acct_pay
    t = ledger.totals()
    assert t["count"] == 2 and t["acct_pay"] == own.acct_pay + fam.acct_pay
    assert t["medfee_sumamt"] == own.medfee_sumamt + fam.medfee_sumamt
    listed = ledger.list_settlements("A")
    assert [x.settlement.acct_pay for x in listed] == [fam.acct_pay, own.acct_pay]  # newest first
    assert len(ledger.list_settlements(limit=1)) == 1
    assert ledger.verify().ok


def test_identities_are_those_valid_on_the_day(ledger: Ledger) -> None:
    ledger.add_persons(
        [
            person(
                "D",
                insutype="390",
                psn_type="31",
                identities=[("DB", dt.date(2025, 3, 1), dt.date(2025, 6, 30)), ("TK", DAY, None)],
            )
        ]
    )
    assert ledger.get_person("D", dt.date(2025, 2, 1)).identities == frozenset()
    assert ledger.get_person("D", DAY).identities == {"DB", "TK"}
    assert ledger.get_person("D", dt.date(2025, 7, 1)).identities == {"TK"}
    p = ledger.get_person("D", DAY)
    assert (p.insutype, p.psn_type, p.birth_date, p.family) == ("390", "31", dt.date(1980, 3, 1), ())
