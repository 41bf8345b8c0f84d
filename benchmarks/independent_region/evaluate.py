"""Score `yibao audit run` on an independent region against the generator's own labels.

Usage: python evaluate.py --data DIR [--work DIR] [--skip-run] [--md FILE]
Runs `yibao audit run DATA --out WORK/flags.parquet --top 100%` (the whole ranked queue), then reads
visits.parquet and labels.parquet from DATA and the flags / queue files, and prints JSON lines plus a
markdown table. Nothing of yibao is imported: the audit is a black box reached through its CLI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

TOPS = (0.005, 0.01, 0.02, 0.05)


def run_audit(data: Path, work: Path) -> dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    exe = os.environ.get("YIBAO") or shutil.which("yibao") or str(Path(sys.executable).with_name("yibao"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with (work / "audit_run.log").open("w", encoding="utf-8") as log:
        subprocess.run(
            [exe, "audit", "run", str(data), "--out", str(work / "flags.parquet"), "--top", "100%"],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1),
        "load1": os.getloadavg()[0],
    }


def pr(tp: int, flagged: int, positives: int) -> tuple[float, float]:
    return (tp / flagged if flagged else 0.0, tp / positives if positives else 0.0)


def evaluate(data: Path, work: Path) -> list[dict[str, object]]:
    visits = pl.read_parquet(data / "visits.parquet", columns=["visit_id"])
    labels = pl.read_parquet(data / "labels.parquet")
    flags = pl.read_parquet(work / "flags.parquet")
    queue = pl.read_parquet(work / "flags.queue.parquet").sort("rank")
    n = visits.height
    pos = set(labels["visit_id"].to_list())
    stake = dict(zip(labels["visit_id"].to_list(), labels["stake_fen"].to_list(), strict=True))
    total_stake = sum(stake.values())
    out: list[dict[str, object]] = []

    flagged_any = set(flags["visit_id"].drop_nulls().to_list())
    flagged_own = set(queue.filter(pl.col("own"))["visit_id"].to_list())
    out.append(
        {
            "metric": "region",
            "visits": n,
            "labelled": len(pos),
            "prevalence": round(len(pos) / n, 4),
            "labelled_stake_yuan": round(total_stake / 100),
        }
    )
    for name, fl in (("any_flag", flagged_any), ("own_flag", flagged_own)):
        tp = len(fl & pos)
        p, r = pr(tp, len(fl), len(pos))
        out.append(
            {
                "metric": name,
                "flagged_visits": len(fl),
                "flagged_share": round(len(fl) / n, 4),
                "normal_visits_flagged_share": round(len(fl - pos) / (n - len(pos)), 4),
                "precision": round(p, 4),
                "recall": round(r, 4),
                "amount_recall": round(sum(stake[v] for v in fl & pos) / total_stake, 4)
                if total_stake
                else 0.0,
            }
        )

    ranked = queue["visit_id"].to_list()
    for t in TOPS:
        k = math.ceil(t * n)
        top = set(ranked[:k])
        tp = len(top & pos)
        p, r = pr(tp, k, len(pos))
        out.append(
            {
                "metric": f"top_{t * 100:g}%",
                "k": k,
                "queue_len": len(ranked),
                "precision": round(p, 4),
                "recall": round(r, 4),
                "amount_recall": round(sum(stake[v] for v in top & pos) / total_stake, 4)
                if total_stake
                else 0.0,
            }
        )

    # average precision over the ranked queue; labelled visits never ranked contribute 0
    hits, ap = 0, 0.0
    for i, v in enumerate(ranked, start=1):
        if v in pos:
            hits += 1
            ap += hits / i
    out.append(
        {
            "metric": "average_precision",
            "ap": round(ap / len(pos), 4) if pos else 0.0,
            "base_rate": round(len(pos) / n, 4),
        }
    )

    k1, k5 = math.ceil(0.01 * n), math.ceil(0.05 * n)
    top1, top5 = set(ranked[:k1]), set(ranked[:k5])
    det_by_visit = flags.group_by("visit_id").agg(pl.col("rule_code").unique())
    det = dict(zip(det_by_visit["visit_id"].to_list(), det_by_visit["rule_code"].to_list(), strict=True))
    for sc, g in labels.group_by("scenario"):
        vs = set(g["visit_id"].to_list())
        caught: dict[str, int] = {}
        for v in vs:
            for c in det.get(v, []):
                caught[c] = caught.get(c, 0) + 1
        out.append(
            {
                "metric": "scenario",
                "scenario": sc[0],
                "visits": len(vs),
                "recall_any": round(len(vs & flagged_any) / len(vs), 3),
                "recall_own": round(len(vs & flagged_own) / len(vs), 3),
                "recall_top1%": round(len(vs & top1) / len(vs), 3),
                "recall_top5%": round(len(vs & top5) / len(vs), 3),
                "amount_recall_own": round(
                    sum(stake[v] for v in vs & flagged_own) / max(1, sum(stake[v] for v in vs)), 3
                ),
                "detectors": dict(sorted(caught.items(), key=lambda x: -x[1])[:4]),
            }
        )

    log = work / "audit_run.log"
    demoted = set(re.findall(r"demoted (\S+?):", log.read_text(encoding="utf-8"))) if log.exists() else set()
    out.append({"metric": "demoted", "detectors": sorted(demoted)})
    fp_total = len(flagged_any - pos)
    fp_own = flagged_own - pos
    per = (
        flags.filter(pl.col("visit_id").is_not_null())
        .group_by("source", "rule_code")
        .agg(pl.col("visit_id").unique().alias("vs"))
    )
    rows = []
    for src, code, vs in per.iter_rows():
        s = set(vs)
        fp = len(s - pos)
        rows.append(
            {
                "metric": "detector",
                "source": src,
                "rule_code": code,
                "flagged_visits": len(s),
                "share_of_visits": round(len(s) / n, 4),
                "true_pos": len(s & pos),
                "fp_share_of_its_flags": round(fp / len(s), 3) if s else 0.0,
                "share_of_all_fp_visits": round(fp / fp_total, 3) if fp_total else 0.0,
                "share_of_own_fp_visits": round(len(s & fp_own) / len(fp_own), 3) if fp_own else 0.0,
                "demoted": code in demoted,
            }
        )
    out += sorted(rows, key=lambda r: -int(r["flagged_visits"]))  # type: ignore[call-overload]
    return out


def markdown(res: list[dict[str, object]], title: str) -> str:
    lines = [f"### {title}", ""]
    head = [
        r
        for r in res
        if r["metric"] in ("region", "any_flag", "own_flag", "average_precision")
        or str(r["metric"]).startswith("top_")
    ]
    lines += ["| measure | value |", "|---|---|"]
    for r in head:
        lines.append(
            f"| {r['metric']} | " + ", ".join(f"{k}={v}" for k, v in r.items() if k != "metric") + " |"
        )
    lines += [
        "",
        "| scenario | visits | recall any flag | recall own flag | recall top 1 % | recall top 5 % | amount recall (own) | main detectors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted((r for r in res if r["metric"] == "scenario"), key=lambda r: str(r["scenario"])):
        lines.append(
            f"| {r['scenario']} | {r['visits']} | {r['recall_any']} | {r['recall_own']} | {r['recall_top1%']} | "
            f"{r['recall_top5%']} | {r['amount_recall_own']} | {r['detectors']} |"
        )
    lines += [
        "",
        "| detector | source | visits flagged | share of all visits | true positives | FP share of its flags | share of all FP visits | share of own-flag FP visits | demoted by the audit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in res if r["metric"] == "detector"):
        lines.append(
            f"| {r['rule_code']} | {r['source']} | {r['flagged_visits']} | {r['share_of_visits']} | {r['true_pos']} | "
            f"{r['fp_share_of_its_flags']} | {r['share_of_all_fp_visits']} | {r['share_of_own_fp_visits']} | {r['demoted']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--skip-run", action="store_true", help="score an earlier run's flags in --work")
    ap.add_argument("--md", type=Path, help="append the markdown tables to this file")
    a = ap.parse_args()
    work = a.work or a.data / "audit"
    res: list[dict[str, object]] = []
    if not a.skip_run:
        res.append({"metric": "audit_run", **run_audit(a.data, work)})
    res += evaluate(a.data, work)
    for r in res:
        print(json.dumps(r, ensure_ascii=False))
    if a.md:
        with a.md.open("a", encoding="utf-8") as f:
            f.write(markdown(res, str(a.data)))


if __name__ == "__main__":
    main()
