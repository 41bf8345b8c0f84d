"""Visit JSON parsing at the edge, and the explanation derived from a result."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from yibao.policy.book import PolicyBook
from yibao.settlement import io
from yibao.settlement.allocation import line_splits
from yibao.settlement.engine import settle_visit
from yibao.settlement.explain import explain
from yibao.settlement.model import Person, SettlementError

FIXTURE = Path(__file__).parent.parent / "fixtures" / "region.yaml"


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    return PolicyBook.from_file(FIXTURE).for_date(dt.date(2025, 5, 1))


def worker(**kw: object) -> Person:
    base = dict(
        psn_no="P1",
        name="张三",
        certno="x",
        gender="M",
        birth_date=dt.date(1980, 1, 1),
        insutype="310",
        psn_type="11",
    )
    base.update(kw)
    return Person(**base)  # type: ignore[arg-type]


def visit_json(**over: object) -> dict[str, object]:
    v: dict[str, object] = {
        "mdtrt_id": "M1",
        "psn_no": "P1",
        "med_type": "21",
        "fixmedins_code": "H1",
        "hosp_lv": "3",
        "begntime": "2025-05-01",
        "endtime": "2025-05-09",
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "C01",
                "cnt": 1,
                "pric": "1000.00",
                "det_item_fee_sumamt": "1000.00",
            },
            {
                "feedetl_sn": "2",
                "med_list_codg": "M01",
                "cnt": 1,
                "pric": "1400",
                "det_item_fee_sumamt": "1400",
            },
            {
                "feedetl_sn": "3",
                "med_list_codg": "B10",
                "cnt": 2,
                "pric": "3000",
                "det_item_fee_sumamt": "6000",
            },
            {
                "feedetl_sn": "4",
                "med_list_codg": "A01",
                "cnt": "0.5",
                "pric": "23200",
                "det_item_fee_sumamt": "11600",
            },
        ],
    }
    v.update(over)
    return v


def parse(d: dict[str, object]):  # type: ignore[no-untyped-def]
    return io.parse_visit(io.loads(json.dumps(d)))


def test_json_numbers_are_parsed_exactly_as_decimals_not_floats() -> None:
    raw = io.loads('{"a": 0.1}')
    assert str(raw["a"]) == "0.1"


def test_the_worked_example_round_trips_through_json(policy) -> None:  # type: ignore[no-untyped-def]
    v = parse(visit_json())
    assert v.lines[3].qty == 5_000 and v.lines[3].amount == 1_160_000
    s = settle_visit(policy, worker(), v, {}, 0)
    info = io.setlinfo(s, "S1")
    assert info["hifp_pay"] == "13440.00" and info["psn_part_amt"] == "6560.00"
    assert info["pool_prop_selfpay"] == "0.8000"
    assert [d["fund_pay_type"] for d in io.setldetail(s)] == ["310100"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"feedetail": []}, "feedetail"),
        ({"psn_no": None}, "psn_no"),
        ({"begntime": "2025-13-01"}, "begntime"),
        ({"endtime": "2025-04-01"}, "endtime"),
        ({"locality": "mars"}, "locality"),
    ],
)
def test_bad_visit_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(SettlementError) as ei:
        parse(visit_json(**change))
    assert ei.value.field == field


@pytest.mark.parametrize(
    ("line_change", "field", "reason_part"),
    [
        ({"det_item_fee_sumamt": "-5"}, "feedetail[0].det_item_fee_sumamt", "negative"),
        ({"det_item_fee_sumamt": "1000.001"}, "feedetail[0].det_item_fee_sumamt", "two decimals"),
        ({"pric": "999.00"}, "feedetail[0].det_item_fee_sumamt", "pric × cnt"),
        ({"cnt": 0}, "feedetail[0].cnt", "positive"),
        ({"cnt": "abc"}, "feedetail[0].cnt", "not a number"),
        ({"med_list_codg": ""}, "feedetail[0].med_list_codg", "required"),
    ],
)
def test_bad_line_amounts_are_named_with_the_reason(
    line_change: dict[str, object], field: str, reason_part: str
) -> None:
    d = visit_json()
    lines = d["feedetail"]
    assert isinstance(lines, list)
    lines[0] = {**lines[0], **line_change}
    with pytest.raises(SettlementError) as ei:
        parse(d)
    assert ei.value.field == field
    assert reason_part in ei.value.reason


def test_duplicate_line_serials_are_refused() -> None:
    d = visit_json()
    lines = d["feedetail"]
    assert isinstance(lines, list)
    lines[1] = {**lines[1], "feedetl_sn": "1"}
    with pytest.raises(SettlementError, match="duplicate"):
        parse(d)


def test_every_line_adds_up_and_lines_add_up_to_the_visit(policy) -> None:  # type: ignore[no-untyped-def]
    v = parse(visit_json())
    s = settle_visit(policy, worker(), v, {"emp-ip-ded:n": 1}, 2_000_00)
    splits = line_splits(s, v.lines)
    for sp in splits:
        assert sp.fulamt_ownpay_amt + sp.overlmt_selfpay + sp.preselfpay_amt + sp.inscp_scp_amt == sp.amount
        assert sum(sp.fund_pay.values()) + sp.acct_pay + sp.psn_cash_pay == sp.amount
    assert sum(sp.act_pay_dedc for sp in splits) == s.act_pay_dedc
    assert sum(sp.fund_pay.get("310100", 0) for sp in splits) == s.hifp_pay
    assert sum(sp.acct_pay for sp in splits) == s.acct_pay == 2_000_00
    assert sum(sp.psn_cash_pay for sp in splits) == s.psn_cash_pay


def test_class_c_lines_get_no_fund_money(policy) -> None:  # type: ignore[no-untyped-def]
    v = parse(visit_json())
    s = settle_visit(policy, worker(), v, {}, 0)
    c_line = line_splits(s, v.lines)[0]
    assert c_line.fund_pay == {} and c_line.psn_cash_pay == c_line.amount


def test_the_explanation_states_the_numbers_in_both_languages(policy) -> None:  # type: ignore[no-untyped-def]
    v = parse(visit_json())
    s = settle_visit(policy, worker(), v, {}, 0)
    text = explain(s, v, policy)
    zh, en = "\n".join(text["zh"]), "\n".join(text["en"])
    assert "起付线" in zh and "1,200.00" in zh and "13,440.00" in zh and "80.00%" in zh
    assert "Deductible" in en and "13,440.00" in en
    assert "丙类" in zh and "先行自付 10%" in zh and "超过医保支付标准" in zh
    assert len(text["zh"]) == len(text["en"])


def test_a_capped_fund_is_explained_as_capped(policy) -> None:  # type: ignore[no-untyped-def]
    v = parse(visit_json())
    s = settle_visit(policy, worker(), v, {"emp-pool-paid": 400_000_00 - 100_00}, 0)
    assert s.hifp_pay == 100_00
    zh = "\n".join(explain(s, v, policy)["zh"])
    assert "年度封顶仅剩 100.00 元" in zh
    assert "大额" in zh
