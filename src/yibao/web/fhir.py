"""FHIR R4 (4.0.1) under ``/fhir``: CapabilityStatement, Patient, Coverage, Claim → ClaimResponse (settle),
ExplanationOfBenefit (CARIN Blue Button consumer style).  ``application/fhir+json``; errors are
OperationOutcome.  Incoming Claims are checked structurally with the ``fhir.resources`` R4B models
(identical to R4 for these resources; see docs/API.md), then mapped by :mod:`yibao.web.fhir_map`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.access.principal import Principal
from yibao.errors import FieldError
from yibao.ledger import SettleOutcome
from yibao.settlement import io as sio
from yibao.settlement.model import Person, SettlementError, Visit
from yibao.usecases import persons, settlement
from yibao.web import fhir_map as fm
from yibao.web.auth import current_principal
from yibao.web.deps import access_log_of, audit_hook_of, book_of, ledger_of
from yibao.web.jsonresp import dumps

FHIR_JSON = "application/fhir+json"
router = APIRouter(prefix="/fhir", tags=["FHIR R4"])
Caller = Annotated[Principal, Depends(current_principal)]
_ISSUE_CODES = {
    "missing": "required",
    "unknown_person": "not-found",
    "unknown_settlement": "not-found",
    "msgid_conflict": "conflict",
    "already_reversed": "conflict",
    "not_latest": "conflict",
    "deducted": "conflict",
    "insufficient_balance": "conflict",
}
RESOURCE: dict[int | str, dict[str, Any]] = {
    200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}, "description": "FHIR resource"},
    401: {"description": "OperationOutcome: not logged in"},
    403: {"description": "OperationOutcome: forbidden"},
    404: {"description": "OperationOutcome: not found"},
}


def fhir_response(obj: dict[str, Any], status_code: int = 200) -> Response:
    return Response(dumps(obj), status_code=status_code, media_type=FHIR_JSON)


def outcome_json(code: str, diagnostics: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_response(exc: FieldError) -> JSONResponse:
    code = _ISSUE_CODES.get(
        exc.code, "invalid" if isinstance(exc, SettlementError | fm.ClaimError) else "processing"
    )
    status = 404 if code == "not-found" else 409 if code == "conflict" else 422
    expr = exc.field if exc.field.startswith("Claim") else fm.fhir_expression(exc.field)
    return JSONResponse(
        outcome_json(code, f"{exc.field}: {exc.reason}", expr), status_code=status, media_type=FHIR_JSON
    )


def install_error_handlers(app: FastAPI) -> None:
    """HTTP errors and request-validation errors on ``/fhir`` paths become OperationOutcome."""
    from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not request.url.path.startswith("/fhir"):
            return await http_exception_handler(request, exc)
        code = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported"}.get(
            exc.status_code, "processing"
        )
        return JSONResponse(
            outcome_json(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
            media_type=FHIR_JSON,
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not request.url.path.startswith("/fhir"):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        return JSONResponse(
            outcome_json("invalid", str(first.get("msg")), ".".join(map(str, first.get("loc", ())))),
            status_code=422,
            media_type=FHIR_JSON,
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


@router.get("/metadata", responses=RESOURCE, summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    """The server's CapabilityStatement (public, like every FHIR server's)."""
    base = str(request.base_url).rstrip("/") + "/fhir"
    read = [{"code": "read"}]
    return fhir_response(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": dt.date.today().isoformat(),
            "kind": "instance",
            "publisher": "yibao",
            "software": {"name": "yibao", "version": "0.1.0"},
            "implementation": {"description": "yibao 医保 FHIR R4 endpoint", "url": base},
            "fhirVersion": fm.FHIR_VERSION,
            "format": [FHIR_JSON, "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": False,
                        "description": "Bearer token from POST /auth/login, or the yb_session cookie",
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "Basic",
                                    }
                                ],
                                "text": "opaque bearer session token",
                            }
                        ],
                    },
                    "resource": [
                        {"type": "Patient", "interaction": read},
                        {
                            "type": "Coverage",
                            "interaction": [*read, {"code": "search-type"}],
                            "searchParam": [{"name": "beneficiary", "type": "reference"}],
                        },
                        {"type": "Claim", "interaction": [{"code": "create"}]},
                        {
                            "type": "ExplanationOfBenefit",
                            "interaction": [*read, {"code": "search-type"}],
                            "supportedProfile": [
                                fm.C4BB + "C4BB-ExplanationOfBenefit-Inpatient-Institutional",
                                fm.C4BB + "C4BB-ExplanationOfBenefit-Outpatient-Institutional",
                            ],
                            "searchParam": [{"name": "patient", "type": "reference"}],
                        },
                    ],
                }
            ],
        }
    )


@router.get("/Patient/{psn_no}", responses=RESOURCE)
def read_patient(psn_no: str, request: Request, p: Caller) -> Response:
    pers = _read_person(request, p, psn_no, "FHIR Patient")
    return fhir_response(fm.patient(pers))


@router.get("/Coverage/{psn_no}", responses=RESOURCE)
def read_coverage(psn_no: str, request: Request, p: Caller) -> Response:
    pers = _read_person(request, p, psn_no, "FHIR Coverage")
    return fhir_response(fm.coverage(pers))


def _bundle(resources: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def _ref(value: str) -> str:
    return value.rsplit("/", 1)[-1]


@router.get("/Coverage", responses=RESOURCE)
def search_coverage(
    request: Request, p: Caller, beneficiary: Annotated[str, Query(min_length=1)]
) -> Response:
    pers = _read_person(request, p, _ref(beneficiary), "FHIR Coverage")
    return fhir_response(_bundle([fm.coverage(pers)], str(request.base_url).rstrip("/") + "/fhir"))


@router.get("/ExplanationOfBenefit/{setl_id}", responses=RESOURCE)
def read_eob(setl_id: str, request: Request, p: Caller) -> Response:
    with ledger_of(request) as led:
        s = settlement.get_settlement(led, p, setl_id, access_log_of(request))
    return fhir_response(fm.explanation_of_benefit(s, book_of(request).admdvs))


@router.get("/ExplanationOfBenefit", responses=RESOURCE)
def search_eob(
    request: Request,
    p: Caller,
    patient: Annotated[str, Query(min_length=1)],
    count: Annotated[int, Query(alias="_count", ge=1, le=200)] = 50,
) -> Response:
    with ledger_of(request) as led:
        rows = settlement.list_settlements(led, p, _ref(patient), count, access_log_of(request))
    admdvs = book_of(request).admdvs
    return fhir_response(
        _bundle(
            [fm.explanation_of_benefit(s, admdvs) for s in rows], str(request.base_url).rstrip("/") + "/fhir"
        )
    )


CLAIM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            FHIR_JSON: {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/Claim",
    responses={**RESOURCE, 422: {"description": "OperationOutcome: invalid Claim"}},
    openapi_extra=CLAIM_BODY,
    summary="Submit a Claim → ClaimResponse (settle 2207 / pre-settle 2206)",
)
async def submit_claim(request: Request, p: Caller) -> Response:
    from fhir.resources.R4B.claim import Claim

    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        return JSONResponse(
            outcome_json("invalid", f"not valid JSON: {exc}"), status_code=400, media_type=FHIR_JSON
        )
    if not isinstance(raw, dict) or raw.get("resourceType") != "Claim":
        return JSONResponse(
            outcome_json("invalid", "the body must be a Claim resource", "Claim"),
            status_code=422,
            media_type=FHIR_JSON,
        )
    try:
        Claim.model_validate(raw)
    except (ValidationError, ValueError, TypeError) as exc:
        errs = exc.errors() if isinstance(exc, ValidationError) else [{"loc": (), "msg": str(exc)}]
        first = errs[0] if errs else {"loc": (), "msg": "invalid"}
        loc = "Claim." + ".".join(str(x) for x in first.get("loc", ()) if not str(x).startswith("function-"))
        return JSONResponse(
            outcome_json("structure", f"not a valid R4 Claim: {first.get('msg')}", loc.rstrip(".")),
            status_code=422,
            media_type=FHIR_JSON,
        )
    visit_json, msgid, pre = fm.claim_to_visit(raw)
    visit = sio.parse_visit(sio.loads(json.dumps(visit_json)))
    out = await run_in_threadpool(_settle, request, p, visit, msgid, pre)
    body = fm.claim_response(
        out.settlement, out.setl_id, visit.psn_no, msgid, raw["use"], book_of(request).admdvs, out.replayed
    )
    return fhir_response(body, 200 if out.replayed or pre else 201)


def _read_person(request: Request, p: Principal, psn_no: str, what: str) -> Person:
    with ledger_of(request) as led:
        pers, _balance = persons.read_person(led, p, psn_no, dt.date.today(), what, access_log_of(request))
    return pers


def _settle(request: Request, p: Principal, visit: Visit, msgid: str, pre: bool) -> SettleOutcome:
    """Off the event loop: the ledger is held and the settlement runs on a worker thread."""
    with ledger_of(request) as led:
        return settlement.settle(
            led, book_of(request), visit, msgid, audit=audit_hook_of(request), pre=pre, caller=p
        )
