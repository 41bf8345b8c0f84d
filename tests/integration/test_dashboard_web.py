"""The bureau dashboard through TestClient over a seeded SQLite demo database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.ledger import Ledger
from yibao.settings import Settings
from yibao.web.app import create_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_demo_db(tmp_path_factory.mktemp("dash") / "demo.db", persons=120)


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> Iterator[object]:
    yield create_app(Settings(database_url=seeded.url, demo=True))


@pytest.fixture
def auditor(app: object) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    assert (
        c.post("/auth/login", json={"username": "auditor", "password": "yibao-demo-2026"}).status_code == 200
    )
    return c


def test_chart_data_adds_up_to_the_ledger_totals(auditor: TestClient, seeded: Seeded) -> None:
    led = Ledger.open(seeded.url)
    totals = led.totals()
    led.close()
    d = auditor.get("/dashboard/data.json").json()
    assert sum(r["medfee"] for r in d["by_scheme"]) == totals["medfee_sumamt"]
    assert sum(r["medfee"] for r in d["by_level"]) == totals["medfee_sumamt"]
    assert sum(r["visits"] for r in d["by_month"]) == totals["count"]
    spent = sum(r["expenditure"] for rows in d["fund"].values() for r in rows)
    assert spent == totals["hifp_pay"]


def test_the_overview_follows_a_cancellation_though_it_reuses_its_frames(
    auditor: TestClient, seeded: Seeded
) -> None:
    before = auditor.get("/dashboard/data.json").json()
    led = Ledger.open(seeded.url)
    victim = next(s for s in led.list_settlements(None, limit=50) if s.status == "active")
    led.cancel(victim.setl_id, "CANCELDASH" + "0" * 20)
    totals = led.totals()
    led.close()
    after = auditor.get("/dashboard/data.json").json()
    assert sum(r["visits"] for r in after["by_month"]) == sum(r["visits"] for r in before["by_month"]) - 1
    assert sum(r["medfee"] for r in after["by_scheme"]) == totals["medfee_sumamt"]


def test_overview_shows_districts_drivers_and_says_when_no_fund_accounts_are_booked(
    auditor: TestClient, seeded: Seeded
) -> None:
    page = auditor.get("/dashboard").text
    districts = set(pl.read_parquet(seeded.data_dir / "institutions.parquet")["district"].to_list())
    assert any(d in page for d in districts)
    assert "基金账户尚未记账" in page and "yibao fund book" in page
    assert 'class="alert' not in page  # no income booked: no months payable, no invented deficit
    assert 'id="drivers"' in page and "/dashboard/echarts.min.js" in page


def _fund_file(tmp_path: Path, opening: str, income: str) -> Path:
    body = "\n".join(f'      "2025-{m:02d}": "{income}"' for m in range(1, 13))
    p = tmp_path / "fund.yaml"
    p.write_text(
        f'source: 测试收入月报 test\nschemes:\n  "310":\n    opening_balance: "{opening}"\n    income:\n{body}\n'
        f'  "390":\n    opening_balance: "{opening}"\n    income:\n{body}\n',
        encoding="utf-8",
    )
    return p


def test_a_loaded_fund_file_drives_months_payable_and_alerts(
    auditor: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_FUND_FILE", str(_fund_file(tmp_path, "0", "0")))
    page = auditor.get("/dashboard").text
    assert "测试收入月报" in page and "尚未导入基金收入数据" not in page
    assert page.count('class="alert red"') >= 2  # no income at all: both schemes short and in deficit
    monkeypatch.setenv("YIBAO_FUND_FILE", str(_fund_file(tmp_path, "100000000000", "100000000")))
    page = auditor.get("/dashboard").text
    assert 'class="alert red"' not in page
    assert "结余过多" in page


def test_a_bad_fund_file_is_named(
    auditor: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yibao.fund.core import DashboardError
    from yibao.fund.data import load_fund_file

    p = tmp_path / "bad.yaml"
    p.write_text('source: x\nschemes:\n  "310": {opening_balance: "1.234"}\n', encoding="utf-8")
    with pytest.raises(DashboardError) as e:
        load_fund_file(p)
    assert e.value.field == "schemes.310"
    p.write_text('source: x\nschemes:\n  "310": {income: {"2025-13": "1.00"}}\n', encoding="utf-8")
    with pytest.raises(DashboardError) as e:
        load_fund_file(p)
    assert e.value.field == "schemes.310" and e.value.reason.startswith(
        "月份须为 YYYY-MM month must be YYYY-MM ("
    )


def test_the_payment_page_shows_each_run_by_institution_name_in_yuan(
    auditor: TestClient, seeded: Seeded
) -> None:
    assert "暂无付费结果" in auditor.get("/dashboard/payment").text
    inst = pl.read_parquet(seeded.data_dir / "institutions.parquet").row(0, named=True)
    eng = sa.create_engine(seeded.url)
    with eng.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO payment_run VALUES ('t-drg-2025', 'drg', 2025, 'test', 123456, '1/1', '3/2', 7, "
                "'2026-01-01T00:00:00+00:00')"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO payment_clearing VALUES ('t-drg-2025', :code, '3', 7, 11720, 215228400, "
                "2152284, 2401105, 1779791, 93673, 621314, 248821)"
            ),
            {"code": inst["fixmedins_code"]},
        )
    try:
        page = auditor.get("/dashboard/payment").text
        assert inst["name"] in page and "DRG 点数法" in page
        assert "24,011.05" in page and "21,522.84" in page and "1.17" in page  # due, cost (yuan), CMI
        assert "150.00 元/点" in page  # 3/2 fen per 1/10000 point = 150 yuan a point
        assert "cost_fen" not in page and "due_fen" not in page
    finally:
        with eng.begin() as c:
            c.execute(sa.text("DELETE FROM payment_clearing WHERE run_id = 't-drg-2025'"))
            c.execute(sa.text("DELETE FROM payment_run WHERE run_id = 't-drg-2025'"))
        eng.dispose()


def test_simulation_reports_are_listed_and_served_from_their_folder_only(
    auditor: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_REPORTS_DIR", str(tmp_path))
    assert "暂无数据" in auditor.get("/dashboard/simulation").text
    (tmp_path / "lower-deductible.html").write_text("<html>report</html>", encoding="utf-8")
    (tmp_path.parent / "secret.html").write_text("secret", encoding="utf-8")
    assert "lower-deductible.html" in auditor.get("/dashboard/simulation").text
    assert auditor.get("/dashboard/reports/lower-deductible.html").text == "<html>report</html>"
    assert auditor.get("/dashboard/reports/..%2Fsecret.html").status_code == 404
    assert auditor.get("/dashboard/reports/missing.html").status_code == 404


def test_vendored_echarts_is_served_without_a_cdn(auditor: TestClient) -> None:
    r = auditor.get("/dashboard/echarts.min.js")
    assert r.status_code == 200 and "echarts" in r.text[:5000].lower()
    assert "cdn" not in auditor.get("/dashboard").text.lower()
