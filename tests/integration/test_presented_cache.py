"""A presentation (1101) answered from the process's memory for a minute: a second check costs no
query, and a credential presented again for another person forgets the first person's answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.encounter.store import EncounterStore
from yibao.ledger import Ledger


def test_a_presentation_is_answered_from_memory_and_forgotten_when_its_credential_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(f"sqlite:///{tmp_path / 'e.db'}") as led:
        led.migrate()
        sa_url = led.sa_url
    store = EncounterStore.open(sa_url)
    try:
        assert not store.presented_at("H1", "P1")  # a refusal is never remembered
        store.presented("H1", "02", "610101199001011234", "P1")
        assert store.presented_at("H1", "P1")

        def no_query() -> None:
            raise AssertionError("the database was asked again")

        monkeypatch.setattr(store._reads, "connect", no_query)
        assert store.presented_at("H1", "P1")  # from memory
        monkeypatch.undo()
        store.presented("H1", "02", "610101199001011234", "P2")  # the same credential now names P2
        assert not store.presented_at("H1", "P1")
        assert store.presented_at("H1", "P2")
    finally:
        store.close()
