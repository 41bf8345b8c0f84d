"""``yibao.ledger``: persons, accounts, per-person per-year accumulators, settlements and their lines,
written in one transaction per settlement, with a hash-chained journal.

SQLite by default (``.yibao/yibao.db``), PostgreSQL by URL (env ``YIBAO_DATABASE_URL``).  The schema is
created by the Alembic migrations in ``yibao/db/migrations`` (:meth:`Ledger.migrate`).
"""

from yibao.ledger.core import Ledger
from yibao.ledger.types import (
    LedgerError,
    PersonRecord,
    ReversalOutcome,
    SettleOutcome,
    StoredLine,
    StoredSettlement,
    VerifyReport,
)

__all__ = [
    "Ledger",
    "LedgerError",
    "PersonRecord",
    "ReversalOutcome",
    "SettleOutcome",
    "StoredLine",
    "StoredSettlement",
    "VerifyReport",
]
