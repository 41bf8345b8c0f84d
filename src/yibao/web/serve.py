"""Run the service with uvicorn: :func:`run` (used by ``yibao serve`` and ``yibao demo``)."""

from __future__ import annotations

import os

from fastapi import FastAPI

from yibao.settings import Settings
from yibao.web.app import create_app
from yibao.web.masking import install_log_masking


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment, migrations already run by the parent."""
    return create_app(Settings.from_env())


class UnsafeLogins(SystemExit):
    """The database holds enabled logins with a published password and is not a demo database."""


def startup_check(settings: Settings) -> Settings:
    """Refuse to serve a database where an enabled login still has a published (demo) password, unless
    the database is marked as a demonstration database; a demo database is served in demo mode."""
    from yibao.access.store import ServiceStore
    from yibao.ledger import Ledger

    with Ledger.open(settings.database_url) as led:
        if settings.migrate:
            led.migrate()
        sa_url = led.sa_url
    store = ServiceStore(sa_url)
    try:
        demo_db = store.is_demo_db()
        known = [] if demo_db else store.users_with_known_password()
    finally:
        store.close()
    if known:
        raise UnsafeLogins(
            f"拒绝启动：以下用户仍使用公开的演示密码 refusing to start: these logins still have a published "
            f"demo password: {', '.join(known)}.  "
            "改密码 change them with `yibao users passwd NAME` or disable them with `yibao users disable NAME`."
        )
    return settings.model_copy(update={"demo": True}) if demo_db and not settings.demo else settings


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: Settings | None = None,
    *,
    workers: int = 1,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """Serve until interrupted.  With ``workers`` > 1 the settings travel to the worker processes through
    ``YIBAO_*`` environment variables (uvicorn starts each worker from an import string), and the
    database is migrated once here first.  :func:`startup_check` runs first (published passwords)."""
    import uvicorn

    settings = startup_check(settings or Settings.from_env())
    install_log_masking()
    kw: dict[str, object] = {"host": host, "port": port, "access_log": access_log, "log_level": log_level}
    if workers <= 1:
        uvicorn.run(create_app(settings), **kw)  # type: ignore[arg-type]
        return
    os.environ.update(
        {
            "YIBAO_DATABASE_URL": settings.database_url,
            "YIBAO_REGION": settings.region,
            "YIBAO_DEMO": "1" if settings.demo else "0",
            "YIBAO_MIGRATE": "0",
            "YIBAO_COOKIE_SECURE": "1" if settings.cookie_secure else "0",
            **({"YIBAO_HUB_URL": settings.hub_url} if settings.hub_url else {}),
            **({"YIBAO_HUB_KEY": settings.hub_key} if settings.hub_key else {}),
            **({"YIBAO_HUB_TIMEOUT": str(settings.hub_timeout)} if settings.hub_timeout else {}),
        }
    )
    uvicorn.run("yibao.web.serve:app_from_env", factory=True, workers=workers, **kw)  # type: ignore[arg-type]
