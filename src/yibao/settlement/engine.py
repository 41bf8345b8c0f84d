"""The settlement engine: a pure function of (policy, person, accumulators, visit) → Settlement.

Order of the one-stop settlement (一站式结算, 国办发〔2021〕42号):

1. each line splits into 全自费 / 超限价 / 先行自付 / 政策范围内 (catalogue classes 甲/乙/丙, price caps);
2. the basic pooled fund applies its deductible, ratio and annual cap (the region file's benefit layer);
3. each later layer in file order (大额补助, 大病保险, 医疗救助 …) pays on what the earlier ones left;
4. a commercial product the person holds, when it covers the visit's scene and diagnosis, pays its share of
   the personal burden the funds left (医保+商保一单制), in the same result;
5. the personal account pays what it may, and the rest is cash.

Rounding: every ratio applied rounds half up to the fen, once per fund per visit
(:func:`yibao.money.apply_ratio`).  Nothing here reads a clock, a file or a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NoReturn

from yibao.money import RATIO_ONE, apply_ratio, base_for_payment, price_times_qty, ratio_sum_to_fen
from yibao.policy.catalogue import CLASS_C, CatalogueItem
from yibao.policy.compiled import CompiledBenefit, CompiledLayer, CompiledPolicy
from yibao.settlement.model import (
    CI_LAYER_FIELD,
    AuditHook,
    CommercialProduct,
    DeferredText,
    Entitlement,
    FundDetail,
    LineParts,
    Person,
    Settlement,
    SettlementError,
    Visit,
    uplifted_cap,
)
from yibao.settlement.trace import (
    Account,
    AuditFindingStep,
    AuditSummary,
    BasicFund,
    CapUplift,
    Commercial,
    Layer,
    NoBenefit,
    NotEntitled,
)

_NOTHING_BLOCKED: frozenset[str] = frozenset()
LOCALITIES = ("local", "remote_longterm", "remote_filed", "remote_unfiled")
LOCALITY_NAMES = {
    "remote_longterm": ("异地长期居住备案", "filed as long-term residents elsewhere"),
    "remote_filed": ("异地临时外出备案", "filed as temporary visitors"),
    "remote_unfiled": ("异地未备案", "who have not filed"),
}


def deductible_due(
    benefit: CompiledBenefit, level: str, psn_type: str, acc: Mapping[str, int]
) -> tuple[int, int]:
    """(deductible for this visit before it starts, admissions already this year)."""
    full = benefit.deductible.get((level, psn_type), 0)
    if benefit.basis == "per_year":
        assert benefit.counter is not None
        return max(full - acc.get(benefit.counter, 0), 0), 0
    if benefit.basis == "none":
        return 0, 0
    n = acc.get(benefit.admissions_counter, 0)
    if benefit.repeat_schedule is not None:
        sched = benefit.repeat_schedule
        return apply_ratio(full, sched[min(n, len(sched) - 1)]), n
    if benefit.repeat_compound is not None and n:
        due = full
        for _ in range(n):  # each later admission: the previous one's deductible × compound, to the fen
            due = apply_ratio(due, benefit.repeat_compound)
        floor = min(benefit.repeat_floor or 0, full)
        return max(due, floor), n
    if benefit.repeat_step is not None and n:
        floor = min(benefit.repeat_floor or 0, full)
        factor = max(RATIO_ONE - n * benefit.repeat_step, 0)
        return max(apply_ratio(full, factor), floor), n
    return full, n


def layer_payment(bounds: tuple[tuple[int, int | None, int], ...], before: int, base: int) -> int:
    """Pay on the slice ``[before, before + base)`` of the year's cumulative amount, segment by segment.

    The sum of slice × ratio is exact in 1/10000 fen and rounded half up once.
    """
    if base <= 0:
        return 0
    lo_amt, hi_amt = before, before + base
    acc = 0
    for lo, hi, ratio in bounds:
        a = lo if lo > lo_amt else lo_amt
        b = hi_amt if hi is None or hi > hi_amt else hi
        if b > a:
            acc += (b - a) * ratio
    return ratio_sum_to_fen(acc)


def settle_visit(
    policy: CompiledPolicy,
    person: Person,
    visit: Visit,
    acc: Mapping[str, int],
    account_balance: int = 0,
    payer_insutype: str | None = None,
    audit: AuditHook | None = None,
    entitlement: Entitlement | None = None,
    covers: Sequence[CommercialProduct] = (),
) -> Settlement:
    """Settle one visit.  ``acc`` holds the person's accumulators for the visit's year (counter → fen or
    count); ``account_balance`` is the balance of the paying account (the person's own, or the family
    member's named in ``visit.account_psn_no``, whose scheme is ``payer_insutype``: the account rule of
    the payer's scheme decides what a family member's account may pay).  The result's ``deltas`` say
    how ``acc`` must change.

    ``audit`` (optional, pure) is the in-event audit hook (事中审核, :mod:`yibao.audit.moments`): its findings
    are kept in ``Settlement.audit``; a line it blocks is settled as fully self-paid (全自费), a visit-level
    block makes every line self-paid.  Without a hook the result is exactly as before.

    ``covers``: the commercial products the person holds on the visit date (医保+商保一单制); the first that
    covers ``visit.scene`` and a diagnosis pays after every public layer and before the account
    (:func:`_pay_commercial`).  Without covers the result is exactly as before.

    The steps, in the order of the one-stop settlement: check the visit against the policy, run the
    in-event audit, split the lines, pay the basic pooled fund, pay each later layer, the commercial
    product, then the account.
    """
    psn_type = person.psn_type
    if (  # check_attributes' tests, the call only to name what is wrong
        psn_type not in policy.person_groups
        or policy.person_scheme[psn_type] != person.insutype
        or visit.med_type not in policy.visit_types
        or visit.hosp_lv not in policy.levels
    ):
        check_attributes(policy, person.insutype, psn_type, visit.med_type, visit.hosp_lv, None)
    s = Settlement(
        visit.mdtrt_id,
        person.psn_no,
        person.insutype,
        psn_type,
        visit.med_type,
        policy.admdvs,
        policy.version_id,
    )
    blocked = _NOTHING_BLOCKED if audit is None else _run_audit(s, person, visit, audit)
    _split_lines(s, policy, visit, blocked)
    if entitlement is not None and entitlement.self_pay:
        e = entitlement
        s.steps.append(NotEntitled(e.reason_code, e.reason_zh, e.reason_en, e.account_usable))
        s.psn_part_amt = s.medfee_sumamt
        own = visit.account_psn_no is None or visit.account_psn_no == person.psn_no
        if own and not e.account_usable:
            visit = replace(visit, use_account=False)
        _pay_account(s, policy, person, visit, account_balance, payer_insutype)
        return s
    over_cap = _pay_basic_fund(s, policy, person, visit, acc)
    _pay_layers(s, policy, person, acc, over_cap, entitlement)
    com_scope = 0
    if covers:
        # lines the in-event audit blocked are the patient's, not the insurer's (a rejected claim stays rejected)
        refused = sum(ln.amount for ln in visit.lines if ln.feedetl_sn in blocked) if blocked else 0
        com_scope = _pay_commercial(s, visit, covers, acc, refused)
    _pay_account(s, policy, person, visit, account_balance, payer_insutype, com_scope)
    return s


def check_attributes(
    policy: CompiledPolicy, scheme: str, psn_type: str, med_type: str, level: str, locality: str | None
) -> None:
    """The visit's attributes must be ones the policy knows (every executor checks the same way)."""
    if psn_type not in policy.person_groups:
        raise SettlementError(
            "person.psn_type",
            f"人员类别 {psn_type!r} 不在统筹区 {policy.admdvs} 的政策中 unknown person type",
        )
    if policy.person_scheme[psn_type] != scheme:
        raise SettlementError(
            "person.insutype",
            f"人员类别 {psn_type!r} 不属于险种 {scheme!r} person type does not belong to the scheme",
        )
    if med_type not in policy.visit_types:
        raise SettlementError("visit.med_type", f"未知的医疗类别 {med_type!r} unknown visit type")
    if level not in policy.levels:
        raise SettlementError("visit.hosp_lv", f"未知的医院等级 {level!r} unknown hospital level")
    if locality is not None and locality not in LOCALITIES:
        raise SettlementError("visit.locality", f"未知的就医地类别 {locality!r} unknown locality")


