"""FHIR R4 (4.0.1) under ``/fhir``: CapabilityStatement; Patient, Coverage, ExplanationOfBenefit (CARIN
Blue Button structure), Claim and ClaimResponse (read; POST Claim settles), Organization, Location,
Practitioner and CodeSystem — read and searched with paging, ``_include`` / ``_revinclude`` and every
declared parameter (docs/FHIR.md).  ``application/fhir+json``; errors are OperationOutcome.  Callers are
logins or apps under a SMART grant (:mod:`yibao.web.smart`), which read only their patient within their
scopes.  Incoming Claims are checked structurally with the ``fhir.resources`` R4B models, then mapped by
:mod:`yibao.web.fhir_map`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.access.principal import STAFF_ROLES, Forbidden, Principal
from yibao.access.store import UserRow
from yibao.errors import FieldError
from yibao.ledger import LedgerError, SettleOutcome, StoredSettlement
from yibao.ledger.queries import SettlementQuery
from yibao.settlement import io as sio
from yibao.settlement.model import Person, SettlementError, Visit
from yibao.smart import scopes as sc
from yibao.smart.store import Access
from yibao.usecases import persons, settlement
from yibao.usecases.settlement import AccessLog
from yibao.web import fhir_map as fm
from yibao.web import fhir_search as fs
from yibao.web.auth import current_principal
from yibao.web.deps import (
    access_log_of,
    audit_hook_of,
    book_of,
    covers_of,
    eligibility_of,
    ledger_of,
    settings_of,
    store_of,
)
from yibao.web.fhir_directory import Directory, load_directory
from yibao.web.jsonresp import dumps
from yibao.web.smart import smart_access

FHIR_JSON = "application/fhir+json"
router = APIRouter(prefix="/fhir", tags=["FHIR R4"])
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
    if isinstance(exc, fs.SearchError):
        code = exc.code if exc.code in ("not-supported", "too-costly") else "invalid"
        return JSONResponse(
            outcome_json(code, f"{exc.field}: {exc.reason}", exc.field), status_code=400, media_type=FHIR_JSON
        )
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
    from fastapi.exception_handlers import http_exception_handler

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
            from yibao.web.secure import validation_error as scrubbed

            return await scrubbed(request, exc)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        return JSONResponse(
            outcome_json("invalid", str(first.get("msg")), ".".join(map(str, first.get("loc", ())))),
            status_code=422,
            media_type=FHIR_JSON,
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


# ---------------------------------------------------------------------------- callers
@dataclass(frozen=True)
class FhirCaller:
    """Who reads: a logged-in principal, or an app acting under a SMART grant (``app``) — then the
    principal is the person who consented, narrowed to the one patient of the grant."""

    principal: Principal
    app: Access | None = None

    def check(self, rtype: str, interaction: str) -> None:
        if self.app is not None and not sc.allows(self.app.scopes, rtype, interaction):
            raise Forbidden(
                f"应用「{self.app.app_name}」未获授权{'查询' if interaction == 'search' else '查看'} {rtype} "
                f"the app's scopes do not allow {interaction} on {rtype}"
            )

    def may(self, rtype: str) -> bool:
        return self.app is None or sc.allows(self.app.scopes, rtype, "read")


def fhir_caller(request: Request) -> FhirCaller:
    """FastAPI dependency: a SMART access token (only ever accepted here, under ``/fhir``) or a login."""
    access = smart_access(request)
    if access is None:
        return FhirCaller(current_principal(request))
    user = store_of(request).get_user(access.user_id)
    if user is None:
        raise StarletteHTTPException(
            401, "授权人账号已停用 the consenting login is disabled", {"WWW-Authenticate": "Bearer"}
        )
    p = Principal(user.user_id, "insured", user.display_name, access.psn_no, (access.psn_no,), None)
    return FhirCaller(p, access)


Reader = Annotated[FhirCaller, Depends(fhir_caller)]


def log_of(request: Request, caller: FhirCaller) -> AccessLog:
    """The access log for this request; an app's reads are recorded as the app's, on behalf of the
    person who consented (so "who read my record" names the app)."""
    if caller.app is None:
        return access_log_of(request)
    app, store, where = caller.app, store_of(request), request.url.path

    def log(p: Principal, psn_no: str, what: str) -> None:
        who = UserRow(
            f"app:{app.client_id}",
            "",
            "app",
            f"应用「{app.app_name}」（{p.display_name} 授权）",
            None,
            (),
            None,
        )
        store.log_access(who, psn_no, f"FHIR {what}", where)

    return log


def directory_of(request: Request) -> Directory:
    d = getattr(request.app.state, "fhir_directory", None)
    if d is None:
        s = settings_of(request)
        d = request.app.state.fhir_directory = load_directory(
            book_of(request), s.region_path(), s.database_url, s.audit_knowledge
        )
    return cast(Directory, d)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _not_found(rtype: str, rid: str) -> StarletteHTTPException:
    return StarletteHTTPException(404, f"{rtype}/{rid} 不存在 not found")


def _search(request: Request) -> fs.Search:
    return fs.parse(list(request.query_params.multi_items()), request.headers.get("prefer"))


def _or_values(s: fs.Search, name: str) -> list[list[str]] | None:
    """Each repetition's comma-separated alternatives (None when the parameter is absent)."""
    vals = s.values(name)
    return [[x for x in v.split(",") if x] for v in vals] if vals else None


