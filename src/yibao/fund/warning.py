"""Early warning (基金风险预警) as a pure core: indicators per month, their levels against the thresholds
of ``params.yaml``, and the lifecycle of an alert.

Indicators (each computed for a month from the year to date, with the same months a year earlier for
growth):

* ``months_payable`` per fund — 累计结余可支付月数 with the 3 / 6 / 9 / 15-month bands;
* ``balance_rate`` per fund — 当期结余率 = (revenue − payments) / revenue, revenue = income + interest + net
  transfers;
* ``growth_gap`` per fund — payments growth − revenue growth (points);
* ``cost_per_visit`` / ``cost_per_admission`` per scheme and their growth (次均费用及增长);
* ``admission_rate`` per scheme — admissions a year per insured person (住院率);
* ``active_retired_ratio`` — in-service : retired employees (职退比);
* ``per_capita_spending`` per scheme and its growth (人均基金支出);
* ``cross_region_outflow`` — share of fund payments for care outside the region (异地就医): the remote
  visits settled by this region's ledger, with the visits routed through the clearing hub counted as the
  hub cleared them (by clearing month) instead of as settled (:class:`Cleared`); without clearing data the
  ledger's figure stands and the reading says the clearing is not connected;
* ``drg_outlier_share`` / ``dip_outlier_share`` — outlier cases / cases of the year's payment.

Insured counts are month by month (:data:`Members` per 'YYYY-MM', at the month's end): rates per insured
person divide by the person-months of the months counted.

Values: ratios in 1/10000, months in 1/100, money in fen.  ``None`` means not available, with the reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from yibao.errors import FieldError
from yibao.fund.accounts import FundMonth
from yibao.fund.params import FundParams, Threshold
from yibao.money import div_half_up

ACTIVITY_SCHEMA: dict[str, type[pl.DataType]] = {
    "month": pl.String,
    "insutype": pl.String,
    "med_type": pl.String,
    "locality": pl.String,
    "visits": pl.Int64,
    "medfee": pl.Int64,
    "fund": pl.Int64,
}
LEVELS = ("ok", "amber", "red", "excessive", "na")
NAMES: dict[str, tuple[str, str]] = {
    "months_payable": ("累计结余可支付月数", "months payable"),
    "balance_rate": ("当期结余率", "current-year balance rate"),
    "growth_gap": ("支出增速减收入增速", "expenditure growth − income growth"),
    "cost_per_visit": ("次均门诊费用", "cost per outpatient visit"),
    "cost_per_visit_growth": ("次均门诊费用增长率", "growth of cost per visit"),
    "cost_per_admission": ("次均住院费用", "cost per admission"),
    "cost_per_admission_growth": ("次均住院费用增长率", "growth of cost per admission"),
    "admission_rate": ("住院率", "admission rate"),
    "active_retired_ratio": ("职退比", "in-service : retired"),
    "per_capita_spending": ("人均基金支出", "fund spending per insured person"),
    "per_capita_spending_growth": ("人均基金支出增长率", "growth of spending per person"),
    "cross_region_outflow": ("异地就医基金支出占比", "cross-region outflow"),
    "drg_outlier_share": ("DRG 高低倍率病例占比", "DRG outlier share"),
    "dip_outlier_share": ("DIP 费用异常病例占比", "DIP outlier share"),
}
UNITS = {
    "months_payable": "months_x100",
    "cost_per_visit": "fen",
    "cost_per_admission": "fen",
    "per_capita_spending": "fen",
    "active_retired_ratio": "x10000",
}


class AlertError(FieldError):
    """A lifecycle step that is not allowed (``field`` names the input)."""

    def __init__(self, field: str, reason: str, code: str = "alert") -> None:
        super().__init__(field, reason, code)


@dataclass(frozen=True)
class Reading:
    """One indicator for one scope (fund or scheme) in one month."""

    indicator: str
    scope: str
    month: str
    value: int | None
    level: str  # ok / amber / red / excessive / na
    threshold: int | None  # the threshold crossed (or the amber line), same unit as value
    source: str
    note_zh: str = ""
    note_en: str = ""
    national: int | None = None

    @property
    def unit(self) -> str:
        return UNITS.get(self.indicator, "ratio")

    @property
    def breach(self) -> bool:
        return self.level in ("amber", "red", "excessive")


@dataclass(frozen=True)
class Members:
    """Insured persons in a period by contribution group."""

    in_service: int
    retired: int
    residents: int

    def of(self, scheme: str) -> int:
        return self.in_service + self.retired if scheme == "310" else self.residents


def members_by_month(yearly: Mapping[int, Members]) -> dict[str, Members]:
    """A count per year spread to each of its months (for books that only know a year's count)."""
    return {f"{y:04d}-{m:02d}": v for y, v in yearly.items() for m in range(1, 13)}


def person_months(members: Mapping[str, Members], months: Sequence[str], scheme: str) -> int | None:
    """Σ insured persons of ``scheme`` over ``months`` (person-months); None when a month has no count."""
    if not months or any(m not in members for m in months):
        return None
    return sum(members[m].of(scheme) for m in months)


@dataclass(frozen=True)
class Cleared:
    """This region's insured persons' care elsewhere as cleared with the other regions, one month and
    scheme (fen, fund part): ``cleared`` — cleared this month (a disputed line clears when accepted);
    ``routed`` — the settlements routed through the hub that this region's ledger holds for this settlement
    month (already in the ledger's remote visits, so taken out where the cleared figure replaces them)."""

    cleared: int
    routed: int
    cleared_lines: int = 0
    routed_lines: int = 0


def fmt_value(value: int | None, unit: str) -> str:
    """A reading's value for people: 3.25 个月 / 12.3% / 1,234.56 元 / 2.60."""
    if value is None:
        return "—"
    if unit == "months_x100":
        return f"{value / 100:.2f} 个月"
    if unit == "fen":
        return f"{value / 100:,.2f} 元"
    if unit == "ratio":
        return f"{value / 100:.1f}%"
    return f"{value / 10_000:.2f}"


def level_of(value: int | None, t: Threshold) -> tuple[str, int | None]:
    """(level, the line crossed) for a value against an above/below threshold."""
    if value is None:
        return "na", None
    if t.direction == "above":
        if value > t.red:
            return "red", t.red
        if value > t.amber:
            return "amber", t.amber
        return "ok", t.amber
    if value < t.red:
        return "red", t.red
    if value < t.amber:
        return "amber", t.amber
    return "ok", t.amber


def growth(cur: int, prev: int) -> int | None:
    """cur / prev − 1 in 1/10000 (None when the earlier figure is not positive)."""
    if prev <= 0:
        return None
    return div_half_up((cur - prev) * 10_000, prev)


def ytd_months(month: str) -> list[str]:
    """January up to ``month`` of the same year."""
    y, m = month[:4], int(month[5:])
    return [f"{y}-{k:02d}" for k in range(1, m + 1)]


def year_before(months: Sequence[str]) -> list[str]:
    return [f"{int(m[:4]) - 1:04d}{m[4:]}" for m in months]


def _fund_readings(month: str, rows: Mapping[str, Sequence[FundMonth]], p: FundParams) -> list[Reading]:
    out: list[Reading] = []
    mp_src = p.sources[p.months_payable.source].title
    for fund, fm in rows.items():
        by = {r.month: r for r in fm}
        if month not in by:
            continue
        r = by[month]
        lv = {"red": "red", "amber": "amber", "excessive": "excessive", "none": "na"}.get(r.band, "ok")
        line = {
            "red": p.months_payable.red_below * 100,
            "amber": p.months_payable.amber_below * 100,
            "excessive": p.months_payable.excessive_above * 100,
        }.get(r.band)
        note = (
            ("", "") if r.months_x100 is not None else ("不可用：尚无支出", "not available: no payments yet")
        )
        out.append(Reading("months_payable", fund, month, r.months_x100, lv, line, mp_src, *note))

        def rev(xs: Sequence[FundMonth]) -> int:
            return sum(x.income + x.interest + x.transfer_in - x.transfer_out for x in xs)

        cur = [by[m] for m in ytd_months(month) if m in by]
        prev = [by[m] for m in year_before(ytd_months(month)) if m in by]
        revenue, paid = rev(cur), sum(x.payments for x in cur)
        t = p.warning["balance_rate"]
        br = div_half_up((revenue - paid) * 10_000, revenue) if revenue > 0 else None
        lvl, line2 = level_of(br, t)
        nat = p.national.balance_rate.get(fund)
        note = ("", "") if br is not None else ("不可用：本年尚无收入", "not available: no revenue this year")
        out.append(
            Reading("balance_rate", fund, month, br, lvl, line2, p.sources[t.source].title, *note, nat)
        )
        t = p.warning["growth_gap"]
        if len(prev) == len(cur):
            ge, gi = growth(paid, sum(x.payments for x in prev)), growth(revenue, rev(prev))
            gap = ge - gi if ge is not None and gi is not None else None
            note = (
                ("", "")
                if gap is not None
                else ("不可用：上年同期为零", "not available: nothing a year earlier")
            )
        else:
            gap, note = (
                None,
                ("不可用：需上年同期数据", "not available: needs the same months a year earlier"),
            )
        lvl, line2 = level_of(gap, t)
        out.append(Reading("growth_gap", fund, month, gap, lvl, line2, p.sources[t.source].title, *note))
    return out


def _care_sums(
    act: pl.DataFrame, months: Sequence[str], p: FundParams
) -> dict[str, dict[str, tuple[int, int, int]]]:
    """scheme → care → (visits, medfee, fund) over ``months``; care: outpatient / inpatient / all / remote."""
    part = act.filter(pl.col("month").is_in(list(months)))
    care = (
        pl.when(pl.col("med_type").is_in(p.care.inpatient))
        .then(pl.lit("inpatient"))
        .when(pl.col("med_type").is_in(p.care.outpatient))
        .then(pl.lit("outpatient"))
        .otherwise(pl.lit("other"))
    )
    remote = pl.col("locality").is_in(p.care.remote_localities)
    g = (
        part.with_columns(care.alias("care"), remote.alias("remote"))
        .group_by("insutype", "care", "remote")
        .agg(pl.col("visits").sum(), pl.col("medfee").sum(), pl.col("fund").sum())
    )
    out: dict[str, dict[str, tuple[int, int, int]]] = {}
    for scheme, c, rem, v, m, f in g.iter_rows():
        for key in (c, "all", *(["remote"] if rem else [])):
            a = out.setdefault(scheme, {}).get(key, (0, 0, 0))
            out[scheme][key] = (a[0] + int(v), a[1] + int(m), a[2] + int(f))
    return out


def _scheme_readings(
    month: str,
    act: pl.DataFrame,
    members: Mapping[str, Members],
    p: FundParams,
    cleared_outflow: Mapping[tuple[str, str], Cleared] | None,
) -> list[Reading]:
    out: list[Reading] = []
    cur_m = ytd_months(month)
    prev_m = year_before(cur_m)
    have = set(act["month"].unique().to_list())
    has_prev = all(m in have for m in prev_m)
    cur, prev = _care_sums(act, cur_m, p), _care_sums(act, prev_m, p)
    mem = members.get(month)
    no_count = ("不可用：缺少逐月参保人数", "not available: an insured count is missing for a month")
    need_prev = ("不可用：需上年同期数据", "not available: needs the same months a year earlier")
    for scheme in sorted(cur):
        c, pv = cur[scheme], prev.get(scheme, {})
        for ind, care in (("cost_per_visit", "outpatient"), ("cost_per_admission", "inpatient")):
            v, fee, _ = c.get(care, (0, 0, 0))
            value = div_half_up(fee, v) if v else None
            note = ("", "") if value is not None else ("不可用：无就诊", "not available: no visits")
            out.append(
                Reading(ind, scheme, month, value, "ok" if value is not None else "na", None, "", *note)
            )
            t = p.warning[f"{ind}_growth"]
            pv_v, pv_fee, _ = pv.get(care, (0, 0, 0))
            g = growth(value, div_half_up(pv_fee, pv_v)) if has_prev and value is not None and pv_v else None
            lvl, line = level_of(g, t)
            note = ("", "") if g is not None else need_prev
            out.append(
                Reading(f"{ind}_growth", scheme, month, g, lvl, line, p.sources[t.source].title, *note)
            )
        # admission rate, annualised
        t = p.warning["admission_rate"]
        adm = c.get("inpatient", (0, 0, 0))[0]
        exposure = person_months(members, cur_m, scheme)
        rate = div_half_up(adm * 12 * 10_000, exposure) if exposure else None
        lvl, line = level_of(rate, t)
        note = ("", "") if rate is not None else no_count
        out.append(
            Reading(
                "admission_rate",
                scheme,
                month,
                rate,
                lvl,
                line,
                p.sources[t.source].title,
                *note,
                p.national.admission_rate.get(scheme),
            )
        )
        # spending per insured person, annualised, and its growth
        spent = c.get("all", (0, 0, 0))[2]
        pc = div_half_up(spent * 12, exposure) if exposure else None
        out.append(
            Reading(
                "per_capita_spending",
                scheme,
                month,
                pc,
                "ok" if pc is not None else "na",
                None,
                p.sources[p.national.source].title,
                *(("", "") if pc is not None else no_count),
                national=p.national.per_capita_spending.get(scheme),
            )
        )
        t = p.warning["per_capita_spending_growth"]
        prev_exposure = person_months(members, prev_m, scheme)
        pc_prev = div_half_up(pv.get("all", (0, 0, 0))[2] * 12, prev_exposure) if prev_exposure else None
        g = growth(pc, pc_prev) if has_prev and pc is not None and pc_prev else None
        lvl, line = level_of(g, t)
        note = ("", "") if g is not None else need_prev
        out.append(
            Reading(
                "per_capita_spending_growth", scheme, month, g, lvl, line, p.sources[t.source].title, *note
            )
        )
        # cross-region outflow
        t = p.warning["cross_region_outflow"]
        remote_fund = c.get("remote", (0, 0, 0))[2]
        if cleared_outflow is None:
            cleared = routed = 0
            note = (
                "按本统筹区账内结算的异地就医计；尚未导入跨省清算数据",
                "remote visits as settled in this region's ledger; no cross-region clearing imported",
            )
        else:
            got = [cleared_outflow[(m, scheme)] for m in cur_m if (m, scheme) in cleared_outflow]
            cleared, routed = sum(x.cleared for x in got), sum(x.routed for x in got)
            note = (
                f"含跨省清算：本年已清算 {fmt_value(cleared, 'fen')}（按清算月份）替代账内经清算中心结算的 "
                f"{fmt_value(routed, 'fen')}",
                f"with the cross-region clearing: {cleared / 100:,.2f} yuan cleared this year (by clearing "
                f"month) in place of the {routed / 100:,.2f} yuan routed through the hub and settled here",
            )
        out_fund, all_fund = remote_fund - routed + cleared, spent - routed + cleared
        share = div_half_up(out_fund * 10_000, all_fund) if all_fund > 0 else None
        lvl, line = level_of(share, t)
        out.append(
            Reading("cross_region_outflow", scheme, month, share, lvl, line, p.sources[t.source].title, *note)
        )
    if "310" in cur:
        if mem is None:
            out.append(
                Reading(
                    "active_retired_ratio", "310", month, None, "na", None, "", *no_count,
                    national=p.national.active_retired_ratio,
                )
            )  # fmt: skip
            return out
        t = p.warning["active_retired_ratio"]
        ratio = div_half_up(mem.in_service * 10_000, mem.retired) if mem.retired else None
        lvl, line = level_of(ratio, t)
        out.append(
            Reading(
                "active_retired_ratio",
                "310",
                month,
                ratio,
                lvl,
                line,
                p.sources[t.source].title,
                national=p.national.active_retired_ratio,
            )
        )
    return out


def readings(
    month: str,
    positions: Mapping[str, Sequence[FundMonth]],
    activity: pl.DataFrame,
    members: Mapping[str, Members],
    p: FundParams,
    *,
    outliers: Mapping[str, tuple[int, int]] | None = None,
    cleared_outflow: Mapping[tuple[str, str], Cleared] | None = None,
) -> list[Reading]:
    """Every indicator for ``month``.  ``activity``: settled care per month, scheme, visit type and
    locality (:data:`ACTIVITY_SCHEMA`); ``members``: insured persons at each month's end ('YYYY-MM');
    ``outliers``: method ('drg', 'dip') → (outlier cases, cases) of the year's payment;
    ``cleared_outflow``: (month, scheme) → :class:`Cleared` (None: no clearing imported)."""
    out = _fund_readings(month, positions, p)
    out += _scheme_readings(month, activity, members, p, cleared_outflow)
    for method in ("drg", "dip"):
        t = p.warning[f"{method}_outlier_share"]
        pair = (outliers or {}).get(method)
        share = div_half_up(pair[0] * 10_000, pair[1]) if pair and pair[1] else None
        lvl, line = level_of(share, t)
        note = (
            ("", "")
            if share is not None
            else ("不可用：本年尚无 DRG/DIP 付费结果", "not available: no payment run")
        )
        out.append(
            Reading(
                f"{method}_outlier_share", "region", month, share, lvl, line, p.sources[t.source].title, *note
            )
        )
    return out


def message(r: Reading, scope_names: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """The alert text for a breach, Chinese and English: what, where, how much, against which line, why."""
    zh_name, en_name = NAMES[r.indicator]
    sz, se = scope_names.get(r.scope, (r.scope, r.scope))
    v, line = fmt_value(r.value, r.unit), fmt_value(r.threshold, r.unit)
    word_zh = {"red": "红色预警", "amber": "黄色预警", "excessive": "结余过多"}.get(r.level, "")
    word_en = {"red": "red", "amber": "amber", "excessive": "excessive surplus"}.get(r.level, "")
    if r.indicator == "months_payable":
        rel = "超过" if r.level == "excessive" else "低于"
        rel_en = "above" if r.level == "excessive" else "below"
    else:
        t_dir = "below" if r.indicator in ("balance_rate", "active_retired_ratio") else "above"
        rel, rel_en = ("低于", "below") if t_dir == "below" else ("高于", "above")
    zh = f"{word_zh}：{sz} {r.month} {zh_name} {v}，{rel}预警线 {line}（依据：{r.source}）"
    en = f"{word_en}: {se} {r.month} {en_name} {v}, {rel_en} the line {line} (source: {r.source})"
    return zh, en


# ----------------------------------------------------------------------------------- alert lifecycle
ALERT_STATUSES = ("open", "acknowledged", "following_up", "closed")
STATUS_NAMES = {
    "open": ("待确认", "open"),
    "acknowledged": ("已确认", "acknowledged"),
    "following_up": ("跟进中", "following up"),
    "closed": ("已关闭", "closed"),
}
ALERT_MOVES: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"following_up", "closed"}),
    "following_up": frozenset({"following_up", "closed"}),
    "closed": frozenset(),
}
NOTE_REQUIRED = frozenset({"following_up", "closed"})


def check_move(status: str, new: str, actor: str, note: str) -> None:
    """A person moves an alert: acknowledge it (确认), record a follow-up (跟进, repeatable) or close it
    (关闭); follow-ups and closing need a note, every step needs the person."""
    if new not in ALERT_STATUSES:
        raise AlertError("status", f"未知状态 {new!r} unknown status")
    if new not in ALERT_MOVES[status]:
        raise AlertError(
            "status",
            f"预警处于“{STATUS_NAMES[status][0]}”，不能改为“{STATUS_NAMES[new][0]}” cannot move {status} → {new}",
            "bad_move",
        )
    if not actor.strip():
        raise AlertError("actor", "须填写处理人 who acts must be named", "missing")
    if new in NOTE_REQUIRED and not note.strip():
        raise AlertError("note", "跟进与关闭须填写说明 a follow-up or closing needs a note", "missing")
    if len(note) > 4000:
        raise AlertError("note", "说明过长（最多 4000 字） note too long (4000 characters at most)")
