"""Plain REST resources over the same use cases: ``/api/v1/...``.  Lists mask personal data."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from yibao.access.principal import Forbidden, Principal
from yibao.errors import FieldError
from yibao.ledger import StoredSettlement
from yibao.money import fen_to_yuan
from yibao.settlement import io as sio
from yibao.usecases import persons, settlement
from yibao.web import national
from yibao.web.auth import current_principal, require
from yibao.web.deps import AccessLogDep, AuditHookDep, BookDep, LedgerDep, StoreDep, covers_of, eligibility_of
from yibao.web.masking import mask_certno, mask_name
from yibao.web.refusals import record_refusal

router = APIRouter(prefix="/api/v1", tags=["REST"])
Caller = Annotated[Principal, Depends(current_principal)]
Reader = Annotated[Principal, Depends(require("auditor", "admin"))]
Settler = Annotated[Principal, Depends(require("institution", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
NOT_FOUND_CODES = frozenset({"unknown_person", "unknown_settlement"})
# refused state changes: the request was well formed, the ledger's state forbids it
CONFLICT_CODES = frozenset(
    {
        "already_reversed",
        "not_latest",
        "msgid_conflict",
        "duplicate_user",
        "not_reversible",
        "insufficient_balance",
        "deducted",
    }
)
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in"},
    403: {"description": "not allowed"},
}


def install_error_handlers(app: FastAPI) -> None:
    """``FieldError`` → 404 (unknown person/settlement) or 409/422 with ``{"field","reason","code"}``;
    ``Forbidden`` → 403.  FHIR paths get OperationOutcome instead (see :mod:`yibao.web.fhir`)."""

    async def field_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FieldError)
        if request.url.path.startswith("/fhir"):
            from yibao.web.fhir import outcome_response

            return outcome_response(exc)
        status = 404 if exc.code in NOT_FOUND_CODES else 409 if exc.code in CONFLICT_CODES else 422
        return JSONResponse(
            {"detail": {"field": exc.field, "reason": exc.reason, "code": exc.code}}, status_code=status
        )

    async def forbidden(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Forbidden)
        if request.url.path.startswith("/fhir"):
            from yibao.web.fhir import outcome_json

            return JSONResponse(
                outcome_json("forbidden", exc.reason), status_code=403, media_type="application/fhir+json"
            )
        return JSONResponse({"detail": exc.reason}, status_code=403)

    app.add_exception_handler(FieldError, field_error)
    app.add_exception_handler(Forbidden, forbidden)


# ---------------------------------------------------------------------- shapes
class PersonOut(BaseModel):
    psn_no: str
    psn_name: str
    certno: str
    gend: str
    brdy: str
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    balc: str = Field(description="个人账户余额 account balance (元)")
    identities: list[str]
    family_psn_nos: list[str]


class PersonListItem(BaseModel):
    psn_no: str
    psn_name: str = Field(description="masked 脱敏")
    certno: str = Field(description="masked 脱敏")
    insutype: str
    psn_type: str
    insuplc_admdvs: str


class YearOut(BaseModel):
    psn_no: str
    year: int
    accumulators: dict[str, int] = Field(description="counter → fen (or count)")
    balc: str


class SettlementOut(BaseModel):
    setl_id: str
    msgid: str
    psn_no: str
    mdtrt_id: str
    fixmedins_code: str
    status: str
    created: str
    setlinfo: dict[str, Any]
    setldetail: list[dict[str, Any]]


class SettleIn(BaseModel):
    msgid: str = Field(min_length=1, max_length=64)
    pre: bool = Field(False, description="true: pre-settle (2206), nothing stored")
    visit: dict[str, Any] = Field(description="visit JSON (examples/visit-inpatient.json)")


class SettleOut(BaseModel):
    setl_id: str | None
    replayed: bool
    setlinfo: dict[str, Any]
    setldetail: list[dict[str, Any]]


class UndoIn(BaseModel):
    msgid: str = Field(min_length=1, max_length=64)


class ReverseIn(BaseModel):
    msgid: str = Field(min_length=1, max_length=64)
    omsgid: str = Field(min_length=1, max_length=64)


class UndoOut(BaseModel):
    setl_id: str
    msgid: str
    action: str
    status: str
    acct_change: str
    replayed: bool


class AccessOut(BaseModel):
    at: str
    user_id: str
    role: str
    display_name: str
    psn_no: str
    what: str
    path: str


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=8, max_length=200)
    role: str
    display_name: str = Field(min_length=1, max_length=100)
    psn_no: str | None = None
    family_psn_nos: list[str] = Field(default_factory=list)
    fixmedins_code: str | None = None
    must_change_password: bool = Field(True, description="the user must choose a new password at first login")


class UserOut(BaseModel):
    user_id: str
    username: str
    role: str
    display_name: str = Field(description="masked 脱敏")
    psn_no: str | None
    family_psn_nos: list[str]
    fixmedins_code: str | None


def _settlement_out(s: StoredSettlement) -> SettlementOut:
    return SettlementOut(
        setl_id=s.setl_id,
        msgid=s.msgid,
        psn_no=s.psn_no,
        mdtrt_id=s.mdtrt_id,
        fixmedins_code=s.visit.fixmedins_code,
        status=s.status,
        created=s.created,
        setlinfo=sio.setlinfo(s.settlement, s.setl_id),
        setldetail=sio.setldetail(s.settlement),
    )


# ---------------------------------------------------------------------- persons
@router.get("/persons", response_model=list[PersonListItem], responses=ERRORS)
def list_persons(
    led: LedgerDep,
    p: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PersonListItem]:
    """Persons (auditor, admin), names and ID numbers masked."""
    return [
        PersonListItem(
            psn_no=r.psn_no,
            psn_name=mask_name(r.name),
            certno=mask_certno(r.certno),
            insutype=r.insutype,
            psn_type=r.psn_type,
            insuplc_admdvs=r.insuplc_admdvs,
        )
        for r in persons.list_persons(led, p, limit, offset)
    ]


@router.get(
    "/persons/{psn_no}", response_model=PersonOut, responses={**ERRORS, 404: {"description": "unknown"}}
)
def get_person(psn_no: str, led: LedgerDep, log: AccessLogDep, p: Caller) -> PersonOut:
    """One person's record (1101 content); the read is written to the access log."""
    today = dt.date.today()
    pers, bal = persons.read_person(led, p, psn_no, today, "person record", log)
    base = national.person_output(pers, bal, today)["baseinfo"]
    return PersonOut(
        psn_no=pers.psn_no,
        psn_name=pers.name,
        certno=pers.certno,
        gend=base["gend"],
        brdy=base["brdy"],
        insutype=pers.insutype,
        psn_type=pers.psn_type,
        insuplc_admdvs=pers.insuplc_admdvs,
        balc=str(fen_to_yuan(bal)),
        identities=sorted(pers.identities),
        family_psn_nos=list(pers.family),
    )


