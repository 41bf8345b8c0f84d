"""Cross-region faces of a region service: the visitor's 2206/2207 routed through the hub (care side), the
hub's calls into this region (insured side, by the shared hub key), settling what never got an answer, the
routing records, and filings (备案) over JSON."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import asdict, dataclass
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from yibao.access.principal import STAFF_ROLES, Principal, can_read_person
from yibao.crossregion.client import KEY_HEADER, JsonClient
from yibao.crossregion.filing import Filing
from yibao.crossregion.params import Params, load_params
from yibao.crossregion.schema import xr_inbound, xr_outbound
from yibao.crossregion.store import BreakLog, FilingStore, RouteTable, engine_for
from yibao.crossregion.visitor import person_from_json, person_to_json
from yibao.errors import FieldError
from yibao.settlement import io as sio
from yibao.settlement.model import Person, Visit
from yibao.usecases import crossregion as xr
from yibao.usecases import eligibility
from yibao.usecases import encounter as enc
from yibao.web import national
from yibao.web.auth import current_principal
from yibao.web.deps import audit_hook_of, book_of, eligibility_of, ledger_of, settings_of
from yibao.web.jsonresp import json_response
from yibao.web.national import Envelope, EnvelopeError
from yibao.web.national_flow import store_of, voucher_check

router = APIRouter(prefix="/api/crossregion", tags=["异地就医 cross-region"])
_LOCK = threading.Lock()


class _State:
    def __init__(self, request: Request) -> None:
        settings = settings_of(request)
        with ledger_of(request) as led:
            url = led.sa_url
        self.engine = engine_for(url)
        self.params: Params = load_params()
        self.filings = FilingStore(self.engine)
        self.break_log = BreakLog(self.engine)
        # the routing tables live in the ledger's database: their writes queue on the ledger's lock
        lock = request.app.state.ledger_lock
        self.inbound = RouteTable(self.engine, xr_inbound, lock)
        self.care: xr.CareSide | None = None
        if settings.hub_url:
            timeout = settings.hub_timeout or self.params.timeout_seconds
            client = JsonClient(settings.hub_url, settings.hub_key, timeout)
            self.care = xr.CareSide(
                RouteTable(self.engine, xr_outbound, lock), client, book_of(request).admdvs
            )
            self._start_resolver(max(3 * timeout, 5.0))

    def _start_resolver(self, older_than: float) -> None:
        """Every few seconds, reverse what never got an answer (a crash, a lost reversal), so a late answer
        never leaves money counted on one side only even when nobody asks (``POST /resolve`` does it at once)."""
        care = self.care
        assert care is not None

        def loop() -> None:
            while True:
                time.sleep(older_than / 2)
                try:
                    xr.resolve_pending(care, older_than)
                except Exception:  # the next round retries; a dead database is not this thread's to report
                    continue

        threading.Thread(target=loop, name="crossregion-resolver", daemon=True).start()


def state(request: Request) -> _State:
    st = getattr(request.app.state, "crossregion", None)
    if st is None:
        with _LOCK:
            st = getattr(request.app.state, "crossregion", None)
            if st is None:
                st = request.app.state.crossregion = _State(request)
    return cast(_State, st)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the filing store and the cross-region parameters."""
    state(request)


def settle_visitor(
    request: Request, p: Principal, env: Envelope, visit: Visit, data: dict[str, Any], pre: bool
) -> dict[str, Any]:
    """The 2206/2207 output for a visitor insured elsewhere, answered by the insured region via the hub."""
    st = state(request)
    if st.care is None:
        raise EnvelopeError(
            "insuplc_admdvs",
            "本统筹区未接入异地结算清算中心 this region has no clearing hub configured",
            "no_hub",
        )
    return _routed(st.care, request, p, visit, data, env.msgid, env.insuplc_admdvs[:6], pre)


def _routed(
    care: xr.CareSide,
    request: Request,
    p: Principal,
    visit: Visit,
    data: dict[str, Any],
    msgid: str,
    insu: str,
    pre: bool,
    *,
    with_person: bool = False,
) -> dict[str, Any]:
    ans = xr.settle_visitor(
        care, book_of(request), visit, data, msgid, insu, pre=pre, caller=p, audit=audit_hook_of(request),
        with_person=with_person,
    )  # fmt: skip
    out = dict(ans["output"])
    out["crossregion"] = {
        "mdtrtarea_admvs": care.care_admdvs,
        "insuplc_admdvs": insu,
        "coverage": ans.get("coverage"),
    }
    if with_person:
        out["person"] = ans.get("person") or {}
    return out


