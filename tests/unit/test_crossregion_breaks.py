"""Which actions close a reconciliation break between a region and the hub (pure), and the use case that
takes one: a reason is required, the action must fit the break, and every attempt is recorded, refused
ones included."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yibao.crossregion.clearing import break_actions
from yibao.crossregion.schema import xr_outbound
from yibao.crossregion.store import BreakLog, RouteTable, engine_for
from yibao.errors import FieldError
from yibao.usecases import crossregion as xr


@pytest.mark.parametrize(
    ("kind", "side", "here", "there", "actions"),
    [
        ("missing_there", "care", "settled:100", "", ("reverse", "request_resend")),
        ("missing_here", "care", "", "settled:100", ("reverse", "accept_other", "dispute")),
        ("missing_here", "insured", "", "settled:100", ("reverse", "dispute")),
        ("amount_differs", "care", "100", "120", ("accept_other", "request_resend", "dispute")),
        ("amount_differs", "insured", "120", "100", ("request_resend", "dispute")),
        ("status_differs", "care", "settled", "reversed", ("accept_other",)),
        ("status_differs", "care", "reversed", "settled", ("reverse", "dispute")),
        ("status_differs", "insured", "settled", "reversed", ("accept_other",)),
        ("status_differs", "insured", "reversed", "settled", ("reverse", "dispute")),
    ],
)
def test_each_break_gets_the_actions_that_close_it_the_suggested_one_first(
    kind: str, side: Any, here: str, there: str, actions: tuple[str, ...]
) -> None:
    assert break_actions(kind, side, here, there) == actions


def test_the_insured_region_never_takes_an_amount_or_a_settlement_from_outside_its_ledger() -> None:
    for kind, here, there in (("amount_differs", "120", "100"), ("missing_here", "", "settled:1")):
        assert "accept_other" not in break_actions(kind, "insured", here, there)


class FakeHub:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer, self.calls = answer, []  # type: ignore[var-annotated]

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((path, body))
        return self.answer


@pytest.fixture
def tables(tmp_path: Path) -> Iterator[tuple[RouteTable, BreakLog]]:
    from yibao.db import migrate

    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate.upgrade(url)
    engine = engine_for(url)
    yield RouteTable(engine, xr_outbound), BreakLog(engine)
    engine.dispose()


def _resolve(
    case: xr.BreakCase, action: str, reason: str, hub: FakeHub, out: RouteTable, log: BreakLog
) -> str:
    care = xr.CareSide(out, hub, "610100")  # type: ignore[arg-type]
    return xr.resolve_break(case, action, reason, "经办员甲（u1）", own_admdvs="610100", hub=hub,  # type: ignore[arg-type]
                            log=log, care=care, inbound=out, ledger=contextlib.nullcontext,  # type: ignore[arg-type]
                            today=dt.date(2025, 7, 3))  # fmt: skip


HUB_ROUTE = {"status": "settled", "setl_id": "S1", "medfee_sumamt": 300, "fund_pay_sumamt": 120, "acct_pay": 5,
             "setl_date": "2025-06-12"}  # fmt: skip


def test_a_reason_is_required_and_nothing_is_done_or_recorded_without_one(
    tables: tuple[RouteTable, BreakLog],
) -> None:
    out, log = tables
    hub = FakeHub({"ok": True})
    case = xr.BreakCase("M1", "care", "missing_here", "", "settled:125", "610500", HUB_ROUTE)
    with pytest.raises(FieldError) as e:
        _resolve(case, "dispute", "   ", hub, out, log)
    assert e.value.field == "reason" and e.value.reason.startswith("请填写处理理由")
    assert hub.calls == [] and log.recent() == []


def test_an_action_that_does_not_fit_the_break_is_refused_naming_the_action(
    tables: tuple[RouteTable, BreakLog],
) -> None:
    out, log = tables
    case = xr.BreakCase("M1", "care", "missing_there", "settled:125", "", "610500", {})
    with pytest.raises(FieldError) as e:
        _resolve(case, "dispute", "核实中", FakeHub({"ok": True}), out, log)
    assert e.value.field == "action" and "标记疑点" in e.value.reason


def test_accepting_the_hubs_record_writes_it_here_and_records_who_and_why(
    tables: tuple[RouteTable, BreakLog],
) -> None:
    out, log = tables
    case = xr.BreakCase("M1", "care", "missing_here", "", "settled:125", "610500", HUB_ROUTE)
    note = _resolve(case, "accept_other", "医院确认已收到应答", FakeHub({"ok": True}), out, log)
    assert note.startswith("已按清算中心记录补记")
    row = out.get("M1")
    assert row is not None
    assert (row["status"], row["insu_admdvs"], row["fund_pay_sumamt"], row["acct_pay"], row["setl_id"]) == (
        "settled", "610500", 120, 5, "S1")  # fmt: skip
    (rec,) = log.recent()
    assert (rec["actor"], rec["reason"], rec["outcome"], rec["action"]) == (
        "经办员甲（u1）", "医院确认已收到应答", "done", "accept_other")  # fmt: skip
    assert dt.datetime.fromisoformat(rec["at"]).utcoffset() == dt.timedelta(0)


def test_a_dispute_goes_to_the_hub_in_the_settlements_month_and_a_refusal_is_recorded(
    tables: tuple[RouteTable, BreakLog],
) -> None:
    out, log = tables
    case = xr.BreakCase("M1", "insured", "missing_here", "", "settled:125", "610500", HUB_ROUTE)
    hub = FakeHub({"msgid": "M1", "raised": "2025-06", "state": "open"})
    assert "2025-06" in _resolve(case, "dispute", "待核实", hub, out, log)
    assert hub.calls == [("/hub/v1/disputes", {"msgid": "M1", "month": "2025-06", "reason": "待核实"})]
    refusing = FakeHub({"detail": [{"loc": ["body", "msgid"], "msg": "报文 M1 已有疑点 already disputed",
                                    "type": "duplicate"}]})  # fmt: skip
    with pytest.raises(FieldError) as e:
        _resolve(case, "dispute", "再报", refusing, out, log)
    assert (e.value.field, e.value.code) == ("msgid", "duplicate")
    assert [(r["outcome"], r["reason"]) for r in log.recent()] == [("refused", "再报"), ("done", "待核实")]
