"""Where the server's CPU goes per 2207, part by part, measured in one process on PostgreSQL.

Each part of what the service does for one settlement is timed on its own (CPU time of this process,
``time.process_time``; PostgreSQL's own CPU is not counted) over ``N`` settlements of 20-line visits:

* ``envelope``   — JSON parsing, the envelope model and the strict field parsing into a Visit;
* ``auth``       — the session lookup of a token this worker checked recently, and of one it has not;
* ``presented_check`` — whether the person was presented (1101) at the hospital, asked of the database
  (the answer is not yet in this worker's memory), which every 2207 over HTTP checks;
* ``engine``     — ``settle_visit`` alone (no audit);
* ``audit``      — the in-event audit hook alone (事中审核 single-visit rules);
* ``ledger``     — ``Ledger.settle`` with the hook: engine + audit + fingerprint, digest, SQL round trips;
* ``ledger_postgres_backend`` — the CPU the PostgreSQL backend serving those settlements used, from
  ``/proc`` (only when the database runs on this host; WAL writer and checkpointer not counted);
* ``access_log`` — one access-log row (2207 writes none; 1101 and reads do), batches included;
* ``response``   — the 2207 output built and serialised.

Usage: ``PYTHONPATH=src python benchmarks/cpu_settlement_parts.py [N]`` — prints JSON lines (µs of CPU
per settlement), asserts nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from yibao.access.store import ServiceStore
from yibao.bench.api import INSTITUTION, visit_json
from yibao.bench.settle_db import DAY, DEFAULT_ADMIN_URL, _persons, _visits
from yibao.encounter.store import EncounterStore
from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settings import Settings
from yibao.settlement import io as sio
from yibao.settlement.engine import settle_visit
from yibao.web import national
from yibao.web.jsonresp import json_response


def cpu(label: str, n: int, fn: Callable[[int], Any]) -> None:
    fn(0)  # warm
    t0 = time.process_time()
    for i in range(1, n + 1):
        fn(i)
    us = (time.process_time() - t0) / n * 1e6
    print(
        json.dumps({"bench": "cpu.settlement_parts", "part": label, "value": round(us, 1), "unit": "µs CPU"})
    )


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a PostgreSQL backend on this host, from /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(n: int = 400) -> None:
    name = "yibao_cpu_parts_" + uuid.uuid4().hex[:8]
    with psycopg.connect(DEFAULT_ADMIN_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = f"{DEFAULT_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        book = PolicyBook.from_file(example_path("xian"))
        settings = Settings(database_url=url)
        hook = settings.audit_hook()
        with Ledger.open(url) as led:
            led.migrate()
            led.add_persons(_persons(book, 2_000, DAY))
            visits = _visits(book, 3 * n + 10, 2_000, 20, 7, None, DAY)
            bodies = [
                json.dumps(
                    {
                        "infno": "2207",
                        "msgid": INSTITUTION + uuid.uuid4().hex[:18],
                        "input": {"data": visit_json(v)},
                    }
                ).encode()
                for v in visits
            ]

            def envelope(i: int) -> None:
                env = national.Envelope.model_validate(sio.loads(bodies[i].decode()))
                sio.parse_visit(env.input["data"])

            cpu("envelope", n, envelope)
            store = ServiceStore(led.sa_url)
            u = store.create_user(
                "cpu-h", "cpu-password-1", "institution", "医院", fixmedins_code=INSTITUTION
            )
            token = store.open_session(u.user_id)
            store.user_for_token(token)
            cpu("auth_cached", n, lambda i: store.cached_user(token))
            store.cache_seconds = 0
            store._cache.clear()
            cpu("auth_db", n, lambda i: store.user_for_token(token))
            enc = EncounterStore.open(led.sa_url)
            enc.present_many([(INSTITUTION, "02", f"C{k}", v.psn_no) for k, v in enumerate(visits)])
            enc.PRESENTED_CACHE_SECONDS = 0  # each 2207 of a person this worker has not seen yet
            cpu("presented_check", n, lambda i: enc.presented_at(INSTITUTION, visits[i].psn_no))
            enc.close()
            policy = book.for_date(DAY)
            person = led.get_person(visits[0].psn_no, DAY)
            cpu("engine", n, lambda i: settle_visit(policy, person, visits[i], {}, 0, person.insutype))
            if hook is not None:
                cpu("audit", n, lambda i: hook(person, visits[i]))
            backend = led.conn.raw.execute("SELECT pg_backend_pid()").fetchone()[0]
            led.conn.end_read()
            pg_before = backend_cpu(backend)
            cpu(
                "ledger",
                n,
                lambda i: led.settle(book, visits[n + i], INSTITUTION + uuid.uuid4().hex[:18], audit=hook),
            )
            pg_after = backend_cpu(backend)
            if pg_before is not None and pg_after is not None:  # the warm-up call included: n + 1 settlements
                print(json.dumps({"bench": "cpu.settlement_parts", "part": "ledger_postgres_backend",
                                  "value": round((pg_after - pg_before) / (n + 1) * 1e6, 1), "unit": "µs CPU"}))  # fmt: skip
            # rows are written in batches: the last batch is written inside the timing (a store that
            # writes each row at once has nothing to flush)
            flush = getattr(store, "flush_access", lambda: 0)
            cpu(
                "access_log",
                n,
                lambda i: (
                    store.log_access(u, visits[i].psn_no, "cpu", "/x"),
                    i == n and flush(),
                ),
            )
            received = dt.datetime.now(dt.UTC)
            out = {"setlinfo": {"setl_id": "x", "medfee_sumamt": "1.00"}, "setldetail": []}
            cpu("response", n, lambda i: json_response(national.response("610100", out, received)))
            store.close()
    finally:
        with psycopg.connect(DEFAULT_ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