def reverse_routed(request: Request, p: Principal, omsgid: str) -> dict[str, Any] | None:
    """2601 of a visitor's inline 2207 routed from here: reversed at the insured region through the hub
    (None: ``omsgid`` was not routed from here)."""
    st = state(request)
    row = st.care.outbound.get(omsgid) if st.care is not None and omsgid else None
    if row is None or st.care is None:
        return None
    if p.role == "institution" and p.fixmedins_code != row["fixmedins_code"]:
        raise EnvelopeError(
            "input.data.omsgid", "原交易不是本机构发送的 not this institution's message", "not_found"
        )
    if not xr.reverse_visitor(st.care, omsgid):
        raise EnvelopeError(
            "input.data.omsgid",
            "参保地尚未确认冲正，请稍后重试 the insured region has not confirmed the reversal yet; try again",
            "remote_timeout",
        )
    return {"omsgid": omsgid, "oinfno": "2207", "setl_id": str(row["setl_id"]), "status": "reversed"}


def _care(request: Request) -> xr.CareSide:
    st = state(request)
    if st.care is None:
        raise EnvelopeError(
            "insuplc_admdvs",
            "本统筹区未接入异地结算清算中心 this region has no clearing hub configured",
            "no_hub",
        )
    return st.care


def own_region(request: Request) -> str:
    return book_of(request).admdvs


def visitor_person(request: Request, insu: str, query: dict[str, Any]) -> dict[str, Any]:
    """1101 / 2201 of a visitor: the insured region's answer through the hub."""
    return xr.visitor_person(_care(request), insu, query)


@dataclass
class FlowRoute:
    """The national visit flow's way to a visitor's insured region (2201 → 2207, 2208, 2601 through the
    hub), for :class:`yibao.usecases.encounter.Ctx`."""

    request: Request
    caller: Principal

    def person(self, insu: str, psn_no: str, day: dt.date) -> Person:
        ans = visitor_person(self.request, insu, {"psn_no": psn_no, "day": day.isoformat()})
        return person_from_json(ans["person"])

    def identify(
        self, insu: str, cert_type: str, cert_no: str, card_sn: str, psn_name: str, fixmedins_code: str
    ) -> tuple[str, dict[str, Any]]:
        ans = visitor_person(self.request, insu, {
            "mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no, "card_sn": card_sn, "psn_name": psn_name,
            "fixmedins_code": fixmedins_code, "day": dt.date.today().isoformat(),
        })  # fmt: skip
        return str(ans["psn_no"]), dict(ans["output"])

    def benefit_check(
        self, insu: str, psn_no: str, begntime: dt.date, med_type: str, insutype: str
    ) -> dict[str, Any]:
        """2001 of a visitor: the insured region's benefit check."""
        ans = visitor_person(self.request, insu, {
            "psn_no": psn_no, "day": begntime.isoformat(),
            "benefit": {"begntime": begntime.isoformat(), "med_type": med_type, "insutype": insutype},
        })  # fmt: skip
        return dict(ans["benefit"])

    def settle(self, insu: str, visit: Visit, msgid: str, pre: bool) -> dict[str, Any]:
        care = _care(self.request)
        return _routed(care, self.request, self.caller, visit, sio.visit_to_json(visit), msgid, insu, pre,
                       with_person=True)  # fmt: skip

    def reverse(self, msgid: str) -> bool:
        return xr.reverse_visitor(_care(self.request), msgid)

    def msgid_of(self, setl_id: str) -> str | None:
        return xr.routed_msgid(_care(self.request), setl_id)


def _hub_refusal(request: Request) -> dict[str, Any] | None:
    """These endpoints authenticate the hub by its key, not a login: a wrong key is an ``ok: false`` answer."""
    key = settings_of(request).hub_key
    if not key or request.headers.get(KEY_HEADER) != key:
        return {
            "ok": False,
            "field": KEY_HEADER,
            "reason": "清算中心密钥不符 not the clearing hub",
            "code": "hub_key",
        }
    return None


def _refusal(exc: FieldError) -> dict[str, Any]:
    return {"ok": False, "field": exc.field, "reason": exc.reason, "code": exc.code}


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise HTTPException(
            422, [{"loc": ["body"], "msg": "须为 JSON 对象 must be a JSON object", "type": "json"}]
        )
    return body


