"""Fixtures and helpers shared by the ``test_api_*`` modules (imported by them; no tests here)."""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import json
import shutil
import tempfile
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yibao.access.store import ServiceStore
from yibao.demo.logins import DEMO_PASSWORD, seed_demo_users
from yibao.encounter.store import EncounterStore
from yibao.ledger import Ledger, PersonRecord
from yibao.settings import Settings
from yibao.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
VISIT = json.loads((ROOT / "examples" / "visit-inpatient.json").read_text(encoding="utf-8"))
HOSP, HOSP2 = "H61000000001", "H61000000002"
ME, PARENT, STRANGER = "P000000001", "P000000002", "P000000003"
CERT_ME = "610101199001011234"


def persons() -> list[PersonRecord]:
    return [
        PersonRecord(
            ME, "张三丰", CERT_ME, "M", dt.date(1990, 1, 1), "310", "11", "610100", 100_000, [], [PARENT]
        ),
        PersonRecord(
            PARENT,
            "李四",
            "610101196001015678",
            "F",
            dt.date(1960, 1, 1),
            "310",
            "11",
            "610100",
            50_000,
            [],
            [],
        ),
        PersonRecord(
            STRANGER, "王五", "610101198505059999", "M", dt.date(1985, 5, 5), "310", "11", "610100", 0, [], []
        ),
    ]


def visit_json(psn_no: str = ME, fixmedins_code: str = HOSP, mdtrt_id: str | None = None) -> dict[str, Any]:
    v: dict[str, Any] = copy.deepcopy(VISIT)
    v.pop("msgid")
    v.update(psn_no=psn_no, fixmedins_code=fixmedins_code, mdtrt_id=mdtrt_id or "MD" + uuid.uuid4().hex[:16])
    return v


def new_msgid(code: str = HOSP) -> str:
    return code + uuid.uuid4().hex[:18]


def envelope(infno: str, data: dict[str, Any], msgid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "infno": infno,
        "msgid": msgid or new_msgid(),
        "mdtrtarea_admvs": "610100",
        "insuplc_admdvs": "610100",
        "recer_sys_code": "YBXT",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "001",
        "opter_name": "收费员",
        "input": {"data": data},
        **extra,
    }


@dataclass
class Api:
    client: TestClient
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def tx(self, who: str, infno: str, data: dict[str, Any], msgid: str | None = None, **extra: Any) -> Any:
        r = self.client.post(
            "/api/transaction", json=envelope(infno, data, msgid, **extra), headers=self.h(who)
        )
        return r

    def settle(self, who: str = "hospital", **kw: Any) -> dict[str, Any]:
        r = self.tx(who, "2207", visit_json(**kw), new_msgid(kw.get("fixmedins_code", HOSP)))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["infcode"] == 0, body
        return dict(body["output"])


LOGINS = ("insured", "insured2", "stranger", "hospital", "hospital2", "auditor", "admin", "employer")
_SQLITE_TEMPLATE: list[tuple[Path, dict[str, str]]] = []  # a seeded database file + its session tokens


def _seed(url: str) -> dict[str, str]:
    """Migrate, load the persons, create the logins (scrypt, slow) and open one session per login."""
    with Ledger.open(url) as led:
        led.migrate()
        led.add_persons(persons())
        sa_url = led.sa_url
    seed_demo_users(url, persons())
    # every test person has shown an ID card at both hospitals (1101), so they may settle for them
    enc = EncounterStore.open(sa_url)
    enc.present_many([(h, "02", p.certno, p.psn_no) for h in (HOSP, HOSP2) for p in persons()])
    enc.close()
    store = ServiceStore(sa_url)
    try:
        store.create_user("hospital2", DEMO_PASSWORD, "institution", "二院", fixmedins_code=HOSP2)
        store.create_user("stranger", DEMO_PASSWORD, "insured", "王五", psn_no=STRANGER)
        store.create_user("employer", DEMO_PASSWORD, "employer", "甲公司经办", emp_no="E1")
        ids = {u.username: u.user_id for u in store.list_users()}
        return {who: store.open_session(ids[who]) for who in LOGINS}
    finally:
        store.close()


def build_api(url: str, *, mount_web: bool = True) -> Generator[Api, None, None]:
    """A seeded service on ``url``.  SQLite databases are copies of one seeded file (sessions included),
    so each test pays for migrations and password hashing once per run, not once per test."""
    if url.startswith("sqlite:///"):
        if not _SQLITE_TEMPLATE:
            tmp = Path(tempfile.mkdtemp(prefix="yibao-api-template-"))
            atexit.register(shutil.rmtree, tmp, True)
            _SQLITE_TEMPLATE.append((tmp / "seed.db", _seed(f"sqlite:///{tmp / 'seed.db'}")))
        seed_file, tokens = _SQLITE_TEMPLATE[0]
        shutil.copyfile(seed_file, url[len("sqlite:///") :])
    else:
        tokens = _seed(url)
    app = create_app(Settings(database_url=url, session_cache_seconds=0, migrate=False, mount_web=mount_web))
    with TestClient(app) as client:
        yield Api(client, url, dict(tokens))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'api.db'}")
