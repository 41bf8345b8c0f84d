"""Filings stored and read back through the use cases, on a freshly migrated SQLite database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from yibao.crossregion.filing import FilingError
from yibao.crossregion.params import load_params
from yibao.crossregion.store import FilingStore
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
