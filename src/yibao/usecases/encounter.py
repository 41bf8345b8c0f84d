"""The national visit flow as use cases: identify a person by a presented credential (1101), register /
admit (2201 / 2401), upload and cancel fee lines (2204 / 2205, 2301 / 2302), change the visit (2203,
2403, 2402, 2405, 2202, 2404), settle (2206 / 2207, 2303 / 2304), cancel a settlement (2208 / 2305) and
reverse any reversible message (2601).

Settling goes through :func:`yibao.usecases.settlement.settle` — the one settle path — with the visit
built from the uploaded lines; this module only decides which lines and keeps the visit's records."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from yibao.access.principal import SETTLING_ROLES, Forbidden, Principal
from yibao.encounter import core
from yibao.encounter.core import (
    ADMITTED,
    ALL_BATCHES,
    CANCELLED,
    DISCHARGED,
    INPATIENT,
    OUTPATIENT,
    REGISTERED,
    EncounterError,
    FeeLine,
    VisitRecord,
    need,
)
from yibao.encounter.store import EncounterStore, Message, request_key
from yibao.ledger import Ledger, ReversalOutcome, SettleOutcome
from yibao.policy.book import PolicyBook
from yibao.policy.catalogue import CatalogueItem
from yibao.settlement.model import AuditHook, Person, Visit
from yibao.usecases import settlement
from yibao.usecases.eligibility import EligibilitySource
from yibao.usecases.settlement import CoverSource

_BEIJING = dt.timezone(dt.timedelta(hours=8))

VoucherCheck = Callable[[str], str]  # token → psn_no (verifies and uses up the voucher)

CERT_TYPES = {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}
SETTLE_INFNOS = ("2207", "2304")
CANCEL_INFNOS = ("2208", "2305")


class VisitorRoute(Protocol):
    """The way to a visitor's insured region (异地就医直接结算, through the clearing hub): who the person is,
    settle a visit priced here, reverse a settlement routed before."""

    def person(self, insu_admdvs: str, psn_no: str, day: dt.date) -> Person:
        """The person as the insured region knows them on ``day``."""
        ...

    def identify(
        self, insu_admdvs: str, cert_type: str, cert_no: str, card_sn: str, psn_name: str, fixmedins_code: str
    ) -> tuple[str, dict[str, Any]]:
        """(psn_no, the 1101 output) of a presented credential, as the insured region reads it."""
        ...

    def settle(self, insu_admdvs: str, visit: Visit, msgid: str, pre: bool) -> dict[str, Any]:
        """The insured region's 2206 / 2207 output (``setlinfo``, ``setldetail``, ``audit_info``,
        ``crossregion``, ``person``)."""
        ...

    def reverse(self, msgid: str) -> bool:
        """Reverse the visitor's settlement routed under ``msgid``; False while unconfirmed."""
        ...

    def msgid_of(self, setl_id: str) -> str | None:
        """The msgid a visitor's settlement ``setl_id`` was routed under."""
        ...


VISITOR_KEY = "insuplc_admdvs"  # in a visit's info: the insured region of a visitor (absent: insured here)


def visitor_region(v: VisitRecord) -> str:
    """The insured region of a visitor's visit ('' for a person insured here)."""
    return str(v.info.get(VISITOR_KEY) or "")


@dataclass(frozen=True)
class Ctx:
    """What every transaction of the flow runs with."""

    store: EncounterStore
    led: Ledger
    book: PolicyBook
    caller: Principal | None
    fixmedins_code: str
    msgid: str
    infno: str
    payload: Any  # the input, for the msgid's request digest
    audit: AuditHook | None = None
    pre: dict[str, Any] = field(default_factory=dict)  # what prefetch() read, for this transaction only
    eligibility: EligibilitySource | None = None  # the benefit check's source (None: no enrolment data)
    covers: CoverSource | None = None  # the person's commercial products (None: no commercial cover)
    # a visitor (the envelope's insuplc_admdvs is another region): that region, and the way to it
    insuplc_admdvs: str = ""
    visitor: VisitorRoute | None = None

    def route(self) -> VisitorRoute:
        need(
            self.visitor is not None,
            "insuplc_admdvs",
            "本统筹区未接入异地结算清算中心",
            "this region has no clearing hub configured",
            "no_hub",
        )
        assert self.visitor is not None
        return self.visitor

    def msg(self, answer: dict[str, Any], undo: dict[str, Any] | None = None) -> Message:
        return Message(
            self.msgid,
            self.infno,
            self.fixmedins_code,
            request_key(self.infno, self.payload),
            answer,
            undo or {},
            None,
        )


