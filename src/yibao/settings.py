"""Service settings, read from the environment (``YIBAO_*``) with the same defaults as the ledger."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from yibao.db import DEFAULT_SQLITE


def _flag(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """``database_url``: the ledger database (env ``YIBAO_DATABASE_URL``; default SQLite ``.yibao/yibao.db``).
    ``region``: an example region name (``xian``, ``weinan``) or a region file (env ``YIBAO_REGION``).
    ``demo``: demo mode — the login page lists the demo logins (env ``YIBAO_DEMO``).
    ``migrate``: run the Alembic migrations at start-up (idempotent).
    ``session_hours``: lifetime of a login session.  ``session_cache_seconds``: how long a worker trusts a
    token it has already checked without asking the database again (a logout in another worker takes
    effect within this time).  ``mount_web``: mount the portal and dashboard routers when installed.
    ``cookie_secure``: mark the session cookie ``Secure`` (behind HTTPS).  ``audit_in_event``: run the
    rule library's single-visit rules inside 2206/2207 (env ``YIBAO_AUDIT_IN_EVENT``).
    ``audit_library`` / ``audit_knowledge``: the bureau's rule library file and knowledge-table directory
    (env ``YIBAO_AUDIT_LIBRARY`` / ``YIBAO_AUDIT_KNOWLEDGE``; default: the shipped EXAMPLE ones).  A
    ``physicians.csv`` in the knowledge directory is the 医保医师库 the title rule checks against."""

    database_url: str = f"sqlite:///{DEFAULT_SQLITE}"
    region: str = "xian"
    demo: bool = False
    migrate: bool = True
    session_hours: float = 8.0
    session_cache_seconds: float = 5.0
    mount_web: bool = True
    cookie_secure: bool = False
    access_log_sql: bool = True
    audit_in_event: bool = True
    audit_library: str | None = None
    audit_knowledge: str | None = None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        base = cls(
            database_url=os.environ.get("YIBAO_DATABASE_URL") or cls.database_url,
            region=os.environ.get("YIBAO_REGION") or cls.region,
            demo=_flag("YIBAO_DEMO", False),
            migrate=_flag("YIBAO_MIGRATE", True),
            cookie_secure=_flag("YIBAO_COOKIE_SECURE", False),
            audit_in_event=_flag("YIBAO_AUDIT_IN_EVENT", True),
            audit_library=os.environ.get("YIBAO_AUDIT_LIBRARY") or None,
            audit_knowledge=os.environ.get("YIBAO_AUDIT_KNOWLEDGE") or None,
        )
        return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]

    def region_path(self) -> Path:
        from yibao.policy.loader import example_path

        p = Path(self.region)
        return p if p.suffix in (".yaml", ".yml") or p.exists() else example_path(self.region)
