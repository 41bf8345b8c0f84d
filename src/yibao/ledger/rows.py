"""The ledger's rows by name: the columns of each table as the hot path writes them, the SQL that reads
and writes them, and the mapping between rows and the settlement's data shapes.

Rows come back from the DBAPI as tuples; every read here turns them into a named tuple or a dataclass
at once, so no code reads a row by position."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import os
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from yibao.db.connection import insert_sql
from yibao.settlement.model import FUND_FIELDS, MONEY_FIELDS, FundDetail, LineSplit, Person, Visit

ACTIVE, CANCELLED = "active", "cancelled"
# the money fields the journal carries (a commercial product's payment, 一单制, in the patient's chain too)
JOURNAL_FIELDS = (*FUND_FIELDS, "acct_pay", "psn_cash_pay", "commercial_pay")
TABLES = ("person", "accumulator", "settlement", "settlement_line", "journal", "message")

PERSON_COLS = (
    "psn_no", "name", "certno", "gender", "birth_date", "insutype", "psn_type", "insuplc_admdvs",
    "identities", "family", "account_balance", "chain_seq", "chain_hash", "version",
)  # fmt: skip
PERSON_INSERT_COLS = PERSON_COLS[:13]  # with the chain head: the opening balance is the chain's first row
HEADER_COLS = (
    "setl_id", "msgid", "psn_no", "mdtrt_id", "fixmedins_code", "year", "status", "created", "cancel_msgid",
    "policy_version", "admdvs", "insutype", "psn_type", "med_type", "account_psn_no", "pool_prop_selfpay",
    *MONEY_FIELDS, "deltas", "setldetail", "steps", "visit", "commercial_pay", "commercial_product",
)  # fmt: skip
# the commercial product's payment (一单制, migration 0710): in a settlement's digest only when a product paid,
# so that the digests of settlements stored before the columns existed still match
COMMERCIAL_COLS = ("commercial_pay", "commercial_product")
LINE_COLS = (
    "setl_id", "line_no", "feedetl_sn", "code", "qty", "price", "amount", "fulamt_ownpay_amt",
    "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc", "fund_pay", "acct_pay",
    "psn_cash_pay", "commercial_pay",
)  # fmt: skip
JOURNAL_COLS = (
    "chain", "seq", "setl_id", "msgid", "kind", "item", "field", "amount", "created", "prev_hash", "hash",
)  # fmt: skip
MSG_COLS = (
    "msgid", "infno", "setl_id", "action", "omsgid", "acct_change", "status", "created", "fingerprint",
)  # fmt: skip
MSG_READ_COLS = tuple(c for c in MSG_COLS if c != "created")
# what a settlement's content digest covers: every stored column but its status and timestamps (which
# the journal sums and the message rows cover) and the explanation trace; and every line column
DIGEST_HEADER_COLS = tuple(
    c for c in HEADER_COLS if c not in ("status", "created", "cancel_msgid", "steps", *COMMERCIAL_COLS)
)
DIGEST_LINE_COLS = LINE_COLS[1:-1]  # and the line's commercial_pay when not zero
DIGEST_WIDTH = 40  # hex characters kept in the journal row's ``item`` (160 bits)

SQL_PERSON = f"SELECT {', '.join(PERSON_COLS)} FROM person"
SQL_INS_PERSON = insert_sql("person", PERSON_INSERT_COLS)
SQL_INS_JOURNAL = insert_sql("journal", JOURNAL_COLS)
SQL_UPSERT_ACC = (
    "INSERT INTO accumulator (psn_no, year, counters, version) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (psn_no, year) DO UPDATE SET counters = excluded.counters, version = excluded.version"
)
SQL_UPD_PERSON = (
    "UPDATE person SET account_balance = %s, chain_seq = %s, chain_hash = %s, version = %s WHERE psn_no = %s"
)
SQL_ACC = "SELECT counters FROM accumulator WHERE psn_no = %s AND year = %s"
SQL_MSG = f"SELECT {', '.join(MSG_READ_COLS)} FROM message WHERE msgid = %s"


# Lock + read in one statement: lock the person rows in psn_no order, and join the patient's accumulator
# row and the msgid record.  PostgreSQL (``FOR UPDATE``): under READ COMMITTED a statement that waited for
# the lock sees the locked rows as committed by the previous holder but the joined rows as of its own start;
# the accumulator's ``version`` (= person.version when written) tells whether it is current — if not, it is
# read again by a second statement.  A stale "msgid unseen" is caught by the message primary key.  SQLite
# (the write lock already held by ``BEGIN IMMEDIATE``): the same statement without ``FOR UPDATE``, one
# statement where three plain reads were.
def lock_read_sql(keys_test: str, lock: str) -> str:
    """The lock-and-read statement, the person keys tested by ``keys_test`` (``= ANY(%s)`` / ``IN (…)``)."""
    return (
        f"WITH p AS ({SQL_PERSON} WHERE psn_no {keys_test} ORDER BY psn_no{lock}) "
        "SELECT p.*, a.counters, a.version, m.msgid, m.infno, m.setl_id, m.action, m.omsgid, m.acct_change, "
        "m.status, m.fingerprint "
        "FROM p LEFT JOIN accumulator a ON a.psn_no = p.psn_no AND a.psn_no = %s AND a.year = %s "
        "LEFT JOIN message m ON m.msgid = %s ORDER BY p.psn_no"
    )


SQL_PG_LOCK_READ = lock_read_sql("= ANY(%s)", " FOR UPDATE")
SQL_SQLITE_LOCK_READ = {n: lock_read_sql(f"IN ({', '.join(['%s'] * n)})", "") for n in (1, 2)}


class PersonRow(NamedTuple):
    """A ``person`` row: who, the account balance, the head of the person's journal chain and the row
    version every money transaction bumps."""

    psn_no: str
    name: str
    certno: str
    gender: str
    birth_date: Any  # date (PostgreSQL) or ISO text (SQLite)
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    identities: str  # JSON [[code, begin, end|null]]
    family: str  # JSON [psn_no]
    account_balance: int
    chain_seq: int
    chain_hash: str
    version: int


class MessageRow(NamedTuple):
    """A ``message`` row: a msgid the ledger acted on, and what it did."""

    msgid: str
    infno: str
    setl_id: str
    action: str  # settle / cancel / restore
    omsgid: str | None
    acct_change: int
    status: str
    fingerprint: str | None  # of the request (None for messages stored before fingerprints)


class ChainHead(NamedTuple):
    """A person's state a money transaction advances: account balance and journal chain head."""

    balance: int
    seq: int
    hash: str


