"""异地就医备案 (filing) — pure core: the filing types and channels, validity, cancelling and changing, and
which locality a visit elsewhere is settled under (医保办发〔2022〕22号, 跨省异地就医直接结算经办规程).

* Long-term residents (异地长期居住人员): 异地安置退休, 异地长期居住, 常驻异地工作 — open-ended validity, not
  cancelled or changed within ``longterm_lock_months`` of their start.
* Temporary visitors (临时外出就医人员): 异地转诊, 异地急诊抢救, 其他临时外出 — a validity of at least
  ``temporary_valid_months``.  异地急诊抢救 needs no filing at all: an emergency visit is treated as filed.
* A filing made before discharge counts for the stay (出院结算前补办备案).

The locality a visit is settled under is one of the policy format's localities: ``remote_longterm``
(long-term filed), ``remote_filed`` (temporary filed or emergency), ``remote_unfiled``.  The insured region's
policy file decides what each means (ratios, refusal); nothing here carries a policy figure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from yibao.errors import FieldError

FilingKind = Literal["long_term", "temporary"]


class FilingError(FieldError):
    """A filing request or change that cannot be accepted; nothing was written."""


@dataclass(frozen=True)
class FilingType:
    code: str
    name: str
    name_en: str
    kind: FilingKind


FILING_TYPES: dict[str, FilingType] = {
    t.code: t
    for t in (
        FilingType("11", "异地安置退休", "retired and resettled elsewhere", "long_term"),
        FilingType("12", "异地长期居住", "long-term resident elsewhere", "long_term"),
        FilingType("13", "常驻异地工作", "posted to work elsewhere", "long_term"),
        FilingType("21", "异地转诊", "referred elsewhere", "temporary"),
        FilingType("22", "异地急诊抢救", "emergency rescue elsewhere", "temporary"),
        FilingType("23", "其他临时外出", "other temporary trip", "temporary"),
    )
}
EMERGENCY_TYPE = "22"
CHANNELS: dict[str, tuple[str, str]] = {
    "counter": ("经办窗口", "bureau counter"),
    "app": ("国家医保服务平台APP", "national insurance app"),
    "miniprogram": ("国家异地就医备案小程序", "national filing mini-program"),
    "hospital": ("定点医院代办", "filed by the hospital"),
}
STATUSES = {"active": "有效 active", "cancelled": "已取消 cancelled", "changed": "已变更 changed"}


@dataclass(frozen=True)
class FilingRules:
    """The filing rules' figures, each with its source (``params.yaml``)."""

    temporary_valid_months: int
    longterm_lock_months: int
    sources: Mapping[str, str]


@dataclass(frozen=True)
class Filing:
    filing_id: str
    psn_no: str
    insu_admdvs: str  # 参保地
    care_admdvs: str  # 就医地: a city (6 digits) or a whole province (its code ending 0000)
    type_code: str
    channel: str
    begin: dt.date
    end: dt.date | None  # None: open-ended (long-term)
    filed_on: dt.date
    reason: str = ""
    fixmedins_code: str = ""  # the receiving hospital of a referral, when named
    status: str = "active"
    replaces: str = ""  # the filing this one changed
    closed_on: dt.date | None = None

    @property
    def kind(self) -> FilingKind:
        return FILING_TYPES[self.type_code].kind

    @property
    def type_name(self) -> str:
        return FILING_TYPES[self.type_code].name


@dataclass(frozen=True)
class Coverage:
    """How a visit elsewhere is settled: the locality for the insured region's policy, and why."""

    locality: str  # remote_longterm / remote_filed / remote_unfiled
    filing_id: str
    reason_zh: str
    reason_en: str


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _admdvs(value: Any, field: str) -> str:
    s = str(value or "")
    if len(s) != 6 or not s.isdigit():
        raise FilingError(field, f"区划代码须为6位数字 must be a 6-digit region code: {s!r}")
    return s


def _date(value: Any, field: str, *, required: bool = True) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise FilingError(field, "必填 is required", "missing")
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise FilingError(field, f"日期格式错误 invalid date (YYYY-MM-DD): {value!r}") from None


def new_filing(
    data: Mapping[str, Any], *, filing_id: str, insu_admdvs: str, today: dt.date, rules: FilingRules
) -> Filing:
    """A filing from a request (portal form, counter, app): checked field by field.

    ``data``: ``psn_no``, ``care_admdvs``, ``type_code``, ``channel``, ``begin``, ``end`` (temporary: optional,
    default ``begin`` + the minimum validity), ``reason``, ``fixmedins_code``."""
    psn_no = str(data.get("psn_no") or "")
    if not psn_no:
        raise FilingError("psn_no", "必填 is required", "missing")
    type_code = str(data.get("type_code") or "")
    ftype = FILING_TYPES.get(type_code)
    if ftype is None:
        known = "、".join(f"{c} {t.name}" for c, t in FILING_TYPES.items())
        raise FilingError("type_code", f"未知的备案类型 {type_code!r}（可选：{known}） unknown filing type")
    channel = str(data.get("channel") or "")
    if channel not in CHANNELS:
        raise FilingError(
            "channel", f"未知的备案渠道 {channel!r} unknown channel; one of {', '.join(CHANNELS)}"
        )
    care = _admdvs(data.get("care_admdvs"), "care_admdvs")
    if care == insu_admdvs:
        raise FilingError(
            "care_admdvs", "就医地不能是参保地本身 the place of care cannot be the insured region"
        )
    begin = _date(data.get("begin"), "begin")
    assert begin is not None
    end = _date(data.get("end"), "end", required=False)
    if ftype.kind == "temporary":
        least = _add_months(begin, rules.temporary_valid_months)
        if end is None:
            end = least
        elif end < least:
            raise FilingError(
                "end",
                f"临时外出就医备案有效期不少于{rules.temporary_valid_months}个月（至少到 {least}） "
                f"a temporary filing is valid for at least {rules.temporary_valid_months} months",
            )
    if end is not None and end < begin:
        raise FilingError("end", "结束日期早于开始日期 end is before begin")
    reason = str(data.get("reason") or "").strip()
    if type_code == "21" and not reason:
        raise FilingError("reason", "异地转诊须写明转诊理由 a referral needs its reason", "missing")
    return Filing(
        filing_id=filing_id,
        psn_no=psn_no,
        insu_admdvs=insu_admdvs,
        care_admdvs=care,
        type_code=type_code,
        channel=channel,
        begin=begin,
        end=end,
        filed_on=today,
        reason=reason,
        fixmedins_code=str(data.get("fixmedins_code") or ""),
    )


