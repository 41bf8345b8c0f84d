"""``yibao enrol`` as a user runs it: a late enrolee refused (self-paid) in the waiting period and covered
after it, the 2001 answer, a bad file rejected row by row, status, the bureau report, fund income, an event,
and ``yibao bench eligibility``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yibao.cli import app

runner = CliRunner()
HEADER = "psn_no,certno,psn_name,year,paid_on,individual,assistance,identity,kind,household_no,district\n"


def _cert(body17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * k for c, k in zip(body17, w, strict=True)) % 11]


def run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["enrol", *args])
    return r.exit_code, r.output


def test_late_enrolee_waits_then_is_covered(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    f = tmp_path / "collection-2025.csv"
    f.write_text(
        HEADER
        + f"R1,{_cert('61010019800501001')},张三,2025,2025-03-15,400,,,,H1,雁塔区\n"  # late: 3 months
        + f"R2,{_cert('61010019900101002')},李四,2025,2024-10-01,160,240,DB,,H2,碑林区\n",  # in the period
        encoding="utf-8",
    )
    code, out = run("import", str(f), "--db", db, "--json")
    assert code == 0, out
    assert json.loads(out)["output"]["rows"] == 2
    code, out = run("check", "R1", "--date", "2025-05-01", "--med-type", "21", "--db", db, "--json")
    body = json.loads(out)
    assert code == 0 and body["infno"] == "2001" and body["selfpay"] is True
    assert (
        body["eligibility"]["reason_code"] == "waiting_period"
        and body["eligibility"]["until"] == "2025-06-14"
    )
    assert {r["trt_enjymnt_flag"] for r in body["output"]["trtinfo"]} == {"0"}
    assert "国办发〔2024〕38号" in body["output"]["trtinfo"][0]["trt_chk_rslt"]
    code, out = run("check", "R1", "--date", "2025-06-15", "--med-type", "21", "--db", db, "--json")
    body = json.loads(out)
    assert body["infcode"] == 0 and body["eligibility"]["covered"] is True
    assert {r["trt_enjymnt_flag"] for r in body["output"]["trtinfo"]} == {"1"}
    code, out = run("check", "R2", "--date", "2025-01-02", "--db", db)  # the table face
    assert code == 0 and "享受待遇 covered" in out
    code, out = run("check", "NOBODY", "--date", "2025-01-02", "--db", db, "--json")
    body = json.loads(out)
    assert body["infcode"] == -1 and body["code"] == "not_enrolled" and "未参加" in body["err_msg"]

    code, out = run("status", "R1", "--on", "2025-05-01", "--db", db, "--json")
    body = json.loads(out)
    assert body["insuinfo"]["psn_insu_stas"] == "1" and body["insuinfo"]["insutype"] == "390"
    assert [i["reason_code"] for i in body["intervals"]][:3] == ["not_enrolled", "waiting_period", "ok"]
    code, out = run("collection-report", "--year", "2025", "--on", "2025-05-01", "--db", db, "--json")
    body = json.loads(out)
    assert body["collection"]["persons_paid"] == 2 and body["collection"]["paid_late"] == 1
    assert body["collection"]["assistance_fen"] == 24_000
    assert {r["district"] for r in body["coverage_by_district"]} == {"雁塔区", "碑林区"}
    assert {r["reason_code"]: r["persons"] for r in body["not_covered_on_day"]} == {"waiting_period": 1}
    code, out = run("income", "--db", db, "--json")
    rows = json.loads(out)
    assert sum(r["amount_fen"] for r in rows) == 40_000 + 16_000 + 24_000 + 2 * 70_000
    assert {r["fund_pay_type"] for r in rows} == {"390100", "390200"}
    code, out = run("event", "R2", "--kind", "death", "--day", "2025-07-01", "--db", db, "--json")
    assert code == 0, out
    code, out = run("check", "R2", "--date", "2025-07-02", "--db", db, "--json")
    assert json.loads(out)["eligibility"]["reason_code"] == "deceased"


def test_a_bad_file_is_rejected_row_by_row(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    f = tmp_path / "bad.csv"
    f.write_text(
        HEADER
        + f"R1,{_cert('61010019800501001')},张三,2025,2024-10-01,400,,,,,\n"
        + "R2,61010019900101002X,李四,2025,2024-10-01,400,,,,,\n"
        + f"R3,{_cert('61010019900101003')},王五,2025,2024-10-01,300,,,,,\n",
        encoding="utf-8",
    )
    code, out = run("import", str(f), "--db", db, "--json")
    body = json.loads(out)
    assert code == 2 and body["infcode"] == -1 and body["total"] == 2
    assert [(p["row"], p["field"]) for p in body["problems"]] == [(3, "certno"), (4, "individual")]
    code, out = run("import", str(f), "--db", db)
    assert code == 2 and "第3行" in out and "certno" in out
    code, out = run("status", "R1", "--db", db, "--json")
    assert code == 2 and json.loads(out)["field"] == "psn_no"  # nothing of the file was written


def test_bench_eligibility_prints_json_lines() -> None:
    r = runner.invoke(app, ["bench", "eligibility", "--persons", "300", "--visits", "3000", "--no-postgres"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    by = {(x["bench"], x["metric"]): x for x in recs}
    assert by[("eligibility.check", "latency_mean")]["unit"] == "us"
    assert by[("eligibility.check", "latency_mean")]["value"] > 0
    assert by[("eligibility.check_frame", "throughput")]["differ"] == 0
