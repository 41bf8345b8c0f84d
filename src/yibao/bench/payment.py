"""``yibao bench payment``: DRG and DIP payment of a large synthetic region, JSON lines; nothing asserted.

A region of ``cases`` discharges in the policy year plus three history years of the same size, drawn with
numpy (log-normal costs around a per-group mean, 60 hospitals over four levels, 600 DRGs, up to 20,000 diagnosis
× procedure combinations).  Times the whole ``pay_drg`` / ``pay_dip`` call: calibration or catalogue,
scoring, the budget split to the fen and the monthly / annual reports.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from yibao.payment.dip import pay_dip
from yibao.payment.drg import pay_drg
from yibao.payment.policy import load_policy

LEVELS = np.array(["1", "2", "3", "3S"])


def record(bench: str, metric: str, value: float, unit: str) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit}


def synthetic_region(cases: int, year: int, seed: int = 1) -> pl.DataFrame:
    """``cases`` discharges a year for ``year`` and the three years before it (random, reproducible)."""
    rng = np.random.default_rng(seed)
    n = cases * 4
    hosp = rng.integers(0, 60, n)
    group = rng.zipf(1.3, n) % 600
    combo = rng.zipf(1.2, n) % 20_000
    mean = 300_000 + (group * 7_919) % 3_000_000
    cost = np.maximum(1_000, (mean * rng.lognormal(0.0, 0.5, n)).astype(np.int64))
    years = np.repeat(np.arange(year - 3, year + 1), cases)
    days = rng.integers(0, 365, n)
    dates = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]") + days.clip(0, 364)
    procs = np.array(["", "4701", "8872", "3601", "0639"])
    return pl.DataFrame(
        {
            "case_id": np.arange(n).astype(str),
            "fixmedins_code": np.char.add("H", hosp.astype(str)),
            "hosp_lv": LEVELS[hosp % 4],
            "drg": np.char.add("D", group.astype(str)),
            "pdx": np.char.add("K", (combo // 5 + 100).astype(str)),
            "main_procedure": procs[combo % 5],
            "medfee_sumamt": cost,
            "los_days": rng.integers(1, 30, n),
            "discharge_date": dates,
        }
    ).with_columns(pl.col("discharge_date").cast(pl.Date))


def run(cases: int = 1_000_000) -> Iterator[dict[str, Any]]:
    """Yield throughput (cases/s of the policy year) and wall time for DRG and for DIP payment."""
    policy = load_policy("demo")
    region = synthetic_region(cases, policy.year)
    current = region.filter(pl.col("discharge_date").dt.year() == policy.year)
    history = region.filter(pl.col("discharge_date").dt.year() < policy.year)
    for name, pay in (("payment.drg", pay_drg), ("payment.dip", pay_dip)):
        t0 = time.perf_counter()
        result = pay(current, policy, history)
        el = time.perf_counter() - t0
        sums_match = int(result.hospitals.get_column("due_fen").sum()) == result.pool_fen
        yield record(name, "throughput", current.height / el, "cases/s")
        yield record(name, "wall", el, "s")
        yield record(name, "groups", result.groups.height, "groups")
        yield record(name, "sum_equals_pool", float(sums_match), "bool")