@router.post(
    "/inbound/settle", summary="参保地结算（清算中心调用） settle a visitor's visit for a care region"
)
async def inbound_settle_json(request: Request) -> Response:
    # the body read and the answer written with orjson, the work on a worker thread: no model validation or
    # encoder walk of a 2207 answer on the event loop
    body = await _json_body(request)
    return json_response(await run_in_threadpool(inbound_settle, body, request))


def inbound_settle(body: dict[str, Any], request: Request) -> dict[str, Any]:
    refused = _hub_refusal(request)
    if refused:
        return refused
    st = state(request)
    try:
        with ledger_of(request) as led:
            out, cov = xr.settle_inbound(
                st.inbound, st.filings, led, book_of(request), body, eligibility_of(request)
            )
            person = None
            if body.get("with_person"):  # the flow's 2207 answer names the person (psn_name, gend, brdy …)
                day = dt.date.fromisoformat(str(body["data"]["begntime"])[:10])
                person = person_to_json(led.get_person(out.settlement.psn_no, day))
    except FieldError as exc:
        return _refusal(exc)
    ans = {"ok": True, "output": national.settle_output(out), "coverage": asdict(cov)}
    if person is not None:
        ans["person"] = person
    return ans


@router.post("/inbound/person", summary="参保地人员信息（清算中心调用） who a visitor is, for a care region")
async def inbound_person_json(request: Request) -> Response:
    body = await _json_body(request)
    return json_response(await run_in_threadpool(inbound_person, body, request))


def inbound_person(body: dict[str, Any], request: Request) -> dict[str, Any]:
    refused = _hub_refusal(request)
    if refused:
        return refused
    today = dt.date.today()
    fixmedins = str(body.get("fixmedins_code") or "")
    try:
        with ledger_of(request) as led:
            ctx = enc.Ctx(store_of(request), led, book_of(request), None, fixmedins, "", "1101", body)

            def identify(cert_type: str, cert_no: str, card_sn: str, psn_name: str) -> str:
                # a voucher is this region's own token: verified with its keys, used up at the care hospital
                voucher = voucher_check(request, fixmedins)
                return enc.identify(
                    ctx, cert_type, cert_no, card_sn=card_sn, psn_name=psn_name, voucher=voucher
                )

            psn_no, person = xr.person_inbound(led, identify, body, today)
            balance = led.account_balance(psn_no)
    except FieldError as exc:
        return _refusal(exc)
    output = national.person_output(person, balance, today)
    for row in output["insuinfo"]:  # the insurance status of the day as this region's enrolment knows it
        row.update(eligibility.insuinfo_overrides(eligibility_of(request), psn_no, today))
    output.pop("family_psn_nos", None)
    output["baseinfo"]["certno"] = ""
    ans = {"ok": True, "psn_no": psn_no, "person": person_to_json(person), "output": output}
    check = body.get("benefit")
    if isinstance(check, dict):  # 2001 at the care region: this region's benefit check (参保地政策)
        try:
            day = dt.date.fromisoformat(str(check.get("begntime") or "")[:10])
        except ValueError:
            return _refusal(
                FieldError("input.data.begntime", "日期格式应为 YYYY-MM-DD must be a date", "format")
            )
        ans["benefit"] = eligibility.check_2001(eligibility_of(request), psn_no, day,
                                                str(check.get("med_type") or ""), str(check.get("insutype") or ""))  # fmt: skip
    return ans


@router.post("/inbound/reverse", summary="参保地冲正（清算中心调用） reverse a visitor's settlement")
async def inbound_reverse_json(request: Request) -> Response:
    body = await _json_body(request)
    return json_response(await run_in_threadpool(inbound_reverse, body, request))


def inbound_reverse(body: dict[str, Any], request: Request) -> dict[str, Any]:
    refused = _hub_refusal(request)
    if refused:
        return refused
    st = state(request)
    try:
        with ledger_of(request) as led:
            how = xr.reverse_inbound(st.inbound, led, body)
    except FieldError as exc:
        return _refusal(exc)
    return {"ok": True, "result": how}


@router.post(
    "/inbound/record", summary="参保地结算记录（清算中心调用） this region's record of a visitor's settlement"
)
def inbound_record(body: dict[str, Any], request: Request) -> dict[str, Any]:
    """The record of ``msgid`` as this region (the insured region) holds it, for the hub to log again when a
    care region asks for it to be re-sent (对账差异: 请求重新报送); ``record`` is null when there is none."""
    refused = _hub_refusal(request)
    if refused:
        return refused
    row = state(request).inbound.get(str(body.get("msgid") or ""))
    if row is None:
        return {"ok": True, "record": None}
    keys = (
        "msgid",
        "care_admdvs",
        "status",
        "setl_id",
        "medfee_sumamt",
        "fund_pay_sumamt",
        "acct_pay",
        "setl_date",
    )
    return {"ok": True, "record": {k: row[k] for k in keys}}