def _intersect(groups: list[list[str]] | None, start: set[str] | None = None) -> set[str] | None:
    out = start
    for g in groups or []:
        out = set(g) if out is None else out & set(g)
    return out


# ---------------------------------------------------------------------------- what is declared
SEARCH_PARAMS: dict[str, list[tuple[str, str, str]]] = {  # type -> (name, type, documentation)
    "Patient": [
        ("_id", "token", "人员编号 psn_no"),
        ("identifier", "token", f"{fm.SID_PSN}|psn_no (staff also {fm.SID_CERT}|ID number)"),
    ],
    "Coverage": [
        ("_id", "token", "人员编号 psn_no"),
        ("beneficiary", "reference", "Patient/<psn_no>"),
        ("patient", "reference", "Patient/<psn_no>"),
        ("identifier", "token", f"{fm.SID_PSN}|psn_no"),
    ],
    "ExplanationOfBenefit": [
        ("_id", "token", "结算编号 setl_id"),
        ("patient", "reference", "Patient/<psn_no>"),
        ("identifier", "token", f"{fm.SID_SETL}|setl_id"),
        ("type", "token", f"{fm.CS_CLAIM_TYPE}|institutional"),
        ("status", "token", "active | cancelled"),
        ("service-date", "date", "billablePeriod (eq gt ge lt le sa eb ap; dates are Beijing time)"),
        ("_lastUpdated", "date", "meta.lastUpdated"),
    ],
    "Organization": [
        ("_id", "token", "fixmedins_code, or ybj-<admdvs> for the bureau"),
        ("identifier", "token", f"{fm.SID_FIXMEDINS}|code or {fm.SID_ADMDVS}|admdvs"),
        ("name", "string", "starts with (or contains) the text"),
    ],
    "Location": [
        ("_id", "token", "fixmedins_code"),
        ("identifier", "token", f"{fm.SID_FIXMEDINS}|code"),
        ("organization", "reference", "Organization/<fixmedins_code>"),
    ],
    "Practitioner": [("_id", "token", "dr_code"), ("identifier", "token", f"{fm.SID_DR}|dr_code")],
    "CodeSystem": [("_id", "token", "id"), ("url", "uri", "canonical url")],
}
INCLUDES = {
    "ExplanationOfBenefit": [
        "ExplanationOfBenefit:patient",
        "ExplanationOfBenefit:coverage",
        "ExplanationOfBenefit:insurer",
        "ExplanationOfBenefit:provider",
        "ExplanationOfBenefit:facility",
        "ExplanationOfBenefit:care-team",
        "*",
    ],
    "Coverage": ["Coverage:beneficiary", "Coverage:patient", "Coverage:payor", "*"],
    "Location": ["Location:organization", "*"],
}
REVINCLUDES = {"Patient": ["Coverage:beneficiary", "Coverage:patient"]}
READS = (
    "Patient",
    "Coverage",
    "ExplanationOfBenefit",
    "Claim",
    "ClaimResponse",
    "Organization",
    "Location",
    "Practitioner",
    "CodeSystem",
)


