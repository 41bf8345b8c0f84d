"""Where a stored settlement's CPU goes: thread CPU time per settlement in each part of the ledger's settle path.

The workload is ``benchmarks/cpu_ab.py``'s ledger part (1,400 settlements of 20 lines after 100 to warm up,
on SQLite in process or PostgreSQL); each part is wrapped by a timer of the thread's CPU time (the wrapper's
own cost, well under a microsecond a call, is counted in the part).  Parts: ``engine`` (``settle_visit``),
``allocate`` (the per-line split), ``fingerprint`` (the request's msgid fingerprint), ``lock_read``,
``settle_ops`` (the rows, JSON documents, content digest and journal hashes), ``write`` (the statements and
the COMMIT), ``begin``; ``total`` is the whole settle call.  The pre-house tree (``f6cf2bc``) has no
allocation or fingerprint, and its parts are methods of ``Ledger``: pass ``--prehouse``.

    PYTHONPATH=TREE/src python benchmarks/ledger_parts.py NAME sqlite|postgres [--prehouse] [--repeat 3]

Prints one JSON line per part (min over the repeats, µs per settlement) and asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from typing import Any

ADMIN = os.environ.get("YIBAO_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
N = 1400


def _wrap(acc: dict[str, int], owner: Any, attr: str, part: str) -> None:
    fn: Callable[..., Any] = getattr(owner, attr)

    def timed(*a: Any, **k: Any) -> Any:
        t = time.thread_time_ns()
        try:
            return fn(*a, **k)
        finally:
            acc[part] = acc.get(part, 0) + time.thread_time_ns() - t

    setattr(owner, attr, timed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tree")
    ap.add_argument("backend", choices=("sqlite", "postgres"))
    ap.add_argument("--prehouse", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from cpu_ab import scratch_ledger  # the scratch ledger cpu_ab.ledger times (same directory)

    from yibao.bench import settle_db as bdb
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    acc: dict[str, int] = {}
    if a.prehouse:
        from yibao.ledger import core

        for attr, part in (("_write", "write"), ("_lock_read", "lock_read"), ("_settle_ops", "settle_ops")):
            _wrap(acc, core.Ledger, attr, part)
        _wrap(acc, core.Ledger, "_begin", "begin")
        _wrap(acc, core, "settle_visit", "engine")
    else:
        from yibao.db import connection
        from yibao.ledger import transactions

        _wrap(acc, connection.Connection, "write", "write")
        _wrap(acc, connection.Connection, "begin", "begin")
        for attr, part in (
            ("_lock_read", "lock_read"),
            ("_settle_ops", "settle_ops"),
            ("settle_visit", "engine"),
            ("allocate", "allocate"),
            ("visit_fingerprint", "fingerprint"),
        ):
            _wrap(acc, transactions, attr, part)
    book = PolicyBook.from_file(example_path("xian"))
    day = dt.date(2025, 6, 1)
    best: dict[str, float] = {}
    for _ in range(a.repeat):
        with scratch_ledger(a.backend, "ledger_parts_", ADMIN, book, day) as (led, _name):
            vs = bdb._visits(book, 100 + N, 2000, 20, 7, None, day)
            bdb._run(led, book, vs[:100])
            acc.clear()
            t0 = time.thread_time_ns()
            bdb._run(led, book, vs[100:])
            acc["total"] = time.thread_time_ns() - t0
            for part, ns in acc.items():
                best[part] = min(best.get(part, 1e12), ns / N / 1000)
    for part, us in sorted(best.items()):
        row = {"bench": f"ledger.parts.{a.backend}", "metric": part, "value": round(us, 1), "unit": "us"}
        print(json.dumps({**row, "tree": a.tree}), flush=True)


if __name__ == "__main__":
    main()