def _staff(p: Principal, admin: bool = False) -> None:
    if p.role not in STAFF_ROLES or (admin and p.role != "admin"):
        raise HTTPException(403, f"角色 {p.role} 不能办理此项 role {p.role} may not do this")


@router.post(
    "/resolve", summary="冲正未获应答的异地结算 reverse visitors' settlements that never got an answer"
)
def resolve(
    request: Request, p: Annotated[Principal, Depends(current_principal)], older_than: float = 10.0
) -> dict[str, int]:
    _staff(p, admin=True)
    st = state(request)
    if st.care is None:
        return {"reversed": 0, "waiting": 0}
    return xr.resolve_pending(st.care, older_than)


@router.get("/records", summary="异地结算记录 routing records (outbound: care side; inbound: insured side)")
def records(
    request: Request, p: Annotated[Principal, Depends(current_principal)], side: str = "outbound"
) -> list[dict[str, Any]]:
    _staff(p)
    st = state(request)
    if side == "inbound":
        return st.inbound.all()
    if side != "outbound":
        raise HTTPException(422, "side 须为 outbound 或 inbound side: outbound or inbound")
    return st.care.outbound.all() if st.care else []


# ---------------------------------------------------------------------------- filings (备案)
def _filing_json(f: Filing) -> dict[str, Any]:
    d = asdict(f)
    for k in ("begin", "end", "filed_on", "closed_on"):
        d[k] = d[k].isoformat() if d[k] else None
    d["type_name"] = f.type_name
    d["kind"] = f.kind
    return d


def _filing_role(p: Principal) -> None:
    if p.role not in STAFF_ROLES and p.role != "insured":
        raise HTTPException(403, f"角色 {p.role} 不能办理备案 role {p.role} may not handle filings")


def _filer(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
    _filing_role(p)
    return p


Filer = Annotated[Principal, Depends(_filer)]


def _may_file(p: Principal, psn_no: str) -> None:
    _filing_role(p)
    if not (p.role in STAFF_ROLES or (p.role == "insured" and can_read_person(p, psn_no))):
        raise HTTPException(403, f"无权为 {psn_no} 办理备案 not allowed to file for this person")


def _field_error(exc: FieldError) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", exc.field], "msg": exc.reason, "type": exc.code}])


@router.post("/filings", summary="办理异地就医备案 file for care elsewhere")
def create_filing(body: dict[str, Any], request: Request, p: Filer) -> dict[str, Any]:
    psn_no = str(body.get("psn_no") or p.psn_no or "")
    _may_file(p, psn_no)
    st = state(request)
    try:
        f = xr.file(
            st.filings, st.params, book_of(request).admdvs, {**body, "psn_no": psn_no}, dt.date.today()
        )
    except FieldError as exc:
        raise _field_error(exc) from None
    return _filing_json(f)


@router.get("/filings", summary="备案列表 a person's filings")
def list_filings(request: Request, p: Filer, psn_no: str = "") -> list[dict[str, Any]]:
    psn_no = psn_no or p.psn_no or ""
    _may_file(p, psn_no)
    return [_filing_json(f) for f in state(request).filings.for_person(psn_no)]


@router.post("/filings/{filing_id}/cancel", summary="取消备案 cancel a filing")
def cancel_filing(filing_id: str, request: Request, p: Filer) -> dict[str, Any]:
    _filing_role(p)
    st = state(request)
    try:
        f = st.filings.get(filing_id)
        _may_file(p, f.psn_no)
        out = xr.cancel(st.filings, st.params, filing_id, f.psn_no, dt.date.today())
    except FieldError as exc:
        raise _field_error(exc) from None
    return _filing_json(out)


@router.post("/filings/{filing_id}/change", summary="变更备案 change a filing")
def change_filing(
    filing_id: str,
    body: dict[str, Any],
    request: Request,
    p: Filer,
) -> dict[str, Any]:
    _filing_role(p)
    st = state(request)
    try:
        f = st.filings.get(filing_id)
        _may_file(p, f.psn_no)
        old, new = xr.change(st.filings, st.params, filing_id, f.psn_no, body, dt.date.today())
    except FieldError as exc:
        raise _field_error(exc) from None
    return {"old": _filing_json(old), "new": _filing_json(new)}
