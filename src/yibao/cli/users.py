"""``yibao users``: logins of the service — the first administrator, other logins, password change and
reset, disable and enable.  Passwords come from a prompt (not echoed) or from a file, never from the
command line (which other users of the machine can see)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yibao.access.store import ROLES, ServiceStore, UserError

users_app = typer.Typer(help="登录用户 logins of the service", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the service's SQLite file)"),
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-file", help="read the password from the first line of this file (else a prompt)"
    ),
]


def _store(db: str | None) -> ServiceStore:
    from yibao.db import DEFAULT_SQLITE
    from yibao.ledger import Ledger

    url = db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"
    with Ledger.open(url) as led:
        led.migrate()
        return ServiceStore(led.sa_url)


def _password(password_file: Path | None, prompt: str = "新密码 New password") -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


def _fail(exc: UserError) -> None:
    err.print(f"[red]✗ {exc.field}: {exc.reason}[/]")
    raise typer.Exit(2)


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option("--username", "-u", help="login name")] = "admin",
    display_name: Annotated[str, typer.Option("--name", help="name shown")] = "管理员 Administrator",
    password_file: PasswordFileOpt = None,
    db: DbOpt = None,
) -> None:
    """Create an administrator login (the first one of a new deployment)."""
    store = _store(db)
    try:
        store.create_user(username, _password(password_file), "admin", display_name)
    except UserError as exc:
        _fail(exc)
    finally:
        store.close()
    console.print(f"[green]✓ 管理员已创建 administrator created[/]: {username}")


@users_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ROLES)}")],
    display_name: Annotated[str, typer.Option("--name", help="name shown")],
    psn_no: Annotated[str | None, typer.Option("--psn-no", help="insured: the person")] = None,
    family: Annotated[
        list[str] | None, typer.Option("--family", help="insured: a person they may act for (repeat)")
    ] = None,
    fixmedins_code: Annotated[
        str | None, typer.Option("--fixmedins-code", help="institution: its code")
    ] = None,
    emp_no: Annotated[str | None, typer.Option("--emp-no", help="employer: its 参保单位 number")] = None,
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="force a new password at first login")
    ] = True,
    password_file: PasswordFileOpt = None,
    db: DbOpt = None,
) -> None:
    """Create a login; by default its user must choose a new password at the first login."""
    store = _store(db)
    try:
        store.create_user(
            username,
            _password(password_file, "初始密码 Initial password"),
            role,
            display_name,
            psn_no=psn_no,
            family_psn_nos=family or (),
            fixmedins_code=fixmedins_code,
            must_change_password=must_change,
            emp_no=emp_no,
        )
    except UserError as exc:
        _fail(exc)
    finally:
        store.close()
    console.print(f"[green]✓ 用户已创建 login created[/]: {username} ({role})")


@users_app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="login name")],
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="the user must change it at next login")
    ] = False,
    password_file: PasswordFileOpt = None,
    db: DbOpt = None,
) -> None:
    """Set (reset) a login's password; its sessions end."""
    store = _store(db)
    try:
        store.set_password(username, _password(password_file), must_change=must_change)
    except UserError as exc:
        _fail(exc)
    finally:
        store.close()
    console.print(f"[green]✓ 密码已修改 password set[/]: {username}")


def _set_active(username: str, active: bool, db: str | None) -> None:
    store = _store(db)
    try:
        store.set_active(username, active)
    except UserError as exc:
        _fail(exc)
    finally:
        store.close()
    word = "已启用 enabled" if active else "已停用 disabled (sessions ended)"
    console.print(f"[green]✓ {word}[/]: {username}")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="login name")], db: DbOpt = None) -> None:
    """Disable a login: it cannot log in and its sessions end at once."""
    _set_active(username, False, db)


@users_app.command("enable")
def enable(username: Annotated[str, typer.Argument(help="login name")], db: DbOpt = None) -> None:
    """Enable a disabled login again."""
    _set_active(username, True, db)


@users_app.command("list")
def list_users(db: DbOpt = None) -> None:
    """Every login with its role and state."""
    store = _store(db)
    try:
        users, demo = store.list_users(), store.is_demo_db()
    finally:
        store.close()
    t = Table(title="演示数据库 demo database" if demo else None)
    for col in ("用户名 login", "角色 role", "名称 name", "状态 state"):
        t.add_column(col)
    for u in users:
        state = ("启用 enabled" if u.active else "停用 disabled") + (
            " · 须改密码 must change password" if u.must_change_password else ""
        )
        t.add_row(u.username, u.role, u.display_name, state)
    console.print(t)
