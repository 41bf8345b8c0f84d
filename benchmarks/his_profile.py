"""Where the server's CPU goes per national-interface transaction: one hospital's simulated day
(hissim, every answer checked field by field) replayed in one thread through the ASGI app, with the
thread pool replaced by direct calls, so that the thread's CPU clock and cProfile see the whole request
(middleware, authentication, envelope, handler, SQL, answer) and nothing else.

    PYTHONPATH=TREE/src python benchmarks/his_profile.py sqlite [VISITS]
    PYTHONPATH=TREE/src python benchmarks/his_profile.py postgresql://root@127.0.0.1:5432/postgres [VISITS]

(a PostgreSQL URL is an admin URL: a scratch database is created and dropped).  Prints JSON lines:

* ``his.profile`` ``server_cpu_ms`` per transaction code — mean server CPU (thread clock) per call, without the profiler;
* ``his.profile`` ``client_cpu_ms_per_visit`` — the simulator's own CPU (building, checking, httpx);
* ``his.profile`` ``parts`` — for each transaction code, the mean CPU (ms per call, cumulative, so parts
  nest) of the stages named in :data:`PARTS`, read from cProfile (profiling inflates every figure about
  alike; the shares are what matter);
* ``his.profile`` ``top`` — the functions with the most cumulative, then the most own, CPU time per
  transaction over all transactions (the profiler's timer is the thread's CPU clock).

``HIS_PROFILE_PARTS=0`` stops after the clocks (no profiled day: quicker rounds when comparing trees).
Background threads (the access log's flusher) are not in the thread clock; ``background_cpu_ms`` is the
process clock minus the thread clock over the day.  Asserts nothing.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

# (label, module file suffix, function name): cumulative time of these, per transaction code
PARTS = (
    ("request (all middleware)", "yibao/web/secure.py", "__call__"),
    ("envelope parse", "yibao/web/transactions.py", "_envelope"),
    ("auth", "yibao/web/auth.py", "current_principal_async"),
    ("envelope/sign checks", "yibao/web/national_flow.py", "check_sign"),
    ("input field tables", "yibao/web/national_flow.py", "check_input"),
    ("handler (_run)", "yibao/web/transactions.py", "_run"),
    ("settle path", "yibao/usecases/settlement.py", "settle"),
    ("ledger settle transaction", "yibao/ledger/transactions.py", "settle"),
    ("engine", "yibao/settlement/engine.py", "settle_visit"),
    ("audit hook", "yibao/settlement/engine.py", "_run_audit"),
    ("access log", "yibao/access/store.py", "log_access"),
    ("SQL execute (SQLAlchemy)", "sqlalchemy/engine/base.py", "execute"),
    ("SQL connect/checkout", "sqlalchemy/engine/base.py", "__init__"),
    ("DB driver execute", "psycopg/cursor.py", "execute"),
    ("DB driver execute (sqlite)", "~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("DB commit", "sqlalchemy/engine/base.py", "commit"),
    ("json answer", "yibao/web/jsonresp.py", "json_response"),
    ("pydantic validate", "~", "<built-in method validate_python>"),
)


def _emit(**row: Any) -> None:
    print(json.dumps({"bench": "his.profile", **row}, ensure_ascii=False), flush=True)


def _parts(stats: pstats.Stats, calls: int) -> dict[str, float]:
    out: dict[str, float] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for label, file_suffix, name in PARTS:
        total = 0.0
        for (fname, _line, fn), (_cc, _nc, _tt, ct, callers) in raw.items():
            if fn != name or not fname.endswith(file_suffix):
                continue
            # cumulative time not counted twice for recursion: only the time entered from other functions
            total += ct if not any(c[2] == name and c[0] == fname for c in callers) else 0.0
        if total:
            out[label] = round(1000 * total / calls, 3)
    return out


def _trace_psycopg(current: dict[str, str], statements: dict[str, list[list[str]]]) -> None:
    """Note each command a psycopg connection sends (its first words) under the transaction being served."""
    import psycopg

    def note(text: Any) -> None:
        calls = statements.get(current["key"])
        if calls:
            raw = text.as_string(None) if hasattr(text, "as_string") else text
            raw = raw.decode() if isinstance(raw, bytes) else str(raw)
            calls[-1].append(" ".join(raw.split())[:70])

    exec_command = psycopg.Connection._exec_command
    execute = psycopg.Cursor.execute
    executemany = psycopg.Cursor.executemany

    def _exec_command(self: Any, command: Any, *a: Any, **k: Any) -> Any:
        note(command)
        return exec_command(self, command, *a, **k)

    def _execute(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        note(query)
        return execute(self, query, *a, **k)

    def _executemany(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        note(query)
        return executemany(self, query, *a, **k)

    psycopg.Connection._exec_command = _exec_command  # type: ignore[method-assign]
    psycopg.Cursor.execute = _execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = _executemany  # type: ignore[method-assign]


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    visits = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    tmp = Path(tempfile.mkdtemp(prefix="his-profile-"))
    admin, scratch = "", ""
    if target == "sqlite":
        db = f"sqlite:///{tmp / 'his.db'}"
    else:
        import psycopg

        admin = target.replace("postgresql+psycopg://", "postgresql://")
        scratch = "yibao_his_profile_" + uuid.uuid4().hex[:8]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
        db = f"{admin.rsplit('/', 1)[0]}/{scratch}"
    try:
        run(db, tmp, visits, "sqlite" if target == "sqlite" else "postgresql")
    finally:
        if scratch:
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def run(db: str, tmp: Path, visits: int, backend: str) -> None:
    import datetime as dt

    import anyio.to_thread
    import httpx

    from hissim.client import HttpClient
    from hissim.scenario.data import load_institutions, load_items, load_persons
    from hissim.scenario.day import DayConfig, run_hospital
    from yibao.bench.his import prepare
    from yibao.settings import Settings
    from yibao.web.app import create_app

    prep = prepare(db, tmp, hospitals=3, persons=90)  # a hospital per run: each reconciles its own day

    async def direct(func: Any, *args: Any, **_kw: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = direct  # type: ignore[assignment]  # every "thread pool" call runs here
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # httpx looks for it on every request

    app = create_app(Settings.from_env(database_url=db, region="xian", migrate=False))
    loop = asyncio.new_event_loop()
    life = app.router.lifespan_context(app)
    loop.run_until_complete(life.__aenter__())
    asgi = httpx.ASGITransport(app=app)
    server_cpu: dict[str, float] = defaultdict(float)
    server_n: dict[str, int] = defaultdict(int)
    profiles: dict[str, cProfile.Profile] = {}
    profiling = {"on": False}

    current = {"key": ""}
    statements: dict[str, list[list[str]]] = defaultdict(list)
    if backend == "postgresql":
        _trace_psycopg(current, statements)

    class InProcess(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.read()
            key = request.url.path.rsplit("/", 1)[-1]
            prof = (
                profiles.setdefault(key, cProfile.Profile(time.thread_time_ns, 1e-9))
                if profiling["on"]
                else None
            )
            current["key"] = key
            statements[key].append([])
            t0 = time.thread_time()
            if prof is not None:
                prof.enable()
            resp = loop.run_until_complete(asgi.handle_async_request(request))
            body = loop.run_until_complete(resp.aread())
            if prof is not None:
                prof.disable()
            server_cpu[key] += time.thread_time() - t0
            server_n[key] += 1
            return httpx.Response(resp.status_code, headers=resp.headers, content=body)

    def _http(self: HttpClient) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url="http://testserver", transport=InProcess(), timeout=30)
        return self._client

    HttpClient._http = _http  # type: ignore[method-assign]

    def config(seed: int, n: int) -> DayConfig:
        return DayConfig(
            url="http://testserver",
            institutions=tuple(load_institutions(prep.institutions_file)[:3]),
            persons=tuple(load_persons(prep.persons_file)),
            items=tuple(load_items(prep.catalogue_file)),
            visits=n,
            seed=seed,
            business_date=dt.date.today(),
            run_id=f"{seed:06d}",
            transport="httpx",
            login=("/auth/login", prep.username, prep.password),
            clearing=True,
            treatment_check=True,
        )

    run_hospital(config(7, 10), 2)  # warm: first calls, caches
    server_cpu.clear()
    server_n.clear()
    # the day measured on the clocks, without the profiler (its data files read before the clocks start)
    day = config(1, visits)
    p0, t0 = time.process_time(), time.thread_time()
    res = run_hospital(day, 0)
    thread = time.thread_time() - t0
    process = time.process_time() - p0
    failures = [f.as_dict() for f in res.failures]
    total_server = sum(server_cpu.values())
    _emit(
        backend=backend,
        metric="day",
        visits_done=res.visits_done,
        transactions=sum(server_n.values()),
        failures=len(failures),
        failure_samples=failures[:3],
        server_cpu_ms_per_visit=round(1000 * total_server / max(1, res.visits_done), 2),
        client_cpu_ms_per_visit=round(1000 * (thread - total_server) / max(1, res.visits_done), 2),
        background_cpu_ms=round(1000 * (process - thread), 1),
    )
    for key in sorted(server_cpu):
        calls = statements.get(key) or [[]]
        _emit(
            backend=backend,
            metric="server_cpu_ms",
            infno=key,
            n=server_n[key],
            value=round(1000 * server_cpu[key] / server_n[key], 3),
            **(
                {
                    "db_commands_per_call": round(sum(len(c) for c in calls) / len(calls), 1),
                    "example": calls[len(calls) // 2],
                }
                if backend == "postgresql"
                else {}
            ),
        )
    if os.environ.get("HIS_PROFILE_PARTS", "1") == "0":  # the clocks only (quicker A/B rounds)
        loop.run_until_complete(life.__aexit__(None, None, None))
        return
    # the same day again under cProfile, per transaction code
    profiling["on"] = True
    server_n.clear()
    run_hospital(config(2, visits), 1)
    merged: pstats.Stats | None = None
    for key, prof in sorted(profiles.items()):
        st = pstats.Stats(prof)
        _emit(backend=backend, metric="parts", infno=key, n=server_n[key], ms=_parts(st, server_n[key]))
        if merged is None:
            merged = pstats.Stats(prof)
        else:
            merged.add(prof)
    if merged is not None:
        n_all = sum(server_n.values())
        raw: dict[Any, Any] = merged.stats  # type: ignore[attr-defined]
        by_cum = sorted(raw.items(), key=lambda kv: -kv[1][3])[:70]
        by_own = sorted(raw.items(), key=lambda kv: -kv[1][2])[:50]
        for (fname, line, fn), (_cc, nc, tt, ct, _callers) in [*by_cum, *by_own]:
            _emit(
                backend=backend,
                metric="top",
                fn=f"{fname.split('site-packages/')[-1].split('src/')[-1]}:{line}:{fn}",
                calls_per_tx=round(nc / n_all, 2),
                cum_ms_per_tx=round(1000 * ct / n_all, 3),
                own_ms_per_tx=round(1000 * tt / n_all, 3),
            )
        dump = os.environ.get("HIS_PROFILE_DUMP")
        if dump:
            merged.dump_stats(dump)
    loop.run_until_complete(life.__aexit__(None, None, None))


if __name__ == "__main__":
    main()
