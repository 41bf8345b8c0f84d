"""The national transactions of a visit as a HIS sends them (《定点医药机构接口规范》): 9001 / 9002, 1101 with
a real credential, 2201–2208 and 2301–2305 / 2401–2405 by ``mdtrt_id``, 2601 for any reversible
message, 3201 / 3202 / 3203, 5203 / 5204 / 5206 and 9101 / 9102.

Each handler checks its input against the specification's field tables (type, length, scale, code
table; the tables in ``hissim.spec``), parses what it uses, runs the use case and shapes the answer
as the specification's output lists it.  The inline 2206 / 2207 (a visit carrying its fee lines) stays a
yibao extension (:mod:`yibao.web.transactions`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import io
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, cast

from fastapi import Request

from hissim.spec import Spec, load_spec
from hissim.validate import check_fields, check_msgid, check_node
from yibao import fields
from yibao.access.principal import SETTLING_ROLES, Forbidden, Principal
from yibao.encounter import core
from yibao.encounter.core import INPATIENT, OUTPATIENT, FeeLine, VisitRecord
from yibao.encounter.store import EncounterStore, Message, request_key
from yibao.errors import FieldError
from yibao.ledger import Ledger, ReversalOutcome, SettleOutcome
from yibao.ledger.queries import SettlementQuery
from yibao.money import QTY_ONE, MoneyError, fen_to_yuan, price_times_qty, yuan_to_fen
from yibao.policy import diagnoses as dx
from yibao.policy.catalogue import CatalogueItem
from yibao.settlement import io as sio
from yibao.settlement.model import Person
from yibao.usecases import eligibility, settlement
from yibao.usecases import encounter as uc
from yibao.web import national
from yibao.web.deps import access_log_of, audit_hook_of, book_of, covers_of, eligibility_of
from yibao.web.masking import mask_certno
from yibao.web.national import Envelope, EnvelopeError, data_of

BEIJING = dt.timezone(dt.timedelta(hours=8))
MAX_FILE_BYTES = 20 * 1024 * 1024  # 9101: a detail file larger than this is refused
FILE_KEEP = dt.timedelta(days=7)  # 9102: how long a result file stays downloadable (dld_endtime)

Handler = Callable[[Request, Principal, Envelope], dict[str, Any]]

# transactions that need a sign_no from 9001 (an institution's later calls)
NEEDS_SIGN_NO = frozenset(
    "2001 2201 2202 2203 2204 2205 2301 2302 2303 2304 2305 2401 2402 2403 2404 2405 3202 3203 5203 5204 5206 "
    "9101 9102".split()
)


@functools.cache
def spec() -> Spec:
    return load_spec()


def check_input(infno: str, payload: Any) -> None:
    """The input against the transaction's field tables; the first problem named (with how many more)."""
    tx = spec().tx(infno)
    problems = [p for node in tx.input for p in check_node(node, payload, "input", spec().codes)]
    problems = [p for p in problems if not _voucher_length(p.path, p.code, payload)]
    if problems:
        first = problems[0]
        more = f"（另有 {len(problems) - 1} 处）" if len(problems) > 1 else ""
        raise EnvelopeError(first.path, first.reason + more, first.code)


VOUCHER_MAX = (
    1024  # yibao's electronic voucher is a signed token (about 255 characters), not a 50-character id
)


def _voucher_length(path: str, code: str, payload: Any) -> bool:
    """The one length yibao allows beyond the table: ``mdtrt_cert_no`` holding a voucher token (type 01)."""
    if code != "length" or not path.endswith(".mdtrt_cert_no") or not isinstance(payload, Mapping):
        return False
    for node in payload.values():
        if isinstance(node, Mapping) and str(node.get("mdtrt_cert_type")) == "01":
            return len(str(node.get("mdtrt_cert_no", ""))) <= VOUCHER_MAX
    return False


def now_text() -> str:
    """Beijing time as the interface writes it (yyyy-MM-dd HH:mm:ss)."""
    return dt.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class _LockedLedger:
    """The process's ledger with its lock taken per call, not around a whole transaction: the visit's own
    records (another connection) are read and written without holding up other requests' settlements."""

    def __init__(self, request: Request) -> None:
        self._lock = request.app.state.ledger_lock
        self._led = request.app.state.ledger

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._led, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


def locked_ledger(request: Request) -> Ledger:
    return cast(Ledger, _LockedLedger(request))


def store_of(request: Request) -> EncounterStore:
    st = getattr(request.app.state, "encounters", None)
    if st is None:
        with request.app.state.ledger_lock:
            st = getattr(request.app.state, "encounters", None)
            if st is None:
                st = EncounterStore.open(request.app.state.ledger.sa_url)
                request.app.state.encounters = st
    return cast(EncounterStore, st)


def _inst_code(p: Principal, env: Envelope) -> str:
    if p.role not in ("institution", "admin", "auditor"):
        raise Forbidden(f"角色 {p.role} 不能办理机构交易 role {p.role} may not run institution transactions")
    code = p.fixmedins_code if p.role == "institution" else env.fixmedins_code
    if not code:
        raise EnvelopeError("fixmedins_code", "定点医药机构编号必填 fixmedins_code is required", "missing")
    if env.fixmedins_code and env.fixmedins_code != code:
        raise Forbidden(f"报文头机构 {env.fixmedins_code} 不是登录机构 {code} not the logged-in institution")
    return code


SIGN_CACHE_SECONDS = 5.0  # a sign-out reaches the other worker processes within this time
_SIGNS: dict[str, tuple[float, tuple[str, str, str | None] | None]] = {}


def _sign_of(request: Request, sign_no: str) -> tuple[str, str, str | None] | None:
    """(institution, operator, sign-out time) of a sign_no, remembered briefly (one read per sign_no and
    few seconds instead of one per transaction)."""
    now = time.monotonic()
    hit = _SIGNS.get(sign_no)
    if hit is not None and now - hit[0] < SIGN_CACHE_SECONDS:
        return hit[1]
    found = store_of(request).sign(sign_no)
    if len(_SIGNS) > 10_000:
        _SIGNS.clear()
    _SIGNS[sign_no] = (now, found)
    return found


