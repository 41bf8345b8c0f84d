"""The simulated impact of a draft policy, for the public: taken from a what-if simulation report (the
``yibao.simulation/1`` JSON of ``yibao simulate``) and told in plain words — what changes, what it costs
the fund, who pays less, who pays more, and whether the fund stays sound.  Pure: the report and the
policy's names come in, text goes out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from yibao.consult.core import ConsultError
from yibao.money import div_half_up, fmt_yuan

REPORT_FORMAT = "yibao.simulation/1"


@dataclass(frozen=True)
class PolicyNames:
    """Names people know, from the baseline policy: benefit id → (Chinese, English) of its scheme and
    visit types, hospital level code → names, scheme code → names."""

    benefits: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    levels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    schemes: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    what_zh: str
    what_en: str
    before: str
    after: str


@dataclass(frozen=True)
class Group:
    """A group of people (scheme × age band × income fifth) and their mean change a year, fen (< 0: pays
    less)."""

    scheme_zh: str
    scheme_en: str
    age_band: str
    quintile: int
    persons: int
    mean_delta_fen: int


@dataclass(frozen=True)
class FundMonths:
    name_zh: str
    name_en: str
    before: float | None
    after: float | None
    before_band: str
    after_band: str


@dataclass(frozen=True)
class Impact:
    """What the public page shows about a draft's simulated effect (money in fen)."""

    persons: int
    visits: int
    period: tuple[str, str]
    changes: list[Change]
    fund_change_fen: int  # all funds, a year
    fund_pct: float | None
    oop_change_fen: int  # what people pay themselves (account + cash), a year
    oop_pct: float | None
    threshold_fen: int
    better_off: int
    worse_off: int
    largest_gain_fen: int
    largest_loss_fen: int
    gainers: list[Group]
    losers: list[Group]
    months: list[FundMonths]
    generated: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Impact:
        return cls(
            persons=int(d["persons"]),
            visits=int(d["visits"]),
            period=(str(d["period"][0]), str(d["period"][1])),
            changes=[Change(**c) for c in d["changes"]],
            fund_change_fen=int(d["fund_change_fen"]),
            fund_pct=d["fund_pct"],
            oop_change_fen=int(d["oop_change_fen"]),
            oop_pct=d["oop_pct"],
            threshold_fen=int(d["threshold_fen"]),
            better_off=int(d["better_off"]),
            worse_off=int(d["worse_off"]),
            largest_gain_fen=int(d["largest_gain_fen"]),
            largest_loss_fen=int(d["largest_loss_fen"]),
            gainers=[Group(**g) for g in d["gainers"]],
            losers=[Group(**g) for g in d["losers"]],
            months=[FundMonths(**m) for m in d["months"]],
            generated=str(d.get("generated") or ""),
        )


# ---------------------------------------------------------------------------- from the report
_KINDS = {
    "deductible": ("起付线", "deductible"),
    "ratio": ("支付比例", "reimbursement ratio"),
    "cap": ("最高支付限额", "annual cap"),
}
_VERSION = re.compile(r"^versions\[[^\]]*\]\.")
_BENEFIT = re.compile(r"benefits\[([^\]]+)\]")
_LEVEL = re.compile(r"\[level=([^\]]+)\]")


def _change(row: Mapping[str, Any], names: PolicyNames) -> tuple[str, Change]:
    path = str(row["path"])
    key = _VERSION.sub("", path)
    zh, en = _KINDS.get(str(row.get("kind")), ("政策参数", "policy parameter"))
    b = _BENEFIT.search(path)
    if b:
        bz, be = names.benefits.get(b.group(1), (b.group(1), b.group(1)))
        zh, en = f"{bz}{zh}", f"{be} {en}"
    lv = _LEVEL.search(path)
    if lv:
        lz, le = names.levels.get(lv.group(1), (lv.group(1), lv.group(1)))
        zh, en = f"{zh}（{lz}医院）", f"{en} ({le} hospital)"
    before, after = (_plain(str(row.get(k) or "")) for k in ("baseline_display", "candidate_display"))
    return key, Change(zh, en, before, after)


def _plain(display: str) -> str:
    """A parameter's value as the report displays it, for people: "150.00 元" → "150 元", none → 不设."""
    return display.replace("无 none", "不设").replace(".00 元", " 元")


def _en(value: str) -> str:
    return value.replace(" 元", " yuan").replace("不设", "none")


