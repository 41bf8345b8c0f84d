"""A public consultation on a draft policy (征求意见), as pure functions: its phases against a deadline in
Beijing time, who may do what in which phase, the checks on every input, and the adoption rate (采纳率).
No database, no clock: the caller passes ``now`` (an aware datetime)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from yibao.errors import FieldError

PARAMS_FILE = Path(__file__).with_name("params.yaml")
BEIJING = ZoneInfo("Asia/Shanghai")


class ConsultError(FieldError):
    """A consultation request that cannot be done as asked; nothing was written."""


# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ConsultParams:
    min_days: int  # the shortest opinion period in calendar days, unless shortened with a stated reason
    min_days_source: str
    max_opinion_chars: int
    max_per_person: int  # opinions one login may give on one consultation
    partly_counts: bool  # 部分采纳 counts towards the adoption rate
    adoption_source: str


def _block(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    block = data.get(name)
    if not isinstance(block, dict):
        raise ConsultError(name, "须为映射表 must be a mapping", "missing")
    if not str(block.get("source") or "").strip():
        raise ConsultError(f"{name}.source", "每个参数须注明出处 every parameter needs a source", "missing")
    return block


def _positive(block: Mapping[str, Any], field: str, key: str) -> int:
    v = block.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ConsultError(field, f"须为正整数 {v!r} is not a positive whole number")
    return v


def parse_params(data: Mapping[str, Any]) -> ConsultParams:
    """Validate the parameter file's content; every field is checked and named on error."""
    period, opinion, adoption = (_block(data, n) for n in ("opinion_period", "opinion", "adoption"))
    partly = adoption.get("partly_counts")
    if not isinstance(partly, bool):
        raise ConsultError("adoption.partly_counts", f"须为 true 或 false {partly!r} is not true or false")
    return ConsultParams(
        min_days=_positive(period, "opinion_period.min_days", "min_days"),
        min_days_source=str(period["source"]).strip(),
        max_opinion_chars=_positive(opinion, "opinion.max_chars", "max_chars"),
        max_per_person=_positive(opinion, "opinion.max_per_person", "max_per_person"),
        partly_counts=partly,
        adoption_source=str(adoption["source"]).strip(),
    )