def _known(rtype: str) -> frozenset[str]:
    names = {n for n, _t, _d in SEARCH_PARAMS.get(rtype, [])}
    if rtype in INCLUDES:
        names.add("_include")
    if rtype in REVINCLUDES:
        names.add("_revinclude")
    return frozenset(names)


def _includes(s: fs.Search, rtype: str, param: str = "_include") -> set[str]:
    table = INCLUDES if param == "_include" else REVINCLUDES
    allowed = table.get(rtype, [])
    out: set[str] = set()
    for v in s.values(param):
        for x in v.split(","):
            name = x.split(":iterate")[0]
            if name not in allowed:
                raise fs.SearchError(
                    param,
                    f"不支持 not supported: {x!r} (supported: {', '.join(allowed) or 'none'})",
                    "not-supported",
                )
            out.add(name)
    return out


@router.get("/metadata", responses=RESOURCE, summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    """The server's CapabilityStatement (public, like every FHIR server's): every interaction, search
    parameter, _include and profile it serves, and SMART App Launch as its security service."""
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    profiles = {
        "Patient": [fm.PROFILE_PATIENT],
        "Coverage": [fm.PROFILE_COVERAGE],
        "Organization": [fm.PROFILE_ORGANIZATION],
        "ExplanationOfBenefit": [fm.PROFILE_EOB_INPATIENT, fm.PROFILE_EOB_OUTPATIENT],
    }
    resources = []
    for rtype in READS:
        interactions = [{"code": "read"}]
        if rtype in SEARCH_PARAMS:
            interactions.append({"code": "search-type"})
        if rtype == "Claim":
            interactions.append({"code": "create"})
        entry: dict[str, Any] = {"type": rtype, "interaction": interactions}
        if rtype in profiles:
            entry["supportedProfile"] = profiles[rtype]
        if rtype in SEARCH_PARAMS:
            entry["searchParam"] = [
                {"name": n, "type": t, "documentation": d} for n, t, d in SEARCH_PARAMS[rtype]
            ]
        if rtype in INCLUDES:
            entry["searchInclude"] = INCLUDES[rtype]
        if rtype in REVINCLUDES:
            entry["searchRevInclude"] = REVINCLUDES[rtype]
        resources.append(entry)
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
                        "extension": [
                            {
                                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                "extension": [
                                    {"url": "authorize", "valueUri": f"{root}/oauth/authorize"},
                                    {"url": "token", "valueUri": f"{root}/oauth/token"},
                                    {"url": "revoke", "valueUri": f"{root}/oauth/revoke"},
                                ],
                            }
                        ],
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ],
                                "text": "SMART App Launch (authorisation code + PKCE) for apps; a login "
                                "session's bearer token for the bureau's own clients",
                            }
                        ],
                        "description": "Apps: see /fhir/.well-known/smart-configuration. Searches page with "
                        "_count (1–200, default 50; 0 = total only) and next links; unknown parameters are "
                        "listed in an OperationOutcome entry, or refused under Prefer: handling=strict.",
                    },
                    "resource": resources,
                }
            ],
        }
    )


# ---------------------------------------------------------------------------- Patient, Coverage
def _person(request: Request, c: FhirCaller, psn_no: str, what: str) -> tuple[Person, str]:
    with ledger_of(request) as led:
        try:
            pers, _balance = persons.read_person(
                led, c.principal, psn_no, dt.date.today(), what, log_of(request, c)
            )
        except LedgerError as exc:
            if exc.code == "unknown_person":
                raise _not_found(what.split()[-1], psn_no) from exc
            raise
        changed = led.person_last_changed(psn_no)
    return pers, fm.instant(changed, dt.datetime.now(dt.UTC))


def _patient(request: Request, c: FhirCaller, psn_no: str) -> dict[str, Any]:
    pers, lu = _person(request, c, psn_no, "FHIR Patient")
    return fm.patient(pers, lu, with_certno=c.app is None)


def _coverage(request: Request, c: FhirCaller, psn_no: str) -> dict[str, Any]:
    pers, lu = _person(request, c, psn_no, "FHIR Coverage")
    return fm.coverage(pers, lu, directory_of(request).names)