@router.get("/persons/{psn_no}/year/{year}", response_model=YearOut, responses=ERRORS)
def person_year(
    psn_no: str, year: Annotated[int, Path(ge=1990, le=2100)], led: LedgerDep, log: AccessLogDep, p: Caller
) -> YearOut:
    """The person's year so far: accumulators (deductible met, fund paid …) and account balance."""
    acc, bal = persons.year_so_far(led, p, psn_no, year, log)
    return YearOut(psn_no=psn_no, year=year, accumulators=acc, balc=str(fen_to_yuan(bal)))


@router.get("/persons/{psn_no}/settlements", response_model=list[SettlementOut], responses=ERRORS)
def person_settlements(
    psn_no: str,
    led: LedgerDep,
    log: AccessLogDep,
    p: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[SettlementOut]:
    return [_settlement_out(s) for s in settlement.list_settlements(led, p, psn_no, limit, log)]


@router.get("/persons/{psn_no}/access-log", response_model=list[AccessOut], responses=ERRORS)
def person_access_log(
    psn_no: str, store: StoreDep, p: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AccessOut]:
    """谁查看了我的信息 — who read this person's record: the person (and family linked to them) and admins."""
    if not (p.role == "admin" or (p.role == "insured" and psn_no in p.family_psn_nos)):
        raise HTTPException(403, "只有本人或管理员可以查看访问记录 only the person or an admin may read this")
    return [
        AccessOut(
            at=e.at,
            user_id=e.user_id,
            role=e.role,
            display_name=e.display_name,
            psn_no=e.psn_no,
            what=e.what,
            path=e.path,
        )
        for e in store.access_entries(psn_no, limit)
    ]


# ---------------------------------------------------------------------- settlements
@router.post(
    "/settlements", response_model=SettleOut, responses={**ERRORS, 422: {"description": "bad visit"}}
)
def create_settlement(
    request: Request, body: SettleIn, led: LedgerDep, book: BookDep, audit: AuditHookDep, p: Settler
) -> SettleOut:
    """Settle (2207) or pre-settle (``pre``: 2206) a visit; idempotent on ``msgid``.  A visit refused
    direct settlement (异地, ``locality_refused``) is recorded as the person's 手工报销 case."""
    visit = sio.parse_visit(sio.loads(_json_text(body.visit)))
    try:
        out = settlement.settle(
            led,
            book,
            visit,
            body.msgid,
            audit=audit,
            pre=body.pre,
            caller=p,
            eligibility=eligibility_of(request),
            covers=covers_of(request),
        )
    except FieldError as exc:
        if not body.pre:
            record_refusal(request, visit, body.msgid, p.user_id, exc)
        raise
    return SettleOut(
        setl_id=out.setl_id or None,
        replayed=out.replayed,
        setlinfo=sio.setlinfo(out.settlement, out.setl_id or None),
        setldetail=sio.setldetail(out.settlement),
    )


def _json_text(obj: Any) -> str:
    import json

    return json.dumps(obj, default=str)


@router.get("/settlements", response_model=list[SettlementOut], responses=ERRORS)
def list_settlements(
    led: LedgerDep,
    log: AccessLogDep,
    p: Caller,
    psn_no: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[SettlementOut]:
    """Newest first — only those the caller may read (insured: own and family; institution: its own)."""
    return [_settlement_out(s) for s in settlement.list_settlements(led, p, psn_no, limit, log)]


@router.get(
    "/settlements/{setl_id}",
    response_model=SettlementOut,
    responses={**ERRORS, 404: {"description": "unknown"}},
)
def get_settlement(setl_id: str, led: LedgerDep, log: AccessLogDep, p: Caller) -> SettlementOut:
    return _settlement_out(settlement.get_settlement(led, p, setl_id, log))


@router.post(
    "/settlements/{setl_id}/cancel",
    response_model=UndoOut,
    responses={**ERRORS, 409: {"description": "refused"}},
)
def cancel_settlement(setl_id: str, body: UndoIn, led: LedgerDep, p: Settler) -> UndoOut:
    """2208 门诊结算撤销 (newest first, 倒序撤销)."""
    return UndoOut(**national.undo_output(settlement.cancel(led, p, setl_id, body.msgid)))


@router.post("/reversals", response_model=UndoOut, responses={**ERRORS, 409: {"description": "refused"}})
def create_reversal(body: ReverseIn, led: LedgerDep, p: Settler) -> UndoOut:
    """2601 冲正 of the transaction recorded under ``omsgid``."""
    return UndoOut(**national.undo_output(settlement.reverse(led, p, body.omsgid, body.msgid)))


@router.get("/totals", response_model=dict[str, int], responses=ERRORS)
def totals(led: LedgerDep, p: Reader) -> dict[str, int]:
    """Sums over active settlements (fen) and ``count`` — the 3201 figures for the whole ledger."""
    return led.totals()


# ---------------------------------------------------------------------- access log and users (admin)
@router.get("/access-log", response_model=list[AccessOut], responses=ERRORS)
def access_log(
    store: StoreDep, p: Admin, psn_no: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AccessOut]:
    return [
        AccessOut(
            at=e.at,
            user_id=e.user_id,
            role=e.role,
            display_name=e.display_name,
            psn_no=e.psn_no,
            what=e.what,
            path=e.path,
        )
        for e in store.access_entries(psn_no, limit)
    ]


@router.get("/users", response_model=list[UserOut], responses=ERRORS)
def list_users(store: StoreDep, p: Admin) -> list[UserOut]:
    return [
        UserOut(
            user_id=u.user_id,
            username=u.username,
            role=u.role,
            display_name=mask_name(u.display_name),
            psn_no=u.psn_no,
            family_psn_nos=list(u.family_psn_nos),
            fixmedins_code=u.fixmedins_code,
        )
        for u in store.list_users()
    ]


@router.post(
    "/users", response_model=UserOut, status_code=201, responses={**ERRORS, 409: {"description": "taken"}}
)
def create_user(body: UserIn, store: StoreDep, p: Admin) -> UserOut:
    """Create a login (admin).  ``UserError`` names the field (duplicate username → 409).  By default
    the new login must choose its own password at the first login (the administrator knows this one)."""
    u = store.create_user(
        body.username,
        body.password,
        body.role,
        body.display_name,
        psn_no=body.psn_no,
        family_psn_nos=body.family_psn_nos,
        fixmedins_code=body.fixmedins_code,
        must_change_password=body.must_change_password,
    )
    return UserOut(
        user_id=u.user_id,
        username=u.username,
        role=u.role,
        display_name=mask_name(u.display_name),
        psn_no=u.psn_no,
        family_psn_nos=list(u.family_psn_nos),
        fixmedins_code=u.fixmedins_code,
    )
