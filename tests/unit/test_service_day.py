"""A fee line's service day (2204 ``fee_ocur_time``) reaches the in-event audit from every entry: a bed
billed once on each of three days is normal care, the same bed twice on one day is a duplicate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.settings import Settings
from yibao.settlement.io import parse_visit
from yibao.settlement.model import Person

BED = "001109000010000"  # 普通病房床位费（三人间）: once a day in the example knowledge


def _stay(days: list[str]) -> dict[str, Any]:
    return {
        "mdtrt_id": "M1",
        "psn_no": "P1",
        "med_type": "21",
        "fixmedins_code": "H61000000001",
        "hosp_lv": "3",
        "begntime": "2025-05-03",
        "endtime": "2025-05-06",
        "diagnoses": ["J18.9"],
        "feedetail": [
            {
                "feedetl_sn": str(i + 1),
                "med_list_codg": BED,
                "cnt": 1,
                "pric": "30.00",
                "det_item_fee_sumamt": "30.00",
                "fee_ocur_time": day,
            }
            for i, day in enumerate(days)
        ],
    }


def _duplicates(raw: dict[str, Any]) -> set[str]:
    hook = Settings().audit_hook()
    assert hook is not None
    person = Person("P1", "", "x", "F", dt.date(1990, 1, 1), "310", "11")
    return {str(f.feedetl_sn) for f in hook(person, parse_visit(raw)) if f.rule_code == "GZ-YB-007"}


def test_the_service_day_is_read_from_the_line() -> None:
    visit = parse_visit(_stay(["2025-05-03 08:00:00", "2025-05-04"]))
    assert [ln.fee_ocur_time for ln in visit.lines] == [dt.date(2025, 5, 3), dt.date(2025, 5, 4)]


def test_a_bed_once_a_day_is_not_a_duplicate() -> None:
    assert _duplicates(_stay(["2025-05-03", "2025-05-04", "2025-05-05"])) == set()


def test_a_bed_twice_on_one_day_is_a_duplicate() -> None:
    assert _duplicates(_stay(["2025-05-03", "2025-05-04", "2025-05-04"])) == {"3"}


def test_a_service_day_outside_the_visit_is_refused_naming_the_line() -> None:
    import pytest

    from yibao.settlement.model import SettlementError

    with pytest.raises(SettlementError) as err:
        parse_visit(_stay(["2025-05-03", "2031-01-01"]))
    assert err.value.field == "feedetail[1].fee_ocur_time" and err.value.code == "range"
    assert str(err.value.reason).startswith("费用发生日期 2031-01-01 不在就诊期间")
