"""Compare the ``ms-drg-v43`` scheme with an independent MS-DRG grouper (``msdrg``, MIT, native library).

``realistic_cases`` draws seeded MS-DRG cases from the v43 tables: a principal diagnosis from every MDC
(MDC chosen uniformly, then a code in it), secondary diagnoses half from the CC / MCC list (hospital-
acquired conditions among them, some not present on admission), procedures for about half of the cases
(mostly OR procedures of the case's own MDC, some unrelated OR or non-OR procedures, sometimes
ventilation > 96 h), deaths, transfers and AMA discharges, ages and sexes consistent with the MDC.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import polars as pl

from yibao.drg.engine import Compiled
from yibao.drg.frame import group_frame

STATUS_CODES, STATUS_P = ["01", "02", "03", "07", "20"], [0.84, 0.05, 0.02, 0.02, 0.07]
POA_CODES, POA_P = ["Y", "N", "U", "W"], [0.82, 0.10, 0.03, 0.05]


def realistic_cases(cs: Compiled, n: int, seed: int = 1) -> pl.DataFrame:
    """``n`` seeded MS-DRG cases in the CLI input contract (same seed → same cases)."""
    s = cs.scheme
    rng = np.random.default_rng(seed)
    pdx_by_mdc: dict[str, list[str]] = {}
    for m in s.mdcs:
        if m.pdx and m.code not in ("24", "25"):
            pdx_by_mdc.setdefault(m.code, []).extend(m.pdx)
    for m in s.mdcs:  # HIV principal diagnoses (B20) from the plain MDC 25 entry
        if m.code == "25" and m.when is None and m.pdx:
            pdx_by_mdc["25"] = list(m.pdx)
    mdc_keys = sorted(pdx_by_mdc)
    or_by_mdc: dict[str, list[str]] = {}
    for a in s.adrgs:
        if a.kind == "or" and not a.pre_mdc and a.procedures:
            or_by_mdc.setdefault(a.mdc, []).extend(a.procedures)
    all_or = list(s.or_procedures)
    non_or = list(s.non_or_procedures)
    cc = [e.code for e in s.cc]
    hac = [e.code for e in s.cc if e.hac]
    pool_all = [c for v in pdx_by_mdc.values() for c in v]
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "case_id",
            "discharge_date",
            "age",
            "sex",
            "discharge_status",
            "pdx",
            "sdx",
            "sdx_poa",
            "procedures",
        )
    }
    for i in range(n):
        mdc = mdc_keys[int(rng.integers(len(mdc_keys)))]
        pool = pdx_by_mdc[mdc]
        pdx = pool[int(rng.integers(len(pool)))]
        sex = "M" if mdc == "12" else "F" if mdc in ("13", "14") else ("M" if rng.random() < 0.5 else "F")
        age = 0 if mdc == "15" else int(rng.integers(18, 96))
        sdx: list[str] = []
        for _ in range(int(min(rng.poisson(3.0), 12))):
            r = rng.random()
            src = hac if r < 0.06 else cc if r < 0.5 else pool_all
            code = src[int(rng.integers(len(src)))]
            if code != pdx and code not in sdx:
                sdx.append(code)
        poa = [str(x) for x in rng.choice(POA_CODES, len(sdx), p=POA_P)]
        procs: list[str] = []
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(1, 4))):
                r = rng.random()
                local = or_by_mdc.get(mdc)
                src = local if (r < 0.7 and local) else all_or if r < 0.85 else non_or
                code = src[int(rng.integers(len(src)))]
                if code not in procs:
                    procs.append(code)
            if rng.random() < 0.05:
                procs.append("5A1955Z")
        rows["case_id"].append(f"M{i:08d}")
        rows["discharge_date"].append("2025-11-15")
        rows["age"].append(age)
        rows["sex"].append(sex)
        rows["discharge_status"].append(str(rng.choice(STATUS_CODES, p=STATUS_P)))
        rows["pdx"].append(pdx)
        rows["sdx"].append("|".join(sdx))
        rows["sdx_poa"].append("|".join(poa))
        rows["procedures"].append("|".join(procs))
    return pl.DataFrame(rows)


def msdrg_group(cases: pl.DataFrame) -> list[str]:
    """Final MS-DRG of every case by the independent ``msdrg`` grouper (v43.0, hospital not HAC-exempt)."""
    import msdrg

    out = []
    with msdrg.MsdrgGrouper() as g:
        for r in cases.iter_rows(named=True):
            sdx = r["sdx"].split("|") if r["sdx"] else []
            poa = r["sdx_poa"].split("|") if r["sdx_poa"] else ["Y"] * len(sdx)
            res = g.group(
                {
                    "version": 430,
                    "age": int(r["age"]),
                    "sex": 0 if r["sex"] == "M" else 1,
                    "discharge_status": int(r["discharge_status"]),
                    "hospital_status": "NOT_EXEMPT",
                    "pdx": {"code": r["pdx"], "poa": "Y"},
                    "sdx": [{"code": c, "poa": p} for c, p in zip(sdx, poa, strict=True)],
                    "procedures": [
                        {"code": c} for c in (r["procedures"].split("|") if r["procedures"] else [])
                    ],
                }
            )
            final = res.get("final_drg")
            out.append(f"{int(final):03d}" if final is not None else "999")
    return out


def classify(ours: str, theirs: str, names: dict[str, str]) -> str:
    """A coarse class of a disagreement, for the table in docs/DRG.md."""
    if ours[:3] == theirs[:3]:
        return "same"
    t = names.get(theirs, "")
    o = names.get(ours, "")

    def stem(x: str) -> str:
        for suf in (
            " with MCC",
            " with CC/MCC",
            " with CC",
            " without CC/MCC",
            " without MCC",
            " without CC",
        ):
            x = x.split(suf)[0]
        return x

    if stem(t) == stem(o) and t:
        return "severity (CC/MCC level)"
    if theirs in ("981", "982", "983", "987", "988", "989") or ours in (
        "981",
        "982",
        "983",
        "987",
        "988",
        "989",
    ):
        return "unrelated OR (981–989) vs a family"
    if theirs in ("998", "999") or ours in ("998", "999"):
        return "ungroupable / invalid pdx"
    if int(theirs) <= 19 or int(ours) <= 19:
        return "pre-MDC"
    return "family choice (combination / hierarchy rule)"


def compare(cs: Compiled, n: int, seed: int = 1) -> dict[str, Any]:
    """Group ``n`` realistic cases with both groupers; agreement and a table of difference classes."""
    cases = realistic_cases(cs, n, seed)
    ours = group_frame(cs, cases, workers=1)["drg"].to_list()
    theirs = msdrg_group(cases)
    names = cs.scheme.drg_names
    classes: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for o, t in zip(ours, theirs, strict=True):
        if o != t:
            classes[classify(o, t, names)] += 1
            pairs[(o, t)] += 1
    agree = sum(o == t for o, t in zip(ours, theirs, strict=True))
    return {
        "cases": n,
        "seed": seed,
        "agree": agree,
        "agreement": agree / n,
        "classes": classes.most_common(),
        "top_pairs": pairs.most_common(25),
        "cases_frame": cases,
        "ours": ours,
        "theirs": theirs,
    }