def guard(ctx: Ctx) -> None:
    """Only settling roles; an institution acts for itself with msgids that start with its code."""
    p = ctx.caller
    if p is None:
        return
    if p.role not in SETTLING_ROLES:
        raise Forbidden(f"角色 {p.role} 不能办理医保就诊交易 role {p.role} may not run visit transactions")
    if p.role == "institution" and ctx.fixmedins_code != p.fixmedins_code:
        raise Forbidden(
            f"机构 {p.fixmedins_code} 不能代 {ctx.fixmedins_code} 办理 institution may act only for itself"
        )
    settlement.check_msgid(p, ctx.msgid)


def prefetch(ctx: Ctx, mdtrt_id: str, *, with_lines: bool = False) -> None:
    """Read the msgid's record, the visit and its lines at once (one connection, not three)."""
    m, v, lines = ctx.store.snapshot(ctx.msgid, mdtrt_id, with_lines=with_lines)
    ctx.pre.update(msg=m, visit=v, mdtrt_id=mdtrt_id)
    if with_lines:
        ctx.pre["lines"] = lines


def live_lines(ctx: Ctx, mdtrt_id: str) -> list[FeeLine]:
    if "lines" in ctx.pre and ctx.pre.get("mdtrt_id") == mdtrt_id:
        return list(ctx.pre["lines"])
    return ctx.store.lines(mdtrt_id)


def replayed(ctx: Ctx) -> dict[str, Any] | None:
    """The answer already given to this msgid (a retry), or None; another input under it is refused."""
    m = ctx.pre["msg"] if "msg" in ctx.pre else ctx.store.message(ctx.msgid)
    if m is None:
        return None
    need(
        m.infno == ctx.infno and m.request_key == request_key(ctx.infno, ctx.payload),
        "msgid",
        f"报文ID {ctx.msgid} 已用于另一笔交易 {m.infno}",
        "msgid already used for a different request",
        "msgid_conflict",
    )
    return m.answer


# ---------------------------------------------------------------------------------------- 1101
def identify(
    ctx: Ctx,
    cert_type: str,
    cert_no: str,
    *,
    card_sn: str = "",
    psn_name: str = "",
    voucher: VoucherCheck | None = None,
) -> str:
    """1101: the person a presented credential names — 01 an electronic voucher token (verified, single
    use), 02 an ID card number with the holder's name, 03 a social-security card number with its card
    identification code.  A bare internal psn_no is never a credential.  The presentation is recorded
    so the visit registered next (2201 / 2401) at this institution can name the person."""
    guard(ctx)
    f = "input.data.mdtrt_cert_no"
    need(
        cert_type in CERT_TYPES,
        "input.data.mdtrt_cert_type",
        f"就诊凭证类型 {cert_type} 不支持（01 电子凭证、02 身份证、03 社保卡）",
        "unsupported credential type",
        "code_table",
    )
    if cert_type == "01":
        need(voucher is not None, f, "电子凭证核验不可用", "voucher verification unavailable")
        assert voucher is not None
        psn_no = voucher(cert_no)
    elif cert_type == "02":
        found = ctx.led.psn_no_by_certno(cert_no)
        need(
            found is not None,
            f,
            "未查询到该身份证号的参保人员",
            "no insured person with this ID number",
            "unknown_person",
        )
        assert found is not None
        need(
            bool(psn_name),
            "input.data.psn_name",
            "凭身份证就诊须提供姓名",
            "an ID card needs the name",
            "missing",
        )
        person = ctx.led.get_person(found, dt.date.today())
        need(
            person.name == psn_name,
            "input.data.psn_name",
            "姓名与身份证号不符",
            "the name does not match the ID number",
            "mismatch",
        )
        psn_no = found
    else:
        card = ctx.store.card(cert_no)
        need(card is not None, f, "社会保障卡卡号不存在", "unknown social-security card", "unknown_person")
        assert card is not None
        sn, psn_no, status = card
        need(status == "valid", f, "社会保障卡已挂失或停用", "the card is not valid", "card_invalid")
        need(
            bool(card_sn) and card_sn == sn,
            "input.data.card_sn",
            "卡识别码不符",
            "card_sn does not match",
            "mismatch",
        )
    ctx.store.presented(ctx.fixmedins_code, cert_type, cert_no, psn_no)
    return psn_no


