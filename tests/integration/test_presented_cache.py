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


def test_a_check_that_read_the_old_row_while_the_credential_moved_does_not_remember_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: a check reads "P1 was presented" from the database, the same credential is then
    presented for P2 (and commits) before the check stores its answer.  The stale answer may be given
    once, but must not be remembered for the next minute."""
    with Ledger.open(f"sqlite:///{tmp_path / 'e.db'}") as led:
        led.migrate()
        sa_url = led.sa_url
    store = EncounterStore.open(sa_url)
    try:
        store.presented("H1", "02", "610101199001011234", "P1")
        real_connect = store._reads.connect

        class MoveAfterRead:
            """A read connection that, once the check has its row, lets the credential move to P2."""

            def __enter__(self) -> MoveAfterRead:
                self.conn = real_connect().__enter__()
                return self

            def __exit__(self, *exc: object) -> None:
                self.conn.__exit__(None, None, None)

            def execute(self, *args: object, **kw: object) -> object:
                rows = self.conn.execute(*args, **kw).all()
                monkeypatch.undo()  # the move itself reads normally
                store.presented("H1", "02", "610101199001011234", "P2")

                class Rows:
                    def first(self) -> object:
                        return rows[0] if rows else None

                return Rows()

        monkeypatch.setattr(store._reads, "connect", MoveAfterRead)
        assert store.presented_at("H1", "P1")  # read before the move: answered as read
        assert not store.presented_at("H1", "P1")  # but not remembered
        assert store.presented_at("H1", "P2")
    finally:
        store.close()
