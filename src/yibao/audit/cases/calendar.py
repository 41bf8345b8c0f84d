"""Working days and the appeal deadline (申诉期限), from ``params.yaml``.

A working day is a weekday that is not a public holiday, or a weekend day listed as a make-up working day
(调休上班).  The holiday list is per year; a date in a year the list does not cover is refused rather than
silently counted as if that year had no holidays.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from yibao.audit.cases.model import CaseError

DEFAULT_PARAMS = "params.yaml"


@dataclass(frozen=True, slots=True)
class CaseParams:
    """What the workflow needs from policy: the appeal window and the local working-day calendar."""

    appeal_working_days: int
    tz: ZoneInfo
    weekend: frozenset[int]  # ISO weekdays (6 = Saturday, 7 = Sunday)
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]  # make-up working days on weekends (调休上班)
    years: frozenset[int]  # years the holiday list covers

    def local_date(self, now: dt.datetime) -> dt.date:
        """The bureau's local calendar date of the aware instant ``now``."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise CaseError("now", "must be timezone-aware (e.g. datetime.now(UTC))")
        return now.astimezone(self.tz).date()

    def is_working_day(self, day: dt.date) -> bool:
        """True on a working day; a day in a year without a holiday list → ``CaseError`` (``calendar``)."""
        if day.year not in self.years:
            raise CaseError("calendar", f"no holiday list for {day.year}; add that year to the case parameters "
                            f"(covered: {sorted(self.years)})", "calendar_not_covered")
        if day in self.workdays:
            return True
        return day.isoweekday() not in self.weekend and day not in self.holidays

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted)."""
        if n < 0:
            raise CaseError("n", f"must be ≥ 0, got {n}")
        day, left = start, n
        while left:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def appeal_deadline(self, notified: dt.datetime) -> dt.date:
        """Last local day on which an appeal is accepted: the window's last working day after the notice."""
        return self.add_working_days(self.local_date(notified), self.appeal_working_days)


def _dates(items: Any, field: str) -> set[dt.date]:
    if items is None:
        return set()
    if not isinstance(items, list):
        raise CaseError(field, "must be a list of dates or 'YYYY-MM-DD..YYYY-MM-DD' ranges")
    out: set[dt.date] = set()
    for raw in items:
        text = str(raw)
        try:
            if ".." in text:
                a, b = (dt.date.fromisoformat(x.strip()) for x in text.split("..", 1))
                if b < a:
                    raise CaseError(field, f"range {text!r} ends before it starts")
                out.update(a + dt.timedelta(days=k) for k in range((b - a).days + 1))
            else:
                out.add(dt.date.fromisoformat(text))
        except ValueError as exc:
            if isinstance(exc, CaseError):
                raise
            raise CaseError(field, f"{text!r} is not a date or a date range ({exc})") from exc
    return out


def parse_params(data: Any) -> CaseParams:
    """Validate a parameter mapping (the YAML document); every error names its field."""
    if not isinstance(data, dict):
        raise CaseError("params", "must be a mapping")
    for key in ("appeal_window", "timezone", "weekend", "calendar"):
        block = data.get(key)
        if not isinstance(block, dict):
            raise CaseError(key, "missing or not a mapping")
        if key != "calendar" and not str(block.get("source") or "").strip():
            raise CaseError(f"{key}.source", "every policy figure needs a source")
    days = data["appeal_window"].get("working_days")
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise CaseError("appeal_window.working_days", f"must be a positive integer, got {days!r}")
    try:
        tz = ZoneInfo(str(data["timezone"].get("name")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CaseError("timezone.name", f"unknown time zone {data['timezone'].get('name')!r}") from exc
    weekend = data["weekend"].get("iso_weekdays")
    if not isinstance(weekend, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in weekend):
        raise CaseError("weekend.iso_weekdays", "must be a list of ISO weekdays 1–7")
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    years: set[int] = set()
    for year, block in data["calendar"].items():
        where = f"calendar.{year}"
        if not isinstance(year, int) or not isinstance(block, dict):
            raise CaseError(where, "must be a year mapping to {holidays, workdays, source}")
        if not str(block.get("source") or "").strip():
            raise CaseError(f"{where}.source", "every holiday list needs a source")
        h, w = _dates(block.get("holidays"), f"{where}.holidays"), _dates(block.get("workdays"), f"{where}.workdays")
        stray = sorted(d for d in h | w if d.year != year)
        if stray:
            raise CaseError(where, f"{stray[0]} is not in {year}")
        if h & w:
            raise CaseError(where, f"{min(h & w)} is listed both as a holiday and as a working day")
        holidays |= h
        workdays |= w
        years.add(year)
    return CaseParams(days, tz, frozenset(weekend), frozenset(holidays), frozenset(workdays), frozenset(years))


def load_params(path: str | Path | None = None) -> CaseParams:
    """Parameters from ``path`` (YAML), or the shipped ``params.yaml`` when None (read once)."""
    if path is None:
        return _shipped()
    return _load(path)


@functools.cache
def _shipped() -> CaseParams:
    return _load(None)


def _load(path: str | Path | None) -> CaseParams:
    if path is None:
        text = resources.files("yibao.audit.cases").joinpath(DEFAULT_PARAMS).read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CaseError("params", f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CaseError("params", f"not valid YAML: {exc}") from exc
    return parse_params(data)