def _run_audit(s: Settlement, person: Person, visit: Visit, audit: AuditHook | None) -> frozenset[str]:
    """Run the in-event audit hook; the feedetl_sn of the lines it blocks (every line for a visit block)."""
    if audit is None:
        return _NOTHING_BLOCKED
    found = audit(person, visit)
    if not found:
        return _NOTHING_BLOCKED
    s.audit.extend(found)
    blocked = frozenset(f.feedetl_sn for f in found if f.severity == "block" and f.feedetl_sn is not None)
    if any(f.severity == "block" and f.feedetl_sn is None for f in found):
        blocked = frozenset(ln.feedetl_sn for ln in visit.lines)
    s.steps.append(AuditSummary(len(found), len(blocked)))
    s.steps.extend(
        AuditFindingStep(f.feedetl_sn, f.rule_code, f.severity, f.reason_zh, f.reason_en) for f in found
    )
    return blocked


def _split_lines(s: Settlement, policy: CompiledPolicy, visit: Visit, blocked: frozenset[str]) -> None:
    """Each line into 全自费 / 超限价 / 先行自付 / 政策范围内 (a hot loop: locals only).

    split_line's rule, written out: this loop runs for every line of every visit, and the call cost a sixth
    of the engine (tests/unit/test_encounter_core.py holds the two equal on random lines).  Lines the
    in-event audit blocked are turned into fully self-paid ones after the loop, so that the loop itself
    carries no test for them."""
    item_of = policy.catalogue.get
    class_c = CLASS_C
    parts = s.line_parts
    append = parts.append
    ratio = apply_ratio
    times = price_times_qty
    full_t = over_t = pre_t = ins_t = 0
    for ln in visit.lines:
        item = item_of(ln.code)
        if item is None:
            _unknown_item(visit, ln.code)
        amt = ln.amount
        if item.cls == class_c:
            append((amt, 0, 0, 0))
            full_t += amt
            continue
        cap = item.price_cap
        over = 0
        if cap is not None and ln.price > cap:
            over = times(ln.price - cap, ln.qty)
            if over > amt:
                over = amt
        base = amt - over
        sp = item.selfpay_prop
        pre = ratio(base, sp) if sp else 0
        append((0, over, pre, base - pre))
        over_t += over
        pre_t += pre
        ins_t += base - pre
    if blocked:  # blocked by the in-event audit: fully self-paid
        for j, ln in enumerate(visit.lines):
            if ln.feedetl_sn in blocked:
                full, over, pre, ins = parts[j]
                full_t += ln.amount - full
                over_t -= over
                pre_t -= pre
                ins_t -= ins
                parts[j] = (ln.amount, 0, 0, 0)
    s.medfee_sumamt = full_t + over_t + pre_t + ins_t
    s.fulamt_ownpay_amt = full_t
    s.overlmt_selfpay = over_t
    s.preselfpay_amt = pre_t
    s.inscp_scp_amt = ins_t


