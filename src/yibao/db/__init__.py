"""The one database every capability shares: the shared :data:`metadata`, database URLs, and the
single Alembic history (``yibao/db/migrations``).

Each capability defines its own tables in its own ``schema`` module on :data:`metadata`
(``yibao.ledger.schema``, ``yibao.audit.schema`` …) and adds them through a migration on its own
Alembic branch, so capabilities never edit each other's tables or migrations.  This package imports
nothing of the capabilities; :func:`yibao.db.migrate.all_metadata` finds their schema modules by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import MetaData

from yibao.errors import FieldError

metadata = MetaData()

DEFAULT_SQLITE = Path(".yibao") / "yibao.db"


def make_engine(sa_url: str, **kw: Any) -> sa.Engine:
    """A pooled SQLAlchemy engine that tests each pooled connection before use (``pool_pre_ping``), so a
    connection the server dropped (restart, terminated backend) is replaced instead of failing a request."""
    kw.setdefault("pool_pre_ping", True)
    if sa_url.startswith("sqlite"):
        kw.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    return sa.create_engine(sa_url, **kw)


class DatabaseUrlError(FieldError):
    """A database URL yibao cannot use."""


def parse_url(url: str) -> tuple[str, str, str]:
    """``(kind, target, sqlalchemy url)``: kind ``pg`` with a libpq conninfo, or ``sqlite`` with a file path."""
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        rest = url.split("://", 1)[1]
        return "pg", "postgresql://" + rest, "postgresql+psycopg://" + rest
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path or path == ":memory:":
            raise DatabaseUrlError(
                "url",
                "不支持内存 SQLite 数据库，请给出文件路径 an in-memory SQLite database is not supported; give a file path",
            )
        return "sqlite", path, url
    if "://" not in url:  # a bare file path
        return "sqlite", url, "sqlite:///" + url
    raise DatabaseUrlError(
        "url", f"不支持的数据库地址 {url!r}（请用 sqlite:///路径 或 postgresql://…） unsupported database URL"
    )
