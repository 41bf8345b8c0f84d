"""Money arithmetic: integer fen, integer ratios in 1/10000, one stated rounding rule."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.money import (
    RATIO_ONE,
    MoneyError,
    apply_ratio,
    base_for_payment,
    fen_to_yuan,
    fmt_yuan,
    parse_ratio,
    ratio_to_decimal,
    split_largest_remainder,
    yuan_to_fen,
)

# --- yuan_to_fen --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("1200", 120_000),
        ("12.5", 1_250),
        ("12.50", 1_250),
        ("0.01", 1),
        (1200, 120_000),
        ("400,000", 40_000_000),
        (" 3 ", 300),
        ("0", 0),
        (Decimal("1.23"), 123),
    ],
)
def test_yuan_strings_and_integers_become_exact_fen(value: object, fen: int) -> None:
    assert yuan_to_fen(value) == fen


@pytest.mark.parametrize("value", [1.5, 0.1, 1200.0, float("nan")])
def test_floats_are_refused_because_they_cannot_carry_money_exactly(value: float) -> None:
    with pytest.raises(MoneyError, match="float"):
        yuan_to_fen(value)


def test_booleans_are_not_amounts() -> None:
    with pytest.raises(MoneyError):
        yuan_to_fen(True)


@pytest.mark.parametrize("value", ["-1", "-0.01", -5])
def test_negative_amounts_are_refused_unless_allowed(value: object) -> None:
    with pytest.raises(MoneyError, match="negative"):
        yuan_to_fen(value)
    assert yuan_to_fen(value, allow_negative=True) < 0


@pytest.mark.parametrize("value", ["0.001", "12.345", "1.005"])
def test_amounts_finer_than_one_fen_are_refused(value: str) -> None:
    with pytest.raises(MoneyError, match="two decimals"):
        yuan_to_fen(value)


@pytest.mark.parametrize("value", ["abc", "", "1.2.3", "NaN", "Infinity", "-inf"])
def test_non_numbers_and_non_finite_amounts_are_refused(value: str) -> None:
    with pytest.raises(MoneyError):
        yuan_to_fen(value)


def test_fen_display_round_trips_to_two_decimals() -> None:
    assert fen_to_yuan(1_344_000) == Decimal("13440.00")
    assert str(fen_to_yuan(1)) == "0.01"
    assert fmt_yuan(1_344_000) == "13,440.00"


@given(st.integers(min_value=0, max_value=10**15))
def test_fen_to_yuan_and_back_is_the_identity(fen: int) -> None:
    assert yuan_to_fen(str(fen_to_yuan(fen))) == fen


# --- parse_ratio --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "units"),
    [
        ("85%", 8_500),
        ("0.85", 8_500),
        ("1", RATIO_ONE),
        (1, RATIO_ONE),
        (0, 0),
        ("100%", RATIO_ONE),
        ("0.8525", 8_525),
        ("12.5%", 1_250),
        (" 90 % ", 9_000),
    ],
)
def test_ratios_parse_as_decimals_or_percentages_into_ten_thousandths(value: object, units: int) -> None:
    assert parse_ratio(value) == units


@pytest.mark.parametrize("value", ["1.01", "101%", "2", 2])
def test_ratios_above_one_are_refused(value: object) -> None:
    with pytest.raises(MoneyError, match="above 1"):
        parse_ratio(value)


def test_ratios_may_be_negative_only_when_allowed() -> None:
    with pytest.raises(MoneyError, match="negative"):
        parse_ratio("-0.10")
    assert parse_ratio("-0.10", allow_negative=True) == -1_000
    assert parse_ratio("-20%", allow_negative=True) == -2_000


@pytest.mark.parametrize("value", [0.85, 1.0])
def test_float_ratios_are_refused(value: float) -> None:
    with pytest.raises(MoneyError, match="float"):
        parse_ratio(value)


@pytest.mark.parametrize("value", ["0.12345", "85.001%"])
def test_ratios_finer_than_four_decimals_are_refused(value: str) -> None:
    with pytest.raises(MoneyError, match="four decimals"):
        parse_ratio(value)


@pytest.mark.parametrize("value", ["abc", "%", "nan", "inf"])
def test_non_numeric_ratios_are_refused(value: str) -> None:
    with pytest.raises(MoneyError):
        parse_ratio(value)


def test_ratio_goes_out_as_a_four_decimal_field() -> None:
    assert str(ratio_to_decimal(8_000)) == "0.8000"
    assert str(ratio_to_decimal(RATIO_ONE)) == "1.0000"


# --- apply_ratio: half up ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "ratio", "expected"),
    [
        (1, 5_000, 1),  # 0.5 fen → 1 (half up, not to even)
        (3, 5_000, 2),  # 1.5 → 2
        (5, 5_000, 3),  # 2.5 → 3 (banker's rounding would give 2)
        (25, 1_000, 3),  # 2.5 → 3
        (24, 1_000, 2),  # 2.4 → 2
        (4_999, 1, 0),  # 0.4999 → 0
        (5_000, 1, 1),  # 0.5 → 1
        (1_680_000, 8_000, 1_344_000),  # the §1.8 worked example
        (0, 8_000, 0),
        (123_456, RATIO_ONE, 123_456),
        (123_456, 0, 0),
    ],
)
def test_a_ratio_applied_to_an_amount_rounds_half_up_to_the_fen(
    amount: int, ratio: int, expected: int
) -> None:
    assert apply_ratio(amount, ratio) == expected


@given(st.integers(0, 10**12), st.integers(0, RATIO_ONE))
def test_apply_ratio_is_the_exact_product_rounded_half_up(amount: int, ratio: int) -> None:
    exact = Decimal(amount) * ratio / RATIO_ONE
    got = apply_ratio(amount, ratio)
    assert got == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert Decimal(got) - Decimal("0.5") <= exact < Decimal(got) + Decimal("0.5")
    assert got <= amount


# --- base_for_payment: the ceiling inverse ----------------------------------------------------


@pytest.mark.parametrize(
    ("payment", "ratio", "base"),
    [
        (100_000, 8_000, 125_000),
        (1, 8_000, 2),
        (1, RATIO_ONE, 1),
        (0, 8_000, 0),
        (10, 3_000, 34),
        (9, 3_000, 30),
    ],
)
def test_base_for_payment_rounds_the_inverse_up(payment: int, ratio: int, base: int) -> None:
    assert base_for_payment(payment, ratio) == base


@given(st.integers(0, 10**12), st.integers(1, RATIO_ONE))
def test_base_for_payment_is_the_smallest_base_whose_exact_product_reaches_the_payment(
    payment: int, ratio: int
) -> None:
    b = base_for_payment(payment, ratio)
    assert b * ratio >= payment * RATIO_ONE
    assert b == 0 or (b - 1) * ratio < payment * RATIO_ONE
    # the fund is never shown to have used less base than it paid for
    assert apply_ratio(b, ratio) >= payment
    assert b >= payment


@given(st.integers(0, 10**12), st.integers(1, RATIO_ONE))
def test_base_for_payment_never_exceeds_the_base_that_produced_a_payment(base: int, ratio: int) -> None:
    # paying apply_ratio(base) and inverting never claims more base than there was, except by the
    # half-fen rounding: at most the base of one extra fen.
    paid = apply_ratio(base, ratio)
    back = base_for_payment(paid, ratio)
    assert back <= base + base_for_payment(1, ratio)


# --- split_largest_remainder -----------------------------------------------------------------


def test_a_split_gives_the_leftover_fen_to_the_largest_remainders_then_the_earliest() -> None:
    assert split_largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert split_largest_remainder(1, [1, 1]) == [1, 0]
    assert split_largest_remainder(100, [1, 2, 3, 4]) == [10, 20, 30, 40]
    assert split_largest_remainder(7, [0, 5, 5]) == [0, 4, 3]
    assert split_largest_remainder(5, [1, 3]) == [1, 4]  # 1.25 / 3.75 → remainder .75 wins


def test_a_split_over_all_zero_weights_goes_to_the_first_position() -> None:
    assert split_largest_remainder(9, [0, 0, 0]) == [9, 0, 0]


def test_splitting_nothing_across_no_lines_is_empty_but_something_is_refused() -> None:
    assert split_largest_remainder(0, []) == []
    with pytest.raises(MoneyError):
        split_largest_remainder(1, [])


@settings(max_examples=200)
@given(st.integers(0, 10**10), st.lists(st.integers(0, 10**8), min_size=1, max_size=30))
def test_a_split_sums_exactly_is_proportional_and_deterministic(total: int, weights: list[int]) -> None:
    shares = split_largest_remainder(total, weights)
    assert sum(shares) == total
    assert shares == split_largest_remainder(total, list(weights))
    wsum = sum(weights)
    if wsum:
        for share, w in zip(shares, weights, strict=True):
            floor = total * w // wsum
            assert floor <= share <= floor + 1
            if w == 0:
                assert share == 0
