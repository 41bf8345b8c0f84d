"""The Alembic migrations (all branches) create exactly the tables the schema modules declare, idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from yibao.db.migrate import all_metadata
from yibao.ledger import Ledger


def test_migrated_database_matches_the_schema_module(db_url: str) -> None:
    led = Ledger.open(db_url)
    led.migrate()  # second run (the fixture already migrated): a no-op
    engine = create_engine(led.sa_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), all_metadata())
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
        led.close()
    assert diff == []
    assert {
        "person",
        "accumulator",
        "settlement",
        "settlement_line",
        "journal",
        "message",
        "alembic_version",
    } <= tables
