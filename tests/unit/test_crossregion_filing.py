"""Filing (备案): types, channels, validity, cancel / change, and the locality a visit is settled under."""

from __future__ import annotations

import datetime as dt

import pytest

from yibao.crossregion.filing import Filing, FilingError, cancel, change, coverage, new_filing
from yibao.crossregion.params import load_params

RULES = load_params().filing
D = dt.date


def _file(**kw: object) -> Filing:
    data = {
        "psn_no": "P1",
        "care_admdvs": "110000",
        "type_code": "12",
        "channel": "app",
        "begin": "2025-01-10",
    }
    data.update({k: v for k, v in kw.items() if k not in ("today", "fid")})
    return new_filing(
        data,
        filing_id=str(kw.get("fid", "F1")),
        insu_admdvs="610100",
        today=kw["today"] if isinstance(kw.get("today"), dt.date) else D(2025, 1, 10),  # type: ignore[arg-type]
        rules=RULES,
    )


def test_long_term_filing_is_open_ended_and_settles_as_long_term() -> None:
    f = _file()
    assert f.end is None and f.kind == "long_term"
    cov = coverage([f], "110105", D(2025, 3, 1), D(2025, 3, 9))
    assert (cov.locality, cov.filing_id) == ("remote_longterm", "F1")


def test_temporary_filing_gets_the_minimum_validity_and_settles_as_filed() -> None:
    f = _file(type_code="23")
    assert f.end == D(2025, 7, 10)
    assert coverage([f], "110000", D(2025, 7, 10), D(2025, 7, 12)).locality == "remote_filed"
    assert coverage([f], "110000", D(2025, 7, 11), D(2025, 7, 12)).locality == "remote_unfiled"


def test_a_shorter_temporary_validity_is_refused_naming_the_field() -> None:
    with pytest.raises(FilingError) as e:
        _file(type_code="23", end="2025-02-01")
    assert e.value.field == "end" and "6个月" in e.value.reason


def test_referral_needs_a_reason_and_unknown_codes_are_named() -> None:
    with pytest.raises(FilingError) as e:
        _file(type_code="21")
    assert e.value.field == "reason"
    with pytest.raises(FilingError) as e:
        _file(type_code="99")
    assert e.value.field == "type_code"
    with pytest.raises(FilingError) as e:
        _file(channel="fax")
    assert e.value.field == "channel"
    with pytest.raises(FilingError) as e:
        _file(care_admdvs="610100")
    assert e.value.field == "care_admdvs"


def test_emergency_is_treated_as_filed_and_nothing_else_is() -> None:
    assert coverage([], "110000", D(2025, 3, 1), D(2025, 3, 2), emergency=True).locality == "remote_filed"
    assert coverage([], "110000", D(2025, 3, 1), D(2025, 3, 2)).locality == "remote_unfiled"


def test_filing_before_discharge_counts_after_does_not() -> None:
    f = _file(type_code="23", begin="2025-03-05", today=D(2025, 3, 5))
    assert coverage([f], "110000", D(2025, 3, 1), D(2025, 3, 8)).locality == "remote_filed"
    late = _file(type_code="23", begin="2025-03-09", today=D(2025, 3, 9))
    assert coverage([late], "110000", D(2025, 3, 1), D(2025, 3, 8)).locality == "remote_unfiled"


def test_place_matching_by_province_and_city() -> None:
    city = _file(care_admdvs="110100")
    assert coverage([city], "110105", D(2025, 3, 1), D(2025, 3, 2)).locality == "remote_longterm"
    assert coverage([city], "120105", D(2025, 3, 1), D(2025, 3, 2)).locality == "remote_unfiled"


def test_long_term_is_locked_then_can_change_and_the_old_one_stops() -> None:
    f = _file()
    with pytest.raises(FilingError) as e:
        cancel(f, D(2025, 5, 1), RULES)
    assert e.value.code == "locked"
    old, new = change(f, {"care_admdvs": "310000"}, new_id="F2", on=D(2025, 8, 1), rules=RULES)
    assert old.status == "changed" and old.end == D(2025, 7, 31) and new.replaces == "F1"
    both = [old, new]
    assert coverage(both, "310101", D(2025, 8, 2), D(2025, 8, 3)).filing_id == "F2"
    assert coverage(both, "110101", D(2025, 8, 2), D(2025, 8, 3)).locality == "remote_unfiled"
    assert coverage(both, "110101", D(2025, 7, 20), D(2025, 7, 22)).filing_id == "F1"


def test_temporary_can_be_cancelled_at_once_and_twice_is_refused() -> None:
    f = _file(type_code="23")
    c = cancel(f, D(2025, 2, 1), RULES)
    assert c.status == "cancelled" and c.end == D(2025, 1, 31)
    with pytest.raises(FilingError) as e:
        cancel(c, D(2025, 2, 2), RULES)
    assert e.value.code == "not_active"