def _row(rows: list[Mapping[str, Any]], key: str) -> Mapping[str, Any]:
    for r in rows:
        if r.get("key") == key:
            return r
    raise ConsultError("report", f"模拟报告缺少 {key} 一项 the simulation report has no {key!r} row")


def _group(g: Mapping[str, Any], names: PolicyNames) -> Group:
    code = str(g["insutype"])
    label = str(g.get("scheme_label") or code)
    zh, _, en = label.partition(" ")
    zh, en = names.schemes.get(code, (zh, en or zh))
    return Group(zh, en, str(g["age_band"]), int(g["quintile"]), int(g["persons"]), int(g["mean_delta_fen"]))


def impact_from_report(report: Mapping[str, Any], names: PolicyNames, top: int = 3) -> Impact:
    """The public summary of a simulation report (``yibao.simulation/1``); a report of another shape is
    refused, naming what is missing."""
    if report.get("format") != REPORT_FORMAT:
        raise ConsultError(
            "report", f"不是政策模拟报告（须为 {REPORT_FORMAT}） not a simulation report ({REPORT_FORMAT})"
        )
    try:
        meta, funds, oop, w = report["meta"], report["funds"], report["oop"], report["winners"]
        changes: dict[str, Change] = {}
        for row in report["policy_diff"]:
            key, ch = _change(row, names)
            changes.setdefault(key, ch)  # the same change in every policy year is said once
        allf, tot = _row(funds, "fund_pay_sumamt"), _row(oop, "total")
        months = [
            FundMonths(
                str(m["name"]),
                str(m["name_en"]),
                m["baseline_months"],
                m["candidate_months"],
                str(m["baseline_band"]),
                str(m["candidate_band"]),
            )
            for m in report.get("months_payable", [])
        ]
        return Impact(
            persons=int(meta["persons"]),
            visits=int(meta.get("settled_visits") or meta["visits"]),
            period=(str(meta["period"][0]), str(meta["period"][1])),
            changes=list(changes.values()),
            fund_change_fen=int(allf["change_fen"]),
            fund_pct=allf["pct"],
            oop_change_fen=int(tot["change_fen"]),
            oop_pct=tot["pct"],
            threshold_fen=int(w["threshold_fen"]),
            better_off=int(w["better_off"]),
            worse_off=int(w["worse_off"]),
            largest_gain_fen=int(w["largest_gain_fen"]),
            largest_loss_fen=int(w["largest_loss_fen"]),
            gainers=[_group(g, names) for g in w["top_gainers"][:top]],
            losers=[_group(g, names) for g in w["top_losers"][:top]],
            months=months,
            generated=str(meta.get("generated") or ""),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ConsultError(
            "report", f"模拟报告内容不完整 the simulation report is incomplete: {exc}"
        ) from exc


# ---------------------------------------------------------------------------- in plain words
BANDS = {
    "red": ("不足，需要预警", "too low, a warning"),
    "amber": ("偏低", "low"),
    "green": ("合理", "sound"),
    "target": ("合理", "sound"),
    "excessive": ("结余偏多", "more than needed"),
}
QUINTILES = {
    1: ("收入最低的五分之一家庭", "the poorest fifth of households"),
    2: ("收入较低家庭", "lower-income households"),
    3: ("收入中等家庭", "middle-income households"),
    4: ("收入较高家庭", "higher-income households"),
    5: ("收入最高的五分之一家庭", "the richest fifth of households"),
}


def whole_yuan(fen: int) -> str:
    """Whole yuan with thousands separators, half up ("32,425")."""
    return f"{div_half_up(abs(fen), 100):,}"


def _pct(p: float | None) -> str:
    return "" if p is None else f"{abs(p):.1f}%"


def _age(band: str, lang: str) -> str:
    if band.endswith("+"):
        return f"{band[:-1]} 岁及以上" if lang == "zh" else f"aged {band[:-1]} and over"
    return f"{band} 岁" if lang == "zh" else f"aged {band}"


def _who(g: Group, lang: str) -> str:
    q = QUINTILES.get(g.quintile, (f"第 {g.quintile} 组", f"income group {g.quintile}"))
    if lang == "zh":
        return f"{g.scheme_zh}中 {_age(g.age_band, 'zh')}、来自{q[0]}的参保人（{g.persons:,} 人）"
    return f"people in {g.scheme_en} {_age(g.age_band, 'en')} from {q[1]} ({g.persons:,})"


def _months(v: float | None) -> str:
    return "不受限" if v is None else f"{v:.1f}"


def explain(impact: Impact) -> dict[str, list[str]]:
    """The impact in plain sentences, Chinese and English: what changes, the fund, who pays less, who
    pays more, whether the fund stays sound."""
    zh: list[str] = []
    en: list[str] = []
    i = impact
    if i.changes:
        zh.append(
            "这项调整：" + "；".join(f"{c.what_zh}由 {c.before}调整为 {c.after}" for c in i.changes) + "。"
        )
        en.append(
            "What changes: "
            + "; ".join(f"{c.what_en} from {_en(c.before)} to {_en(c.after)}" for c in i.changes)
            + "."
        )
    zh.append(
        f"我们用 {i.persons:,} 名参保人 {i.period[0][:4]} 年的 {i.visits:,} 次就诊，按现行政策和调整后的政策各算了一遍。"
    )
    en.append(
        f"We settled {i.visits:,} visits of {i.persons:,} insured people in {i.period[0][:4]} twice: under the "
        "current policy and under the draft."
    )
    f = i.fund_change_fen
    if f:
        more = f > 0
        zh.append(
            f"医保基金一年{'多支付' if more else '少支付'}约 {whole_yuan(f)} 元（{'增加' if more else '减少'} {_pct(i.fund_pct)}）；"
            f"参保人自己{'少付' if i.oop_change_fen < 0 else '多付'}约 {whole_yuan(i.oop_change_fen)} 元。"
        )
        en.append(
            f"The insurance funds would pay about ¥{whole_yuan(f)} {'more' if more else 'less'} a year "
            f"({_pct(i.fund_pct)}); insured people would pay about ¥{whole_yuan(i.oop_change_fen)} "
            f"{'less' if i.oop_change_fen < 0 else 'more'} themselves."
        )
    else:
        zh.append("医保基金的支出不变。")
        en.append("The funds would spend the same.")
    thr = whole_yuan(i.threshold_fen)
    zh.append(
        f"一年少付 {thr} 元以上的有 {i.better_off:,} 人"
        + (f"，最多的一人少付 {whole_yuan(i.largest_gain_fen)} 元" if i.largest_gain_fen else "")
        + f"；多付 {thr} 元以上的有 {i.worse_off:,} 人"
        + (f"，最多的一人多付 {whole_yuan(i.largest_loss_fen)} 元" if i.largest_loss_fen else "")
        + "。"
    )
    en.append(
        f"{i.better_off:,} people would pay over ¥{thr} less a year"
        + (f" (at most ¥{whole_yuan(i.largest_gain_fen)} less)" if i.largest_gain_fen else "")
        + f" and {i.worse_off:,} over ¥{thr} more"
        + (f" (at most ¥{whole_yuan(i.largest_loss_fen)} more)" if i.largest_loss_fen else "")
        + "."
    )
    if i.gainers:
        g = i.gainers[0]
        zh.append(f"受益最多的是{_who(g, 'zh')}，平均每人每年少付 {fmt_yuan(abs(g.mean_delta_fen))} 元。")
        en.append(
            f"Those who gain most are {_who(g, 'en')}: ¥{fmt_yuan(abs(g.mean_delta_fen))} less each a year."
        )
    if i.losers:
        g = i.losers[0]
        zh.append(f"多付最多的是{_who(g, 'zh')}，平均每人每年多付 {fmt_yuan(g.mean_delta_fen)} 元。")
        en.append(
            f"Those who pay most more are {_who(g, 'en')}: ¥{fmt_yuan(g.mean_delta_fen)} more each a year."
        )
    else:
        zh.append("没有哪一类人群平均负担增加。")
        en.append("No group of people would pay more on average.")
    for m in i.months:
        if m.before == m.after:
            continue
        bz, be = BANDS.get(m.after_band, (m.after_band, m.after_band))
        zh.append(
            f"{m.name_zh}的累计结余可支付月数由 {_months(m.before)} 个月变为 {_months(m.after)} 个月，仍属“{bz}”。"
            if m.before_band == m.after_band
            else f"{m.name_zh}的累计结余可支付月数由 {_months(m.before)} 个月变为 {_months(m.after)} 个月，变为“{bz}”。"
        )
        en.append(
            f"The {m.name_en}'s reserve would cover {_months(m.after)} months of spending instead of "
            f"{_months(m.before)} ({be})."
        )
    return {"zh": zh, "en": en}