def person_row(raw: Sequence[Any]) -> PersonRow:
    return PersonRow(*raw[: len(PERSON_COLS)])


def message_row(raw: Sequence[Any] | None) -> MessageRow | None:
    return None if raw is None else MessageRow(*raw[: len(MSG_READ_COLS)])


def person_of(row: PersonRow, on: dt.date) -> Person:
    """The engine's person, with the identities (低保, 特困 …) valid on ``on``."""
    birth = row.birth_date if isinstance(row.birth_date, dt.date) else dt.date.fromisoformat(row.birth_date)
    day = on.isoformat()
    ids = row.identities
    valid = (
        frozenset(c for c, b, e in orjson.loads(ids) if b <= day and (e is None or day <= e))
        if ids != "[]"
        else frozenset()
    )
    family = row.family
    return Person(
        row.psn_no, row.name, row.certno, row.gender, birth, row.insutype, row.psn_type, valid,
        row.insuplc_admdvs, tuple(orjson.loads(family)) if family != "[]" else (),
    )  # fmt: skip


_FINGERPRINT_LINE = operator.attrgetter(
    "feedetl_sn", "code", "qty", "price", "amount", "prd_days", "bilg_dr_codg"
)


def visit_fingerprint(visit: Visit) -> str:
    """SHA-256 of the canonical form of everything a 2207 request carries (the visit, its level,
    locality, dates, diagnoses, account choice and every line): a msgid seen again with any difference
    in it is a different request."""
    # a tuple is written as the same JSON array as a list
    lines = [
        _FINGERPRINT_LINE(ln)
        # the service day only when sent, so that fingerprints stored before lines carried it still match
        if ln.fee_ocur_time is None
        else (*_FINGERPRINT_LINE(ln), ln.fee_ocur_time.isoformat())
        for ln in visit.lines
    ]
    doc = [
        "2207",
        visit.mdtrt_id,
        visit.psn_no,
        visit.med_type,
        visit.fixmedins_code,
        visit.hosp_lv,
        visit.begin_date.isoformat(),
        visit.end_date.isoformat(),
        visit.locality,
        visit.emergency,
        list(visit.diagnoses),
        visit.use_account,
        visit.account_psn_no,
        visit.bilg_dr_codg,
        lines,
        # the care scene only when there is one, so that fingerprints stored before visits carried it match
        *([visit.scene] if visit.scene else []),
    ]
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


