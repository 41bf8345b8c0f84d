"""One answer to "how much did the funds pay for this line": the allocation stored with a settlement is
what the patient's itemised explanation shows and what a deduction may recover from the line (扣款上限),
for any mix of lines, on a 低保 resident's inpatient stay where several layers pay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import REGION, msgid, person, visit

from yibao.ledger import Ledger
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.settlement.allocation import allocate, line_fund_paid, line_splits
from yibao.settlement.explain import explain

BOOK = PolicyBook.from_file(REGION)
CODES = ("A01", "B10", "C01", "M01", "S01", "B20")
LINES = st.lists(
    st.tuples(st.sampled_from(CODES), st.integers(1_00, 2_000_00), st.integers(1, 40)),
    min_size=1,
    max_size=12,
)
_person_no = iter(range(1, 10**9))


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path: Path = tmp_path_factory.mktemp("alloc") / "ledger.db"
    led = Ledger.open(f"sqlite:///{path}")
    led.migrate()
    try:
        yield led
    finally:
        led.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES, balance=st.integers(0, 50_000_00))
def test_the_explanation_and_the_deduction_cap_read_one_per_line_allocation(
    ledger: Ledger, lines: list[tuple[str, int, int]], balance: int
) -> None:
    psn = f"DB{next(_person_no):08d}"
    low_income = [("DB", dt.date(2025, 1, 1), None)]  # 低保对象: critical illness and assistance pay too
    ledger.add_persons([person(psn, insutype="390", psn_type="31", balance=balance, identities=low_income)])
    v = visit(psn, lines, med_type="21", hosp_lv="3")
    out = ledger.settle(BOOK, v, msgid())
    stored = ledger.get_settlement(out.setl_id)
    splits = line_splits(stored.settlement, stored.visit.lines)
    # stored = allocated by the one rule, and what the settling call returned
    assert splits == allocate(stored.settlement, stored.visit.lines) == out.settlement.line_splits
    # every line's payers add up to the line, and the lines to the visit's fund total
    assert all(line_fund_paid(sp) + sp.acct_pay + sp.psn_cash_pay == sp.amount for sp in splits)
    assert sum(line_fund_paid(sp) for sp in splits) == stored.settlement.fund_pay_sumamt
    # the deduction cap of each line is what the funds paid for it
    cap = ledger.deduction_caps([out.setl_id])[out.setl_id]
    by_line: dict[str, int] = {}
    for sp in splits:
        by_line[sp.feedetl_sn] = by_line.get(sp.feedetl_sn, 0) + line_fund_paid(sp)
    assert cap.lines == by_line
    # and the patient reads the same amounts, fund by fund
    policy = BOOK.for_date(v.begin_date)
    text = explain(stored.settlement, stored.visit, policy)["zh"][-len(splits) :]
    for sentence, sp in zip(text, splits, strict=True):
        for fund, amount in sp.fund_pay.items():
            assert f"{policy.fund_names.get(fund, (fund,))[0]}支付 {fmt_yuan(amount)} 元" in sentence
