"""``yibao.audit.cases``: suspect items (疑点) → case per institution → notice (告知书) → appeal (申诉)
within a working-day window → decision per item → deduction (扣款) posted to the ledger.

Pure core: :mod:`~yibao.audit.cases.model` (the case), :mod:`~yibao.audit.cases.workflow` (the state
machine, ``transition(case, command, now, params)``), :mod:`~yibao.audit.cases.calendar` (working days,
``params.yaml``), :mod:`~yibao.audit.cases.grouping` (flags → cases).  Adapters: :mod:`~.store`
(SQLAlchemy Core) and the ledger's :mod:`yibao.ledger.deduction`.  Entry points: :mod:`~.service`
(this package's API) and :mod:`~.cli` (``cases_app``).
"""

from yibao.audit.cases.calendar import CaseParams, load_params
from yibao.audit.cases.model import AuditCaseError, Case, CaseEvent, CaseItem, CaseState, Outcome
from yibao.audit.cases.service import (
    PostResult,
    appeal,
    case_history,
    close_expired,
    decide,
    list_cases,
    notify,
    open_cases,
    post_deductions,
    verify_case,
)
from yibao.audit.cases.store import CaseStore
from yibao.audit.cases.workflow import Decision, transition

__all__ = [
    "AuditCaseError",
    "Case",
    "CaseEvent",
    "CaseItem",
    "CaseParams",
    "CaseState",
    "CaseStore",
    "Decision",
    "Outcome",
    "PostResult",
    "appeal",
    "case_history",
    "close_expired",
    "decide",
    "list_cases",
    "load_params",
    "notify",
    "open_cases",
    "post_deductions",
    "transition",
    "verify_case",
]
