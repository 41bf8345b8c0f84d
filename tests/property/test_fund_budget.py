"""The global budget to the fen: Σ institution budgets = the region budget of each fund, advances add up
to each budget, DRG/DIP + other = budget; the clearing's identities; months-payable bands never go back."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.fund import accounts, budget
from yibao.fund.params import load_budget, load_params

BP, FP = load_budget(), load_params()

histories = st.lists(
    st.tuples(
        st.sampled_from([f"H{i:03d}" for i in range(12)]),
        st.sampled_from(["310100", "390100"]),
        st.integers(2022, 2024),
        st.integers(0, 10**11),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda x: (x[0], x[1], x[2]),
)


def _frame(rows: list[tuple[str, str, int, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(c, f, y, p, p * s // 100) for c, f, y, p, s in rows], schema=budget.HISTORY_SCHEMA, orient="row"
    )


@settings(max_examples=150, deadline=None)
@given(
    rows=histories,
    total=st.fixed_dictionaries({"310100": st.integers(0, 10**13), "390100": st.integers(0, 10**13)}),
    season=st.none() | st.lists(st.floats(0.5, 1.5), min_size=12, max_size=12),
)
def test_institution_budgets_add_up_to_the_region_budget_to_the_fen(
    rows: list[tuple[str, str, int, int, int]], total: dict[str, int], season: list[float] | None
) -> None:
    b = budget.allocate(2025, total, _frame(rows), BP, season)
    for f in total:
        assert sum(ln.budget_fen for ln in b.lines if ln.fund == f) == b.region_by_fund[f]
        assert b.region_by_fund[f] + b.reserve_by_fund[f] == total[f]
    assert sum(b.by_institution().values()) == b.region_budget
    per = b.by_institution()
    for code, amt in per.items():
        adv = [a for a in b.advances if a.code == code]
        assert len(adv) == 12 and sum(a.advance_fen for a in adv) == amt
        assert all(a.paid_fen + a.withheld_fen == a.advance_fen and a.withheld_fen >= 0 for a in adv)
    assert all(ln.drg_dip_fen + ln.other_fen == ln.budget_fen and ln.drg_dip_fen >= 0 for ln in b.lines)
    assert all(BP.growth_floor <= ln.growth <= BP.growth_cap for ln in b.lines)


@settings(max_examples=200, deadline=None)
@given(
    budget_fen=st.integers(0, 10**12),
    actual=st.integers(0, 10**12),
    withheld=st.integers(0, 10**11),
    paid=st.integers(0, 10**12),
    release=st.integers(0, 10_000),
    coef=st.sampled_from([10_000, 9_500]),
)
def test_the_clearing_identities_hold(
    budget_fen: int, actual: int, withheld: int, paid: int, release: int, coef: int
) -> None:
    a = budget.Assessment(8_000, release, coef, 7_000)
    c = budget.clear("H1", budget_fen, actual, paid, withheld, a, BP)
    assert c.released_fen + c.forfeited_fen == withheld and 0 <= c.released_fen <= withheld
    assert c.balance_fen == c.adjusted_fen - paid - c.forfeited_fen
    assert c.adjusted_fen <= c.determined_fen
    if actual <= budget_fen:
        assert actual <= c.determined_fen <= budget_fen  # what is kept never exceeds what was saved
    else:
        assert budget_fen <= c.determined_fen <= actual  # the fund carries part of the overspend, never more
    assert c.zh and c.en and any("清算结果" in x for x in c.zh)


@settings(max_examples=300, deadline=None)
@given(a=st.integers(-10_000, 10_000), b=st.integers(-10_000, 10_000))
def test_months_payable_bands_never_go_back_as_the_months_rise(a: int, b: int) -> None:
    order = ["red", "amber", "target", "high", "excessive"]
    lo, hi = sorted((a, b))
    assert order.index(accounts.band(lo, FP.months_payable)) <= order.index(
        accounts.band(hi, FP.months_payable)
    )
