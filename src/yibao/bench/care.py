"""``yibao bench care``: the engine part of an online follow-up settled with commercial cover, JSON lines;
nothing asserted.

``care.followup.engine`` ``throughput``: build the online visit (consultation at the policy price + drugs,
线上线下一致), :func:`yibao.settlement.engine.settle_visit` under the Xi'an example policy, the commercial
claim on the remaining burden plus the delivery fee, and the one bill — per visit, one core, no database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from yibao.care import commercial, online
from yibao.care.store import load_params
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Person


def run(visits: int = 100_000) -> Iterator[dict[str, Any]]:
    """Yield throughput (visits/s) and mean latency of follow-up settlement with commercial cover."""
    params = load_params()
    day = dt.date(2025, 6, 2)
    policy = PolicyBook.from_file(example_path("xian")).for_date(day)
    product = params.products["DM-ONLINE"]
    person = Person("P0000001", "基准", "610100195501010011", "F", dt.date(1955, 1, 1), "310", "21")
    drugs = (
        online.RxLine("XA10BAA049A001010198648", 60, 4, 30),
        online.RxLine("XA10BHA052A001010141309", 30, 210, 30),
    )
    pool = [
        online.online_visit(
            params,
            online.Prescription(
                f"rx{i}",
                person.psn_no,
                "IH61000000001",
                "D610100001",
                day,
                "E11.9",
                drugs[: 1 + i % 2],
                "D61000000001",
            ),
            f"MD{i}",
            {"E11"},
        )
        for i in range(64)
    ]
    acc = [{}, {"emp-mt-ded": 0, "emp-pool-paid": 1_000_000}]
    delivery = params.delivery_fee
    paid_total = 0
    t0 = time.perf_counter()
    for k in range(visits):
        s = settle_visit(policy, person, pool[k & 63], acc[k & 1], 0)
        c = commercial.claim(product, s.psn_part_amt + delivery, year_paid=0, year_deductible=0)
        bill = commercial.one_bill(
            s.medfee_sumamt, s.fund_pay_sumamt, s.hifp_pay, s.psn_part_amt, delivery, c.paid, product.insurer
        )
        paid_total += bill.commercial_pay
    el = time.perf_counter() - t0
    yield {
        "bench": "care.followup.engine",
        "metric": "throughput",
        "value": round(visits / el, 1),
        "unit": "visits/s",
        "visits": visits,
        "cores": 1,
    }
    yield {
        "bench": "care.followup.engine",
        "metric": "latency_mean",
        "value": round(el / visits * 1e6, 2),
        "unit": "us",
    }
    yield {"bench": "care.followup.engine", "metric": "commercial_paid", "value": paid_total, "unit": "fen"}
