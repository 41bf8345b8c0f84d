"""The appeal deadline (申诉期限) from ``params.yaml``, counted in working days of the platform's calendar
(:mod:`yibao.workdays`: a date in a year the holiday list does not cover is refused)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from yibao.audit.cases.model import AuditCaseError
from yibao.workdays import CalendarError, WorkCalendar, national_calendar, parse_calendar

DEFAULT_PARAMS = "params.yaml"


@dataclass(frozen=True, slots=True)
class CaseParams:
    """What the workflow needs from policy: the appeal window and the local working-day calendar."""

    appeal_working_days: int
    tz: ZoneInfo
    calendar: WorkCalendar

    def local_date(self, now: dt.datetime) -> dt.date:
        """The bureau's local calendar date of the aware instant ``now``."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise AuditCaseError("now", "时间须带时区 must be timezone-aware (e.g. datetime.now(UTC))")
        return now.astimezone(self.tz).date()

    def is_working_day(self, day: dt.date) -> bool:
        """True on a working day; a day in a year without a holiday list → ``AuditCaseError`` (``calendar``)."""
        try:
            return self.calendar.is_working_day(day)
        except CalendarError as exc:
            raise AuditCaseError(exc.field, exc.reason, exc.code) from exc

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted)."""
        try:
            return self.calendar.add_working_days(start, n)
        except CalendarError as exc:
            raise AuditCaseError("n" if exc.field == "days" else exc.field, exc.reason, exc.code) from exc

    def appeal_deadline(self, notified: dt.datetime) -> dt.date:
        """Last local day on which an appeal is accepted: the window's last working day after the notice."""
        return self.add_working_days(self.local_date(notified), self.appeal_working_days)


def parse_params(data: Any) -> CaseParams:
    """Validate a parameter mapping (the YAML document); every error names its field.  The working-day
    calendar is the national one (:func:`yibao.workdays.national_calendar`) unless the document has its
    own ``calendar`` (``{weekend?, years: {YYYY: {holidays, workdays, source}}}``)."""
    if not isinstance(data, dict):
        raise AuditCaseError("params", "参数须为映射表 must be a mapping")
    for key in ("appeal_window", "timezone"):
        block = data.get(key)
        if not isinstance(block, dict):
            raise AuditCaseError(key, "缺少该项或不是映射表 missing or not a mapping")
        if not str(block.get("source") or "").strip():
            raise AuditCaseError(
                f"{key}.source", "每个政策参数都须注明出处 every policy figure needs a source"
            )
    days = data["appeal_window"].get("working_days")
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise AuditCaseError(
            "appeal_window.working_days", f"须为正整数 must be a positive integer, got {days!r}"
        )
    try:
        tz = ZoneInfo(str(data["timezone"].get("name")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AuditCaseError(
            "timezone.name", f"未知时区 unknown time zone {data['timezone'].get('name')!r}"
        ) from exc
    try:
        calendar = parse_calendar(data["calendar"]) if "calendar" in data else national_calendar()
    except CalendarError as exc:
        raise AuditCaseError(exc.field, exc.reason, exc.code) from exc
    return CaseParams(days, tz, calendar)


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
            raise AuditCaseError("params", f"无法读取参数文件 cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AuditCaseError("params", f"不是有效的 YAML not valid YAML: {exc}") from exc
    return parse_params(data)
