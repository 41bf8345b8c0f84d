"""The insured region's side of routing, in process on a migrated SQLite database: settle with the care
region's prices and the person's filings, idempotent msgid, a reversal before the settle leaves a tombstone
(the late settle is refused), a reversal of a settled visit undoes it in the ledger, and a settle that finds
itself reversed while it ran undoes its own write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_support import create_pg_database, drop_pg_database

from yibao.crossregion.params import load_params
from yibao.crossregion.pricing import CareCatalogueBook, catalogue_from, price_lines
from yibao.crossregion.schema import xr_inbound
from yibao.crossregion.store import FilingStore, RouteTable, engine_for
from yibao.demo.crossregion import envelope, prepare_region, psn_no
from yibao.errors import FieldError
from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement import io as sio
from yibao.usecases import crossregion as xr

WN, XA = "610500", "610100"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def region(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, RouteTable, FilingStore, PolicyBook]]:
    """Weinan's database (its persons, migrated) on each backend, with its routing and filing stores."""
    name = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'wn.db'}"
    else:
        name, url = create_pg_database()
    try:
        prepare_region(url, "weinan", 10)
        with Ledger.open(url) as led:
            engine = engine_for(led.sa_url)
        yield (
            url,
            RouteTable(engine, xr_inbound),
            FilingStore(engine),
            PolicyBook.from_file(example_path("weinan")),
        )
        engine.dispose()
    finally:
        if name:
            drop_pg_database(name)


def _body(k: int, msgid: str, *, cls: str = "01") -> dict[str, object]:
    data = envelope(msgid, XA, WN, psn_no(WN, k), f"M{msgid}")["input"]["data"]  # type: ignore[index]
    care_book = PolicyBook.from_file(example_path("xian"))
    priced = price_lines(care_book.for_date(dt.date(2025, 6, 1)).catalogue, sio.parse_visit(data))
    for p in priced.values():
        p["cls"] = cls
    return {"msgid": msgid, "care_admdvs": XA, "data": data, "priced": priced}


def test_settle_uses_the_care_prices_and_the_filing_and_is_idempotent(
    region: tuple[str, RouteTable, FilingStore, PolicyBook],
) -> None:
    url, inbound, filings, book = region
    xr.file(filings, load_params(), WN, {"psn_no": psn_no(WN, 1), "care_admdvs": "610000", "type_code": "11",
                                           "channel": "counter", "begin": "2025-01-01"}, dt.date(2025, 1, 1))  # fmt: skip
    with Ledger.open(url) as led:
        out, cov = xr.settle_inbound(inbound, filings, led, book, _body(1, "A1"))
        again, _ = xr.settle_inbound(inbound, filings, led, book, _body(1, "A1"))
        # the same stay priced as class C by the care region: nothing in scope, nothing from the funds
        c_out, _ = xr.settle_inbound(inbound, filings, led, book, _body(2, "A2", cls="03"))
    assert cov.locality == "remote_longterm"
    assert again.replayed and again.setl_id == out.setl_id
    assert out.settlement.inscp_scp_amt == 199_500 and c_out.settlement.inscp_scp_amt == 0
    row = inbound.get("A1")
    assert row is not None and row["status"] == "settled" and row["setl_id"] == out.setl_id


def test_a_reversal_before_the_settle_leaves_a_tombstone(
    region: tuple[str, RouteTable, FilingStore, PolicyBook],
) -> None:
    url, inbound, filings, book = region
    with Ledger.open(url) as led:
        assert xr.reverse_inbound(inbound, led, {"omsgid": "B1", "care_admdvs": XA}) == "tombstone"
        with pytest.raises(FieldError) as e:
            xr.settle_inbound(inbound, filings, led, book, _body(3, "B1"))
        assert e.value.code == "msgid_reversed"
        assert led.message("B1") is None
        assert xr.reverse_inbound(inbound, led, {"omsgid": "B1"}) == "already"


def test_a_reversal_after_the_settle_undoes_it_in_the_ledger(
    region: tuple[str, RouteTable, FilingStore, PolicyBook],
) -> None:
    url, inbound, filings, book = region
    with Ledger.open(url) as led:
        out, _ = xr.settle_inbound(inbound, filings, led, book, _body(4, "C1"))
        assert xr.reverse_inbound(inbound, led, {"omsgid": "C1"}) == "reversed"
        assert led.get_settlement(out.setl_id).status != "active"
        assert xr.reverse_inbound(inbound, led, {"omsgid": "C1"}) == "already"


