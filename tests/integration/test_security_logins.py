"""Logins hardened: the published demo password only in a demo database, the first administrator from
the command line, password change / reset / disable, forced change at first login, and a server that
refuses to start while a published password still opens a login."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_api_support import persons
from typer.testing import CliRunner

from yibao.access.schema import app_meta
from yibao.access.store import ServiceStore, UserError
from yibao.cli import app as cli
from yibao.demo.logins import DEMO_PASSWORD, seed_demo_users
from yibao.ledger import Ledger
from yibao.settings import Settings
from yibao.web.app import create_app
from yibao.web.serve import UnsafeLogins, startup_check


def _db(tmp_path: Path) -> tuple[str, ServiceStore]:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    with Ledger.open(url) as led:
        led.migrate()
        led.add_persons(persons())
    return url, ServiceStore(url, cache_seconds=0)


def test_demo_password_is_refused_outside_a_demo_database(tmp_path: Path) -> None:
    url, store = _db(tmp_path)
    try:
        with pytest.raises(UserError) as e:
            store.create_user("admin", DEMO_PASSWORD, "admin", "管理员")
        assert e.value.field == "password" and "演示密码" in e.value.reason
        store.create_user("admin", "a-real-secret-9", "admin", "管理员")
        # a database with real logins cannot be turned into a demo database
        with pytest.raises(UserError):
            seed_demo_users(url, persons())
        assert not store.is_demo_db()
        assert store.user_by_name("insured") is None
    finally:
        store.close()


def test_serve_refuses_a_known_password_unless_the_database_is_a_demo(tmp_path: Path) -> None:
    url, store = _db(tmp_path)
    try:
        seed_demo_users(url, persons())
        assert store.is_demo_db()
        s = startup_check(Settings(database_url=url))
        assert s.demo  # a demo database is served in demo mode
        # the same logins in a database that is not (or no longer) marked demo: refuse to start
        with store.engine.begin() as c:
            c.execute(app_meta.delete())
        with pytest.raises(UnsafeLogins) as e:
            startup_check(Settings(database_url=url))
        assert "admin" in str(e.value) and "insured" in str(e.value)
        for u in ("insured", "insured2", "hospital", "auditor"):
            store.set_active(u, False)
        store.set_password("admin", "another-secret-7")
        assert not startup_check(Settings(database_url=url)).demo
    finally:
        store.close()


def test_cli_create_admin_passwd_disable(tmp_path: Path) -> None:
    url, store = _db(tmp_path)
    pw = tmp_path / "pw"
    pw.write_text("first-admin-secret\n", encoding="utf-8")
    run = CliRunner()
    r = run.invoke(cli, ["users", "create-admin", "--db", url, "--password-file", str(pw)])
    assert r.exit_code == 0, r.output
    assert store.authenticate("admin", "first-admin-secret") is not None
    pw.write_text(DEMO_PASSWORD, encoding="utf-8")
    r = run.invoke(cli, ["users", "passwd", "admin", "--db", url, "--password-file", str(pw)])
    assert r.exit_code == 2 and "演示密码" in r.output
    assert store.authenticate("admin", DEMO_PASSWORD) is None
    r = run.invoke(cli, ["users", "create-admin", "--db", url, "--password-file", str(pw), "-u", "a2"])
    assert r.exit_code == 2 and store.user_by_name("a2") is None
    token = store.open_session(store.authenticate("admin", "first-admin-secret").user_id)  # type: ignore[union-attr]
    assert store.user_for_token(token) is not None
    r = run.invoke(cli, ["users", "disable", "admin", "--db", url])
    assert r.exit_code == 0, r.output
    assert store.authenticate("admin", "first-admin-secret") is None
    assert store.user_for_token(token) is None  # its sessions ended
    r = run.invoke(cli, ["users", "enable", "admin", "--db", url])
    assert r.exit_code == 0 and store.authenticate("admin", "first-admin-secret") is not None
    store.close()


def test_forced_change_at_first_login(tmp_path: Path) -> None:
    url, store = _db(tmp_path)
    store.create_user("auditor1", "initial-pass-1", "auditor", "稽核员", must_change_password=True)
    store.close()
    app = create_app(Settings(database_url=url, session_cache_seconds=0))
    with TestClient(app) as c:
        r = c.post("/auth/login", json={"username": "auditor1", "password": "initial-pass-1"})
        assert r.status_code == 200 and r.json()["must_change_password"] is True
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        assert c.get("/auth/me", headers=h).status_code == 200
        blocked = c.get("/api/v1/persons/P000000001", headers=h)
        assert blocked.status_code == 403 and "修改密码" in blocked.text
        bad = {"old_password": "wrong-one-123", "new_password": "my-own-secret-1"}
        wrong = c.post("/auth/password", json=bad, headers=h)
        assert wrong.status_code == 422 and "old_password" in wrong.text
        same = {"old_password": "initial-pass-1", "new_password": "initial-pass-1"}
        assert c.post("/auth/password", json=same, headers=h).status_code == 422
        demo = {"old_password": "initial-pass-1", "new_password": DEMO_PASSWORD}
        assert c.post("/auth/password", json=demo, headers=h).status_code == 422
        ok = {"old_password": "initial-pass-1", "new_password": "my-own-secret-1"}
        assert c.post("/auth/password", json=ok, headers=h).status_code == 204
        assert c.get("/api/v1/persons/P000000001", headers=h).status_code == 200
        old = c.post("/auth/login", json={"username": "auditor1", "password": "initial-pass-1"})
        assert old.status_code == 401
        new = c.post("/auth/login", json={"username": "auditor1", "password": "my-own-secret-1"})
        assert new.status_code == 200 and new.json()["must_change_password"] is False
        # the browser form sends a login that must change its password to the change page
        store2 = ServiceStore(url)
        store2.set_password("auditor1", "reset-by-admin-2", must_change=True)
        store2.close()
        form = c.post(
            "/login", data={"username": "auditor1", "password": "reset-by-admin-2"}, follow_redirects=False
        )
        assert form.status_code == 303 and form.headers["location"] == "/password"


def test_password_change_ends_other_sessions(tmp_path: Path) -> None:
    _url, store = _db(tmp_path)
    u = store.create_user("inst", "inst-secret-11", "institution", "医院", fixmedins_code="H61000000001")
    other = store.open_session(u.user_id)
    mine = store.open_session(u.user_id)
    store.change_password(u.user_id, "inst-secret-11", "inst-secret-22", keep_session=mine)
    assert store.user_for_token(other) is None and store.user_for_token(mine) is not None
    with store.engine.connect() as c:
        assert c.execute(sa.text("select password_changed from app_user")).scalar()
    store.close()
