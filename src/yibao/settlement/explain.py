"""Why each fen went where: per-line allocation of visit-level amounts and a bilingual explanation.

The engine keeps its hot loop lean; everything a person reads is derived here from the result, so
the explanation of a stored settlement is rebuilt the same way years later.

Allocation rule (explicit, deterministic): each visit-level amount — deductible, then each fund in
payment order, then the personal account — is spread over the lines in proportion to what is still
unpaid on each line in the amount's own scope, by the largest-remainder method.  Shares never exceed
a line's remaining amount, and every line's parts add up to its amount exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yibao.money import fmt_yuan, ratio_to_decimal, split_largest_remainder
from yibao.policy.catalogue import CLASS_A, CLASS_C, CLASS_NAMES, CatalogueItem
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement.model import LineSplit, Settlement, Visit


@dataclass(frozen=True)
class Sentence:
    zh: str
    en: str


def _n(x: object) -> int:
    """A number from a trace tuple (an int in memory, possibly a string after a JSON round trip)."""
    if isinstance(x, bool) or not isinstance(x, int | str):
        raise TypeError(f"trace value {x!r} is not a number")
    return int(x)


def line_splits(s: Settlement, visit: Visit) -> list[LineSplit]:
    """Per-line splits of ``s`` (settled from ``visit``): every fen of every line assigned."""
    parts = s.line_parts
    n = len(parts)
    scope_left = [p[3] for p in parts]
    pre_left = [p[2] for p in parts]
    ded = split_largest_remainder(s.act_pay_dedc, scope_left)
    has_basic = any(step[0] == "basic" for step in s.steps)
    funds: list[dict[str, int]] = [{} for _ in range(n)]
    for k, d in enumerate(s.setldetail):
        if not d.fund_payamt:
            continue
        if k == 0 and has_basic:
            # the pooled fund pays on the scope above the deductible; later layers pay on what it
            # left, deductible included (合规自付)
            weights = [scope_left[i] - ded[i] for i in range(n)]
        else:
            include_pre = _layer_includes_pre(s, d.fund_pay_type)
            weights = [scope_left[i] + (pre_left[i] if include_pre else 0) for i in range(n)]
        shares = split_largest_remainder(d.fund_payamt, weights)
        for i, share in enumerate(shares):
            if not share:
                continue
            funds[i][d.fund_pay_type] = funds[i].get(d.fund_pay_type, 0) + share
            from_scope = min(share, scope_left[i])
            scope_left[i] -= from_scope
            pre_left[i] -= share - from_scope
    personal = [parts[i][0] + parts[i][1] + pre_left[i] + scope_left[i] for i in range(n)]
    acct = split_largest_remainder(s.acct_pay, personal) if s.acct_pay else [0] * n
    out = []
    for i, (ln, p) in enumerate(zip(visit.lines, parts, strict=True)):
        out.append(
            LineSplit(
                feedetl_sn=ln.feedetl_sn,
                code=ln.code,
                amount=ln.amount,
                fulamt_ownpay_amt=p[0],
                overlmt_selfpay=p[1],
                preselfpay_amt=p[2],
                inscp_scp_amt=p[3],
                act_pay_dedc=ded[i],
                fund_pay=funds[i],
                acct_pay=acct[i],
                psn_cash_pay=personal[i] - acct[i],
            )
        )
    return out


def _layer_includes_pre(s: Settlement, fund_pay_type: str) -> bool:
    # The engine records include_preselfpay in the layer's trace label via setl_proc_info; the
    # allocation only needs to know whether pay-first amounts were in the base: a fund paid more
    # than the remaining scope can only have drawn on them.
    return any(d.fund_pay_type == fund_pay_type and "+pre" in d.setl_proc_info for d in s.setldetail)


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
        kind = step[0]
        if kind == "no_benefit":
            vt = policy.visit_types.get(str(step[2]), (str(step[2]), str(step[2])))
            out.append(
                Sentence(
                    f"本险种在“{vt[0]}”没有统筹基金待遇，费用由个人负担。",
                    f"This scheme has no pooled-fund benefit for '{vt[1]}'; the patient pays.",
                )
            )
        elif kind == "basic":
            (_, _bid, basis, due, n_adm, dedc, base, ratio, raw, room, paid, _over_base, locality) = step
            bz = {"per_year": "按年度累计", "per_admission": "按次", "none": "不设"}.get(
                str(basis), str(basis)
            )
            be = {"per_year": "yearly", "per_admission": "per admission", "none": "none"}.get(
                str(basis), str(basis)
            )
            extra_zh = f"（本年度第 {_n(n_adm) + 1} 次住院）" if basis == "per_admission" else ""
            extra_en = f" (admission no. {_n(n_adm) + 1} this year)" if basis == "per_admission" else ""
            out.append(
                Sentence(
                    f"起付线（{bz}）{extra_zh}：本次应付 {fmt_yuan(_n(due))} 元，实际由个人支付 {fmt_yuan(_n(dedc))} 元。",
                    f"Deductible ({be}){extra_en}: {fmt_yuan(_n(due))} due, {fmt_yuan(_n(dedc))} paid by the patient.",
                )
            )
            pct = ratio_to_decimal(_n(ratio)) * 100
            loc = {
                "local": ("本地就医", "local care"),
                "remote_filed": ("异地已备案", "out of region, filed"),
                "remote_unfiled": ("异地未备案", "out of region, not filed"),
            }.get(str(locality), (str(locality),) * 2)
            zh = f"统筹基金：（{fmt_yuan(_n(base))} 元 × {pct:.2f}%，{loc[0]}）= {fmt_yuan(_n(raw))} 元"
            en = f"Pooled fund: {fmt_yuan(_n(base))} × {pct:.2f}% ({loc[1]}) = {fmt_yuan(_n(raw))}"
            if room is not None and _n(paid) < _n(raw):
                zh += f"，但年度封顶仅剩 {fmt_yuan(_n(room))} 元，实付 {fmt_yuan(_n(paid))} 元"
                en += f", but only {fmt_yuan(_n(room))} was left under the annual cap; paid {fmt_yuan(_n(paid))}"
            out.append(Sentence(zh + "。", en + "."))
            rest = _n(base) - _n(paid)
            if rest > 0:
                out.append(
                    Sentence(
                        f"政策范围内个人自付（合规自付）{fmt_yuan(rest)} 元。",
                        f"Patient's share within policy scope: {fmt_yuan(rest)}.",
                    )
                )
        elif kind == "layer":
            (_, lid, label, lbase, before, ded, raw, room, paid) = step
            nz, ne = layer_names.get(str(lid), (str(lid), str(lid)))
            who_zh = "" if label == "default" else f"（按 {label} 身份待遇）"
            who_en = "" if label == "default" else f" (terms for {label})"
            if _n(lbase) <= 0:
                continue
            zh = (
                f"{nz}{who_zh}：本次计入 {fmt_yuan(_n(lbase))} 元，年度累计此前 {fmt_yuan(_n(before))} 元，"
                f"起付 {fmt_yuan(_n(ded))} 元，分段计算得 {fmt_yuan(_n(raw))} 元"
            )
            en = (
                f"{ne}{who_en}: {fmt_yuan(_n(lbase))} eligible this time, {fmt_yuan(_n(before))} earlier "
                f"this year, deductible {fmt_yuan(_n(ded))}; by segment {fmt_yuan(_n(raw))}"
            )
            if room is not None and _n(paid) < _n(raw):
                zh += f"，受年度限额约束实付 {fmt_yuan(_n(paid))} 元"
                en += f"; limited by its annual cap to {fmt_yuan(_n(paid))}"
            out.append(Sentence(zh + "。", en + "."))
        elif kind == "audit":
            (_, n_found, n_blocked) = step
            out.append(
                Sentence(
                    f"事中审核：{_n(n_found)} 条审核提示，其中 {_n(n_blocked)} 行不予基金支付（按全自费结算）。",
                    f"In-event audit: {_n(n_found)} finding(s); {_n(n_blocked)} line(s) not paid by the funds "
                    "(settled as fully self-paid).",
                )
            )
        elif kind == "audit_finding":
            (_, sn, rule, severity, why_zh, why_en) = step
            where_zh = "整次就诊" if sn is None else f"第 {sn} 行"
            where_en = "the whole visit" if sn is None else f"line {sn}"
            act_zh = "不予支付" if severity == "block" else "提示"
            act_en = "not paid" if severity == "block" else "noted"
            out.append(
                Sentence(
                    f"{where_zh}（{rule}，{act_zh}）：{why_zh}。", f"{where_en} ({rule}, {act_en}): {why_en}."
                )
            )
        elif kind == "account":
            (_, payable, bal, acct, family) = step
            fz = "（家庭共济，使用家庭成员账户）" if family else ""
            fe = " (family mutual aid: a family member's account)" if family else ""
            out.append(
                Sentence(
                    f"个人账户{fz}：可支付 {fmt_yuan(_n(payable))} 元，余额 {fmt_yuan(_n(bal))} 元，支付 {fmt_yuan(_n(acct))} 元。",
                    f"Personal account{fe}: {fmt_yuan(_n(payable))} payable, balance {fmt_yuan(_n(bal))}, paid {fmt_yuan(_n(acct))}.",
                )
            )
    out.append(
        Sentence(
            f"基金合计支付 {fmt_yuan(s.fund_pay_sumamt)} 元；个人负担 {fmt_yuan(s.psn_part_amt)} 元，其中个人账户 "
            f"{fmt_yuan(s.acct_pay)} 元、现金 {fmt_yuan(s.psn_cash_pay)} 元。",
            f"Funds paid {fmt_yuan(s.fund_pay_sumamt)} in all; the patient's part is {fmt_yuan(s.psn_part_amt)}: "
            f"{fmt_yuan(s.acct_pay)} from the account and {fmt_yuan(s.psn_cash_pay)} in cash.",
        )
    )
    return out


def explain(s: Settlement, visit: Visit, policy: CompiledPolicy) -> dict[str, list[str]]:
    """The full explanation in both languages: visit-level steps, then one sentence per line."""
    visit_sentences = explain_visit(s, policy)
    splits = line_splits(s, visit)
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
        }
        for sp in splits
    ]