def _check_can_close(f: Filing, on: dt.date, rules: FilingRules, what_zh: str, what_en: str) -> None:
    if f.status != "active":
        raise FilingError(
            "filing_id",
            f"备案 {f.filing_id} 已{STATUSES[f.status][:3]}，不能{what_zh} is not active",
            "not_active",
        )
    if f.kind == "long_term":
        free = _add_months(f.begin, rules.longterm_lock_months)
        if on < free:
            raise FilingError(
                "filing_id",
                f"长期居住类备案在 {free} 之前不能{what_zh}（备案后{rules.longterm_lock_months}个月内） "
                f"a long-term filing cannot be {what_en} before {free}",
                "locked",
            )


def cancel(f: Filing, on: dt.date, rules: FilingRules) -> Filing:
    """取消备案: the filing ends the day before ``on`` (or ``on`` when it began that day)."""
    _check_can_close(f, on, rules, "取消", "cancelled")
    return replace(f, status="cancelled", closed_on=on, end=max(f.begin, on - dt.timedelta(days=1)))


def change(
    f: Filing, data: Mapping[str, Any], *, new_id: str, on: dt.date, rules: FilingRules
) -> tuple[Filing, Filing]:
    """变更备案: the old filing closes as ``changed`` and a new one (``replaces`` it) starts from the request."""
    _check_can_close(f, on, rules, "变更", "changed")
    merged = {
        "psn_no": f.psn_no,
        "care_admdvs": f.care_admdvs,
        "type_code": f.type_code,
        "channel": f.channel,
        "begin": on.isoformat(),
        "reason": f.reason,
        "fixmedins_code": f.fixmedins_code,
        **{k: v for k, v in data.items() if v not in (None, "")},
    }
    new = new_filing(merged, filing_id=new_id, insu_admdvs=f.insu_admdvs, today=on, rules=rules)
    old = replace(f, status="changed", closed_on=on, end=max(f.begin, new.begin - dt.timedelta(days=1)))
    return old, replace(new, replaces=f.filing_id)


def covers_place(f: Filing, care_admdvs: str) -> bool:
    """A filing to a province (ends ``0000``) covers its cities; to a city (ends ``00``) its districts."""
    target = f.care_admdvs
    if target.endswith("0000"):
        return care_admdvs[:2] == target[:2]
    if target.endswith("00"):
        return care_admdvs[:4] == target[:4]
    return care_admdvs == target


def coverage(
    filings: Iterable[Filing], care_admdvs: str, begin: dt.date, end: dt.date, *, emergency: bool = False
) -> Coverage:
    """The locality of a visit at ``care_admdvs`` from ``begin`` (admission) to ``end`` (discharge).

    A filing counts when it is active (or was closed after the visit began), covers the place, was made
    no later than discharge, and its validity overlaps the stay.  Long-term filings win over temporary ones;
    an emergency (异地急诊抢救) is treated as filed even with no filing."""
    best: Filing | None = None
    for f in filings:
        if f.status != "active" and (f.closed_on is None or f.closed_on <= begin):
            continue
        if not covers_place(f, care_admdvs) or f.filed_on > end:
            continue
        if f.begin > end or (f.end is not None and f.end < begin):
            continue
        if best is None or (f.kind == "long_term" and best.kind != "long_term"):
            best = f
    if best is not None and best.kind == "long_term":
        return Coverage(
            "remote_longterm",
            best.filing_id,
            f"已备案（{best.type_name}）",
            f"filed long-term ({FILING_TYPES[best.type_code].name_en})",
        )
    if best is not None:
        return Coverage(
            "remote_filed",
            best.filing_id,
            f"已备案（{best.type_name}）",
            f"filed temporary ({FILING_TYPES[best.type_code].name_en})",
        )
    if emergency:
        return Coverage("remote_filed", "", "异地急诊抢救，视同已备案", "emergency rescue, treated as filed")
    return Coverage("remote_unfiled", "", "未备案", "not filed")


def rules_from(raw: Mapping[str, Any]) -> FilingRules:
    """The ``filing:`` block of ``params.yaml``; every figure names a source that exists."""
    sources = raw.get("sources") or {}
    block = raw.get("filing") or {}
    out: dict[str, int] = {}
    used: dict[str, str] = {}
    for key in ("temporary_valid_months", "longterm_lock_months"):
        item = block.get(key)
        if not isinstance(item, dict) or "value" not in item:
            raise FilingError(f"filing.{key}", "缺少取值 missing value", "missing")
        src = str(item.get("source") or "")
        if src not in sources:
            raise FilingError(f"filing.{key}.source", f"未知来源 {src!r} unknown source")
        try:
            out[key] = int(item["value"])
        except (TypeError, ValueError):
            raise FilingError(f"filing.{key}.value", "须为整数 must be a whole number") from None
        used[key] = src
    return FilingRules(out["temporary_valid_months"], out["longterm_lock_months"], used)
