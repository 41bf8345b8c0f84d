"""``yibao voucher``: keys (rotate, list, retire), issue, show as QR, verify, revoke.

yibao voucher keys rotate
yibao voucher issue P0001 --holder P0002 --qr voucher.svg
yibao voucher verify "YBV1.k….….…" --site H61010000001
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yibao.errors import FieldError

voucher_app = typer.Typer(help="医保电子凭证 electronic insurance voucher", no_args_is_help=True)
keys_app = typer.Typer(help="签名密钥 signing keys (rotate, list, retire)", no_args_is_help=True)
voucher_app.add_typer(keys_app, name="keys")

DbOpt = Annotated[
    str,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]


def _store(db: str):  # type: ignore[no-untyped-def]
    from yibao.db import parse_url
    from yibao.db.migrate import upgrade
    from yibao.voucher.store import VoucherStore

    url = db or os.environ.get("YIBAO_DATABASE_URL") or "sqlite:///.yibao/demo.db"
    _, target, sa_url = parse_url(url)
    if sa_url.startswith("sqlite"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    upgrade(sa_url)
    return VoucherStore.open(sa_url)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fail(exc: FieldError) -> None:
    print(json.dumps({"field": exc.field, "code": exc.code, "err_msg": exc.reason}, ensure_ascii=False))
    raise typer.Exit(2)


@keys_app.command("rotate")
def keys_rotate(db: DbOpt = "") -> None:
    """Create a new signing key; the previous one keeps verifying until it is retired."""
    kid = _store(db).rotate(_now())
    Console().print(f"[green]✓[/] 新签名密钥 new signing key [bold]{kid}[/]")


@keys_app.command("list")
def keys_list(db: DbOpt = "") -> None:
    """Every key with its state."""
    t = Table("kid", "alg", "状态 state", "创建 created", "停签 signing until", "停用 retired")
    for k in _store(db).keys():
        until = dt.datetime.fromtimestamp(k.signing_until, dt.UTC).isoformat() if k.signing_until else ""
        t.add_row(k.kid, k.alg, k.state, k.created, until, k.retired_at or "")
    Console().print(t)


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[
        str, typer.Argument(help="key id; empty: every verify key whose tokens have all expired")
    ] = "",
    db: DbOpt = "",
) -> None:
    """Retire verification keys (no token signed by them is accepted afterwards)."""
    try:
        done = _store(db).retire(_now(), kid or None)
    except FieldError as exc:
        _fail(exc)
    Console().print(f"[green]✓[/] 已停用 retired: {', '.join(done) or '—'}")


@voucher_app.command("issue")
def issue_cmd(
    psn_no: Annotated[str, typer.Argument(help="人员编号 of the insured")],
    holder: Annotated[str, typer.Option(help="who shows it (default: the insured)")] = "",
    qr: Annotated[Path | None, typer.Option(help="write the QR code as SVG here")] = None,
    db: DbOpt = "",
) -> None:
    """Issue a voucher and print it (JSON: token, claims)."""
    try:
        out = _store(db).issue(psn_no=psn_no, holder=holder or psn_no, issued_by="cli", now=_now())
    except FieldError as exc:
        _fail(exc)
    if qr is not None:
        from yibao.voucher.qr import qr_svg

        qr.write_text(qr_svg(out.token), encoding="utf-8")
    c = out.claims
    print(
        json.dumps(
            {
                "token": out.token,
                "psn_no": c.psn_no,
                "holder": c.holder,
                "kid": c.kid,
                "expires_at": c.expires_at,
            },
            ensure_ascii=False,
        )
    )


@voucher_app.command("verify")
def verify_cmd(
    token: Annotated[str, typer.Argument(help="the voucher text (the QR code's content)")],
    site: Annotated[str, typer.Option(help="定点机构编码 of the counter")] = "CLI",
    psn_no: Annotated[str, typer.Option(help="refuse unless the voucher is for this person")] = "",
    db: DbOpt = "",
) -> None:
    """Verify and use up a voucher; exit 2 with the reason when refused."""
    try:
        c = _store(db).verify(token, now=_now(), fixmedins_code=site, expect_psn_no=psn_no or None)
    except FieldError as exc:
        _fail(exc)
    print(
        json.dumps(
            {"ok": True, "psn_no": c.psn_no, "holder": c.holder, "by_proxy": c.by_proxy, "kid": c.kid},
            ensure_ascii=False,
        )
    )


@voucher_app.command("revoke")
def revoke_cmd(
    psn_no: Annotated[str, typer.Argument(help="人员编号")],
    nonce: Annotated[str, typer.Option(help="one voucher's nonce; empty: every voucher issued so far")] = "",
    reason: Annotated[str, typer.Option(help="why")] = "",
    db: DbOpt = "",
) -> None:
    """Revoke one voucher or all of a person's vouchers (a lost phone)."""
    try:
        _store(db).revoke(psn_no=psn_no, by_user="cli", now=_now(), nonce=nonce or None, reason=reason)
    except FieldError as exc:
        _fail(exc)
    Console().print("[green]✓[/] 已作废 revoked")
