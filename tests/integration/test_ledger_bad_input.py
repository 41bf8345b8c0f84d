"""Bad input is refused with the right error and leaves the database exactly as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from ledger_support import msgid, person, snapshot, visit

from yibao.ledger import Ledger, LedgerError
from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.settlement.model import SettlementError

OP = [("A01", 10_000, 3)]
PEOPLE = ["E1", "E2", "X9"]


@pytest.fixture
def seeded(ledger: Ledger, book: PolicyBook) -> Ledger:
    ledger.add_persons(
        [
            person("E1", balance=50_000, family=["E2"]),
            person("E2", balance=50_000),
            person("X9", insutype="390", psn_type="31"),
        ]
    )
    out = ledger.settle(book, visit("E1", OP), "M-SETTLED")
    ledger.cancel(out.setl_id, "M-CANCELLED")
    ledger.settle(book, visit("E2", OP), "M-E2")
    return ledger


def _refused(
    led: Ledger, call: Callable[[], object], exc: type[ValueError], code: str, field: str | None = None
) -> None:
    before = snapshot(led, PEOPLE)
    with pytest.raises(exc) as err:
        call()
    assert getattr(err.value, "code", None) == code, err.value
    if field is not None:
        assert getattr(err.value, "field", None) == field
    assert snapshot(led, PEOPLE) == before
    assert led.verify().ok


def test_unknown_person(seeded: Ledger, book: PolicyBook) -> None:
    _refused(
        seeded,
        lambda: seeded.settle(book, visit("NOPE", OP), msgid()),
        LedgerError,
        "unknown_person",
        "psn_no",
    )
    _refused(seeded, lambda: seeded.get_person("NOPE", dt.date(2025, 1, 1)), LedgerError, "unknown_person")
    _refused(seeded, lambda: seeded.account_balance("NOPE"), LedgerError, "unknown_person")


def test_unknown_family_payer(seeded: Ledger, book: PolicyBook) -> None:
    _refused(
        seeded,
        lambda: seeded.settle(book, visit("E1", OP, account_psn_no="NOPE"), msgid()),
        LedgerError,
        "unknown_person",
        "visit.account_psn_no",
    )


def test_payer_who_is_not_family_is_an_engine_error(seeded: Ledger, book: PolicyBook) -> None:
    _refused(
        seeded,
        lambda: seeded.settle(book, visit("E2", OP, account_psn_no="E1"), msgid()),
        SettlementError,
        "invalid",
        "visit.account_psn_no",
    )


def test_unknown_item_code(seeded: Ledger, book: PolicyBook) -> None:
    _refused(
        seeded,
        lambda: seeded.settle(book, visit("E1", [*OP, ("ZZZ", 100, 1)]), msgid()),
        SettlementError,
        "unknown_item",
        "lines[1].med_list_codg",
    )


def test_visit_outside_every_policy_version(seeded: Ledger, book: PolicyBook) -> None:
    _refused(
        seeded,
        lambda: seeded.settle(book, visit("E1", OP, day=dt.date(2030, 1, 1)), msgid()),
        NoPolicyVersion,
        "no_policy",
        "visit.begin_date",
    )


def test_person_type_not_in_region(seeded: Ledger, book: PolicyBook) -> None:
    seeded.add_persons([person("Q1", psn_type="99")])
    _refused(
        seeded,
        lambda: seeded.settle(book, visit("Q1", OP), msgid()),
        SettlementError,
        "invalid",
        "person.psn_type",
    )


def test_cancel_of_unknown_or_cancelled_settlement(seeded: Ledger) -> None:
    _refused(
        seeded, lambda: seeded.cancel("no-such-setl", msgid()), LedgerError, "unknown_settlement", "setl_id"
    )
    cancelled = next(s for s in seeded.list_settlements("E1") if s.msgid == "M-SETTLED")
    _refused(seeded, lambda: seeded.cancel(cancelled.setl_id, msgid()), LedgerError, "already_reversed")
    _refused(seeded, lambda: seeded.reverse("M-SETTLED", msgid()), LedgerError, "already_reversed")
    _refused(
        seeded, lambda: seeded.reverse("no-such-msgid", msgid()), LedgerError, "unknown_settlement", "omsgid"
    )
    _refused(seeded, lambda: seeded.get_settlement("no-such-setl"), LedgerError, "unknown_settlement")


def test_msgid_reused_across_transaction_kinds(seeded: Ledger, book: PolicyBook) -> None:
    _refused(
        seeded, lambda: seeded.settle(book, visit("E1", OP), "M-CANCELLED"), LedgerError, "msgid_conflict"
    )
    e2 = seeded.list_settlements("E2")[0]
    _refused(seeded, lambda: seeded.cancel(e2.setl_id, "M-E2"), LedgerError, "msgid_conflict")


def test_duplicate_person(seeded: Ledger) -> None:
    _refused(
        seeded, lambda: seeded.add_persons([person("N1"), person("E1")]), LedgerError, "duplicate_person"
    )
    _refused(
        seeded, lambda: seeded.add_persons([person("N1"), person("N1")]), LedgerError, "duplicate_person"
    )
