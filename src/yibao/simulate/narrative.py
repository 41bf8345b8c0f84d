"""A short plain-language reading of a simulation, in Chinese and English, generated from its numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yibao.simulate.assumptions import FundAssumptions

if TYPE_CHECKING:
    from yibao.simulate.core import SimulationReport

BANDS = {
    "red": ("不足（红色预警）", "insufficient (red)"),
    "amber": ("偏低（黄色）", "low (amber)"),
    "green": ("合理", "reasonable (green)"),
    "excessive": ("结余过多", "excessive surplus"),
}
_KIND = {  # (kind, direction) → (中文, English)
    ("deductible", -1): ("降低起付线", "lowering the deductible"),
    ("deductible", 1): ("提高起付线", "raising the deductible"),
    ("ratio", 1): ("提高支付比例", "raising the reimbursement ratio"),
    ("ratio", -1): ("降低支付比例", "lowering the reimbursement ratio"),
    ("cap", 1): ("提高封顶线", "raising the cap"),
    ("cap", -1): ("降低封顶线", "lowering the cap"),
}


def yuan(fen: float) -> str:
    """Whole yuan with thousands separators (for prose; the JSON keeps exact fen)."""
    return f"{abs(fen) / 100:,.0f}"


def _pct(p: float | None) -> str:
    return "—" if p is None else f"{p:+.1f}%"


def _months(v: float | None) -> str:
    return "∞" if v is None else f"{v:.1f}"


def policy_phrase(diff: list[dict[str, Any]]) -> tuple[str, str]:
    """What the candidate changes, e.g. ("降低起付线", "lowering the deductible")."""
    seen: list[tuple[str, str]] = []
    for row in diff:
        label = _KIND.get((row["kind"], row["direction"]))
        if label and label not in seen:
            seen.append(label)
    if not seen:
        if diff:
            return "调整政策参数", "changing the policy parameters"
        return "", ""
    return "、".join(z for z, _ in seen), ", ".join(e for _, e in seen)


def narrative(report: SimulationReport, fund: FundAssumptions) -> dict[str, str]:
    """Chinese and English paragraphs: policy change → fund → OOP → who → CHE → equity → months payable."""
    zh_change, en_change = policy_phrase(report.policy_diff)
    funds = {r["key"]: r for r in report.funds}
    oop = {r["key"]: r for r in report.oop}
    pool, allf, tot, ins, ded = (
        funds["hifp_pay"],
        funds["fund_pay_sumamt"],
        oop["total"],
        oop["in_scope"],
        oop["deductible"],
    )

    def up_zh(v: int) -> str:
        return "增加" if v > 0 else "减少" if v < 0 else "不变"

    def up_en(v: int) -> str:
        return "raises" if v > 0 else "lowers" if v < 0 else "leaves unchanged"

    if report.policy_diff:
        zh = [
            f"{zh_change}使统筹基金支出{up_zh(pool['change_fen'])} {yuan(pool['change_fen'])} 元"
            f"（{_pct(pool['pct'])}），基金支付合计{up_zh(allf['change_fen'])} {yuan(allf['change_fen'])} 元"
            f"（{_pct(allf['pct'])}）；参保人个人负担{up_zh(tot['change_fen'])} {yuan(tot['change_fen'])} 元"
            f"（{_pct(tot['pct'])}），其中政策范围内个人负担{up_zh(ins['change_fen'])} {yuan(ins['change_fen'])} 元，"
            f"起付线内自付{up_zh(ded['change_fen'])} {yuan(ded['change_fen'])} 元。"
        ]
        en_lead = en_change[:1].upper() + en_change[1:]
        en = [
            f"{en_lead} {up_en(pool['change_fen'])} pooled-fund spending by ¥{yuan(pool['change_fen'])} "
            f"({_pct(pool['pct'])}) and all-fund spending by ¥{yuan(allf['change_fen'])} ({_pct(allf['pct'])}); "
            f"it {up_en(tot['change_fen'])} patients' out-of-pocket by ¥{yuan(tot['change_fen'])} "
            f"({_pct(tot['pct'])}), of which ¥{yuan(ins['change_fen'])} within policy scope and "
            f"¥{yuan(ded['change_fen'])} of deductible."
        ]
    else:
        zh = ["两套政策参数相同，结算结果一致。"]
        en = ["The two policies have the same parameters, so every settlement is the same."]

    w = report.winners
    thr = yuan(w["threshold_fen"])
    zh.append(
        f"{w['better_off']:,} 人全年个人负担减少超过 {thr} 元，{w['worse_off']:,} 人增加超过 {thr} 元。"
    )
    en.append(
        f"{w['better_off']:,} people pay over ¥{thr} less a year and {w['worse_off']:,} pay over ¥{thr} more."
    )
    if w["top_gainers"]:
        g = w["top_gainers"][0]
        zh.append(
            f"人均受益最多的是{g['scheme_label'].split(' ')[0]} {g['age_band']} 岁、收入{g['quintile_label'].split(' ')[0]}组"
            f"（人均减少 {yuan(g['mean_delta_fen'])} 元）。"
        )
        en.append(
            f"The largest mean gain is for scheme {g['insutype']}, age {g['age_band']}, income "
            f"Q{g['quintile']} (¥{yuan(g['mean_delta_fen'])} less per person)."
        )
    if w["top_losers"]:
        g = w["top_losers"][0]
        zh.append(
            f"人均负担增加最多的是{g['scheme_label'].split(' ')[0]} {g['age_band']} 岁、收入{g['quintile_label'].split(' ')[0]}组"
            f"（人均增加 {yuan(g['mean_delta_fen'])} 元）。"
        )
        en.append(
            f"The largest mean loss is for scheme {g['insutype']}, age {g['age_band']}, income "
            f"Q{g['quintile']} (¥{yuan(g['mean_delta_fen'])} more per person)."
        )

    che = report.che
    b, c = che["baseline"], che["candidate"]
    zh.append(
        f"灾难性卫生支出发生率（家庭自付 ≥ 支付能力的 40%）由 {b['che_rate'] * 100:.2f}% 变为 "
        f"{c['che_rate'] * 100:.2f}%，因病致贫家庭由 {b['impoverished_households']:,} 户变为 "
        f"{c['impoverished_households']:,} 户。"
    )
    en.append(
        f"Catastrophic health expenditure (household OOP ≥ 40% of capacity to pay) goes from "
        f"{b['che_rate'] * 100:.2f}% to {c['che_rate'] * 100:.2f}% of households; impoverishing spending "
        f"from {b['impoverished_households']:,} to {c['impoverished_households']:,} households."
    )
    eq = report.equity
    if eq["oop_ci_baseline"] is not None and eq["oop_ci_candidate"] is not None:
        zh.append(
            f"个人负担按收入的集中指数由 {eq['oop_ci_baseline']:+.3f} 变为 {eq['oop_ci_candidate']:+.3f}"
            "（负值表示负担更集中于低收入人群）。"
        )
        en.append(
            f"The concentration index of OOP by income moves from {eq['oop_ci_baseline']:+.3f} to "
            f"{eq['oop_ci_candidate']:+.3f} (negative = concentrated among the poor)."
        )
    for mp in report.months_payable:
        zb, eb = BANDS[mp["baseline_band"]]
        zc, ec = BANDS[mp["candidate_band"]]
        zh.append(
            f"{mp['name']}可支付月数由 {_months(mp['baseline_months'])}（{zb}）变为 "
            f"{_months(mp['candidate_months'])} 个月（{zc}）。"
        )
        en.append(
            f"The {mp['name_en']} covers {_months(mp['baseline_months'])} months of spending ({eb}) under the "
            f"baseline and {_months(mp['candidate_months'])} ({ec}) under the candidate."
        )
    lo, hi = fund.target_months
    zh.append(f"（目标区间 {lo:g}–{hi:g} 个月；期初结余与筹资为示意性假设，见 docs/SIMULATE.md。）")
    en.append(
        f"(Target {lo:g}–{hi:g} months; opening balances and income are illustrative assumptions, "
        "see docs/SIMULATE.md.)"
    )
    return {"zh": "".join(zh), "en": " ".join(en)}