@router.get("/Patient/{psn_no}", responses=RESOURCE)
def read_patient(psn_no: str, request: Request, c: Reader) -> Response:
    c.check("Patient", "read")
    return fhir_response(_patient(request, c, psn_no))


@router.get("/Coverage/{psn_no}", responses=RESOURCE)
def read_coverage(psn_no: str, request: Request, c: Reader) -> Response:
    c.check("Coverage", "read")
    return fhir_response(_coverage(request, c, psn_no))


def _person_candidates(request: Request, c: FhirCaller, s: fs.Search, ref_params: Sequence[str]) -> list[str]:
    """The persons a Patient / Coverage search may match, as the caller may see them."""
    ids = _intersect(_or_values(s, "_id"))
    for name in ref_params:
        refs = _or_values(s, name)
        if refs is not None:
            ids = _intersect([[fs.reference_id(x, "Patient", name) for x in g] for g in refs], ids)
    for v in s.values("identifier"):
        found: set[str] = set()
        for x in v.split(","):
            system, value = fs.token(x)
            if system in (None, "", fm.SID_PSN):
                found.add(value)
            elif system == fm.SID_CERT and c.app is None and c.principal.role in STAFF_ROLES:
                with ledger_of(request) as led:
                    k = led.psn_no_by_certno(value)
                if k:
                    found.add(k)
        ids = found if ids is None else ids & found
    p = c.principal
    if p.role == "insured":
        return sorted(k for k in p.family_psn_nos if ids is None or k in ids)
    if p.role in STAFF_ROLES:
        if ids is None:
            raise fs.SearchError(
                "_id", "请按人员编号或证件号查询 search by _id or identifier (staff)", "too-costly"
            )
        return sorted(ids)
    raise Forbidden(f"角色 {p.role} 不能查询参保人 role {p.role} may not search persons")


def _page_people(
    request: Request, c: FhirCaller, s: fs.Search, psn_nos: list[str], build: Any
) -> tuple[int, list[dict[str, Any]]]:
    existing: list[str] = []
    with ledger_of(request) as led:
        for k in psn_nos:
            try:
                led.get_person(k, dt.date.today())
                existing.append(k)
            except LedgerError:
                continue
    page = existing[s.offset : s.offset + s.count]
    return len(existing), [build(request, c, k) for k in page]


@router.get("/Patient", responses=RESOURCE, summary="Search Patient")
def search_patient(request: Request, c: Reader) -> Response:
    c.check("Patient", "search")
    s = _search(request)
    rev = _includes(s, "Patient", "_revinclude")
    cands = _person_candidates(request, c, s, ())
    s.finish(_known("Patient"))
    total, found = _page_people(request, c, s, cands, _patient)
    incl = [_coverage(request, c, r["id"]) for r in found] if rev and c.may("Coverage") else []
    return fhir_response(fs.bundle(_base(request), "Patient", s, total, found, incl))


@router.get("/Coverage", responses=RESOURCE, summary="Search Coverage")
def search_coverage(request: Request, c: Reader) -> Response:
    c.check("Coverage", "search")
    s = _search(request)
    inc = _includes(s, "Coverage")
    cands = _person_candidates(request, c, s, ("beneficiary", "patient"))
    s.finish(_known("Coverage"))
    total, found = _page_people(request, c, s, cands, _coverage)
    incl: list[dict[str, Any]] = []
    if inc & {"Coverage:beneficiary", "Coverage:patient", "*"} and c.may("Patient"):
        incl += [_patient(request, c, r["id"]) for r in found]
    if inc & {"Coverage:payor", "*"} and found and c.may("Organization"):
        incl.append(_payer(request))
    return fhir_response(fs.bundle(_base(request), "Coverage", s, total, found, incl))


# ---------------------------------------------------------------------------- ExplanationOfBenefit, Claim
def _eob(request: Request, stored: StoredSettlement, lu: str | None) -> dict[str, Any]:
    return fm.explanation_of_benefit(
        stored, directory_of(request).names, fm.instant(lu or stored.created, dt.datetime.now(dt.UTC))
    )


