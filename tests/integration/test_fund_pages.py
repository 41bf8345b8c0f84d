"""The fund, warning, projection, budget, assessment and network pages through TestClient over a seeded demo
database after the demo's fund stage; the CLI on the same database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from yibao.demo.seed import Seeded, seed_demo_db
from yibao.settings import Settings
from yibao.web.app import create_app

PASSWORD = "yibao-demo-2026"


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Seeded, dict[str, Any]]:
    from yibao.demo.fund import fund_stage

    seeded = seed_demo_db(tmp_path_factory.mktemp("fund") / "demo.db", persons=300)
    out = fund_stage(seeded.url, seeded.data_dir, history_years=2, simulate_candidate=None)
    return seeded, out


@pytest.fixture(scope="module")
def app(staged: tuple[Seeded, dict[str, Any]]) -> Iterator[object]:
    yield create_app(Settings(database_url=staged[0].url, demo=True))


def _login(app: object, user: str) -> TestClient:
    c = TestClient(app)  # type: ignore[arg-type]
    assert c.post("/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return c


@pytest.fixture
def auditor(app: object) -> TestClient:
    return _login(app, "auditor")


def test_the_stage_books_real_income_and_payments_and_sums_budgets_to_the_fen(
    staged: tuple[Seeded, dict[str, Any]],
) -> None:
    _, out = staged
    assert out["funds"]["390100"]["income"] > 0 and out["funds"]["390100"]["payments"] > 0
    assert out["budget"] == out["budget_institutions_sum"] > 0
    assert out["alerts"] >= 1 and out["acknowledged"] and out["appeal"]
    assert 0 < out["backtest_mape_monthly"] < 0.5
    assert any(line.startswith("精算预测") for line in out["lines"])
    xr = out["cleared_outflow"]
    assert xr["months"] == 12 and xr["lines"] > 0 and xr["unmatched"] == 0
    # each institution's score and what it did to its payment; the network's suggested sites
    assert set(out["clearing"]) and all("coefficient" in v for v in out["clearing"].values())
    assert any("建议新增" in line for line in out["lines"]) and out["network"]["sites"]


def test_accounts_page_shows_every_fund_its_sources_and_the_batches(auditor: TestClient) -> None:
    page = auditor.get("/dashboard/fund").text
    assert "城乡居民基本医疗保险统筹基金" in page and "医疗救助基金" in page
    assert "财政补助" in page and "按现行政策重算" in page and "人社部发〔2009〕67号" in page
    d = auditor.get("/dashboard/fund/accounts.json").json()
    f = d["390100"]
    assert len(f["months"]) == len(f["closing"]) == len(f["months_payable"])
    # the overview now reads the booked accounts, not an illustrative income
    over = auditor.get("/dashboard").text
    assert "基金账户（已记账" in over and "示意" not in over


def test_an_alert_is_acknowledged_followed_up_and_closed_from_the_page(auditor: TestClient) -> None:
    page = auditor.get("/dashboard/fund/warnings").text
    assert "累计结余可支付月数" in page
    # the stage cleared its filed remote visits through the hub's clearing: the outflow reads them as cleared
    assert "含跨省清算" in page and "已清算（基金）" in page
    # insured persons month by month, with where they come from
    assert "参保人数（月末）" in page and "2025-12" in page
    ids = re.findall(r'href="/dashboard/fund/alerts/(\w+)"', page)
    assert ids
    target = next(i for i in ids if "待确认" in auditor.get(f"/dashboard/fund/alerts/{i}").text)
    r = auditor.post(
        f"/dashboard/fund/alerts/{target}", data={"status": "closed", "note": "x"}, follow_redirects=False
    )
    assert r.status_code == 409  # acknowledge first
    assert (
        auditor.post(f"/dashboard/fund/alerts/{target}", data={"status": "acknowledged"}).status_code == 200
    )
    assert (
        auditor.post(
            f"/dashboard/fund/alerts/{target}", data={"status": "following_up", "note": "约谈医院"}
        ).status_code
        == 200
    )
    done = auditor.post(f"/dashboard/fund/alerts/{target}", data={"status": "closed", "note": "已整改"}).text
    assert "已关闭" in done and "约谈医院" in done and "已整改" in done
    assert auditor.get("/dashboard/fund/alerts/nope").status_code == 404


def test_projection_page_shows_the_fan_the_crossings_and_the_backtest_error(auditor: TestClient) -> None:
    page = auditor.get("/dashboard/fund/projection").text
    assert 'id="chart-fan"' in page and "回测" in page and "MAPE" in page and 'id="crossings"' in page
    p = auditor.get("/dashboard/fund/projection.json").json()
    assert p["paths"] == 1000 and p["horizon"] == 60
    assert {"baseline", "premium", "epidemic"} <= set(p["scenarios"])
    fan = p["scenarios"]["baseline"]["funds"]["390100"]["fan"]
    assert len(fan["p50"]) == 60 and all(
        a <= b for a, b in zip(fan["p5"], fan["p95"], strict=True) if a is not None and b is not None
    )


def test_budget_page_shows_the_split_to_the_fen_and_the_clearing_explained(
    auditor: TestClient, staged: tuple[Seeded, dict[str, Any]]
) -> None:
    page = auditor.get("/dashboard/fund/budget").text
    total = f"{staged[1]['budget'] / 100:,.2f}"
    assert f'<strong id="sum-inst">{total}</strong>' in page and "到分相等" in page
    assert "清算结果" in page and "质量保证金" in page


def test_assessment_pages_explain_each_score_and_an_institution_sees_only_its_own(
    monkeypatch: pytest.MonkeyPatch, app: object, auditor: TestClient, staged: tuple[Seeded, dict[str, Any]]
) -> None:
    page = auditor.get("/dashboard/assess").text
    codes = re.findall(r'href="/dashboard/assess/(\w+)"', page)
    assert codes and "满意度" in page
    assert "第三方满意度调查" in page and "portal_ratings" not in page  # what the run read, by name
    detail = auditor.get(f"/dashboard/assess/{codes[0]}").text
    assert "年度考核得分" in detail and "质量保证金返还比例" in detail and "申诉截止" in detail
    from yibao.access.store import ServiceStore

    svc = ServiceStore(staged[0].url)
    try:
        svc.create_user("inst-a", PASSWORD, "institution", "甲医院医保办", fixmedins_code=codes[0])
    finally:
        svc.close()
    inst = _login(app, "inst-a")
    import datetime as dt

    from yibao.web.portal import pages as portal_pages

    monkeypatch.setattr(portal_pages, "local_today", lambda: dt.date(2026, 3, 30))  # after the window
    late = inst.get(f"/dashboard/assess/{codes[0]}").text
    assert 'id="window-closed"' in late and 'id="file-appeal"' not in late
    assert (
        inst.post(
            f"/dashboard/assess/{codes[0]}/appeal", data={"indicator": "drug_share", "reason": "迟"}
        ).status_code
        == 409
    )
    monkeypatch.setattr(portal_pages, "local_today", lambda: dt.date(2026, 1, 20))  # inside it
    mine = inst.get(f"/dashboard/assess/{codes[0]}")
    assert mine.status_code == 200 and 'id="file-appeal"' in mine.text and "年度考核得分" in mine.text
    assert inst.get(f"/dashboard/assess/{codes[1]}").status_code == 403
    assert inst.get("/dashboard/assess").status_code == 403  # the list is the bureau's
    # the institution files an appeal from its page; the bureau sees it on the same page
    r = inst.post(
        f"/dashboard/assess/{codes[0]}/appeal", data={"indicator": "drug_share", "reason": "外院药品误计入"}
    )
    assert r.status_code == 200 and "外院药品误计入" in r.text
    assert "外院药品误计入" in auditor.get(f"/dashboard/assess/{codes[0]}").text
    assert (
        auditor.post(
            f"/dashboard/assess/{codes[1]}/appeal", data={"indicator": "drug_share", "reason": "x"}
        ).status_code
        == 403
    )


def test_the_assessment_page_shows_the_break_rate_computed_from_the_reconciliations(
    auditor: TestClient, staged: tuple[Seeded, dict[str, Any]]
) -> None:
    rec = staged[1]["reconciliation"]
    assert rec["kept"] > rec["breaks"] >= 2 and len(rec["break_rates"]) == 2
    assert any(line.startswith("对账（3201 总账对账") for line in staged[1]["lines"])
    assert "国家接口对账记录" in auditor.get("/dashboard/assess").text  # what the run read, by name
    for code, rate in rec["break_rates"].items():
        assert rate is not None and rate > 0
        page = auditor.get(f"/dashboard/assess/{code}").text
        assert f"3201 对账不平率 {rate / 100:.1f}%" in page
        assert "来源：国家接口对账记录" in page and "不平 1 期" in page
    first = min(rec["break_rates"])  # its missing settlement was named by a 3202
    assert "3202 明细对账核对结算" in auditor.get(f"/dashboard/assess/{first}").text


def test_network_page_serves_the_map_and_the_figures(auditor: TestClient) -> None:
    page = auditor.get("/dashboard/fund/network").text
    assert 'id="chart-map"' in page and "每万人口定点机构数" in page and "贪心覆盖" in page
    geo = auditor.get("/dashboard/fund/region.geojson").json()
    assert geo["type"] == "FeatureCollection" and all(
        f["geometry"]["type"] == "Polygon" for f in geo["features"]
    )
    r = auditor.get("/dashboard/fund/network.json").json()
    names = {f["properties"]["name"] for f in geo["features"]}
    assert {x["district"] for x in r["beyond"] if x["district"] != "全区 region"} <= names
    assert r["sites"] and r["density"]
    # cross-district outflow from the ledger's settlements: visits and fund payments, the shares in range
    assert r["outflow_by_fund"] and "区外基金支付占比" in page
    assert sum(x["fund_fen"] for x in r["outflow"]) > 0
    assert all(x["fund_out_fen"] <= x["fund_fen"] for x in r["outflow"])


def test_pages_need_a_bureau_login(app: object) -> None:
    anon = TestClient(app)  # type: ignore[arg-type]
    for url in (
        "/dashboard/fund",
        "/dashboard/fund/warnings",
        "/dashboard/fund/projection.json",
        "/dashboard/assess",
    ):
        assert anon.get(url, follow_redirects=False).status_code in (401, 303, 307)
    insured = _login(app, "insured")
    assert insured.get("/dashboard/fund").status_code == 403


def test_the_cli_prints_json_and_names_bad_input(
    staged: tuple[Seeded, dict[str, Any]], tmp_path: Path
) -> None:
    from yibao.cli import app as cli

    url = staged[0].url
    runner = CliRunner()
    r = runner.invoke(cli, ["fund", "balances", "--db", url, "--year", "2025"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["390100"]["years"][0]["year"] == 2025
    r = runner.invoke(cli, ["fund", "alerts", "--db", url, "--all"])
    assert r.exit_code == 0 and json.loads(r.output)
    r = runner.invoke(cli, ["fund", "alert", "nope", "acknowledged", "--by", "x", "--db", url])
    assert r.exit_code == 2 and json.loads(r.output)["error"]["code"] == "unknown_alert"
    r = runner.invoke(cli, ["fund", "book", "--year", "2025", "--db", url])
    assert (
        r.exit_code == 2 and json.loads(r.output)["error"]["code"] == "duplicate"
    )  # booked by the demo stage
    r = runner.invoke(cli, ["assess", "show", "NOPE", "--db", url])
    assert r.exit_code == 2 and "error" in json.loads(r.output)
    r = runner.invoke(cli, ["fund", "network", "--data", str(staged[0].data_dir)])
    assert r.exit_code == 0 and json.loads(r.output)["tiers"]


def test_the_cli_records_a_closed_clearing_and_refuses_an_open_one(
    staged: tuple[Seeded, dict[str, Any]], tmp_path: Path
) -> None:
    from yibao.cli import app as cli

    url = staged[0].url
    runner = CliRunner()
    # a closed month where this region (西安 610100) owes nothing, and a line nobody here settled
    doc = {
        "month": "2026-01",
        "closed": True,
        "pairs": [
            {
                "care_admdvs": "110000",
                "insu_admdvs": "610100",
                "statement": {"lines": [{"msgid": "UNKNOWN", "owed_fen": 100}]},
            }
        ],
    }
    f = tmp_path / "2026-01.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    r = runner.invoke(cli, ["fund", "outflow", "--clearing", str(f), "--db", url])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["months"] == ["2026-01"] and body["unmatched"] == {"UNKNOWN": "2026-01"}
    f.write_text(json.dumps(doc | {"closed": False}), encoding="utf-8")
    r = runner.invoke(cli, ["fund", "outflow", "--clearing", str(f), "--db", url])
    assert r.exit_code == 2 and json.loads(r.output)["error"]["field"] == "clearings[0].closed"
