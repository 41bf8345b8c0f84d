"""The dashboard's pure figures: months payable, bands, alerts, breakdowns and cost drivers."""

from __future__ import annotations

import polars as pl
import pytest

from yibao.fund import core
from yibao.fund.core import FRAME_SCHEMA, Bands

BANDS = Bands(3, 6, 9, 15, "test")


def test_months_payable_is_balance_over_average_monthly_expenditure() -> None:
    # balance 900, spent 300 over 2 months → average 150 → 6.00 months
    assert core.months_payable(900, 300, 2) == 600
    assert core.months_payable(100, 300, 1) == 33  # 0.333… rounds toward −∞ in hundredths
    assert core.months_payable(-100, 300, 1) == -34
    assert core.months_payable(100, 0, 3) is None


@pytest.mark.parametrize(
    ("x100", "expected"),
    [
        (None, "none"),
        (-5, "red"),
        (299, "red"),
        (300, "amber"),
        (599, "amber"),
        (600, "target"),
        (900, "target"),
        (901, "high"),
        (1500, "high"),
        (1501, "excessive"),
    ],
)
def test_bands_follow_the_parameters(x100: int | None, expected: str) -> None:
    assert core.band(x100, BANDS) == expected


def test_fund_by_month_accumulates_the_balance() -> None:
    rows = core.fund_by_month(
        {"2025-01": 100, "2025-02": 300}, {"2025-01": 200, "2025-02": 200}, 1_000, BANDS
    )
    assert [(r.month, r.balance) for r in rows] == [("2025-01", 1_100), ("2025-02", 1_000)]
    # Feb: balance 1000 / (400 / 2) = 5.00 months → amber
    assert (rows[1].months_x100, rows[1].band) == (500, "amber")
    assert (rows[0].months_x100, rows[0].band) == (1_100, "high")


def test_alerts_name_the_scheme_and_the_band() -> None:
    rows = {
        "390": core.fund_by_month({"2025-01": 1_000}, {"2025-01": 1_100}, 0, BANDS),
        "310": core.fund_by_month({"2025-01": 100}, {"2025-01": 800}, 0, BANDS),
    }  # 7 months: fine
    alerts = core.alerts_for({"390": ("居民", "residents")}, rows, BANDS)
    assert [(a.level, a.scheme) for a in alerts] == [("red", "390")]
    assert "居民" in alerts[0].zh and "residents" in alerts[0].en


def test_a_deficit_is_an_alert_even_with_a_large_balance() -> None:
    rows = {"310": core.fund_by_month({"2025-01": 100}, {"2025-01": 50}, 10_000, BANDS)}
    alerts = core.alerts_for({}, rows, BANDS)
    assert [a.level for a in alerts] == ["amber", "red"]  # 99 months: excessive; and a deficit


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {
        "month": "2025-01",
        "insutype": "310",
        "med_type": "11",
        "hosp_lv": "1",
        "fixmedins_code": "H1",
        "district": "碑林区",
        "diagnosis": "J06",
        "medfee": 0,
        "fund": 0,
        "hifp": 0,
        "cash": 0,
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema=FRAME_SCHEMA)


def test_breakdown_sums_per_key_largest_first() -> None:
    df = _frame(
        [
            {"hosp_lv": "1", "medfee": 100, "fund": 60, "cash": 40},
            {"hosp_lv": "3", "medfee": 500, "fund": 300, "cash": 200},
            {"hosp_lv": "1", "medfee": 50, "fund": 20, "cash": 30},
        ]
    )
    g = core.breakdown(df, "hosp_lv")
    assert [(x.key, x.visits, x.medfee, x.fund, x.cash) for x in g] == [
        ("3", 1, 500, 300, 200),
        ("1", 2, 150, 80, 70),
    ]


def test_expenditure_is_the_pooled_fund_per_scheme_and_month() -> None:
    df = _frame(
        [
            {"insutype": "310", "month": "2025-01", "hifp": 7},
            {"insutype": "310", "month": "2025-01", "hifp": 5},
            {"insutype": "390", "month": "2025-02", "hifp": 11},
        ]
    )
    assert core.expenditure_by_scheme_month(df) == {"310": {"2025-01": 12}, "390": {"2025-02": 11}}


def test_top_items_and_diagnoses() -> None:
    lines = pl.DataFrame({"code": ["A", "B", "A", "C"], "amount": [10, 50, 45, 1]}, schema=core.LINE_SCHEMA)
    assert core.top_items(lines, 2) == [("A", 2, 55), ("B", 1, 50)]
    df = _frame(
        [
            {"diagnosis": "I10", "medfee": 9},
            {"diagnosis": "", "medfee": 99},
            {"diagnosis": "E11", "medfee": 3},
        ]
    )
    assert [g.key for g in core.top_by(df, "diagnosis", 5)] == ["I10", "E11"]  # blank diagnoses left out


def test_shipped_parameters_load_with_sources() -> None:
    p = core.load_params()
    assert (p.bands.red_below, p.bands.amber_below, p.bands.target_upto, p.bands.excessive_above) == (
        3,
        6,
        9,
        15,
    )
    assert "人社部发〔2009〕67号" in p.bands.source


def _fund_params() -> dict[str, object]:
    import yaml

    from yibao.fund.params import HERE

    data: dict[str, object] = yaml.safe_load((HERE / "params.yaml").read_text(encoding="utf-8"))
    return data


def test_bands_must_rise() -> None:
    from yibao.fund.params import FundParams, FundParamsError, parse

    data = _fund_params()
    data["months_payable"] = {**data["months_payable"], "red_below": 7}  # type: ignore[dict-item]
    with pytest.raises(FundParamsError) as e:
        parse(FundParams, data, "params.yaml")
    assert e.value.field.startswith("params.yaml:months_payable")


def test_every_number_cites_a_listed_source() -> None:
    from yibao.fund.params import FundParams, FundParamsError, parse

    data = _fund_params()
    data["interest"] = {**data["interest"], "source": "a blog"}  # type: ignore[dict-item]
    with pytest.raises(FundParamsError) as e:
        parse(FundParams, data, "params.yaml")
    assert e.value.field == "interest.source"