def check_envelope(env: Envelope) -> None:
    """The envelope of a visit-flow transaction against the envelope table (required fields, lengths, the
    opter_type code, inf_time's format) and its msgid's layout (institution code + time + serial)."""
    if env.infno not in NEEDS_SIGN_NO and env.infno not in ("9001", "9002"):
        return
    given = env.model_dump(exclude_unset=True)
    fields_ = [f for f in spec().request_envelope if f.name not in ("input", "sign_no")]
    problems = check_fields(fields_, given, "envelope", spec().codes)
    if env.fixmedins_code:
        problems += check_msgid(env.msgid, env.fixmedins_code)
    if problems:
        first = problems[0]
        more = f"（另有 {len(problems) - 1} 处）" if len(problems) > 1 else ""
        raise EnvelopeError(first.path, first.reason + more, first.code)


def check_signature(request: Request, env: Envelope) -> None:
    """``cainfo`` / ``signtype``: required when the region says so (``national_signtype``), verified
    whenever sent.  The signed bytes are the envelope without ``cainfo`` and ``signtype``, keys sorted,
    compact JSON, UTF-8 (amounts as the text they were sent as); SM3 → the hex digest, SM2 → the hex
    signature (SM3, default user id) under the institution's registered public key."""
    required = str(getattr(request.app.state.settings, "national_signtype", "") or "")
    if not env.cainfo and not required:
        return
    if required and env.signtype != required:
        raise EnvelopeError(
            "signtype", f"本地区要求 {required} 签名 the region requires {required} signatures", "signature"
        )
    if env.signtype not in ("SM3", "SM2"):
        raise EnvelopeError(
            "signtype", f"签名类型 {env.signtype!r} 不支持（SM3、SM2） unsupported signtype", "signature"
        )
    key = ""
    if env.signtype == "SM2":
        inst = store_of(request).institution(env.fixmedins_code)
        key = inst.sm2_public_key if inst is not None else ""
        if not key:
            raise EnvelopeError(
                "cainfo", "机构未登记 SM2 公钥 no SM2 key registered for the institution", "signature"
            )
    from hissim.envelope import verify_cainfo

    if not verify_cainfo(env.model_dump(exclude_unset=True), key or None):
        raise EnvelopeError("cainfo", "数字签名验证失败 the signature does not verify", "signature")


def check_sign(request: Request, p: Principal, env: Envelope) -> None:
    """An institution signs in (9001) before business: later calls carry a sign_no it holds, not signed
    out.  The inline extension (2206/2207 with lines), 1101, 2601 and 3201 check one when sent.  The
    envelope of a visit-flow transaction is checked against its table and its signature first."""
    check_envelope(env)
    check_signature(request, env)
    if p.role != "institution" or env.infno in ("9001",):
        return
    if not env.sign_no:
        if env.infno in NEEDS_SIGN_NO:
            raise EnvelopeError(
                "sign_no", "未签到：请先做 9001 签到 not signed in (9001 first)", "not_signed_in"
            )
        return
    found = _sign_of(request, env.sign_no)
    if found is None or found[0] != p.fixmedins_code:
        raise EnvelopeError("sign_no", "签到编号无效 unknown sign_no", "not_signed_in")
    if found[2] is not None:
        raise EnvelopeError("sign_no", "该签到已签退，请重新签到 signed out: sign in again", "not_signed_in")


def _ctx(request: Request, p: Principal, env: Envelope, led: Ledger, payload: Any) -> uc.Ctx:
    from yibao.web.crossregion import FlowRoute  # the hub's client lives with the cross-region face

    insu = env.insuplc_admdvs[:6]
    return uc.Ctx(
        store_of(request),
        led,
        book_of(request),
        p,
        _inst_code(p, env),
        env.msgid,
        env.infno,
        payload,
        audit_hook_of(request),
        eligibility=eligibility_of(request),
        covers=covers_of(request),
        insuplc_admdvs=insu if insu and insu != book_of(request).admdvs else "",
        visitor=FlowRoute(request, p),
    )


def _node(env: Envelope, name: str) -> dict[str, Any]:
    value = env.input.get(name)
    if not isinstance(value, dict):
        raise EnvelopeError(f"input.{name}", "应为对象 must be an object", "shape")
    return value


def _s(d: Mapping[str, Any], key: str, default: str = "") -> str:
    v = d.get(key)
    return default if v is None or v == "" else str(v)


def _money(d: Mapping[str, Any], key: str, path: str) -> int:
    return fields.parse_money(d.get(key), path + key)


