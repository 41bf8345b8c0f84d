"""The benefit check in every executor: the real-time engine with an Entitlement, the Polars batch with the
eligibility columns and the Spark partition function agree to the fen — refused visits are settled by none,
self-paid ones are paid by no fund and move no accumulator, and the continuity uplift (国办发〔2024〕38号)
raises the critical-illness cap by the same amount everywhere."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_batch_equals_engine import BOOK, PEOPLE, build, visit_st
from test_spark_equals_batch import _attach

from yibao.batch import settle_batch
from yibao.batch.settle import MONEY_OUT, REFUSE, SELF_PAY, SETTLE
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Entitlement, Person, Visit
from yibao.spark import settle_partition
from yibao.spark.partition import ELIG_VISIT_COLS

# a decision per visit: (elig_decision, account usable when self-paid, uplift fen, share 1/10000)
elig_st = st.tuples(
    st.sampled_from([SETTLE, SETTLE, SETTLE, SELF_PAY, REFUSE]),
    st.booleans(),
    st.sampled_from([0, 0, 100_000, 500_000, 3_000_000, -200_000]),
    st.sampled_from([0, 2000, 10_000]),
)


def with_elig(vdf: pl.DataFrame, eligs: list[tuple[int, bool, int, int]]) -> pl.DataFrame:
    return vdf.with_columns(
        pl.Series("elig_decision", [e[0] for e in eligs], dtype=pl.Int8),
        pl.Series("elig_account", [e[1] for e in eligs], dtype=pl.Boolean),
        pl.Series("ci_uplift_fen", [e[2] if e[0] == SETTLE else 0 for e in eligs], dtype=pl.Int64),
        pl.Series("ci_uplift_share", [e[3] if e[0] == SETTLE else 0 for e in eligs], dtype=pl.Int32),
        pl.Series("reason_code", ["x" if e[0] == REFUSE else "ok" for e in eligs], dtype=pl.String),
    )


def entitlement(e: tuple[int, bool, int, int]) -> Entitlement | None:
    decision, acct, uplift, share = e
    if decision == REFUSE:
        return None
    if decision == SELF_PAY:
        return Entitlement(self_pay=True, account_usable=acct, reason_code="waiting_period")
    return Entitlement(ci_cap_uplift_fen=uplift, ci_uplift_max_share=share)


def realtime(
    pairs: list[tuple[Person, Visit]], eligs: list[tuple[int, bool, int, int]]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i][1].begin_date, i))
    acc: dict[tuple[str, int], dict[str, int]] = {}
    bal = {f"P{i}": p[2] for i, p in enumerate(PEOPLE)}
    out: dict[str, dict[str, int]] = {}
    for i in order:
        person, visit = pairs[i]
        ent = entitlement(eligs[i])
        if eligs[i][0] == REFUSE:
            continue
        a = acc.setdefault((person.psn_no, visit.begin_date.year), {})
        payer = visit.account_psn_no or person.psn_no
        payer_scheme = "310" if PEOPLE[int(payer[1:])][0] in ("11", "21") else "390"
        s = settle_visit(
            BOOK.for_date(visit.begin_date), person, visit, a, bal[payer], payer_scheme, entitlement=ent
        )
        for k, v in s.deltas.items():
            a[k] = a.get(k, 0) + v
        bal[payer] -= s.acct_pay
        out[visit.mdtrt_id] = {f: getattr(s, f) for f in MONEY_OUT} | {
            "pool_prop_selfpay": s.pool_prop_selfpay
        }
    final = {f"{k[0]}:{k[1]}": {n: v for n, v in d.items() if v} for k, d in acc.items()}
    return out, final


def _rows(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    return {
        f"V{r['visit_id']}": {k: r[k] for k in (*MONEY_OUT, "pool_prop_selfpay")}
        for r in frame.iter_rows(named=True)
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(visit_st, elig_st), min_size=1, max_size=40))
def test_batch_spark_and_engine_agree_with_the_benefit_check(cases: list[tuple[tuple, tuple]]) -> None:
    visits = [c[0] for c in cases]
    eligs = [c[1] for c in cases]
    persons, vdf, ldf, pairs = build(visits)
    expected, expected_acc = realtime(pairs, eligs)
    vdf = with_elig(vdf, eligs)
    result = settle_batch(BOOK, persons, vdf, ldf)
    assert _rows(result.visits) == expected
    assert sorted(result.refused["visit_id"].to_list()) == [i for i, e in enumerate(eligs) if e[0] == REFUSE]
    for key, acc in expected_acc.items():
        psn, year = key.split(":")
        assert result.accumulators(int(psn[1:]), int(year)) == acc
    # the Spark partition function (one partition holding every component) settles the same
    rows = _attach(persons, vdf).join(vdf.select("visit_id", *ELIG_VISIT_COLS), on="visit_id")
    res, _ = settle_partition(BOOK, rows.to_arrow(), ldf.to_arrow())
    got = pl.from_arrow(res)
    assert isinstance(got, pl.DataFrame)
    assert _rows(got) == expected


def test_a_self_paid_visit_moves_nothing_and_pays_no_fund() -> None:
    # the employee (person 0) in a waiting period twice, then covered: the deductible is charged on the
    # covered visit as if the self-paid ones had not happened
    visit = (0, "21", "3", 10, "local", False, True, False, [("A01", 400_000, 3)])
    later = (0, "21", "3", 40, "local", False, True, False, [("A01", 400_000, 3)])
    persons, vdf, ldf, pairs = build([visit, visit, later])
    eligs = [(SELF_PAY, False, 0, 0), (SELF_PAY, True, 0, 0), (SETTLE, True, 0, 0)]
    expected, expected_acc = realtime(pairs, eligs)
    plain, _ = realtime(pairs[2:], [eligs[2]])
    assert expected["V0"]["fund_pay_sumamt"] == 0 and expected["V1"]["fund_pay_sumamt"] == 0
    assert expected["V0"]["acct_pay"] == 0 and expected["V1"]["acct_pay"] > 0
    assert expected["V0"]["psn_cash_pay"] == expected["V0"]["medfee_sumamt"]
    assert expected["V2"]["act_pay_dedc"] == plain["V2"]["act_pay_dedc"] > 0
    result = settle_batch(BOOK, persons, with_elig(vdf, eligs), ldf)
    assert _rows(result.visits) == expected
    assert result.accumulators(0, 2025) == expected_acc["P0:2025"]


def test_the_continuity_uplift_raises_the_critical_illness_cap_by_the_limited_amount() -> None:
    # a resident (person 4, default terms) with large stays: the 大病 layer's cap binds; the uplift adds at most
    # 20% of the original cap (国办发〔2024〕38号)
    stays = [
        (4, "21", "3", d, "local", False, False, False, [("A01", 4_000_000, 5)]) for d in range(0, 360, 8)
    ]
    persons, vdf, ldf, pairs = build(stays)
    base, _ = realtime(pairs, [(SETTLE, False, 0, 0)] * len(stays))
    small, _ = realtime(pairs, [(SETTLE, False, 1_000_000, 2000)] * len(stays))
    large, _ = realtime(pairs, [(SETTLE, False, 50_000_000, 2000)] * len(stays))

    def total(rows: dict[str, dict[str, int]]) -> int:
        return sum(r["hifmi_pay"] for r in rows.values())

    cap = BOOK.for_date(pairs[0][1].begin_date)
    ci = next(x for ly in cap.layers[("390", "21")] for x in [ly] if x.field == "hifmi_pay")
    terms = ci.terms_for(frozenset())
    assert terms is not None and terms.cap is not None
    assert total(base) == terms.cap  # the original cap binds
    assert total(small) == terms.cap + 1_000_000
    assert total(large) == terms.cap + terms.cap * 2000 // 10_000  # limited to 20%
    for eligs in (
        [(SETTLE, False, 1_000_000, 2000)] * len(stays),
        [(SETTLE, False, 50_000_000, 2000)] * len(stays),
    ):
        result = settle_batch(BOOK, persons, with_elig(vdf, eligs), ldf)
        assert _rows(result.visits) == realtime(pairs, eligs)[0]
