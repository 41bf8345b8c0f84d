"""One settle path: the same visit settles the same way whether a hospital sends it as a national 2207
over HTTP or an operator runs ``yibao settle`` — the same use case with the same in-event audit, so the
stored settlements agree in every fen, finding and trace step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from test_api_support import PARENT, Api, build_api, new_msgid, visit_json
from typer.testing import CliRunner

from yibao.cli import app as cli
from yibao.ledger import Ledger, StoredSettlement

MALE_ONLY_DRUG = {  # blocked for a woman by GZ-YB-001 (药品区分性别使用) in the shipped rule library
    "feedetl_sn": "9",
    "med_list_codg": "XG04CBA125A001010182834",
    "cnt": 30,
    "pric": "1.20",
    "det_item_fee_sumamt": "36.00",
}


def _stored(url: str, msgid: str) -> StoredSettlement:
    led = Ledger.open(url)
    try:
        msg = led.message(msgid)
        assert msg is not None
        return led.get_settlement(msg.setl_id)
    finally:
        led.close()


def test_the_cli_and_the_national_2207_settle_a_visit_the_same_way(tmp_path: Path) -> None:
    http_db, cli_db = tmp_path / "http.db", tmp_path / "cli.db"
    gen = build_api(f"sqlite:///{http_db}")
    api: Api = next(gen)
    try:
        shutil.copyfile(http_db, cli_db)  # the same persons, accounts and accumulators on both sides
        visit = visit_json(psn_no=PARENT)
        visit["feedetail"].append(MALE_ONLY_DRUG)
        msgid = new_msgid()
        body = api.tx("hospital", "2207", visit, msgid).json()
        assert body["infcode"] == 0, body
    finally:
        gen.close()
    (tmp_path / "visit.json").write_text(json.dumps(visit, ensure_ascii=False), encoding="utf-8")
    run = CliRunner().invoke(
        cli, ["settle", str(tmp_path / "visit.json"), "--msgid", msgid, "--db", f"sqlite:///{cli_db}"]
    )
    assert run.exit_code == 0, run.output
    by_http, by_cli = _stored(f"sqlite:///{http_db}", msgid), _stored(f"sqlite:///{cli_db}", msgid)
    assert by_cli.settlement == by_http.settlement  # money, setldetail, deltas, trace, findings
    assert by_cli.settlement.line_splits == by_http.settlement.line_splits
    assert any(f.severity == "block" and f.feedetl_sn == "9" for f in by_cli.settlement.audit)