@lru_cache(maxsize=4)
def load_params(path: Path = PARAMS_FILE) -> ConsultParams:
    """The consultation parameters from ``path`` (default: the shipped ``params.yaml``)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ConsultError(str(path), "文件不是 YAML 映射表 is not a YAML mapping")
    return parse_params(data)


# ---------------------------------------------------------------------------- phases
# stored statuses; ``open`` shows as ``reviewing`` once the deadline has passed (see :func:`phase`)
STATUSES: dict[str, tuple[str, str]] = {
    "draft": ("草稿（未发布）", "draft (not published)"),
    "open": ("征求意见中", "open for opinions"),
    "reviewing": ("意见征集已截止，正在研究答复", "opinions closed, being answered"),
    "closed": ("已公布采纳情况", "result published"),
    "withdrawn": ("已撤回", "withdrawn"),
}
PUBLIC_PHASES = frozenset({"open", "reviewing", "closed", "withdrawn"})  # what anyone may see
ACTIONS: dict[str, tuple[str, str]] = {  # what the bureau did, for its activity record
    "drafted": ("起草", "drafted"),
    "edited": ("修改草稿", "edited the draft"),
    "impact": ("附上政策模拟测算", "attached the simulated impact"),
    "published": ("发布（征求意见天数）", "published (days for opinions)"),
    "withdrawn": ("撤回", "withdrew"),
    "hid": ("隐藏意见", "hid an opinion"),
    "restored": ("恢复意见", "showed an opinion again"),
    "theme": ("新建意见类别", "made a theme"),
    "grouped": ("归类意见", "grouped opinions"),
    "answered": ("答复意见类别", "answered a theme"),
    "hearing": ("记录听证会", "recorded a hearing"),
    "closed": ("公布采纳情况", "published the result"),
}
DECISIONS: dict[str, tuple[str, str]] = {
    "adopted": ("采纳", "adopted"),
    "partly": ("部分采纳", "partly adopted"),
    "not_adopted": ("未采纳", "not adopted"),
}


def phase(status: str, deadline: dt.datetime | None, now: dt.datetime) -> str:
    """Where a consultation stands: its stored status, except that an ``open`` one whose deadline has
    passed is ``reviewing`` (opinions are closed; the bureau groups and answers them)."""
    if status == "open" and deadline is not None and now >= deadline:
        return "reviewing"
    return status


def deadline_of(day: dt.date) -> dt.datetime:
    """The deadline of an opinion period ending on ``day``: 24:00 Beijing time (the next day's 00:00),
    as an aware UTC datetime."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=BEIJING)
    return midnight.astimezone(dt.UTC)


def beijing_day(moment: dt.datetime) -> dt.date:
    """The calendar day in Beijing of an aware datetime."""
    return moment.astimezone(BEIJING).date()


def period_days(published: dt.datetime, last_day: dt.date) -> int:
    """Calendar days of the opinion period: from the day after publication (Beijing) to ``last_day``,
    both counted (a period is counted from the next day, as periods in law are)."""
    return (last_day - beijing_day(published)).days


def check_publish(
    status: str, now: dt.datetime, last_day: dt.date, short_reason: str, params: ConsultParams
) -> int:
    """May a consultation in ``status`` be published at ``now`` with opinions until ``last_day``?  The
    period must be at least ``params.min_days`` days unless a reason for a shorter one is stated (it is
    published with the consultation).  Returns the period in days."""
    if status != "draft":
        raise ConsultError(
            "status", f"只有草稿可以发布 only a draft can be published (it is {status})", "bad_transition"
        )
    days = period_days(now, last_day)
    if days < 1:
        raise ConsultError("deadline", "截止日期须晚于今天 the last day must be after today")
    if days < params.min_days and not short_reason.strip():
        raise ConsultError(
            "short_reason",
            f"征求意见期少于 {params.min_days} 日（本次 {days} 日），须说明缩短的理由 "
            f"an opinion period shorter than {params.min_days} days ({days}) needs a stated reason",
            "missing",
        )
    if len(short_reason) > 500:
        raise ConsultError("short_reason", "最多 500 字 at most 500 characters")
    return days


def check_draft(title: str, summary: str, body: str) -> None:
    """The draft's own text: a title, a plain summary and the draft itself (征求意见稿)."""
    for field, value, most in (("title", title, 200), ("summary", summary, 2000), ("body", body, 20000)):
        if not value.strip():
            raise ConsultError(field, "请填写此项 this field is required", "missing")
        if len(value) > most:
            raise ConsultError(field, f"最多 {most} 字 at most {most} characters")


def check_edit(status: str) -> None:
    if status != "draft":
        raise ConsultError(
            "status", "已发布的征求意见稿不能修改 a published draft cannot be edited", "bad_transition"
        )


def check_withdraw(current: str, reason: str) -> None:
    """A draft or an open consultation may be withdrawn, with a reason that is published."""
    if current not in ("draft", "open", "reviewing"):
        raise ConsultError("status", "该征求意见已不能撤回 it can no longer be withdrawn", "bad_transition")
    if not reason.strip():
        raise ConsultError("reason", "请说明撤回的理由 please give the reason", "missing")
    if len(reason) > 1000:
        raise ConsultError("reason", "最多 1000 字 at most 1000 characters")


# ---------------------------------------------------------------------------- opinions
OPINION_ROLES = frozenset({"insured", "institution", "auditor", "admin"})  # anyone logged in
STAFF_ROLES = frozenset({"auditor", "admin"})  # the bureau's staff run consultations


def check_opinion(current: str, body: str, about: str, params: ConsultParams, already: int = 0) -> None:
    """An opinion may be given only while the consultation is open (before the deadline), and one login
    may give at most ``params.max_per_person`` (``already`` given)."""
    if current != "open":
        zh, en = {
            "draft": ("尚未发布", "it is not published yet"),
            "reviewing": ("意见征集已截止", "the opinion period has ended"),
            "closed": ("已公布结果", "the result is published"),
            "withdrawn": ("已撤回", "it was withdrawn"),
        }.get(current, (current, current))
        raise ConsultError("status", f"现在不能发表意见：{zh} opinions are not taken now: {en}", "closed")
    if already >= params.max_per_person:
        raise ConsultError(
            "body",
            f"每人对同一征求意见最多发表 {params.max_per_person} 条意见 "
            f"at most {params.max_per_person} opinions per person on one consultation",
            "closed",
        )
    if not body.strip():
        raise ConsultError("body", "请填写意见内容 please write your opinion", "missing")
    if len(body) > params.max_opinion_chars:
        raise ConsultError(
            "body",
            f"意见最多 {params.max_opinion_chars} 字 an opinion has at most {params.max_opinion_chars} characters",
        )
    if len(about) > 200:
        raise ConsultError("about", "最多 200 字 at most 200 characters")


def check_hide(reason: str) -> None:
    """Hiding an opinion (moderation) states why; the reason is shown in its place."""
    if not reason.strip():
        raise ConsultError("reason", "请说明隐藏的理由 please give the reason for hiding it", "missing")
    if len(reason) > 500:
        raise ConsultError("reason", "最多 500 字 at most 500 characters")


def mask_name(name: str) -> str:
    """A person's name as shown publicly: the first character, the rest as ＊ ("张＊＊", at most three)."""
    name = name.split(" ")[0].strip()
    return name[:1] + "＊" * min(max(len(name) - 1, 1), 3) if name else "＊"


def public_author(role: str, display_name: str, anonymous: bool) -> tuple[str, str]:
    """Who gave an opinion, as shown to everyone: an insured person by a masked name, an institution by
    its name, the bureau's staff as the bureau; "匿名" hides the name (the role stays)."""
    if role == "insured":
        if anonymous:
            return "参保群众", "insured person"
        masked = mask_name(display_name)
        return f"参保群众 {masked}", f"insured person {masked}"
    if role == "institution":
        if anonymous:
            return "定点医药机构", "designated institution"
        zh, _, en = display_name.partition(" ")
        return f"定点医药机构 {zh}", f"institution {en or zh}"
    return "医保部门工作人员", "insurance bureau staff"


# ---------------------------------------------------------------------------- themes, responses, hearings
def check_grouping(current: str) -> None:
    """Opinions are grouped into themes while open or reviewing (not in a draft, not once closed)."""
    if current not in ("open", "reviewing"):
        raise ConsultError(
            "status",
            "只能在征求意见期间或截止后归类意见 themes only while open or reviewing",
            "bad_transition",
        )


def check_theme(current: str, title: str) -> None:
    check_grouping(current)
    if not title.strip():
        raise ConsultError("title", "请填写意见类别名称 please name the theme", "missing")
    if len(title) > 200:
        raise ConsultError("title", "最多 200 字 at most 200 characters")


def check_response(current: str, decision: str, text: str) -> None:
    """The bureau answers a theme after the deadline: adopted, partly or not adopted — always saying why
    or how (采纳情况及理由)."""
    if current != "reviewing":
        raise ConsultError(
            "status",
            "意见征集截止后、公布结果前才能答复 answers are given after the deadline and before the result",
            "bad_transition",
        )
    if decision not in DECISIONS:
        raise ConsultError("decision", f"处理结果无效 {decision!r} is not one of {', '.join(DECISIONS)}")
    if not text.strip():
        what = "请说明未采纳的理由" if decision == "not_adopted" else "请说明如何采纳"
        raise ConsultError("text", f"{what} please say why or how", "missing")
    if len(text) > 4000:
        raise ConsultError("text", "最多 4000 字 at most 4000 characters")


def names_list(text: str) -> list[str]:
    """Participants or observers typed one per line (or separated by 、，;): the non-empty names."""
    parts: Iterable[str] = text.replace("、", "\n").replace("，", "\n").replace(";", "\n").splitlines()
    return [p.strip() for p in parts if p.strip()]


def check_hearing(
    current: str,
    held_on: dt.date,
    published: dt.datetime | None,
    place: str,
    participants: Sequence[str],
    observers: Sequence[str],
    summary: str,
    today: dt.date,
) -> None:
    """A hearing (听证会) is recorded once it has been held, during or after the opinion period: its
    date, place, who spoke (participants), who watched (observers) and what was said."""
    if current not in ("open", "reviewing"):
        raise ConsultError(
            "status",
            "只能为已发布、未公布结果的征求意见记录听证会 only while open or reviewing",
            "bad_transition",
        )
    if published is not None and held_on < beijing_day(published):
        raise ConsultError("held_on", "听证会日期不能早于发布日期 the hearing cannot precede publication")
    if held_on > today:
        raise ConsultError("held_on", "听证会举行后才能记录 record a hearing after it has been held")
    if not place.strip() or len(place) > 200:
        raise ConsultError(
            "place", "请填写地点（最多 200 字） the place is required (at most 200)", "missing"
        )
    if not participants:
        raise ConsultError("participants", "请填写听证参加人 list the participants", "missing")
    if len(participants) > 200 or len(observers) > 500:
        raise ConsultError("participants", "人数过多 too many names")
    if any(len(n) > 100 for n in (*participants, *observers)):
        raise ConsultError("participants", "每人最多 100 字 at most 100 characters a name")
    if not summary.strip():
        raise ConsultError("summary", "请填写听证情况 please summarise the hearing", "missing")
    if len(summary) > 8000:
        raise ConsultError("summary", "最多 8000 字 at most 8000 characters")


# ---------------------------------------------------------------------------- closing and the adoption rate
@dataclass(frozen=True)
class Adoption:
    """How the bureau answered the themes: counts per decision, the rate over themes, and the share of
    opinions whose theme counted as adopted."""

    adopted: int
    partly: int
    not_adopted: int
    themes: int
    rate: Fraction | None  # None when no theme was answered
    opinions: int
    opinions_adopted: int
    opinion_rate: Fraction | None


def adoption(answered: Sequence[tuple[str, int]], partly_counts: bool) -> Adoption:
    """The adoption rate (采纳率) of answered themes, given as ``(decision, opinions in the theme)``:
    (adopted + partly, when ``partly_counts``) ÷ answered themes; and the same over opinions."""
    by = {d: sum(1 for dec, _ in answered if dec == d) for d in DECISIONS}
    counts = {"adopted", "partly"} if partly_counts else {"adopted"}
    n = len(answered)
    ops = sum(k for _, k in answered)
    ops_yes = sum(k for dec, k in answered if dec in counts)
    yes = sum(by[d] for d in counts)
    return Adoption(
        by["adopted"],
        by["partly"],
        by["not_adopted"],
        n,
        Fraction(yes, n) if n else None,
        ops,
        ops_yes,
        Fraction(ops_yes, ops) if ops else None,
    )


def percent(rate: Fraction | None) -> str:
    """A rate as people read it, one decimal ("66.7%"); "—" when there is none."""
    if rate is None:
        return "—"
    tenths = (rate * 1000 * 2 + 1) // 2  # half up, in exact arithmetic
    return f"{tenths // 10}.{tenths % 10}%"


def check_close(
    current: str, themes: int, unanswered: int, ungrouped: int, visible_opinions: int, result: str
) -> None:
    """The result is published (公布采纳情况) after the deadline, once every visible opinion is in a theme
    and every theme is answered, with a summary of what changes in the policy."""
    if current != "reviewing":
        zh, en = STATUSES.get(current, (current, current))
        if current == "open":
            zh, en = "意见征集尚未截止", "the opinion period has not ended"
        raise ConsultError(
            "status", f"现在不能公布结果：{zh} the result cannot be published now: {en}", "bad_transition"
        )
    if ungrouped:
        raise ConsultError(
            "themes", f"还有 {ungrouped} 条意见未归类 {ungrouped} opinions are not in a theme", "incomplete"
        )
    if visible_opinions and not themes:
        raise ConsultError("themes", "请先将意见归类 group the opinions into themes first", "incomplete")
    if unanswered:
        raise ConsultError(
            "themes", f"还有 {unanswered} 类意见未答复 {unanswered} themes are not answered", "incomplete"
        )
    if not result.strip():
        raise ConsultError("result", "请填写采纳情况说明 please summarise the outcome", "missing")
    if len(result) > 8000:
        raise ConsultError("result", "最多 8000 字 at most 8000 characters")
