"""The command line as a user runs it: demo, validate, settle, replay, cancel, reverse, verify."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yibao.cli import app
from yibao.policy.loader import example_path

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    code, out = run("demo", "--persons", "60", "--visits", "300", "--db-file", str(db), "--no-serve")
    assert code == 0, out
    assert "who paid what" in out and "通过 OK" in out
    return f"sqlite:///{db}"


def example_visit() -> dict[str, object]:
    data = json.loads((ROOT / "examples" / "visit-inpatient.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, data: dict[str, object]) -> str:
    p = tmp_path / "visit.json"
    p.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(p)


def test_the_shipped_regions_validate() -> None:
    code, out = run("policy", "validate", str(example_path("xian")), str(example_path("weinan")))
    assert code == 0, out
    assert out.count("✓") == 2


def test_a_broken_region_file_names_the_path_and_reason(tmp_path: Path) -> None:
    src = example_path("xian")
    for f in src.parent.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    text = src.read_text(encoding="utf-8").replace("effective_from:", "effective_frm:", 1)
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    code, out = run("policy", "validate", str(tmp_path / "bad.yaml"))
    assert code == 1
    assert "bad.yaml" in out and "versions[0]" in out and "effective_frm" in out


def test_pre_settle_writes_nothing_and_settle_is_idempotent(demo_db: str, tmp_path: Path) -> None:
    visit = write(tmp_path, example_visit())
    code, out = run("ledger", "verify", "--db", demo_db)
    assert code == 0, out
    code, pre = run("settle", visit, "--pre", "--db", demo_db)
    assert code == 0, pre
    pre_json = json.loads(pre)
    assert pre_json["infno"] == "2206" and pre_json["output"]["setlinfo"]["setl_id"] is None
    code, first = run("settle", visit, "--db", demo_db, "--no-explain")
    assert code == 0, first
    first_json = json.loads(first)
    info = first_json["output"]["setlinfo"]
    # pre-settlement computed exactly what settlement then did
    for key in ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay"):
        assert info[key] == pre_json["output"]["setlinfo"][key]
    code, again = run("settle", visit, "--db", demo_db, "--no-explain")
    assert code == 0
    again_json = json.loads(again)
    assert again_json["replayed"] is True
    assert again_json["output"]["setlinfo"] == info
    changed = example_visit()
    changed["mdtrt_id"] = "SOMETHING-ELSE"
    code, out = run("settle", write(tmp_path, changed), "--db", demo_db)
    assert code != 0 and json.loads(out)["code"] == "msgid_conflict"
    code, out = run("cancel", info["setl_id"], "--msgid", "H61000000001202505010000CANC", "--db", demo_db)
    assert code == 0, out
    code, out = run("cancel", info["setl_id"], "--msgid", "H61000000001202505010000CAN2", "--db", demo_db)
    assert code != 0 and "already_reversed" in out
    code, out = run("ledger", "verify", "--db", demo_db)
    assert code == 0, out


def test_bad_input_gets_a_named_field_and_a_nonzero_exit(demo_db: str, tmp_path: Path) -> None:
    data = example_visit()
    data["psn_no"] = "NOBODY"
    data["msgid"] = "H61000000001202505101030009901"
    code, out = run("settle", write(tmp_path, data), "--db", demo_db)
    assert code != 0 and json.loads(out)["field"] == "psn_no"
    data = example_visit()
    data["msgid"] = "H61000000001202505101030009902"
    data["begntime"] = data["endtime"] = "2031-01-01"
    code, out = run("settle", write(tmp_path, data), "--db", demo_db)
    assert code != 0 and json.loads(out)["code"] == "no_policy"
    code, out = run("reverse", "NO-SUCH-MSGID", "--msgid", "X" * 30, "--db", demo_db)
    assert code != 0 and json.loads(out)["code"] == "unknown_settlement"


def test_the_demo_registers_its_institutions_for_the_national_visit_flow(demo_db: str) -> None:
    from yibao.access.store import ServiceStore
    from yibao.encounter.store import EncounterStore
    from yibao.ledger import Ledger

    with Ledger.open(demo_db) as led:
        sa_url = led.sa_url
    users = ServiceStore(sa_url)
    try:
        codes = {u.fixmedins_code for u in users.list_users() if u.role == "institution" and u.fixmedins_code}
    finally:
        users.close()
    store = EncounterStore.open(sa_url)
    try:
        found = {c: store.institution(c) for c in codes}
    finally:
        store.close()
    assert codes and all(i is not None and i.hosp_lv in ("1", "2", "3", "3S") for i in found.values()), found


def test_the_fault_suite_names_its_faults_and_refuses_an_unknown_one() -> None:
    code, out = run("bench", "faults", "--help")
    assert code == 0 and "--faults" in out
    code, out = run("bench", "faults", "--faults", "kill_9_server,meteor")
    assert code != 0 and "meteor" in out