def _stored(request: Request, c: FhirCaller, rtype: str, setl_id: str) -> tuple[StoredSettlement, str | None]:
    with ledger_of(request) as led:
        try:
            stored = settlement.get_settlement(led, c.principal, setl_id, log_of(request, c))
        except LedgerError as exc:
            if exc.code == "unknown_settlement":
                raise _not_found(rtype, setl_id) from exc
            raise
        lu = led.last_updated([setl_id]).get(setl_id)
    return stored, lu


@router.get("/ExplanationOfBenefit/{setl_id}", responses=RESOURCE)
def read_eob(setl_id: str, request: Request, c: Reader) -> Response:
    c.check("ExplanationOfBenefit", "read")
    stored, lu = _stored(request, c, "ExplanationOfBenefit", setl_id)
    return fhir_response(_eob(request, stored, lu))


@router.get("/Claim/{setl_id}", responses=RESOURCE, summary="The Claim that was settled")
def read_claim(setl_id: str, request: Request, c: Reader) -> Response:
    c.check("Claim", "read")
    stored, _lu = _stored(request, c, "Claim", setl_id)
    return fhir_response(fm.claim(stored, directory_of(request).names))


@router.get("/ClaimResponse/{setl_id}", responses=RESOURCE, summary="The adjudication of a settled Claim")
def read_claim_response(setl_id: str, request: Request, c: Reader) -> Response:
    c.check("ClaimResponse", "read")
    stored, _lu = _stored(request, c, "ClaimResponse", setl_id)
    body = fm.claim_response(
        stored.settlement,
        setl_id,
        stored.psn_no,
        stored.msgid,
        "claim",
        directory_of(request).names,
        False,
        stored.created,
    )
    if not stored.active:
        body["status"] = "cancelled"
        body["disposition"] = "已撤销 cancelled"
    return fhir_response(body)


def eob_query(c: FhirCaller, s: fs.Search) -> SettlementQuery:
    """The ledger query of an ExplanationOfBenefit search (every declared parameter)."""
    psn = _intersect(
        [[fs.reference_id(x, "Patient", "patient") for x in g] for g in _or_values(s, "patient") or []]
    )
    if c.app is not None:
        psn = {c.app.psn_no} if psn is None else psn & {c.app.psn_no}
    ids = _intersect(_or_values(s, "_id"))
    for v in s.values("identifier"):
        found = {code for system, code in map(fs.token, v.split(",")) if system in (None, "", fm.SID_SETL)}
        ids = found if ids is None else ids & found
    kinds_ok = True
    for v in s.values("type"):
        kinds_ok = kinds_ok and any(
            system in (None, "", fm.CS_CLAIM_TYPE) and code == "institutional"
            for system, code in map(fs.token, v.split(","))
        )
    statuses = _intersect([[fs.token(x)[1] for x in g] for g in _or_values(s, "status") or []])
    dates: list[tuple[str, str, str]] = []
    for v in s.values("service-date"):
        dates += fs.period_conditions(fs.date_param("service-date", v, instant=False))
    for v in s.values("_lastUpdated"):
        dates += fs.instant_conditions("last_updated", fs.date_param("_lastUpdated", v, instant=True))
    return SettlementQuery(
        psn_nos=tuple(sorted(psn)) if psn is not None else None,
        setl_ids=() if not kinds_ok else tuple(sorted(ids)) if ids is not None else None,
        statuses=tuple(sorted(statuses)) if statuses is not None else None,
        dates=tuple(dates),
        upto_id=s.at,
    )


@router.get("/ExplanationOfBenefit", responses=RESOURCE, summary="Search ExplanationOfBenefit")
def search_eob(request: Request, c: Reader) -> Response:
    c.check("ExplanationOfBenefit", "search")
    s = _search(request)
    inc = _includes(s, "ExplanationOfBenefit")
    q = eob_query(c, s)
    s.finish(_known("ExplanationOfBenefit"))
    with ledger_of(request) as led:
        page = settlement.search_settlements(led, c.principal, q, s.count, s.offset, log_of(request, c))
        lus = led.last_updated([x.setl_id for x in page.rows])
    found = [_eob(request, x, lus.get(x.setl_id)) for x in page.rows]
    incl = _eob_includes(request, c, page.rows, found, inc)
    return fhir_response(
        fs.bundle(_base(request), "ExplanationOfBenefit", s, page.total, found, incl, snapshot=page.upto_id)
    )


