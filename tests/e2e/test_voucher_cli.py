"""``yibao voucher`` as an operator runs it: rotate, issue with a QR file, verify, replay, revoke."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yibao.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_rotate_issue_verify_replay_and_revoke(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'v.db'}"
    code, out = run("voucher", "keys", "rotate", "--db", db)
    assert code == 0 and "new signing key" in out
    qr = tmp_path / "v.svg"
    code, out = run("voucher", "issue", "P0001", "--holder", "P0002", "--qr", str(qr), "--db", db)
    assert code == 0, out
    issued = json.loads(out)
    assert issued["psn_no"] == "P0001" and issued["holder"] == "P0002"
    assert qr.read_text(encoding="utf-8").startswith("<svg") and "医保电子凭证" in qr.read_text(
        encoding="utf-8"
    )
    code, out = run("voucher", "verify", issued["token"], "--site", "H610100001", "--db", db)
    assert code == 0 and json.loads(out)["by_proxy"] is True
    code, out = run("voucher", "verify", issued["token"], "--db", db)
    assert code == 2 and json.loads(out)["code"] == "replayed"
    code, out = run("voucher", "issue", "P0001", "--db", db)
    token = json.loads(out)["token"]
    assert run("voucher", "revoke", "P0001", "--reason", "手机丢失", "--db", db)[0] == 0
    code, out = run("voucher", "verify", token, "--db", db)
    assert code == 2 and json.loads(out)["code"] == "revoked" and "作废" in json.loads(out)["err_msg"]
    code, out = run("voucher", "keys", "list", "--db", db)
    assert code == 0 and "signing" in out
    code, out = run("voucher", "keys", "retire", "nokey", "--db", db)
    assert code == 2 and json.loads(out)["code"] == "unknown_key"


def test_care_demo_runs_every_scene(tmp_path: Path) -> None:
    code, out = run("care", "demo", "--db-file", str(tmp_path / "care.db"))
    assert code == 0, out
    for scene in (
        "voucher",
        "follow-up",
        "credit pay",
        "remote consultation",
        "capitation",
        "insurer clearing",
    ):
        assert scene in out
    assert "reconciled" in out and "凭证已使用" in out
