"""Cross-region use cases, one per business act: file, cancel and change a filing (备案), and the coverage a
visit elsewhere gets from the person's filings.  Every face (portal, counter CLI, the region service) calls these."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from yibao.access.principal import Principal
from yibao.crossregion import filing as fl
from yibao.crossregion.clearing import ACTION_NAMES, break_actions
from yibao.crossregion.client import JsonClient, Unreachable
from yibao.crossregion.params import Params
from yibao.crossregion.pricing import CareCatalogueBook, catalogue_from, price_lines
from yibao.crossregion.store import BreakLog, FilingStore, RouteTable
from yibao.crossregion.visitor import (
    carried,
    findings_from_json,
    findings_to_json,
    person_from_json,
)
from yibao.errors import FieldError
from yibao.ledger import Ledger, SettleOutcome
from yibao.money import yuan_to_fen
from yibao.policy.book import PolicyBook
from yibao.settlement import io as sio
from yibao.settlement.model import AuditHook, Person, Visit
from yibao.usecases import settlement as stl
from yibao.usecases.eligibility import EligibilitySource


def _id() -> str:
    return "BA" + uuid.uuid4().hex[:14].upper()


def file(
    store: FilingStore, params: Params, insu_admdvs: str, data: Mapping[str, Any], today: dt.date
) -> fl.Filing:
    """办理备案: check the request and store the filing."""
    f = fl.new_filing(data, filing_id=_id(), insu_admdvs=insu_admdvs, today=today, rules=params.filing)
    store.add(f)
    return f


def cancel(store: FilingStore, params: Params, filing_id: str, psn_no: str, today: dt.date) -> fl.Filing:
    """取消备案 (the person's own filing only)."""
    f = store.get(filing_id)
    if f.psn_no != psn_no:
        raise fl.FilingError(
            "filing_id", f"备案 {filing_id} 不属于 {psn_no} not this person's filing", "mismatch"
        )
    out = fl.cancel(f, today, params.filing)
    store.add(out)
    return out


def change(
    store: FilingStore, params: Params, filing_id: str, psn_no: str, data: Mapping[str, Any], today: dt.date
) -> tuple[fl.Filing, fl.Filing]:
    """变更备案: close the old filing and store the new one, in one transaction."""
    f = store.get(filing_id)
    if f.psn_no != psn_no:
        raise fl.FilingError(
            "filing_id", f"备案 {filing_id} 不属于 {psn_no} not this person's filing", "mismatch"
        )
    old, new = fl.change(f, data, new_id=_id(), on=today, rules=params.filing)
    store.add(old, new)
    return old, new


def coverage(
    store: FilingStore, psn_no: str, care_admdvs: str, begin: dt.date, end: dt.date, *, emergency: bool
) -> fl.Coverage:
    """How the insured region settles a visit of ``psn_no`` at ``care_admdvs``."""
    return fl.coverage(store.for_person(psn_no), care_admdvs, begin, end, emergency=emergency)


# ============================================================================ routing a visitor's settlement
# 就医地目录、参保地政策、就医地管理: the care region prices the lines (its catalogue), the insured region settles
# them (its policy, accumulators and ledger) and the answer comes back in the same 2207.  Every record moves
# by conditional updates so that a late answer and its reversal cannot both stand.

SETTLED, PENDING, REVERSING, REVERSED, REFUSED, SETTLING = (
    "settled",
    "pending",
    "reversing",
    "reversed",
    "refused",
    "settling",
)


class RemoteError(FieldError):
    """The insured region refused the visit, or did not answer in time (then the care region reversed)."""


def reversal_msgid(msgid: str) -> str:
    """The one msgid every party uses for the 2601 of ``msgid`` (so repeats are idempotent)."""
    return ("R" + msgid)[:64]


@dataclass
class CareSide:
    """The care region's routing: its outbound records and its client of the hub."""

    outbound: RouteTable
    hub: JsonClient
    care_admdvs: str


def settle_visitor(
    side: CareSide,
    book: PolicyBook,
    visit: Visit,
    data: Mapping[str, Any],
    msgid: str,
    insu_admdvs: str,
    *,
    pre: bool = False,
    caller: Principal | None = None,
    audit: AuditHook | None = None,
    with_person: bool = False,
) -> dict[str, Any]:
    """2206 / 2207 of a visitor insured in ``insu_admdvs``: price with the care catalogue, run this region's
    in-event audit on the lines (就医地管理; the person as the insured region knows them), send through the
    hub, return the insured region's answer (``{"output": …, "coverage": …}``, and ``person`` when
    ``with_person``).  Refusals and timeouts raise :class:`RemoteError`; a timeout first reverses (2601)
    what may have been started."""
    if caller is not None:
        stl.check_settling_caller(caller, visit, msgid)
    check_region_code(insu_admdvs)
    priced = price_lines(book.for_date(visit.begin_date).catalogue, visit)
    body: dict[str, Any] = {
        "msgid": msgid,
        "care_admdvs": side.care_admdvs,
        "insu_admdvs": insu_admdvs,
        "data": dict(data),
        "priced": priced,
        "pre": pre,
    }
    if with_person:
        body["with_person"] = True
    if audit is not None:
        person = visitor_person(
            side, insu_admdvs, {"psn_no": visit.psn_no, "day": visit.begin_date.isoformat()}
        )
        body["audit"] = findings_to_json(audit(person_from_json(person["person"]), visit))
    if pre:
        return _answer(_send(side, "/hub/v1/settle", body, msgid, reverse=False))
    known = None
    if not side.outbound.insert(
        msgid,
        PENDING,
        insu_admdvs=insu_admdvs,
        fixmedins_code=visit.fixmedins_code,
        psn_no=visit.psn_no,
        mdtrt_id=visit.mdtrt_id,
        setl_date=visit.end_date.isoformat(),
    ):
        known = side.outbound.get(msgid)
    if known is not None:
        if known["status"] == SETTLED and not known["output"]:  # taken from the hub's record at 对账
            raise RemoteError(
                "msgid", f"报文 {msgid} 已按对账结果入账，请用新报文编号 msgid already used", "msgid_used"
            )
        if known["status"] == SETTLED:
            out: dict[str, Any] = json.loads(known["output"])
            out["output"]["replayed"] = True
            return out
        if known["status"] in (REVERSED, REVERSING, REFUSED):
            raise RemoteError(
                "msgid",
                f"报文 {msgid} 已冲正或被拒，请用新报文编号 msgid was reversed or refused",
                "msgid_reversed",
            )
    ans = _send(side, "/hub/v1/settle", body, msgid, reverse=True)
    if not ans.get("ok"):
        side.outbound.move(msgid, (PENDING,), REFUSED)
        return _answer(ans)
    setl = ans["output"]["setlinfo"]
    amounts = {k: _fen(setl.get(k)) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")}
    if not side.outbound.move(
        msgid,
        (PENDING,),
        SETTLED,
        setl_id=str(setl.get("setl_id") or ""),
        output=orjson.dumps(ans).decode(),
        **amounts,
    ):
        _reverse(side, msgid)
        raise RemoteError("msgid", f"报文 {msgid} 已在冲正中 is being reversed", "msgid_reversed")
    return ans


def _fen(v: Any) -> int:
    return yuan_to_fen(str(v if v is not None else "0"))


def check_region_code(insu_admdvs: str) -> None:
    if len(insu_admdvs) != 6 or not insu_admdvs.isdigit():
        raise RemoteError("insuplc_admdvs", f"参保地区划代码须为6位数字 must be 6 digits: {insu_admdvs!r}")


def visitor_person(side: CareSide, insu_admdvs: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """Who a visitor is, asked of the insured region through the hub: by a presented credential
    (``mdtrt_cert_type`` 02 ID number + ``psn_name``, 03 social-security card + ``card_sn``) or by ``psn_no``;
    the answer carries ``person`` (no ID number), ``psn_no`` and the 1101 ``output`` with the insurance
    status of the day as the insured region decides it.  Nothing is written, so a timeout reverses nothing."""
    check_region_code(insu_admdvs)
    body = {"insu_admdvs": insu_admdvs, "care_admdvs": side.care_admdvs, **query}
    try:
        ans = side.hub.post("/hub/v1/person", body)
    except Unreachable:
        raise RemoteError(
            "insuplc_admdvs",
            f"参保地 {insu_admdvs} 未在时限内应答，请稍后重试 the insured region did not answer in time, try again",
            "remote_timeout",
        ) from None
    return _answer(ans)


def reverse_visitor(side: CareSide, msgid: str) -> bool:
    """2208 / 2601 of a visitor's settlement (``msgid`` of its 2207): reversed through the hub at the insured
    region; False while the insured region has not confirmed (the record stays ``reversing`` and the
    resolver retries).  A msgid this region never routed is refused."""
    if side.outbound.get(msgid) is None:
        raise RemoteError(
            "omsgid", f"原交易 {msgid} 不是本地区发出的异地结算 not a visitor's settlement here", "not_found"
        )
    return _reverse(side, msgid)


def routed_msgid(side: CareSide, setl_id: str) -> str | None:
    """The 2207 msgid under which a visitor's settlement ``setl_id`` was routed (None: not one)."""
    return side.outbound.msgid_of(setl_id)


def _answer(ans: dict[str, Any]) -> dict[str, Any]:
    if not ans.get("ok"):
        raise RemoteError(
            str(ans.get("field") or "insuplc_admdvs"),
            f"参保地拒绝 refused by the insured region: {ans.get('reason') or ''}",
            str(ans.get("code") or "remote_refused"),
        )
    return ans


def _send(side: CareSide, path: str, body: dict[str, Any], msgid: str, *, reverse: bool) -> dict[str, Any]:
    try:
        return side.hub.post(path, body)
    except Unreachable:
        if reverse:
            _reverse(side, msgid)
        raise RemoteError(
            "insuplc_admdvs",
            f"参保地 {body['insu_admdvs']} 未在时限内应答，本次结算已冲正，请稍后重试 "
            "the insured region did not answer in time; the settlement was reversed, try again",
            "remote_timeout",
        ) from None


def _reverse(side: CareSide, msgid: str) -> bool:
    """2601 through the hub; the record stays ``reversing`` until the insured region confirms."""
    row = side.outbound.get(msgid)
    if row is None:
        return False
    if row["status"] in (PENDING, SETTLED):
        side.outbound.move(msgid, (PENDING, SETTLED), REVERSING)
    elif row["status"] != REVERSING:
        return bool(row["status"] == REVERSED)
    body = {"omsgid": msgid, "msgid": reversal_msgid(msgid), "insu_admdvs": row["insu_admdvs"],
            "care_admdvs": side.care_admdvs}  # fmt: skip
    try:
        ans = side.hub.post("/hub/v1/reverse", body)
    except Unreachable:
        return False
    if not ans.get("ok"):
        return False
    return side.outbound.move(msgid, (REVERSING,), REVERSED)


def resolve_pending(side: CareSide, older_than: float) -> dict[str, int]:
    """Reverse what never got an answer: ``pending`` older than ``older_than`` seconds (a crash mid-call)
    and every ``reversing``.  Returns how many were reversed and how many are still waiting."""
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than)).isoformat()
    done = waiting = 0
    for row in side.outbound.with_status(PENDING, REVERSING):
        if row["status"] == PENDING and row["updated"] > cutoff:
            continue
        if _reverse(side, row["msgid"]):
            done += 1
        else:
            waiting += 1
    return {"reversed": done, "waiting": waiting}


# ---------------------------------------------------------------------------- the insured region's side
def settle_inbound(
    inbound: RouteTable,
    filings: FilingStore,
    led: Ledger,
    book: PolicyBook,
    body: Mapping[str, Any],
    eligibility: EligibilitySource | None = None,
) -> tuple[SettleOutcome, fl.Coverage]:
    """Settle a visitor's visit sent by a care region, with this region's policy and the care region's
    prices; the locality comes from the person's filings, the benefit check (待遇享受检查) from this region's
    enrolment (``eligibility``: 参保地政策 decides who is covered), and the care region's in-event audit
    findings (``audit`` in the body) block lines as this region's own would.  A msgid already reversed is
    refused."""
    msgid = str(body.get("msgid") or "")
    if not msgid:
        raise RemoteError("msgid", "必填 is required", "missing")
    care = str(body.get("care_admdvs") or "")
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise RemoteError("data", "须为对象 must be an object")
    priced = body.get("priced")
    if not isinstance(priced, Mapping):
        raise RemoteError("priced", "须为对象 must be an object")
    visit = sio.parse_visit(dict(data))
    cov = coverage(filings, visit.psn_no, care, visit.begin_date, visit.end_date, emergency=visit.emergency)
    visit = replace(visit, locality=cov.locality)
    view = CareCatalogueBook(book, catalogue_from(priced))
    audit = carried(findings_from_json(body.get("audit"), visit))
    if body.get("pre"):
        out = stl.settle(led, view, visit, msgid, audit=audit, pre=True, eligibility=eligibility)
        return out, cov
    row = None
    if not inbound.insert(
        msgid, SETTLING, care_admdvs=care, psn_no=visit.psn_no, setl_date=visit.end_date.isoformat()
    ):  # a repeat (or a reversal's tombstone): the record as it stands
        row = inbound.get(msgid)
    if row is not None and row["status"] == REVERSED:
        raise RemoteError("msgid", f"报文 {msgid} 已冲正 was reversed", "msgid_reversed")
    try:
        out = stl.settle(led, view, visit, msgid, audit=audit, eligibility=eligibility)
    except FieldError:
        inbound.delete(msgid, SETTLING)
        raise
    s = out.settlement
    if not inbound.move(
        msgid,
        (SETTLING, SETTLED),
        SETTLED,
        setl_id=out.setl_id,
        medfee_sumamt=s.medfee_sumamt,
        fund_pay_sumamt=s.fund_pay_sumamt,
        acct_pay=s.acct_pay,
    ):  # reversed while we settled: undo our own write
        stl.reverse(led, None, msgid, reversal_msgid(msgid))
        raise RemoteError("msgid", f"报文 {msgid} 已冲正 was reversed", "msgid_reversed")
    return out, cov


def reverse_inbound(inbound: RouteTable, led: Ledger, body: Mapping[str, Any]) -> str:
    """2601 of a visitor's settlement: undo it in the ledger if it was written, and leave the record
    ``reversed`` (a tombstone when the settle has not arrived yet, so a late settle is refused)."""
    omsgid = str(body.get("omsgid") or "")
    if not omsgid:
        raise RemoteError("omsgid", "必填 is required", "missing")
    rmsgid = reversal_msgid(omsgid)
    for _ in range(5):
        row = inbound.get(omsgid)
        if row is None:
            if inbound.insert(omsgid, REVERSED, care_admdvs=str(body.get("care_admdvs") or ""), psn_no=""):
                return "tombstone"
            continue
        if row["status"] == REVERSED:
            return "already"
        if inbound.move(omsgid, (row["status"],), REVERSED):
            if led.message(omsgid) is not None:  # written (possibly by a settle that then crashed)
                stl.reverse(led, None, omsgid, rmsgid)
            return "reversed"
    raise RemoteError("omsgid", f"报文 {omsgid} 状态变化过快，请重试 changing too fast, retry", "busy")


def person_inbound(led: Ledger, identify: Any, body: Mapping[str, Any], today: dt.date) -> tuple[str, Person]:
    """The insured region's side of :func:`visitor_person`: ``identify(cert_type, cert_no, card_sn,
    psn_name)`` → psn_no for a credential, else ``psn_no`` as given; the person on ``day``."""
    cert_type = str(body.get("mdtrt_cert_type") or "")
    if cert_type:
        psn_no = str(identify(cert_type, str(body.get("mdtrt_cert_no") or ""), str(body.get("card_sn") or ""),
                              str(body.get("psn_name") or "")))  # fmt: skip
    else:
        psn_no = str(body.get("psn_no") or "")
        if not psn_no:
            raise RemoteError("psn_no", "必填 is required", "missing")
    day = today
    if body.get("day"):
        try:
            day = dt.date.fromisoformat(str(body["day"]))
        except ValueError:
            raise RemoteError("day", f"日期格式应为 YYYY-MM-DD: {body['day']!r}", "format") from None
    return psn_no, led.get_person(psn_no, day)


# ---------------------------------------------------------------------------- resolving reconciliation breaks
@dataclass(frozen=True)
class BreakCase:
    """One break between this region's records and the hub's route log, as reconciliation found it now."""

    msgid: str
    side: Literal["care", "insured"]
    kind: str
    here: str
    there: str
    peer: str  # the other region's code ('' when neither side knows it)
    hub: Mapping[
        str, Any
    ]  # the hub's route (status, setl_id, amounts in fen, setl_date); {} when it has none


def resolve_break(
    case: BreakCase,
    action: str,
    reason: str,
    actor: str,
    *,
    own_admdvs: str,
    hub: JsonClient,
    log: BreakLog,
    care: CareSide | None,
    inbound: RouteTable,
    ledger: Callable[[], AbstractContextManager[Ledger]],
    today: dt.date,
) -> str:
    """差异处理: close ``case`` by ``action`` (one of :func:`clearing.break_actions` for it), with the clerk's
    ``reason``; every attempt is recorded with who and when, done or refused.  Returns what was done (for
    people); a refusal raises :class:`FieldError` naming the field, after it was recorded.  ``ledger`` opens
    this region's ledger only for a reversal here: it is never held across a call to the hub, which may call
    back into this region."""
    reason = reason.strip()
    if not reason:
        raise FieldError("reason", "请填写处理理由 a reason is required", "missing")
    allowed = break_actions(case.kind, case.side, case.here, case.there)
    if action not in allowed:
        raise FieldError(
            "action",
            f"此差异不能用“{ACTION_NAMES.get(action, (action,))[0]}”处理 not an action for this break",
            "invalid",
        )
    row = {"msgid": case.msgid, "side": case.side, "kind": case.kind, "action": action, "reason": reason,
           "actor": actor[:80]}  # fmt: skip
    try:
        note = _act(case, action, reason, own_admdvs=own_admdvs, hub=hub, care=care, inbound=inbound, ledger=ledger,
                    today=today)  # fmt: skip
    except FieldError as exc:
        log.record(**row, outcome="refused", note=f"{exc.reason}（{exc.field}）")
        raise
    log.record(**row, outcome="done", note=note)
    return note


def _hub_call(hub: JsonClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        ans = hub.post(path, body)
    except Unreachable:
        raise FieldError(
            "hub",
            "清算中心或对方统筹区暂不可达，请稍后重试 the hub or the other region is not reachable",
            "remote_timeout",
        ) from None
    if isinstance(ans.get("detail"), list) and ans["detail"]:  # the hub's 422: the field it names
        d = ans["detail"][0]
        loc = d.get("loc") or []
        raise FieldError(
            str(loc[-1] if loc else "hub"), str(d.get("msg") or ""), str(d.get("type") or "refused")
        )
    if ans.get("ok") is False:
        raise FieldError(
            str(ans.get("field") or "hub"), str(ans.get("reason") or ""), str(ans.get("code") or "refused")
        )
    return ans


def _act(
    case: BreakCase,
    action: str,
    reason: str,
    *,
    own_admdvs: str,
    hub: JsonClient,
    care: CareSide | None,
    inbound: RouteTable,
    ledger: Callable[[], AbstractContextManager[Ledger]],
    today: dt.date,
) -> str:
    m, h = case.msgid, case.hub
    if action == "dispute":
        month = str(h.get("setl_date") or "")[:7] or today.isoformat()[:7]
        _hub_call(hub, "/hub/v1/disputes", {"msgid": m, "month": month, "reason": reason})
        return f"已标记疑点（{month}），结转下月清算 disputed, carried to the next month's clearing"
    if case.side == "insured":
        if action == "request_resend":
            ans = _hub_call(hub, "/hub/v1/resync", {"msgid": m, "insu_admdvs": own_admdvs})
            return _resent(ans)
        if (
            action == "accept_other" or case.kind == "missing_there"
        ):  # reversed over there / standing here only
            with ledger() as led:
                how = reverse_inbound(inbound, led, {"omsgid": m, "care_admdvs": case.peer})
            return f"已在本地冲正（{how}） reversed here"
        body = {"omsgid": m, "msgid": reversal_msgid(m), "insu_admdvs": own_admdvs, "care_admdvs": case.peer}
        _hub_call(hub, "/hub/v1/reverse", body)  # the hub relays it to us: our record and its log agree
        return "已经清算中心冲正 reversed through the hub"
    if care is None:
        raise FieldError("side", "本统筹区未接入清算中心 this region has no clearing hub", "no_hub")
    row = care.outbound.get(m)
    insu = case.peer or (str(row["insu_admdvs"]) if row else "")
    if action == "request_resend":
        if not insu:
            raise FieldError(
                "peer", "不知道参保地，无法请求重新报送 the insured region is not known", "missing"
            )
        return _resent(_hub_call(hub, "/hub/v1/resync", {"msgid": m, "insu_admdvs": insu}))
    amounts = {k: int(h.get(k) or 0) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}
    if action == "accept_other":
        if case.kind == "missing_here":  # the hospital did get the answer: take the hub's record as ours
            if not care.outbound.insert(m, SETTLED, insu_admdvs=insu, fixmedins_code="", psn_no="", mdtrt_id="",
                                        setl_date=str(h.get("setl_date") or ""), setl_id=str(h.get("setl_id") or ""),
                                        **amounts):  # fmt: skip
                raise FieldError(
                    "msgid", f"本地已有报文 {m} 的记录，请重新对账 already recorded here", "duplicate"
                )
            return "已按清算中心记录补记为已结算 recorded as settled from the hub's record"
        if case.kind == "amount_differs":
            if not care.outbound.move(m, (SETTLED,), SETTLED, **amounts):
                raise FieldError(
                    "msgid", f"报文 {m} 已不是已结算状态，请重新对账 no longer settled here", "changed"
                )
            return "已按参保地金额更正 amount corrected to the insured region's"
    # reverse here (standing here only, or reversed over there), or re-send a reversal the hub has not applied
    if row is None:
        if not care.outbound.insert(m, REVERSING, insu_admdvs=insu, fixmedins_code="", psn_no="", mdtrt_id="",
                                    setl_date=str(h.get("setl_date") or "")):  # fmt: skip
            raise FieldError(
                "msgid", f"本地已有报文 {m} 的记录，请重新对账 already recorded here", "duplicate"
            )
    elif row["status"] == REVERSED:
        body = {"omsgid": m, "msgid": reversal_msgid(m), "insu_admdvs": insu, "care_admdvs": care.care_admdvs}
        _hub_call(hub, "/hub/v1/reverse", body)
        return "已重发冲正 reversal re-sent"
    if _reverse(care, m):
        return "已冲正 reversed"
    return "冲正已发出，待参保地确认 reversal sent, waiting for the insured region"


def _resent(ans: Mapping[str, Any]) -> str:
    rec = ans.get("record")
    if not isinstance(rec, Mapping):
        return "参保地无此结算记录，请冲正 the insured region holds no such settlement; reverse it"
    return f"清算中心已按参保地记录更新（{rec.get('status')}） the hub took the insured region's record"