def _eob_includes(
    request: Request,
    c: FhirCaller,
    rows: Sequence[StoredSettlement],
    eobs: Sequence[dict[str, Any]],
    inc: set[str],
) -> list[dict[str, Any]]:
    def want(name: str, rtype: str) -> bool:
        return bool(inc & {f"ExplanationOfBenefit:{name}", "*"}) and c.may(rtype)

    d = directory_of(request)
    out: list[dict[str, Any]] = []
    people = sorted({x.psn_no for x in rows})
    for k in people:
        for name, rtype, build in (("patient", "Patient", _patient), ("coverage", "Coverage", _coverage)):
            if want(name, rtype):
                try:
                    out.append(build(request, c, k))
                except Forbidden:
                    continue  # an institution sees its settlements, not the person's record
    if want("insurer", "Organization") and rows:
        out.append(_payer(request))
    codes = sorted({x.visit.fixmedins_code for x in rows if x.visit.fixmedins_code in d.institutions})
    if want("provider", "Organization"):
        out += [_organization(request, code) for code in codes]
    if want("facility", "Location"):
        out += [fm.location(d.institutions[code], d.names, d.updated) for code in codes]
    if want("care-team", "Practitioner"):
        # only the physicians the EOBs name in careTeam (an EOB claiming C4BB has none: see fhir_map)
        refs = {p.get("provider", {}).get("reference", "") for e in eobs for p in e.get("careTeam", [])}
        drs = sorted(r.removeprefix("Practitioner/") for r in refs if r.startswith("Practitioner/"))
        out += [_practitioner(request, dr) for dr in drs]
    return out


# ---------------------------------------------------------------------------- directory and terminology
def _payer(request: Request) -> dict[str, Any]:
    d = directory_of(request)
    return fm.payer_organization(d.names, d.policy_updated)


def _organization(request: Request, code: str) -> dict[str, Any]:
    d = directory_of(request)
    if code == d.names.payer_id:
        return _payer(request)
    inst = d.institutions.get(code)
    if inst is None:
        raise _not_found("Organization", code)
    return fm.organization(inst, d.names, d.levels, d.updated)


def _practitioner(request: Request, dr_code: str) -> dict[str, Any]:
    d = directory_of(request)
    dr = d.physicians.get(dr_code)
    if dr is None:
        raise _not_found("Practitioner", dr_code)
    inst = d.institutions.get(dr.fixmedins_code)
    return fm.practitioner(dr, d.titles, inst.name if inst else None, d.updated)


@router.get("/Organization/{rid}", responses=RESOURCE)
def read_organization(rid: str, request: Request, c: Reader) -> Response:
    c.check("Organization", "read")
    return fhir_response(_organization(request, rid))


@router.get("/Location/{rid}", responses=RESOURCE)
def read_location(rid: str, request: Request, c: Reader) -> Response:
    c.check("Location", "read")
    d = directory_of(request)
    inst = d.institutions.get(rid)
    if inst is None:
        raise _not_found("Location", rid)
    return fhir_response(fm.location(inst, d.names, d.updated))


@router.get("/Practitioner/{rid}", responses=RESOURCE)
def read_practitioner(rid: str, request: Request, c: Reader) -> Response:
    c.check("Practitioner", "read")
    return fhir_response(_practitioner(request, rid))


def _token_ids(s: fs.Search, systems: Sequence[str]) -> set[str] | None:
    ids = _intersect(_or_values(s, "_id"))
    for v in s.values("identifier"):
        found = {code for system, code in map(fs.token, v.split(",")) if system in (None, "", *systems)}
        ids = found if ids is None else ids & found
    return ids


