"""Persistence of cases over the SQLAlchemy Core tables of :mod:`yibao.audit.schema` (SQLite, PostgreSQL).

Each write is one transaction: the case row is updated only if its ``version`` is still the one the
change was computed from (optimistic lock), its items are updated and the new events appended.  Events
are only ever inserted — the store has no code path that updates or deletes one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from yibao.audit.cases.model import MUTABLE_ITEM_FIELDS, AuditCaseError, Case, CaseEvent, CaseItem, CaseState
from yibao.audit.schema import audit_case, audit_case_event, audit_case_item
from yibao.db import make_engine


def sqlalchemy_url(url: str) -> str:
    """A ledger-style URL (``postgresql://…``, ``sqlite:///path``, bare path) as a SQLAlchemy URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return "sqlite:///" + url
    return url


def _case_row(c: Case) -> dict[str, Any]:
    return {
        "case_id": c.case_id,
        "fixmedins_code": c.fixmedins_code,
        "period": c.period,
        "state": c.state.value,
        "opened_at": c.opened_at,
        "notified_at": c.notified_at,
        "deadline": c.deadline.isoformat() if c.deadline else None,
        "decided_at": c.decided_at,
        "deduction_id": c.deduction_id,
        "flagged_fen": c.flagged_fen,
        "upheld_fen": c.upheld_fen,
        "deducted_fen": c.deducted_fen,
        "version": c.version,
        "event_hash": c.event_hash,
    }


def _item_row(case_id: str, i: CaseItem) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "item_no": i.item_no,
        "flag_ids": json.dumps(list(i.flag_ids)),
        "rule_codes": json.dumps(list(i.rule_codes)),
        "psn_id": i.psn_id,
        "visit_id": i.visit_id,
        "feedetl_sn": i.feedetl_sn,
        "amount_fen": i.amount_fen,
        "reason_zh": i.reason_zh,
        "reason_en": i.reason_en,
        "evidence": i.evidence,
        **{f: getattr(i, f) for f in MUTABLE_ITEM_FIELDS},
    }


def _event_row(e: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": e.case_id,
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "event": e.event,
        "state_before": e.state_before,
        "state_after": e.state_after,
        "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


class CaseStore:
    """Cases in the ledger database (or any database migrated with the ``audit`` branch)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(sqlalchemy_url(url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes
    def add(self, cases: Sequence[tuple[Case, Sequence[CaseEvent]]]) -> None:
        """Insert new cases with their items and first events, all or nothing; an existing case id →
        ``case_exists``."""
        try:
            with self.engine.begin() as conn:
                for case, events in cases:
                    conn.execute(insert(audit_case), [_case_row(case)])
                    conn.execute(insert(audit_case_item), [_item_row(case.case_id, i) for i in case.items])
                    conn.execute(insert(audit_case_event), [_event_row(e) for e in events])
        except IntegrityError as exc:
            raise AuditCaseError(
                "case_id", f"该案件编号已存在 a case with this id already exists ({exc.orig})", "case_exists"
            ) from exc

    def save(self, before: Case, after: Case, events: Sequence[CaseEvent]) -> None:
        """Write ``after`` (computed from ``before``) and append ``events``; a concurrent change → ``conflict``."""
        try:
            with self.engine.begin() as conn:
                row = _case_row(after)
                res = conn.execute(
                    update(audit_case)
                    .where(audit_case.c.case_id == before.case_id, audit_case.c.version == before.version)
                    .values(**row)
                )
                if res.rowcount != 1:
                    raise AuditCaseError(
                        "case_id",
                        f"案件 {before.case_id} 已被他人修改，请重新读取后再试 "
                        f"case {before.case_id} changed meanwhile (expected version "
                        f"{before.version}); reload and retry",
                        "conflict",
                    )
                for a, b in zip(before.items, after.items, strict=True):
                    changed = {
                        f: getattr(b, f) for f in MUTABLE_ITEM_FIELDS if getattr(a, f) != getattr(b, f)
                    }
                    if changed:
                        conn.execute(
                            update(audit_case_item)
                            .where(
                                audit_case_item.c.case_id == before.case_id,
                                audit_case_item.c.item_no == a.item_no,
                            )
                            .values(**changed)
                        )
                if events:
                    conn.execute(insert(audit_case_event), [_event_row(e) for e in events])
        except IntegrityError as exc:
            raise AuditCaseError(
                "case_id",
                f"案件 {before.case_id} 已被他人修改 case {before.case_id} changed meanwhile ({exc.orig})",
                "conflict",
            ) from exc

    # ------------------------------------------------------------------ reads
    def get(self, case_id: str) -> Case:
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_case).where(audit_case.c.case_id == case_id)).mappings().first()
            if row is None:
                raise AuditCaseError("case_id", f"案件不存在 unknown case {case_id!r}", "unknown_case")
            items = (
                conn.execute(
                    select(audit_case_item)
                    .where(audit_case_item.c.case_id == case_id)
                    .order_by(audit_case_item.c.item_no)
                )
                .mappings()
                .all()
            )
        return _case(row, items)

    def find(
        self, *, state: str | None = None, fixmedins_code: str | None = None, period: str | None = None
    ) -> list[Case]:
        q = select(audit_case.c.case_id).order_by(audit_case.c.case_id)
        if state is not None:
            if state not in {s.value for s in CaseState}:
                raise AuditCaseError(
                    "state",
                    f"案件状态不在允许范围内 must be one of {[s.value for s in CaseState]}, got {state!r}",
                )
            q = q.where(audit_case.c.state == state)
        if fixmedins_code is not None:
            q = q.where(audit_case.c.fixmedins_code == fixmedins_code)
        if period is not None:
            q = q.where(audit_case.c.period == period)
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(q)]
        return [self.get(i) for i in ids]

    def events(self, case_id: str) -> list[CaseEvent]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(audit_case_event)
                    .where(audit_case_event.c.case_id == case_id)
                    .order_by(audit_case_event.c.seq)
                )
                .mappings()
                .all()
            )
        return [
            CaseEvent(
                r["case_id"],
                int(r["seq"]),
                r["at"],
                r["actor"],
                r["event"],
                r["state_before"],
                r["state_after"],
                json.loads(r["detail"]),
                r["prev_hash"],
                r["hash"],
            )
            for r in rows
        ]


def _case(row: Any, items: Iterable[Any]) -> Case:
    return Case(
        row["case_id"],
        row["fixmedins_code"],
        row["period"],
        CaseState(row["state"]),
        row["opened_at"],
        tuple(
            CaseItem(
                int(r["item_no"]),
                tuple(json.loads(r["flag_ids"])),
                tuple(json.loads(r["rule_codes"])),
                int(r["psn_id"]),
                int(r["visit_id"]),
                None if r["feedetl_sn"] is None else int(r["feedetl_sn"]),
                int(r["amount_fen"]),
                r["reason_zh"],
                r["reason_en"],
                r["evidence"],
                r["appeal_at"],
                r["appeal_reason"],
                r["decision"],
                None if r["decided_fen"] is None else int(r["decided_fen"]),
                r["decision_reason"],
                None if r["deducted_fen"] is None else int(r["deducted_fen"]),
            )
            for r in items
        ),
        row["notified_at"],
        dt.date.fromisoformat(row["deadline"]) if row["deadline"] else None,
        row["decided_at"],
        row["deduction_id"],
        int(row["version"]),
        row["event_hash"],
    )
