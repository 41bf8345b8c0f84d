"""Run the Alembic migrations programmatically (the scripts ship inside the package; no alembic.ini)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

import yibao
from yibao.db import metadata

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(sqlalchemy_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return cfg


def upgrade(sqlalchemy_url: str, revision: str = "heads") -> None:
    """``alembic upgrade heads`` on the database at ``sqlalchemy_url`` (idempotent; every branch)."""
    command.upgrade(alembic_config(sqlalchemy_url), revision)


def schema_modules() -> list[str]:
    """Every capability's ``schema`` module (``yibao.<capability>.schema``), found by name."""
    names = []
    for info in pkgutil.iter_modules(yibao.__path__):
        if info.ispkg and importlib.util.find_spec(f"yibao.{info.name}.schema") is not None:
            names.append(f"yibao.{info.name}.schema")
    return sorted(names)


def all_metadata() -> MetaData:
    """The shared :data:`yibao.db.metadata` with every capability's tables registered on it."""
    for name in schema_modules():
        importlib.import_module(name)
    return metadata
