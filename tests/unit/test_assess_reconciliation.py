"""The reconciliation break rate of the assessment, from the national reconciliation answers: a period
counts once by its first 3201 answer, 3202 detail is shown beside it, an explicit value wins and the
explanation names where the rate came from."""

from __future__ import annotations

import polars as pl

from yibao.assess import core, indicators
from yibao.assess.params import load_params
from yibao.encounter.core import Figures, Reconciliation
from yibao.usecases.reconciliation import frame

P = load_params()
LEDGER = Figures(100_00, 60_00, 10_00, 3)
SHORT = Figures(90_00, 55_00, 10_00, 2)


def _r(
    code: str,
    q: str,
    hosp: Figures,
    *,
    infno: str = "3201",
    clr: str = "11",
    n: int = 0,
    miss: tuple[str, ...] = (),
) -> Reconciliation:
    end = {"1": "2025-03-31", "2": "2025-06-30", "3": "2025-09-30", "4": "2025-12-31"}[q]
    begin = end[:5] + {"1": "01-01", "2": "04-01", "3": "07-01", "4": "10-01"}[q]
    return Reconciliation(
        infno,
        f"M{code}{q}{infno}{len(miss)}",
        code,
        begin,
        end,
        "310" if infno == "3201" else "",
        clr,
        "610100",
        hosp,
        LEDGER,
        n,
        miss,
    )


def _inst(*codes: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"fixmedins_code": list(codes), "level": ["2"] * len(codes), "kind": ["hospital"] * len(codes)}
    )


def test_a_reconciliation_agrees_only_when_every_figure_and_every_row_match() -> None:
    assert _r("H1", "1", LEDGER).agreed
    short = _r("H1", "1", SHORT)
    assert not short.agreed and short.differing == ("medfee_sumamt", "fund_pay_sumamt", "fixmedins_setl_cnt")
    assert not _r("H1", "1", LEDGER, infno="3202", n=3, miss=("S9",)).agreed


def test_the_break_rate_is_the_share_of_periods_whose_first_3201_did_not_agree() -> None:
    recons = [
        _r("H1", "1", SHORT),  # break …
        _r("H1", "1", LEDGER),  # … corrected later: the period stays a break (first answer)
        _r("H1", "2", LEDGER),
        _r("H1", "3", LEDGER),
        _r("H1", "4", LEDGER),
        _r("H1", "4", LEDGER),  # a balanced 3201 repeated does not dilute the rate
        _r("H2", "1", LEDGER),
        _r("H1", "1", SHORT, infno="3202", n=3, miss=("S3",)),
    ]
    out = indicators.reconciliation_break_rate(frame(recons), P)
    rows = {r["fixmedins_code"]: r for r in out.iter_rows(named=True)}
    assert rows["H1"]["recon_periods"] == 4 and rows["H1"]["recon_breaks"] == 1
    assert rows["H1"]["reconciliation_break_rate"] == 2_500  # 1 of 4 periods, in 1/10000
    assert (rows["H1"]["recon_detail_rows"], rows["H1"]["recon_detail_unmatched"]) == (3, 1)
    assert rows["H2"]["reconciliation_break_rate"] == 0 and rows["H2"]["recon_detail_rows"] is None


def test_the_last_answer_rule_counts_a_corrected_period_as_agreed() -> None:
    last = P.model_copy(
        update={"reconciliation": P.reconciliation.model_copy(update={"period_outcome": "last"})}
    )
    out = indicators.reconciliation_break_rate(frame([_r("H1", "1", SHORT), _r("H1", "1", LEDGER)]), last)
    assert out.row(0, named=True)["reconciliation_break_rate"] == 0


def test_the_computed_rate_is_scored_and_explained_with_its_source() -> None:
    recons = frame([_r("H1", "1", SHORT), _r("H1", "2", LEDGER), _r("H2", "1", LEDGER)])
    f = indicators.assemble(_inst("H1", "H2", "H3"), P, reconciliations=recons)
    by = {r["fixmedins_code"]: r for r in f.iter_rows(named=True)}
    assert by["H1"]["reconciliation_break_rate"] == 5_000 and by["H3"]["reconciliation_break_rate"] is None
    scores = {s.code: s for s in core.score(f, P)}
    ind = next(i for i in scores["H1"].indicators if i.key == "reconciliation_break_rate")
    assert ind.value == 5_000 and ind.points_x100 == 0  # 50 % is beyond the zero line (10 %)
    zh, _ = core.explain(scores["H1"], P)
    assert any("来源：国家接口对账记录" in z and "2 期，不平 1 期" in z for z in zh), zh
    zh3, _ = core.explain(scores["H3"], P)
    assert any("3201 对账不平率：不可用（本年无国家接口 3201 对账记录" in z for z in zh3), zh3


def test_an_explicit_value_wins_over_the_computed_rate_and_says_so() -> None:
    recons = frame([_r("H1", "1", SHORT), _r("H1", "2", LEDGER)])
    given = pl.DataFrame({"fixmedins_code": ["H1"], "reconciliation_break_rate": [5]})
    f = indicators.assemble(_inst("H1", "H2"), P, reconciliations=recons, inputs=given)
    row = f.filter(pl.col("fixmedins_code") == "H1").row(0, named=True)
    assert row["reconciliation_break_rate"] == 5 and row["recon_given"] == 1
    s = next(x for x in core.score(f, P) if x.code == "H1")
    zh, _ = core.explain(s, P)
    assert any("来源：导入值" in z and "对账记录 2 期、不平 1 期" in z for z in zh), zh