def identify_visitor(
    ctx: Ctx, cert_type: str, cert_no: str, *, card_sn: str = "", psn_name: str = ""
) -> tuple[str, dict[str, Any]]:
    """1101 of a visitor (the envelope names another insured region): the insured region reads the
    credential (01 its own electronic voucher token, 02 ID number + name, 03 social-security card + card
    identification code) and answers with the person and the insurance status of the day (参保地 decides);
    the presentation is recorded here so the visit registered next can name the person.  A voucher is
    signed with the insured region's key, so only it can verify the token (and use it up, once, at this
    institution): the token goes to it through the hub as presented."""
    guard(ctx)
    need(
        cert_type in CERT_TYPES,
        "input.data.mdtrt_cert_type",
        f"就诊凭证类型 {cert_type} 不支持（01 电子凭证、02 身份证、03 社保卡）",
        "unsupported credential type",
        "code_table",
    )
    psn_no, output = ctx.route().identify(ctx.insuplc_admdvs, cert_type, cert_no, card_sn, psn_name,
                                          ctx.fixmedins_code)  # fmt: skip
    ctx.store.presented(ctx.fixmedins_code, cert_type, cert_no, psn_no)
    return psn_no, output


def _presented(ctx: Ctx, cert_type: str, cert_no: str, psn_no: str) -> None:
    """A visit may only be opened for a person whose credential was presented here (1101 first)."""
    named = ctx.store.presented_psn(ctx.fixmedins_code, cert_type, cert_no)
    need(
        named is not None,
        "input.data.mdtrt_cert_no",
        "该就诊凭证未在本机构读取（请先做 1101 人员信息获取）",
        "the credential was not presented here (1101 first)",
        "not_presented",
    )
    need(
        named == psn_no,
        "input.data.psn_no",
        "人员编号与就诊凭证不符",
        "psn_no is not the person the credential names",
        "mismatch",
    )


# ---------------------------------------------------------------------------------------- visits
def open_visit(
    ctx: Ctx,
    *,
    kind: str,
    psn_no: str,
    insutype: str,
    med_type: str,
    begntime: str,
    ipt_otp_no: str,
    cert_type: str,
    cert_no: str,
    diagnoses: Sequence[str],
    info: dict[str, Any],
) -> dict[str, Any]:
    """2201 挂号 / 2401 入院办理: a new visit with a fresh ``mdtrt_id``."""
    guard(ctx)
    again = replayed(ctx)
    if again is not None:
        return again
    _presented(ctx, cert_type, cert_no, psn_no)
    core.emergency_flag(info, "input.data.emergency" if kind == OUTPATIENT else "input.mdtrtinfo.emergency")
    inst = ctx.store.institution(ctx.fixmedins_code)
    need(
        inst is not None,
        "fixmedins_code",
        f"定点医药机构 {ctx.fixmedins_code} 未登记（医院等级未知）",
        "institution not registered (hospital level unknown)",
        "unknown_institution",
    )
    assert inst is not None
    day = dt.date.fromisoformat(begntime[:10])
    if ctx.insuplc_admdvs:  # a visitor: the insured region says who they are (参保地)
        person = ctx.route().person(ctx.insuplc_admdvs, psn_no, day)
        info = {**info, VISITOR_KEY: ctx.insuplc_admdvs}
    else:
        person = ctx.led.get_person(psn_no, day)
    need(
        person.insutype == insutype,
        "input.data.insutype",
        f"险种类型 {insutype} 与参保信息 {person.insutype} 不符",
        "insutype is not the person's",
        "mismatch",
    )
    need(
        ctx.store.find_visit(ctx.fixmedins_code, ipt_otp_no) is None,
        "input.data.ipt_otp_no",
        f"门诊/住院号 {ipt_otp_no} 已登记",
        "ipt_otp_no is already registered",
        "duplicate",
    )
    mdtrt_id = dt.datetime.now(dt.UTC).strftime("%y%m%d") + uuid.uuid4().hex[:24]
    v = VisitRecord(
        mdtrt_id,
        ctx.fixmedins_code,
        psn_no,
        insutype,
        kind,
        med_type,
        ipt_otp_no,
        inst.hosp_lv,
        cert_type,
        begntime,
        None,
        REGISTERED if kind == OUTPATIENT else ADMITTED,
        tuple(diagnoses),
        info,
    )
    answer = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "ipt_otp_no": ipt_otp_no}
    ctx.store.create_visit(v, ctx.msg(answer, {"op": "visit_status", "mdtrt_id": mdtrt_id, "from": v.status}))
    return answer


