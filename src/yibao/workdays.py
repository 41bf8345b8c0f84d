"""Working days (工作日) for every clock in the platform: appeal windows (申诉期限), complaint and filing
deadlines (办结时限).  A working day is a weekday that is not a statutory holiday, or a weekend day the State
Council made a working day (调休上班).

The holiday list is data, one block per year with its source (``yibao/workdays.yaml``, the national list;
a bureau may pass its own).  A date in a year the list does not cover is refused rather than silently
counted as if that year had no holidays.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from yibao.errors import FieldError


class CalendarError(FieldError):
    """A holiday list or a date it cannot answer for; ``field`` names the entry."""


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]  # make-up working days on weekends (调休上班)
    years: frozenset[int]  # years the lists cover
    weekend: frozenset[int] = frozenset({6, 7})  # ISO weekdays
    source: str = ""
    strict: bool = (
        True  # False: a year without a list counts weekends only (an informative clock, not a deadline)
    )

    def is_working_day(self, day: dt.date) -> bool:
        if day.year not in self.years and self.strict:
            raise CalendarError(
                "calendar",
                f"缺少该年的节假日表 no holiday list for {day.year} (covered: {sorted(self.years)}); "
                f"add that year to the calendar",
                "calendar_not_covered",
            )
        if day in self.workdays:
            return True
        return day.isoweekday() not in self.weekend and day not in self.holidays

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself does not count)."""
        if n < 0:
            raise CalendarError("days", f"天数不得为负 must be ≥ 0, got {n}")
        day, left = start, n
        while left:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` ≤ ``start``)."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)
        return count


def _dates(items: Any, field: str) -> set[dt.date]:
    """Dates and ``first..last`` ranges (strings or YAML dates) → a set of dates."""
    if items is None:
        return set()
    if not isinstance(items, list):
        raise CalendarError(
            field, "须为日期列表或日期区间 must be a list of dates or 'YYYY-MM-DD..YYYY-MM-DD' ranges"
        )
    out: set[dt.date] = set()
    for raw in items:
        text = raw.isoformat() if isinstance(raw, dt.date) else str(raw)
        try:
            if ".." in text:
                a, b = (dt.date.fromisoformat(x.strip()) for x in text.split("..", 1))
            else:
                a = b = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise CalendarError(
                field, f"日期或日期区间格式错误 {text!r} is not a date or a date range ({exc})"
            ) from exc
        if b < a:
            raise CalendarError(field, f"日期区间的结束早于开始 range {text!r} ends before it starts")
        out.update(a + dt.timedelta(days=k) for k in range((b - a).days + 1))
    return out


def parse_calendar(data: Any, field: str = "calendar") -> WorkCalendar:
    """``{weekend: {iso_weekdays, source}?, years: {YYYY: {holidays, workdays, source}}}`` → a calendar;
    every error names its field (e.g. ``calendar.years.2025.holidays``)."""
    if not isinstance(data, dict):
        raise CalendarError(field, "须为含 years 的映射表 must be a mapping with 'years'")
    weekend = (data.get("weekend") or {}).get("iso_weekdays", [6, 7])
    if not isinstance(weekend, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in weekend):
        raise CalendarError(
            f"{field}.weekend.iso_weekdays", "须为 1–7 的 ISO 星期列表 must be a list of ISO weekdays 1–7"
        )
    years_raw = data.get("years")
    if not isinstance(years_raw, dict) or not years_raw:
        raise CalendarError(
            f"{field}.years",
            "须为每年列出节假日、调休工作日和出处 must map each year to its holidays, workdays and source",
        )
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    sources: list[str] = []
    for year, block in years_raw.items():
        where = f"{field}.years.{year}"
        if not isinstance(year, int) or not isinstance(block, dict):
            raise CalendarError(
                where,
                "须为含节假日、工作日和出处的年度映射表 must be a year mapping to {holidays, workdays, source}",
            )
        src = str(block.get("source") or "").strip()
        if not src:
            raise CalendarError(
                f"{where}.source", "每年的节假日表须注明出处 every holiday list needs a source", "missing"
            )
        h, w = (
            _dates(block.get("holidays"), f"{where}.holidays"),
            _dates(block.get("workdays"), f"{where}.workdays"),
        )
        stray = sorted(d for d in h | w if d.year != year)
        if stray:
            raise CalendarError(where, f"日期不在该年内 {stray[0]} is not in {year}")
        if h & w:
            raise CalendarError(
                where,
                f"日期同时列为节假日和工作日 {min(h & w)} is listed both as a holiday and as a working day",
            )
        holidays |= h
        workdays |= w
        sources.append(f"{year}: {src}")
    return WorkCalendar(
        frozenset(holidays), frozenset(workdays), frozenset(years_raw), frozenset(weekend), "; ".join(sources)
    )


@functools.cache
def national_calendar() -> WorkCalendar:
    """The shipped national holiday list (``yibao/data/workdays.yaml``)."""
    text = resources.files("yibao.data").joinpath("workdays.yaml").read_text(encoding="utf-8")
    return parse_calendar(yaml.safe_load(text))
