"""``yibao bench crossregion``: visitors' settlements through the clearing hub, and a month's clearing.

* ``crossregion.settle`` — three regions (Xi'an, Weinan and a copy of Xi'an's policy under another code)
  and the hub as separate uvicorn processes on loopback, each region on its own SQLite database; ``clients``
  threads each send one visitor's 2207 at a time (random care / insured pair, a five-line stay, unique msgid)
  to the care region, which prices it, sends it through the hub to the insured region and answers.
  Throughput and p99 end to end; afterwards the care, hub and insured records must agree.
* ``crossregion.clearing`` — a month of ``n`` settlements over ``regions`` regions (amounts drawn at random,
  a few disputed): the clearing's elapsed time, ``net_sum_fen`` (must be 0) and whether every statement
  verifies line by line against its lines."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.bench.api import _cpu_seconds
from yibao.bench.settle import record


def bench_settle(
    clients: int = 8, seconds: float = 15.0, warmup: float = 2.0, persons: int = 3000
) -> dict[str, Any]:
    import httpx

    from yibao.demo.crossregion import Cluster, envelope, institution, psn_no, variant_region

    work = Path(tempfile.mkdtemp(prefix="yibao-bench-xr-"))
    third = variant_region("xian", "610300", "示例统筹区（宝鸡代码）", work / "policy")
    c = Cluster.start(work, ["xian", "weinan", str(third)], persons=persons, timeout=3.0)
    codes = sorted(c.regions)
    lat: list[float] = []
    errors: list[str] = []
    sent = [0]
    lock = threading.Lock()
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds

    def client(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(timeout=30) as http:
            n = 0
            while time.perf_counter() < stop:
                care, insu = rng.sample(codes, 2)
                n += 1
                msgid = f"{institution(care)}{k:03d}{n:014d}"
                env = envelope(msgid, care, insu, psn_no(insu, rng.randrange(persons)), f"M{msgid}")
                t0 = time.perf_counter()
                try:
                    r = http.post(c.procs[care].base + "/fsi/api/2207", json=env,
                                  headers={"Authorization": f"Bearer {c.tokens[care]}"})  # fmt: skip
                    body = r.json()
                    ok = r.status_code == 200 and body.get("infcode") == 0
                except (httpx.HTTPError, ValueError) as exc:
                    ok, body = False, {"err_msg": repr(exc)}
                t1 = time.perf_counter()
                with lock:
                    sent[0] += 1
                    if not ok:
                        errors.append(str(body.get("err_msg"))[:200])
                    elif t0 >= measure_from and t1 <= stop:
                        lat.append(t1 - t0)

    pids = {name: p.proc.pid for name, p in c.procs.items() if p.proc is not None}
    cpu0: dict[str, float] = {}
    cpu1: dict[str, float] = {}
    load: list[float] = []

    def sample_cpu() -> None:
        # the servers' CPU over the measured window only (warm-up and the checks afterwards left out)
        time.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu0.update({n: _cpu_seconds([pid]) for n, pid in pids.items()})
        cpu0["clients"] = time.process_time()
        load.append(os.getloadavg()[0])
        time.sleep(max(0.0, stop - time.perf_counter()))
        cpu1.update({n: _cpu_seconds([pid]) for n, pid in pids.items()})
        cpu1["clients"] = time.process_time()
        load.append(os.getloadavg()[0])

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        threads.append(threading.Thread(target=sample_cpu))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        settled_care = {
            r["msgid"] for code in codes for r in c.records(code, "outbound") if r["status"] == "settled"
        }
        settled_insu = {
            r["msgid"] for code in codes for r in c.records(code, "inbound") if r["status"] == "settled"
        }
        settled_hub = {r["msgid"] for r in c.routes() if r["status"] == "settled"}
    finally:
        c.close()
    lat.sort()
    n = len(lat)
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu0}
    per = max(n, 1)
    return {
        # CPU milliseconds per settlement: the hub, the regions together (each is care side for some
        # settlements and insured side for others) and the load clients, over the measured window
        "cpu_ms_hub": cpu.get("hub", 0.0) / per * 1e3,
        "cpu_ms_regions": sum(v for k, v in cpu.items() if k not in ("hub", "clients")) / per * 1e3,
        "cpu_ms_clients": cpu.get("clients", 0.0) / per * 1e3,
        "load_1m_before": load[0] if load else 0.0,
        "load_1m_after": load[-1] if load else 0.0,
        "throughput": n / seconds,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1e3 if n else 0.0,
        "p50_ms": lat[n // 2] * 1e3 if n else 0.0,
        "sent": sent[0],
        "errors": len(errors),
        "error_samples": errors[:3],
        "consistent": settled_care == settled_insu == settled_hub,
        "settled": len(settled_care),
        "regions": len(codes),
        "clients": clients,
    }


def bench_clearing(n: int = 1_000_000, regions: int = 30, seed: int = 7) -> dict[str, Any]:
    import numpy as np

    from yibao.crossregion.clearing import Dispute, Route, clear_month, statement, verify_statement

    rng = np.random.default_rng(seed)
    codes = [f"{11 + k:02d}0000" for k in range(regions)]
    care = rng.integers(0, regions, n)
    insu = (care + rng.integers(1, regions, n)) % regions
    fund = rng.integers(0, 2_000_000, n)
    acct = rng.integers(0, 50_000, n)
    t0 = time.perf_counter()
    routes = [
        Route(f"M{i:09d}", codes[a], codes[b], "settled", int(f + c + 10_000), int(f), int(c), "2025-06")
        for i, (a, b, f, c) in enumerate(
            zip(care.tolist(), insu.tolist(), fund.tolist(), acct.tolist(), strict=True)
        )
    ]
    disputes = [Dispute(f"M{i:09d}", "2025-06") for i in range(0, n, 1000)]
    built = time.perf_counter()
    result = clear_month("2025-06", routes, disputes, history={k: [10**9, 2 * 10**9] for k in codes})
    cleared = time.perf_counter()
    balanced = all(
        verify_statement(st, {x.msgid: x.owed for x in st.lines}) == [] for st in map(statement, result.pairs)
    )
    done = time.perf_counter()
    return {
        "elapsed": cleared - built,
        "build_s": built - t0,
        "verify_s": done - cleared,
        "net_sum_fen": result.net_sum,
        "pairs": len(result.pairs),
        "lines": sum(len(p.lines) for p in result.pairs),
        "held": sum(len(p.held) for p in result.pairs),
        "statements_balance": balanced,
        "settlements": n,
        "regions": regions,
    }


def run(clients: int, seconds: float, n: int, regions: int, skip_settle: bool) -> Iterator[dict[str, Any]]:
    if not skip_settle:
        s = bench_settle(clients, seconds)
        yield record("crossregion.settle", "throughput", s["throughput"], "settlements/s")
        yield record("crossregion.settle", "p99", s["p99_ms"], "ms")
        yield record("crossregion.settle", "p50", s["p50_ms"], "ms")
        yield record("crossregion.settle", "cpu_per_settlement", s["cpu_ms_hub"] + s["cpu_ms_regions"], "ms")
        yield {"bench": "crossregion.settle", "metric": "check", **{k: v for k, v in s.items() if not k.endswith("_ms")},
               "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
    c = bench_clearing(n, regions)
    yield record("crossregion.clearing", "elapsed", c["elapsed"], "s")
    yield {"bench": "crossregion.clearing", "metric": "net_sum_fen", "value": c["net_sum_fen"], "unit": "fen"}
    yield {"bench": "crossregion.clearing", "metric": "check", **c}


def bench_crossregion_cmd(
    clients: Annotated[int, typer.Option(help="concurrent clients sending visitors' 2207s")] = 8,
    seconds: Annotated[float, typer.Option(help="measured seconds (after 2 s of warm-up)")] = 15.0,
    settlements: Annotated[int, typer.Option(help="settlements in the cleared month")] = 1_000_000,
    regions: Annotated[int, typer.Option(help="regions in the cleared month")] = 30,
    clearing_only: Annotated[bool, typer.Option(help="skip the multi-process settle bench")] = False,
) -> None:
    """Print JSON lines: crossregion.settle throughput / p99 / p50 and a check; crossregion.clearing elapsed,
    net_sum_fen and a check."""
    for rec in run(clients, seconds, settlements, regions, clearing_only):
        print(json.dumps(rec, ensure_ascii=False), flush=True)
