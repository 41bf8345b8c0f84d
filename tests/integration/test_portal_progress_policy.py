"""报销进度 and 政策说明 through HTTP: a visit elsewhere refused direct settlement becomes a manual
reimbursement claim the person follows stage by stage and is told about; the policy page shows the person's
own figures from the compiled policy and the ledger's accumulators."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.ledger import Ledger
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settings import Settings
from yibao.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
VISIT = json.loads((ROOT / "examples" / "visit-inpatient.json").read_text(encoding="utf-8"))
HTML = {"accept": "text/html"}


def refusing_region(folder: Path) -> Path:
    """Xi'an's region file with inpatient care elsewhere without a filing refused direct settlement."""
    src = example_path("xian")
    for f in src.parent.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    data["sources"]["test-refuse"] = {"title": "未备案异地住院回参保地手工报销（测试用）", "tag": "X"}
    for version in data["versions"]:
        for b in version["benefits"]:
            if "21" in [str(v) for v in b["visit_types"]]:
                b["refuse"] = {"localities": ["remote_unfiled"], "source": "test-refuse"}
    out = folder / "xian-refusing.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("progress") / "demo.db", persons=60)


@pytest.fixture(scope="module")
def app(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    region = refusing_region(tmp_path_factory.mktemp("region"))
    yield create_app(Settings(database_url=seeded.url, demo=True, region=str(region)))


def client(app: object, username: str) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    r = c.post("/auth/login", json={"username": username, "password": "yibao-demo-2026"})
    assert r.status_code == 200, r.text
    return c


def remote_visit(app: object, psn_no: str) -> dict[str, object]:
    hosp = app.state.store.user_by_name("hospital").fixmedins_code  # type: ignore[attr-defined]
    v = {k: val for k, val in VISIT.items() if k != "msgid"}
    v.update(
        psn_no=psn_no, fixmedins_code=hosp, mdtrt_id="MD" + uuid.uuid4().hex[:16], locality="remote_unfiled"
    )
    return v


def test_a_refused_remote_visit_appears_on_progress_and_each_change_is_a_notice(
    app: object, seeded: Seeded
) -> None:
    hospital, me, staff = client(app, "hospital"), client(app, "insured"), client(app, "auditor")
    me.get("/me/notices")  # start with nothing unread
    v = remote_visit(app, seeded.insured_psn_no)
    msgid = str(v["fixmedins_code"]) + uuid.uuid4().hex[:18]
    r = hospital.post("/api/v1/settlements", json={"msgid": msgid, "visit": v})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "locality_refused"
    # a retry of the same message does not open a second claim
    assert hospital.post("/api/v1/settlements", json={"msgid": msgid, "visit": v}).status_code == 422

    page = me.get("/me/progress").text
    total = sum(round(float(line["det_item_fee_sumamt"]) * 100) for line in VISIT["feedetail"])
    assert page.count("手工报销") >= 1 and msgid in page
    assert f"{fmt_yuan(total)} 元" in page  # the bill as the refusal recorded it
    assert "待经办机构受理" in page and "<li>提交 <time>" in page
    assert not re.search(r"\+00:00|T\d\d:\d\d:\d\d", page)  # Beijing time, as people write it
    case_ids = set(re.findall(r"/me/cases/([0-9a-f]{16})", page))
    assert len(case_ids) == 1
    case_id = case_ids.pop()

    assert case_id in staff.get("/dashboard/cases").text  # on the staff queue
    assert "手工报销" in staff.get(f"/dashboard/cases/{case_id}").text
    r = staff.post(f"/dashboard/cases/{case_id}/status", data={"status": "accepted", "note": "材料齐全"})
    assert r.status_code in (200, 303)
    notices = me.get("/me/notices").text
    assert f"/me/cases/{case_id}" in notices and "手工报销" in notices and "已受理" in notices
    page = me.get("/me/progress").text
    assert "<li>受理 <time>" in page and "医保经办机构" in page and "材料齐全" in page

    staff.post(f"/dashboard/cases/{case_id}/status", data={"status": "in_progress", "note": ""})
    staff.post(f"/dashboard/cases/{case_id}/status", data={"status": "resolved", "note": "已支付到账"})
    page = me.get("/me/progress").text
    finished = page.split("已办结", 1)[1]
    assert "<li>审核 <time>" in finished and "<li>支付 <time>" in finished and "已支付到账" in finished
    assert me.get("/me/notices").text.count(f"/me/cases/{case_id}") >= 4

    en = me.get("/me/progress?lang=en").text
    assert "manual reimbursement claim" in en and "paid" in en


def test_a_visit_settled_normally_opens_no_claim(app: object, seeded: Seeded) -> None:
    hospital, me = client(app, "hospital"), client(app, "insured")
    before = me.get("/me/progress").text.count("/me/cases/")
    v = remote_visit(app, seeded.insured_psn_no)
    v["locality"] = "remote_filed"
    msgid = str(v["fixmedins_code"]) + uuid.uuid4().hex[:18]
    r = hospital.post("/api/v1/settlements", json={"msgid": msgid, "visit": v})
    assert r.status_code == 200, r.text
    assert me.get("/me/progress").text.count("/me/cases/") == before


def test_the_policy_page_shows_my_own_deductible_and_cap_from_the_compiled_policy(
    app: object, seeded: Seeded
) -> None:
    me = client(app, "insured")
    led = Ledger.open(seeded.url)
    try:
        year = led.list_settlements(seeded.insured_psn_no, limit=1)[0].year
        person = led.get_person(seeded.insured_psn_no, dt.date(year, 12, 31))
        acc = led.accumulators(seeded.insured_psn_no, year)
    finally:
        led.close()
    book = PolicyBook.from_file(example_path("xian"))
    policy = book.for_date(dt.date(year, 6, 30))
    page = me.get(f"/me/policy?year={year}&level=3").text
    assert person.name in page
    shown = 0
    for (scheme, _vt), b in policy.benefits.items():
        if scheme != person.insutype:
            continue
        cap = b.cap_by_person_type.get(person.psn_type, b.cap)
        if cap is not None:
            assert f"年度最高支付限额：{fmt_yuan(cap)} 元" in page
            row = re.search(rf'<tr data-benefit="{b.id}">(.*?)</tr>', page, re.S)
            assert row is not None
            assert f'<td class="num used">{fmt_yuan(acc.get(b.cap_counter, 0))}</td>' in row.group(1)
            left = max(cap - acc.get(b.cap_counter, 0), 0)
            assert f'<td class="num left">{fmt_yuan(left)}</td>' in row.group(1)
            shown += 1
        for lv, names in policy.levels.items():
            d = b.deductible.get((lv, person.psn_type))
            if d is not None and b.basis != "none":
                per = "每次住院" if b.basis == "per_admission" else "每年"
                assert f"{names[0]}：起付线{per}{fmt_yuan(d)} 元" in page
    assert shown >= 1
    # each rule cites its document by name; no build notes or tags
    version = book.loaded.version_for(dt.date(year, 6, 30))
    assert version is not None
    titles = {
        book.loaded.region.sources[b.source].title
        for b in version.benefits
        if b.scheme == person.insutype and b.source
    }
    assert titles and all(f"依据：{t}" in page for t in titles)
    assert not re.search(r"DOMAIN\.md|\[(?:V|T|M|X)\]|tag:", page)
    big = me.get("/me/policy?big=1").text
    assert big.count("<section") == page.count("<section")
