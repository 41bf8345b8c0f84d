"""Strict parsing of one input field, the same way for every face (HIS JSON, the national envelope, FHIR,
CSV imports, forms): a value is taken only in the forms the national interface defines, and anything
else is a :class:`~yibao.errors.FieldError` naming the field and the reason (Chinese, then English).

The national 定点医药机构接口规范 gives every field a type and a length — 字符型 (text) with a maximum
length, 数值型 ``16,2`` for money (16 digits, 2 after the point), dates as ``yyyy-MM-dd`` and times as
``yyyy-MM-dd HH:mm:ss`` — and flags (标志) as the code table ``1`` 是 / ``0`` 否.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from yibao.errors import FieldError

_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")
# control characters other than tab / newline / return, and unpaired surrogates: refused in any text field
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_QUANTUM = {k: Decimal(1).scaleb(-k) for k in range(0, 19)}  # 10^-scale for a field's decimals
MONEY_DIGITS, MONEY_SCALE = 16, 2  # 数值型 16,2


class InputError(FieldError):
    """An input field that is not in a form the interface allows."""


def parse_flag(value: Any, field: str, *, default: bool | None = None) -> bool:
    """A 标志 field: ``1`` / ``0`` (number or text), ``true`` / ``false`` (JSON or text, any case).
    Missing or empty → ``default`` (an error when there is none)."""
    if value is None or value == "":
        if default is None:
            raise InputError(field, "必填 is required", "missing")
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        text = value.lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise InputError(
        field, f"{value!r} 不是标志值（1 是 / 0 否） is not a flag (1 or 0, true or false)", "bad_flag"
    )


def parse_text(value: Any, field: str, *, max_len: int, required: bool = True, default: str = "") -> str:
    """A 字符型 field of at most ``max_len`` characters (a number is taken as its digits); control
    characters such as NUL and unpaired surrogates are refused."""
    if value is None or value == "":
        if required:
            raise InputError(field, "必填 is required", "missing")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(field, f"应为文本，实为 {type(value).__name__} must be text", "bad_type")
    text = str(value)
    if len(text) > max_len:
        raise InputError(
            field, f"长度 {len(text)} 超过上限 {max_len} is longer than {max_len} characters", "too_long"
        )
    if _BAD_CHAR.search(text):
        raise InputError(field, "含有控制字符或无效字符 contains control or invalid characters", "bad_text")
    return text


def parse_code(
    value: Any, field: str, table: Collection[str], *, required: bool = True, default: str = ""
) -> str:
    """A code from a code table (码表)."""
    text = parse_text(
        value, field, max_len=max((len(c) for c in table), default=1), required=required, default=default
    )
    if not text and not required:
        return text
    if text not in table:
        shown = ", ".join(sorted(table)[:12]) + (" …" if len(table) > 12 else "")
        raise InputError(field, f"{text!r} 不在码表中（{shown}） is not in the code table", "bad_code")
    return text


def parse_date(value: Any, field: str) -> dt.date:
    """``yyyy-MM-dd``, or a ``yyyy-MM-dd HH:mm:ss`` time whose date is taken; nothing after it."""
    text = parse_text(value, field, max_len=19)
    if _DATE.fullmatch(text) or _DATETIME.fullmatch(text):
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise InputError(field, f"{text!r} 不是日期（yyyy-MM-dd） is not a date", "bad_date")


def parse_datetime(value: Any, field: str) -> dt.datetime:
    """``yyyy-MM-dd HH:mm:ss`` (Beijing time, as the interface sends it; no zone)."""
    text = parse_text(value, field, max_len=19)
    if _DATETIME.fullmatch(text):
        try:
            return dt.datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            pass
    raise InputError(
        field, f"{text!r} 不是时间（yyyy-MM-dd HH:mm:ss） is not a date and time", "bad_datetime"
    )


def parse_decimal(value: Any, field: str, *, digits: int, scale: int, positive: bool = False) -> Decimal:
    """A 数值型 ``digits,scale`` field: at most ``digits`` digits in all and ``scale`` after the point;
    never negative (``positive``: never zero either).  Binary floats are refused: they cannot carry an
    amount exactly."""
    if value is None or value == "":
        raise InputError(field, "必填 is required", "missing")
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, str | int | Decimal):
        raise InputError(
            field, f"应为数值文本，实为 {type(value).__name__} must be a decimal number", "bad_number"
        )
    text = str(value).strip()
    if len(text) > digits + 2:
        raise InputError(
            field, f"{text[:24]!r}… 超过 {digits},{scale} 的宽度 is wider than {digits},{scale}", "too_wide"
        )
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise InputError(field, f"{text!r} 不是数值 is not a number", "bad_number") from None
    if not d.is_finite():
        raise InputError(field, f"{text!r} 不是有限数值 is not a finite number", "bad_number")
    if d.adjusted() + 1 > digits - scale:
        raise InputError(
            field, f"{text!r} 超过 {digits},{scale} 的宽度 is wider than {digits},{scale}", "too_wide"
        )
    if int(d.as_tuple().exponent) < -scale and d != d.quantize(_QUANTUM[scale]):
        raise InputError(field, f"{text!r} 小数超过 {scale} 位 has more than {scale} decimals", "too_precise")
    if d < 0:
        raise InputError(field, f"{text!r} 不能为负数 must not be negative", "out_of_range")
    if positive and d == 0:
        raise InputError(field, f"{text!r} 应为正数 must be positive", "out_of_range")
    return d


def parse_money(value: Any, field: str) -> int:
    """A money field (数值型 16,2, 元) in fen."""
    try:
        return int(parse_decimal(value, field, digits=MONEY_DIGITS, scale=MONEY_SCALE) * 100)
    except InputError as exc:
        if exc.code != "too_precise":
            raise
        raise InputError(
            field,
            f"{value!r} 小数超过两位（不足一分） has more than two decimals (finer than one fen)",
            exc.code,
        ) from None


def parse_count(value: Any, field: str, *, low: int = 0, high: int) -> int:
    """A whole number in ``low..high`` (``7``, ``"7"`` or ``"7.00"``)."""
    d = parse_decimal(value, field, digits=len(str(high)) + 2, scale=2)
    if d != d.to_integral_value():
        raise InputError(field, f"{value!r} 不是整数 is not a whole number", "bad_number")
    n = int(d)
    if n < low or n > high:
        raise InputError(field, f"{n} 不在 {low}–{high} 之间 is outside {low}..{high}", "out_of_range")
    return n
