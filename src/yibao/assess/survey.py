"""A third-party satisfaction survey (第三方满意度调查) as CSV → a checked frame (pure).

The file has a header and one row per institution::

    fixmedins_code,respondents,satisfied
    H61010000001,120,103

``surveyor`` (the survey company) may be a column or is given once for the file.  Each bad row is named
(line number, column, reason), nothing is imported from a file with a bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import polars as pl

from yibao.errors import FieldError
from yibao.money import MoneyError, parse_ratio

SURVEY_SCHEMA: dict[str, type[pl.DataType]] = {
    "fixmedins_code": pl.String,
    "surveyor": pl.String,
    "respondents": pl.Int64,
    "satisfied": pl.Int64,
}


class SurveyError(FieldError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason, "survey")


def parse_survey_csv(text: str, surveyor: str = "") -> pl.DataFrame:
    """Rows (fixmedins_code, surveyor, respondents, satisfied); ``satisfied`` ≤ ``respondents``, both
    whole numbers ≥ 0, one row per (institution, surveyor)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    head = reader.fieldnames or []
    for col in ("fixmedins_code", "respondents", "satisfied"):
        if col not in head:
            raise SurveyError(f"survey.{col}", "缺少该列 required column is missing")
    rows: list[tuple[str, str, int, int]] = []
    seen: set[tuple[str, str]] = set()
    for i, r in enumerate(reader, start=2):
        code = (r.get("fixmedins_code") or "").strip()
        who = (r.get("surveyor") or surveyor or "").strip()
        if not code:
            raise SurveyError(f"survey line {i}.fixmedins_code", "机构编码为空 empty institution code")
        if not who:
            raise SurveyError(f"survey line {i}.surveyor", "须注明调查机构 the surveyor must be named")
        nums = []
        for col in ("respondents", "satisfied"):
            raw = (r.get(col) or "").strip()
            if not raw.isdigit():
                raise SurveyError(f"survey line {i}.{col}", f"{raw!r} 不是非负整数 is not a whole number ≥ 0")
            nums.append(int(raw))
        if nums[1] > nums[0]:
            raise SurveyError(
                f"survey line {i}.satisfied",
                f"满意人数 {nums[1]} 大于受访人数 {nums[0]} more satisfied than respondents",
            )
        if (code, who) in seen:
            raise SurveyError(f"survey line {i}.fixmedins_code", f"{code} 重复 appears twice for {who}")
        seen.add((code, who))
        rows.append((code, who, nums[0], nums[1]))
    if not rows:
        raise SurveyError("survey", "文件没有数据行 the file has no rows")
    return pl.DataFrame(rows, schema=SURVEY_SCHEMA, orient="row")


def parse_inputs_csv(text: str, indicators: Sequence[str]) -> pl.DataFrame:
    """Explicit indicator values (``fixmedins_code`` + indicator columns as decimals, e.g. ``0.97``) →
    1/10000 integers; an empty cell stays not available, an unknown column is refused."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    head = reader.fieldnames or []
    if "fixmedins_code" not in head:
        raise SurveyError("inputs.fixmedins_code", "缺少该列 required column is missing")
    cols = [c for c in head if c != "fixmedins_code"]
    for c in cols:
        if c not in indicators:
            raise SurveyError(f"inputs.{c}", "不是考核指标 is not an assessment indicator")
    rows: list[dict[str, object]] = []
    for i, r in enumerate(reader, start=2):
        code = (r.get("fixmedins_code") or "").strip()
        if not code:
            raise SurveyError(f"inputs line {i}.fixmedins_code", "机构编码为空 empty institution code")
        row: dict[str, object] = {"fixmedins_code": code}
        for c in cols:
            raw = (r.get(c) or "").strip()
            try:
                row[c] = None if raw == "" else parse_ratio(raw, allow_negative=True)
            except MoneyError as exc:
                raise SurveyError(
                    f"inputs line {i}.{c}", f"{raw!r} 不是小数 is not a decimal ({exc})"
                ) from exc
        rows.append(row)
    return pl.DataFrame(rows, schema={"fixmedins_code": pl.String, **{c: pl.Int64 for c in cols}})
