"""One raw DBAPI connection (psycopg 3 for PostgreSQL, sqlite3 for SQLite) and the unit of work on it.

The money hot path never touches an ORM: SQL is written once with ``%s`` placeholders (rewritten to
``?`` for SQLite), a transaction is begun for reading or for writing, and a write sends its statements
and the COMMIT together.  On PostgreSQL every write of a unit of work is one statement of
data-modifying CTEs (rows travel as one JSON parameter per insert, so the statement has few parameters
and is prepared once by the server), sent with COMMIT in one pipelined round trip
(``YIBAO_LEDGER_PIPELINE=0`` sends them one after the other).  On SQLite a write transaction is
``BEGIN IMMEDIATE``, which takes the database's write lock up front.

A :class:`Connection` is not thread-safe: give every thread or process its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import psycopg
import psycopg.errors

from yibao.db import parse_url


def _json_text(rows: Any) -> str:
    """Rows as JSON text for ``json_populate_record[set]``: orjson (several times faster than the standard
    writer; the same values reach the table), the standard writer for what orjson refuses (a lone
    surrogate, an integer wider than 64 bits), which PostgreSQL then refuses as bad input."""
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows)


STORAGE_FULL = "storage_full"
DATABASE_UNAVAILABLE = "database_unavailable"


def refusal_kind(exc: BaseException) -> str | None:
    """Why the database could not do a piece of work when the fault is the database's, not the request's:
    :data:`STORAGE_FULL` (PostgreSQL ``53100 disk_full``, SQLite ``SQLITE_FULL``), :data:`DATABASE_UNAVAILABLE`
    (the server gone, restarting, out of connections or locked); ``None`` for anything else.  Nothing of the
    work was committed in either case, so the caller may send the same request again later.  SQLAlchemy's
    wrapper is looked through to the driver's error."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        exc = orig
    if isinstance(exc, psycopg.errors.DiskFull):
        return STORAGE_FULL
    if isinstance(exc, sqlite3.OperationalError):
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
            return STORAGE_FULL
        return DATABASE_UNAVAILABLE if "locked" in str(exc) else None
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return DATABASE_UNAVAILABLE
    return None


class Op(NamedTuple):
    """One statement of a unit of work.  ``many``: ``params`` is a list of rows (executemany).
    ``table`` / ``cols``: set for a plain INSERT, which PostgreSQL then sends as JSON rows."""

    sql: str
    params: Any
    many: bool = False
    table: str | None = None
    cols: tuple[str, ...] = ()


