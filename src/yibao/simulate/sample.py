"""A tiny seeded population and year of visits in the synth Parquet schema, for tests and quick what-ifs.

Not calibrated — the calibrated generator is ``yibao.synth``.  Every figure below is a rough shape
chosen so that deductibles, ratios and caps all bind somewhere; none is a statistic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from yibao.money import QTY_ONE
from yibao.policy.book import PolicyBook
from yibao.policy.catalogue import CLASS_C


def make_sample(
    book: PolicyBook, n_persons: int = 2_000, seed: int = 7, year: int = 2025
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(persons, visits, lines) for ``book``'s region: households of 1–5, employees and residents,
    outpatient and inpatient visits with catalogue lines.  Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    region = book.loaded.region
    version = book.loaded.version_for(dt.date(year, 1, 1)) or region.versions[0]
    catalogue = book.loaded.catalogue_for(version)
    first: dict[str, str] = {}
    for pt in region.person_types:
        first.setdefault(pt.group, pt.code)
    idents = {x.code for x in region.identities}

    # households and persons
    sizes = rng.integers(1, 6, size=n_persons)  # more than needed; cut below
    hh_of = np.repeat(np.arange(len(sizes)), sizes)[:n_persons]
    size = sizes[hh_of]
    n_hh = int(hh_of.max()) + 1
    pc_income_yuan = rng.lognormal(mean=np.log(40_000), sigma=0.6, size=n_hh)
    hh_income = np.round(pc_income_yuan * sizes[:n_hh] * 100).astype(np.int64)
    age = rng.integers(0, 91, size=n_persons)
    employee = (rng.random(n_persons) < 0.35) & (age >= 18)
    retired = employee & (age >= 60)
    psn_type = np.where(
        retired,
        first.get("retired", ""),
        np.where(employee, first.get("in_service", ""), first.get("resident", "")),
    )
    insutype = np.where(employee, "310", "390")
    u = rng.random(n_persons)
    ident = np.full(n_persons, "", dtype=object)
    pc = hh_income[hh_of] / size
    poor = pc < np.quantile(pc, 0.1)
    if "DB" in idents:
        ident[(~employee) & poor & (u < 0.5)] = "DB"
    if "TK" in idents:
        ident[(~employee) & poor & (u > 0.95)] = "TK"
    balance = np.where(employee, rng.integers(0, 300_000, size=n_persons), 0)
    persons = pl.DataFrame(
        {
            "psn_id": np.arange(n_persons, dtype=np.int64),
            "psn_no": [f"P{i:08d}" for i in range(n_persons)],
            "gender": np.where(rng.random(n_persons) < 0.5, "M", "F"),
            "age": age.astype(np.int16),
            "insutype": insutype,
            "psn_type": psn_type,
            "identities": ident.astype(str),
            "household_id": hh_of.astype(np.int64),
            "household_size": size.astype(np.int16),
            "household_income": hh_income[hh_of],
            "account_balance": balance.astype(np.int64),
            "family_payer_id": np.full(n_persons, -1, dtype=np.int64),
        }
    )

    # visits: outpatient ~ Poisson(1 + age/25), inpatient ~ Poisson(0.05 + age/400)
    n_op = rng.poisson(1 + age / 25)
    n_ip = rng.poisson(0.05 + age / 400)
    vtypes = {x.code for x in region.visit_types}
    levels = [x.code for x in region.hospital_levels if x.code in ("1", "2", "3")] or [
        x.code for x in region.hospital_levels
    ]
    psn = np.r_[np.repeat(np.arange(n_persons), n_op), np.repeat(np.arange(n_persons), n_ip)]
    is_ip = np.r_[np.zeros(n_op.sum(), bool), np.ones(n_ip.sum(), bool)]
    if "21" not in vtypes:
        is_ip[:] = False
    nv = len(psn)
    day = rng.integers(0, 365, size=nv)
    begin = np.datetime64(f"{year}-01-01") + day.astype("timedelta64[D]")
    lv = np.asarray(levels)[rng.choice(len(levels), size=nv, p=_level_p(len(levels)))]
    cost_yuan = np.where(is_ip, rng.lognormal(np.log(6_000), 0.9, nv), rng.lognormal(np.log(100), 0.8, nv))
    order = np.lexsort((psn, begin))
    psn, is_ip, begin, lv, cost_yuan = psn[order], is_ip[order], begin[order], lv[order], cost_yuan[order]
    visits = pl.DataFrame(
        {
            "visit_id": np.arange(nv, dtype=np.int64),
            "seq": np.arange(nv, dtype=np.int64),
            "mdtrt_id": [f"V{i:09d}" for i in range(nv)],
            "psn_id": psn.astype(np.int64),
            "med_type": np.where(is_ip, "21", "11"),
            "hosp_lv": lv,
            "begin_date": begin,
            "end_date": begin,
            "locality": np.full(nv, "local"),
            "emergency": np.zeros(nv, bool),
            "use_account": insutype[psn] == "310",
            "account_payer_id": np.full(nv, -1, dtype=np.int64),
        }
    ).with_columns(pl.col("begin_date", "end_date").cast(pl.Date))

    # lines: 1–6 per visit, costs split across catalogue items priced at their unit price
    items = [it for it in catalogue.values() if it.unit_price]
    codes = np.asarray([it.code for it in items])
    prices = np.asarray([it.unit_price for it in items], dtype=np.int64)
    weight = np.asarray([0.2 if it.cls == CLASS_C else 1.0 for it in items])
    n_lines = rng.integers(1, 7, size=nv)
    lv_id = np.repeat(np.arange(nv), n_lines)
    pick = rng.choice(len(items), size=len(lv_id), p=weight / weight.sum())
    share = rng.random(len(lv_id)) + 0.1
    share /= np.bincount(lv_id, weights=share)[lv_id]
    target_fen = cost_yuan[lv_id] * share * 100
    qty_units = np.maximum(1, np.round(target_fen / prices[pick])).astype(np.int64)
    sn = np.arange(len(lv_id)) - np.repeat(np.r_[0, np.cumsum(n_lines)[:-1]], n_lines) + 1
    lines = pl.DataFrame(
        {
            "visit_id": lv_id.astype(np.int64),
            "feedetl_sn": sn.astype(np.int32),
            "code": codes[pick],
            "qty": qty_units * QTY_ONE,
            "price": prices[pick],
            "amount": qty_units * prices[pick],
        }
    )
    visits = visits.with_columns(n_lines=pl.Series(n_lines.astype(np.int64)))
    return persons, visits, lines


def _level_p(n: int) -> list[float]:
    w = np.linspace(1.0, 2.0, n)
    return list(w / w.sum())


def write_sample(book: PolicyBook, out: Path, n_persons: int = 2_000, seed: int = 7) -> Path:
    """Write persons / visits / lines Parquet files of :func:`make_sample` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    persons, visits, lines = make_sample(book, n_persons, seed)
    persons.write_parquet(out / "persons.parquet")
    visits.write_parquet(out / "visits.parquet")
    lines.write_parquet(out / "lines.parquet")
    return out