def test_a_settle_reversed_while_it_ran_undoes_its_own_write(
    region: tuple[str, RouteTable, FilingStore, PolicyBook],
) -> None:
    url, inbound, filings, book = region
    with Ledger.open(url) as led:
        # the reversal arrives while the settle is in flight: the record is `settling`, the ledger empty
        assert inbound.insert("D1", "settling", care_admdvs=XA, psn_no=psn_no(WN, 5), setl_date="2025-06-10")

        class Racing(RouteTable):
            def move(self, msgid: str, expected: tuple[str, ...], status: str, **values: object) -> bool:
                if status == "settled":  # the reversal wins the race just before we record success
                    assert xr.reverse_inbound(inbound, led, {"omsgid": msgid}) == "reversed"
                return super().move(msgid, expected, status, **values)

        racing = Racing(inbound.engine, xr_inbound)
        with pytest.raises(FieldError) as e:
            xr.settle_inbound(racing, filings, led, book, _body(5, "D1"))
        assert e.value.code == "msgid_reversed"
        msg = led.message("D1")
        assert msg is not None and led.get_settlement(msg.setl_id).status != "active"
        assert led.verify().ok


def test_an_unknown_person_leaves_no_record(region: tuple[str, RouteTable, FilingStore, PolicyBook]) -> None:
    url, inbound, filings, book = region
    with Ledger.open(url) as led, pytest.raises(FieldError):
        xr.settle_inbound(inbound, filings, led, book, _body(999, "E1"))
    assert inbound.get("E1") is None
    with Ledger.open(url) as led:
        assert led.row_counts()["settlement"] == 0


def test_catalogue_from_refuses_a_bad_class() -> None:
    with pytest.raises(FieldError) as e:
        catalogue_from({"X1": {"cls": "09"}})
    assert e.value.field == "priced.X1.cls"
    book = PolicyBook.from_file(example_path("weinan"))
    view = CareCatalogueBook(book, catalogue_from({"X1": {"cls": "01", "price_cap": 100}}))
    assert set(view.for_date(dt.date(2025, 6, 1)).catalogue) == {"X1"}


class _NobodyInsured:
    """An enrolment register that has data but not this person (未参保): the benefit check refuses."""

    def has_data(self) -> bool:
        return True

    def status(self, psn_no: str) -> None:
        return None

    def identities(self, psn_no: str, day: dt.date) -> frozenset[str]:
        return frozenset()

    def record(self, psn_no: str) -> None:
        return None


def test_the_insured_regions_benefit_check_refuses_a_visitor_it_does_not_cover_and_writes_nothing(
    region: tuple[str, RouteTable, FilingStore, PolicyBook],
) -> None:
    url, inbound, filings, book = region
    with Ledger.open(url) as led:
        with pytest.raises(FieldError) as err:
            xr.settle_inbound(inbound, filings, led, book, _body(3, "E1"), _NobodyInsured())
        assert led.message("E1") is None
    assert err.value.code == "not_enrolled" and err.value.reason.startswith("人员待遇享受检查未通过")
    assert inbound.get("E1") is None  # nothing half-written: a later settle of the msgid may still come


def test_a_line_the_care_regions_in_event_audit_blocks_is_settled_fully_self_paid_at_home(
    region: tuple[str, RouteTable, FilingStore, PolicyBook],
) -> None:
    url, inbound, filings, book = region
    block = {"feedetl_sn": "1", "rule_code": "R-DEMO", "severity": "block",
             "reason_zh": "就医地事中审核拦截", "reason_en": "blocked by the care region"}  # fmt: skip
    with Ledger.open(url) as led:
        plain, _ = xr.settle_inbound(inbound, filings, led, book, _body(4, "F1"))
        audited, _ = xr.settle_inbound(inbound, filings, led, book, {**_body(5, "F2"), "audit": [block]})
        with pytest.raises(FieldError) as err:
            xr.settle_inbound(
                inbound, filings, led, book, {**_body(6, "F3"), "audit": [{**block, "feedetl_sn": "9"}]}
            )
    first = 85_000  # line 1: 阑尾切除术 850.00, class A
    a, p = audited.settlement, plain.settlement
    assert a.medfee_sumamt == p.medfee_sumamt and a.fulamt_ownpay_amt == p.fulamt_ownpay_amt + first
    assert a.fund_pay_sumamt < p.fund_pay_sumamt
    assert [(f.feedetl_sn, f.severity) for f in a.audit] == [("1", "block")]
    assert err.value.field == "audit[0].feedetl_sn"
