"""Strict input fields: flags, texts, codes, dates and amounts in exactly the forms the national interface
defines, anything else refused naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yibao import fields
from yibao.fields import InputError
from yibao.settlement.io import parse_visit
from yibao.settlement.model import SettlementError


@pytest.mark.parametrize(("raw", "want"), [("1", True), ("0", False), (1, True), (0, False), (True, True),
                                           (False, False), ("true", True), ("False", False)])  # fmt: skip
def test_a_flag_is_one_or_zero_or_true_or_false(raw: object, want: bool) -> None:
    assert fields.parse_flag(raw, "emergency") is want


@pytest.mark.parametrize("raw", ["N", "Y", "no", "2", 2, -1, "0 ", 1.0, [], {}])
def test_anything_else_is_not_a_flag(raw: object) -> None:
    with pytest.raises(InputError) as e:
        fields.parse_flag(raw, "emergency")
    assert e.value.field == "emergency" and "标志" in e.value.reason


def test_emergency_zero_false_or_n_is_never_an_emergency() -> None:
    base = {"mdtrt_id": "M1", "psn_no": "P1", "med_type": "21", "fixmedins_code": "H1", "hosp_lv": "3",
            "begntime": "2025-03-01", "locality": "remote_unfiled",
            "feedetail": [{"med_list_codg": "A", "cnt": "1", "pric": "10", "det_item_fee_sumamt": "10"}]}  # fmt: skip
    assert parse_visit({**base, "emergency": "0"}).emergency is False
    assert parse_visit({**base, "emergency": "false"}).emergency is False
    assert parse_visit({**base, "emergency": "1"}).emergency is True
    assert parse_visit(base).emergency is False
    with pytest.raises(SettlementError) as e:
        parse_visit({**base, "emergency": "N"})
    assert e.value.field == "emergency"


@pytest.mark.parametrize("raw", ["2025-05-03garbage", "2025-13-01", "03/05/2025", "20250503", "<script>"])
def test_a_date_is_exactly_a_date(raw: str) -> None:
    with pytest.raises(InputError):
        fields.parse_date(raw, "begntime")


def test_a_date_may_carry_a_time() -> None:
    assert fields.parse_date("2025-05-03 10:11:12", "d") == dt.date(2025, 5, 3)
    assert fields.parse_datetime("2025-05-03 10:11:12", "t") == dt.datetime(2025, 5, 3, 10, 11, 12)


@pytest.mark.parametrize(("raw", "fen"), [("12.5", 1250), (12, 1200), ("99999999999999.99", 9_999_999_999_999_999),
                                          (Decimal("0.01"), 1), ("0", 0)])  # fmt: skip
def test_money_is_16_2_in_fen(raw: object, fen: int) -> None:
    assert fields.parse_money(raw, "pric") == fen


@pytest.mark.parametrize("raw", ["100000000000000.00", "1e999", "12.345", "-1", "NaN", "Infinity", 1.5, True,
                                 "1" * 4300, "", None])  # fmt: skip
def test_money_outside_16_2_is_refused(raw: object) -> None:
    with pytest.raises(InputError) as e:
        fields.parse_money(raw, "pric")
    assert e.value.field == "pric"


def test_text_has_a_length_and_no_control_characters() -> None:
    assert fields.parse_text("H61", "fixmedins_code", max_len=30) == "H61"
    for bad in ("x" * 31, "a\x00b", "a\ud800b"):
        with pytest.raises(InputError):
            fields.parse_text(bad, "fixmedins_code", max_len=30)


def test_a_code_comes_from_its_table() -> None:
    assert fields.parse_code("02", "mdtrt_cert_type", {"01", "02", "03"}) == "02"
    with pytest.raises(InputError) as e:
        fields.parse_code("04", "mdtrt_cert_type", {"01", "02", "03"})
    assert e.value.code == "bad_code"


def test_a_diagnosis_must_look_like_an_icd10_code() -> None:
    base = {"mdtrt_id": "M1", "psn_no": "P1", "med_type": "11", "fixmedins_code": "H1", "hosp_lv": "1",
            "begntime": "2025-03-01",
            "feedetail": [{"med_list_codg": "A", "cnt": "1", "pric": "10", "det_item_fee_sumamt": "10"}]}  # fmt: skip
    assert parse_visit({**base, "diagnoses": ["I10", "E11.900", "J45.901"]}).diagnoses[0] == "I10"
    with pytest.raises(SettlementError) as e:
        parse_visit({**base, "diagnoses": ["<script>"]})
    assert e.value.field == "diagnoses[0]"