def visit_of(ctx: Ctx, mdtrt_id: str, psn_no: str, kind: str) -> VisitRecord:
    v = ctx.pre["visit"] if ctx.pre.get("mdtrt_id") == mdtrt_id else ctx.store.visit(mdtrt_id)
    need(v is not None, "input.data.mdtrt_id", f"就诊ID {mdtrt_id} 不存在", "unknown mdtrt_id", "not_found")
    assert v is not None
    core.check_owner(v, psn_no, ctx.fixmedins_code)
    need(
        v.kind == kind,
        "input.data.mdtrt_id",
        f"就诊 {mdtrt_id} 是{'住院' if v.kind == INPATIENT else '门诊'}，不能做此交易",
        "wrong kind of visit for this transaction",
    )
    return v


def close_visit(ctx: Ctx, mdtrt_id: str, psn_no: str, kind: str) -> dict[str, Any]:
    """2202 挂号撤销 / 2404 入院撤销: only a visit with no live lines and no settlement."""
    guard(ctx)
    prefetch(ctx, mdtrt_id)
    again = replayed(ctx)
    if again is not None:
        return again
    v = visit_of(ctx, mdtrt_id, psn_no, kind)
    want = REGISTERED if kind == OUTPATIENT else ADMITTED
    need(
        v.status == want,
        "input.data.mdtrt_id",
        f"就诊状态为 {v.status}，不能撤销",
        "the visit cannot be cancelled now",
    )
    need(
        not ctx.store.lines(mdtrt_id),
        "input.data.mdtrt_id",
        "已有费用明细，请先撤销明细",
        "fee lines are uploaded: cancel them first",
    )
    ctx.store.update_visit(
        mdtrt_id,
        {"status": CANCELLED},
        ctx.msg({}, {"op": "visit_status", "mdtrt_id": mdtrt_id, "from": CANCELLED, "to": want}),
        expect_status=want,
    )
    return {}


def update_info(
    ctx: Ctx,
    mdtrt_id: str,
    psn_no: str,
    kind: str,
    *,
    med_type: str | None,
    diagnoses: Sequence[str] | None,
    info: dict[str, Any],
) -> dict[str, Any]:
    """2203 就诊信息上传 / 2403 入院信息变更: the medical type, diagnoses and the rest of the information."""
    guard(ctx)
    prefetch(ctx, mdtrt_id)
    again = replayed(ctx)
    if again is not None:
        return again
    v = visit_of(ctx, mdtrt_id, psn_no, kind)
    need(
        v.status in (REGISTERED, ADMITTED),
        "input.data.mdtrt_id",
        f"就诊状态为 {v.status}，不能变更",
        "the visit cannot change now",
    )
    changes: dict[str, Any] = {"info": {**v.info, **info}}
    if med_type:
        changes["med_type"] = med_type
    if diagnoses:
        changes["diagnoses"] = list(diagnoses)
    ctx.store.update_visit(mdtrt_id, changes, ctx.msg({}, {"op": "none"}), expect_status=v.status)
    return {}


