"""Use cases of the case workflow: load, apply the pure transition, save.  Dependencies are passed in."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from yibao.audit.cases.calendar import CaseParams, load_params
from yibao.audit.cases.grouping import group_flags
from yibao.audit.cases.model import AuditCaseError, Case, CaseEvent, CaseItem, CaseState, verify_history
from yibao.audit.cases.store import CaseStore
from yibao.audit.cases.workflow import (
    Appeal,
    Command,
    Decide,
    Decision,
    Expire,
    Notify,
    RecordDeduction,
    is_expirable,
    open_case,
    transition,
)
from yibao.ledger import Ledger
from yibao.ledger.deduction import WHOLE, DeductionItem, DeductionOutcome

SYSTEM = "system"


def _params(params: CaseParams | None) -> CaseParams:
    return params if params is not None else load_params()


def _apply(
    store: CaseStore, case_id: str, command: Command, now: dt.datetime, params: CaseParams | None
) -> Case:
    before = store.get(case_id)
    after, events = transition(before, command, now, _params(params))
    store.save(before, after, events)
    return after


def open_cases(
    store: CaseStore, flags: pl.DataFrame, period: str, now: dt.datetime, actor: str = SYSTEM
) -> list[Case]:
    """Group the flag frame into one case per institution for ``period`` and store them (all or none).
    A case for the same institution and period already stored → ``case_exists``, nothing written."""
    opened = [
        open_case(d.case_id, d.fixmedins_code, d.period, d.items, now, actor)
        for d in group_flags(flags, period)
    ]
    store.add(opened)
    return [c for c, _e in opened]


def notify(
    store: CaseStore, case_id: str, now: dt.datetime, actor: str, params: CaseParams | None = None
) -> Case:
    """Send the notice (告知书): the appeal window starts and its deadline is fixed."""
    return _apply(store, case_id, Notify(actor), now, params)


def appeal(
    store: CaseStore,
    case_id: str,
    reasons: Mapping[int, str],
    now: dt.datetime,
    actor: str,
    params: CaseParams | None = None,
) -> Case:
    """The institution contests items (item_no → reason); refused after the window (``appeal_window_closed``)."""
    return _apply(store, case_id, Appeal(actor, dict(reasons)), now, params)


def decide(
    store: CaseStore,
    case_id: str,
    decisions: Mapping[int, Decision],
    now: dt.datetime,
    actor: str,
    params: CaseParams | None = None,
) -> Case:
    """Decide the items: every appealed item needs a decision; unappealed items stand once the window is over."""
    return _apply(store, case_id, Decide(actor, dict(decisions)), now, params)


def close_expired(
    store: CaseStore, now: dt.datetime, actor: str = SYSTEM, params: CaseParams | None = None
) -> list[Case]:
    """Finalise every notified case left unanswered past its deadline (all items upheld).  The clock is
    explicit: run it with the time you mean (a nightly job passes ``datetime.now(UTC)``)."""
    p = _params(params)
    out = []
    for case in store.find(state=CaseState.NOTIFIED.value):
        if is_expirable(case, now, p):
            after, events = transition(case, Expire(actor), now, p)
            store.save(case, after, events)
            out.append(after)
    return out


@dataclass(frozen=True, slots=True)
class PostResult:
    case: Case
    deduction: DeductionOutcome | None  # None when nothing could be recovered
    clamped: dict[int, tuple[int, int]]  # item_no -> (upheld, recovered) where the fund paid less
    replayed: bool


def deduction_id_for(case_id: str) -> str:
    return f"DED:{case_id}"


MdtrtOf = Callable[[int], str] | Mapping[int, str]


def post_deductions(
    store: CaseStore,
    ledger: Ledger,
    case_id: str,
    now: dt.datetime,
    actor: str = SYSTEM,
    mdtrt_of: MdtrtOf | None = None,
    params: CaseParams | None = None,
) -> PostResult:
    """Post the decided case's deduction (扣款) to the ledger, then mark the case ``deducted``.

    Each upheld item is mapped to its active settlement (``visit_id`` → ``mdtrt_id`` via ``mdtrt_of``,
    default ``str(visit_id)``) and recovered up to what the fund paid for it and is not yet recovered
    (items where the fund paid less are recorded in ``clamped``).  Idempotent: the ledger deduction id is
    ``DED:<case_id>``, and a case already deducted returns its stored result.  If the process dies
    between the ledger post and the case update, calling again completes the case without a second
    deduction."""
    p = _params(params)
    case = store.get(case_id)
    did = deduction_id_for(case_id)
    if case.state is CaseState.DEDUCTED:
        done = [d for d in ledger.list_deductions(case.fixmedins_code) if d.deduction_id == did]
        return PostResult(case, done[0] if done else None, {}, True)
    if case.state is not CaseState.DECIDED:
        raise AuditCaseError(
            "state",
            f"案件 {case_id} 当前状态不能入账扣款 cannot post the deduction of case {case_id} "
            f"in state {case.state.value} (allowed in: decided)",
            "illegal_transition",
        )
    resolve = _resolver(mdtrt_of)
    upheld = [i for i in case.items if i.decided_fen]
    setl_of: dict[int, str] = {}
    for it in upheld:
        mdtrt_id = resolve(it.visit_id)
        setl_id = ledger.find_settlement(mdtrt_id)
        if setl_id is None:
            raise AuditCaseError(
                f"items[{it.item_no}].visit_id",
                f"账本中没有该次就诊的有效结算 no active settlement for visit {it.visit_id} "
                f"(mdtrt_id {mdtrt_id!r}) in the ledger",
                "unresolved_settlement",
            )
        setl_of[it.item_no] = setl_id
    posted = [d for d in ledger.list_deductions(case.fixmedins_code) if d.deduction_id == did]
    if posted:  # posted before a crash between the ledger and the case update: complete the case
        first = dataclasses.replace(posted[0], replayed=True)
        after, events = transition(
            case, RecordDeduction(actor, did, _amounts_from(first, upheld, setl_of)), now, p
        )
        store.save(case, after, events)
        return PostResult(after, first, {}, True)
    caps = ledger.deduction_caps(sorted(set(setl_of.values()))) if setl_of else {}
    left = {k: c.remaining for k, c in caps.items()}
    line_left = {(k, sn): v for k, c in caps.items() for sn, v in c.lines.items()}
    amounts: dict[int, int] = {}
    clamped: dict[int, tuple[int, int]] = {}
    items: list[DeductionItem] = []
    for it in upheld:
        setl_id, want = setl_of[it.item_no], int(it.decided_fen or 0)
        sn = WHOLE if it.feedetl_sn is None else str(it.feedetl_sn)
        room = left[setl_id] if sn == WHOLE else min(left[setl_id], line_left.get((setl_id, sn), 0))
        got = max(0, min(want, room))
        if got < want:
            clamped[it.item_no] = (want, got)
        amounts[it.item_no] = got
        if got:
            left[setl_id] -= got
            if sn != WHOLE:
                line_left[(setl_id, sn)] -= got
            items.append(DeductionItem(setl_id, sn, got))
    outcome = None
    if items:
        memo = f"稽核扣款 case {case_id}: {len(items)} item(s) upheld / audit deduction"
        outcome = ledger.post_deduction(did, case.fixmedins_code, case_id, items, memo)
    after, events = transition(case, RecordDeduction(actor, did, amounts), now, p)
    store.save(case, after, events)
    return PostResult(after, outcome, clamped, outcome.replayed if outcome else False)


def _amounts_from(
    outcome: DeductionOutcome, upheld: Sequence[CaseItem], setl_of: Mapping[int, str]
) -> dict[int, int]:
    """Item amounts of an already-posted deduction, matched back to the case items in order."""
    pool = [(d.setl_id, d.feedetl_sn, d.amount) for d in outcome.items]
    out: dict[int, int] = {}
    for it in upheld:
        no = it.item_no
        key = (setl_of[no], WHOLE if it.feedetl_sn is None else str(it.feedetl_sn))
        for k, entry in enumerate(pool):
            if entry[:2] == key:
                out[no] = entry[2]
                pool.pop(k)
                break
        else:
            out[no] = 0
    return out


def _resolver(mdtrt_of: MdtrtOf | None) -> Callable[[int], str]:
    if mdtrt_of is None:
        return str
    if callable(mdtrt_of):
        return mdtrt_of
    table = mdtrt_of

    def look(visit_id: int) -> str:
        try:
            return table[visit_id]
        except KeyError as exc:
            raise AuditCaseError(
                "visit_id",
                f"找不到该次就诊的就诊 ID no mdtrt_id known for visit {visit_id}",
                "unresolved_settlement",
            ) from exc

    return look


def list_cases(
    store: CaseStore,
    *,
    state: str | None = None,
    fixmedins_code: str | None = None,
    period: str | None = None,
) -> list[Case]:
    return store.find(state=state, fixmedins_code=fixmedins_code, period=period)


def case_history(store: CaseStore, case_id: str) -> list[CaseEvent]:
    """The case's event log, oldest first."""
    store.get(case_id)  # unknown case → unknown_case
    return store.events(case_id)


def verify_case(store: CaseStore, case_id: str) -> list[str]:
    """Problems in the case's hash-chained event log (empty when intact)."""
    return verify_history(store.get(case_id), store.events(case_id))
