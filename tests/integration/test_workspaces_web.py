"""The hospital's and the auditor's workspaces through TestClient over the demo database (``yibao demo``'s
stages: a settled year, DRG/DIP payment, audit cases with their notices, the assessment)."""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from rich.console import Console

from yibao.audit.cases import CaseStore
from yibao.audit.cases.model import CaseState
from yibao.demo.run import run_demo
from yibao.ledger import Ledger
from yibao.payment.store import clearing_rows
from yibao.settings import Settings
from yibao.web.app import create_app

PASSWORD = "yibao-demo-2026"
HTML = {"accept": "text/html"}
INSTITUTION_CODE = re.compile(r"\b[HP]\d{11}\b")


def tiny_png() -> bytes:
    """A real 1×1 PNG (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("work") / "demo.db"
    run_demo(Console(file=io.StringIO()), region="xian", persons=400, visits=0, year=2025, seed=7, db_path=db)
    return db


@pytest.fixture(scope="module")
def app(demo: Path) -> Iterator[object]:
    yield create_app(
        Settings(
            database_url=f"sqlite:///{demo}", demo=True, audit_knowledge=str(demo.parent / "demo-knowledge")
        )
    )


def client(app: object, username: str) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    r = c.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def _hospital_code(app: object) -> str:
    return str(client(app, "hospital").get("/auth/me").json()["fixmedins_code"])


def _visible(html: str) -> str:
    """The page's text without tags, scripts and the small secondary code notes."""
    html = re.sub(r"<small class=\"code\">.*?</small>", "", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_hospital_sees_its_own_settlements_payment_and_audit_notice_by_name(
    app: object, demo: Path
) -> None:
    code = _hospital_code(app)
    page = client(app, "hospital").get("/hospital", headers=HTML)
    assert page.status_code == 200
    led = Ledger.open(f"sqlite:///{demo}")
    total = led.statement(fixmedins_code=code, insutype="", begin=None, end=None)
    led.close()
    tiles = re.search(r"有效结算</span><strong>(\d+)</strong>", page.text)
    assert tiles and int(tiles.group(1)) == total.count
    # this month's 3201 row counts the active settlements stored this month, Beijing time
    import datetime as dt
    from zoneinfo import ZoneInfo

    bj = ZoneInfo("Asia/Shanghai")
    month = dt.datetime.now(bj).strftime("%Y-%m")
    led = Ledger.open(f"sqlite:///{demo}")
    stored = [s for s in led.institution_settlements(code, limit=100_000) if s.status == "active"]
    led.close()
    expected = sum(
        1 for s in stored if dt.datetime.fromisoformat(s.created).astimezone(bj).strftime("%Y-%m") == month
    )
    first = re.search(rf"<tr><td>{month}</td><td>(\d+)</td>", page.text)
    assert first and int(first.group(1)) == expected
    rows = clearing_rows(sa.create_engine(f"sqlite:///{demo}"), code)
    assert {r.method for r in rows} == {"drg", "dip"}
    for row in rows:
        assert (
            f"{row.due_fen // 100:,}.{row.due_fen % 100:02d}" in page.text
        )  # each run's amount due, in yuan
    assert "DRG 点数法" in page.text and "DIP 按病种分值" in page.text
    assert re.search(r"可申诉，剩余 \d+ 个工作日", page.text)  # the demo hospital's notice is recent
    assert not INSTITUTION_CODE.search(_visible(page.text)), "an institution shown only by its code"


def test_a_hospital_sees_no_other_institution_and_no_bureau_page(app: object) -> None:
    code = _hospital_code(app)
    with CaseStore(str(app.state.settings.database_url)) as store:  # type: ignore[attr-defined]
        other = next(c for c in store.find() if c.fixmedins_code != code)
    h = client(app, "hospital")
    r = h.get(f"/hospital/audit/{other.case_id}", headers=HTML)
    assert r.status_code == 404 and "未找到该稽核案件" in r.text and '{"detail"' not in r.text
    assert h.get("/dashboard/audit", headers=HTML).status_code == 403
    assert h.get("/dashboard/review", headers=HTML).status_code == 403
    assert client(app, "insured").get("/hospital", headers=HTML).status_code == 403


def test_an_appeal_with_evidence_is_stored_and_an_early_decision_or_a_second_appeal_is_refused(
    app: object, demo: Path
) -> None:
    code = _hospital_code(app)
    case_id = f"2025:{code}"
    h, a = client(app, "hospital"), client(app, "auditor")
    # a file that is not a PDF, JPEG or PNG is refused in Chinese first, and nothing is written
    r = h.post(
        f"/hospital/audit/{case_id}/appeal",
        data={"item_no": "1", "reason": "有处方依据"},
        files={"file": ("note.txt", b"just text", "image/png")},
        headers=HTML,
    )
    assert r.status_code == 422 and "只接受 PDF、JPEG 或 PNG 文件" in r.text
    with CaseStore(f"sqlite:///{demo}") as store:
        assert store.get(case_id).state is CaseState.NOTIFIED
    png = tiny_png()
    r = h.post(
        f"/hospital/audit/{case_id}/appeal",
        data={"item_no": "1", "reason": "患者已登记门慢，长处方有据，附登记表"},
        files={"file": ("登记表.png", png, "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = h.get(f"/hospital/audit/{case_id}", headers=HTML).text
    assert "已申诉，待裁定" in page and "患者已登记门慢" in page and "登记表.png" in page
    link = re.search(rf'href="(/hospital/audit/{re.escape(case_id)}/evidence/[0-9a-f]+)"', page)
    assert link is not None
    got = h.get(link.group(1))
    assert got.content == png and got.headers["content-type"] == "image/png"
    staff_link = link.group(1).replace("/hospital/", "/dashboard/")
    assert hashlib.sha256(a.get(staff_link).content).hexdigest() == hashlib.sha256(png).hexdigest()
    # the window is still open for the other items: the bureau cannot decide yet
    r = a.post(
        f"/dashboard/audit/{case_id}/decide",
        data={"outcome_1": "dismissed", "reason_1": "登记属实"},
        headers=HTML,
    )
    assert r.status_code == 409 and "申诉期未满" in r.text, r.text[-1500:]
    # an appeal of the same item twice is refused
    r = h.post(f"/hospital/audit/{case_id}/appeal", data={"item_no": "1", "reason": "再次"}, headers=HTML)
    assert r.status_code == 409 and "已申诉过" in r.text


def test_the_auditor_lets_a_late_case_stand_decides_it_and_posts_the_deduction(
    app: object, demo: Path
) -> None:
    code = _hospital_code(app)
    a = client(app, "auditor")
    listing = a.get("/dashboard/audit", headers=HTML).text
    assert "已超期" in listing and "逾期未申诉：按认可处理" in listing
    assert not INSTITUTION_CODE.search(_visible(listing))
    with CaseStore(f"sqlite:///{demo}") as store:
        late = next(c for c in store.find(state="notified") if c.fixmedins_code != code)
    page = a.get(f"/dashboard/audit/{late.case_id}", headers=HTML).text
    assert 'id="overdue"' in page and 'id="expire"' in page
    assert a.post(f"/dashboard/audit/{late.case_id}/expire", follow_redirects=False).status_code == 303
    with CaseStore(f"sqlite:///{demo}") as store:
        after = store.get(late.case_id)
    assert after.state is CaseState.DECIDED and after.upheld_fen == late.flagged_fen
    assert a.post(f"/dashboard/audit/{late.case_id}/deduct", follow_redirects=False).status_code == 303
    with CaseStore(f"sqlite:///{demo}") as store:
        done = store.get(late.case_id)
    led = Ledger.open(f"sqlite:///{demo}")
    posted = [d for d in led.list_deductions(late.fixmedins_code) if d.reference == late.case_id]
    led.close()
    assert done.state is CaseState.DEDUCTED and len(posted) == 1 and posted[0].amount == done.deducted_fen > 0
    page = a.get(f"/dashboard/audit/{late.case_id}", headers=HTML).text
    assert "已扣款" in page and "扣款入账" in page  # the state and the history's last event
    assert a.post(f"/dashboard/audit/{late.case_id}/expire", headers=HTML).status_code == 409


def test_the_review_queue_ranks_items_and_names_every_item_and_rule(app: object) -> None:
    page = client(app, "auditor").get("/dashboard/review", headers=HTML).text
    scores = [float(s) for s in re.findall(r'class="score"[^>]*>([\d.]+)%<', page)]
    assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
    reasons = re.findall(r'<p class="reason">(.*?)</p>', page, flags=re.S)
    assert reasons
    for text in reasons:  # a catalogue code appears only as the small note after its name
        words = re.sub(r'<small class="code">（[A-Z0-9]+）</small>', "", text)
        assert not re.search(r"[A-Z0-9]{15,30}", words), text
        assert '<small class="code">' in text
    assert "超量开药" in page and "<dt>处方天数</dt>" in page  # the detector by name, the evidence in words


def test_the_complaint_queue_names_the_person_and_the_hospital_the_complaint_is_about(
    app: object, demo: Path
) -> None:
    me = client(app, "insured")
    psn = me.get("/auth/me").json()["psn_no"]
    led = Ledger.open(f"sqlite:///{demo}")
    visit = next(s for s in led.list_settlements(psn, limit=20) if s.status == "active")
    name = led.get_person(psn, visit.visit.begin_date).name
    led.close()
    r = me.post(
        "/me/cases",
        data={"kind": "complaint", "detail": "收费没有解释清楚", "psn_no": psn, "setl_id": visit.setl_id},
        follow_redirects=False,
    )
    assert r.status_code == 303
    queue = client(app, "auditor").get("/dashboard/cases", headers=HTML).text
    row = next(tr for tr in queue.split("<tr") if "收费" in tr or name in tr)
    assert name in row
    hospital = re.search(r"<td>([^<]+) · \d{4}年", row)
    assert hospital and not INSTITUTION_CODE.search(hospital.group(1))  # the hospital by name


def test_the_hospital_sees_complaints_about_its_visits_but_not_who_complained(
    app: object, demo: Path
) -> None:
    import datetime as dt

    from yibao.feedback import core
    from yibao.feedback.store import PortalStore

    code = _hospital_code(app)
    led = Ledger.open(f"sqlite:///{demo}")
    ours = led.institution_settlements(code, limit=1)[0]
    name = led.get_person(ours.psn_no, ours.visit.begin_date).name
    led.close()
    store = PortalStore(sa.create_engine(f"sqlite:///{demo}"), core.load_params())
    store.open_case(
        kind="complaint",
        psn_no=ours.psn_no,
        filed_by="someone",
        actor_role="insured",
        subject="",
        detail="护士态度生硬，等候三小时",
        now=dt.datetime.now(dt.UTC),
        setl_id=ours.setl_id,
    )
    page = client(app, "hospital").get("/hospital", headers=HTML).text
    listed = page.split('id="complaints"')[1].split("</ul>")[0]
    assert "护士态度生硬" in listed and name not in listed and ours.psn_no not in listed