def _unknown_item(visit: Visit, code: str) -> NoReturn:
    """The first line whose code the catalogue lacks, named by its position."""
    i = next(k for k, ln in enumerate(visit.lines) if ln.code == code)
    raise SettlementError(
        f"lines[{i}].med_list_codg",
        f"目录中没有该项目编码 {code!r} unknown item code",
        "unknown_item",
    )


def split_line(item: CatalogueItem, price: int, qty: int, amount: int) -> LineParts:
    """One line's (全自费, 超限价, 先行自付, 政策范围内) in fen: class C wholly self-paid; the price above the
    item's cap (支付标准) times the quantity over the limit; a class B item's pay-first share of the rest."""
    if item.cls == CLASS_C:
        return (amount, 0, 0, 0)
    cap = item.price_cap
    over = 0
    if cap is not None and price > cap:
        over = price_times_qty(price - cap, qty)
        if over > amount:
            over = amount
    base = amount - over
    sp = item.selfpay_prop
    pre = apply_ratio(base, sp) if sp else 0
    return (0, over, pre, base - pre)


def _pay_basic_fund(
    s: Settlement,
    policy: CompiledPolicy,
    person: Person,
    visit: Visit,
    acc: Mapping[str, int],
) -> int:
    """Deductible, ratio and annual cap of the basic pooled fund (统筹基金).  Returns the part of the policy
    scope its cap kept it from paying (the base of an over-cap layer)."""
    ins_t = s.inscp_scp_amt
    benefit = policy.benefits.get((person.insutype, visit.med_type))
    if benefit is None:
        s.steps.append(NoBenefit(person.insutype, visit.med_type))
        return 0
    level, psn_type = visit.hosp_lv, person.psn_type
    locality = visit.locality
    if locality == "remote_unfiled" and visit.emergency:
        locality = "remote_filed"  # 异地急诊抢救 is treated as filed (跨省异地就医直接结算经办规程)
    if locality in benefit.refused:
        where = LOCALITY_NAMES.get(locality, (locality, locality))
        vt = policy.visit_types.get(visit.med_type, (visit.med_type, visit.med_type))
        raise SettlementError(
            "visit.locality",
            f"{policy.region_name}不为{where[0]}人员直接结算{vt[0]}，请回参保地手工报销 "
            f"{policy.region_name} does not settle {vt[1]} directly for visitors {where[1]}",
            "locality_refused",
        )
    due, n_adm = deductible_due(benefit, level, psn_type, acc)
    dedc = ins_t if ins_t < due else due
    s.act_pay_dedc = dedc
    deltas = s.deltas
    if benefit.counter is not None:
        if dedc:
            deltas[benefit.counter] = dedc
        if benefit.basis == "per_admission":
            deltas[benefit.admissions_counter] = 1
    try:
        ratio = benefit.ratio[(level, psn_type, locality)]
    except KeyError:
        raise SettlementError(
            "visit.locality", f"未知的就医地类别 {visit.locality!r} unknown locality"
        ) from None
    base = ins_t - dedc
    raw = apply_ratio(base, ratio)
    cap = benefit.cap_by_person_type.get(psn_type, benefit.cap) if benefit.cap_by_person_type else benefit.cap
    room = None if cap is None else max(cap - acc.get(benefit.cap_counter, 0), 0)
    paid = raw if room is None or raw <= room else room
    over_cap = base - min(base_for_payment(paid, ratio), base) if paid < raw else 0
    s.hifp_pay = paid
    s.pool_prop_selfpay = ratio
    s.fund_pay_sumamt = paid
    if paid:
        deltas[benefit.cap_counter] = paid
    s.steps.append(
        BasicFund(
            benefit.id,
            benefit.basis,
            due,
            n_adm,
            dedc,
            base,
            ratio,
            raw,
            room,
            paid,
            over_cap,
            locality,
        )
    )
    s.setldetail.append(
        FundDetail(
            benefit.fund_pay_type,
            policy.fund_names.get(benefit.fund_pay_type, ("", ""))[0],
            base,
            room,
            paid,
            DeferredText("{}×{}/10000→{}; cap room {}→{}", base, ratio, raw, room, paid),
        )
    )
    return over_cap


