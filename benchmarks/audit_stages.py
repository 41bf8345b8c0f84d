"""CPU of each stage of the audit (models, their shared frames, each rule collected alone) on a synth directory.

Prints one JSON line per stage (cpu_s: ``time.process_time``, every thread of the process; wall_s), then the
ten largest.  Usage: PYTHONPATH=src python benchmarks/audit_stages.py DIR
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from yibao.audit.evaluate import region_knowledge
from yibao.audit.models import course_regimens, course_sessions, exams, iforest, network, patient, peer
from yibao.audit.models.features import line_frame, load_params, visit_frame
from yibao.audit.rules import batch
from yibao.audit.rules import model as m

ROWS: list[dict[str, Any]] = []


def timed(stage: str, fn: Callable[[], Any]) -> Any:
    t, w = time.process_time(), time.perf_counter()
    out = fn()
    ROWS.append(
        {
            "stage": stage,
            "cpu_s": round(time.process_time() - t, 2),
            "wall_s": round(time.perf_counter() - w, 2),
        }
    )
    print(json.dumps(ROWS[-1]), flush=True)
    return out


def main(d: Path) -> None:
    p, v, ln = timed(
        "read", lambda: tuple(pl.read_parquet(d / f"{f}.parquet") for f in ("persons", "visits", "lines"))
    )
    inst = pl.read_parquet(d / "institutions.parquet") if (d / "institutions.parquet").exists() else None
    k = timed("knowledge", lambda: region_knowledge(d))
    prm = load_params(None)
    sessions, regimens = course_sessions(k), course_regimens(k)
    lx = timed("models.line_frame", lambda: line_frame(ln))
    vv = timed(
        "models.visit_frame",
        lambda: visit_frame(
            v, lx, None, None, inst, sessions, prm["peers"], course_sessions(k, "session_diagnosis")
        ),
    )
    dl = timed("models.drug_lines", lambda: patient.drug_lines(vv, lx))
    sig = timed("models.visit_signatures", lambda: peer.visit_signatures(vv, lx))
    min_sessions = int(prm["refill"]["course_min_sessions"])
    models: dict[str, Callable[[], pl.DataFrame]] = {
        "MX-PEER-001": lambda: peer.cost_outliers(vv, prm),
        "MX-PEER-002": lambda: peer.drug_share_outliers(vv, prm),
        "MX-PEER-003": lambda: peer.los_outliers(vv, prm),
        "MX-PEER-004": lambda: peer.repeat_visits(vv, prm),
        "MX-PEER-005": lambda: peer.code_mix(vv, lx, prm),
        "MX-PEER-006": lambda: peer.bill_templates(vv, lx, prm, sig),
        "MX-PEER-007": lambda: peer.physician_templates(vv, lx, prm, sig),
        "MX-PEER-008": lambda: exams.rare_exams(vv, lx, prm),
        "MX-PAT-002": lambda: patient.shopping(vv, dl, prm),
        "MX-PAT-004": lambda: patient.early_refills(
            dl, prm, patient.regimen_pairs(vv, dl, lx, regimens, min_sessions)
        ),
        "MX-PAT-005": lambda: patient.excess_quantity(dl, prm),
        "MX-NET-001": lambda: network.co_visit_rings(vv, p, prm),
        "MX-IF-001": lambda: iforest.isolation_forest(vv, prm),
    }
    for code, fn in models.items():
        timed("model " + code, fn)
    c = timed("rules.context", lambda: batch._Ctx(p, v, ln))
    rules = list(m.load_library().active("after"))
    for r in rules:
        if isinstance(r.params, m.DeathParams):
            death = r.params
            c.register = timed(
                "rules.death_register",
                lambda d=death: batch.death_register(k, p, v, d.infer_from_discharge),
            )
    for r in rules:
        timed(f"rule {r.code} {r.kind}", lambda r=r: batch.KINDS[r.kind](c, r, k).collect())
    total = round(sum(x["cpu_s"] for x in ROWS), 2)
    print(json.dumps({"total_cpu_s": total, "top10": sorted(ROWS, key=lambda x: -x["cpu_s"])[:10]}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
