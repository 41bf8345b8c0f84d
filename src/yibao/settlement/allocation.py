"""How much of each line every payer paid: the one definition of a line's fund, account and cash shares.

The engine settles a visit as a whole; a person's itemised bill (费用明白单), a deduction's per-line cap
(扣款), FHIR ``ExplanationOfBenefit.item.adjudication`` and the portal all need the same amounts per line.
They are computed here once, when the settlement is made, and stored with it (``settlement_line``).

Rule (explicit, deterministic): each visit-level amount — the deductible, then each fund in payment
order, then the personal account — is spread over the lines in proportion to what is still unpaid on
each line in that amount's own scope, by the largest-remainder method
(:func:`yibao.money.split_largest_remainder`):

* the deductible (起付线) over the lines' policy-scope amounts;
* the basic pooled fund over the policy scope above each line's deductible share;
* each later layer over what is left of the policy scope, plus the pay-first amount (先行自付) when the
  layer's base includes it; a layer's share is drawn from a line's scope first, then its pay-first;
* a commercial product (一单制) over each line's remaining policy-scope part (pay-first and scope) for what
  it drew from there, then over each line's out-of-scope part (全自费, 超限价) for the rest;
* the personal account over each line's remaining personal part; the rest of the line is cash.

Shares never exceed a line's remaining amount, and every line's parts add up to its amount exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import add, sub

from yibao.money import split_largest_remainder
from yibao.settlement.model import Line, LineSplit, Settlement
from yibao.settlement.trace import BasicFund, Commercial, Layer


def allocate(s: Settlement, lines: Sequence[Line]) -> list[LineSplit]:
    """Per-line splits of ``s``, settled from ``lines``: every fen of every line assigned to a payer.

    Written for speed (it runs for every stored settlement): whole-list steps instead of index loops;
    ``tests/property/test_allocation.py`` holds it to the rule written line by line."""
    parts = s.line_parts
    n = len(parts)
    scope_left = [p[3] for p in parts]
    pre_left = [p[2] for p in parts]
    ded = split_largest_remainder(s.act_pay_dedc, scope_left)
    funds: list[dict[str, int]] | None = None  # made by the first fund that pays
    paying = [(k, d) for k, d in enumerate(s.setldetail) if d.fund_payamt]
    has_basic, includes_pre = False, []
    if paying:
        # setldetail holds the basic fund first (when the scheme has one), then each layer with a base, in
        # the order the trace records them; the trace says whether a layer's base included pay-first
        has_basic = any(isinstance(step, BasicFund) for step in s.steps)
        includes_pre = [False] * (1 if has_basic else 0) + [
            step.includes_preselfpay for step in s.steps if isinstance(step, Layer) and step.base > 0
        ]
    for k, detail in paying:
        if k == 0 and has_basic:
            # the pooled fund pays on the scope above the deductible; later layers pay on what it left,
            # deductible included (合规自付)
            weights = list(map(sub, scope_left, ded))
        elif k < len(includes_pre) and includes_pre[k]:
            weights = list(map(add, scope_left, pre_left))
        else:
            weights = scope_left
        shares = split_largest_remainder(detail.fund_payamt, weights)
        fund = detail.fund_pay_type
        if funds is None:
            funds = [{fund: share} if share else {} for share in shares]
        else:
            for line_funds, share in zip(funds, shares, strict=True):
                if share:
                    line_funds[fund] = line_funds.get(fund, 0) + share
        # a share is drawn from the line's scope first, then from its pay-first amount
        scope_left = list(map(sub, scope_left, shares))
        if n and min(scope_left) < 0:
            pre_left = [
                pre + left if left < 0 else pre for pre, left in zip(pre_left, scope_left, strict=True)
            ]
            scope_left = [left if left > 0 else 0 for left in scope_left]
    if funds is None:
        funds = [{} for _ in range(n)]
    personal = [p[0] + p[1] + pre + scope for p, pre, scope in zip(parts, pre_left, scope_left, strict=True)]
    com = _commercial_shares(s, lines, parts, pre_left, scope_left, personal) if s.commercial_pay else None
    acct = split_largest_remainder(s.acct_pay, personal) if s.acct_pay else [0] * n
    # positional arguments in LineSplit's field order (feedetl_sn, code, amount, the four parts, deductible,
    # funds, account, cash): this runs for every line of every stored settlement
    if com is None:
        return [
            LineSplit(ln.feedetl_sn, ln.code, ln.amount, *p, d, f, a, mine - a)
            for (ln, p), d, f, a, mine in zip(
                zip(lines, parts, strict=True), ded, funds, acct, personal, strict=True
            )
        ]
    return [
        LineSplit(ln.feedetl_sn, ln.code, ln.amount, *p, d, f, a, mine - a, c)
        for (ln, p), d, f, (a, mine), c in zip(
            zip(lines, parts, strict=True), ded, funds, zip(acct, personal, strict=True), com, strict=True
        )
    ]


def _blocked(s: Settlement, lines: Sequence[Line]) -> set[int]:
    """Positions of the lines the in-event audit blocked (every line for a visit-level block)."""
    blocks = [f for f in s.audit if f.severity == "block"]
    if not blocks:
        return set()
    if any(f.feedetl_sn is None for f in blocks):
        return set(range(len(lines)))
    sns = {f.feedetl_sn for f in blocks}
    return {i for i, ln in enumerate(lines) if ln.feedetl_sn in sns}


def _commercial_shares(
    s: Settlement,
    lines: Sequence[Line],
    parts: Sequence[tuple[int, int, int, int]],
    pre_left: list[int],
    scope_left: list[int],
    personal: list[int],
) -> list[int]:
    """Each line's share of the commercial payment; ``personal`` is reduced by it (what the account and cash
    still cover).  A line the in-event audit blocked gets none (the engine left it out of the product's base)."""
    step = next((x for x in s.steps if isinstance(x, Commercial)), None)
    in_part = step.from_scope if step is not None else min(s.commercial_pay, sum(pre_left) + sum(scope_left))
    n = len(parts)
    first = split_largest_remainder(in_part, [pre_left[i] + scope_left[i] for i in range(n)])
    rest = s.commercial_pay - in_part
    blocked = _blocked(s, lines)
    out_of_scope = [0 if i in blocked else parts[i][0] + parts[i][1] for i in range(n)]
    second = split_largest_remainder(rest, out_of_scope) if rest else [0] * n
    com = [first[i] + second[i] for i in range(n)]
    for i in range(n):
        personal[i] -= com[i]
    return com


def line_splits(s: Settlement, lines: Sequence[Line]) -> list[LineSplit]:
    """The per-line splits of ``s``: those stored with it, else allocated now (the same rule)."""
    if not s.line_splits:
        s.line_splits = allocate(s, lines)
    return s.line_splits


def line_fund_paid(split: LineSplit) -> int:
    """What the funds together paid for one line (the most a deduction may recover from it)."""
    return sum(split.fund_pay.values())
