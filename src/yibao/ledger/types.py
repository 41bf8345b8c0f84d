"""The ledger's public data shapes: what goes in (persons) and what comes out (outcomes, stored rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from yibao.errors import FieldError
from yibao.settlement.model import Line, Settlement, Visit


class LedgerError(FieldError):
    """A request the ledger refuses; nothing was written.  Shaped like ``SettlementError``:
    ``field`` is the offending input, ``reason`` why, ``code`` a stable machine-readable tag
    (``unknown_person``, ``unknown_settlement``, ``already_reversed``, ``not_latest``,
    ``duplicate_person``, ``msgid_conflict``, ``invalid``)."""


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One insured person as loaded into the ledger (1101 ``baseinfo`` + ``insuinfo`` + ``idetinfo``)."""

    psn_no: str
    name: str
    certno: str
    gender: str
    birth_date: dt.date
    insutype: str
    psn_type: str
    insuplc_admdvs: str = ""
    account_balance: int = 0  # fen
    identities: list[tuple[str, dt.date, dt.date | None]] = field(default_factory=list)
    family: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SettleOutcome:
    """``settlement`` is the engine's result (or the stored first result when ``replayed``);
    ``setl_id`` is empty for a pre-settlement (2206), which is never stored."""

    settlement: Settlement
    setl_id: str
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class ReversalOutcome:
    """Result of a 2208 cancel or a 2601 reversal.

    ``action`` is ``cancel`` (the settlement was undone) or ``restore`` (a cancel was reversed and the
    settlement is active again); ``status`` is the settlement's status afterwards; ``acct_change`` is
    what the paying account gained (positive on cancel, negative on restore)."""

    setl_id: str
    msgid: str
    action: str
    status: str
    acct_change: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class StoredLine:
    line_no: int
    feedetl_sn: str
    code: str
    qty: int
    price: int
    amount: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int
    inscp_scp_amt: int


@dataclass(frozen=True, slots=True)
class StoredSettlement:
    """A settlement as stored: header, lines and the engine's result (with ``setldetail`` and the
    trace ``steps``), enough to rebuild the visit and re-render the explanation."""

    setl_id: str
    msgid: str
    psn_no: str
    mdtrt_id: str
    year: int
    status: str  # active / cancelled
    created: str
    cancel_msgid: str | None
    settlement: Settlement
    visit: Visit
    lines: list[StoredLine]

    @property
    def active(self) -> bool:
        return self.status == "active"

    @staticmethod
    def line_of(stored: StoredLine) -> Line:
        return Line(stored.feedetl_sn, stored.code, stored.qty, stored.price, stored.amount)


@dataclass(slots=True)
class VerifyReport:
    """Outcome of :meth:`Ledger.verify`.  ``root`` is sha256 over the sorted ``psn_no:head-hash``
    pairs of every non-empty chain (and ``inst:<fixmedins_code>:head-hash`` of every deduction chain):
    publish it, and any later rewrite of history changes it."""

    ok: bool
    chains: int
    rows: int
    problems: list[str]
    root: str
    deductions: int = (
        0  # institution-side deduction rows checked (their chains enter ``root`` as inst:<code>)
    )
