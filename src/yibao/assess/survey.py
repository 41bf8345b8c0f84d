"""A third-party satisfaction survey (第三方满意度调查) as CSV → a checked frame (pure).

The file has a header and one row per institution::

    fixmedins_code,respondents,satisfied
    H61010000001,120,103

``surveyor`` (the survey company) may be a column or is given once for the file.  Each bad row is named
(line number, column, reason), nothing is imported from a file with a bad row."""

from __future__ import annotations

import csv
import io

import polars as pl

from yibao.errors import FieldError

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
