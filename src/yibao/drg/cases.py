"""Seeded random cases drawn from a scheme's own tables (benchmarks and property tests).

Not a clinical model: principal diagnoses are drawn from the MDC lists, procedures mostly from the OR /
non-OR ADRGs of the case's MDC (so that surgical groups are exercised) and partly from anywhere (so that
unrelated-OR / QY groups are), secondary diagnoses half from the CC / MCC list and half from the
principal-diagnosis pool, with POA flags, deaths and transfers.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from yibao.drg.engine import Compiled


def _pools(cs: Compiled) -> tuple[list[str], dict[str, list[str]], list[str], list[str], list[str]]:
    s = cs.scheme
    pdx = sorted({c for m in s.mdcs if m.pdx for c in m.pdx} | {c for a in s.adrgs if a.pdx for c in a.pdx})
    by_mdc: dict[str, list[str]] = {}
    for a in s.adrgs:
        if a.procedures and not a.pre_mdc:
            by_mdc.setdefault(a.mdc, []).extend(a.procedures)
    procs = sorted(set(s.or_procedures) | set(s.non_or_procedures))
    cc = sorted(e.code for e in s.cc)
    pre = sorted({p for a in s.adrgs if a.pre_mdc and a.procedures for p in a.procedures})
    return pdx, by_mdc, procs, cc, pre


def _mdc_of(cs: Compiled, code: str) -> str:
    for mdc, pdxs, _ in cs.mdc_list:
        if pdxs is not None and pdxs.has(code):
            return mdc
    return ""


def random_cases(cs: Compiled, n: int, seed: int = 1) -> pl.DataFrame:
    """``n`` seeded cases in the CLI input contract for scheme ``cs`` (same seed → same cases)."""
    rng = np.random.default_rng(seed)
    pdx_pool, by_mdc, procs, cc, pre = _pools(cs)
    st = cs.scheme.discharge_status
    home = st.get("home", ["1"])[0]
    statuses = [
        home,
        st.get("death", [home])[0],
        st.get("transfer", [home])[0],
        st.get("against_advice", [home])[0],
    ]
    poa_codes = ["Y", *cs.scheme.poa_not_present]
    mdc_of = {c: _mdc_of(cs, c) for c in pdx_pool}
    pdx_i = rng.integers(0, len(pdx_pool), n)
    n_sdx = np.minimum(rng.poisson(2.5, n), 12)
    status_i = rng.choice(4, n, p=[0.9, 0.05, 0.04, 0.01])
    age = rng.integers(0, 96, n)
    sex = np.where(rng.random(n) < 0.5, "M", "F")
    n_proc = np.where(rng.random(n) < 0.45, rng.integers(1, 4, n), 0)
    in_mdc = rng.random(n) < 0.7
    rows_sdx, rows_poa, rows_proc = [], [], []
    for i in range(n):
        k = int(n_sdx[i])
        sd = (
            [
                cc[j % len(cc)] if r < 0.5 and cc else pdx_pool[j % len(pdx_pool)]
                for r, j in zip(rng.random(k), rng.integers(0, 1 << 30, k), strict=True)
            ]
            if k
            else []
        )
        rows_sdx.append("|".join(dict.fromkeys(sd)))
        rows_poa.append(
            "|".join(
                poa_codes[0] if r < 0.85 else poa_codes[1 + int(r * 1000) % (len(poa_codes) - 1)]
                for r in rng.random(len(dict.fromkeys(sd)))
            )
        )
        m = int(n_proc[i])
        if m:
            local = by_mdc.get(mdc_of[pdx_pool[pdx_i[i]]], [])
            pool = local if (in_mdc[i] and local) else procs
            picks = [pool[j % len(pool)] for j in rng.integers(0, 1 << 30, m)]
            if pre and rng.random() < 0.01:
                picks.append(pre[int(rng.integers(0, len(pre)))])
            rows_proc.append("|".join(dict.fromkeys(picks)))
        else:
            rows_proc.append("")
    age_days = np.where(age == 0, rng.integers(0, 365, n), age * 365 + rng.integers(0, 365, n))
    weight = np.where(age == 0, rng.integers(600, 4600, n), 0)
    return pl.DataFrame(
        {
            "case_id": [f"C{i:09d}" for i in range(n)],
            "discharge_date": ["2025-10-15"] * n,
            "age": age.astype(np.int64),
            "sex": sex,
            "discharge_status": [statuses[j] for j in status_i],
            "pdx": [pdx_pool[j] for j in pdx_i],
            "sdx": rows_sdx,
            "sdx_poa": rows_poa,
            "procedures": rows_proc,
            "age_days": age_days.astype(np.int64),
            "weight_g": pl.Series(np.where(age == 0, weight, -1)).replace(-1, None),
            "los_days": rng.integers(1, 31, n).astype(np.int64),
        }
    )
