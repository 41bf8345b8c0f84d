"""``yibao encounter``: registering institutions (their level for 2201 / 2401) and social-security cards."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yibao.cli import app
from yibao.encounter.store import EncounterStore

runner = CliRunner()


def test_institutions_and_cards_are_registered_and_bad_values_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'enc.db'}"
    r = runner.invoke(
        app,
        [
            "encounter",
            "institution",
            "H61010000009",
            "--name",
            "测试医院",
            "--level",
            "2",
            "--admdvs",
            "610100",
            "--db",
            db,
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        [
            "encounter",
            "institution",
            "H6101",
            "--name",
            "x",
            "--level",
            "2",
            "--admdvs",
            "610100",
            "--db",
            db,
        ],
    )
    assert r.exit_code == 2 and json.loads(r.output)["field"] == "fixmedins_code"
    r = runner.invoke(app, ["encounter", "card", "SSC1", "--card-sn", "SN1", "--psn-no", "P1", "--db", db])
    assert r.exit_code == 0, r.output
    store = EncounterStore.open(db)
    try:
        inst = store.institution("H61010000009")
        assert inst is not None and (inst.fixmedins_name, inst.hosp_lv) == ("测试医院", "2")
        assert store.card("SSC1") == ("SN1", "P1", "valid")
    finally:
        store.close()
