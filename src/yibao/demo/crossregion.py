"""Several regions and the clearing hub as separate processes on loopback: prepare each region's database
(persons, logins), start the hub and the regions (uvicorn subprocesses), send visitors' 2207s, and stall,
kill or restart a region.  Used by ``yibao crossregion demo``, ``yibao bench crossregion`` and the
multi-process test."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path

PASSWORD = "demo-password-1"
HUB_KEY = "demo-hub-key"
DAY = dt.date(2025, 6, 10)
# class-A items in the shipped catalogue (the Shaanxi example) a visitor's stay is made of: an appendicectomy
STAY_LINES = (
    ("003310030010000", 85000, 1),  # 阑尾切除术 850.00
    ("003301000020000", 80000, 1),  # 全身麻醉 800.00
    ("001104000010000", 1500, 5),  # 住院诊察费 15.00 × 5 days
    ("XJ01DDA003B002010119046", 350, 20),  # 头孢曲松钠 3.50 × 20
    ("003109020010000", 20000, 1),  # 电子胃镜检查 200.00
)


def institution(admdvs: str) -> str:
    """The region's example hospital: a 12-character code (H + 11 digits), as msgids begin with it."""
    return f"H{admdvs}00001"


def psn_no(admdvs: str, k: int) -> str:
    return f"P{admdvs}{k:06d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def region_file(region: str) -> Path:
    """An example region name (``xian``) or a region file path."""
    p = Path(region)
    return p if p.suffix in (".yaml", ".yml") else example_path(region)


def variant_region(src: str, admdvs: str, name: str, folder: Path) -> Path:
    """A copy of an example region under another code and name (for a third region in the bench), with
    its catalogue beside it."""
    import yaml

    base = example_path(src)
    raw = yaml.safe_load(base.read_text(encoding="utf-8"))
    raw["region"] = {"admdvs": admdvs, "name": name, "name_en": f"example region {admdvs}"}
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base.parent / raw["catalogue"], folder / raw["catalogue"])
    out = folder / f"{admdvs}.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def prepare_region(db_url: str, region: str, n_persons: int, *, migrate: bool = True) -> str:
    """Migrate the region's database, add ``n_persons`` insured persons (in service and residents, by
    turns) and the logins ``hospital`` (its institution) and ``admin``; returns the region code."""
    from yibao.access.store import ServiceStore
    from yibao.ledger import Ledger, PersonRecord

    book = PolicyBook.from_file(region_file(region))
    code = book.admdvs
    persons = [
        PersonRecord(
            psn_no(code, k),
            f"参保人{k}",
            f"{code}19700101{k:04d}",
            "M" if k % 2 else "F",
            dt.date(1970, 1, 1),
            "310" if k % 2 else "390",
            "11" if k % 2 else "31",
            insuplc_admdvs=code,
            account_balance=200_000 if k % 2 else 0,
        )
        for k in range(n_persons)
    ]
    with Ledger.open(db_url) as led:
        if migrate:
            led.migrate()
        led.add_persons(persons)
        sa_url = led.sa_url
    from yibao.encounter.store import EncounterStore, Institution

    enc = EncounterStore.open(sa_url)  # the hospital as the visit flow (2201 …) knows it
    try:
        enc.add_institution(
            Institution(institution(code), f"{book.loaded.region.region.name}定点医院", "3", code)
        )
    finally:
        enc.close()
    store = ServiceStore(sa_url)
    try:
        store.create_user("hospital", PASSWORD, "institution", f"{book.loaded.region.region.name}定点医院",
                          fixmedins_code=institution(code))  # fmt: skip
        store.create_user("admin", PASSWORD, "admin", "经办机构")
    finally:
        store.close()
    return code


def envelope(
    msgid: str, care: str, insu: str, patient: str, mdtrt_id: str, day: dt.date = DAY
) -> dict[str, Any]:
    """A 2207 from the care region's hospital for a visitor insured in ``insu`` (a short stay)."""
    lines = [
        {
            "feedetl_sn": str(i + 1),
            "med_list_codg": code,
            "cnt": str(qty),
            "pric": f"{price / 100:.2f}",
            "det_item_fee_sumamt": f"{price * qty / 100:.2f}",
        }
        for i, (code, price, qty) in enumerate(STAY_LINES)
    ]
    return {
        "infno": "2207",
        "msgid": msgid,
        "mdtrtarea_admvs": care,
        "insuplc_admdvs": insu,
        "fixmedins_code": institution(care),
        "input": {
            "data": {
                "mdtrt_id": mdtrt_id,
                "psn_no": patient,
                "med_type": "21",
                "fixmedins_code": institution(care),
                "hosp_lv": "3",
                "begntime": (day - dt.timedelta(days=4)).isoformat(),
                "endtime": day.isoformat(),
                "feedetail": lines,
            }
        },
    }


def _post(url: str, body: dict[str, Any], token: str = "", timeout: float = 30.0) -> tuple[int, Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _get(url: str, token: str = "", headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, headers=headers or {})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@dataclass
class Proc:
    name: str
    port: int
    cmd: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout} s; see {self.log}")

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


