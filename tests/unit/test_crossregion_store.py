"""Filings stored and read back through the use cases, and routing records moved by conditional updates, on a
freshly migrated SQLite database."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from yibao.crossregion.filing import FilingError
from yibao.crossregion.params import load_params
from yibao.crossregion.schema import xr_outbound
from yibao.crossregion.store import FilingStore, RouteTable, engine_for
from yibao.db import migrate
from yibao.usecases import crossregion as uc

D = dt.date


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FilingStore:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('xr')) / 'r.db'}"
    migrate.upgrade(url)
    return FilingStore(sa.create_engine(url))


def test_file_change_cancel_round_trip(store: FilingStore) -> None:
    p = load_params()
    f = uc.file(store, p, "610100", {"psn_no": "A", "care_admdvs": "110000", "type_code": "11",
                                     "channel": "counter", "begin": "2024-01-01"}, D(2024, 1, 1))  # fmt: skip
    assert store.get(f.filing_id) == f
    old, new = uc.change(store, p, f.filing_id, "A", {"care_admdvs": "120000"}, D(2024, 9, 1))
    assert [x.status for x in store.for_person("A")] == ["changed", "active"]
    assert (
        uc.coverage(store, "A", "120101", D(2024, 9, 2), D(2024, 9, 3), emergency=False).filing_id
        == new.filing_id
    )
    with pytest.raises(FilingError) as e:
        uc.cancel(store, p, new.filing_id, "B", D(2025, 6, 1))
    assert e.value.code == "mismatch"
    done = uc.cancel(store, p, new.filing_id, "A", D(2025, 6, 1))
    assert store.get(new.filing_id).status == "cancelled" == done.status
    assert old.filing_id in {x.filing_id for x in store.for_person("A")}


def _routes(url: str) -> RouteTable:
    migrate.upgrade(url)
    return RouteTable(engine_for(url), xr_outbound)


_ROW = {"insu_admdvs": "610500", "fixmedins_code": "H61010000001", "psn_no": "P1", "mdtrt_id": "M1",
        "setl_date": "2025-06-10"}  # fmt: skip


def test_routing_records_move_only_from_an_expected_status(tmp_path: Path) -> None:
    t = _routes(f"sqlite:///{tmp_path / 'r.db'}")
    assert t._file is not None  # a file: the writes go through the table's own sqlite3 connection
    assert t.insert("M1", "pending", **_ROW) is True
    assert t.insert("M1", "pending", **_ROW) is False  # the msgid is there
    assert t.move("M1", ("settled",), "reversed") is False
    assert t.move("M1", ("pending", "reversing"), "settled", setl_id="S1", output="{}", medfee_sumamt=199_500,
                  fund_pay_sumamt=80_000, acct_pay=1_000, psn_cash_pay=118_500)  # fmt: skip
    row = t.get("M1")
    assert row is not None
    assert (row["status"], row["setl_id"], row["medfee_sumamt"], row["psn_no"]) == (
        "settled",
        "S1",
        199_500,
        "P1",
    )
    assert row["updated"] >= row["created"]
    with pytest.raises(sa.exc.CompileError):
        t.move("M1", ("settled",), "reversed", no_such_column=1)
    assert t.get("M1") == row  # nothing written by the refused move
    # the connection follows the engine's settings (engine_for: WAL, synchronous=NORMAL, 60 s busy wait)
    assert t._raw is not None
    assert t._raw.execute("PRAGMA synchronous").fetchone() == (1,)
    assert t._raw.execute("PRAGMA busy_timeout").fetchone() == (60_000,)


def test_of_racing_moves_of_one_msgid_exactly_one_wins(tmp_path: Path) -> None:
    t = _routes(f"sqlite:///{tmp_path / 'r.db'}")
    t.insert("M1", "pending", **_ROW)
    other = RouteTable(t.engine, xr_outbound)  # a second table object on the file: its own connection
    won: list[bool] = []
    barrier = threading.Barrier(8)

    def mover(k: int) -> None:
        barrier.wait()
        table = t if k % 2 else other
        won.append(table.move("M1", ("pending",), "settled" if k % 2 else "reversing"))

    threads = [threading.Thread(target=mover, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(won) == [False] * 7 + [True]


def test_a_database_in_memory_is_written_through_the_engine() -> None:
    t = _routes("sqlite://")
    assert t._file is None
