"""``yibao bench faults``: bounded settlement load over loopback HTTP while faults are injected, then the
ledger is checked.  Faults: the PostgreSQL backends of the service terminated (``pg_terminate_backend``),
the server killed with SIGKILL and started again, a slow client trickling a request body, PostgreSQL
restarted (``pg_ctlcluster … restart``: every database of the cluster is cut off for a moment), and the
disk of the database full (``disk_full``: the scratch database lives in a tablespace on a small tmpfs
mount, which is filled to the last byte with a file for a while and then emptied again; the real disk is
never touched).  The last two need root on the PostgreSQL host; without it they are reported as skipped.

Every client sends 2207s with unique msgids and, on a connection error, a timeout or a 5xx, sends the
same msgid again until it is answered, as a HIS must.  After each fault it prints one JSON line: sent,
acknowledged, stored, duplicates, lost, verify (chains, balances and digests), and the seconds from the
end of the fault until ``/readyz`` answered 200."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
        self.refusals: dict[str, Any] = {}  # err_code → one err_msg (a refusal is final: not retried)
        self.retries = 0
        self.unavailable = 0  # 503 answers (the database full or unreachable): retried like a lost answer
        self.server_errors = 0  # 500 answers: must stay 0
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
                                answer = r.json()
                                if answer["infcode"] == 0:
                                    self.acked.append(msgid)
                                else:
                                    self.refused += 1
                                    self.refusals.setdefault(
                                        str(answer.get("err_code")), answer.get("err_msg")
                                    )
                            break
                        with self.lock:
                            if r.status_code == 503:
                                self.unavailable += 1
                            elif r.status_code >= 500:
                                self.server_errors += 1
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


def _restart_postgres() -> float:
    """Restart the local cluster (the one version under /etc/postgresql); seconds it took."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    t0 = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.monotonic() - t0


def _why_not_local_root(admin: str) -> str | None:
    """Why PostgreSQL restart and a full disk cannot be injected from here (``None``: they can)."""
    if os.geteuid() != 0:
        return "needs root"
    if not any(h in admin for h in ("@127.0.0.1", "@localhost", "@[::1]")):
        return "PostgreSQL is not on this host"
    if not os.path.isdir("/etc/postgresql") or not shutil.which("pg_ctlcluster"):
        return "no pg_ctlcluster"
    return None


class _SmallDisk:
    """A tmpfs of ``mb`` MiB owned by postgres, holding the tablespace of the scratch database; ``fill``
    writes a file until the mount has no byte left, ``free`` deletes it."""

    def __init__(self, mb: int) -> None:
        import pwd

        self.dir = tempfile.mkdtemp(prefix="yibao-faults-disk-")
        pg = pwd.getpwnam("postgres")
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={mb}m,mode=0700,uid={pg.pw_uid},gid={pg.pw_gid}", "tmpfs",
             self.dir],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.filler = os.path.join(self.dir, "filler")

    def fill(self) -> int:
        written = 0
        chunk = b"\0" * (1 << 20)
        with open(self.filler, "wb", buffering=0) as f:
            while True:
                try:
                    written += f.write(chunk) or 0
                except OSError:  # ENOSPC: full
                    break
            for size in (65536, 4096, 512, 1):  # the last pages too
                while True:
                    try:
                        written += f.write(chunk[:size]) or 0
                    except OSError:
                        break
        return written

    def free(self) -> None:
        if os.path.exists(self.filler):
            os.remove(self.filler)

    def close(self) -> None:
        self.free()
        subprocess.run(["umount", self.dir], check=False, capture_output=True)
        os.rmdir(self.dir)


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


FAULTS = ("pg_terminate_backend", "kill_9_server", "slow_client", "pg_restart", "disk_full")


def run(
    url: str | None = None,
    *,
    persons: int = 2_000,
    clients: int = 4,
    seconds: float = 6.0,
    faults: tuple[str, ...] = FAULTS,
    disk_mb: int = 160,
) -> Iterator[dict[str, Any]]:
    import psycopg

    from yibao.access.store import ServiceStore
    from yibao.encounter.store import EncounterStore
    from yibao.ledger import Ledger
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    admin = (url or os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    name = "yibao_bench_faults_" + uuid.uuid4().hex[:10]
    why_not = _why_not_local_root(admin)
    disk: _SmallDisk | None = None
    if "disk_full" in faults and why_not is None:
        disk = _SmallDisk(disk_mb)
    with psycopg.connect(admin, autocommit=True) as conn:
        if disk is not None:
            conn.execute(f"CREATE TABLESPACE \"{name}\" LOCATION '{disk.dir}'")
            conn.execute(f'CREATE DATABASE "{name}" TABLESPACE "{name}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"{admin.rsplit('/', 1)[0]}/{name}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        book = PolicyBook.from_file(example_path("xian"))
        people = _persons(book, persons, DAY)
        with Ledger.open(db_url) as led:
            led.migrate()
            led.add_persons(people)
            sa_url = led.sa_url
        enc = EncounterStore.open(sa_url)  # each person has shown an ID card at the counter (1101)
        enc.present_many([(INSTITUTION, "02", p.certno, p.psn_no) for p in people])
        enc.close()
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
        for fault in faults:
            if fault in ("pg_restart", "disk_full") and why_not is not None:
                yield {"bench": "faults", "fault": fault, "skipped": why_not}
                continue
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
            elif fault == "slow_client":
                slow = threading.Thread(target=_slow_client, args=(port, seconds / 2))
                slow.start()
                slow.join()
                ended = time.monotonic()
            elif fault == "pg_restart":
                injected = {"restart_s": round(_restart_postgres(), 2)}
                ended = time.monotonic()
            else:
                assert disk is not None
                injected = {"filled_bytes": disk.fill()}
                time.sleep(seconds / 3)  # full for a while, then the space comes back
                disk.free()
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
                "refusals": load.refusals,
                "retries": load.retries,
                "answered_503": load.unavailable,
                "answered_500": load.server_errors,
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
            if disk is not None:
                conn.execute(f'DROP TABLESPACE IF EXISTS "{name}"')
        if disk is not None:
            disk.close()


def bench_faults_cmd(
    seconds: Annotated[float, typer.Option(help="load seconds per fault")] = 6.0,
    clients: Annotated[int, typer.Option(help="concurrent clients")] = 4,
    pg_url: Annotated[str | None, typer.Option(help="PostgreSQL admin URL for the scratch database")] = None,
    faults: Annotated[
        str,
        typer.Option(
            help="comma-separated faults to inject, in order; pg_restart restarts the whole local cluster "
            "(every database on it loses its connections for a moment)"
        ),
    ] = ",".join(FAULTS),
) -> None:
    """Print JSON lines: per fault, sent / acknowledged / stored / duplicates / lost / verify / ready time."""
    chosen = tuple(f.strip() for f in faults.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FAULTS]
    if unknown:
        raise typer.BadParameter(f"未知的故障 unknown fault {unknown}; choose from {', '.join(FAULTS)}")
    for rec in run(pg_url, clients=clients, seconds=seconds, faults=chosen):
        print(json.dumps(rec, ensure_ascii=False), flush=True)
