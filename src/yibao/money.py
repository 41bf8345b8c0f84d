"""Money and ratio arithmetic in integer fen (分) and integer ratio units (万分之一).

Every rounding in yibao goes through this module so that the rule is stated once:

* amounts are ``int`` fen; 1 元 = 100 fen;
* ratios are ``int`` in units of 1/10000 (the national ``pool_prop_selfpay`` field is ``5,4`` decimal,
  so four decimals are exact);
* quantities are ``int`` in units of 1/10000 of a unit (the national ``cnt`` field is ``16,4``);
* a ratio applied to an amount rounds **half up** to the fen (``apply_ratio``); the inverse question
  "how much base does this payment use up" rounds **up** (``base_for_payment``) so that a capped fund
  never appears to have consumed less base than it paid for;
* price × quantity rounds half up to the fen (``price_times_qty``).

The half-up helpers use only ``+``, ``*`` and ``//``, so the same function serves a Python ``int``, a
numpy integer array and a Polars integer expression: the real-time engine, the batch executors and the
generators round by one definition.  They are meant for non-negative amounts (``//`` floors, so a
negative amount would round towards +∞ at the half).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl

    Num = TypeVar("Num", int, npt.NDArray[np.int64], pl.Expr)

RATIO_ONE = 10_000
QTY_ONE = 10_000
FEN_PER_YUAN = 100
# the halves the half-up helpers add, computed once here rather than on every call (the engine calls them per line)
_RATIO_HALF = RATIO_ONE // 2
_QTY_HALF = QTY_ONE // 2


def half_up_div(numerator: Num, denominator: Num | int) -> Num:
    """``numerator / denominator`` rounded half up (``numerator`` ≥ 0, ``denominator`` > 0); int, numpy array
    or Polars expr, and the denominator may be one too (exact for odd denominators as well)."""
    return (numerator * 2 + denominator) // (denominator * 2)


def price_times_qty(price_fen: Num, qty_units: Num | int) -> Num:
    """A line amount: unit price (fen) × quantity (1/10000 units), rounded half up to the fen."""
    return (price_fen * qty_units + _QTY_HALF) // QTY_ONE


def ratio_sum_to_fen(ratio_fen: Num) -> Num:
    """A sum of ``amount × ratio`` products (in 1/10000 fen) rounded half up to the fen."""
    return (ratio_fen + _RATIO_HALF) // RATIO_ONE


class MoneyError(ValueError):
    """A value that cannot be an amount or a ratio; the message says why."""


def apply_ratio(amount_fen: Num, ratio: Num | int) -> Num:
    """``amount × ratio`` rounded half up to the fen (amount ≥ 0, 0 ≤ ratio); int, numpy array or Polars expr."""
    return (amount_fen * ratio + _RATIO_HALF) // RATIO_ONE


def apply_ratio_down(amount_fen: Num, ratio: Num | int) -> Num:
    """``amount × ratio`` rounded **down** to the fen, where a rule says so (e.g. a monthly account credit)."""
    return (amount_fen * ratio) // RATIO_ONE


def base_for_payment(payment_fen: Num, ratio: Num | int) -> Num:
    """Smallest base ``b`` with ``b × ratio ≥ payment × 10000`` (exact ceiling division); ratio > 0.

    This is the base a capped fund is deemed to have used up; the rest flows to an over-cap layer.
    """
    return -((-payment_fen * RATIO_ONE) // ratio)


def yuan_to_fen(value: object, *, allow_negative: bool = False) -> int:
    """Parse a yuan amount (``"1200"``, ``"12.5"``, ``1200``) into fen, refusing sub-fen precision.

    Floats are refused on purpose: a binary float cannot carry a money amount exactly.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(
            f"金额须为小数字符串或整数 amount must be a decimal string or integer, not {type(value).__name__} ({value!r})"
        )
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"金额不是小数 not a decimal amount: {value!r}") from exc
    if not d.is_finite():
        raise MoneyError(f"金额不是有限数 not a finite amount: {value!r}")
    fen = d * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise MoneyError(
            f"金额小数超过两位（小于一分） amount {value!r} has more than two decimals (finer than one fen)"
        )
    if fen < 0 and not allow_negative:
        raise MoneyError(f"金额为负数 amount {value!r} is negative")
    return int(fen)


def fen_to_yuan(fen: int) -> Decimal:
    """Fen to a two-decimal ``Decimal`` for display and for the national interface (``16,2``)."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def fmt_yuan(fen: int) -> str:
    """Human display: ``13,440.00``."""
    return f"{fen_to_yuan(fen):,.2f}"


def parse_ratio(value: object, *, allow_negative: bool = False) -> int:
    """Parse a ratio (``"0.85"``, ``"85%"``, ``1``) into units of 1/10000, at most four decimals exact."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(
            f"比例须为小数字符串或整数 ratio must be a decimal string or integer, not {type(value).__name__} ({value!r})"
        )
    text = str(value).strip()
    scale = Decimal(1)
    if text.endswith("%"):
        text, scale = text[:-1].strip(), Decimal("0.01")
    try:
        d = Decimal(text) * scale
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"比例不是小数 not a decimal ratio: {value!r}") from exc
    if not d.is_finite():
        raise MoneyError(f"比例不是有限数 not a finite ratio: {value!r}")
    units = d * RATIO_ONE
    if units != units.to_integral_value():
        raise MoneyError(f"比例小数超过四位 ratio {value!r} has more than four decimals")
    if units < 0 and not allow_negative:
        raise MoneyError(f"比例为负数 ratio {value!r} is negative")
    if units > RATIO_ONE and not allow_negative:
        raise MoneyError(f"比例超过 100% ratio {value!r} is above 1 (100%)")
    return int(units)


def ratio_to_decimal(ratio: int) -> Decimal:
    """Units of 1/10000 to the national ``5,4`` decimal."""
    return (Decimal(ratio) / RATIO_ONE).quantize(Decimal("0.0001"))


def split_largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` fen across ``weights`` in proportion, exactly (largest-remainder method).

    Ties go to the earlier position, so the split is deterministic.  If every weight is zero the
    whole amount goes to the first position (there is nowhere proportional to put it).
    """
    n = len(weights)
    if n == 0:
        if total:
            raise MoneyError("非零金额无法分摊到零条明细 cannot split a non-zero amount across no lines")
        return []
    if not total:  # nothing to split (what the rule below gives too)
        return [0] * n
    wsum = sum(weights)
    if wsum == 0:
        return [total] + [0] * (n - 1)
    shares = [total * w // wsum for w in weights]
    rest = total - sum(shares)
    if rest:
        # largest remainder first, ties to the earlier position (a stable sort on the remainder alone)
        remainders = [-(total * w % wsum) for w in weights]  # negated: the sort is stable and ascending
        for i in sorted(range(n), key=remainders.__getitem__)[:rest]:
            shares[i] += 1
    return shares


def div_half_up(num: int, den: int) -> int:
    """``num / den`` rounded half away from zero to an integer (``den > 0``); exact for any size."""
    if den <= 0:
        raise MoneyError(f"分母须为正数 denominator must be positive, got {den}")
    q = (2 * abs(num) + den) // (2 * den)
    return q if num >= 0 else -q


def fen_from_estimate(value: float) -> int:
    """A statistical estimate in fen (a float from a projection) to whole fen, half away from zero.

    Only for modelled figures (projections, expected values); booked amounts never pass through a float."""
    d = Decimal(repr(float(value)))
    if not d.is_finite():
        raise MoneyError(f"估算值不是有限数 not a finite estimate: {value!r}")
    from decimal import ROUND_HALF_UP

    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))