@dataclass
class Cluster:
    """The hub and the regions (name → admdvs) as processes; ``tokens``: the hospital login per region."""

    workdir: Path
    regions: dict[str, str] = field(default_factory=dict)  # admdvs -> region name
    procs: dict[str, Proc] = field(default_factory=dict)  # "hub" or admdvs
    tokens: dict[str, str] = field(default_factory=dict)
    admin_tokens: dict[str, str] = field(default_factory=dict)
    timeout: float = 2.0

    @classmethod
    def start(
        cls, workdir: Path, region_names: list[str], *, persons: int = 200, timeout: float = 2.0,
        workers: int = 1, db_urls: dict[str, str] | None = None,
    ) -> Cluster:  # fmt: skip
        workdir.mkdir(parents=True, exist_ok=True)
        c = cls(workdir, timeout=timeout)
        ports: dict[str, int] = {}
        dbs: dict[str, str] = {}
        template = workdir / "template.db"
        if not template.exists():  # migrate once, copy for every SQLite database (hub and regions)
            from yibao.db import migrate

            migrate.upgrade(f"sqlite:///{template}")
        for name in [*region_names, "hub"]:
            if not (db_urls or {}).get(name):
                shutil.copyfile(template, workdir / f"{Path(name).stem}.db")
        for name in region_names:
            url = (db_urls or {}).get(name) or f"sqlite:///{workdir / (Path(name).stem + '.db')}"
            code = prepare_region(url, name, persons, migrate=bool((db_urls or {}).get(name)))
            c.regions[code] = name
            ports[code] = free_port()
            dbs[code] = url
        hub_port = free_port()
        uv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
        hub_env = {
            **base_env,
            "YIBAO_XRHUB_DB": f"sqlite:///{workdir / 'hub.db'}",
            "YIBAO_XRHUB_REGIONS": ",".join(f"{code}=http://127.0.0.1:{p}" for code, p in ports.items()),
            "YIBAO_HUB_KEY": HUB_KEY,
            "YIBAO_HUB_TIMEOUT": str(timeout),
        }
        c.procs["hub"] = Proc("hub", hub_port, [*uv, "--port", str(hub_port), "--factory",
                              "yibao.web.hub:hub_from_env"], hub_env, workdir / "hub.log")  # fmt: skip
        for code, name in c.regions.items():
            env = {
                **base_env,
                "YIBAO_DATABASE_URL": dbs[code],
                "YIBAO_REGION": name,
                "YIBAO_MIGRATE": "0",
                "YIBAO_MOUNT_WEB": "0",
                "YIBAO_AUDIT_IN_EVENT": "0",
                "YIBAO_HUB_URL": f"http://127.0.0.1:{hub_port}",
                "YIBAO_HUB_KEY": HUB_KEY,
                # the care region waits a little longer than the hub, so the hub's answer decides
                "YIBAO_HUB_TIMEOUT": str(timeout + 1.0),
            }
            cmd = [*uv, "--port", str(ports[code]), "--factory", "yibao.web.serve:app_from_env"]
            if workers > 1:
                cmd += ["--workers", str(workers)]
            c.procs[code] = Proc(name, ports[code], cmd, env, workdir / f"{Path(name).stem}.log")
        try:
            for p in c.procs.values():
                p.start()
            c.procs["hub"].wait_ready("/health")
            for code in c.regions:
                c.procs[code].wait_ready("/fhir/metadata")
                c.tokens[code] = c.login(code, "hospital")
                c.admin_tokens[code] = c.login(code, "admin")
        except BaseException:
            c.close()
            raise
        return c

    def login(self, code: str, user: str) -> str:
        status, body = _post(self.procs[code].base + "/auth/login", {"username": user, "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"login {user} at {code}: {status} {body}")
        return str(body["token"])

    def settle(self, care: str, insu: str, k: int, msgid: str, timeout: float = 30.0) -> tuple[int, Any]:
        """Person ``k`` of ``insu`` treated in ``care`` (2207 at the care region's hospital)."""
        env = envelope(msgid, care, insu, psn_no(insu, k), f"M{msgid}")
        return _post(self.procs[care].base + "/fsi/api/2207", env, self.tokens[care], timeout)

    def resolve(self, code: str) -> dict[str, int]:
        status, body = _post(self.procs[code].base + "/api/crossregion/resolve?older_than=0", {},
                             self.admin_tokens[code])  # fmt: skip
        if status != 200:
            raise RuntimeError(f"resolve at {code}: {status} {body}")
        return dict(body)

    def records(self, code: str, side: str) -> list[dict[str, Any]]:
        return list(
            _get(f"{self.procs[code].base}/api/crossregion/records?side={side}", self.admin_tokens[code])
        )

    def routes(self) -> list[dict[str, Any]]:
        return list(_get(self.procs["hub"].base + "/hub/v1/routes", headers={"X-Yibao-Hub-Key": HUB_KEY}))

    def restart(self, code: str) -> None:
        p = self.procs[code]
        p.stop()
        p.start()
        p.wait_ready("/fhir/metadata")
        self.tokens[code] = self.login(code, "hospital")
        self.admin_tokens[code] = self.login(code, "admin")

    def hub_post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return _post_key(self.procs["hub"].base + path, body)

    def hub_get(self, path: str) -> Any:
        return _get(self.procs["hub"].base + path, headers={"X-Yibao-Hub-Key": HUB_KEY})

    def file(self, insu: str, k: int, care: str, type_code: str = "12") -> dict[str, Any]:
        """A filing for person ``k`` of ``insu`` made at the bureau's counter."""
        status, body = _post(self.procs[insu].base + "/api/crossregion/filings",
                             {"psn_no": psn_no(insu, k), "care_admdvs": care, "type_code": type_code,
                              "channel": "counter", "begin": "2025-01-01"}, self.admin_tokens[insu])  # fmt: skip
        if status != 200:
            raise RuntimeError(f"filing at {insu}: {status} {body}")
        return dict(body)

    def close(self) -> None:
        for p in self.procs.values():
            p.stop()


def _post_key(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Yibao-Hub-Key": HUB_KEY},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class DemoResult:
    settlements: list[dict[str, Any]]
    clearing: dict[str, Any]
    verified: dict[str, list[str]]  # "care→insu as care/insured" -> breaks (empty: verified)
    reconciliation: dict[str, Any]


def run_demo(workdir: Path, month: str = "2025-06") -> DemoResult:
    """Start the hub and Xi'an and Weinan, settle visitors both ways (one Weinan retiree filed as living in
    Xi'an), dispute one settlement, clear the month and let each region verify its statements."""
    from yibao.crossregion.clearing import Statement, StatementLine, verify_statement

    if workdir.exists():
        shutil.rmtree(workdir)
    c = Cluster.start(workdir, ["xian", "weinan"], persons=40, timeout=3.0)
    try:
        xa, wn = "610100", "610500"
        c.file(wn, 3, xa)  # 异地长期居住 filed at the Weinan counter
        rows: list[dict[str, Any]] = []
        n = 0
        for care, insu, people in ((xa, wn, range(1, 7)), (wn, xa, range(1, 5))):
            for k in people:
                n += 1
                msgid = f"{institution(care)}{n:017d}"
                _status, ans = c.settle(care, insu, k, msgid)
                out = ans.get("output") or {}
                setl = out.get("setlinfo", {})
                rows.append({
                    "msgid": msgid, "care": care, "insu": insu, "psn_no": psn_no(insu, k),
                    "infcode": ans.get("infcode"), "err": ans.get("err_msg"),
                    "locality": ((out.get("crossregion") or {}).get("coverage") or {}).get("locality", ""),
                    **{f: setl.get(f, "") for f in ("medfee_sumamt", "act_pay_dedc", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")},
                })  # fmt: skip
        disputed = rows[1]["msgid"]
        c.hub_post(
            "/hub/v1/disputes", {"msgid": disputed, "month": month, "reason": "病历与费用不符，待核 (示例)"}
        )
        status, clearing = c.hub_post(f"/hub/v1/clearing/{month}/close", {})
        if status != 200:
            raise RuntimeError(f"clearing: {status} {clearing}")
        verified: dict[str, list[str]] = {}
        for pair in clearing["pairs"]:
            st = Statement(pair["care_admdvs"], pair["insu_admdvs"], month,
                           tuple(StatementLine(x["msgid"], x["owed_fen"]) for x in pair["statement"]["lines"]),
                           pair["statement"]["total_fen"])  # fmt: skip
            for side, code, table in (
                ("care", pair["care_admdvs"], "outbound"),
                ("insured", pair["insu_admdvs"], "inbound"),
            ):
                other = "insu_admdvs" if side == "care" else "care_admdvs"
                peer = pair["insu_admdvs"] if side == "care" else pair["care_admdvs"]
                own = {
                    r["msgid"]: r["fund_pay_sumamt"] + r["acct_pay"]
                    for r in c.records(code, table)
                    if r["status"] == "settled" and r.get(other, peer) == peer and r["setl_date"][:7] == month
                    and r["msgid"] not in pair["held"]
                }  # fmt: skip
                verified[f"{pair['care_admdvs']}→{pair['insu_admdvs']} {side}"] = [
                    f"{b.kind} {b.msgid} {b.here}/{b.there}" for b in verify_statement(st, own)
                ]
        recon: dict[str, Any] = {}
        for code in (xa, wn):
            mine = [
                {"msgid": r["msgid"], "status": r["status"], "owed": r["fund_pay_sumamt"] + r["acct_pay"]}
                for r in c.records(code, "outbound") if r["status"] in ("settled", "reversed")
            ]  # fmt: skip
            _s, recon[code] = c.hub_post(
                "/hub/v1/reconcile", {"admdvs": code, "side": "care", "records": mine}
            )
        return DemoResult(rows, clearing, verified, recon)
    finally:
        c.close()
