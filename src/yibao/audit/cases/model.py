"""The case (稽核案件) as data: one institution, one audit period, its suspect items and their fate.

States (``Case.state``)::

    open ──notify──▶ notified ──appeal──▶ appealed ──decide──▶ decided ──post──▶ deducted
                        │  └──────────decide (window over)──────▲   └──(nothing upheld)──▶ closed
                        └──expire (window over, no appeal)──────┘

Every transition appends one :class:`CaseEvent` to the case's hash-chained event log (who, when, what,
state before and after, and the item fields it changed with their before / after values).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from yibao.errors import FieldError

GENESIS = "0" * 64


class AuditCaseError(FieldError):
    """A refused case operation; nothing was written.  ``code``: ``illegal_transition``,
    ``appeal_window_closed``, ``appeal_window_open``, ``unknown_item``, ``already_appealed``,
    ``invalid_decision``, ``unknown_case``, ``case_exists``, ``conflict``, ``calendar_not_covered``,
    ``unresolved_settlement``, ``invalid``."""


class CaseState(StrEnum):
    OPEN = "open"  # 已立案: items listed, the institution not yet told
    NOTIFIED = "notified"  # 已告知: notice (告知书) sent, appeal window running
    APPEALED = "appealed"  # 已申诉: the institution contested at least one item
    DECIDED = "decided"  # 已裁定: every item has a decision, something upheld, not yet deducted
    DEDUCTED = "deducted"  # 已扣款: the deduction is posted to the ledger
    CLOSED = "closed"  # 已结案: nothing upheld, nothing to deduct


class Outcome(StrEnum):
    UPHELD = "upheld"  # 维持: the whole amount stands
    DISMISSED = "dismissed"  # 撤销: the item is dropped
    PARTIAL = "partial"  # 部分维持: part of the amount stands


@dataclass(frozen=True, slots=True)
class CaseItem:
    """One suspect item (疑点) of a case: a line (``feedetl_sn``) or a whole visit (``None``), with the
    flags behind it.  Several rules flagging the same line make one item (the money is at stake once)."""

    item_no: int
    flag_ids: tuple[str, ...]
    rule_codes: tuple[str, ...]
    psn_id: int
    visit_id: int
    feedetl_sn: int | None
    amount_fen: int  # amount at stake as flagged
    reason_zh: str
    reason_en: str
    evidence: str  # JSON array of the flags' evidence
    appeal_at: str | None = None
    appeal_reason: str | None = None
    decision: str | None = None  # an Outcome value
    decided_fen: int | None = None  # amount upheld by the decision
    decision_reason: str | None = None
    deducted_fen: int | None = None  # amount actually recovered (≤ decided, capped by what the fund paid)


MUTABLE_ITEM_FIELDS = (
    "appeal_at",
    "appeal_reason",
    "decision",
    "decided_fen",
    "decision_reason",
    "deducted_fen",
)


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    fixmedins_code: str
    period: str
    state: CaseState
    opened_at: str
    items: tuple[CaseItem, ...]
    notified_at: str | None = None
    deadline: dt.date | None = None  # last local day an appeal is accepted
    decided_at: str | None = None
    deduction_id: str | None = None
    version: int = 0  # number of events so far (= seq of the last event)
    event_hash: str = GENESIS  # hash of the last event

    @property
    def flagged_fen(self) -> int:
        return sum(i.amount_fen for i in self.items)

    @property
    def upheld_fen(self) -> int:
        return sum(i.decided_fen or 0 for i in self.items)

    @property
    def deducted_fen(self) -> int:
        return sum(i.deducted_fen or 0 for i in self.items)

    def item(self, item_no: int) -> CaseItem:
        for it in self.items:
            if it.item_no == item_no:
                return it
        raise AuditCaseError(
            f"items[{item_no}]",
            f"案件 {self.case_id} 没有第 {item_no} 项 case {self.case_id} has no item {item_no}",
            "unknown_item",
        )


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One line of the append-only case log.  ``detail`` holds what changed (per item: before / after)."""

    case_id: str
    seq: int
    at: str  # ISO-8601 UTC
    actor: str
    event: str  # open / notify / appeal / decide / expire / deduct
    state_before: str
    state_after: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def event_hash(
    prev_hash: str,
    case_id: str,
    seq: int,
    at: str,
    actor: str,
    event: str,
    state_before: str,
    state_after: str,
    detail: dict[str, Any],
) -> str:
    """sha256 over the previous hash and the event's canonical JSON: editing, inserting or deleting a
    logged event breaks the chain (:func:`verify_history`)."""
    body = json.dumps(
        [case_id, seq, at, actor, event, state_before, state_after, detail],
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def verify_history(case: Case, events: list[CaseEvent]) -> list[str]:
    """Problems found re-hashing a case's events (empty when intact and ending at the case's head)."""
    problems: list[str] = []
    prev, seq = GENESIS, 0
    for e in events:
        if e.seq != seq + 1:
            problems.append(f"event[{case.case_id}#{e.seq}]: expected seq {seq + 1}")
        if e.prev_hash != prev:
            problems.append(f"event[{case.case_id}#{e.seq}]: prev_hash does not link")
        if (
            event_hash(
                e.prev_hash, e.case_id, e.seq, e.at, e.actor, e.event, e.state_before, e.state_after, e.detail
            )
            != e.hash
        ):
            problems.append(f"event[{case.case_id}#{e.seq}]: hash mismatch (event edited)")
        prev, seq = e.hash, e.seq
    if (seq, prev) != (case.version, case.event_hash):
        problems.append(f"case[{case.case_id}]: head is event {case.version} but the log ends at {seq}")
    return problems
