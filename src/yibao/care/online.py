"""Online follow-up → e-prescription → payment → delivery (慢病线上复诊 + 处方流转), as pure functions.

An internet hospital is part of a physical hospital and settles under its code and level, with the offline
items, ratios and limits (线上线下一致); the online consultation fee and the delivery fee are set by policy.
Only a condition diagnosed offline and registered may be followed up online (复诊, not 首诊)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from yibao.audit.rules import rx as audit_rx
from yibao.audit.rules.model import Library, Rule, load_library
from yibao.care.policy import CareError, CareParams, Condition, InternetHospital
from yibao.money import QTY_ONE
from yibao.settlement.model import Line, RxRef, Visit

FOLLOWUP_STATES = ("requested", "prescribed", "paid", "dispensed", "delivered", "cancelled")
FOLLOWUP_MOVES = {
    "requested": ("prescribed", "cancelled"),
    "prescribed": ("paid", "cancelled"),
    "paid": ("dispensed",),
    "dispensed": ("delivered",),
}


@dataclass(frozen=True)
class RxLine:
    """One prescribed drug: national code, whole units, unit price in fen, days of supply (2204 prd_days)."""

    code: str
    units: int
    price: int
    days: int


@dataclass(frozen=True)
class Prescription:
    rx_id: str
    psn_no: str
    internet_hospital: str
    prescriber: str
    issued_on: dt.date
    diagnosis: str
    lines: tuple[RxLine, ...]
    target: str  # a pharmacy code, or the attached hospital's own pharmacy


@dataclass(frozen=True)
class Finding:
    """One prescription check that failed: ``code`` is stable; ``line`` the rx line index (None = whole rx)."""

    code: str
    zh: str
    en: str
    line: int | None = None

    @property
    def reason(self) -> str:
        return f"{self.zh} {self.en}"


def check_move(current: str, new: str) -> None:
    """Refuse a follow-up status change the flow does not allow."""
    if new not in FOLLOWUP_MOVES.get(current, ()):
        raise CareError(
            "status", f"不能从 {current} 变为 {new} cannot move from {current} to {new}", "bad_move"
        )


def internet_hospital(params: CareParams, code: str) -> InternetHospital:
    """The internet hospital ``code`` (refused when it is not registered)."""
    ih = params.internet_hospitals.get(code)
    if ih is None:
        raise CareError(
            "internet_hospital", f"未登记的互联网医院 unknown internet hospital {code!r}", "unknown_ih"
        )
    return ih


def check_followup(
    params: CareParams, ih_code: str, diagnosis: str, registered: Collection[str]
) -> Condition:
    """A follow-up request may go ahead: known internet hospital, a condition that may be followed up online,
    and (复诊 only) the person has that condition registered from an offline visit.  Returns the condition."""
    internet_hospital(params, ih_code)
    cond = params.condition_for(diagnosis)
    if cond is None:
        raise CareError(
            "diagnosis",
            f"该病种不可线上复诊 {diagnosis!r} is not a condition followed up online",
            "not_chronic",
        )
    if params.follow_up_only and cond.code not in registered:
        raise CareError(
            "diagnosis",
            "须先在实体医院确诊并登记慢病，线上仅限复诊 register the condition at an offline visit first (follow-up only)",
            "first_visit_online",
        )
    return cond


@functools.cache
def _shipped_rules() -> Mapping[str, Rule]:
    return audit_rx.rx_rules(load_library(), "during")


def door_rules(library: Library | None = None) -> Mapping[str, Rule]:
    """The audit library's e-prescription rules (validity days, one dispensing, prescriber registered) the
    care use cases refuse by at the door (None: the shipped library) — the same rules the settlement's
    in-event audit and the after-the-fact batch run."""
    return _shipped_rules() if library is None else audit_rx.rx_rules(library, "during")


def registry(params: CareParams) -> audit_rx.Registry:
    """The internet-hospital registration (互联网诊疗医师备案) of the care parameters, as the prescriber
    rule reads it (the 医保医师库 is the audit's knowledge; not checked here)."""
    return audit_rx.Registry(
        insured=None,
        internet={
            code: ((d.internet_hospital, d.valid_from, d.valid_to),) for code, d in params.physicians.items()
        },
    )


def rx_ref(rx: Prescription, on: dt.date, dispensed_before: int = 0) -> RxRef:
    """What the audit's prescription rules read of ``rx`` dispensed (or settled) on ``on``."""
    return RxRef(rx.rx_id, rx.prescriber, rx.internet_hospital, rx.issued_on, on, dispensed_before)


def check_prescription(
    params: CareParams,
    rx: Prescription,
    today: dt.date,
    *,
    dispensed_before: int = 0,
    rules: Mapping[str, Rule] | None = None,
) -> list[Finding]:
    """The prescription checks (处方审核): the audit library's blocking prescription rules (``rules``, None:
    the shipped library's) — prescriber registered at this internet hospital on the issue day, still valid on
    ``today`` (validity days), not dispensed before — then the care scope: no drug outside the
    internet-hospital scope, supply days within the maximum.  Empty when every check passes."""
    out = [
        Finding(f.rule_code, f.reason_zh, f.reason_en)
        for f in audit_rx.check_rx(
            door_rules() if rules is None else rules, registry(params), rx_ref(rx, today, dispensed_before)
        )
        if f.severity == "block"
    ]
    if not rx.lines:
        out.append(Finding("CARE-RX-05", "处方没有药品", "prescription has no drug"))
    for i, ln in enumerate(rx.lines):
        form = ln.code[10:11] if len(ln.code) > 10 else ""
        if form in params.not_online_forms or ln.code.startswith(params.not_online_prefixes):
            out.append(
                Finding(
                    "CARE-RX-04", "药品超出互联网医院支付范围", "drug outside the internet-hospital scope", i
                )
            )
        if ln.days <= 0 or ln.days > params.rx_max_supply_days:
            out.append(
                Finding(
                    "CARE-RX-06",
                    f"用药天数须为1至{params.rx_max_supply_days}天",
                    "days of supply out of range",
                    i,
                )
            )
        if ln.units <= 0 or ln.price < 0:
            out.append(Finding("CARE-RX-07", "数量或单价无效", "invalid quantity or price", i))
    return out


def online_visit(
    params: CareParams,
    rx: Prescription,
    mdtrt_id: str,
    registered: Collection[str],
    use_account: bool = False,
    *,
    on: dt.date | None = None,
    dispensed_before: int = 0,
) -> Visit:
    """The visit the follow-up is settled as: the attached hospital's code and level, 门诊慢特病 when the
    condition is registered, the online consultation fee (policy price, offline item) plus the drugs, in the
    ``online_followup`` scene (a commercial product covering it pays in the same settlement).  The personal
    account pays what is left after the funds and the commercial product only when ``use_account``.  The
    visit carries the prescription settled on ``on`` (default the issue day), for the audit's prescription
    rules in the settlement's in-event hook."""
    ih = internet_hospital(params, rx.internet_hospital)
    cond = params.condition_for(rx.diagnosis)
    chronic = cond is not None and cond.code in registered
    med_type = params.chronic_med_type if chronic else params.other_med_type
    lines = [
        Line(
            "1", params.consult_item, QTY_ONE, params.consult_price, params.consult_price, None, rx.prescriber
        )
    ]
    for i, ln in enumerate(rx.lines, start=2):
        lines.append(
            Line(str(i), ln.code, ln.units * QTY_ONE, ln.price, ln.units * ln.price, ln.days, rx.prescriber)
        )
    return Visit(
        mdtrt_id=mdtrt_id,
        psn_no=rx.psn_no,
        med_type=med_type,
        fixmedins_code=ih.attached_to,
        hosp_lv=ih.level,
        begin_date=rx.issued_on,
        end_date=rx.issued_on,
        lines=tuple(lines),
        diagnoses=(rx.diagnosis,),
        use_account=use_account,
        bilg_dr_codg=rx.prescriber,
        scene="online_followup",
        rx=rx_ref(rx, on or rx.issued_on, dispensed_before),
    )


def delivery_charge(params: CareParams, delivered: bool) -> int:
    """The delivery fee (配送费) charged beside the insured settlement, when the drugs are delivered."""
    return params.delivery_fee if delivered else 0


def refuse_findings(findings: Sequence[Finding]) -> None:
    """Raise the first finding as a :class:`CareError` (nothing is written)."""
    if findings:
        f = findings[0]
        field = "prescription" if f.line is None else f"prescription.lines[{f.line}]"
        raise CareError(field, f.reason, f.code)
