"""Global budget (总额预算) as a pure core: the region's budget from the projection, split by fund and by
institution, monthly advances with a withheld share, and the annual clearing (年度清算) that closes it.

1. **Region budget** of fund f = projected payments of f in the year − the reserve (调剂金, ``reserve_ratio``);
   the region budget is their sum.
2. **By institution**: weight_i = Σ_y w_y · paid_{i,y} (history years weighted 1 : 2 : 7, newest last) ×
   (1 + g_i), g_i = the institution's own last-year growth capped to [growth_floor, growth_cap]; fund f's
   region budget is split over institutions in proportion to the weights by the largest-remainder method,
   so Σ institution budgets = region budget to the fen.  Each institution's budget is split into its DRG/DIP
   part (its share of inpatient payments) and the rest.
3. **Monthly advances**: the institution's budget split over the 12 months by the seasonal index (largest
   remainder), ``withholding`` (10 %) of each advance kept back as the quality deposit (质量保证金).
4. **Clearing**: under budget, a share of the saving is kept (结余留用, capped); over budget, the fund shares
   the overspend within a band (超支分担) and the institution carries the rest; the satisfaction coefficient
   multiplies the determined amount; the deposit is released by the assessment score; balance = adjusted
   amount − advances paid − deposit forfeited (positive: the fund pays; negative: it recovers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from yibao.fund.params import BudgetParams
from yibao.money import apply_ratio, div_half_up, fmt_yuan, split_largest_remainder

HISTORY_SCHEMA: dict[str, type[pl.DataType]] = {
    "fixmedins_code": pl.String,
    "fund_pay_type": pl.String,
    "year": pl.Int64,
    "paid_fen": pl.Int64,
    "inpatient_fen": pl.Int64,
}


@dataclass(frozen=True)
class BudgetLine:
    code: str
    fund: str
    history_fen: int  # the newest year's payments
    growth: int  # the growth counted, capped (1/10000)
    weight: int
    budget_fen: int
    drg_dip_fen: int
    other_fen: int


@dataclass(frozen=True)
class Advance:
    code: str
    month: str
    advance_fen: int
    withheld_fen: int
    paid_fen: int


@dataclass(frozen=True)
class Budget:
    year: int
    total_by_fund: dict[str, int]
    reserve_by_fund: dict[str, int]
    region_by_fund: dict[str, int]
    lines: list[BudgetLine]
    advances: list[Advance]

    @property
    def total(self) -> int:
        return sum(self.total_by_fund.values())

    @property
    def reserve(self) -> int:
        return sum(self.reserve_by_fund.values())

    @property
    def region_budget(self) -> int:
        return sum(self.region_by_fund.values())

    def by_institution(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ln in self.lines:
            out[ln.code] = out.get(ln.code, 0) + ln.budget_fen
        return out


def year_weights(years_present: Sequence[int], weights: Sequence[int]) -> dict[int, int]:
    """Weights of the newest ``len(weights)`` years present, aligned oldest → newest."""
    ys = sorted(set(years_present))[-len(weights) :]
    return dict(zip(ys, list(weights)[len(weights) - len(ys) :], strict=True))


def capped_growth(last: int, prev: int, floor: int, cap: int) -> int:
    """An institution's own growth last / prev − 1 (1/10000), held within [floor, cap]; 0 without a
    previous year."""
    if prev <= 0:
        return 0
    return min(max(div_half_up((last - prev) * 10_000, prev), floor), cap)


def allocate(
    year: int,
    projected: Mapping[str, int],
    history: pl.DataFrame,
    params: BudgetParams,
    season: Sequence[float] | None = None,
) -> Budget:
    """The year's budget: ``projected`` payments per budgeted fund (fen), ``history`` payments per
    institution, fund and year (:data:`HISTORY_SCHEMA`), ``season``: 12 monthly indices for the advances
    (equal months when None)."""
    funds = [f for f in params.funds if f in projected]
    total = {f: int(projected[f]) for f in funds}
    reserve = {f: apply_ratio(total[f], params.reserve_ratio) for f in funds}
    region = {f: total[f] - reserve[f] for f in funds}
    hist = history.filter(pl.col("year") < year)
    wy = year_weights(hist["year"].unique().to_list(), params.history_weights) if hist.height else {}
    newest = max(wy) if wy else None
    lines: list[BudgetLine] = []
    for f in funds:
        h = hist.filter(pl.col("fund_pay_type") == f)
        by: dict[str, dict[int, tuple[int, int]]] = {}
        for code, y, paid, inp in h.select("fixmedins_code", "year", "paid_fen", "inpatient_fen").iter_rows():
            by.setdefault(code, {})[int(y)] = (int(paid), int(inp))
        codes = sorted(by)
        weights, growths, last_paid, shares = [], [], [], []
        for c in codes:
            ys = by[c]
            base = sum(w * ys.get(y, (0, 0))[0] for y, w in wy.items())
            last = ys.get(newest, (0, 0)) if newest is not None else (0, 0)
            prev = ys.get(newest - 1, (0, 0))[0] if newest is not None else 0
            g = capped_growth(last[0], prev, params.growth_floor, params.growth_cap)
            weights.append(base * (10_000 + g))
            growths.append(g)
            last_paid.append(last[0])
            shares.append(div_half_up(last[1] * 10_000, last[0]) if last[0] > 0 else 0)
        split = split_largest_remainder(region[f], weights) if codes else []
        if not codes and region[f]:
            # nobody to budget for: the whole amount stays in the reserve
            reserve[f] += region[f]
            region[f] = 0
        for c, g, w, b, lp, sh in zip(codes, growths, weights, split, last_paid, shares, strict=True):
            dd = apply_ratio(b, min(sh, 10_000))
            lines.append(BudgetLine(c, f, lp, g, w, b, dd, b - dd))
    per_inst: dict[str, int] = {}
    for ln in lines:
        per_inst[ln.code] = per_inst.get(ln.code, 0) + ln.budget_fen
    season_w = [max(1, round(x * 10_000)) for x in season] if season else [1] * 12
    advances = []
    for c, b in sorted(per_inst.items()):
        for m, a in enumerate(split_largest_remainder(b, season_w), start=1):
            w = apply_ratio(a, params.withholding)
            advances.append(Advance(c, f"{year:04d}-{m:02d}", a, w, a - w))
    return Budget(year, total, reserve, region, lines, advances)


# ------------------------------------------------------------------------------------------ clearing
@dataclass(frozen=True)
class Assessment:
    """What the annual assessment decided for one institution (inputs to the clearing)."""

    score_x100: int | None
    release_ratio: int  # share of the withheld deposit released (1/10000)
    coefficient: int  # satisfaction coefficient (1/10000): 10000, or 9500 under 80 %
    satisfaction: int | None  # 1/10000
    run_id: str | None = None
    release_note_zh: str = ""
    release_note_en: str = ""
    coefficient_note_zh: str = ""
    coefficient_note_en: str = ""


NO_ASSESSMENT = Assessment(
    None, 10_000, 10_000, None, None, "未考核：质量保证金全额返还", "not assessed: deposit released in full"
)


@dataclass(frozen=True)
class Clearing:
    code: str
    budget_fen: int
    actual_fen: int
    determined_fen: int
    coefficient: int
    adjusted_fen: int
    withheld_fen: int
    release_ratio: int
    released_fen: int
    forfeited_fen: int
    paid_fen: int
    balance_fen: int
    score_x100: int | None
    assess_run: str | None
    zh: list[str] = field(default_factory=list)
    en: list[str] = field(default_factory=list)


def _pct(r: int) -> str:
    return f"{r / 100:.1f}%"


def clear(
    code: str,
    budget_fen: int,
    actual_fen: int,
    paid_fen: int,
    withheld_fen: int,
    assessment: Assessment,
    params: BudgetParams,
) -> Clearing:
    """The annual clearing of one institution, with each step explained (Chinese, then English)."""
    r = params.clearing
    src = params.sources[r.source].title
    zh = [f"年度总额预算 {fmt_yuan(budget_fen)} 元；全年实际发生基金支付 {fmt_yuan(actual_fen)} 元。"]
    en = [
        f"Budget for the year {fmt_yuan(budget_fen)} yuan; fund payments incurred {fmt_yuan(actual_fen)} yuan."
    ]
    if actual_fen <= budget_fen:
        saving = budget_fen - actual_fen
        cap = apply_ratio(budget_fen, r.savings_retained_cap)
        kept = min(apply_ratio(saving, r.savings_retained_share), cap)
        determined = actual_fen + kept
        zh.append(
            f"结余 {fmt_yuan(saving)} 元，按结余留用比例 {_pct(r.savings_retained_share)} 留用 {fmt_yuan(kept)} 元"
            f"（上限为预算的 {_pct(r.savings_retained_cap)}，即 {fmt_yuan(cap)} 元）；"
            f"核定金额 = 实际 + 留用 = {fmt_yuan(determined)} 元。"
        )
        en.append(
            f"Saving {fmt_yuan(saving)}; {_pct(r.savings_retained_share)} of it kept ({fmt_yuan(kept)}, capped at "
            f"{_pct(r.savings_retained_cap)} of the budget = {fmt_yuan(cap)}); determined = actual + kept = "
            f"{fmt_yuan(determined)}."
        )
    else:
        over = actual_fen - budget_fen
        band = apply_ratio(budget_fen, r.overspend_band)
        shared = apply_ratio(min(over, band), r.overspend_fund_share)
        determined = budget_fen + shared
        zh.append(
            f"超支 {fmt_yuan(over)} 元；预算 {_pct(r.overspend_band)} 以内（{fmt_yuan(band)} 元）的超支由基金分担 "
            f"{_pct(r.overspend_fund_share)}，即 {fmt_yuan(shared)} 元，其余由机构承担；核定金额 = 预算 + 分担 = "
            f"{fmt_yuan(determined)} 元。"
        )
        en.append(
            f"Overspend {fmt_yuan(over)}; within {_pct(r.overspend_band)} of the budget ({fmt_yuan(band)}) the fund "
            f"carries {_pct(r.overspend_fund_share)} = {fmt_yuan(shared)}, the institution the rest; determined = "
            f"budget + shared = {fmt_yuan(determined)}."
        )
    adjusted = apply_ratio(determined, assessment.coefficient)
    if assessment.coefficient != 10_000:
        zh.append(
            f"{assessment.coefficient_note_zh}支付系数 {assessment.coefficient / 10_000:.2f}：核定金额调整为 "
            f"{fmt_yuan(adjusted)} 元（减少 {fmt_yuan(determined - adjusted)} 元）。"
        )
        en.append(
            f"{assessment.coefficient_note_en} coefficient {assessment.coefficient / 10_000:.2f}: determined "
            f"becomes {fmt_yuan(adjusted)} ({fmt_yuan(determined - adjusted)} less)."
        )
    else:
        zh.append(f"{assessment.coefficient_note_zh}支付系数 1.00，核定金额不变。")
        en.append(f"{assessment.coefficient_note_en} coefficient 1.00, determined amount unchanged.")
    released = apply_ratio(withheld_fen, assessment.release_ratio)
    forfeited = withheld_fen - released
    zh.append(
        f"{assessment.release_note_zh}质量保证金（月度预付预留）{fmt_yuan(withheld_fen)} 元，返还 "
        f"{_pct(assessment.release_ratio)} 即 {fmt_yuan(released)} 元，不予返还 {fmt_yuan(forfeited)} 元。"
    )
    en.append(
        f"{assessment.release_note_en} Deposit withheld from the advances {fmt_yuan(withheld_fen)}; "
        f"{_pct(assessment.release_ratio)} released = {fmt_yuan(released)}, {fmt_yuan(forfeited)} forfeited."
    )
    balance = adjusted - paid_fen - forfeited
    word = "基金应补付机构" if balance >= 0 else "机构应退回基金"
    word_en = "the fund pays the institution" if balance >= 0 else "the institution repays the fund"
    zh.append(
        f"月度预付已支付 {fmt_yuan(paid_fen)} 元；清算结果 = 调整后核定金额 − 已支付 − 不予返还的保证金 = "
        f"{fmt_yuan(balance)} 元，{word} {fmt_yuan(abs(balance))} 元。（依据：{src}）"
    )
    en.append(
        f"Advances paid {fmt_yuan(paid_fen)}; clearing = adjusted − paid − forfeited = {fmt_yuan(balance)}: "
        f"{word_en} {fmt_yuan(abs(balance))}. (Source: {src})"
    )
    return Clearing(
        code,
        budget_fen,
        actual_fen,
        determined,
        assessment.coefficient,
        adjusted,
        withheld_fen,
        assessment.release_ratio,
        released,
        forfeited,
        paid_fen,
        balance,
        assessment.score_x100,
        assessment.run_id,
        zh,
        en,
    )


def clear_all(
    budget: Budget,
    actual: Mapping[str, int],
    assessments: Mapping[str, Assessment],
    params: BudgetParams,
) -> list[Clearing]:
    """Clear every institution with a budget: actual payments (of the budgeted funds), the deposit and the
    advances paid from the budget's monthly advances, the assessment where there is one."""
    paid: dict[str, int] = {}
    held: dict[str, int] = {}
    for a in budget.advances:
        paid[a.code] = paid.get(a.code, 0) + a.paid_fen
        held[a.code] = held.get(a.code, 0) + a.withheld_fen
    return [
        clear(
            c,
            b,
            int(actual.get(c, 0)),
            paid.get(c, 0),
            held.get(c, 0),
            assessments.get(c, NO_ASSESSMENT),
            params,
        )
        for c, b in sorted(budget.by_institution().items())
    ]