@functools.cache  # the hot path builds the same few statements for every settlement
def insert_sql(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"


def insert(table: str, cols: tuple[str, ...], params: Any, *, many: bool = False) -> Op:
    """An INSERT of one row (``params`` a tuple) or many (a list of tuples) into ``table``."""
    return Op(insert_sql(table, cols), params, many, table, cols)


class Connection:
    """A raw connection with the dialect differences and the unit of work in one place."""

    def __init__(self, kind: str, target: str, sa_url: str) -> None:
        self.kind, self.target, self.sa_url = kind, target, sa_url
        self.pg = kind == "pg"
        self.raw: Any = self._connect()
        self.closed = False
        self._sql_cache: dict[str, str] = {}
        self._pg_cache: dict[
            tuple[tuple[str, bool, str | None], ...], str
        ] = {}  # a unit of work's one statement
        # PostgreSQL: send the write statement and COMMIT in one pipelined round trip (saves a round
        # trip per transaction; on a local socket the gain is small).
        self.pipeline = os.environ.get("YIBAO_LEDGER_PIPELINE", "1") != "0"
        # crash-safety test hook: die with os._exit(1) just before statement number ``fault_after``
        # (0-based, COMMIT included) of the next write transaction; ``statements`` counts them.
        self.fault_after: int | None = None
        self.statements = 0

    def _connect(self) -> Any:
        if self.pg:
            return psycopg.connect(self.target, autocommit=False, prepare_threshold=0, connect_timeout=5)
        Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        raw = sqlite3.connect(self.target, isolation_level=None, timeout=60, check_same_thread=False)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("PRAGMA foreign_keys=ON")
        return raw

    @classmethod
    def open(cls, url: str) -> Connection:
        return cls(*parse_url(url))

    def close(self) -> None:
        self.closed = True
        self.raw.close()

    # ------------------------------------------------------------------ lost connections
    @property
    def lost(self) -> bool:
        """The connection was closed, or (PostgreSQL) is known to be broken (a failed statement told us)."""
        return self.closed or bool(self.pg and (self.raw.closed or self.raw.broken))

    def is_disconnect(self, exc: BaseException) -> bool:
        """Is ``exc`` the database connection failing (server gone, backend terminated, network), as
        opposed to an answer about the data?"""
        if not self.pg or not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return False
        return self.lost or isinstance(exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow)

    def reconnect(self) -> None:
        """Drop the (broken) connection and open a new one; raises while the server is unreachable."""
        try:
            self.raw.close()
        except Exception:
            pass
        self.raw = self._connect()
        self.closed = False
        self._sql_cache.clear()
        self._pg_cache.clear()

    def ensure(self) -> None:
        """Reconnect first if the connection is known to be lost (a cheap check, no round trip)."""
        if self.lost:
            self.reconnect()

    def ping(self) -> None:
        """One round trip (``SELECT 1``) outside any transaction; raises if the database cannot answer."""
        self.raw.execute("SELECT 1").fetchone()
        self.end_read()

    # ------------------------------------------------------------------ statements
    def sql(self, text: str) -> str:
        """``text`` with ``%s`` placeholders, as this dialect wants them."""
        if self.pg:
            return text
        out = self._sql_cache.get(text)
        if out is None:
            out = self._sql_cache[text] = text.replace("%s", "?")
        return out

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (outside the crash-test count); returns the cursor."""
        return self.raw.execute(self.sql(text), params)

    def execute_in_write(self, text: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement inside a write transaction (counted for the crash-safety hook)."""
        self.tick()
        return self.execute(text, params)

    def in_list(self, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``(sql fragment, params)`` testing a column against ``values``: ``= ANY(%s)`` on PostgreSQL,
        ``IN (?, …)`` on SQLite."""
        if self.pg:
            return "= ANY(%s)", (list(values),)
        return f"IN ({', '.join(['%s'] * len(values))})", tuple(values)

    def date(self, d: dt.date) -> Any:
        return d if self.pg else d.isoformat()

    @staticmethod
    def is_unique_violation(exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation | sqlite3.IntegrityError)

    # ------------------------------------------------------------------ transactions
    def begin(self, write: bool) -> None:
        """Start a transaction; on SQLite a writing one takes the write lock now (``BEGIN IMMEDIATE``)."""
        self.statements = 0
        if not self.pg:
            self.raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        elif self.raw.autocommit:
            # a read_one interrupted mid-statement may have left autocommit on: the transaction's row locks
            # must not be released statement by statement (psycopg refuses this unless the connection is idle)
            self.raw.autocommit = False

    def begin_snapshot(self) -> None:
        """A read-only transaction seeing one consistent snapshot (for verification of a live ledger)."""
        if self.pg:
            self.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            self.raw.execute("BEGIN")

    def rollback(self) -> None:
        if self.pg:
            self.raw.rollback()
        elif self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    def commit(self) -> None:
        if self.pg:
            self.raw.commit()
        else:
            self.raw.execute("COMMIT")

    def end_read(self) -> None:
        """End the implicit read transaction PostgreSQL opened for a plain read (or a transaction that read,
        perhaps locked rows, and decided to write nothing).  It is committed: with nothing written that is
        the same as a rollback, but psycopg forgets every prepared statement of the connection on a
        ROLLBACK (one more round trip, ``DEALLOCATE ALL``, and each statement prepared again afterwards).
        A transaction a failed statement aborted is rolled back."""
        if self.pg:
            status = self.raw.info.transaction_status
            if status == psycopg.pq.TransactionStatus.INTRANS:
                self.raw.commit()
            elif status != psycopg.pq.TransactionStatus.IDLE:
                self.raw.rollback()

    def read_one(self, text: str, params: Sequence[Any] = ()) -> Any:
        """The first row of one read-only statement.  On PostgreSQL, when no transaction is open, it is sent
        outside one (autocommit for this statement): one round trip instead of three (BEGIN, the statement,
        COMMIT), and what it sees is the same — a single statement under READ COMMITTED sees the data
        committed when it starts, in a transaction or not."""
        raw = self.raw
        if not self.pg or raw.autocommit or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            row = self.execute(text, params).fetchone()
            self.end_read()
            return row
        raw.autocommit = True  # no round trip: psycopg only notes it
        try:
            return raw.execute(text, params).fetchone()
        finally:
            if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                raw.autocommit = False  # a broken connection is replaced by reconnect() (autocommit off)

    def end_unwritten(self) -> None:
        """End a transaction begun with :meth:`begin` that wrote nothing (a pre-settlement, a replay found
        under the locks): :meth:`end_read` on PostgreSQL, a ROLLBACK on SQLite."""
        if self.pg:
            self.end_read()
        else:
            self.rollback()

    def tick(self, pipeline: Any = None) -> None:
        if self.fault_after is None:
            return
        if pipeline is not None:
            pipeline.sync()  # make sure the statements so far really ran on the server
        if self.statements == self.fault_after:
            os._exit(1)
        self.statements += 1

    def write(self, ops: Sequence[Op]) -> None:
        """Run ``ops`` and COMMIT: one statement plus COMMIT on PostgreSQL, one per op on SQLite."""
        conn = self.raw
        if self.pg:
            text, params = self._pg_statement(ops)
            if self.pipeline:
                # COMMIT as a statement of the pipeline: the write, the COMMIT and one Sync go out together
                # and come back in one round trip (``conn.commit()`` inside a pipeline syncs on its own,
                # which made it two, with more client work than sending them one after the other)
                with conn.pipeline() as p, conn.cursor() as cur:
                    self.tick(p)
                    cur.execute(text, params)
                    self.tick(p)
                    cur.execute("COMMIT")
            else:
                self.tick()
                conn.execute(text, params)
                self.tick()
                conn.commit()
            return
        # one cursor for the unit of work (the connection's own execute makes a cursor a statement)
        cur = conn.cursor()
        for op in ops:
            self.tick()
            if op.many:
                cur.executemany(self.sql(op.sql), op.params)
            else:
                cur.execute(self.sql(op.sql), op.params)
        self.tick()
        cur.execute("COMMIT")

    def _pg_statement(self, ops: Sequence[Op]) -> tuple[str, list[Any]]:
        """One statement for all ``ops``: an insert carries its rows as one JSON parameter
        (``json_populate_record[set]`` on the table's row type).  The statement is built once per shape
        of unit of work (each op's SQL, whether it has many rows, whether it is a plain insert)."""
        key = tuple([(op.sql, op.many, op.table) for op in ops])
        stmt = self._pg_cache.get(key)
        if stmt is None:
            stmt = self._pg_cache[key] = (
                "WITH " + ", ".join(map(_pg_part, range(len(ops)), ops)) + " SELECT 1"
            )
        params: list[Any] = []
        for op in ops:
            if op.table is None:
                assert not op.many
                params.extend(op.params)
            elif op.many:
                cols = op.cols
                params.append(_json_text([dict(zip(cols, row, strict=True)) for row in op.params]))
            else:
                params.append(_json_text(dict(zip(op.cols, op.params, strict=True))))
        return stmt, params


def _pg_part(i: int, op: Op) -> str:
    """Op ``i`` of a unit of work as a data-modifying CTE (an insert reads its rows from one JSON parameter)."""
    if op.table is None:
        return f"w{i} AS ({op.sql})"
    cols = ", ".join(op.cols)
    fn = "json_populate_recordset" if op.many else "json_populate_record"
    return f"w{i} AS (INSERT INTO {op.table} ({cols}) SELECT {cols} FROM {fn}(NULL::{op.table}, %s::json))"
