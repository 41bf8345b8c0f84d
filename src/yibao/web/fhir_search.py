"""FHIR search, pure: reading search parameters (token, reference, date with prefixes), ``_count`` and
paging, and the searchset Bundle with its ``self`` / ``first`` / ``previous`` / ``next`` links.

Paging is by offset under a snapshot (``_at``: the newest row id when the first page was read), so that a
client that follows ``next`` sees every match exactly once even while new settlements are stored."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from yibao.errors import FieldError

DEFAULT_COUNT = 50
MAX_COUNT = 200
PAGING = frozenset({"_count", "_offset", "_at"})
IGNORED_QUIETLY = frozenset({"_format", "_pretty"})
BEIJING = dt.timezone(dt.timedelta(hours=8))
_DATE = re.compile(
    r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$"
)


class SearchError(FieldError):
    """A search the server cannot run as asked (→ 400 OperationOutcome naming the parameter)."""


@dataclass
class Search:
    """One search request: its parameters in order, those used and those ignored."""

    params: list[tuple[str, str]]
    count: int = DEFAULT_COUNT
    offset: int = 0
    at: int | None = None
    strict: bool = False
    used: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        """Every value of ``name`` (each repetition AND-ed; commas inside one value OR-ed), marked used."""
        out = [v for k, v in self.params if k == name]
        self.used += [(name, v) for v in out]
        return out

    def one(self, name: str) -> str | None:
        vals = self.values(name)
        if len(vals) > 1:
            raise SearchError(name, f"只能出现一次 may appear only once ({len(vals)} given)")
        return vals[0] if vals else None

    def finish(self, known: frozenset[str]) -> None:
        """Every parameter not in ``known`` (nor paging) is unknown: an error under
        ``Prefer: handling=strict``, else listed in the Bundle's OperationOutcome as not used."""
        for k, _v in self.params:
            if k in PAGING or k in IGNORED_QUIETLY or k in known:
                continue
            if self.strict:
                raise SearchError(k, f"不支持的查询参数 unsupported search parameter {k!r}", "not-supported")
            if k not in self.ignored:
                self.ignored.append(k)


def parse(params: Sequence[tuple[str, str]], prefer: str | None) -> Search:
    """``_count`` clamped to 1..200 (0 = only the total), ``_offset`` ≥ 0, ``_at`` the paging snapshot."""
    s = Search(list(params), strict="handling=strict" in (prefer or "").replace(" ", ""))
    raw = [v for k, v in params if k == "_count"]
    if raw:
        try:
            n = int(raw[-1])
        except ValueError as exc:
            raise SearchError("_count", f"须为整数 must be an integer, not {raw[-1]!r}") from exc
        if n < 0:
            raise SearchError("_count", "不能为负数 must not be negative")
        s.count = min(n, MAX_COUNT)
    for name in ("_offset", "_at"):
        vals = [v for k, v in params if k == name]
        if vals:
            try:
                n = int(vals[-1])
            except ValueError as exc:
                raise SearchError(name, f"须为整数 must be an integer, not {vals[-1]!r}") from exc
            if n < 0:
                raise SearchError(name, "不能为负数 must not be negative")
            if name == "_offset":
                s.offset = n
            else:
                s.at = n
    return s


def token(value: str) -> tuple[str | None, str]:
    """``system|code`` → (system, code); ``code`` → (None, code); ``|code`` → ("", code)."""
    if "|" in value:
        system, _, code = value.partition("|")
        return system, code
    return None, value


def reference_id(value: str, kind: str, name: str) -> str:
    """The id of ``kind/<id>``, ``<id>`` or an absolute ``…/kind/<id>`` reference."""
    v = value.strip()
    if "/" in v:
        head, _, rid = v.rpartition("/")
        if not head.endswith(kind):
            raise SearchError(name, f"须引用 {kind} must reference a {kind}, not {value!r}")
        v = rid
    if not v:
        raise SearchError(name, "引用为空 empty reference")
    return v


@dataclass(frozen=True)
class DateParam:
    prefix: str
    lo: str  # inclusive lower bound of the value's range (ISO)
    hi: str  # exclusive upper bound


