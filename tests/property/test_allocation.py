"""The per-line allocation as stored with every settlement (:func:`yibao.settlement.allocation.allocate`,
written with whole-list steps for speed) gives exactly what the rule gives written line by line: the
deductible, then each fund in payment order drawn from a line's scope first and then its pay-first amount,
then the personal account, the rest cash."""

from __future__ import annotations

from operator import add, sub
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.money import split_largest_remainder
from yibao.settlement.allocation import allocate
from yibao.settlement.model import FundDetail, Line, LineSplit
from yibao.settlement.trace import BasicFund, Layer


def by_the_rule(s: Any, lines: list[Line]) -> list[LineSplit]:
    """The rule one line at a time (the form ``allocate`` had before it was written for speed)."""
    parts = s.line_parts
    n = len(parts)
    scope_left = [p[3] for p in parts]
    pre_left = [p[2] for p in parts]
    ded = split_largest_remainder(s.act_pay_dedc, scope_left)
    funds: list[dict[str, int]] = [{} for _ in range(n)]
    has_basic = any(isinstance(step, BasicFund) for step in s.steps)
    layer_steps = [step for step in s.steps if isinstance(step, Layer) and step.base > 0]
    includes_pre = [False] * (1 if has_basic else 0) + [step.includes_preselfpay for step in layer_steps]
    for k, detail in enumerate(s.setldetail):
        if not detail.fund_payamt:
            continue
        if k == 0 and has_basic:
            weights = list(map(sub, scope_left, ded))
        elif k < len(includes_pre) and includes_pre[k]:
            weights = list(map(add, scope_left, pre_left))
        else:
            weights = list(scope_left)
        shares = split_largest_remainder(detail.fund_payamt, weights)
        for i, share in enumerate(shares):
            if not share:
                continue
            funds[i][detail.fund_pay_type] = funds[i].get(detail.fund_pay_type, 0) + share
            if share <= scope_left[i]:
                scope_left[i] -= share
            else:
                pre_left[i] -= share - scope_left[i]
                scope_left[i] = 0
    personal = [p[0] + p[1] + pre + scope for p, pre, scope in zip(parts, pre_left, scope_left, strict=True)]
    acct = split_largest_remainder(s.acct_pay, personal) if s.acct_pay else [0] * n
    return [
        LineSplit(
            ln.feedetl_sn, ln.code, ln.amount, *parts[i], ded[i], funds[i], acct[i], personal[i] - acct[i]
        )
        for i, ln in enumerate(lines)
    ]


@st.composite
def settlements(draw: st.DrawFn) -> tuple[Any, list[Line]]:
    """A settlement's inputs to the allocation: line parts, and visit-level amounts that fit inside them."""
    parts = draw(
        st.lists(
            st.tuples(*[st.integers(0, 50_000_00) | st.just(0)] * 4).map(lambda p: (p[0], p[1], p[2], p[3])),
            min_size=1,
            max_size=40,
        )
    )
    lines = [Line(str(i + 1), f"C{i}", 1, sum(p), sum(p)) for i, p in enumerate(parts)]
    scope, pre = sum(p[3] for p in parts), sum(p[2] for p in parts)
    ded = draw(st.integers(0, scope))
    basic = draw(st.booleans())
    steps: list[Any] = []
    details: list[FundDetail] = []
    room_scope, room_pre = scope - ded, pre
    if basic:
        steps.append(BasicFund("b", "per_year", ded, 0, ded, room_scope, 9000, 0, None, 0, 0, "local"))
        paid = draw(st.integers(0, room_scope))
        details.append(FundDetail("310100", "统筹", room_scope, None, paid, ""))
        room_scope -= paid
        room_scope += ded  # later layers pay on what the pooled fund left, deductible included
    for j in range(draw(st.integers(0, 3))):
        with_pre = draw(st.booleans())
        base = room_scope + (room_pre if with_pre else 0)
        paid = draw(st.integers(0, base))
        steps.append(Layer(f"L{j}", "default", max(base, 1), 0, 0, paid, None, paid, with_pre))
        details.append(FundDetail(f"3{j}0200", "层", base, None, paid, ""))
        from_scope = min(paid, room_scope)
        room_scope -= from_scope
        room_pre -= paid - from_scope
    personal_total = sum(sum(p) for p in parts) - sum(d.fund_payamt for d in details)
    acct = draw(st.integers(0, max(personal_total, 0)))
    s = SimpleNamespace(
        line_parts=parts, act_pay_dedc=ded, setldetail=details, steps=steps, acct_pay=acct, commercial_pay=0
    )
    return s, lines


@settings(max_examples=400, deadline=None)
@given(case=settlements())
def test_the_fast_allocation_is_the_rule_line_by_line(case: tuple[Any, list[Line]]) -> None:
    s, lines = case
    fast = allocate(s, lines)
    assert fast == by_the_rule(s, lines)
    for sp in fast:
        assert sp.act_pay_dedc <= sp.inscp_scp_amt
        assert sum(sp.fund_pay.values()) + sp.acct_pay + sp.psn_cash_pay == sp.amount
