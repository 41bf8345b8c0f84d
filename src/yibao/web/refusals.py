"""A visit refused direct settlement becomes the person's 手工报销 (manual reimbursement) case.

The engine refuses a visit elsewhere that the region does not settle directly (``locality_refused``: "请回
参保地手工报销"); nothing is written to the ledger, so the refusal is recorded here as a case of kind
``reimburse`` for the person, which then moves through 受理 → 审核 → 支付/退回 with a notice per change."""

from __future__ import annotations

from fastapi import Request

from yibao.errors import FieldError
from yibao.money import fmt_yuan
from yibao.settlement.model import Visit

REFUSED_CODE = "locality_refused"


def visit_total(visit: Visit) -> int:
    """The bill of the visit in fen (the sum of its lines)."""
    return sum(line.amount for line in visit.lines)


def refusal_detail(reason: str, visit: Visit, msgid: str) -> str:
    # the case text is kept in Chinese, as a person's own filing is: the refusal's Chinese sentence is its
    # first word (it has no spaces; the English half follows after one)
    zh = reason.split(maxsplit=1)[0] if reason.strip() else reason
    return (
        f"{zh}。医疗费用合计 {fmt_yuan(visit_total(visit))} 元，"
        f"就诊日期 {visit.begin_date.isoformat()}（报文 msgid {msgid}）"
    )


def record_refusal(request: Request, visit: Visit, msgid: str, caller_id: str, exc: FieldError) -> None:
    """Open the case when ``exc`` is a ``locality_refused``; filed for the person's own login when there is
    one (so that login is notified of every change), else for the caller.  A retry of the same message
    opens nothing new."""
    if exc.code != REFUSED_CODE:
        return
    from yibao.web.portal.pages import now_utc, portal_store

    store = portal_store(request)
    mark = f"msgid {msgid}）"
    if any(c.kind == "reimburse" and c.detail.endswith(mark) for c in store.cases_for([visit.psn_no])):
        return
    own = [
        u.user_id
        for u in request.app.state.store.list_users()
        if u.role == "insured" and u.psn_no == visit.psn_no
    ]
    store.open_case(
        kind="reimburse",
        psn_no=visit.psn_no,
        filed_by=own[0] if own else caller_id,
        actor_role="insured" if own else "institution",
        subject=visit.fixmedins_code,
        detail=refusal_detail(exc.reason, visit, msgid),
        now=now_utc(),
    )
