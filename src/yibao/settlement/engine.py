"""The settlement engine: a pure function of (policy, person, accumulators, visit) → Settlement.

Order of the one-stop settlement (一站式, DOMAIN.md §1.1):

1. each line splits into 全自费 / 超限价 / 先行自付 / 政策范围内 (§1.2);
2. the basic pooled fund applies its deductible, ratio and annual cap (§1.3);
3. each later layer in file order (大额补助, 大病保险, 医疗救助 …) pays on what the earlier ones left;
4. the personal account pays what it may, and the rest is cash.

Rounding: every ratio applied rounds half up to the fen, once per fund per visit
(:func:`yibao.money.apply_ratio`).  Nothing here reads a clock, a file or a database.
"""

from __future__ import annotations

from collections.abc import Mapping

from yibao.money import RATIO_ONE, apply_ratio, base_for_payment
from yibao.policy.catalogue import CLASS_C
from yibao.policy.compiled import CompiledBenefit, CompiledLayer, CompiledPolicy
from yibao.settlement.model import AuditHook, FundDetail, Person, Settlement, SettlementError, Visit

_HALF_QTY = 5_000
_QTY_ONE = 10_000
_NOTHING_BLOCKED: frozenset[str] = frozenset()


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
    n = acc.get(f"{benefit.counter}:n", 0)
    if benefit.repeat_schedule is not None:
        sched = benefit.repeat_schedule
        return apply_ratio(full, sched[min(n, len(sched) - 1)]), n
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
    return (acc + RATIO_ONE // 2) // RATIO_ONE


def settle_visit(
    policy: CompiledPolicy,
    person: Person,
    visit: Visit,
    acc: Mapping[str, int],
    account_balance: int = 0,
    payer_insutype: str | None = None,
    audit: AuditHook | None = None,
) -> Settlement:
    """Settle one visit.  ``acc`` holds the person's accumulators for the visit's year (counter → fen or
    count); ``account_balance`` is the balance of the paying account (the person's own, or the family
    member's named in ``visit.account_psn_no``, whose scheme is ``payer_insutype``: the account rule of
    the payer's scheme decides what a family member's account may pay).  The result's ``deltas`` say
    how ``acc`` must change.

    ``audit`` (optional, pure) is the in-event audit hook (事中审核, :mod:`yibao.audit.moments`): its findings
    are kept in ``Settlement.audit``; a line it blocks is settled as fully self-paid (全自费), a visit-level
    block makes every line self-paid.  Without a hook the result is exactly as before.
    """
    scheme = person.insutype
    psn_type = person.psn_type
    if psn_type not in policy.person_groups:
        raise SettlementError(
            "person.psn_type", f"unknown person type {psn_type!r} in region {policy.admdvs}"
        )
    if policy.person_scheme[psn_type] != scheme:
        raise SettlementError(
            "person.insutype", f"person type {psn_type!r} does not belong to scheme {scheme!r}"
        )
    med_type = visit.med_type
    if med_type not in policy.visit_types:
        raise SettlementError("visit.med_type", f"unknown visit type {med_type!r}")
    level = visit.hosp_lv
    if level not in policy.levels:
        raise SettlementError("visit.hosp_lv", f"unknown hospital level {level!r}")

    s = Settlement(
        visit.mdtrt_id, person.psn_no, scheme, psn_type, med_type, policy.admdvs, policy.version_id
    )

    blocked: frozenset[str] | set[str] = _NOTHING_BLOCKED
    if audit is not None:
        found = audit(person, visit)
        if found:
            s.audit.extend(found)
            blocked = {f.feedetl_sn for f in found if f.severity == "block"}  # type: ignore[misc]
            if None in blocked:
                blocked = {ln.feedetl_sn for ln in visit.lines}
            s.steps.append(("audit", len(found), len(blocked)))
            # each finding in the trace too, so a stored settlement keeps why a line was not paid
            s.steps.extend(
                ("audit_finding", f.feedetl_sn, f.rule_code, f.severity, f.reason_zh, f.reason_en)
                for f in found
            )

    # 1. line split (hot loop: locals only)
    cat = policy.catalogue
    parts = s.line_parts
    append = parts.append
    full_t = over_t = pre_t = ins_t = 0
    i = 0
    for ln in visit.lines:
        item = cat.get(ln.code)
        if item is None:
            raise SettlementError(
                f"lines[{i}].med_list_codg", f"unknown item code {ln.code!r}", "unknown_item"
            )
        amt = ln.amount
        if item.cls == CLASS_C:
            append((amt, 0, 0, 0))
            full_t += amt
        else:
            cap = item.price_cap
            over = 0
            if cap is not None and ln.price > cap:
                over = ((ln.price - cap) * ln.qty + _HALF_QTY) // _QTY_ONE
                if over > amt:
                    over = amt
            base = amt - over
            sp = item.selfpay_prop
            pre = (base * sp + 5_000) // 10_000 if sp else 0
            ins = base - pre
            append((0, over, pre, ins))
            over_t += over
            pre_t += pre
            ins_t += ins
        i += 1
    if blocked:  # lines the audit hook blocked are settled as fully self-paid (全自费)
        for j, ln in enumerate(visit.lines):
            if ln.feedetl_sn in blocked:
                full, over, pre, ins = parts[j]
                full_t += ln.amount - full
                over_t -= over
                pre_t -= pre
                ins_t -= ins
                parts[j] = (ln.amount, 0, 0, 0)
    total = full_t + over_t + pre_t + ins_t
    s.medfee_sumamt = total
    s.fulamt_ownpay_amt = full_t
    s.overlmt_selfpay = over_t
    s.preselfpay_amt = pre_t
    s.inscp_scp_amt = ins_t

    deltas = s.deltas
    steps = s.steps
    details = s.setldetail
    names = policy.fund_names
    locality = visit.locality
    if locality == "remote_unfiled" and visit.emergency:
        locality = "remote_filed"  # 异地急诊抢救 is treated as filed (DOMAIN.md §5)

    # 2. basic pooled fund
    benefit = policy.benefits.get((scheme, med_type))
    remaining_scope = ins_t  # policy-scope amount not yet paid by a fund
    over_cap_base = 0
    fund_total = 0
    if benefit is None:
        steps.append(("no_benefit", scheme, med_type))
    else:
        due, n_adm = deductible_due(benefit, level, psn_type, acc)
        dedc = ins_t if ins_t < due else due
        s.act_pay_dedc = dedc
        if benefit.counter is not None:
            if dedc:
                deltas[benefit.counter] = dedc
            if benefit.basis == "per_admission":
                deltas[f"{benefit.counter}:n"] = 1
        try:
            ratio = benefit.ratio[(level, psn_type, locality)]
        except KeyError:
            raise SettlementError("visit.locality", f"unknown locality {visit.locality!r}") from None
        base = ins_t - dedc
        raw = apply_ratio(base, ratio)
        cap = (
            benefit.cap_by_person_type.get(psn_type, benefit.cap)
            if benefit.cap_by_person_type
            else benefit.cap
        )
        room = None if cap is None else max(cap - acc.get(benefit.cap_counter, 0), 0)
        paid = raw if room is None or raw <= room else room
        if paid < raw:
            over_cap_base = base - min(base_for_payment(paid, ratio), base)
        s.hifp_pay = paid
        s.pool_prop_selfpay = ratio
        remaining_scope -= paid
        fund_total = paid
        if paid:
            deltas[benefit.cap_counter] = paid
        steps.append(
            (
                "basic",
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
                over_cap_base,
                locality,
            )
        )
        details.append(
            FundDetail(
                benefit.fund_pay_type,
                names.get(benefit.fund_pay_type, ("", ""))[0],
                base,
                room,
                paid,
                f"{base}×{ratio}/10000→{raw}; cap room {room}→{paid}",
            )
        )

    # 3. later layers, in file order
    layers: tuple[CompiledLayer, ...] = policy.layers.get((scheme, med_type), ())
    remaining_pre = pre_t
    for layer in layers:
        terms = layer.terms_for(person.identities)
        if terms is None:
            continue
        if layer.base == "over_cap":
            # an earlier layer may already have paid part of the scope the cap left unpaid
            lbase = over_cap_base if over_cap_base <= remaining_scope else remaining_scope
        else:
            lbase = remaining_scope + (remaining_pre if layer.include_preselfpay else 0)
        before = acc.get(layer.counter, 0)
        raw = layer_payment(terms.bounds, before, lbase)
        paid_key = f"{layer.counter}:paid"
        room = None if terms.cap is None else max(terms.cap - acc.get(paid_key, 0), 0)
        paid = raw if room is None or raw <= room else room
        if lbase:
            deltas[layer.counter] = deltas.get(layer.counter, 0) + lbase
        if paid:
            deltas[paid_key] = deltas.get(paid_key, 0) + paid
            # drawn from the policy-scope amount first, then from pay-first (先行自付) when included
            from_scope = paid if paid <= remaining_scope else remaining_scope
            remaining_scope -= from_scope
            remaining_pre -= paid - from_scope
            if layer.base == "over_cap":
                over_cap_base -= paid if paid <= over_cap_base else over_cap_base
            setattr(s, layer.field, getattr(s, layer.field) + paid)
            fund_total += paid
        steps.append(("layer", layer.id, terms.label, lbase, before, terms.deductible, raw, room, paid))
        if not lbase:
            continue
        details.append(
            FundDetail(
                layer.fund_pay_type,
                layer.name,
                lbase,
                room,
                paid,
                f"{layer.id}[{terms.label}] {layer.base}{'+pre' if layer.include_preselfpay else ''} base {lbase} from {before}: {raw}, room {room}→{paid}",
            )
        )

    s.fund_pay_sumamt = fund_total
    psn_part = total - fund_total  # hosp_part_amt is 0: no hospital burden in fee-for-service
    s.psn_part_amt = psn_part

    # 4. personal account, then cash
    acct = 0
    rule = policy.accounts.get(scheme)
    payer = visit.account_psn_no
    if payer is not None and payer != person.psn_no:
        rule = policy.accounts.get(payer_insutype or scheme)
        if rule is None or not rule.family_mutual_aid:
            raise SettlementError("visit.account_psn_no", "family mutual aid (家庭共济) is not allowed here")
        if payer not in person.family:
            raise SettlementError("visit.account_psn_no", f"{payer!r} is not a registered family member")
        s.account_psn_no = payer
    elif visit.use_account and rule is not None:
        s.account_psn_no = person.psn_no
    if s.account_psn_no is not None and rule is not None and med_type in rule.visit_types:
        in_scope = ins_t + pre_t - fund_total
        payable = (in_scope if rule.in_scope else 0) + (full_t + over_t if rule.out_of_scope else 0)
        bal = account_balance if account_balance > 0 else 0
        acct = payable if payable <= bal else bal
        steps.append(("account", payable, bal, acct, s.account_psn_no != person.psn_no))
        s.balc = bal - acct
    else:
        s.balc = account_balance if account_balance > 0 else 0
    s.acct_pay = acct
    if s.account_psn_no is not None and s.account_psn_no != person.psn_no:
        s.acct_mulaid_pay = acct
    s.psn_cash_pay = psn_part - acct
    return s