def date_param(name: str, value: str, *, instant: bool) -> DateParam:
    """A date search value with its prefix, as the half-open range [lo, hi) its precision covers.
    Dates without a zone are Beijing time; ``instant`` bounds are UTC ISO timestamps, else dates."""
    m = _DATE.match(value)
    if m is None:
        raise SearchError(name, f"日期格式不对 not a FHIR date: {value!r}")
    prefix, text = m.group(1) or "eq", m.group(2)
    if prefix == "ne":
        raise SearchError(name, "不支持前缀 ne prefix ne is not supported", "not-supported")
    if "T" in text:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=BEIJING)
        lo_t, hi_t = t, t + dt.timedelta(seconds=1)
    else:
        parts = [int(x) for x in text.split("-")]
        start = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        if len(parts) == 1:
            end = dt.date(parts[0] + 1, 1, 1)
        elif len(parts) == 2:
            end = dt.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
        else:
            end = start + dt.timedelta(days=1)
        if not instant:
            return DateParam(prefix, start.isoformat(), end.isoformat())
        lo_t = dt.datetime.combine(start, dt.time(), BEIJING)
        hi_t = dt.datetime.combine(end, dt.time(), BEIJING)
    if not instant:
        day = lo_t.astimezone(BEIJING).date()
        return DateParam(prefix, day.isoformat(), (day + dt.timedelta(days=1)).isoformat())
    return DateParam(prefix, lo_t.astimezone(dt.UTC).isoformat(), hi_t.astimezone(dt.UTC).isoformat())


def period_conditions(p: DateParam) -> list[tuple[str, str, str]]:
    """Conditions on a period [begin_date, end_date] (inclusive dates) for a date value's range [lo, hi):
    eq = the period lies within; gt/ge = it reaches past / into the range from above; lt/le alike below;
    sa = starts after; eb = ends before; ap = overlaps."""
    hi_incl = (dt.date.fromisoformat(p.hi) - dt.timedelta(days=1)).isoformat()
    lo = p.lo
    return {
        "eq": [("begin_date", ">=", lo), ("end_date", "<=", hi_incl)],
        "gt": [("end_date", ">", hi_incl)],
        "ge": [("end_date", ">=", lo)],
        "lt": [("begin_date", "<", lo)],
        "le": [("begin_date", "<=", hi_incl)],
        "sa": [("begin_date", ">", hi_incl)],
        "eb": [("end_date", "<", lo)],
        "ap": [("begin_date", "<=", hi_incl), ("end_date", ">=", lo)],
    }[p.prefix]


def instant_conditions(field_name: str, p: DateParam) -> list[tuple[str, str, str]]:
    """Conditions on a point in time (an ISO UTC timestamp column) for a range [lo, hi)."""
    return {
        "eq": [(field_name, ">=", p.lo), (field_name, "<", p.hi)],
        "ap": [(field_name, ">=", p.lo), (field_name, "<", p.hi)],
        "gt": [(field_name, ">=", p.hi)],
        "sa": [(field_name, ">=", p.hi)],
        "ge": [(field_name, ">=", p.lo)],
        "lt": [(field_name, "<", p.lo)],
        "eb": [(field_name, "<", p.lo)],
        "le": [(field_name, "<", p.hi)],
    }[p.prefix]


def outcome_issue(
    severity: str, code: str, diagnostics: str, expression: str | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def bundle(
    base: str,
    rtype: str,
    s: Search,
    total: int,
    matches: Sequence[dict[str, Any]],
    includes: Sequence[dict[str, Any]] = (),
    *,
    snapshot: int | None = None,
) -> dict[str, Any]:
    """A searchset Bundle: the true ``total``, one page of matches, included resources, an
    OperationOutcome entry naming the parameters not used, and paging links that repeat only the
    parameters that were used."""
    used = [(k, v) for k, v in s.used]

    def link(offset: int) -> str:
        q = [*used, ("_count", str(s.count)), ("_offset", str(offset))]
        if snapshot is not None:
            q.append(("_at", str(snapshot)))
        return f"{base}/{rtype}?{urlencode(q)}"

    links = [{"relation": "self", "url": link(s.offset)}]
    if s.count:
        links.append({"relation": "first", "url": link(0)})
        if s.offset > 0:
            links.append({"relation": "previous", "url": link(max(s.offset - s.count, 0))})
        if s.offset + s.count < total:
            links.append({"relation": "next", "url": link(s.offset + s.count)})
        last = max((total - 1) // s.count * s.count, 0) if total else 0
        links.append({"relation": "last", "url": link(last)})
    entries = [
        {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in matches
    ]
    seen = {(r["resourceType"], r["id"]) for r in matches}
    for r in includes:
        key = (r["resourceType"], r["id"])
        if key not in seen:
            seen.add(key)
            entries.append(
                {
                    "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "include"},
                }
            )
    if s.ignored:
        entries.append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        outcome_issue(
                            "warning",
                            "not-supported",
                            f"未使用的查询参数 search parameter not used: {name}",
                            name,
                        )
                        for name in s.ignored
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries}