def _pay_layers(
    s: Settlement,
    policy: CompiledPolicy,
    person: Person,
    acc: Mapping[str, int],
    over_cap: int,
    entitlement: Entitlement | None = None,
) -> None:
    """Each later layer in file order (大额补助, 大病保险, 医疗救助 …) on what the earlier funds left: the
    policy-scope amount the basic fund did not pay, the pay-first amount, and ``over_cap``, the part of the
    scope the basic fund's cap kept it from paying (the base of an over-cap layer)."""
    deltas = s.deltas
    layers: tuple[CompiledLayer, ...] = policy.layers.get((person.insutype, s.med_type), ())
    left_scope = s.inscp_scp_amt - s.hifp_pay
    left_pre = s.preselfpay_amt
    for layer in layers:
        terms = layer.terms_for(person.identities)
        if terms is None:
            continue
        if layer.base == "over_cap":
            # an earlier layer may already have paid part of the scope the cap left unpaid
            lbase = over_cap if over_cap <= left_scope else left_scope
        else:
            scope = left_scope
            if layer.exclude_basic_deductible:  # only 合规自付 above the basic deductible counts
                scope = scope - s.act_pay_dedc if scope > s.act_pay_dedc else 0
            lbase = scope + (left_pre if layer.include_preselfpay else 0)
        before = acc.get(layer.counter, 0)
        # a layer with no base pays nothing (layer_payment's own first test, without the call)
        raw = layer_payment(terms.bounds, before, lbase) if lbase > 0 else 0
        paid_key = layer.paid_counter
        cap = terms.cap
        if (
            cap is not None
            and entitlement is not None
            and entitlement.ci_cap_uplift_fen
            and layer.field == CI_LAYER_FIELD
        ):
            e = entitlement
            raised = uplifted_cap(cap, e.ci_cap_uplift_fen, e.ci_uplift_max_share)
            if raised != cap:
                s.steps.append(CapUplift(layer.id, cap, raised - cap))
            cap = raised
        room = None if cap is None else max(cap - acc.get(paid_key, 0), 0)
        paid = raw if room is None or raw <= room else room
        if lbase:
            deltas[layer.counter] = deltas.get(layer.counter, 0) + lbase
        if paid:
            deltas[paid_key] = deltas.get(paid_key, 0) + paid
            # drawn from the policy-scope amount first, then from pay-first (先行自付) when included
            from_scope = paid if paid <= left_scope else left_scope
            left_scope -= from_scope
            left_pre -= paid - from_scope
            if layer.base == "over_cap":
                over_cap -= paid if paid <= over_cap else over_cap
            setattr(s, layer.field, getattr(s, layer.field) + paid)
            s.fund_pay_sumamt += paid
        s.steps.append(
            Layer(
                layer.id,
                terms.label,
                lbase,
                before,
                terms.deductible,
                raw,
                room,
                paid,
                layer.include_preselfpay,
            )
        )
        if not lbase:
            continue
        pre_note = "+pre" if layer.include_preselfpay else ""
        s.setldetail.append(
            FundDetail(
                layer.fund_pay_type,
                layer.name,
                lbase,
                room,
                paid,
                DeferredText(
                    "{}[{}] {}{} base {} from {}: {}, room {}→{}",
                    layer.id,
                    terms.label,
                    layer.base,
                    pre_note,
                    lbase,
                    before,
                    raw,
                    room,
                    paid,
                ),
            )
        )
    s.psn_part_amt = (
        s.medfee_sumamt - s.fund_pay_sumamt
    )  # hosp_part_amt is 0: no hospital burden in fee-for-service


