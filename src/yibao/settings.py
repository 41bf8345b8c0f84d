"""Settings of a yibao process (the service, the command line, the demo), read from the environment
(``YIBAO_*``, e.g. ``YIBAO_DATABASE_URL``, ``YIBAO_SESSION_HOURS``) by pydantic-settings, so that every
setting can be set without code; an argument given in code wins over the environment."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from yibao.db import DEFAULT_SQLITE
from yibao.settlement.model import AuditHook


class Settings(BaseSettings):
    """``database_url``: the database (default SQLite ``.yibao/yibao.db``).
    ``region``: an example region name (``xian``, ``weinan``) or a region file.
    ``demo``: demo mode — the login page lists the demo logins.
    ``migrate``: run the Alembic migrations at start-up (idempotent).
    ``session_hours``: lifetime of a login session.  ``session_cache_seconds``: how long a worker trusts a
    token it has already checked without asking the database again (a logout in another worker takes
    effect within this time).  ``access_log_flush_seconds``: how long a row of the access log (who read whose
    data) may wait to be written together with others (0: each row is written before the request answers,
    at more CPU per request).  ``mount_web``: mount the portal and dashboard pages.  ``warm_up``: at
    start-up, compile the page templates and fill the pages' caches (yibao.web.warm), so that the first
    view after a restart is as quick as the next.
    ``cookie_secure``: mark the session cookie ``Secure`` (behind HTTPS).  ``audit_in_event``: run the
    rule library's single-visit rules inside 2206/2207 and ``yibao settle``.
    ``audit_library`` / ``audit_knowledge``: the bureau's rule library file and knowledge-table directory
    (default: the shipped EXAMPLE ones).  A ``physicians.csv`` in the knowledge directory is the 医保医师库
    the title rule checks against.
    ``max_body_bytes``: the largest request body read (413 beyond, before authentication);
    ``max_transaction_body_bytes``: the same for the national transaction endpoints (a 2204 upload with
    tens of thousands of fee lines).  ``login_max_failures`` (per username) / ``login_max_failures_ip``
    (per client address) wrong passwords within ``login_lockout_seconds`` lock further logins for that
    long (429).
    ``national_signtype`` (``SM3`` / ``SM2``): the region requires every
    national envelope signed (``cainfo``); SM2 keys are the institutions' registered public keys.  Without
    it a ``cainfo`` that is sent is still verified.
    ``hub_url`` / ``hub_key`` / ``hub_timeout``: the cross-region clearing hub this region routes visitors'
    settlements through, the key shared with it, and how long to wait for the insured region's answer
    (default: the cross-region parameters' figure)."""

    model_config = SettingsConfigDict(env_prefix="YIBAO_", frozen=True, extra="forbid")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE}"
    region: str = "xian"
    demo: bool = False
    migrate: bool = True
    session_hours: float = 8.0
    session_cache_seconds: float = 5.0
    access_log_flush_seconds: float = Field(default=0.2, ge=0)
    mount_web: bool = True
    warm_up: bool = True
    cookie_secure: bool = False
    access_log_sql: bool = True
    audit_in_event: bool = True
    audit_library: str | None = None
    audit_knowledge: str | None = None
    max_body_bytes: int = 2_000_000
    max_transaction_body_bytes: int = 16_000_000
    login_max_failures: int = 5
    login_max_failures_ip: int = 50
    login_lockout_seconds: float = 900.0
    national_signtype: str = (
        ""  # "" | SM3 | SM2: every national envelope must carry a valid cainfo of this type
    )
    hub_url: str | None = None
    hub_key: str = ""
    hub_timeout: float | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """The environment's settings with ``overrides`` on top (the same as ``Settings(**overrides)``)."""
        return cls(**overrides)

    def region_path(self) -> Path:
        from yibao.policy.loader import example_path

        p = Path(self.region)
        return p if p.suffix in (".yaml", ".yml") or p.exists() else example_path(self.region)

    @cached_property
    def _hook(self) -> AuditHook | None:
        if not self.audit_in_event:
            return None
        from yibao.audit.moments import configured_hook

        return configured_hook(self.audit_library, self.audit_knowledge)

    def audit_hook(self) -> AuditHook | None:
        """The in-event audit (事中审核) every settle path uses: the bureau's rule library and knowledge
        tables when set, else the shipped EXAMPLE ones; None when ``audit_in_event`` is off."""
        return self._hook
