"""Audit cases as people read them, for the auditor's workspace and the institution's: names instead of
codes (institutions, items, detectors, persons), Chinese states, the appeal window with its overdue mark,
the evidence of each flag in words.  Shared by :mod:`.work_pages` and :mod:`.hospital_pages`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fastapi import Request

from yibao.audit.cases import CaseParams, CaseStore, load_params
from yibao.audit.cases.evidence import EvidenceStore
from yibao.audit.cases.model import Case, CaseItem, CaseState
from yibao.audit.cases.review import (
    VisitRef,
    calibration,
    detector_names,
    evidence_rows,
    visit_register,
    with_names,
)
from yibao.fund.data import data_dir_for
from yibao.ledger import LedgerError
from yibao.web.deps import book_of, ledger_of
from yibao.web.portal.pages import local_today, ui_prefs


def case_store(request: Request) -> CaseStore:
    st = getattr(request.app.state, "audit_case_store", None)
    if st is None:
        st = request.app.state.audit_case_store = CaseStore(request.app.state.settings.database_url)
    return cast(CaseStore, st)


def evidence_store(request: Request) -> EvidenceStore:
    return EvidenceStore(request.app.state.store.engine)


def case_params(request: Request) -> CaseParams:
    p = getattr(request.app.state, "audit_case_params", None)
    if p is None:
        p = request.app.state.audit_case_params = load_params()
    return cast(CaseParams, p)


def _cached(request: Request, key: str, make: Any) -> Any:
    value = getattr(request.app.state, key, None)
    if value is None:
        value = make()
        setattr(request.app.state, key, value)
    return value


def register(request: Request) -> dict[int, VisitRef]:
    url = str(request.app.state.settings.database_url)
    return cast(
        dict[int, VisitRef],
        _cached(request, "audit_visit_register", lambda: visit_register(data_dir_for(url))),
    )


def scores(request: Request) -> dict[str, float]:
    knowledge = request.app.state.settings.audit_knowledge
    return cast(
        dict[str, float],
        _cached(request, "audit_scores", lambda: calibration(Path(knowledge) if knowledge else None)),
    )


def item_names(request: Request) -> dict[str, tuple[str, str]]:
    """Catalogue code → (name, English name) over every policy version."""

    def make() -> dict[str, tuple[str, str]]:
        book = book_of(request)
        out: dict[str, tuple[str, str]] = {}
        for v in book.loaded.region.versions:
            for code, item in book.for_date(v.effective_from).catalogue.items():
                out[code] = (item.name, item.name_en or item.name)
        return out

    return cast(dict[str, tuple[str, str]], _cached(request, "audit_item_names", make))


def person_names(request: Request, psn_nos: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    today = local_today()
    with ledger_of(request) as led:
        for psn in sorted(psn_nos):
            try:
                out[psn] = led.get_person(psn, today).name
            except LedgerError:
                out[psn] = ""
    return out


@dataclass(frozen=True)
class Window:
    """Where a case stands against its appeal window, for a mark on the page."""

    deadline: dt.date | None
    left: int | None  # working days left in the window (0 on its last day)
    over: int | None  # working days since the window closed
    action_zh: str  # what the bureau has to do next
    action_en: str
    late: bool  # an action is due and waiting


def _wd_between(params: CaseParams, a: dt.date, b: dt.date) -> int:
    try:
        return params.calendar.working_days_between(a, b)
    except Exception:  # a year without a holiday list: count calendar days
        return max((b - a).days, 0)


def window(case: Case, params: CaseParams, today: dt.date) -> Window:
    s = case.state
    if s is CaseState.OPEN:
        return Window(None, None, None, "发出稽核告知书", "send the notice", True)
    if s in (CaseState.NOTIFIED, CaseState.APPEALED) and case.deadline is not None:
        if today <= case.deadline:
            left = _wd_between(params, today, case.deadline)
            act = (
                ("等待机构申诉", "waiting for the appeal")
                if s is CaseState.NOTIFIED
                else ("申诉期内，可先审阅申诉", "appeal window open: review the appeal")
            )
            return Window(case.deadline, left, None, act[0], act[1], False)
        over = _wd_between(params, case.deadline, today)
        if s is CaseState.NOTIFIED:
            return Window(
                case.deadline,
                None,
                over,
                "逾期未申诉：按认可处理",
                "no appeal in time: let the items stand",
                True,
            )
        return Window(case.deadline, None, over, "裁定申诉", "decide the appeal", True)
    if s is CaseState.DECIDED:
        return Window(case.deadline, None, None, "扣款入账", "post the deduction", True)
    return Window(case.deadline, None, None, "", "", False)


def item_view(request: Request, item: CaseItem, persons: dict[str, str]) -> dict[str, Any]:
    lang = ui_prefs(request)[0]
    en = lang == "en"
    names = item_names(request)
    dets = detector_names()

    def name_of(code: str) -> str | None:
        n = names.get(code)
        return (n[1] if en else n[0]) if n else None

    ref = register(request).get(item.visit_id)
    parts = with_names(item.reason_en if en else item.reason_zh, name_of)
    return {
        "item": item,
        "reason": parts,
        "reason_text": "".join(text for text, _ in parts),
        "detectors": [(dets.get(c, (c, c))[1 if en else 0], c) for c in dict.fromkeys(item.rule_codes)],
        "evidence": evidence_rows(item.evidence, name_of, en),
        "visit": ref,
        "person": persons.get(ref.psn_no, "") if ref else "",
    }


def psn_nos_of(request: Request, items: list[CaseItem]) -> set[str]:
    reg = register(request)
    return {reg[i.visit_id].psn_no for i in items if i.visit_id in reg}
