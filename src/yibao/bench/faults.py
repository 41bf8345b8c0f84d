"""``yibao bench faults``: bounded settlement load over loopback HTTP while faults are injected, then the
ledger is checked.  Faults: the PostgreSQL backends of the service terminated (``pg_terminate_backend``),
the server killed with SIGKILL and started again, and a slow client trickling a request body.  (A
PostgreSQL restart and a full disk are not injected here: the database server is shared.)

Every client sends 2207s with unique msgids and, on a connection error, a timeout or a 5xx, sends the
same msgid again until it is answered, as a HIS must.  After each fault it prints one JSON line: sent,
acknowledged, stored, duplicates, lost, verify (chains, balances and digests), and the seconds from the
end of the fault until ``/readyz`` answered 200."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer

from yibao.bench.api import INSTITUTION, PASSWORD, _free_port, _login, visit_json
from yibao.bench.settle_db import DAY, DEFAULT_ADMIN_URL, _persons, _visits


def _start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "yibao.web.serve:app_from_env", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _ready_after(base: str, since: float, timeout: float = 60.0) -> float:
    while time.monotonic() - since < timeout:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return time.monotonic() - since
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return float("inf")


class _Load:
    """``clients`` threads settling ``visits`` until ``stop``; each msgid retried until answered."""

    def __init__(self, base: str, token: str, visits: list[dict[str, Any]], clients: int) -> None:
        self.base, self.token, self.visits, self.clients = base, token, visits, clients
        self.sent: list[str] = []
        self.acked: list[str] = []
        self.refused = 0
        self.retries = 0
        self.lock = threading.Lock()
        self.next = 0

    def run(self, seconds: float, retry_for: float = 30.0) -> None:
        stop = time.monotonic() + seconds
        threads = [threading.Thread(target=self._client, args=(stop, retry_for)) for _ in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _client(self, stop: float, retry_for: float) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < stop:
                with self.lock:
                    if self.next >= len(self.visits):
                        return
                    v, self.next = self.visits[self.next], self.next + 1
                msgid = INSTITUTION + uuid.uuid4().hex[:18]
                env = {"infno": "2207", "msgid": msgid, "fixmedins_code": INSTITUTION, "input": {"data": v}}
                body = json.dumps(env, ensure_ascii=False).encode()
                with self.lock:
                    self.sent.append(msgid)
                give_up = time.monotonic() + retry_for
                while time.monotonic() < give_up:
                    try:
                        r = c.post(self.base + "/api/transaction", content=body, headers=headers)
                        if r.status_code == 200:
                            with self.lock:
                                if r.json()["infcode"] == 0:
                                    self.acked.append(msgid)
                                else:
                                    self.refused += 1
                            break
                    except httpx.HTTPError:
                        pass
                    with self.lock:
                        self.retries += 1
                    time.sleep(0.2)


def _terminate(admin: str, name: str) -> int:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as c:
        rows = c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _slow_client(port: int, seconds: float) -> None:
    """Sends headers promising a body and then one byte every half second."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /api/transaction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                s.sendall(b" ")
            except OSError:
                return
            time.sleep(0.5)


def run(
    url: str | None = None, *, persons: int = 2_000, clients: int = 4, seconds: float = 6.0
) -> Iterator[dict[str, Any]]:
    import psycopg

    from yibao.access.store import ServiceStore
    from yibao.ledger import Ledger
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    admin = (url or os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    name = "yibao_bench_faults_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"{admin.rsplit('/', 1)[0]}/{name}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        book = PolicyBook.from_file(example_path("xian"))
        with Ledger.open(db_url) as led:
            led.migrate()
            led.add_persons(_persons(book, persons, DAY))
        store = ServiceStore(db_url.replace("postgresql://", "postgresql+psycopg://"))
        store.create_user("bench-hospital", PASSWORD, "institution", "基准医院", fixmedins_code=INSTITUTION)
        store.close()
        visits = [visit_json(v) for v in _visits(book, 20_000, persons, 5, 7, None, DAY)]
        port = _free_port()
        env = {**os.environ, "YIBAO_DATABASE_URL": db_url, "YIBAO_REGION": "xian", "YIBAO_MIGRATE": "0"}
        base = f"http://127.0.0.1:{port}"
        proc = _start(port, env)
        _ready_after(base, time.monotonic())
        token = _login(base, "bench-hospital")
        for fault in ("pg_terminate_backend", "kill_9_server", "slow_client"):
            load = _Load(base, token, visits, clients)
            t = threading.Thread(target=load.run, args=(seconds,))
            t.start()
            time.sleep(seconds / 3)
            injected: Any = None
            if fault == "pg_terminate_backend":
                injected = _terminate(admin, name)
                ended = time.monotonic()
            elif fault == "kill_9_server":
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                proc = _start(port, env)
                ended = time.monotonic()
            else:
                slow = threading.Thread(target=_slow_client, args=(port, seconds / 2))
                slow.start()
                slow.join()
                ended = time.monotonic()
            ready = _ready_after(base, ended)
            t.join()
            visits = visits[load.next :]
            with Ledger.open(db_url) as led:
                stored = {
                    r[0]
                    for r in led.conn.execute(
                        "SELECT msgid FROM message WHERE msgid = ANY(%s)", (load.sent,)
                    ).fetchall()
                }
                dup = led.conn.execute(
                    "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) n FROM settlement "
                    "WHERE status = 'active' GROUP BY mdtrt_id HAVING COUNT(*) > 1) d"
                ).fetchone()[0]
                led.conn.end_read()
                report = led.verify()
            lost = len(set(load.acked) - stored)
            yield {
                "bench": "faults",
                "fault": fault,
                "injected": injected,
                "sent": len(load.sent),
                "acknowledged": len(load.acked),
                "refused": load.refused,
                "retries": load.retries,
                "stored": len(stored),
                "duplicates": int(dup),
                "lost": lost,
                "unanswered": len(set(load.sent) - set(load.acked)) - load.refused,
                "verify_ok": report.ok,
                "verify_problems": report.problems[:3],
                "ready_after_s": round(ready, 2),
            }
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_faults_cmd(
    seconds: Annotated[float, typer.Option(help="load seconds per fault")] = 6.0,
    clients: Annotated[int, typer.Option(help="concurrent clients")] = 4,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL admin URL for the scratch database")] = None,
) -> None:
    """Print JSON lines: per fault, sent / acknowledged / stored / duplicates / lost / verify / ready time."""
    for rec in run(pg_url, clients=clients, seconds=seconds):
        print(json.dumps(rec, ensure_ascii=False), flush=True)
