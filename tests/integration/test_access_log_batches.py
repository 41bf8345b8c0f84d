"""Access-log rows are written in batches (one INSERT for the rows logged within a short while), yet none
is lost: a reader of the log sees every row logged before it, the background writer stores them within
moments without a reader, and closing the store writes what is waiting."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from yibao.access.schema import access_log
from yibao.access.store import ServiceStore
from yibao.ledger import Ledger


def _store(tmp_path: Path) -> tuple[ServiceStore, str]:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with Ledger.open(url) as led:
        led.migrate()
        sa_url = led.sa_url
    return ServiceStore(sa_url), sa_url


def _rows(sa_url: str) -> int:
    eng = sa.create_engine(sa_url)
    try:
        with eng.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(access_log)).scalar_one())
    finally:
        eng.dispose()


def test_logged_reads_are_stored_in_batches_and_none_is_lost(tmp_path: Path) -> None:
    store, sa_url = _store(tmp_path)
    user = store.create_user("h1", "a-long-password-1", "institution", "医院", fixmedins_code="H1")
    for k in range(5):
        store.log_access(user, f"P{k}", "read", "/x")
    # the reader sees every row logged before it, in order
    entries = store.access_entries()
    assert [e.psn_no for e in entries] == ["P4", "P3", "P2", "P1", "P0"]
    # without a reader the background writer stores them within moments
    store.log_access(user, "P5", "read", "/x")
    deadline = time.monotonic() + 5
    while _rows(sa_url) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _rows(sa_url) == 6
    # a full batch is written at once, and close() writes what waits
    for _ in range(store.ACCESS_FLUSH_ROWS):
        store.log_access(user, "PB", "read", "/x")
    assert _rows(sa_url) >= 6 + store.ACCESS_FLUSH_ROWS
    store.log_access(user, "P_last", "read", "/x")
    store.close()
    assert _rows(sa_url) == 6 + store.ACCESS_FLUSH_ROWS + 1


def test_with_no_wait_each_row_is_stored_before_log_access_returns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with Ledger.open(url) as led:
        led.migrate()
        sa_url = led.sa_url
    store = ServiceStore(sa_url, access_flush_seconds=0)
    try:
        user = store.create_user("h2", "a-long-password-2", "institution", "医院", fixmedins_code="H2")
        for k in range(3):
            store.log_access(user, f"P{k}", "read", "/x")
            assert _rows(sa_url) == k + 1  # in the table at once, not after a wait
        assert store._flusher is None  # no background writer spins with a zero interval
    finally:
        store.close()


def test_the_wait_is_a_setting_of_the_service() -> None:
    from yibao.settings import Settings

    assert Settings(access_log_flush_seconds=0).access_log_flush_seconds == 0
    assert Settings().access_log_flush_seconds == 0.2


def test_a_row_the_table_refuses_does_not_hold_up_the_rows_behind_it(tmp_path: Path) -> None:
    store, sa_url = _store(tmp_path)
    try:
        user = store.create_user("h3", "a-long-password-3", "institution", "医院", fixmedins_code="H3")
        app_login = type(user)(**{**user.__dict__, "user_id": "app:" + "x" * 80, "display_name": "应" * 300})
        store.log_access(app_login, "P1", "read", "/fhir/Patient/P1")  # too long for the columns as given
        store.log_access(user, "P2", "read", "/x")
        store.flush_access()
        assert _rows(sa_url) == 2  # both kept: the long one cut to the columns' widths
        poison = {
            "at": None,
            "user_id": "u",
            "role": "r",
            "display_name": "d",
            "psn_no": "P3",
            "what": "w",
            "path": "/p",
        }
        good = {**poison, "at": "2026-12-07T00:00:00+00:00", "psn_no": "P4"}
        with store._pending_lock:
            store._pending.extend([poison, good])
        assert (
            store.flush_access() == 1
        )  # the refused row (NOT NULL) is dropped and logged; the other goes in
        assert _rows(sa_url) == 3
    finally:
        store.close()
