"""Fund accounts: entries in, balances out — months payable (人社部发〔2009〕67号 bands), interest, transfers,
payments by fund, the current-year balance rate, and refusals that name the field."""

from __future__ import annotations

import polars as pl
import pytest

from yibao.fund import accounts
from yibao.fund.accounts import ENTRY_SCHEMA, FundError
from yibao.fund.params import load_params

FP = load_params()
CODES = FP.codes()


def _entries(rows: list[tuple[str, str, str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ENTRY_SCHEMA, orient="row")


def test_months_payable_is_the_balance_over_the_average_monthly_payments_floored_in_hundredths() -> None:
    assert accounts.months_payable(900, 300, 2) == 600  # 900 / (300 / 2) = 6.00
    assert accounts.months_payable(100, 300, 1) == 33  # 0.333… rounds toward −∞
    assert accounts.months_payable(-100, 300, 1) == -34
    assert accounts.months_payable(100, 0, 3) is None


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
def test_bands_follow_the_3_6_9_15_month_lines_of_the_policy_file(x100: int | None, expected: str) -> None:
    assert accounts.band(x100, FP.months_payable) == expected


def test_interest_is_a_twelfth_of_the_yearly_rate_half_up_and_none_on_an_overdrawn_fund() -> None:
    # 1,000,000 fen × 1.5 % / 12 = 1,250 fen; 1 fen × 1.5 % / 12 = 0.00125 → 0
    assert accounts.monthly_interest(1_000_000, 150) == 1_250
    assert accounts.monthly_interest(1, 150) == 0
    assert accounts.monthly_interest(40_001, 150) == 50  # 50.00125 → 50
    assert accounts.monthly_interest(40_400, 150) == 51  # 50.5 → 51 (half up)
    assert accounts.monthly_interest(-1_000_000, 150) == 0


def test_interest_compounds_month_by_month_on_the_balance_carried_in() -> None:
    e = _entries([("2025-01", "310100", "opening", "x", "", 1_200_000)])
    months = ["2025-01", "2025-02"]
    i = accounts.interest_entries(e, months, 1_200)  # 1 % a month
    # January: nothing carried in yet (the opening is booked in January) → 0; February: 1 % of 1,200,000
    assert i.select("month", "amount_fen").rows() == [("2025-02", 12_000)]
    e2 = _entries([("2024-12", "310100", "opening", "x", "", 1_200_000)])
    i2 = accounts.interest_entries(e2, months, 1_200)
    assert i2["amount_fen"].to_list() == [
        12_000,
        12_120,
    ]  # the second month earns on the first's interest too


def test_positions_carry_every_kind_of_entry_into_the_closing_balance() -> None:
    e = pl.concat(
        [
            accounts.opening_entries("2025-01", {"310100": 10_000}, "audited"),
            _entries(
                [
                    ("2025-01", "310100", "income", "employer", "", 3_000),
                    ("2025-01", "310100", "payment", "21", "", 2_000),
                    ("2025-01", "310100", "interest", "bank", "", 15),
                    ("2025-02", "310100", "payment", "11", "", 1_000),
                ]
            ),
            accounts.transfer_entries("2025-02", "310100", "310200", 500, "retiree_account"),
        ]
    )
    pos = accounts.positions(e, ["310100", "310200"], FP.months_payable)
    jan, feb = pos["310100"]
    assert (jan.opening, jan.income, jan.payments, jan.interest, jan.closing) == (
        10_000,
        3_000,
        2_000,
        15,
        11_015,
    )
    assert (feb.opening, feb.transfer_out, feb.payments, feb.closing) == (11_015, 500, 1_000, 9_515)
    assert feb.months_x100 == 9_515 * 100 * 2 // 3_000  # average of the two months' payments
    assert pos["310200"][1].transfer_in == 500 and pos["310200"][1].closing == 500
    assert jan.income_by_source == {"employer": 3_000} and jan.payments_by_type == {"21": 2_000}


def test_a_transfer_moves_money_between_funds_without_creating_any() -> None:
    t = accounts.transfer_entries("2025-03", "310100", "310200", 777, "retiree_account")
    pos = accounts.positions(t, ["310100", "310200"], FP.months_payable)
    assert pos["310100"][0].closing + pos["310200"][0].closing == 0
    with pytest.raises(FundError) as e:
        accounts.transfer_entries("2025-03", "310100", "310100", 1, "x")
    assert e.value.field == "counterpart"


def test_payments_go_to_the_fund_their_money_field_and_scheme_say() -> None:
    spending = pl.DataFrame(
        {
            "month": ["2025-01", "2025-01", "2025-02"],
            "insutype": ["310", "390", "390"],
            "med_type": ["21", "21", "11"],
            **{f: [0, 0, 0] for f in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "acct_pay")},
        }
    ).with_columns(
        pl.Series("hifp_pay", [700, 500, 40]),
        pl.Series("hifmi_pay", [0, 90, 0]),
        pl.Series("acct_pay", [30, 0, 0]),
    )
    e = accounts.payment_entries(spending, FP.funds)
    got = {(r["month"], r["fund_pay_type"], r["source"]): r["amount_fen"] for r in e.iter_rows(named=True)}
    assert got == {
        ("2025-01", "310100", "21"): 700,  # hifp_pay of employees only
        ("2025-01", "390100", "21"): 500,
        ("2025-02", "390100", "11"): 40,
        ("2025-01", "390200", "21"): 90,
        ("2025-01", "310200", "21"): 30,
    }


def test_income_in_the_enrolment_shape_is_checked_row_by_row() -> None:
    good = pl.DataFrame(
        {"month": ["2025-01"], "fund_pay_type": ["390100"], "source": ["fiscal_subsidy"], "amount_fen": [5]}
    )
    assert accounts.income_entries(good, CODES)["kind"].to_list() == ["income"]
    for bad, field in (
        (good.with_columns(pl.lit("gift").alias("source")), "income.source"),
        (good.with_columns(pl.lit("999999").alias("fund_pay_type")), "income.fund_pay_type"),
        (good.with_columns(pl.lit("2025-13").alias("month")), "income.month"),
        (good.with_columns(pl.lit(-1).alias("amount_fen")), "income.amount_fen"),
        (good.drop("source"), "income.source"),
    ):
        with pytest.raises(FundError) as e:
            accounts.income_entries(bad, CODES)
        assert e.value.field == field
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e.value.reason)  # Chinese first


def test_yearly_sums_and_the_current_year_balance_rate() -> None:
    e = _entries(
        [
            ("2025-01", "390100", "income", "individual", "", 1_000),
            ("2025-06", "390100", "payment", "21", "", 950),
            ("2026-01", "390100", "income", "individual", "", 1_000),
            ("2026-03", "390100", "payment", "21", "", 1_200),
        ]
    )
    y25, y26 = accounts.yearly(accounts.positions(e, ["390100"], FP.months_payable)["390100"])
    assert (y25.income, y25.payments, y25.closing, y25.balance_rate) == (1_000, 950, 50, 500)  # 5.00 %
    assert (y26.opening, y26.closing, y26.balance_rate) == (50, -150, -2_000)  # −20.00 %
    assert accounts.balance_rate(0, 10) is None


def test_month_arithmetic() -> None:
    assert accounts.month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert accounts.add_months("2025-12", 1) == "2026-01" and accounts.add_months("2025-01", -1) == "2024-12"