class ContentDigest:
    """SHA-256 over a settlement's stored columns (:data:`DIGEST_HEADER_COLS`) then each of its lines
    (:data:`DIGEST_LINE_COLS`, in line order), one canonical JSON array per line of input; the first
    :data:`DIGEST_WIDTH` hex characters go into the journal as a ``digest`` row of the patient's chain,
    so editing any money column, the stored visit (institution, dates …) or a line breaks the chain."""

    __slots__ = ("_h",)

    def __init__(self, header: Sequence[Any], commercial: tuple[Any, Any] = (0, None)) -> None:
        # the commercial columns (COMMERCIAL_COLS) count only when a product paid in the settlement
        self._h = hashlib.sha256(_canon([*header, *commercial] if commercial[1] is not None else header))

    def line(self, values: Sequence[Any], commercial: Any = 0) -> None:
        self._h.update(_canon([*values, commercial] if commercial else values))

    def lines(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Every line at once, each row as stored (``setl_id``, :data:`DIGEST_LINE_COLS`, ``commercial_pay``):
        the same bytes as :meth:`line` per row, hashed in one update.

        When the line's two texts (``feedetl_sn``, ``code``) are printable ASCII without quote or backslash
        and the ``fund_pay`` document is too but for its quotes — what compact JSON writes unescaped — the
        lines are formatted from the stored rows as they are (the values as ``str`` gives them) with a
        stand-in for the arrays' own quotes, then the document's quotes are escaped and the stand-in made a
        quote; otherwise, or for a value that is not text where text is stored, each value goes through the
        JSON writer as in :meth:`line`.  ``tests/property/test_stored_json.py`` holds the two to the same
        bytes."""
        try:
            texts = " ".join([*map(_SN, rows), *map(_CODE, rows)])
            docs = "".join(map(_FUND_PAY, rows))
        except TypeError:  # a text column holding something else (None): the writer decides
            plain = False
        else:
            # printable ASCII is what compact JSON writes unescaped, but for the quote and the backslash
            # (str.isprintable counts the space as printable); the document may hold quotes of its own
            plain = (
                texts.isascii()
                and texts.isprintable()
                and '"' not in texts
                and "\\" not in texts
                and docs.isascii()
                and docs.isprintable()
                and "\\" not in docs
            )
        if plain:
            text = "".join([(_LINE_ARRAY_COM if r[-1] else _LINE_ARRAY) % r for r in rows])
            self._h.update(text.replace('"', '\\"').replace(_QUOTE, '"').encode())
            return
        self._h.update(b"".join([_canon(r[1:] if r[-1] else r[1:-1]) for r in rows]))

    def hex(self) -> str:
        return self._h.hexdigest()[:DIGEST_WIDTH]


# a stored line's digest input (:meth:`ContentDigest.lines`): setl_id, then DIGEST_LINE_COLS, then commercial_pay
_SN, _CODE, _FUND_PAY = (operator.itemgetter(LINE_COLS.index(c)) for c in ("feedetl_sn", "code", "fund_pay"))
_QUOTE = "\x01"  # stands for the line array's own quotes until the values' quotes are escaped
# a stored line as its digest array, every value a string: "%.0s" drops the setl_id, and the commercial_pay
# unless the second form is taken (when it is not zero)
_LINE_ARRAY = "%.0s[" + ",".join([f"{_QUOTE}%s{_QUOTE}"] * len(DIGEST_LINE_COLS)) + "]%.0s\n"
_LINE_ARRAY_COM = "%.0s[" + ",".join([f"{_QUOTE}%s{_QUOTE}"] * (len(DIGEST_LINE_COLS) + 1)) + "]\n"
assert LINE_COLS[1:-1] == DIGEST_LINE_COLS and LINE_COLS[-1] == "commercial_pay"


def _canon(values: Sequence[Any]) -> bytes:
    """One line of digest input: the values as strings (``None`` kept), compact JSON, then a newline."""
    return canonical_bytes([None if v is None else str(v) for v in values]) + b"\n"


def canonical_bytes(values: list[Any]) -> bytes:
    """``json.dumps(values, ensure_ascii=False, separators=(",", ":"))`` as UTF-8, byte for byte, written by
    orjson (several times faster; a settlement hashes one array per line).  A lone surrogate, which orjson
    refuses, is left to the standard writer and ends in the same error the standard encoder gives."""
    try:
        return orjson.dumps(values)
    except orjson.JSONEncodeError:
        return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def undo_fingerprint(infno: str, target: str) -> str:
    """SHA-256 of a 2208 (``target`` = the settlement) or 2601 (``target`` = the original msgid)."""
    return hashlib.sha256(f"{infno}\x00{target}".encode()).hexdigest()


def dumps(obj: object) -> str:
    """Canonical JSON for stored documents (sorted keys, no spaces, Chinese as is).

    orjson writes the same text as ``json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
    sort_keys=True)`` for the strings, integers, lists and objects stored here (a property test holds it
    to that), several times faster: a settlement stores one document per line."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # e.g. a lone surrogate, which orjson refuses: the standard writer decides
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def dumps_ordered(obj: object) -> str:
    """Compact JSON keeping the objects' key order (a stored trace reads in the order it was written)."""
    try:
        return orjson.dumps(obj).decode()
    except orjson.JSONEncodeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def new_setl_id() -> str:
    """A new 结算ID (字符型 30 in the national interface): the creation time in milliseconds as 12 hex digits,
    then 18 random ones (72 bits).  Time first, like a version-7 UUID, so that the indexes keyed by it
    (the settlement's, its lines', the journal's) grow at their right edge: a settlement dirties the same
    few index pages as the one before it instead of one random page per index."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(9).hex()}"  # what secrets.token_hex(9) reads


def now() -> str:
    """The timestamp stored with a row (UTC, ISO-8601 with microseconds; it enters hashes)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def setldetail_json(details: Sequence[FundDetail]) -> str:
    return dumps(
        [
            [
                d.fund_pay_type,
                d.fund_pay_type_name,
                d.inscp_scp_amt,
                d.crt_payb_lmt_amt,
                d.fund_payamt,
                d.setl_proc_info,
            ]
            for d in details
        ]
    )


def split_of(line: dict[str, Any]) -> LineSplit | None:
    """A stored line's allocation (``None`` for rows stored before lines kept it)."""
    if line["fund_pay"] is None:
        return None
    return LineSplit(
        feedetl_sn=line["feedetl_sn"],
        code=line["code"],
        amount=int(line["amount"]),
        fulamt_ownpay_amt=int(line["fulamt_ownpay_amt"]),
        overlmt_selfpay=int(line["overlmt_selfpay"]),
        preselfpay_amt=int(line["preselfpay_amt"]),
        inscp_scp_amt=int(line["inscp_scp_amt"]),
        act_pay_dedc=int(line["act_pay_dedc"]),
        fund_pay={k: int(v) for k, v in json.loads(line["fund_pay"]).items()},
        acct_pay=int(line["acct_pay"]),
        psn_cash_pay=int(line["psn_cash_pay"]),
        commercial_pay=int(line.get("commercial_pay") or 0),
    )
