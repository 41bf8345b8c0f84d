"""CPU per visit of the HIS simulator's day against ``yibao serve`` on PostgreSQL, split by who spends it:
the server's processes, the PostgreSQL backends of the scratch database, and the simulator — for an A/B
of two checkouts on a busy machine, where wall-clock throughput says little.

    PYTHONPATH=TREE/src python benchmarks/his_cpu.py LABEL [VISITS] [HOSPITALS] [WORKERS]

Uses only ``yibao.bench.his`` (``prepare``, ``serve``, ``play``), so any checkout that has them can be
measured.  The server's CPU is read from ``/proc`` for the ``yibao serve`` process and its descendants,
PostgreSQL's for the backends ``pg_stat_activity`` lists for the database, both just before and just after
the day.  Prints one JSON line and asserts nothing.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(d.name))
    return out


def _server_pids() -> list[int]:
    """This process's descendants except itself (the ``yibao serve`` process and its workers)."""
    kids = _children()
    todo, seen = list(kids.get(os.getpid(), [])), []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(kids.get(pid, []))
    return seen


def main() -> None:
    import psycopg

    from yibao.bench.his import play, prepare, serve

    label = sys.argv[1] if len(sys.argv) > 1 else "tree"
    visits = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    hospitals = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    admin = os.environ.get("YIBAO_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
    name = "yibao_his_cpu_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = f"{admin.rsplit('/', 1)[0]}/{name}"

    def backends() -> list[int]:
        with psycopg.connect(admin, autocommit=True) as c:
            rows = c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
        return [int(r[0]) for r in rows]

    try:
        with tempfile.TemporaryDirectory() as tmp:
            prep = prepare(db, Path(tmp), hospitals=hospitals, persons=max(hospitals * 30, 60))
            with serve(db, workers=workers) as base:
                time.sleep(1.0)
                s0 = {p: _cpu_s(p) for p in _server_pids()}
                b0 = {p: _cpu_s(p) for p in backends()}
                c0 = time.process_time()
                result, _cfg = play(base, prep, hospitals=hospitals, visits=visits)
                client = time.process_time() - c0
                server = sum(_cpu_s(p) - s0.get(p, 0.0) for p in _server_pids())
                database = sum(_cpu_s(p) - b0.get(p, 0.0) for p in backends())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    done = max(1, result.visits_done)
    sent = sum(h.sent for h in result.hospitals)
    lat = result.latencies()
    every = sorted(v for vs in lat.values() for v in vs)
    print(
        json.dumps(
            {
                "bench": "his.cpu",
                "label": label,
                "server_workers": workers,
                "visits_done": result.visits_done,
                "transactions": sent,
                "failures": len(result.failures),
                "wall_s": round(result.wall_s, 2),
                "visits_per_s": round(result.visits_done / result.wall_s, 2),
                "p50_ms_all": round(every[len(every) // 2], 1) if every else 0.0,
                "p99_ms_all": round(every[int(len(every) * 0.99)], 1) if every else 0.0,
                "server_cpu_ms_per_visit": round(1000 * server / done, 2),
                "postgres_cpu_ms_per_visit": round(1000 * database / done, 2),
                "client_cpu_ms_per_visit": round(1000 * client / done, 2),
                "server_cpu_ms_per_transaction": round(1000 * server / max(1, sent), 3),
                "postgres_cpu_ms_per_transaction": round(1000 * database / max(1, sent), 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