def upload(
    ctx: Ctx, kind: str, lines: Sequence[FeeLine], psn_nos: Sequence[str]
) -> list[tuple[FeeLine, CatalogueItem | None]]:
    """2204 / 2301: store a batch of lines with their split at upload; all lines of one visit."""
    guard(ctx)
    need(bool(lines), "input.feedetail", "费用明细不能为空", "no fee lines", "missing")
    mdtrt_ids = {ln.mdtrt_id for ln in lines}
    need(len(mdtrt_ids) == 1, "input.feedetail", "一次上传只能属于一个就诊", "one visit per upload")
    prefetch(ctx, lines[0].mdtrt_id)
    v = visit_of(ctx, lines[0].mdtrt_id, psn_nos[0] if psn_nos else "", kind)
    need(
        all(p == v.psn_no for p in psn_nos),
        "input.feedetail.psn_no",
        "人员编号与就诊不符",
        "psn_no is not the visit's",
        "mismatch",
    )
    catalogue = ctx.book.for_date(v.begin_date).catalogue
    again = replayed(ctx)
    if again is not None:  # a retry: answer the lines as stored
        stored = {ln.feedetl_sn: ln for ln in ctx.store.lines(v.mdtrt_id, live_only=False)}
        return [(stored.get(ln.feedetl_sn, ln), catalogue.get(ln.med_list_codg)) for ln in lines]
    ok = v.status == REGISTERED if kind == OUTPATIENT else v.status == ADMITTED
    need(
        ok, "input.feedetail.mdtrt_id", f"就诊状态为 {v.status}，不能上传明细", "the visit takes no lines now"
    )
    # a service day outside the visit would dodge the per-day audit rules or move a mid-stay settlement into
    # another year: not before the registration or admission, not after today
    today = (
        dt.datetime.now(_BEIJING).date().isoformat()
    )  # fee times are Beijing time, as the interface sends them
    before = "费用发生时间早于入院时间" if kind == INPATIENT else "费用发生时间早于挂号时间"
    for i, ln in enumerate(lines):
        day = ln.fee_ocur_time[:10]
        need(
            day >= v.begntime[:10],
            f"input.feedetail[{i}].fee_ocur_time",
            before,
            "fee time before the visit began",
            "range",
        )
        need(
            day <= today,
            f"input.feedetail[{i}].fee_ocur_time",
            "费用发生时间晚于今天",
            "fee time in the future",
            "range",
        )
    split_lines = core.split(lines, dict(catalogue))
    sns = [ln.feedetl_sn for ln in split_lines]
    ctx.store.add_lines(
        split_lines,
        ctx.msg({"feedetl_sn": sns}, {"op": "lines", "mdtrt_id": v.mdtrt_id, "sns": sns, "to": "cancelled"}),
    )
    return [(ln, catalogue.get(ln.med_list_codg)) for ln in split_lines]


def cancel_lines(
    ctx: Ctx, mdtrt_id: str, psn_no: str, kind: str, *, batch: str = "", sn: str = ""
) -> dict[str, Any]:
    """2205 (a charge batch, ``0000`` all) / 2302 (one line, ``0000`` all): unsettled lines only."""
    guard(ctx)
    prefetch(ctx, mdtrt_id, with_lines=True)
    again = replayed(ctx)
    if again is not None:
        return again
    v = visit_of(ctx, mdtrt_id, psn_no, kind)
    need(v.status != CANCELLED, "input.data.mdtrt_id", "就诊已撤销", "the visit was cancelled")
    need(
        v.status != DISCHARGED,
        "input.data.mdtrt_id",
        "已出院，请先撤销出院",
        "discharged: cancel the discharge first",
    )
    live = live_lines(ctx, mdtrt_id)
    if kind == OUTPATIENT:
        chosen = [ln for ln in live if batch in (ALL_BATCHES, ln.chrg_bchno)]
        where = "input.data.chrg_bchno"
    else:
        chosen = [ln for ln in live if sn in (ALL_BATCHES, ln.feedetl_sn)]
        where = "input.data.feedetl_sn"
    need(bool(chosen), where, "没有可撤销的费用明细", "no such unsettled fee lines", "not_found")
    need(
        all(ln.setl_id is None for ln in chosen) or (kind == OUTPATIENT and batch == ALL_BATCHES),
        where,
        "费用明细已结算，请先撤销结算",
        "the lines are settled: cancel the settlement first",
    )
    sns = [ln.feedetl_sn for ln in chosen if ln.setl_id is None]
    ctx.store.set_line_status(
        mdtrt_id,
        sns,
        "cancelled",
        ctx.msg({}, {"op": "lines", "mdtrt_id": mdtrt_id, "sns": sns, "to": "live"}),
    )
    return {}


def discharge(
    ctx: Ctx, mdtrt_id: str, psn_no: str, *, endtime: str, diagnoses: Sequence[str], info: dict[str, Any]
) -> dict[str, Any]:
    """2402 出院办理."""
    guard(ctx)
    prefetch(ctx, mdtrt_id)
    again = replayed(ctx)
    if again is not None:
        return again
    v = visit_of(ctx, mdtrt_id, psn_no, INPATIENT)
    need(
        v.status == ADMITTED,
        "input.dscginfo.mdtrt_id",
        f"住院状态为 {v.status}，不能出院",
        "the stay is not admitted",
    )
    need(
        endtime >= v.begntime,
        "input.dscginfo.endtime",
        "出院时间早于入院时间",
        "discharge before admission",
        "range",
    )
    last = max((ln.fee_ocur_time for ln in ctx.store.lines(mdtrt_id, live_only=True)), default="")
    need(
        endtime[:10] >= last[:10],
        "input.dscginfo.endtime",
        f"出院时间早于最后一条费用的发生时间 {last}",
        "discharge before the last fee line",
        "range",
    )
    changes: dict[str, Any] = {"status": DISCHARGED, "endtime": endtime, "info": {**v.info, **info}}
    if diagnoses:
        changes["diagnoses"] = list(diagnoses)
    ctx.store.update_visit(
        mdtrt_id,
        changes,
        ctx.msg({}, {"op": "visit_status", "mdtrt_id": mdtrt_id, "from": DISCHARGED, "to": ADMITTED}),
        expect_status=ADMITTED,
    )
    return {}


