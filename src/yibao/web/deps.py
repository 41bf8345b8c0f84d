"""Shared request-scoped helpers: the ledger (one raw connection per process, not thread-safe) and the
policy book, as held on ``app.state``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from fastapi import Request

from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook


@contextmanager
def ledger_of(request: Request) -> Iterator[Ledger]:
    """``with ledger_of(request) as led:`` — the process's ledger, held under a lock, because one
    :class:`~yibao.ledger.Ledger` is one database connection and sync routes run on several threads."""
    lock = cast(threading.Lock, request.app.state.ledger_lock)
    with lock:
        yield cast(Ledger, request.app.state.ledger)


def book_of(request: Request) -> PolicyBook:
    return cast(PolicyBook, request.app.state.book)
