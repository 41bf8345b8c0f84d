"""Monthly clearing between regions: net positions sum to zero to the fen, statements verify line by line,
disputes are carried and clear exactly once, prepayments move by the net and end at their target, and
reconciliation lists exactly the breaks introduced."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.crossregion.clearing import (
    Dispute,
    Record,
    Route,
    clear_month,
    prepayment_size,
    reconcile,
    resolution,
    statement,
    verify_statement,
)

REGIONS = ["110000", "310000", "440000", "610100", "610500"]
MONTHS = ["2025-01", "2025-02", "2025-03", "2025-04"]

route_st = st.builds(
    lambda i, care, insu, status, fund, acct, month: Route(
        f"M{i:06d}", care, insu, status, fund + acct + 1000, fund, acct, month
    ),
    st.integers(0, 10**6),
    st.sampled_from(REGIONS),
    st.sampled_from(REGIONS),
    st.sampled_from(["settled", "settled", "settled", "reversed", "refused"]),
    st.integers(0, 5_000_000),
    st.integers(0, 200_000),
    st.sampled_from(MONTHS),
).filter(lambda r: r.care != r.insu)


def _unique(routes: list[Route]) -> list[Route]:
    return list({r.msgid: r for r in routes}.values())


@st.composite
def world(draw: st.DrawFn) -> tuple[list[Route], list[Dispute]]:
    routes = _unique(draw(st.lists(route_st, min_size=1, max_size=80)))
    disputes = []
    for r in routes:
        if r.status != "settled" or not draw(st.booleans()) or not draw(st.booleans()):
            continue
        later = [m for m in MONTHS if m >= r.month]
        fate = draw(st.sampled_from(["open", "accepted", "rejected"]))
        resolved = draw(st.sampled_from(later[1:] or later)) if fate != "open" else ""
        disputes.append(Dispute(r.msgid, r.month, fate, resolved))  # type: ignore[arg-type]
    return routes, disputes


@settings(max_examples=150, deadline=None)
@given(world())
def test_net_positions_sum_to_zero_and_every_statement_verifies(w: tuple[list[Route], list[Dispute]]) -> None:
    routes, disputes = w
    for month in MONTHS:
        c = clear_month(month, routes, disputes)
        assert c.net_sum == 0
        assert sum(p.receivable for p in c.positions.values()) == sum(p.amount for p in c.pairs)
        for p in c.pairs:
            st_ = statement(p)
            # each side's own records, rebuilt from the routes it holds, agree line by line
            own = {x.msgid: x.owed for x in p.lines}
            assert verify_statement(st_, own) == []
            if p.lines:
                tampered = dict(own)
                first = p.lines[0].msgid
                tampered[first] += 1
                assert [b.kind for b in verify_statement(st_, tampered)] == ["amount_differs"]
                del tampered[first]
                assert [b.kind for b in verify_statement(st_, tampered)] == ["missing_here"]


@settings(max_examples=150, deadline=None)
@given(world())
def test_each_standing_settlement_clears_once_or_never(w: tuple[list[Route], list[Dispute]]) -> None:
    routes, disputes = w
    cleared: dict[str, int] = {}
    for month in MONTHS:
        for p in clear_month(month, routes, disputes).pairs:
            for x in p.lines:
                cleared[x.msgid] = cleared.get(x.msgid, 0) + 1
    fate = {d.msgid: d for d in disputes}
    for r in routes:
        d = fate.get(r.msgid)
        should = r.status == "settled" and (d is None or d.state == "accepted")
        assert cleared.get(r.msgid, 0) == (1 if should else 0), (r, d)
    last = clear_month(MONTHS[-1], routes, disputes)
    assert {d.msgid for d in last.carried} == {
        d.msgid for d in disputes if d.state == "open" or d.resolved > MONTHS[-1]
    }


@settings(max_examples=100, deadline=None)
@given(world(), st.dictionaries(st.sampled_from(REGIONS), st.integers(0, 10**9)))
def test_prepayments_move_by_the_net_and_end_at_their_target(
    w: tuple[list[Route], list[Dispute]], balances: dict[str, int]
) -> None:
    routes, disputes = w
    history = {k: [1_000_00, 2_000_00] for k in REGIONS}
    c = clear_month("2025-02", routes, disputes, history=history, balances=balances, prepay_months=2)
    assert sum(p.after_clearing for p in c.prepayments.values()) == sum(
        balances.get(k, 0) for k in c.prepayments
    )
    for k, p in c.prepayments.items():
        assert p.after_clearing == balances.get(k, 0) + c.positions[k].net
        assert p.closing == p.target == prepayment_size([*history[k], c.positions[k].payable], 2)


def test_prepayment_is_about_two_months_of_recent_outflow() -> None:
    assert prepayment_size([300, 600, 900], 2) == 1200  # 2 × mean(300, 600, 900)
    assert prepayment_size([100, 300, 600, 900], 2) == 1200  # the last three months only
    assert prepayment_size([1, 2], 2) == 3  # 2 × 1.5, half up
    assert prepayment_size([], 2) == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.sampled_from(["settled", "reversed"]), st.integers(0, 10**6)),
        max_size=40,
        unique_by=lambda t: t[0],
    ),
    st.data(),
)
def test_reconciliation_lists_exactly_the_breaks_introduced(
    base: list[tuple[int, str, int]], data: st.DataObject
) -> None:
    care = [Record(f"M{i}", s, a) for i, s, a in base]
    insured = list(care)
    expected: dict[str, str] = {}
    for k, r in enumerate(list(insured)):
        change = data.draw(st.sampled_from(["none", "none", "drop", "amount", "status"]), label=r.msgid)
        if change == "drop" and r.status == "settled":
            insured[k] = Record("", "", 0)
            expected[r.msgid] = "missing_there"
        elif change == "amount" and r.status == "settled":
            insured[k] = Record(r.msgid, r.status, r.owed + 1)
            expected[r.msgid] = "amount_differs"
        elif change == "status":
            insured[k] = Record(r.msgid, "reversed" if r.status == "settled" else "settled", r.owed)
            expected[r.msgid] = "status_differs"
    insured = [r for r in insured if r.msgid]
    breaks = reconcile(care, insured)
    assert {b.msgid: b.kind for b in breaks} == expected
    for b in breaks:
        res = resolution(b, "care")
        want = {"missing_there": "reverse_at_care", "amount_differs": "adopt_insured_amount",
                "status_differs": "resend_reversal"}[b.kind]  # fmt: skip
        assert res.action == want and res.reason_zh
    for b in reconcile(insured, care):
        if b.kind == "missing_here":
            assert resolution(b, "insured").action == "reverse_at_care"
