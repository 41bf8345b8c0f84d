"""Property: undoing the last k settlements (in reverse order) leaves the ledger exactly as if they had
never happened — accumulators, balances, and what is settled next."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import book_from_fixture, money, msgid, person, visit

from yibao.ledger import Ledger

BOOK = book_from_fixture()
PEOPLE = ("E1", "E2", "R1")
line = st.tuples(
    st.sampled_from(["A01", "B10", "C01", "M01", "B20"]), st.integers(100, 300_000), st.integers(1, 4)
)
one_visit = st.tuples(
    st.sampled_from(PEOPLE),
    st.sampled_from(["11", "21"]),
    st.sampled_from(["1", "2", "3"]),
    st.booleans(),
    st.lists(line, min_size=1, max_size=4),
)


def fresh(path: Path) -> Ledger:
    led = Ledger.open(f"sqlite:///{path}")
    led.migrate()
    led.add_persons(
        [
            person("E1", balance=200_000, family=["R1"]),
            person("E2", psn_type="21", balance=30_000),
            person("R1", insutype="390", psn_type="31", family=["E1"]),
        ]
    )
    return led


def state(led: Ledger) -> dict[str, object]:
    return {p: (led.accumulators(p, 2025), led.account_balance(p)) for p in PEOPLE}


def build(spec: tuple) -> object:  # a Visit
    who, med, lv, family, lines = spec
    payer = "E1" if who == "R1" and family else None
    return visit(who, lines, med_type=med, hosp_lv=lv, account_psn_no=payer)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(one_visit, min_size=1, max_size=8), st.data())
def test_undoing_the_last_settlements_is_as_if_they_never_happened(
    specs: list[tuple], data: st.DataObject
) -> None:
    k = data.draw(st.integers(1, len(specs)))
    nxt = data.draw(one_visit)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = fresh(Path(tmp) / "a.db"), fresh(Path(tmp) / "b.db")
        try:
            visits = [build(s) for s in specs]
            outs = [a.settle(BOOK, v, msgid()) for v in visits]  # type: ignore[arg-type]
            for v in visits[:-k]:
                b.settle(BOOK, v, msgid())  # type: ignore[arg-type]
            for j, out in enumerate(reversed(outs[-k:])):
                if j % 2:  # alternate 2208 cancel and 2601 reversal of the settle's msgid
                    a.cancel(out.setl_id, msgid())
                else:
                    a.reverse(a.get_settlement(out.setl_id).msgid, msgid())
            assert state(a) == state(b)
            v = build(nxt)
            assert money(a.settle(BOOK, v, msgid()).settlement) == money(
                b.settle(BOOK, v, msgid()).settlement
            )  # type: ignore[arg-type]
            assert a.verify().ok
        finally:
            a.close()
            b.close()
