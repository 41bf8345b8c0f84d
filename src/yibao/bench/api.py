"""``yibao bench api``: 2207 settlements through HTTP on PostgreSQL.

The bench creates a scratch database (10,000 persons), starts ``uvicorn`` with ``workers`` processes as a
subprocess on loopback, logs in as an institution, and drives it from a **separate load process**: an
asyncio loop holding ``clients`` keep-alive connections, each sending one 2207 envelope (a 20-line
inpatient visit, unique msgid) at a time and timing it until the answer arrives.  The load generator
writes pre-framed HTTP/1.1 requests on raw sockets (no HTTP client library) so that it takes as little
of the two cores as possible from the server and the database.  Every answer is checked (HTTP 200 and
``infcode`` 0); afterwards the ledger's settlement count must equal the successes and the hash chains
must verify.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
import typer

from yibao.bench.settle import record
from yibao.bench.settle_db import DAY, DEFAULT_ADMIN_URL, _persons, _visits
from yibao.money import QTY_ONE, fen_to_yuan
from yibao.settlement.model import Visit

PASSWORD = "bench-password-1"
INSTITUTION = "H61000000001"  # the code settle_db's visits carry


def visit_json(v: Visit) -> dict[str, Any]:
    """A visit in the JSON form that :func:`yibao.settlement.io.parse_visit` reads."""
    return {
        "mdtrt_id": v.mdtrt_id,
        "psn_no": v.psn_no,
        "med_type": v.med_type,
        "fixmedins_code": v.fixmedins_code,
        "hosp_lv": v.hosp_lv,
        "begntime": v.begin_date.isoformat(),
        "endtime": v.end_date.isoformat(),
        "feedetail": [
            {
                "feedetl_sn": ln.feedetl_sn,
                "med_list_codg": ln.code,
                "cnt": str(ln.qty / QTY_ONE),
                "pric": str(fen_to_yuan(ln.price)),
                "det_item_fee_sumamt": str(fen_to_yuan(ln.amount)),
            }
            for ln in v.lines
        ],
    }


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of ``pids`` from /proc (Linux), 0 for pids that are gone."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- load process
async def _client(
    k: int,
    host: str,
    port: int,
    token: str,
    visits: list[dict[str, Any]],
    start: float,
    measure_from: float,
    stop: float,
    lat: list[float],
    errors: list[str],
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST /api/transaction HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    n = 0
    tag = uuid.uuid4().hex[:6]
    while time.perf_counter() < stop:
        v = visits[n % len(visits)]
        env = {
            "infno": "2207",
            "msgid": f"{INSTITUTION}{tag}{k:02d}{n:010d}",
            "mdtrtarea_admvs": "610100",
            "fixmedins_code": INSTITUTION,
            "input": {"data": {**v, "mdtrt_id": f"{v['mdtrt_id']}-{tag}{k}-{n}"}},
        }
        body = orjson.dumps(env)
        t0 = time.perf_counter()
        writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        t1 = time.perf_counter()
        n += 1
        ok = status_line.split(b" ", 2)[1:2] == [b"200"] and payload.startswith(b'{"infcode":0')
        if not ok:
            errors.append(f"{status_line!r} {payload[:200]!r}")
        elif t0 >= measure_from:
            lat.append(t1 - t0)
    writer.close()
    return n


def _load(
    host: str,
    port: int,
    token: str,
    clients: int,
    warmup: float,
    seconds: float,
    visits: list[dict[str, Any]],
    out: Any,
) -> None:
    async def main() -> tuple[list[float], list[str], int, float, float]:
        start = time.perf_counter()
        measure_from, stop = start + warmup, start + warmup + seconds
        lat: list[float] = []
        errors: list[str] = []
        share = len(visits) // clients
        sent = await asyncio.gather(
            *(
                _client(
                    k,
                    host,
                    port,
                    token,
                    visits[k * share : (k + 1) * share],
                    start,
                    measure_from,
                    stop,
                    lat,
                    errors,
                )
                for k in range(clients)
            )
        )
        return lat, errors, sum(sent), measure_from, stop

    try:
        try:
            import uvloop

            uvloop.install()
        except ModuleNotFoundError:
            pass
        c0 = time.process_time()
        lat, errors, sent, t0, t1 = asyncio.run(main())
        out.put(
            {
                "lat": lat,
                "errors": errors[:5],
                "n_errors": len(errors),
                "sent": sent,
                "window": t1 - t0,
                "cpu": time.process_time() - c0,
            }
        )
    except BaseException as exc:  # report instead of hanging the parent
        out.put({"fatal": repr(exc)})


# ---------------------------------------------------------------------- orchestration
def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/fhir/metadata", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the service did not start within a minute")


def _login(base: str, username: str) -> str:
    req = urllib.request.Request(
        base + "/auth/login",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return str(json.loads(r.read())["token"])


def bench_api(
    clients: int = 8,
    seconds: float = 20.0,
    url: str | None = None,
    *,
    workers: int = 4,
    warmup: float = 3.0,
    persons: int = 10_000,
    region: str = "xian",
) -> dict[str, Any]:
    """Run the HTTP settlement benchmark; ``url`` is a PostgreSQL admin URL (to create and drop a scratch
    database; default ``YIBAO_TEST_PG_URL`` or ``postgresql://root@127.0.0.1:5432/postgres``)."""
    import psycopg

    from yibao.access.store import ServiceStore
    from yibao.encounter.store import EncounterStore
    from yibao.ledger import Ledger
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    admin = (url or os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    name = "yibao_bench_api_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"{admin.rsplit('/', 1)[0]}/{name}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        book = PolicyBook.from_file(example_path(region))
        people = _persons(book, persons, DAY)
        with Ledger.open(db_url) as led:
            led.migrate()
            led.add_persons(people)
            sa_url = led.sa_url
        enc = EncounterStore.open(sa_url)  # each person has shown an ID card at the counter (1101)
        enc.present_many([(INSTITUTION, "02", p.certno, p.psn_no) for p in people])
        enc.close()
        store = ServiceStore(sa_url)
        store.create_user("bench-hospital", PASSWORD, "institution", "基准医院", fixmedins_code=INSTITUTION)
        store.close()
        visits = [visit_json(v) for v in _visits(book, 4_000, persons, 20, 7, None, DAY)]
        port = _free_port()
        env = {**os.environ, "YIBAO_DATABASE_URL": db_url, "YIBAO_REGION": region, "YIBAO_MIGRATE": "0"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "yibao.web.serve:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc)
        token = _login(base, "bench-hospital")
        server_pids = [proc.pid, *_children(proc.pid)]
        with psycopg.connect(admin, autocommit=True) as conn:
            pg_pids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
                ).fetchall()
            ]
        cpu0 = (_cpu_seconds(server_pids), _cpu_seconds(pg_pids))
        ctx: Any = mp.get_context("spawn")
        out = ctx.Queue()
        loader = ctx.Process(
            target=_load, args=("127.0.0.1", port, token, clients, warmup, seconds, visits, out)
        )
        loader.start()
        res = out.get(timeout=warmup + seconds + 600)
        loader.join()
        if "fatal" in res:
            raise RuntimeError(f"load process failed: {res['fatal']}")
        cpu = (_cpu_seconds(server_pids) - cpu0[0], _cpu_seconds(pg_pids) - cpu0[1])
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        proc = None
        with Ledger.open(db_url) as led:
            stored = led.row_counts()["settlement"]
            ok = led.verify().ok
        lat = sorted(res["lat"])
        n = len(lat)
        return {
            "throughput": n / res["window"],
            "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1e3 if n else 0.0,
            "p50_ms": lat[n // 2] * 1e3 if n else 0.0,
            "settlements": n,
            "sent": res["sent"],
            "errors": res["n_errors"],
            "error_samples": res["errors"],
            "stored": stored,
            "verified": ok,
            "consistent": stored == res["sent"] - res["n_errors"],
            "workers": workers,
            "clients": clients,
            "seconds": res["window"],
            # CPU per settlement (ms) over warm-up + window, by process group: what bounds throughput on 2 cores
            "cpu_ms_server": cpu[0] / res["sent"] * 1e3 if res["sent"] else 0.0,
            "cpu_ms_postgres": cpu[1] / res["sent"] * 1e3 if res["sent"] else 0.0,
            "cpu_ms_load": res["cpu"] / res["sent"] * 1e3 if res["sent"] else 0.0,
            "load_avg_1m": os.getloadavg()[0],
        }
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    clients: int = 8, seconds: float = 20.0, url: str | None = None, workers: int = 4
) -> Iterator[dict[str, Any]]:
    r = bench_api(clients, seconds, url, workers=workers)
    bench = f"api.settle.{clients}"
    yield record(bench, "throughput", r["throughput"], "settlements/s")
    yield record(bench, "p99", r["p99_ms"], "ms")
    yield record(bench, "p50", r["p50_ms"], "ms")
    yield {
        "bench": bench,
        "metric": "check",
        "errors": r["errors"],
        "stored": r["stored"],
        "sent": r["sent"],
        "verified": r["verified"],
        "consistent": r["consistent"],
        "workers": r["workers"],
        "cpu_ms_per_settlement": {k: round(r[f"cpu_ms_{k}"], 3) for k in ("server", "postgres", "load")},
        "load_avg_1m": r["load_avg_1m"],
        "error_samples": r["error_samples"],
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def bench_api_cmd(
    clients: Annotated[int, typer.Option(help="concurrent connections from the load process")] = 8,
    seconds: Annotated[float, typer.Option(help="measured seconds (after 3 s of warm-up)")] = 20.0,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 4,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL admin URL for the scratch database")] = None,
) -> None:
    """Print JSON lines: api.settle.<clients> throughput (settlements/s), p99 and p50 (ms), and a check line."""
    for rec in run(clients, seconds, pg_url, workers):
        print(json.dumps(rec, ensure_ascii=False), flush=True)
