"""Eight concurrent writers on a few hot persons: the ledger must behave as if settlements ran one at a
time (in settlement-id order), with no cap exceeded and every fen of every account accounted for."""

from __future__ import annotations

import random
import threading
from collections import defaultdict

import pytest
from ledger_support import DAY, money, msgid, open_ledger, person, visit

from yibao.ledger import LedgerError
from yibao.policy.book import PolicyBook
from yibao.settlement.engine import settle_visit

WRITERS = 8
VISITS_PER_WRITER = 300
BALANCES = {"E1": 300_000, "E2": 150_000, "E3": 80_000, "E4": 0, "E5": 500_000, "R1": 0, "R2": 0}
CAPS = {
    "emp-op-paid": 200_000,
    "emp-pool-paid": 40_000_000,
    "res-pool-paid": 13_000_000,
    "maf:paid": 5_000_000,
    "res-ci:paid": 30_000_000,
}
CAPS_TK = {**CAPS, "maf:paid": 8_000_000, "res-ci:paid": 10**12}  # 特困: assistance cap 80,000元, no 大病 cap


def _people() -> list:  # type: ignore[type-arg]
    return [
        person("E1", balance=BALANCES["E1"], family=["E5"]),
        person("E2", balance=BALANCES["E2"]),
        person("E3", balance=BALANCES["E3"], identities=[("DB", DAY.replace(month=1, day=1), None)]),
        person("E4", balance=BALANCES["E4"]),
        person("E5", psn_type="21", balance=BALANCES["E5"], family=["E1"]),
        person("R1", insutype="390", psn_type="31", identities=[("TK", DAY.replace(month=1, day=1), None)]),
        person("R2", insutype="390", psn_type="31"),
    ]


def _random_visit(rng: random.Random) -> object:
    psn = rng.choice(list(BALANCES))
    lv = rng.choice("123")
    if psn.startswith("E") and rng.random() < 0.6:
        lines = [("A01", 1_000, rng.randint(5, 40)), ("S01", 1_000, 1), ("B10", 500, rng.randint(0, 10))]
        payer = "E5" if psn == "E1" and rng.random() < 0.5 else None
        return visit(psn, [x for x in lines if x[2]], hosp_lv=lv, account_psn_no=payer)
    lines = [
        ("A01", 10_000, rng.randint(10, 200)),
        ("B10", 5_000, rng.randint(1, 50)),
        ("M01", 140_000, rng.randint(0, 2)),
        ("C01", 2_000, rng.randint(0, 5)),
        ("B20", 6_000, rng.randint(0, 3)),
    ]
    return visit(psn, [x for x in lines if x[2]], med_type="21", hosp_lv=lv)


@pytest.mark.postgres
def test_eight_writers_on_hot_persons_serialise_exactly(pg_url: str, book: PolicyBook) -> None:
    setup = open_ledger(pg_url)
    setup.migrate()
    setup.add_persons(_people())
    errors: list[BaseException] = []
    counts: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer(k: int) -> None:
        rng = random.Random(k)
        led = open_ledger(pg_url)
        try:
            start.wait()
            last = None
            for _ in range(VISITS_PER_WRITER):
                m = msgid()
                v = _random_visit(rng)
                out = led.settle(book, v, m)  # type: ignore[arg-type]
                assert not out.replayed
                if rng.random() < 0.05:  # a retry of the same request: replayed, nothing changes
                    again = led.settle(book, v, m)  # type: ignore[arg-type]
                    assert again.replayed and again.setl_id == out.setl_id
                    with lock:
                        counts["replayed"] += 1
                if rng.random() < 0.05:  # undo what was just settled — refused if someone settled since
                    try:
                        led.cancel(out.setl_id, msgid())
                        with lock:
                            counts["cancelled"] += 1
                    except LedgerError as exc:
                        assert exc.code == "not_latest", exc
                        with lock:
                            counts["not_latest"] += 1
                last = out
            assert last is not None
        except BaseException as exc:
            errors.append(exc)
        finally:
            led.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]

    report = setup.verify()
    assert report.ok, report.problems[:10]
    stored = list(reversed(setup.list_settlements(limit=10**6)))  # settlement-id order
    assert len(stored) == WRITERS * VISITS_PER_WRITER
    active = [s for s in stored if s.active]
    assert len(active) == WRITERS * VISITS_PER_WRITER - counts["cancelled"]
    assert setup.totals()["count"] == len(active)

    # accumulators = Σ deltas of active settlements; no cap exceeded
    want: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in active:
        for key, d in s.settlement.deltas.items():
            want[s.psn_no][key] += d
    for psn in BALANCES:
        acc = setup.accumulators(psn, DAY.year)
        assert acc == {k: v for k, v in want[psn].items() if v}, psn
        for key, cap in (CAPS_TK if psn == "R1" else CAPS).items():
            assert acc.get(key, 0) <= cap, (psn, key, acc.get(key))
    assert (
        max(setup.accumulators(p, DAY.year).get("emp-op-paid", 0) for p in ("E1", "E2", "E3"))
        == CAPS["emp-op-paid"]
    )

    # account balances = initial − Σ acct_pay of active settlements debiting them
    debits: dict[str, int] = defaultdict(int)
    for s in active:
        if s.settlement.acct_pay:
            assert s.settlement.account_psn_no is not None
            debits[s.settlement.account_psn_no] += s.settlement.acct_pay
    for psn, initial in BALANCES.items():
        assert setup.account_balance(psn) == initial - debits[psn] >= 0, psn

    # serial replay in settlement-id order reproduces every active result exactly
    accs: dict[str, dict[str, int]] = defaultdict(dict)
    bal = dict(BALANCES)
    for s in active:
        v = s.visit
        p = setup.get_person(s.psn_no, v.begin_date)
        payer = v.account_psn_no or s.psn_no
        payer_type = setup.get_person(payer, v.begin_date).insutype
        again = settle_visit(book.for_date(v.begin_date), p, v, accs[s.psn_no], bal[payer], payer_type)
        assert money(again) == money(s.settlement), s.setl_id
        for key, d in again.deltas.items():
            accs[s.psn_no][key] = accs[s.psn_no].get(key, 0) + d
        if again.acct_pay:
            bal[payer] -= again.acct_pay
    assert counts["replayed"] > 0 and counts["cancelled"] + counts["not_latest"] > 0, dict(counts)
    setup.close()