def _pay_commercial(
    s: Settlement,
    visit: Visit,
    covers: Sequence[CommercialProduct],
    acc: Mapping[str, int],
    refused: int = 0,
) -> int:
    """The first product in ``covers`` that covers the visit pays ``ratio`` of the personal burden the funds
    left (or of its policy-scope part), above what is left of its yearly deductible, within its per-claim cap
    and what its annual cap still allows; drawn from the policy-scope part first.  Returns that part.
    ``refused``: the amount of lines the in-event audit blocked, which no product pays."""
    for product in covers:
        if product.applies(visit.scene, visit.diagnoses):
            break
    else:
        return 0
    in_scope = s.inscp_scp_amt + s.preselfpay_amt - s.fund_pay_sumamt
    base = s.psn_part_amt - refused if product.out_of_scope else in_scope
    ded_key, paid_key = product.deductible_counter, product.paid_counter
    due = product.deductible - acc.get(ded_key, 0) if product.deductible else 0
    if due < 0:
        due = 0
    dedc = base if base < due else due
    raw = apply_ratio(base - dedc, product.ratio)
    room = product.annual_cap - acc.get(paid_key, 0)
    if room > product.per_claim_cap:
        room = product.per_claim_cap
    elif room < 0:
        room = 0
    paid = raw if raw <= room else room
    from_scope = paid if paid <= in_scope else in_scope
    if dedc:
        s.deltas[ded_key] = dedc
    if paid:
        s.deltas[paid_key] = paid
    s.commercial_pay = paid
    s.commercial_product = product.id
    s.steps.append(
        Commercial(
            product.id,
            product.insurer,
            product.name,
            base,
            due,
            dedc,
            product.ratio,
            raw,
            room,
            paid,
            from_scope,
        )
    )
    return from_scope


def _pay_account(
    s: Settlement,
    policy: CompiledPolicy,
    person: Person,
    visit: Visit,
    account_balance: int,
    payer_insutype: str | None,
    com_scope: int = 0,
) -> None:
    """The personal account pays what its rule allows (own, or a family member's: 家庭共济) of what the funds
    and a commercial product (``com_scope`` of it from the policy-scope part) left; the rest is cash."""
    acct = 0
    rule = policy.accounts.get(person.insutype)
    payer = visit.account_psn_no
    if payer is not None and payer != person.psn_no:
        rule = policy.accounts.get(payer_insutype or person.insutype)
        if rule is None or not rule.family_mutual_aid:
            raise SettlementError(
                "visit.account_psn_no", "此处不允许家庭共济 family mutual aid (家庭共济) is not allowed here"
            )
        if payer not in person.family:
            raise SettlementError(
                "visit.account_psn_no", f"{payer!r} 不是登记的家庭成员 is not a registered family member"
            )
        s.account_psn_no = payer
    elif visit.use_account and rule is not None:
        s.account_psn_no = person.psn_no
    bal = account_balance if account_balance > 0 else 0
    if s.account_psn_no is not None and rule is not None and visit.med_type in rule.visit_types:
        in_scope = s.inscp_scp_amt + s.preselfpay_amt - s.fund_pay_sumamt - com_scope
        out_scope = s.fulamt_ownpay_amt + s.overlmt_selfpay - (s.commercial_pay - com_scope)
        payable = (in_scope if rule.in_scope else 0) + (out_scope if rule.out_of_scope else 0)
        acct = payable if payable <= bal else bal
        s.steps.append(Account(payable, bal, acct, s.account_psn_no != person.psn_no))
    s.balc = bal - acct
    s.acct_pay = acct
    if s.account_psn_no is not None and s.account_psn_no != person.psn_no:
        s.acct_mulaid_pay = acct
    s.psn_cash_pay = s.psn_part_amt - s.commercial_pay - acct
