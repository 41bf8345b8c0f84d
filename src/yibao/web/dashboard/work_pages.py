"""The auditor's workspace (auditor and admin): the ranked review queue with the evidence of every flag,
the audit cases (稽核案件) with their appeal windows, overdue marks and actions (notice, let stand, decide,
deduct), and the DRG / DIP payment results by institution.  Names, not codes; Chinese states."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.audit.cases import Decision, close_expired, decide, notify, post_deductions
from yibao.audit.cases.model import AuditCaseError, Case, CaseState
from yibao.audit.cases.review import EVENT_NAMES, OUTCOME_NAMES, STATE_NAMES, ranked_items
from yibao.payment.core import PU_PER_POINT
from yibao.payment.store import ClearingRow, clearing_rows
from yibao.web.auth import require
from yibao.web.dashboard import audit_view as av
from yibao.web.dashboard.pages import render
from yibao.web.deps import ledger_of
from yibao.web.portal.pages import error_page, institution_names, local_today, now_utc, ui_prefs

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
QUEUE_PAGE = 30  # items per page of the review queue
METHOD_NAMES = {"drg": ("DRG 点数法", "DRG (points)"), "dip": ("DIP 按病种分值", "DIP (disease scores)")}


def _names(request: Request) -> dict[str, Any]:
    return {
        "STATE_NAMES": STATE_NAMES,
        "EVENT_NAMES": EVENT_NAMES,
        "OUTCOME_NAMES": OUTCOME_NAMES,
        "METHOD_NAMES": METHOD_NAMES,
    }


# ------------------------------------------------------------------------------------ review queue
@router.get("/review")
def review_queue(request: Request, p: Staff, page: int = 1) -> Response:
    """Every undecided item of the cases under review, best first (calibrated score, then amount)."""
    cases = av.case_store(request).find()
    ranked = ranked_items(cases, av.scores(request))
    page = max(1, page)
    shown = ranked[(page - 1) * QUEUE_PAGE : page * QUEUE_PAGE]
    persons = av.person_names(request, av.psn_nos_of(request, [i for _, _, i in shown]))
    rows = [
        {"rank": (page - 1) * QUEUE_PAGE + k + 1, "score": s, "case": c, **av.item_view(request, i, persons)}
        for k, (s, c, i) in enumerate(shown)
    ]
    return render(
        request,
        "review.html",
        {
            **_names(request),
            "file_queue": _file_queue(request),
            "rows": rows,
            "total": len(ranked),
            "at_stake": sum(i.amount_fen for _, _, i in ranked),
            "page": page,
            "pages": max(1, -(-len(ranked) // QUEUE_PAGE)),
        },
    )


def _file_queue(request: Request) -> list[dict[str, Any]] | None:
    """The visit queue of the latest ``yibao audit run --top`` (its ``.queue.parquet``), when the deployment
    names it in ``YIBAO_AUDIT_QUEUE``: visits of the whole region ranked, before cases are opened."""
    import os
    from pathlib import Path

    from yibao.audit.cases.review import detector_names, with_names
    from yibao.audit.queue import read_queue

    path = os.environ.get("YIBAO_AUDIT_QUEUE")
    if not path or not Path(path).is_file():
        return None
    en = ui_prefs(request)[0] == "en"
    dets = detector_names()
    items = av.item_names(request)

    def name_of(code: str) -> str | None:
        n = items.get(code)
        return (n[1] if en else n[0]) if n else None

    _n, _cols, rows = read_queue(path)
    return [
        {
            "rank": r[0],
            "visit_id": r[1],
            "fixmedins_code": r[2],
            "score": float(r[3]),
            "amount_yuan": r[4],
            "detectors": [(dets.get(c, (c, c))[1 if en else 0], c) for c in str(r[5]).split("|") if c],
            "reason": with_names(str(r[6]), name_of),
        }
        for r in rows
    ]


# ------------------------------------------------------------------------------------ audit cases
@router.get("/audit")
def audit_cases(request: Request, p: Staff, state: str = "") -> Response:
    today = local_today()
    params = av.case_params(request)
    every = av.case_store(request).find()
    counts: dict[str, int] = {}
    for c in every:
        counts[c.state.value] = counts.get(c.state.value, 0) + 1
    cases = [c for c in every if not state or c.state.value == state]
    rows = [(c, av.window(c, params, today)) for c in cases]
    rows.sort(key=lambda r: (not r[1].late, -(r[1].over or 0), r[0].deadline or today, r[0].case_id))
    return render(
        request,
        "audit_cases.html",
        {
            **_names(request),
            "rows": rows,
            "state": state,
            "counts": counts,
            "late": sum(1 for _, w in rows if w.late),
        },
    )


def _case(request: Request, case_id: str) -> Case:
    try:
        return av.case_store(request).get(case_id)
    except AuditCaseError as exc:
        raise HTTPException(404, "未找到该稽核案件 audit case not found") from exc


def case_context(request: Request, case: Case) -> dict[str, Any]:
    """What the case page shows (the auditor's and the institution's)."""
    persons = av.person_names(request, av.psn_nos_of(request, list(case.items)))
    evidence = av.evidence_store(request).list(case.case_id)
    return {
        **_names(request),
        "case": case,
        "win": av.window(case, av.case_params(request), local_today()),
        "items": [av.item_view(request, i, persons) for i in case.items],
        "events": av.case_store(request).events(case.case_id),
        "files": evidence,
        "files_by_item": {f.item_no: [g for g in evidence if g.item_no == f.item_no] for f in evidence},
    }


@router.get("/audit/{case_id}")
def audit_case(request: Request, p: Staff, case_id: str) -> Response:
    case = _case(request, case_id)
    return render(request, "audit_case.html", {**case_context(request, case), "staff": True})


def _back(case_id: str) -> Response:
    return RedirectResponse(f"/dashboard/audit/{case_id}", status_code=303)


def _refused(request: Request, exc: AuditCaseError) -> Response:
    status = (
        404
        if exc.code == "unknown_case"
        else 409
        if exc.code in ("illegal_transition", "conflict", "appeal_window_open", "appeal_window_closed")
        else 422
    )
    return error_page(request, status, exc.reason, exc.field)


@router.post("/audit/{case_id}/notify")
def notify_case(request: Request, p: Staff, case_id: str) -> Response:
    try:
        notify(av.case_store(request), case_id, now_utc(), p.user_id, av.case_params(request))
    except AuditCaseError as exc:
        return _refused(request, exc)
    return _back(case_id)


@router.post("/audit/{case_id}/expire")
def expire_case(request: Request, p: Staff, case_id: str) -> Response:
    """Let the items of a case stand when no appeal came in time (逾期未申诉，视为认可)."""
    case = _case(request, case_id)
    if case.state is not CaseState.NOTIFIED:
        return error_page(
            request, 409, "该案件不在等待申诉状态 the case is not waiting for an appeal", "state"
        )
    store, params = av.case_store(request), av.case_params(request)
    done = [c for c in close_expired(store, now_utc(), p.user_id, params) if c.case_id == case_id]
    if not done:
        return error_page(
            request,
            409,
            f"申诉期至 {case.deadline} 尚未结束 the appeal window runs until {case.deadline}",
            "deadline",
        )
    return _back(case_id)


def _yuan_to_fen(text: str, field: str) -> int:
    try:
        v = Decimal(text.strip())
    except InvalidOperation:
        raise AuditCaseError(
            field, f"金额应为数字（元） the amount must be a number in yuan, got {text!r}"
        ) from None
    if v != v.quantize(Decimal("0.01")) or v <= 0:
        raise AuditCaseError(
            field, "金额应为大于 0、最多两位小数的元 a positive amount in yuan, at most 2 decimals"
        )
    return int(v * 100)


@router.post("/audit/{case_id}/decide")
async def decide_case(request: Request, p: Staff, case_id: str) -> Response:
    """Decisions per item from the form: ``outcome_<n>`` (upheld / dismissed / partial), ``amount_<n>``
    (yuan, for a partial decision) and ``reason_<n>``; items left blank stand as flagged once the window
    is over."""
    form = await request.form()
    decisions: dict[int, Decision] = {}
    try:
        for key, value in form.items():
            if not key.startswith("outcome_") or not str(value):
                continue
            no = int(key.removeprefix("outcome_"))
            amount = None
            if str(value) == "partial":
                amount = _yuan_to_fen(str(form.get(f"amount_{no}", "")), f"decisions[{no}].amount")
            decisions[no] = Decision(str(value), str(form.get(f"reason_{no}", "")), amount)
        decide(av.case_store(request), case_id, decisions, now_utc(), p.user_id, av.case_params(request))
    except AuditCaseError as exc:  # before ValueError: a FieldError is one
        return _refused(request, exc)
    except ValueError:
        return error_page(request, 422, "明细序号有误 bad item number", "outcome")
    return _back(case_id)


@router.post("/audit/{case_id}/deduct")
def deduct_case(request: Request, p: Staff, case_id: str) -> Response:
    """Post the decided case's deduction (扣款) to the ledger."""
    reg = av.register(request)

    def mdtrt_of(visit_id: int) -> str:
        ref = reg.get(visit_id)
        if ref is None:
            raise AuditCaseError(
                "visit_id", f"找不到该次就诊 no visit {visit_id} in the register", "unresolved_settlement"
            )
        return ref.mdtrt_id

    try:
        with ledger_of(request) as led:
            post_deductions(
                av.case_store(request), led, case_id, now_utc(), p.user_id, mdtrt_of, av.case_params(request)
            )
    except AuditCaseError as exc:
        return _refused(request, exc)
    return _back(case_id)