def _page(s: fs.Search, items: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    return len(items), items[s.offset : s.offset + s.count]


@router.get("/Organization", responses=RESOURCE, summary="Search Organization")
def search_organization(request: Request, c: Reader) -> Response:
    c.check("Organization", "search")
    s = _search(request)
    d = directory_of(request)
    ids = _token_ids(s, (fm.SID_FIXMEDINS, fm.SID_ADMDVS))
    names = s.values("name")
    s.finish(_known("Organization"))
    codes = [d.names.payer_id, *sorted(d.institutions)]
    if ids is not None:
        by_admdvs = {d.names.admdvs: d.names.payer_id}
        wanted = {by_admdvs.get(x, x) for x in ids}
        codes = [k for k in codes if k in wanted]
    items = [_organization(request, k) for k in codes]
    items = [o for o in items if all(n.lower() in o["name"].lower() for n in names)]
    total, page = _page(s, items)
    return fhir_response(fs.bundle(_base(request), "Organization", s, total, page))


@router.get("/Location", responses=RESOURCE, summary="Search Location")
def search_location(request: Request, c: Reader) -> Response:
    c.check("Location", "search")
    s = _search(request)
    d = directory_of(request)
    inc = _includes(s, "Location")
    ids = _token_ids(s, (fm.SID_FIXMEDINS,))
    orgs = _or_values(s, "organization")
    if orgs is not None:
        ids = _intersect([[fs.reference_id(x, "Organization", "organization") for x in g] for g in orgs], ids)
    s.finish(_known("Location"))
    codes = [k for k in sorted(d.institutions) if ids is None or k in ids]
    total, page = _page(s, [fm.location(d.institutions[k], d.names, d.updated) for k in codes])
    incl = [_organization(request, r["id"]) for r in page] if inc and c.may("Organization") else []
    return fhir_response(fs.bundle(_base(request), "Location", s, total, page, incl))


@router.get("/Practitioner", responses=RESOURCE, summary="Search Practitioner")
def search_practitioner(request: Request, c: Reader) -> Response:
    c.check("Practitioner", "search")
    s = _search(request)
    d = directory_of(request)
    ids = _token_ids(s, (fm.SID_DR,))
    s.finish(_known("Practitioner"))
    codes = [k for k in sorted(d.physicians) if ids is None or k in ids]
    total = len(codes)
    page = [_practitioner(request, k) for k in codes[s.offset : s.offset + s.count]]
    return fhir_response(fs.bundle(_base(request), "Practitioner", s, total, page))


def _code_systems(request: Request) -> list[dict[str, Any]]:
    d = directory_of(request)
    version = book_of(request).loaded.region.versions[-1].id
    return [fm.code_system(t, version, d.policy_updated) for t in d.tables.values()]


@router.get("/CodeSystem/{rid}", responses=RESOURCE, summary="A yibao code system (public)")
def read_code_system(rid: str, request: Request) -> Response:
    for cs in _code_systems(request):
        if cs["id"] == rid:
            return fhir_response(cs)
    raise _not_found("CodeSystem", rid)


@router.get("/CodeSystem", responses=RESOURCE, summary="yibao's code systems (public)")
def search_code_system(request: Request) -> Response:
    s = _search(request)
    ids = _intersect(_or_values(s, "_id"))
    urls = _intersect(_or_values(s, "url"))
    s.finish(_known("CodeSystem"))
    items = [
        cs
        for cs in _code_systems(request)
        if (ids is None or cs["id"] in ids) and (urls is None or cs["url"] in urls)
    ]
    total, page = _page(s, items)
    return fhir_response(fs.bundle(_base(request), "CodeSystem", s, total, page))


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
async def submit_claim(request: Request, c: Reader) -> Response:
    if c.app is not None:
        raise Forbidden("第三方应用只能读取，不能提交结算 apps may only read")
    p = c.principal
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
    names = directory_of(request).names
    body = fm.claim_response(
        out.settlement, out.setl_id, visit.psn_no, msgid, raw["use"], names, out.replayed
    )
    resp = fhir_response(body, 200 if out.replayed or pre else 201)
    if out.setl_id:
        resp.headers["Location"] = f"{_base(request)}/ClaimResponse/{out.setl_id}"
    return resp


def _settle(request: Request, p: Principal, visit: Visit, msgid: str, pre: bool) -> SettleOutcome:
    """Off the event loop: the ledger is held and the settlement runs on a worker thread."""
    with ledger_of(request) as led:
        return settlement.settle(
            led,
            book_of(request),
            visit,
            msgid,
            audit=audit_hook_of(request),
            pre=pre,
            caller=p,
            eligibility=eligibility_of(request),
            covers=covers_of(request),
        )
