"""Shared fixtures for the ledger integration tests (see ``ledger_support`` for the plain helpers).

PostgreSQL tests run against the real local server (admin URL from ``YIBAO_TEST_PG_URL``, default
``postgresql://root@127.0.0.1:5432/postgres``); each test gets a fresh database, dropped afterwards.
An unreachable server FAILS the test — it never skips — so CI proves these tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ledger_support import REGION, create_pg_database, drop_pg_database, person, visit

from yibao.ledger import Ledger, PersonRecord
from yibao.policy.book import PolicyBook
from yibao.settlement.model import Visit


@pytest.fixture
def pg_url() -> Iterator[str]:
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty ledger database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        _migrate(url)
        yield url
        return
    name, url = create_pg_database()
    try:
        _migrate(url)
        yield url
    finally:
        drop_pg_database(name)


def _migrate(url: str) -> None:
    led = Ledger.open(url)
    try:
        led.migrate()
    finally:
        led.close()


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    led = Ledger.open(db_url)
    try:
        yield led
    finally:
        led.close()


@pytest.fixture(scope="session")
def book() -> PolicyBook:
    return PolicyBook.from_file(REGION)


@pytest.fixture
def make_visit() -> Callable[..., Visit]:
    return visit


@pytest.fixture
def make_person() -> Callable[..., PersonRecord]:
    return person
