"""A msgid names one request: any difference in what is sent again under a used msgid is
``msgid_conflict`` (never a replayed success for something else), and a 2601 reversal is itself not
reversible."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from ledger_support import msgid, person, snapshot, visit

from yibao.ledger import Ledger, LedgerError
from yibao.policy.book import PolicyBook
from yibao.settlement.model import Visit

LINES = [("A01", 10_000, 3), ("B10", 5_000, 1)]


def _variants(v: Visit) -> dict[str, Visit]:
    later = v.end_date + dt.timedelta(days=1)
    return {
        "hosp_lv": dataclasses.replace(v, hosp_lv="3"),
        "locality": dataclasses.replace(v, locality="remote_unfiled"),
        "emergency": dataclasses.replace(v, emergency=True),
        "end_date": dataclasses.replace(v, end_date=later),
        "diagnoses": dataclasses.replace(v, diagnoses=("J18.9",)),
        "use_account": dataclasses.replace(v, use_account=False),
        "fixmedins_code": dataclasses.replace(v, fixmedins_code="H61010000099"),
        "line_price": dataclasses.replace(
            v, lines=(dataclasses.replace(v.lines[0], price=v.lines[0].price + 1), *v.lines[1:])
        ),
        "line_sn": dataclasses.replace(
            v, lines=(dataclasses.replace(v.lines[0], feedetl_sn="X1"), *v.lines[1:])
        ),
    }


def test_any_difference_under_a_used_msgid_is_a_conflict(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=50_000)])
    v = dataclasses.replace(visit("P1", LINES, med_type="21", hosp_lv="2"), diagnoses=("I10",))
    m = msgid()
    first = ledger.settle(book, v, m)
    before = snapshot(ledger, ["P1"])
    assert ledger.settle(book, v, m).replayed  # the identical request is a retry
    for name, other in _variants(v).items():
        with pytest.raises(LedgerError) as e:
            ledger.settle(book, other, m)
        assert e.value.code == "msgid_conflict", name
    assert snapshot(ledger, ["P1"]) == before
    assert ledger.get_settlement(first.setl_id).status == "active"


def test_a_2208_msgid_reused_for_another_settlement_is_a_conflict(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=50_000), person("P2", balance=50_000)])
    a = ledger.settle(book, visit("P1", LINES), msgid())
    b = ledger.settle(book, visit("P2", LINES), msgid())
    m = msgid()
    ledger.cancel(a.setl_id, m)
    assert ledger.cancel(a.setl_id, m).replayed
    with pytest.raises(LedgerError) as e:
        ledger.cancel(b.setl_id, m)
    assert e.value.code == "msgid_conflict"
    assert ledger.get_settlement(b.setl_id).status == "active"
    # nor may a 2208 msgid stand for a 2601 (or the other way round)
    with pytest.raises(LedgerError) as e:
        ledger.reverse(b.setl_id, m)
    assert e.value.code == "msgid_conflict"
    assert ledger.get_settlement(b.setl_id).status == "active"


def test_a_2601_msgid_reused_for_another_original_is_a_conflict(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=50_000), person("P2", balance=50_000)])
    ma, mb = msgid(), msgid()
    ledger.settle(book, visit("P1", LINES), ma)
    b = ledger.settle(book, visit("P2", LINES), mb)
    r = msgid()
    ledger.reverse(ma, r)
    assert ledger.reverse(ma, r).replayed
    with pytest.raises(LedgerError) as e:
        ledger.reverse(mb, r)
    assert e.value.code == "msgid_conflict"
    with pytest.raises(LedgerError) as e:
        ledger.cancel(b.setl_id, r)
    assert e.value.code == "msgid_conflict"
    assert ledger.get_settlement(b.setl_id).status == "active"


def test_a_reversal_of_a_settlement_is_not_reversible(ledger: Ledger, book: PolicyBook) -> None:
    ledger.add_persons([person("P1", balance=50_000)])
    m = msgid()
    o = ledger.settle(book, visit("P1", LINES), m)
    r = ledger.reverse(m, msgid())
    assert r.status == "cancelled"
    undone = snapshot(ledger, ["P1"])
    with pytest.raises(LedgerError) as e:
        ledger.reverse(r.msgid, msgid())
    assert e.value.code == "not_reversible"
    assert snapshot(ledger, ["P1"]) == undone
    assert ledger.get_settlement(o.setl_id).status == "cancelled"
    assert ledger.verify().ok
