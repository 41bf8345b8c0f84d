"""The ledger: persons, accounts, accumulators, settlements and the hash-chained journal, on SQLite or
PostgreSQL.

:class:`Ledger` is the one object a caller holds: one database connection
(:class:`yibao.db.connection.Connection`) and the ledger's jobs on it, each in its own module —
money transactions (:mod:`.transactions`: settle, cancel, reverse), reads (:mod:`.queries`),
verification (:mod:`.verify`) and institution-side deductions (:mod:`.deduction`).  A Ledger is not
thread-safe: give every thread or process its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from yibao.db import DEFAULT_SQLITE
from yibao.db.connection import Connection
from yibao.ledger import anchor, deduction, queries, transactions, verify
from yibao.ledger.deduction import DeductionItem, DeductionOutcome, SettlementCap
from yibao.ledger.queries import PersonSummary, SettlementPage, SettlementQuery, Statement
from yibao.ledger.rows import ACTIVE, CANCELLED, JOURNAL_FIELDS, TABLES, MessageRow
from yibao.ledger.types import PersonRecord, ReversalOutcome, SettleOutcome, StoredSettlement, VerifyReport
from yibao.policy.book import PolicyBook
from yibao.settlement.model import AuditHook, CommercialProduct, Entitlement, Person, Visit

__all__ = ["ACTIVE", "CANCELLED", "JOURNAL_FIELDS", "TABLES", "Ledger"]

P = ParamSpec("P")
R = TypeVar("R")
# waits between attempts after a lost connection: about 6 s in all, enough for a PostgreSQL restart
RETRY_WAITS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 2.0)


def idempotent(fn: Callable[Concatenate[Ledger, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """Run ``fn`` again on a fresh connection when the database connection is lost (PostgreSQL
    restarted, backend terminated, network).  Only for work that may safely run twice: reads, and the
    money transactions keyed by a msgid (a second run after a commit that did reach the server finds
    the msgid and answers the stored result)."""

    @functools.wraps(fn)
    def run(led: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        conn = led.conn
        for wait in RETRY_WAITS:
            if wait:
                time.sleep(wait)
            try:
                conn.ensure()
                return fn(led, *args, **kwargs)
            except Exception as exc:
                if not conn.is_disconnect(exc) and not conn.lost:
                    raise
                led.reconnects += 1
        conn.ensure()
        return fn(led, *args, **kwargs)

    return run


def _ensured(fn: Callable[Concatenate[Ledger, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """Reconnect first if the connection is known lost; no retry (the work is not idempotent)."""

    @functools.wraps(fn)
    def run(led: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        led.conn.ensure()
        return fn(led, *args, **kwargs)

    return run


class Ledger:
    """The ledger on one database connection.

    Reversals and ordering (倒序撤销): a settlement may be cancelled (2208) or reversed (2601) only while
    it is the *latest* active settlement of its person-year and, if it debited an account, the latest
    active settlement using that account; otherwise the call is refused with ``not_latest``.  This is
    what makes undo exact: accumulators and balance come back to what they were.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.reconnects = 0  # connections re-opened after a loss (for health reports and benchmarks)

    @classmethod
    def open(cls, url: str | None = None) -> Ledger:
        """Open ``url``; None → env ``YIBAO_DATABASE_URL`` → SQLite file ``.yibao/yibao.db``."""
        if url is None:
            url = os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"
        return cls(Connection.open(url))

    @property
    def kind(self) -> str:
        return self.conn.kind

    @property
    def sa_url(self) -> str:
        return self.conn.sa_url

    @idempotent
    def ping(self) -> None:
        """One round trip to the database (reconnecting if the connection was lost); raises if it
        cannot answer.  For readiness checks."""
        self.conn.ping()

    def migrate(self) -> None:
        """``alembic upgrade heads`` (idempotent; each capability adds its tables on its own branch)."""
        from yibao.db import migrate  # alembic and SQLAlchemy load only when migrating

        migrate.upgrade(self.conn.sa_url)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ persons
    @_ensured
    def add_persons(self, persons: Iterable[PersonRecord]) -> int:
        """Insert persons in one transaction; a psn_no already present (or repeated) → ``duplicate_person``."""
        return queries.add_persons(self.conn, persons)

    @idempotent
    def person_schemes(self) -> dict[str, tuple[str, str]]:
        """Every person's scheme and person type: psn_no → (insutype, psn_type)."""
        return queries.person_schemes(self.conn)

    @_ensured
    def set_schemes(self, rows: Iterable[tuple[str, str, str]]) -> list[str]:
        """Set persons' scheme and person type — (psn_no, insutype, psn_type) — where the ledger knows them
        and they differ (the enrolment registry's current relation); returns the psn_nos changed."""
        return queries.set_schemes(self.conn, rows)

    @_ensured
    def set_family(
        self, psn_no: str, *, add: Sequence[str] = (), drop: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Add / drop relatives whose personal accounts may pay for ``psn_no`` (家庭共济, a relative's consent
        recorded by the portal); returns the list after.  No money moves."""
        return queries.set_family(self.conn, psn_no, add=add, drop=drop)

    @idempotent
    def get_person(self, psn_no: str, on: dt.date) -> Person:
        """The person with the identities valid on ``on``; unknown → ``unknown_person``."""
        return queries.get_person(self.conn, psn_no, on)

    @idempotent
    def account_balance(self, psn_no: str) -> int:
        return queries.account_balance(self.conn, psn_no)

    @idempotent
    def accumulators(self, psn_no: str, year: int) -> dict[str, int]:
        return queries.accumulators(self.conn, psn_no, year)

    @_ensured
    def open_accumulators(self, psn_no: str, year: int, counters: dict[str, int], source: str) -> None:
        """Accumulators at the start of the period (:func:`yibao.ledger.queries.open_accumulators`)."""
        queries.open_accumulators(self.conn, psn_no, year, counters, source)

    @idempotent
    def psn_no_by_certno(self, certno: str) -> str | None:
        return queries.psn_no_by_certno(self.conn, certno)

    @idempotent
    def list_persons(self, limit: int, offset: int) -> list[PersonSummary]:
        return queries.list_persons(self.conn, limit, offset)

    # ------------------------------------------------------------------ money transactions
    @idempotent
    def settle(
        self,
        book: PolicyBook,
        visit: Visit,
        msgid: str,
        *,
        pre: bool = False,
        audit: AuditHook | None = None,
        entitlement: Entitlement | None = None,
        covers: Sequence[CommercialProduct] = (),
    ) -> SettleOutcome:
        """Settle ``visit`` (2207) in one transaction, or pre-settle it (2206, ``pre=True``: nothing is
        written).  See :func:`yibao.ledger.transactions.settle`."""
        return transactions.settle(
            self.conn,
            book,
            visit,
            msgid,
            self.get_settlement,
            pre=pre,
            audit=audit,
            entitlement=entitlement,
            covers=covers,
        )

    @idempotent
    def cancel(self, setl_id: str, msgid: str) -> ReversalOutcome:
        """2208 门诊结算撤销 (:func:`yibao.ledger.transactions.cancel`)."""
        return transactions.cancel(self.conn, setl_id, msgid)

    @idempotent
    def reverse(self, omsgid: str, msgid: str) -> ReversalOutcome:
        """2601 冲正 of the transaction recorded under ``omsgid`` (:func:`yibao.ledger.transactions.reverse`)."""
        return transactions.reverse(self.conn, omsgid, msgid)

    # ------------------------------------------------------------------ deductions (扣款)
    @idempotent
    def post_deduction(
        self,
        deduction_id: str,
        fixmedins_code: str,
        reference: str,
        items: Sequence[DeductionItem],
        memo: str = "",
    ) -> DeductionOutcome:
        """Recover fund money from institution ``fixmedins_code`` (:mod:`yibao.ledger.deduction`):
        idempotent by ``deduction_id``, capped by what the funds paid per line."""
        return deduction.post(self.conn, deduction_id, fixmedins_code, reference, items, memo)

    @idempotent
    def deduction_caps(self, setl_ids: Sequence[str]) -> dict[str, SettlementCap]:
        """What may still be recovered per settlement and per line."""
        return deduction.caps(self.conn, setl_ids)

    @idempotent
    def list_deductions(self, fixmedins_code: str | None = None) -> list[DeductionOutcome]:
        return deduction.list_deductions(self.conn, fixmedins_code)

    # ------------------------------------------------------------------ reading
    @idempotent
    def get_settlement(self, setl_id: str) -> StoredSettlement:
        """Header, lines, ``setldetail``, trace and per-line allocation; unknown → ``unknown_settlement``."""
        return queries.get_settlement(self.conn, setl_id)

    @idempotent
    def list_settlements(self, psn_no: str | None = None, limit: int = 100) -> list[StoredSettlement]:
        """Newest first; all persons when ``psn_no`` is None."""
        return queries.list_settlements(self.conn, psn_no, limit)

    @idempotent
    def institution_settlements(
        self, fixmedins_code: str, psn_no: str | None = None, limit: int = 100
    ) -> list[StoredSettlement]:
        return queries.institution_settlements(self.conn, fixmedins_code, psn_no, limit)

    @idempotent
    def search_settlements(self, q: SettlementQuery, limit: int, offset: int) -> SettlementPage:
        """Settlements matching ``q`` (newest first): the count and one page
        (:func:`yibao.ledger.queries.search_settlements`)."""
        return queries.search_settlements(self.conn, q, limit, offset)

    @idempotent
    def last_updated(self, setl_ids: Sequence[str]) -> dict[str, str]:
        """When each settlement last changed (its cancellation, else its creation)."""
        return queries.last_updated(self.conn, setl_ids)

    @idempotent
    def person_last_changed(self, psn_no: str) -> str | None:
        """When the ledger last wrote to the person's record (newest journal row), if ever."""
        return queries.person_last_changed(self.conn, psn_no)

    @idempotent
    def find_settlement(self, mdtrt_id: str) -> str | None:
        """The active settlement of visit ``mdtrt_id`` (its ``setl_id``), or None."""
        return queries.find_settlement(self.conn, mdtrt_id)

    @idempotent
    def message(self, msgid: str) -> MessageRow | None:
        return queries.message(self.conn, msgid)

    @idempotent
    def statement(
        self, *, fixmedins_code: str | None, insutype: str, begin: dt.date | None, end: dt.date | None
    ) -> Statement:
        """3201 totals over active settlements (see :func:`yibao.ledger.queries.statement`)."""
        return queries.statement(
            self.conn, fixmedins_code=fixmedins_code, insutype=insutype, begin=begin, end=end
        )

    @idempotent
    def statement_by_med_type(
        self, *, fixmedins_code: str, insutype: str, since: str, until: str
    ) -> dict[str, Statement]:
        """3201 totals per med_type (see :func:`yibao.ledger.queries.statement_by_med_type`)."""
        return queries.statement_by_med_type(
            self.conn, fixmedins_code=fixmedins_code, insutype=insutype, since=since, until=until
        )

    @idempotent
    def totals(self) -> dict[str, int]:
        """Sums of the money fields over active settlements, ``count``, and the deductions posted."""
        out = queries.totals(self.conn)
        out.update(deduction.totals(self.conn))
        self.conn.end_read()
        return out

    @idempotent
    def row_counts(self) -> dict[str, int]:
        """Rows per ledger table (for checks that a refused call wrote nothing)."""
        return queries.row_counts(self.conn)

    @idempotent
    def verify(self) -> VerifyReport:
        """Recompute every journal chain and cross-check settlements, accumulators and deductions."""
        return verify.verify(self.conn)

    @idempotent
    def export_anchor(self) -> anchor.Anchor:
        """The journal's anchor as of a minute ago (:mod:`yibao.ledger.anchor`): keep it outside the
        database (print, publish, sign) and :meth:`check_anchor` it later."""
        return anchor.export(self.conn)

    @idempotent
    def check_anchor(self, a: anchor.Anchor) -> anchor.AnchorCheck:
        """Does today's journal, as of the anchor's moment, still give the anchored digest?"""
        return anchor.check(self.conn, a)
