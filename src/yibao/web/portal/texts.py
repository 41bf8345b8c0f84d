"""Text for people on the pages: times in Beijing time as people write them, role names, what a read of
someone's record was, and the Chinese and English halves of a bilingual message."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from yibao.access.principal import ROLE_NAMES

BEIJING = ZoneInfo("Asia/Shanghai")
EN_PUNCTUATION = {"：": ": ", "（": " (", "）": ")", "。": ".", "，": ", ", "、": ", ", "；": "; "}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _parse(value: object) -> dt.datetime | dt.date | None:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    return None


def beijing(value: object, lang: str = "zh", style: str = "datetime") -> str:
    """``value`` (a datetime, a date or an ISO-8601 string; a naive datetime is UTC, as stored) in Beijing
    time: "2026年12月7日 09:18" / "7 Dec 2026, 09:18"; ``style`` "date" drops the time of day.  Text that is
    not a time is returned unchanged; nothing gives "—"."""
    when = _parse(value)
    if when is None:
        return "—" if value in (None, "") else str(value)
    if isinstance(when, dt.datetime):
        aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
        local = aware.astimezone(BEIJING)
        day, clock = local.date(), f"{local:%H:%M}"
    else:
        day, clock = when, ""
        style = "date"
    if lang == "en":
        text = f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
        return text if style == "date" else f"{text}, {clock}"
    text = f"{day.year}年{day.month}月{day.day}日"
    return text if style == "date" else f"{text} {clock}"


def role_name(role: str, lang: str = "zh") -> str:
    """A role as people call it ("定点医药机构"), the code itself when unknown."""
    names = ROLE_NAMES.get(role)
    return role if names is None else names[1] if lang == "en" else names[0]


FHIR_RESOURCES = {
    "Patient": ("参保人信息", "personal details"),
    "Coverage": ("参保信息", "coverage"),
    "ExplanationOfBenefit": ("结算明细", "settlement details"),
    "Claim": ("费用申请", "claims"),
    "Encounter": ("就诊记录", "visits"),
    "Account": ("个人账户", "personal account"),
}

# (pattern of the logged text, Chinese, English); {0} is the pattern's first group
_READS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(p), zh, en)
    for p, zh, en in (
        (r"^portal home (\d{4})$", "查看{0}年度医保概览", "viewed the {0} overview"),
        (r"^settlement list$", "查看结算列表", "listed the settlements"),
        (r"^settlement search$", "查询结算记录", "searched the settlements"),
        (
            r"^settlement (\S+)$",
            "查看一次就诊的费用明细（结算号 {0}）",
            "viewed a visit's itemised bill (settlement {0})",
        ),
        (
            r"^estimate\b",
            "费用估算（读取年度累计与个人账户余额）",
            "cost estimate (read the year's totals and the account)",
        ),
        (r"^portal internet care$", "查看互联网医疗记录", "viewed internet care"),
        (r"^voucher issued$", "生成医保电子凭证", "issued the electronic insurance voucher"),
        (r"^case (\S+)$", "查看办理事项（{0}）", "viewed a case ({0})"),
        (r"^1101\b", "医疗机构查询参保信息", "an institution looked up the insurance details"),
        (r"^2001\b", "医疗机构进行待遇享受检查", "an institution checked whether benefits may be used"),
        (r"^insurance record$", "查看参保信息与缴费记录", "viewed the insurance status and payments"),
        (r"^person record$", "查看参保信息", "viewed the insurance details"),
        (r"^accumulators (\d{4})$", "查看{0}年度累计", "viewed the {0} year-to-date totals"),
    )
)


def describe_read(what: str, lang: str = "zh") -> str:
    """What a logged read of a person's record was, in words (the logged text when it is not known);
    a read through the FHIR interface (logged as "FHIR …") says so."""
    via_app = False
    while what.startswith("FHIR "):
        what, via_app = what.removeprefix("FHIR "), True
    text = what
    resource = re.match(r"^(\w+)", what)
    if via_app and resource and resource.group(1) in FHIR_RESOURCES:
        zh, en = FHIR_RESOURCES[resource.group(1)]
        text = f"read the {en}" if lang == "en" else f"读取{zh}"
    else:
        for pattern, zh, en in _READS:
            hit = pattern.search(what)
            if hit:
                text = (en if lang == "en" else zh).format(*hit.groups())
                break
    if via_app:
        text += " (via a health-app interface, FHIR)" if lang == "en" else "（通过健康应用接口）"
    return text


_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def bilingual(message: str) -> tuple[str, str]:
    """Split "中文原因 English reason" at the last Chinese character: (Chinese, English); a message in one
    language only is returned as both halves."""
    ends = [m.end() for m in _CJK.finditer(message)]
    if not ends:
        return message, message
    zh, en = message[: ends[-1]].strip(), message[ends[-1] :].strip(" ：:，,")
    if en.startswith("(") and en.endswith(")"):
        en = en[1:-1].strip()
    return zh, en or zh
