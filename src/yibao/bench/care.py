"""``yibao bench care`` (also printed by ``yibao bench voucher``): the engine part of an online follow-up
settled with commercial cover, JSON lines; nothing asserted.

* ``care.followup.engine`` — :func:`yibao.settlement.engine.settle_visit` under the Xi'an example policy on an
  online follow-up (consultation at the policy price + one or two drugs, 门诊慢特病, 线上线下一致) with the
  diabetes product paying in the same settlement after the public layers (一单制), then the one bill
  (:func:`yibao.care.commercial.one_bill`); per visit, one core, no database.  ``throughput`` is wall-clock,
  ``throughput_cpu`` per CPU-second of this process (the machine may be shared), with the load average;
* ``care.followup.build_and_settle`` — the same with the online visit built from the prescription each time;
* ``care.followup.no_cover`` — the same visits settled without covers (what the commercial tier costs).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from yibao.care import commercial, online
from yibao.care.store import load_params
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement.engine import settle_visit
from yibao.settlement.model import Person


def _timed(n: int, body: Callable[[int], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for ``body(k)`` for k in range(n)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(n):
        body(k)
    return time.perf_counter() - t0, time.process_time() - c0


def _records(bench: str, n: int, wall: float, cpu: float, **extra: Any) -> Iterator[dict[str, Any]]:
    load = round(os.getloadavg()[0], 2)
    common = {"visits": n, "cores": 1, "load_avg_1m": load, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3)}
    yield {"bench": bench, "metric": "throughput", "value": round(n / wall, 1), "unit": "visits/s", **common}
    yield {
        "bench": bench,
        "metric": "throughput_cpu",
        "value": round(n / cpu, 1),
        "unit": "visits/cpu-s",
        **common,
        **extra,
    }
    yield {"bench": bench, "metric": "cpu_per_visit", "value": round(cpu / n * 1e6, 2), "unit": "us"}


def run(visits: int = 100_000) -> Iterator[dict[str, Any]]:
    """Yield the records described in the module docstring."""
    params = load_params()
    day = dt.date(2025, 6, 2)
    policy = PolicyBook.from_file(example_path("xian")).for_date(day)
    product = params.products["DM-ONLINE"]
    covers = (product,)
    person = Person("P0000001", "基准", "610100195501010011", "F", dt.date(1955, 1, 1), "310", "21")
    drugs = (
        online.RxLine("XA10BAA049A001010198648", 60, 4, 30),
        online.RxLine("XA10BHA052A001010141309", 30, 210, 30),
    )
    rxs = [
        online.Prescription(
            f"rx{i}",
            person.psn_no,
            "IH61000000001",
            "D610100001",
            day,
            "E11.9",
            drugs[: 1 + i % 2],
            "D61000000001",
        )
        for i in range(64)
    ]
    registered = {"E11"}
    pool = [online.online_visit(params, rx, f"MD{i}", registered) for i, rx in enumerate(rxs)]
    # a fresh year, and one with the fund's and the product's counters already moving
    acc: list[dict[str, int]] = [
        {},
        {"emp-mt-ded": 0, "emp-pool-paid": 1_000_000, product.paid_counter: 20_000},
    ]
    delivery = params.delivery_fee
    paid = [0]

    def engine(k: int) -> None:
        s = settle_visit(policy, person, pool[k & 63], acc[k & 1], 0, covers=covers)
        paid[0] += commercial.one_bill(s, delivery, product.insurer).commercial_pay

    def build_and_settle(k: int) -> None:
        v = online.online_visit(params, rxs[k & 63], "MD", registered)
        s = settle_visit(policy, person, v, acc[k & 1], 0, covers=covers)
        commercial.one_bill(s, delivery, product.insurer)

    def no_cover(k: int) -> None:
        settle_visit(policy, person, pool[k & 63], acc[k & 1], 0)

    for body in (engine, build_and_settle, no_cover):  # warm up
        _timed(2_000, body)
    paid[0] = 0
    wall, cpu = _timed(visits, engine)
    yield from _records("care.followup.engine", visits, wall, cpu, commercial_paid_fen=paid[0])
    wall, cpu = _timed(visits, build_and_settle)
    yield from _records("care.followup.build_and_settle", visits, wall, cpu)
    wall, cpu = _timed(visits, no_cover)
    yield from _records("care.followup.no_cover", visits, wall, cpu)
