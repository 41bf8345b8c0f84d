"""Ledger.open: URL forms and the default SQLite file (no PostgreSQL needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.db import DatabaseUrlError
from yibao.db import parse_url as _parse_url
from yibao.ledger import Ledger


def test_url_forms() -> None:
    assert _parse_url("postgresql://root@127.0.0.1:5432/test") == (
        "pg",
        "postgresql://root@127.0.0.1:5432/test",
        "postgresql+psycopg://root@127.0.0.1:5432/test",
    )
    assert _parse_url("postgresql+psycopg://u@h/db")[:2] == ("pg", "postgresql://u@h/db")
    assert _parse_url("sqlite:///rel/path.db") == ("sqlite", "rel/path.db", "sqlite:///rel/path.db")
    assert _parse_url("sqlite:////abs/path.db")[1] == "/abs/path.db"
    for bad in ("mysql://x/y", "sqlite:///:memory:", "sqlite:///"):
        with pytest.raises(DatabaseUrlError):
            _parse_url(bad)


def test_default_is_a_sqlite_file_under_dot_yibao(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YIBAO_DATABASE_URL", raising=False)
    led = Ledger.open()
    try:
        led.migrate()
        led.migrate()
        assert led.kind == "sqlite"
        assert (tmp_path / ".yibao" / "yibao.db").exists()
        assert led.row_counts()["person"] == 0
        assert led.verify().ok
    finally:
        led.close()


def test_the_environment_variable_chooses_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_DATABASE_URL", f"sqlite:///{tmp_path / 'x' / 'env.db'}")
    led = Ledger.open()
    led.close()
    assert (tmp_path / "x" / "env.db").exists()