@router.get("/audit/{case_id}/evidence/{evidence_id}")
def evidence_file(request: Request, p: Staff, case_id: str, evidence_id: str) -> Response:
    return send_evidence(request, case_id, evidence_id)


def send_evidence(request: Request, case_id: str, evidence_id: str) -> Response:
    found = av.evidence_store(request).get(evidence_id)
    if found is None or found[0].case_id != case_id:
        raise HTTPException(404, "未找到该材料 file not found")
    ev, content = found
    return Response(
        content,
        media_type=ev.content_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(ev.filename)}"},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


# ------------------------------------------------------------------------------------ DRG / DIP
def per_point_yuan(value: str) -> Decimal:
    """A stored point value (fen per 1/10000 point, an exact fraction) as yuan per point, to the fen."""
    f = Fraction(value) * PU_PER_POINT / 100
    return (Decimal(f.numerator) / Decimal(f.denominator)).quantize(Decimal("0.01"))


def payment_context(rows: list[ClearingRow]) -> dict[str, Any]:
    runs: dict[str, dict[str, Any]] = {}
    for r in rows:
        run = runs.setdefault(
            r.run_id,
            {
                "run_id": r.run_id,
                "method": r.method,
                "year": r.year,
                "budget_pv": per_point_yuan(r.budget_point_value),
                "settlement_pv": per_point_yuan(r.settlement_point_value),
                "rows": [],
            },
        )
        run["rows"].append(r)
    for run in runs.values():
        rs = run["rows"]
        run["total"] = {
            k: sum(getattr(x, k) for x in rs)
            for k in (
                "cases",
                "cost_fen",
                "due_fen",
                "pre_paid_fen",
                "withheld_fen",
                "balance_fen",
                "profit_fen",
            )
        }
    return {"runs": list(runs.values())}


@router.get("/payment")
def payment(request: Request, p: Staff) -> Response:
    rows = clearing_rows(request.app.state.store.engine)
    return render(
        request,
        "payment.html",
        {**_names(request), **payment_context(rows), "names": institution_names(request)},
    )