def _flag(d: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    return fields.parse_flag(d.get(key), path + key, default=default)


def _diagnoses(rows: Any) -> list[str]:
    """ICD-10 codes of a diseinfo list, main diagnosis (maindiag_flag 1 / diag_srt_no 1) first; each
    code must be in the diagnosis catalogue (the error names the row as sent)."""
    if not isinstance(rows, list):
        return []
    ordered = sorted(
        ((i, r) for i, r in enumerate(rows) if isinstance(r, dict) and str(r.get("vali_flag", "1")) == "1"),
        key=lambda ir: (str(ir[1].get("maindiag_flag", "")) != "1", int(str(ir[1].get("diag_srt_no") or 99))),
    )
    codes = []
    for i, r in ordered:
        code = r.get("diag_code", "")
        # 医保版 codes write an unspecified place as x (I10.x00): the check is case-blind, the code kept as sent
        try:
            dx.check(code if isinstance(code, str) else str(code), f"input.diseinfo[{i}].diag_code")
        except FieldError as exc:
            raise EnvelopeError(exc.field, exc.reason, exc.code) from None
        codes.append(str(code))
    return codes


def _person_fields(person: Person, on: dt.date) -> dict[str, Any]:
    return {
        "psn_name": person.name,
        "psn_cert_type": "01",
        "certno": mask_certno(person.certno),
        "gend": {"M": "1", "F": "2"}.get(person.gender, "9"),
        "brdy": person.birth_date.isoformat(),
        "age": str(person.age_on(on)),
        "psn_type": person.psn_type,
        "cvlserv_flag": "0",
    }


def _setldetail(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        if r.get("crt_payb_lmt_amt") is None:  # no cap on this fund: what it could pay is what it paid
            r["crt_payb_lmt_amt"] = r["fund_payamt"]
    return rows


def _settle_render(
    led: Ledger, msgid: str, final: bool
) -> Callable[[SettleOutcome, VisitRecord], dict[str, Any]]:
    def render(out: SettleOutcome, v: VisitRecord) -> dict[str, Any]:
        base = national.settle_output(out)
        info = base["setlinfo"]
        if not final:
            info.pop("setl_id", None)
        person = led.get_person(v.psn_no, v.begin_date)
        info.update(_person_fields(person, v.begin_date))
        info.update(
            mdtrt_id=v.mdtrt_id,
            psn_no=v.psn_no,
            setl_time=now_text(),
            mdtrt_cert_type=v.mdtrt_cert_type,
            medins_setl_id=msgid,
            clr_type=core.clr_type(v.med_type),
            clr_way="1",
            clr_optins=info.get("insuplc_admdvs") or "",
        )
        return {
            "setlinfo": info,
            "setldetail": _setldetail(base["setldetail"]),
            "audit_info": base["audit_info"],
        }

    return render


def _visitor_render(msgid: str, final: bool) -> Callable[[dict[str, Any], VisitRecord], dict[str, Any]]:
    """A visitor's answer from the insured region in the flow's shape (the person as that region knows
    them; 清算经办机构 is the insured region, cleared through the hub)."""

    def render(ans: dict[str, Any], v: VisitRecord) -> dict[str, Any]:
        info = dict(ans["setlinfo"])
        if not final:
            info.pop("setl_id", None)
        person = ans.get("person") or {}
        if person:
            info.update(
                psn_name=person.get("name", ""),
                psn_cert_type="01",
                certno="",
                gend={"M": "1", "F": "2"}.get(str(person.get("gender")), "9"),
                brdy=str(person.get("birth_date", "")),
                age=str(_age(str(person.get("birth_date", "")), v.begin_date)),
                psn_type=str(person.get("psn_type", "")),
                cvlserv_flag="0",
            )
        info.update(
            mdtrt_id=v.mdtrt_id,
            psn_no=v.psn_no,
            setl_time=now_text(),
            mdtrt_cert_type=v.mdtrt_cert_type,
            medins_setl_id=msgid,
            clr_type=core.clr_type(v.med_type),
            clr_way="1",
            clr_optins=uc.visitor_region(v),
        )
        return {
            "setlinfo": info,
            "setldetail": _setldetail(list(ans.get("setldetail") or [])),
            "audit_info": ans.get("audit_info") or [],
            "crossregion": ans.get("crossregion"),
        }

    return render


def _age(birth: str, on: dt.date) -> int:
    try:
        b = dt.date.fromisoformat(birth)
    except ValueError:
        return 0
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def _cancel_render(led: Ledger, msgid: str) -> Callable[[ReversalOutcome], dict[str, Any]]:
    def render(out: ReversalOutcome) -> dict[str, Any]:
        s = led.get_settlement(out.setl_id)
        info = sio.setlinfo(s.settlement, s.setl_id)
        info.update(
            mdtrt_id=s.mdtrt_id,
            setl_time=now_text(),
            medins_setl_id=msgid,
            clr_optins=s.settlement.admdvs,
            acct_change=str(fen_to_yuan(out.acct_change)),
        )
        return {"setlinfo": info, "setldetail": _setldetail(sio.setldetail(s.settlement))}

    return render


# ---------------------------------------------------------------------------------------- 9001 / 9002
def _9001(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("9001", env.input)
    node = _node(env, "signIn")
    code = _inst_code(p, env)
    when = now_text()
    sign_no = store_of(request).sign_in(code, _s(node, "opter_no"), when)
    return {"signinoutb": {"sign_time": when, "sign_no": sign_no}}


def _9002(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("9002", env.input)
    node = _node(env, "signOut")
    code = _inst_code(p, env)
    st = store_of(request)
    found = st.sign(_s(node, "sign_no"))
    if found is None or found[0] != code:
        raise EnvelopeError("input.signOut.sign_no", "签到编号无效 unknown sign_no", "not_found")
    when = now_text()
    if found[2] is None:
        st.sign_out(_s(node, "sign_no"), when)
    _SIGNS.pop(_s(node, "sign_no"), None)
    return {"signoutoutb": {"sign_time": found[2] or when}}


# ---------------------------------------------------------------------------------------- 1101
def voucher_check(request: Request, code: str) -> Callable[[str], str]:
    """Verify (and use up) an electronic voucher token of this region presented at ``code``."""

    def check(token: str) -> str:
        from yibao.web.care import _vouchers  # the process's voucher store (keys, nonces, revocations)

        claims = _vouchers(request).verify(token, now=dt.datetime.now(dt.UTC), fixmedins_code=code)
        return claims.psn_no

    return check


def _1101(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    if p.role not in SETTLING_ROLES:
        raise Forbidden(f"角色 {p.role} 不能读卡 role {p.role} may not read a presented credential")
    check_input("1101", env.input)
    data = data_of(env)
    today = dt.date.today()
    led = locked_ledger(request)
    ctx = _ctx(request, p, env, led, env.input)
    if ctx.insuplc_admdvs:  # a visitor: the insured region reads the credential, through the hub
        _psn, out = uc.identify_visitor(
            ctx,
            _s(data, "mdtrt_cert_type"),
            _s(data, "mdtrt_cert_no"),
            card_sn=_s(data, "card_sn"),
            psn_name=_s(data, "psn_name"),
        )
        if _s(data, "mdtrt_cert_type") == "02":
            out["baseinfo"]["certno"] = mask_certno(_s(data, "mdtrt_cert_no"))
        return out
    psn_no = uc.identify(
        ctx,
        _s(data, "mdtrt_cert_type"),
        _s(data, "mdtrt_cert_no"),
        card_sn=_s(data, "card_sn"),
        psn_name=_s(data, "psn_name"),
        voucher=voucher_check(request, ctx.fixmedins_code),
    )
    from yibao.usecases import persons
    from yibao.web.deps import access_log_of

    pers, balance = persons.read_person(
        led, p, psn_no, today, "1101 person info", access_log_of(request), presented=True
    )
    out = national.person_output(pers, balance, today)
    for row in out["insuinfo"]:  # the insurance status of the day as the enrolment tables know it
        row.update(eligibility.insuinfo_overrides(eligibility_of(request), psn_no, today))
    out.pop("family_psn_nos", None)  # a hospital learns nothing of the family from a card
    out["baseinfo"]["certno"] = mask_certno(pers.certno)
    return out


# ---------------------------------------------------------------------------------------- 2001
def _2001(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    """2001 人员待遇享受检查 from the enrolment registry (waiting periods, paused insurance, the account);
    an institution checks only a person whose credential was presented there."""
    check_input("2001", env.input)
    d = data_of(env)
    code = _inst_code(p, env)
    psn_no = _s(d, "psn_no")
    if p.role == "institution" and not store_of(request).presented_at(code, psn_no):
        raise EnvelopeError(
            "input.data.psn_no",
            "该人员未在本机构出示就诊凭证（请先做 1101） not presented here",
            "not_presented",
        )
    day = fields.parse_date(d.get("begntime"), "input.data.begntime")
    insu = env.insuplc_admdvs[:6]
    if insu and insu != book_of(request).admdvs:  # a visitor: the insured region decides (参保地政策)
        from yibao.web.crossregion import FlowRoute

        return FlowRoute(request, p).benefit_check(insu, psn_no, day, _s(d, "med_type"), _s(d, "insutype"))
    return eligibility.benefit_check(
        p, eligibility_of(request), access_log_of(request), psn_no, day, _s(d, "med_type"), _s(d, "insutype")
    )


# ---------------------------------------------------------------------------------------- visits
def _open(kind: str) -> Handler:
    infno = "2201" if kind == OUTPATIENT else "2401"

    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        check_input(infno, env.input)
        if kind == OUTPATIENT:
            d = data_of(env)
            diagnoses: list[str] = []
            med_type = "11"
            number = _s(d, "ipt_otp_no")
        else:
            d = _node(env, "mdtrtinfo")
            diagnoses = _diagnoses(env.input.get("diseinfo"))
            med_type = _s(d, "med_type")
            number = _s(d, "ipt_no")
        keep = {k: v for k, v in d.items() if k not in ("psn_no", "insutype", "mdtrt_cert_no")}
        led = locked_ledger(request)
        answer = uc.open_visit(
            _ctx(request, p, env, led, env.input),
            kind=kind,
            psn_no=_s(d, "psn_no"),
            insutype=_s(d, "insutype"),
            med_type=med_type,
            begntime=_s(d, "begntime"),
            ipt_otp_no=number,
            cert_type=_s(d, "mdtrt_cert_type"),
            cert_no=_s(d, "mdtrt_cert_no"),
            diagnoses=diagnoses,
            info=keep,
        )
        if kind == OUTPATIENT:
            return {"data": answer}
        return {
            "result": {
                "mdtrt_id": answer["mdtrt_id"],
                "psn_no": answer["psn_no"],
                "ipt_otp_no": answer["ipt_otp_no"],
            }
        }

    return handler


def _close(kind: str) -> Handler:
    infno = "2202" if kind == OUTPATIENT else "2404"

    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        check_input(infno, env.input)
        d = data_of(env)
        led = locked_ledger(request)
        return uc.close_visit(_ctx(request, p, env, led, env.input), _s(d, "mdtrt_id"), _s(d, "psn_no"), kind)

    return handler


def _2203(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2203", env.input)
    d = _node(env, "mdtrtinfo")
    info = {k: v for k, v in d.items() if k not in ("mdtrt_id", "psn_no", "med_type")}
    led = locked_ledger(request)
    return uc.update_info(
        _ctx(request, p, env, led, env.input),
        _s(d, "mdtrt_id"),
        _s(d, "psn_no"),
        OUTPATIENT,
        med_type=_s(d, "med_type"),
        diagnoses=_diagnoses(env.input.get("diseinfo")),
        info=info,
    )


def _2403(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2403", env.input)
    d = _node(env, "adminfo")
    info = {k: v for k, v in d.items() if k not in ("mdtrt_id", "psn_no", "med_type")}
    led = locked_ledger(request)
    return uc.update_info(
        _ctx(request, p, env, led, env.input),
        _s(d, "mdtrt_id"),
        _s(d, "psn_no"),
        INPATIENT,
        med_type=_s(d, "med_type"),
        diagnoses=_diagnoses(env.input.get("diseinfo")),
        info=info,
    )


def _lines(env: Envelope, kind: str) -> tuple[list[FeeLine], list[str]]:
    rows = env.input.get("feedetail")
    if not isinstance(rows, list):
        raise EnvelopeError("input.feedetail", "应为列表 must be a list", "shape")
    out: list[FeeLine] = []
    psn_nos: list[str] = []
    for i, r in enumerate(rows):
        path = f"input.feedetail[{i}]."
        qty = int(
            fields.parse_decimal(r.get("cnt"), path + "cnt", digits=16, scale=4, positive=True) * QTY_ONE
        )
        pric_d = fields.parse_decimal(r.get("pric"), path + "pric", digits=16, scale=6)
        if pric_d != pric_d.quantize(Decimal("0.01")):
            raise EnvelopeError(
                path + "pric",
                "单价超过两位小数（暂不支持到厘以下的单价） price below the fen is not supported",
                "scale",
            )
        pric = int(pric_d * 100)
        amount = _money(r, "det_item_fee_sumamt", path)
        if abs(price_times_qty(pric, qty) - amount) > 1:
            raise EnvelopeError(
                path + "det_item_fee_sumamt",
                f"明细总额 {fen_to_yuan(amount)} ≠ 单价×数量 {fen_to_yuan(price_times_qty(pric, qty))} amount ≠ price × quantity",
                "bad_amount",
            )
        info = {
            k: v
            for k, v in r.items()
            if k
            in (
                "bilg_dr_codg",
                "bilg_dr_name",
                "bilg_dept_codg",
                "bilg_dept_name",
                "rxno",
                "drord_no",
                "med_type",
                "hosp_appr_flag",
                "sin_dos_dscr",
                "used_frqu_dscr",
                "medc_way_dscr",
            )
        }
        out.append(
            FeeLine(
                _s(r, "mdtrt_id"),
                _s(r, "feedetl_sn"),
                _s(r, "chrg_bchno") if kind == OUTPATIENT else "",
                _s(r, "med_list_codg"),
                _s(r, "medins_list_codg"),
                qty,
                pric,
                amount,
                _s(r, "fee_ocur_time"),
                info={k: str(v) for k, v in info.items()},
            )
        )
        psn_nos.append(_s(r, "psn_no"))
    if len({ln.feedetl_sn for ln in out}) != len(out):
        raise EnvelopeError(
            "input.feedetail.feedetl_sn", "同一批次内费用明细流水号重复 feedetl_sn repeats", "duplicate"
        )
    return out, psn_nos


def _upload(kind: str) -> Handler:
    infno = "2204" if kind == OUTPATIENT else "2301"

    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        check_input(infno, env.input)
        lines, psn_nos = _lines(env, kind)
        led = locked_ledger(request)
        done = uc.upload(_ctx(request, p, env, led, env.input), kind, [ln for ln in lines], psn_nos)
        return {"result": [core.fee_result(ln, item) for ln, item in done]}

    return handler


def _2205(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2205", env.input)
    d = data_of(env)
    led = locked_ledger(request)
    return uc.cancel_lines(
        _ctx(request, p, env, led, env.input),
        _s(d, "mdtrt_id"),
        _s(d, "psn_no"),
        OUTPATIENT,
        batch=_s(d, "chrg_bchno"),
    )


def _2302(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2302", env.input)
    d = data_of(env)
    led = locked_ledger(request)
    return uc.cancel_lines(
        _ctx(request, p, env, led, env.input),
        _s(d, "mdtrt_id"),
        _s(d, "psn_no"),
        INPATIENT,
        sn=_s(d, "feedetl_sn"),
    )


def _2402(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2402", env.input)
    d = _node(env, "dscginfo")
    info = {k: v for k, v in d.items() if k not in ("mdtrt_id", "psn_no", "endtime")}
    led = locked_ledger(request)
    return uc.discharge(
        _ctx(request, p, env, led, env.input),
        _s(d, "mdtrt_id"),
        _s(d, "psn_no"),
        endtime=_s(d, "endtime"),
        diagnoses=_diagnoses(env.input.get("diseinfo")),
        info=info,
    )


def _2405(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2405", env.input)
    d = data_of(env)
    led = locked_ledger(request)
    return uc.undischarge(_ctx(request, p, env, led, env.input), _s(d, "mdtrt_id"), _s(d, "psn_no"))


def _settle(kind: str, pre: bool) -> Handler:
    infno = {
        (OUTPATIENT, True): "2206",
        (OUTPATIENT, False): "2207",
        (INPATIENT, True): "2303",
        (INPATIENT, False): "2304",
    }[(kind, pre)]

    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        check_input(infno, env.input)
        d = data_of(env)
        path = "input.data."
        led = locked_ledger(request)
        return uc.settle(
            _ctx(request, p, env, led, env.input),
            _s(d, "mdtrt_id"),
            _s(d, "psn_no"),
            kind,
            chrg_bchno=_s(d, "chrg_bchno") if kind == OUTPATIENT else None,
            declared=_money(d, "medfee_sumamt", path),
            use_account=_flag(d, "acct_used_flag", path, True),
            pre=pre,
            mid_stay=kind == INPATIENT and _flag(d, "mid_setl_flag", path, False),
            render=_settle_render(led, env.msgid, final=not pre),
            render_visitor=_visitor_render(env.msgid, final=not pre),
        )

    return handler


def _cancel(kind: str) -> Handler:
    infno = "2208" if kind == OUTPATIENT else "2305"

    def handler(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
        check_input(infno, env.input)
        d = data_of(env)
        led = locked_ledger(request)
        return uc.cancel_settlement(
            _ctx(request, p, env, led, env.input),
            _s(d, "setl_id"),
            _s(d, "mdtrt_id"),
            _s(d, "psn_no"),
            kind,
            _cancel_render(led, env.msgid),
        )

    return handler


def _2601(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("2601", env.input)
    d = data_of(env)
    led = locked_ledger(request)
    return uc.reverse(
        _ctx(request, p, env, led, env.input), _s(d, "omsgid"), _s(d, "oinfno"), _s(d, "psn_no")
    )


def is_flow_settle(env: Envelope) -> bool:
    """A 2206/2207 naming an uploaded visit (``mdtrt_id`` + ``chrg_bchno``, no ``feedetail``) rather than
    the yibao extension that carries the lines inline."""
    data = env.input.get("data", env.input)
    return isinstance(data, dict) and "feedetail" not in data and "chrg_bchno" in data


# ---------------------------------------------------------------------------------------- queries
def _readable(led: Ledger, p: Principal, setl_id: str, psn_no: str, mdtrt_id: str) -> Any:
    s = settlement.get_settlement(led, p, setl_id)
    if psn_no and s.psn_no != psn_no:
        raise EnvelopeError(
            "input.data.psn_no", "人员编号与结算不符 psn_no is not the settlement's", "mismatch"
        )
    if mdtrt_id and s.mdtrt_id != mdtrt_id:
        raise EnvelopeError(
            "input.data.mdtrt_id", "就诊ID与结算不符 mdtrt_id is not the settlement's", "mismatch"
        )
    return s


def _5203(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("5203", env.input)
    d = data_of(env)
    led = locked_ledger(request)
    s = _readable(led, p, _s(d, "setl_id"), _s(d, "psn_no"), _s(d, "mdtrt_id"))
    person = led.get_person(s.psn_no, s.visit.begin_date)
    st = s.settlement
    inst = store_of(request).institution(s.visit.fixmedins_code)
    info = sio.setlinfo(st, s.setl_id)
    info.update(_person_fields(person, s.visit.begin_date))
    info.update(
        insutype=st.insutype,
        pay_loc="2",
        fixmedins_code=s.visit.fixmedins_code,
        fixmedins_name=inst.fixmedins_name if inst else s.visit.fixmedins_code,
        hosp_lv=s.visit.hosp_lv,
        begndate=s.visit.begin_date.isoformat(),
        enddate=s.visit.end_date.isoformat(),
        setl_time=dt.datetime.fromisoformat(s.created).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        clr_type=core.clr_type(st.med_type),
        clr_way="1",
        clr_optins=st.admdvs,
        psn_pay=str(fen_to_yuan(st.psn_part_amt)),
        cash_payamt=str(fen_to_yuan(st.psn_cash_pay)),
        medins_setl_id=s.msgid,
        refd_setl_flag="0",
        year=str(s.year),
        status=s.status,
    )
    return {"setlinfo": info, "setldetail": _setldetail(sio.setldetail(st))}


def _5204(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("5204", env.input)
    d = data_of(env)
    mdtrt_id, setl_id = _s(d, "mdtrt_id"), _s(d, "setl_id")
    st = store_of(request)
    v = st.visit(mdtrt_id)
    code = p.fixmedins_code if p.role == "institution" else None
    if v is None or (code is not None and v.fixmedins_code != code) or v.psn_no != _s(d, "psn_no"):
        raise EnvelopeError("input.data.mdtrt_id", "就诊ID不存在或不属本机构 unknown visit", "not_found")
    lines = [ln for ln in st.lines(mdtrt_id) if (ln.setl_id == setl_id if setl_id else True)]
    led = locked_ledger(request)
    catalogue = book_of(request).for_date(v.begin_date).catalogue
    if setl_id:
        _readable(led, p, setl_id, v.psn_no, mdtrt_id)
    out = []
    for ln in lines:
        item: CatalogueItem | None = catalogue.get(ln.med_list_codg)
        row = core.fee_result(ln, item)
        row.update(
            mdtrt_id=mdtrt_id,
            setl_id=ln.setl_id or "",
            rx_drord_no=ln.info.get("rxno") or ln.info.get("drord_no") or "",
            med_type=v.med_type,
            fee_ocur_time=ln.fee_ocur_time,
            hilist_code=ln.med_list_codg,
            hilist_name=item.name if item else "",
            list_type=core.LIST_TYPE_OF_KIND.get(item.kind, "101") if item else "101",
            med_list_codg=ln.med_list_codg,
            medins_list_codg=ln.medins_list_codg,
            medins_list_name=item.name if item else ln.medins_list_codg,
            dosform_name="未维护",
            bilg_dept_codg=ln.info.get("bilg_dept_codg", ""),
            bilg_dr_codg=ln.info.get("bilg_dr_codg", ""),
        )
        out.append(row)
    return out  # type: ignore[return-value]  # 5204 answers a list at the root


def _5206(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("5206", env.input)
    d = data_of(env)
    psn_no = _s(d, "psn_no")
    cum_ym = _s(d, "cum_ym") or dt.datetime.now(BEIJING).strftime("%Y%m")
    year = int(cum_ym[:4])
    led = locked_ledger(request)
    if p.role == "institution":
        # a hospital reads the accumulators of a person it has a visit with (a presented credential)
        code = p.fixmedins_code or ""
        if not store_of(request).has_visit(code, psn_no):
            raise Forbidden(f"本机构与人员 {psn_no} 无就诊记录 no visit of this person here")
        acc = led.accumulators(psn_no, year)
        person = led.get_person(psn_no, dt.date(year, 12, 31))
    else:
        from yibao.usecases import persons
        from yibao.web.deps import access_log_of

        acc, _bal = persons.year_so_far(led, p, psn_no, year, access_log_of(request))
        person = led.get_person(psn_no, dt.date(year, 12, 31))
    rows = [
        {
            "insutype": person.insutype,
            "year": str(year),
            "cum_ym": cum_ym,
            "cum_type_code": key[:10],
            "cum_type_name": key,
            "cum": str(value) if key.endswith(":n") else str(fen_to_yuan(value)),
        }
        for key, value in sorted(acc.items())
    ]
    return {"cuminfo": rows}


# ---------------------------------------------------------------------------------------- reconciliation
def _window(begin: dt.date, end: dt.date) -> tuple[str, str]:
    """[begin 00:00, end+1 00:00) Beijing time as UTC ISO instants (how ``created`` is stored)."""
    a = dt.datetime.combine(begin, dt.time(), BEIJING).astimezone(dt.UTC)
    b = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), BEIJING).astimezone(dt.UTC)
    return a.isoformat(timespec="microseconds"), b.isoformat(timespec="microseconds")


def _date(d: Mapping[str, Any], key: str) -> dt.date:
    return fields.parse_date(d.get(key), "input.data." + key)


def _ledger_totals(
    led: Ledger, code: str, insutype: str, clr: str, begin: dt.date, end: dt.date
) -> national.Statement:
    since, until = _window(begin, end)
    per = led.statement_by_med_type(fixmedins_code=code, insutype=insutype, since=since, until=until)
    parts = [s for med, s in per.items() if core.clr_type(med) == clr or not clr]
    return national.Statement(
        sum(s.medfee_sumamt for s in parts),
        sum(s.fund_pay_sumamt for s in parts),
        sum(s.acct_pay for s in parts),
        sum(s.count for s in parts),
    )


def _3201_flow(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    """3201 by 险种 × 清算类别 over Beijing dates (the HIS's own settlement days)."""
    check_input("3201", env.input)
    d = data_of(env)
    code = _inst_code(p, env)
    if p.role not in ("institution", "admin", "auditor"):
        raise Forbidden(f"角色 {p.role} 不能对账 role {p.role} may not reconcile")
    path = "input.data."
    submitted = national.Statement(
        _money(d, "medfee_sumamt", path),
        _money(d, "fund_pay_sumamt", path),
        _money(d, "acct_pay", path),
        int(
            fields.parse_decimal(d.get("fixmedins_setl_cnt"), path + "fixmedins_setl_cnt", digits=10, scale=0)
        ),
    )
    led = locked_ledger(request)
    begin, end = _date(d, "stmt_begndate"), _date(d, "stmt_enddate")
    ours = _ledger_totals(led, code, _s(d, "insutype"), _s(d, "clr_type"), begin, end)
    answer = national.reconcile(submitted, ours, _s(d, "setl_optins"))
    keep_reconciliation(
        request,
        core.Reconciliation(
            "3201",
            env.msgid,
            code,
            begin.isoformat(),
            end.isoformat(),
            _s(d, "insutype"),
            _s(d, "clr_type"),
            _s(d, "setl_optins"),
            figures(submitted),
            figures(ours),
        ),
    )
    return answer


def figures(s: national.Statement) -> core.Figures:
    return core.Figures(s.medfee_sumamt, s.fund_pay_sumamt, s.acct_pay, s.fixmedins_setl_cnt)


def keep_reconciliation(request: Request, r: core.Reconciliation) -> None:
    """Keep a 3201 outcome (the assessment's reconciliation break rate reads it); a retried msgid is kept
    once."""
    store_of(request).add_reconciliation(r)


def is_flow_3201(env: Envelope) -> bool:
    data = env.input.get("data", env.input)
    return isinstance(data, dict) and "clr_type" in data


def _9101(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("9101", env.input)
    node = _node(env, "fsUploadIn")
    code = _inst_code(p, env)
    if _s(node, "fixmedins_code") != code:
        raise EnvelopeError("input.fsUploadIn.fixmedins_code", "不是本机构 not this institution", "mismatch")
    raw = node.get("in")
    try:
        content = (
            base64.b64decode(raw, validate=True) if isinstance(raw, str) else bytes(cast(Sequence[int], raw))
        )
    except (binascii.Error, ValueError, TypeError):
        raise EnvelopeError(
            "input.fsUploadIn.in", "文件数据不是 base64 字节 not base64 bytes", "format"
        ) from None
    if len(content) > MAX_FILE_BYTES:
        raise EnvelopeError(
            "input.fsUploadIn.in", f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB file too large", "length"
        )
    name = _s(node, "filename")
    qury = store_of(request).put_file(code, name, content, "upload")
    return {"file_qury_no": qury, "filename": name, "fixmedins_code": code, "dld_endtime": _until()}


def _until() -> str:
    return (dt.datetime.now(BEIJING) + FILE_KEEP).strftime("%Y-%m-%d %H:%M:%S")


def _unzip(data: bytes) -> str:
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                if not names or zf.getinfo(names[0]).file_size > MAX_FILE_BYTES:
                    raise EnvelopeError(
                        "input.data.file_qury_no", "文件为空或过大 empty or too large", "format"
                    )
                data = zf.read(names[0])
        except zipfile.BadZipFile:
            raise EnvelopeError(
                "input.data.file_qury_no", "不是有效的 zip 文件 not a zip file", "format"
            ) from None
    for enc in ("utf-8", "gbk"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise EnvelopeError("input.data.file_qury_no", "文件编码无法识别 unknown text encoding", "format")


def _row_fen(cell: str, row: int, k: int) -> int:
    """One amount of a 3202 file row (元) in fen; a bad one is named by row and column."""
    name = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")[k]
    try:
        return yuan_to_fen(cell or "0", allow_negative=True)
    except MoneyError as exc:
        raise EnvelopeError(
            "input.data.file_qury_no", f"文件第 {row} 行 {name}：{exc} / file row {row} {name}", "format"
        ) from None


def _3202(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    """3202: the uploaded rows (setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay,
    refd_setl_flag) against the ledger row by row, plus the ledger's settlements the file lacks."""
    check_input("3202", env.input)
    d = data_of(env)
    code = _inst_code(p, env)
    st = store_of(request)
    found = st.file(_s(d, "file_qury_no"))
    if found is None or found[0] != code:
        raise EnvelopeError("input.data.file_qury_no", "文件查询号不存在 unknown file_qury_no", "not_found")
    text = _unzip(found[2])
    clr = _s(d, "clr_type")
    since, until = _window(_date(d, "stmt_begndate"), _date(d, "stmt_enddate"))
    results: list[list[str]] = []
    seen: set[str] = set()
    hosp = [0, 0, 0, 0]  # the file's sums (fen) and rows: the institution's side of the outcome kept
    y = fen_to_yuan
    led = locked_ledger(request)
    for line in (ln for ln in text.splitlines() if ln.strip()):
        cells = [c.strip() for c in (line.split("\t") if "\t" in line else line.split(","))]
        if len(cells) < 6 or cells[0] == "setl_id":
            continue
        setl_id = cells[0]
        seen.add(setl_id)
        sent = [_row_fen(c, len(results) + 1, k) for k, c in enumerate(cells[3:6])]
        hosp = [a + b for a, b in zip(hosp, [*sent, 1], strict=True)]
        try:
            s = led.get_settlement(setl_id)
        except Exception:
            results.append(
                [
                    cells[2],
                    cells[1],
                    setl_id,
                    "",
                    "1",
                    "0",
                    "医保无此结算 unknown settlement",
                    cells[3],
                    cells[4],
                    cells[5],
                ]
            )
            continue
        if s.visit.fixmedins_code != code:
            results.append(
                [
                    cells[2],
                    cells[1],
                    setl_id,
                    "",
                    "1",
                    "0",
                    "不是本机构的结算 not this institution's",
                    cells[3],
                    cells[4],
                    cells[5],
                ]
            )
            continue
        st_ = s.settlement
        mine = (str(y(st_.medfee_sumamt)), str(y(st_.fund_pay_sumamt)), str(y(st_.acct_pay)))
        theirs = tuple(str(Decimal(c).quantize(Decimal("0.01"))) if c else "" for c in cells[3:6])
        inside = since <= s.created < until
        ok = s.active and inside and mine == theirs and s.psn_no == cells[2] and s.mdtrt_id == cells[1]
        memo = (
            ""
            if ok
            else "结算已撤销 cancelled"
            if not s.active
            else "不在对账期间 outside the period"
            if not inside
            else "金额或人员不符 amounts or person differ"
        )
        results.append([s.psn_no, s.mdtrt_id, setl_id, s.msgid, "0" if ok else "1", "0", memo, *mine])
    # the ledger's settlements the file lacks: looked for only when the ledger counts more in the window
    matched = sum(1 for r in results if r[4] == "0")
    begin, end = _date(d, "stmt_begndate"), _date(d, "stmt_enddate")
    ledger_side = _ledger_totals(led, code, "", clr, begin, end)
    in_window = ledger_side.fixmedins_setl_cnt
    rows = (
        led.search_settlements(SettlementQuery(fixmedins_code=code, statuses=("active",)), 10_000, 0).rows
        if in_window > matched
        else []
    )
    for s in rows:
        if (
            s.setl_id in seen
            or not (since <= s.created < until)
            or (clr and core.clr_type(s.visit.med_type) != clr)
        ):
            continue
        st_ = s.settlement
        results.append(
            [
                s.psn_no,
                s.mdtrt_id,
                s.setl_id,
                s.msgid,
                "1",
                "0",
                "机构未上传该结算 missing from the file",
                str(y(st_.medfee_sumamt)),
                str(y(st_.fund_pay_sumamt)),
                str(y(st_.acct_pay)),
            ]
        )
    header = "psn_no\tmdtrt_id\tsetl_id\tmsgid\tstmt_rslt\trefd_setl_flag\tmemo\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\n"
    body = header + "".join("\t".join(r) + "\n" for r in results)
    buf = io.BytesIO()
    name = f"{code}_{_s(d, 'file_qury_no')}_3202_result"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.txt", body.encode("utf-8"))
    outcome = core.Reconciliation(
        "3202",
        env.msgid,
        code,
        begin.isoformat(),
        end.isoformat(),
        "",
        clr,
        _s(d, "setl_optins"),
        core.Figures(*hosp),
        figures(ledger_side),
        len(results),
        tuple(r[2] for r in results if r[4] != "0"),
    )
    qury = st.put_file(code, f"{name}.zip", buf.getvalue(), "result", reconciliation=outcome)
    return {"fileinfo": {"file_qury_no": qury, "filename": f"{name}.zip", "dld_endtime": _until()}}


def _9102(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    check_input("9102", env.input)
    node = _node(env, "fsDownloadIn")
    code = _inst_code(p, env)
    found = store_of(request).file(_s(node, "file_qury_no"))
    if found is None or found[0] != code:
        raise EnvelopeError(
            "input.fsDownloadIn.file_qury_no", "文件查询号不存在 unknown file_qury_no", "not_found"
        )
    return {"filename": found[1], "file": base64.b64encode(found[2]).decode("ascii")}


def _3203(request: Request, p: Principal, env: Envelope) -> dict[str, Any]:
    """3203 清算申请: accepted when the figures equal the ledger's for the period and 清算类别."""
    check_input("3203", env.input)
    d = data_of(env)
    code = _inst_code(p, env)
    path = "input.data."
    st = store_of(request)
    m = st.message(env.msgid)
    if m is not None:
        if m.request_key != request_key("3203", env.input):
            raise EnvelopeError("msgid", "报文ID已用于另一笔交易 msgid already used", "msgid_conflict")
        return m.answer
    led = locked_ledger(request)
    ours = _ledger_totals(led, code, "", _s(d, "clr_type"), _date(d, "begndate"), _date(d, "enddate"))
    mine = (_money(d, "medfee_sumamt", path), _money(d, "fund_appy_sum", path), _money(d, "acct_pay", path))
    theirs = (ours.medfee_sumamt, ours.fund_pay_sumamt, ours.acct_pay)
    if mine != theirs:
        raise EnvelopeError(
            "input.data.fund_appy_sum",
            f"申报金额与医保结算记录不符（医疗费 {fen_to_yuan(theirs[0])}，基金 {fen_to_yuan(theirs[1])}，账户 {fen_to_yuan(theirs[2])}），请先对账 "
            "the figures differ from the settlements: reconcile first",
            "mismatch",
        )
    evt = "CLR" + env.msgid[-27:]
    answer = {"result": {"clr_appy_evt_id": evt}}
    st.record(Message(env.msgid, "3203", code, request_key("3203", env.input), answer, {"op": "none"}, None))
    return answer


HANDLERS: dict[str, Handler] = {
    "9001": _9001,
    "9002": _9002,
    "1101": _1101,
    "2001": _2001,
    "2201": _open(OUTPATIENT),
    "2202": _close(OUTPATIENT),
    "2203": _2203,
    "2204": _upload(OUTPATIENT),
    "2205": _2205,
    "2301": _upload(INPATIENT),
    "2302": _2302,
    "2303": _settle(INPATIENT, True),
    "2304": _settle(INPATIENT, False),
    "2305": _cancel(INPATIENT),
    "2401": _open(INPATIENT),
    "2402": _2402,
    "2403": _2403,
    "2404": _close(INPATIENT),
    "2405": _2405,
    "2601": _2601,
    "3202": _3202,
    "3203": _3203,
    "5203": _5203,
    "5204": _5204,
    "5206": _5206,
    "9101": _9101,
    "9102": _9102,
}
FLOW_2206, FLOW_2207, FLOW_2208 = _settle(OUTPATIENT, True), _settle(OUTPATIENT, False), _cancel(OUTPATIENT)
FLOW_3201 = _3201_flow
