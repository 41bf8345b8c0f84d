"""Why each fen went where: the bilingual explanation of a settlement, rendered from its trace and its
per-line allocation (:mod:`yibao.settlement.allocation`).

The engine keeps its hot loop lean; everything a person reads is derived here from the result, so
the explanation of a stored settlement is rebuilt the same way years later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yibao.money import fmt_yuan, ratio_to_decimal
from yibao.policy.catalogue import CLASS_A, CLASS_C, CLASS_NAMES, CatalogueItem
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.allocation import line_splits
from yibao.settlement.model import LineSplit, Settlement, Visit
from yibao.settlement.trace import (
    AuditFindingStep,
    AuditSummary,
    BasicFund,
    CapUplift,
    Commercial,
    Layer,
    NoBenefit,
    NotEntitled,
    Step,
)


@dataclass(frozen=True)
class Sentence:
    zh: str
    en: str


def explain_line(
    item: CatalogueItem | None, split: LineSplit, fund_names: dict[str, tuple[str, str]]
) -> Sentence:
    """One line in plain language: its class, what was self-paid and why, and who paid the rest."""
    name_zh = item.name if item else split.code
    name_en = item.name_en if item else split.code
    zh: list[str] = []
    en: list[str] = []
    cls = item.cls if item else CLASS_C
    cz, ce = CLASS_NAMES.get(cls, ("目录外", "outside the catalogue"))
    if cls == CLASS_C:
        zh.append(f"{cz}项目，{fmt_yuan(split.fulamt_ownpay_amt)} 元全部自费")
        en.append(f"{ce} item: all {fmt_yuan(split.fulamt_ownpay_amt)} paid by the patient")
    else:
        zh.append(f"{cz}")
        en.append(f"{ce}")
        if split.overlmt_selfpay:
            cap = fmt_yuan(item.price_cap) if item and item.price_cap is not None else "?"
            zh.append(f"单价超过医保支付标准 {cap} 元，超出部分 {fmt_yuan(split.overlmt_selfpay)} 元自费")
            en.append(
                f"price above the payment standard of {cap}: {fmt_yuan(split.overlmt_selfpay)} over the cap is self-paid"
            )
        if split.preselfpay_amt and item:
            pct = ratio_to_decimal(item.selfpay_prop) * 100
            zh.append(f"乙类先行自付 {pct:.0f}%：{fmt_yuan(split.preselfpay_amt)} 元")
            en.append(f"class B pay-first share of {pct:.0f}%: {fmt_yuan(split.preselfpay_amt)}")
        if cls == CLASS_A and not split.overlmt_selfpay:
            zh.append("全额纳入政策范围")
            en.append("fully within policy scope")
        zh.append(f"政策范围内 {fmt_yuan(split.inscp_scp_amt)} 元")
        en.append(f"{fmt_yuan(split.inscp_scp_amt)} within policy scope")
        if split.act_pay_dedc:
            zh.append(f"其中 {fmt_yuan(split.act_pay_dedc)} 元计入起付线")
            en.append(f"of which {fmt_yuan(split.act_pay_dedc)} counts towards the deductible")
    for fpt, amt in split.fund_pay.items():
        fz, fe = fund_names.get(fpt, (fpt, fpt))
        zh.append(f"{fz}支付 {fmt_yuan(amt)} 元")
        en.append(f"{fe} paid {fmt_yuan(amt)}")
    if split.commercial_pay:
        zh.append(f"商业保险支付 {fmt_yuan(split.commercial_pay)} 元")
        en.append(f"commercial insurance paid {fmt_yuan(split.commercial_pay)}")
    if split.acct_pay:
        zh.append(f"个人账户支付 {fmt_yuan(split.acct_pay)} 元")
        en.append(f"personal account paid {fmt_yuan(split.acct_pay)}")
    zh.append(f"现金支付 {fmt_yuan(split.psn_cash_pay)} 元")
    en.append(f"cash {fmt_yuan(split.psn_cash_pay)}")
    return Sentence(
        f"{name_zh}（{fmt_yuan(split.amount)} 元）：" + "；".join(zh) + "。",
        f"{name_en} ({fmt_yuan(split.amount)}): " + "; ".join(en) + ".",
    )


def explain_visit(s: Settlement, policy: CompiledPolicy) -> list[Sentence]:
    """The visit-level steps: deductible, each fund, the account, the cash — with the numbers used."""
    out: list[Sentence] = [
        Sentence(
            f"本次医疗费用合计 {fmt_yuan(s.medfee_sumamt)} 元：全自费 {fmt_yuan(s.fulamt_ownpay_amt)}，超限价自费 "
            f"{fmt_yuan(s.overlmt_selfpay)}，先行自付 {fmt_yuan(s.preselfpay_amt)}，政策范围内 {fmt_yuan(s.inscp_scp_amt)}。",
            f"Total {fmt_yuan(s.medfee_sumamt)}: fully self-paid {fmt_yuan(s.fulamt_ownpay_amt)}, over price cap "
            f"{fmt_yuan(s.overlmt_selfpay)}, pay-first {fmt_yuan(s.preselfpay_amt)}, within policy scope "
            f"{fmt_yuan(s.inscp_scp_amt)}.",
        )
    ]
    layer_names = {layer.id: (layer.name, layer.name_en) for ls in policy.layers.values() for layer in ls}
    for step in s.steps:
        out.extend(_explain_step(step, policy, layer_names))
    com_zh = f"商业保险 {fmt_yuan(s.commercial_pay)} 元、" if s.commercial_pay else ""
    com_en = f"{fmt_yuan(s.commercial_pay)} by commercial insurance, " if s.commercial_pay else ""
    out.append(
        Sentence(
            f"基金合计支付 {fmt_yuan(s.fund_pay_sumamt)} 元；个人负担 {fmt_yuan(s.psn_part_amt)} 元，其中{com_zh}个人账户 "
            f"{fmt_yuan(s.acct_pay)} 元、现金 {fmt_yuan(s.psn_cash_pay)} 元。",
            f"Funds paid {fmt_yuan(s.fund_pay_sumamt)} in all; the patient's part is {fmt_yuan(s.psn_part_amt)}: "
            f"{com_en}{fmt_yuan(s.acct_pay)} from the account and {fmt_yuan(s.psn_cash_pay)} in cash.",
        )
    )
    return out


def explain(s: Settlement, visit: Visit, policy: CompiledPolicy) -> dict[str, list[str]]:
    """The full explanation in both languages: visit-level steps, then one sentence per line."""
    visit_sentences = explain_visit(s, policy)
    splits = line_splits(s, visit.lines)
    lines = [explain_line(policy.catalogue.get(sp.code), sp, policy.fund_names) for sp in splits]
    return {
        "zh": [x.zh for x in visit_sentences] + [x.zh for x in lines],
        "en": [x.en for x in visit_sentences] + [x.en for x in lines],
    }


def splits_as_rows(splits: Sequence[LineSplit]) -> list[dict[str, object]]:
    return [
        {
            "feedetl_sn": sp.feedetl_sn,
            "med_list_codg": sp.code,
            "det_item_fee_sumamt": sp.amount,
            "fulamt_ownpay_amt": sp.fulamt_ownpay_amt,
            "overlmt_selfpay": sp.overlmt_selfpay,
            "preselfpay_amt": sp.preselfpay_amt,
            "inscp_scp_amt": sp.inscp_scp_amt,
            "act_pay_dedc": sp.act_pay_dedc,
            "fund_pay": dict(sp.fund_pay),
            "acct_pay": sp.acct_pay,
            "psn_cash_pay": sp.psn_cash_pay,
            "commercial_pay": sp.commercial_pay,
        }
        for sp in splits
    ]


_BASIS = {
    "per_year": ("按年度累计", "yearly"),
    "per_admission": ("按次", "per admission"),
    "none": ("不设", "none"),
}
_LOCALITY = {
    "local": ("本地就医", "local care"),
    "remote_longterm": ("异地长期居住已备案", "out of region, filed as a long-term resident"),
    "remote_filed": ("异地已备案", "out of region, filed"),
    "remote_unfiled": ("异地未备案", "out of region, not filed"),
}


def _explain_step(
    step: Step, policy: CompiledPolicy, layer_names: dict[str, tuple[str, str]]
) -> list[Sentence]:
    """The sentences one trace step contributes to the visit-level explanation."""
    if isinstance(step, NoBenefit):
        vt = policy.visit_types.get(step.med_type, (step.med_type, step.med_type))
        return [
            Sentence(
                f"本险种在“{vt[0]}”没有统筹基金待遇，费用由个人负担。",
                f"This scheme has no pooled-fund benefit for '{vt[1]}'; the patient pays.",
            )
        ]
    if isinstance(step, NotEntitled):
        acct_zh = "，个人账户仍可支付" if step.account_usable else ""
        acct_en = "; the personal account may still pay" if step.account_usable else ""
        return [
            Sentence(
                f"待遇享受检查：{step.reason_zh}。本次就诊按全自费结算，基金不予支付{acct_zh}。",
                f"Benefit check: {step.reason_en}. This visit is settled fully self-paid; no fund pays{acct_en}.",
            )
        ]
    if isinstance(step, CapUplift):
        nz, ne = layer_names.get(step.layer_id, (step.layer_id, step.layer_id))
        verb_zh, verb_en = ("提高", "raised") if step.uplift >= 0 else ("降低", "lowered")
        return [
            Sentence(
                f"{nz}：按连续参保激励，年度最高支付限额{verb_zh} {fmt_yuan(abs(step.uplift))} 元"
                f"（原限额 {fmt_yuan(step.cap)} 元，国办发〔2024〕38号）。",
                f"{ne}: the continuity incentive {verb_en} its annual cap by {fmt_yuan(abs(step.uplift))} "
                f"(from {fmt_yuan(step.cap)}; 国办发〔2024〕38号).",
            )
        ]
    if isinstance(step, BasicFund):
        return _explain_basic(step)
    if isinstance(step, Layer):
        if step.base <= 0:
            return []
        nz, ne = layer_names.get(step.layer_id, (step.layer_id, step.layer_id))
        who_zh = "" if step.terms_label == "default" else f"（按 {step.terms_label} 身份待遇）"
        who_en = "" if step.terms_label == "default" else f" (terms for {step.terms_label})"
        zh = (
            f"{nz}{who_zh}：本次计入 {fmt_yuan(step.base)} 元，年度累计此前 {fmt_yuan(step.before)} 元，"
            f"起付 {fmt_yuan(step.deductible)} 元，分段计算得 {fmt_yuan(step.raw)} 元"
        )
        en = (
            f"{ne}{who_en}: {fmt_yuan(step.base)} eligible this time, {fmt_yuan(step.before)} earlier "
            f"this year, deductible {fmt_yuan(step.deductible)}; by segment {fmt_yuan(step.raw)}"
        )
        if step.cap_room is not None and step.paid < step.raw:
            zh += f"，受年度限额约束实付 {fmt_yuan(step.paid)} 元"
            en += f"; limited by its annual cap to {fmt_yuan(step.paid)}"
        return [Sentence(zh + "。", en + ".")]
    if isinstance(step, Commercial):
        return [_explain_commercial(step)]
    if isinstance(step, AuditSummary):
        return [
            Sentence(
                f"事中审核：{step.findings} 条审核提示，其中 {step.blocked_lines} 行不予基金支付（按全自费结算）。",
                f"In-event audit: {step.findings} finding(s); {step.blocked_lines} line(s) not paid by the funds "
                "(settled as fully self-paid).",
            )
        ]
    if isinstance(step, AuditFindingStep):
        where_zh = "整次就诊" if step.feedetl_sn is None else f"第 {step.feedetl_sn} 行"
        where_en = "the whole visit" if step.feedetl_sn is None else f"line {step.feedetl_sn}"
        act_zh = "不予支付" if step.severity == "block" else "提示"
        act_en = "not paid" if step.severity == "block" else "noted"
        return [
            Sentence(
                f"{where_zh}（{step.rule_code}，{act_zh}）：{step.reason_zh}。",
                f"{where_en} ({step.rule_code}, {act_en}): {step.reason_en}.",
            )
        ]
    fz = "（家庭共济，使用家庭成员账户）" if step.family else ""
    fe = " (family mutual aid: a family member's account)" if step.family else ""
    return [
        Sentence(
            f"个人账户{fz}：可支付 {fmt_yuan(step.payable)} 元，余额 {fmt_yuan(step.balance)} 元，"
            f"支付 {fmt_yuan(step.paid)} 元。",
            f"Personal account{fe}: {fmt_yuan(step.payable)} payable, balance {fmt_yuan(step.balance)}, "
            f"paid {fmt_yuan(step.paid)}.",
        )
    ]


def _explain_commercial(step: Commercial) -> Sentence:
    pct = ratio_to_decimal(step.ratio) * 100
    zh = f"商业保险“{step.name}”：基金支付后个人负担 {fmt_yuan(step.base)} 元"
    en = f"Commercial insurance '{step.name}': {fmt_yuan(step.base)} left to the patient after the funds"
    if step.deductible_paid:
        zh += f"，其中 {fmt_yuan(step.deductible_paid)} 元计入该险种年度免赔额"
        en += f", {fmt_yuan(step.deductible_paid)} of it towards the product's yearly deductible"
    zh += f"，按 {pct:.0f}% 赔付 {fmt_yuan(step.raw)} 元"
    en += f"; {pct:.0f}% of the rest is {fmt_yuan(step.raw)}"
    if step.paid < step.raw:
        zh += f"，受单次及年度赔付限额约束实付 {fmt_yuan(step.paid)} 元"
        en += f", limited by its per-claim and yearly caps to {fmt_yuan(step.paid)}"
    return Sentence(zh + "，在本次结算中直接抵扣（一单制）。", en + ", taken off this bill directly.")


def _explain_basic(step: BasicFund) -> list[Sentence]:
    bz, be = _BASIS.get(step.basis, (step.basis, step.basis))
    nth = step.admissions_before + 1
    extra_zh = f"（本年度第 {nth} 次住院）" if step.basis == "per_admission" else ""
    extra_en = f" (admission no. {nth} this year)" if step.basis == "per_admission" else ""
    out = [
        Sentence(
            f"起付线（{bz}）{extra_zh}：本次应付 {fmt_yuan(step.deductible_due)} 元，"
            f"实际由个人支付 {fmt_yuan(step.deductible_paid)} 元。",
            f"Deductible ({be}){extra_en}: {fmt_yuan(step.deductible_due)} due, "
            f"{fmt_yuan(step.deductible_paid)} paid by the patient.",
        )
    ]
    pct = ratio_to_decimal(step.ratio) * 100
    loc = _LOCALITY.get(step.locality, (step.locality, step.locality))
    zh = f"统筹基金：（{fmt_yuan(step.base)} 元 × {pct:.2f}%，{loc[0]}）= {fmt_yuan(step.raw)} 元"
    en = f"Pooled fund: {fmt_yuan(step.base)} × {pct:.2f}% ({loc[1]}) = {fmt_yuan(step.raw)}"
    if step.cap_room is not None and step.paid < step.raw:
        zh += f"，但年度封顶仅剩 {fmt_yuan(step.cap_room)} 元，实付 {fmt_yuan(step.paid)} 元"
        en += (
            f", but only {fmt_yuan(step.cap_room)} was left under the annual cap; paid {fmt_yuan(step.paid)}"
        )
    out.append(Sentence(zh + "。", en + "."))
    rest = step.base - step.paid
    if rest > 0:
        out.append(
            Sentence(
                f"政策范围内个人自付（合规自付）{fmt_yuan(rest)} 元。",
                f"Patient's share within policy scope: {fmt_yuan(rest)}.",
            )
        )
    return out
