"""The diagnosis catalogue (医保疾病诊断分类与代码): a code is known when it has the ICD-10 form and its
category lies in a listed block; anything else is refused naming the field, Chinese first."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from yibao.errors import FieldError
from yibao.payment.core import DIP_COLUMNS, ClaimsError, check_claims
from yibao.policy import diagnoses as dx
from yibao.settlement.io import SettlementError, parse_visit

BASE = {"mdtrt_id": "M1", "psn_no": "P1", "med_type": "11", "fixmedins_code": "H1", "hosp_lv": "1",
        "begntime": "2025-03-01",
        "feedetail": [{"med_list_codg": "A", "cnt": "1", "pric": "10", "det_item_fee_sumamt": "10"}]}  # fmt: skip


@pytest.mark.parametrize(
    "code", ["J18.9", "J189", "I10.x00", "E11.900", "A00", "B99", "C97", "U07.1", "Z99.9"]
)
def test_codes_whose_category_is_in_a_block_are_known(code: str) -> None:
    assert dx.national().known(code)
    assert dx.check(code, "f") == code


@pytest.mark.parametrize("code", ["A10", "A14.1", "D49.9", "E99", "H96", "K94.0", "P97", "Y99", "U50"])
def test_codes_in_the_gaps_between_blocks_are_unknown(code: str) -> None:
    with pytest.raises(FieldError) as e:
        dx.check(code, "input.diseinfo[2].diag_code")
    assert e.value.field == "input.diseinfo[2].diag_code" and e.value.code == "unknown_diagnosis"
    assert e.value.reason.startswith("诊断编码") and "not in the diagnosis catalogue" in e.value.reason


@pytest.mark.parametrize("value", ["<script>", "", "J", "18.9", 189, None])
def test_what_is_not_an_icd10_code_is_a_bad_code(value: object) -> None:
    with pytest.raises(FieldError) as e:
        dx.check(value, "diagnoses[0]")
    assert e.value.code == "bad_code"


def test_every_block_names_its_category_in_chinese_and_english() -> None:
    c = dx.national()
    assert c.block_of("J18.9") is not None and c.block_of("J18.9").name == "流行性感冒和肺炎"  # type: ignore[union-attr]
    assert all(b.name and b.name_en and b.first <= b.last for b in c.blocks)
    firsts = [b.first for b in c.blocks]
    assert all(a.last < b.first for a, b in zip(c.blocks, c.blocks[1:], strict=False)), firsts  # no overlap


def test_a_full_code_list_can_be_given_in_the_same_columns() -> None:
    c = dx.parse_catalogue(
        "first,last,chapter,name,name_en\nJ18.900,J18.900,10,肺炎,pneumonia\nI10,I15,9,高血压,h\n"
    )
    assert c.known("J18.900") and c.known("J18900") and c.known("I11.9")
    assert not c.known("J18.0") and not c.known("J19")
    with pytest.raises(ValueError, match="第 2 行"):
        dx.parse_catalogue("first,last,chapter,name,name_en\nJ18.900,J19.000,10,x,x\n")


def test_a_his_visit_with_an_unknown_diagnosis_is_refused_at_input() -> None:
    with pytest.raises(SettlementError) as e:
        parse_visit({**BASE, "diagnoses": ["I10", "A10.0"]})
    assert e.value.field == "diagnoses[1]" and e.value.code == "unknown_diagnosis"
    assert e.value.reason.startswith("诊断编码 'A10.0' 不在")


def test_dip_claims_with_an_unknown_principal_diagnosis_are_refused() -> None:
    frame = pl.DataFrame(
        {
            "case_id": ["c1", "c2"],
            "fixmedins_code": ["H1", "H1"],
            "hosp_lv": ["3", "3"],
            "medfee_sumamt": [100, 200],
            "discharge_date": [dt.date(2025, 1, 1)] * 2,
            "pdx": ["J18.900", "K94.0"],
            "main_procedure": [None, None],
        }
    ).with_columns(pl.col("main_procedure").cast(pl.String))
    with pytest.raises(ClaimsError) as e:
        check_claims(frame, DIP_COLUMNS)
    assert e.value.field == "claims.pdx" and "c2" in e.value.reason and e.value.reason.startswith("病例")
    assert check_claims(frame.head(1), DIP_COLUMNS).height == 1