def undischarge(ctx: Ctx, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
    """2405 出院撤销: only when no settlement of the stay is in force."""
    guard(ctx)
    prefetch(ctx, mdtrt_id)
    again = replayed(ctx)
    if again is not None:
        return again
    v = visit_of(ctx, mdtrt_id, psn_no, INPATIENT)
    need(v.status == DISCHARGED, "input.data.mdtrt_id", "尚未出院", "the stay is not discharged")
    need(
        all(ln.setl_id is None for ln in ctx.store.lines(mdtrt_id)),
        "input.data.mdtrt_id",
        "出院结算未撤销，请先做 2305",
        "the discharge settlement is in force: cancel it first (2305)",
    )
    ctx.store.update_visit(
        mdtrt_id,
        {"status": ADMITTED, "endtime": None},
        ctx.msg(
            {},
            {
                "op": "visit_status",
                "mdtrt_id": mdtrt_id,
                "from": ADMITTED,
                "to": DISCHARGED,
                "endtime": v.endtime,
            },
        ),
        expect_status=DISCHARGED,
    )
    return {}


# ---------------------------------------------------------------------------------------- settle
@dataclass(frozen=True)
class Settled:
    outcome: SettleOutcome
    visit: VisitRecord
    lines: list[FeeLine]
    answer: dict[str, Any] | None = None  # a stored answer (a retry of a settle already recorded)


def settle(
    ctx: Ctx,
    mdtrt_id: str,
    psn_no: str,
    kind: str,
    *,
    chrg_bchno: str | None,
    declared: int,
    use_account: bool,
    pre: bool,
    mid_stay: bool = False,
    render: Callable[[SettleOutcome, VisitRecord], dict[str, Any]],
    render_visitor: Callable[[dict[str, Any], VisitRecord], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """2206 / 2207 (one charge batch) and 2303 / 2304 (the stay): ``medfee_sumamt`` must equal the
    uploaded lines; the visit goes through the one settle path; the lines then carry the setl_id."""
    guard(ctx)
    prefetch(ctx, mdtrt_id, with_lines=True)
    if not pre:
        again = replayed(ctx)
        if again is not None:
            return again
    v = visit_of(ctx, mdtrt_id, psn_no, kind)
    take = core.settle_lines(v, live_lines(ctx, mdtrt_id), chrg_bchno, mid_stay=mid_stay)
    core.check_total(declared, take)
    end = v.end_date if v.kind == INPATIENT and not mid_stay else None
    if v.kind == INPATIENT and mid_stay:
        end = max(dt.date.fromisoformat(ln.fee_ocur_time[:10]) for ln in take)
    visit = core.to_visit(v, take, use_account=use_account, end=end)
    if visitor_region(v):
        return _settle_visitor(ctx, v, visit, take, pre, render_visitor or (lambda a, _v: a))
    out = settlement.settle(
        ctx.led,
        ctx.book,
        visit,
        ctx.msgid,
        audit=ctx.audit,
        pre=pre,
        caller=ctx.caller,
        eligibility=ctx.eligibility,
        covers=ctx.covers,
    )
    answer = render(out, v)
    if not pre:
        sns = [ln.feedetl_sn for ln in take]
        try:
            ctx.store.mark_settled(
                mdtrt_id,
                sns,
                out.setl_id,
                ctx.msg(answer, {"op": "settle", "mdtrt_id": mdtrt_id, "setl_id": out.setl_id, "sns": sns}),
            )
        except EncounterError as exc:
            if exc.code == "taken" and not out.replayed:
                # another request settled these lines meanwhile: undo this settlement (never twice paid)
                settlement.reverse(ctx.led, ctx.caller, ctx.msgid, (ctx.msgid + "R")[:64])
            raise
    return answer


def _settle_visitor(
    ctx: Ctx,
    v: VisitRecord,
    visit: Visit,
    take: Sequence[FeeLine],
    pre: bool,
    render: Callable[[dict[str, Any], VisitRecord], dict[str, Any]],
) -> dict[str, Any]:
    """A visitor's 2206 / 2207 / 2303 / 2304: the lines priced here go to the insured region through the hub
    (就医地目录、参保地政策); its answer comes back in this answer and the lines carry its setl_id."""
    insu = visitor_region(v)
    need(
        not ctx.insuplc_admdvs or ctx.insuplc_admdvs == insu,
        "insuplc_admdvs",
        f"参保地 {ctx.insuplc_admdvs} 与挂号时的参保地 {insu} 不符",
        "not the insured region the visit was registered with",
        "mismatch",
    )
    answer = render(ctx.route().settle(insu, visit, ctx.msgid, pre), v)
    if not pre:
        setl_id = str(answer["setlinfo"].get("setl_id") or "")
        sns = [ln.feedetl_sn for ln in take]
        try:
            ctx.store.mark_settled(
                v.mdtrt_id,
                sns,
                setl_id,
                ctx.msg(answer, {"op": "settle", "mdtrt_id": v.mdtrt_id, "setl_id": setl_id, "sns": sns}),
            )
        except EncounterError as exc:
            if exc.code == "taken" and not answer["setlinfo"].get("replayed"):
                ctx.route().reverse(ctx.msgid)  # settled meanwhile by another request: never twice paid
            raise
    return answer


def cancel_settlement(
    ctx: Ctx,
    setl_id: str,
    mdtrt_id: str,
    psn_no: str,
    kind: str,
    render: Callable[[ReversalOutcome], dict[str, Any]],
) -> dict[str, Any]:
    """2208 / 2305: the settlement is cancelled in the ledger; its lines are free to settle again (or to
    be cancelled with 2205 / 2302)."""
    guard(ctx)
    again = replayed(ctx)
    if again is not None:
        return again
    v = visit_of(ctx, mdtrt_id, psn_no, kind)
    sns = [ln.feedetl_sn for ln in ctx.store.settled_lines(setl_id) if ln.mdtrt_id == v.mdtrt_id]
    need(
        bool(sns),
        "input.data.setl_id",
        f"结算ID {setl_id} 不是该就诊的结算",
        "not a settlement of this visit",
        "not_found",
    )
    if visitor_region(v):
        answer = _cancel_visitor(ctx, v, setl_id)
    else:
        out = settlement.cancel(ctx.led, ctx.caller, setl_id, ctx.msgid, psn_no=psn_no, mdtrt_id=mdtrt_id)
        answer = render(out)
    ctx.store.mark_settled(
        mdtrt_id,
        sns,
        None,
        ctx.msg(answer, {"op": "cancel", "mdtrt_id": mdtrt_id, "setl_id": setl_id, "sns": sns}),
    )
    return answer


def _cancel_visitor(ctx: Ctx, v: VisitRecord, setl_id: str) -> dict[str, Any]:
    """2208 / 2305 of a visitor's settlement: reversed at the insured region through the hub (the
    settlement then stands nowhere and clears in no month)."""
    route = ctx.route()
    msgid = route.msgid_of(setl_id)
    need(
        msgid is not None,
        "input.data.setl_id",
        f"结算ID {setl_id} 不是异地结算",
        "not a routed settlement",
        "not_found",
    )
    assert msgid is not None
    need(
        route.reverse(msgid),
        "input.data.setl_id",
        "参保地尚未确认撤销，请稍后重试",
        "the insured region has not confirmed the cancel yet; try again",
        "remote_timeout",
    )
    return {"setlinfo": {"setl_id": setl_id, "mdtrt_id": v.mdtrt_id, "psn_no": v.psn_no,
                         "insuplc_admdvs": visitor_region(v), "medins_setl_id": ctx.msgid}}  # fmt: skip


# ---------------------------------------------------------------------------------------- 2601
def reverse(ctx: Ctx, omsgid: str, oinfno: str, psn_no: str) -> dict[str, Any]:
    """2601 冲正: undo the message ``omsgid`` — a settlement or a settlement cancel through the ledger's
    reversal, a registration/admission, an upload, a line cancel, a discharge or its cancel in the
    visit's records.  A reversal is not itself reversible; information uploads (2203 / 2403) are not
    reversible (send them again)."""
    guard(ctx)
    need(
        oinfno != "2601",
        "input.data.oinfno",
        "冲正交易不能再冲正",
        "a reversal cannot be reversed",
        "not_reversible",
    )
    again = replayed(ctx)
    if again is not None:
        return again
    m = ctx.store.message(omsgid)
    if m is None:
        # a message of the inline extension (2207 carrying its lines) is known to the ledger only
        need(
            ctx.led.message(omsgid) is not None,
            "input.data.omsgid",
            f"原交易 {omsgid} 不存在（未到达或已失败，无需冲正）",
            "the original message is unknown (never arrived or failed: nothing to reverse)",
            "not_found",
        )
        out = settlement.reverse(ctx.led, ctx.caller, omsgid, ctx.msgid)
        return {"omsgid": omsgid, "oinfno": oinfno, "setl_id": out.setl_id, "status": out.status}
    need(
        m.fixmedins_code == ctx.fixmedins_code,
        "input.data.omsgid",
        "原交易不是本机构发送的",
        "the original message is not this institution's",
        "not_found",
    )
    need(
        not oinfno or m.infno == oinfno,
        "input.data.oinfno",
        f"原交易编号应为 {m.infno}",
        "oinfno is not the original's",
        "mismatch",
    )
    need(
        m.reversed_by is None,
        "input.data.omsgid",
        f"原交易已被 {m.reversed_by} 冲正",
        "already reversed",
        "already_reversed",
    )
    op = m.undo.get("op")
    answer: dict[str, Any] = {"omsgid": omsgid, "oinfno": m.infno}
    mdtrt_id = str(m.undo.get("mdtrt_id", ""))
    v = ctx.store.visit(mdtrt_id) if mdtrt_id else None
    if v is not None:
        need(
            not psn_no or v.psn_no == psn_no,
            "input.data.psn_no",
            "人员编号与原交易不符",
            "psn_no is not the original's",
            "mismatch",
        )
    rec = ctx.msg(answer, {"op": "none"})
    if op in ("settle", "cancel") and v is not None and visitor_region(v):
        need(
            op == "settle",
            "input.data.omsgid",
            "异地结算的撤销不能冲正，请重新结算",
            "a visitor's cancelled settlement cannot be restored: settle again",
            "not_reversible",
        )
        need(
            ctx.route().reverse(omsgid),
            "input.data.omsgid",
            "参保地尚未确认冲正，请稍后重试",
            "the insured region has not confirmed the reversal yet; try again",
            "remote_timeout",
        )
        answer.update(setl_id=str(m.undo.get("setl_id") or ""), status="reversed")
        ctx.store.mark_settled(mdtrt_id, m.undo["sns"], None, replace(rec, answer=answer), reversal_of=omsgid)
    elif op in ("settle", "cancel"):
        out = settlement.reverse(ctx.led, ctx.caller, omsgid, ctx.msgid)
        answer.update(setl_id=out.setl_id, status=out.status)
        back = None if op == "settle" else str(m.undo["setl_id"])
        ctx.store.mark_settled(mdtrt_id, m.undo["sns"], back, replace(rec, answer=answer), reversal_of=omsgid)
    elif op == "lines":
        want = "live" if m.undo["to"] == "cancelled" else "cancelled"
        live = {ln.feedetl_sn: ln for ln in ctx.store.lines(mdtrt_id, live_only=False)}
        need(
            all(live[sn].setl_id is None and live[sn].status == want for sn in m.undo["sns"] if sn in live),
            "input.data.omsgid",
            "原交易涉及的明细已结算或已变动，不能冲正",
            "the lines have been settled or changed since",
            "not_reversible",
        )
        ctx.store.set_line_status(mdtrt_id, m.undo["sns"], str(m.undo["to"]), rec, reversal_of=omsgid)
    elif op == "visit_status":
        assert v is not None
        need(
            v.status == m.undo["from"],
            "input.data.omsgid",
            "就诊状态已变，不能冲正",
            "the visit changed since",
            "not_reversible",
        )
        to = str(m.undo.get("to") or CANCELLED)
        if to == CANCELLED:
            need(
                not ctx.store.lines(mdtrt_id),
                "input.data.omsgid",
                "已有费用明细，不能冲正登记",
                "lines uploaded since",
                "not_reversible",
            )
        changes: dict[str, Any] = {"status": to}
        if "endtime" in m.undo:
            changes["endtime"] = m.undo["endtime"]
        elif to == ADMITTED:
            changes["endtime"] = None
        ctx.store.update_visit(mdtrt_id, changes, rec, expect_status=v.status, reversal_of=omsgid)
    else:
        raise EncounterError(
            "input.data.oinfno",
            f"交易 {m.infno} 不可冲正（请重新上传） transaction {m.infno} is not reversible",
            "not_reversible",
        )
    return answer
