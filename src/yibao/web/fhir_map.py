"""Pure mapping between yibao's records and FHIR R4 resources (JSON dicts), and a Claim back to a visit.

Money is written as ``Decimal`` 元 (an exact JSON number at serialisation, currency ``CNY``).  Code
systems of the national interface use ``urn:yibao:<field>`` URIs (the national platform publishes no FHIR
code systems); adjudication categories use HL7's and CARIN Blue Button's code systems so that consumer
apps built for CARIN read the amounts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from yibao.errors import FieldError
from yibao.ledger import StoredSettlement
from yibao.money import fen_to_yuan
from yibao.settlement.model import Person, Settlement

FHIR_VERSION = "4.0.1"
SID_PSN = "urn:yibao:psn_no"
SID_CERT = "urn:yibao:certno"  # 公民身份号码
SID_SETL = "urn:yibao:setl_id"
SID_MSGID = "urn:yibao:msgid"
SID_FIXMEDINS = "urn:yibao:fixmedins_code"
CS_INSUTYPE = "urn:yibao:insutype"
CS_MED_TYPE = "urn:yibao:med_type"
CS_MED_LIST = "urn:yibao:med_list_codg"  # 医保目录编码
CS_FUND = "urn:yibao:fund_pay_type"
EXT_HOSP_LV = "urn:yibao:hosp_lv"
EXT_LOCALITY = "urn:yibao:locality"
EXT_ACCT_USED = "urn:yibao:acct_used_flag"
CS_ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
CS_C4BB_ADJ = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
CS_CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
CS_ICD10 = "http://hl7.org/fhir/sid/icd-10"
C4BB = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
INSUTYPE_NAMES = {
    "310": "职工基本医疗保险",
    "390": "城乡居民基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "392": "城乡居民大病医疗保险",
    "510": "生育保险",
}
INPATIENT_MED_TYPES = frozenset({"21", "22", "52"})  # 住院 types use the inpatient EOB profile


class ClaimError(FieldError):
    """A Claim that cannot become a visit; ``field`` is a FHIRPath expression."""


def money(fen: int) -> dict[str, Any]:
    return {"value": fen_to_yuan(fen), "currency": "CNY"}


def patient(p: Person) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": p.psn_no,
        "meta": {"profile": [C4BB + "C4BB-Patient"]},
        "identifier": [{"system": SID_PSN, "value": p.psn_no}, {"system": SID_CERT, "value": p.certno}],
        "active": True,
        "name": [{"text": p.name}],
        "gender": {"M": "male", "F": "female"}.get(p.gender, "unknown"),
        "birthDate": p.birth_date.isoformat(),
    }


def coverage(p: Person) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": p.psn_no,
        "meta": {"profile": [C4BB + "C4BB-Coverage"]},
        "identifier": [{"system": SID_PSN, "value": p.psn_no}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": CS_INSUTYPE,
                    "code": p.insutype,
                    "display": INSUTYPE_NAMES.get(p.insutype, p.insutype),
                }
            ]
        },
        "subscriberId": p.psn_no,
        "beneficiary": {"reference": f"Patient/{p.psn_no}"},
        "relationship": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}
            ]
        },
        "payor": [
            {
                "identifier": {"system": "urn:yibao:admdvs", "value": p.insuplc_admdvs},
                "display": f"医疗保障局 {p.insuplc_admdvs}",
            }
        ],
        "class": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}
                    ]
                },
                "value": p.psn_type,
                "name": "人员类别 psn_type",
            }
        ],
    }


def _adj(code: str, fen: int, system: str = CS_ADJ) -> dict[str, Any]:
    return {"category": {"coding": [{"system": system, "code": code}]}, "amount": money(fen)}


def _totals(s: Settlement) -> list[dict[str, Any]]:
    return [
        _adj("submitted", s.medfee_sumamt),
        _adj("eligible", s.inscp_scp_amt),
        _adj("deductible", s.act_pay_dedc),
        _adj("noncovered", s.fulamt_ownpay_amt + s.overlmt_selfpay, CS_C4BB_ADJ),
        _adj("copay", s.preselfpay_amt),
        _adj("benefit", s.fund_pay_sumamt),
        _adj("paidbypatient", s.psn_part_amt, CS_C4BB_ADJ),
    ]


def _items(stored: StoredSettlement) -> list[dict[str, Any]]:
    out = []
    for i, ln in enumerate(stored.lines, 1):
        out.append(
            {
                "sequence": i,
                "productOrService": {"coding": [{"system": CS_MED_LIST, "code": ln.code}]},
                "quantity": {"value": Decimal(ln.qty) / 10_000},
                "unitPrice": money(ln.price),
                "net": money(ln.amount),
                "adjudication": [
                    _adj("submitted", ln.amount),
                    _adj("noncovered", ln.fulamt_ownpay_amt + ln.overlmt_selfpay, CS_C4BB_ADJ),
                    _adj("copay", ln.preselfpay_amt),
                    _adj("eligible", ln.inscp_scp_amt),
                ],
            }
        )
    return out


def _fund_notes(s: Settlement) -> list[dict[str, Any]]:
    notes = [
        {
            "number": k,
            "type": "display",
            "text": f"{d.fund_pay_type_name} ({d.fund_pay_type}) 支付 {fen_to_yuan(d.fund_payamt)} 元"
            + (f"：{d.setl_proc_info}" if d.setl_proc_info else ""),
        }
        for k, d in enumerate(s.setldetail, 1)
    ]
    notes.append(
        {
            "number": len(notes) + 1,
            "type": "display",
            "text": f"个人账户 {fen_to_yuan(s.acct_pay)} 元，现金 {fen_to_yuan(s.psn_cash_pay)} 元",
        }
    )
    return notes


def explanation_of_benefit(stored: StoredSettlement, insurer_admdvs: str) -> dict[str, Any]:
    """A CARIN-BB-style ExplanationOfBenefit (consumer view) of one stored settlement."""
    s, v = stored.settlement, stored.visit
    inpatient = v.med_type in INPATIENT_MED_TYPES
    profile = "C4BB-ExplanationOfBenefit-" + (
        "Inpatient-Institutional" if inpatient else "Outpatient-Institutional"
    )
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": stored.setl_id,
        "meta": {"profile": [C4BB + profile], "lastUpdated": stored.created},
        "identifier": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType",
                            "code": "uc",
                        }
                    ]
                },
                "system": SID_SETL,
                "value": stored.setl_id,
            }
        ],
        "status": "active" if stored.active else "cancelled",
        "type": {"coding": [{"system": CS_CLAIM_TYPE, "code": "institutional"}]},
        "subType": {"coding": [{"system": CS_MED_TYPE, "code": v.med_type}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{stored.psn_no}"},
        "billablePeriod": {"start": v.begin_date.isoformat(), "end": v.end_date.isoformat()},
        "created": stored.created,
        "insurer": {
            "identifier": {"system": "urn:yibao:admdvs", "value": insurer_admdvs},
            "display": f"医疗保障局 {insurer_admdvs}",
        },
        "provider": {"identifier": {"system": SID_FIXMEDINS, "value": v.fixmedins_code}},
        "outcome": "complete",
        "disposition": "已结算 settled" if stored.active else "已撤销 cancelled",
        "diagnosis": [
            {"sequence": k, "diagnosisCodeableConcept": {"coding": [{"system": CS_ICD10, "code": d}]}}
            for k, d in enumerate(v.diagnoses, 1)
        ],
        "insurance": [{"focal": True, "coverage": {"reference": f"Coverage/{stored.psn_no}"}}],
        "item": _items(stored),
        "total": _totals(s),
        "payment": {"amount": money(s.fund_pay_sumamt)},
        "processNote": _fund_notes(s),
    }


def claim_response(
    s: Settlement, setl_id: str, psn_no: str, msgid: str, use: str, insurer_admdvs: str, replayed: bool
) -> dict[str, Any]:
    return {
        "resourceType": "ClaimResponse",
        "id": setl_id or f"pre-{msgid}",
        "identifier": ([{"system": SID_SETL, "value": setl_id}] if setl_id else [])
        + [{"system": SID_MSGID, "value": msgid}],
        "status": "active",
        "type": {"coding": [{"system": CS_CLAIM_TYPE, "code": "institutional"}]},
        "use": use,
        "patient": {"reference": f"Patient/{psn_no}"},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "insurer": {"identifier": {"system": "urn:yibao:admdvs", "value": insurer_admdvs}},
        "outcome": "complete",
        "disposition": (
            "重复请求，返回首次结果 replayed"
            if replayed
            else "预结算，未入账 pre-settlement, nothing stored"
            if not setl_id
            else "已结算 settled"
        ),
        "total": _totals(s),
        "payment": {
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype", "code": "complete"}
                ]
            },
            "amount": money(s.fund_pay_sumamt),
        },
        "processNote": _fund_notes(s),
    }


def _codes(cc: Any) -> list[tuple[str | None, str | None]]:
    return [(c.get("system"), c.get("code")) for c in (cc or {}).get("coding") or []]


def _ref_id(ref: Any, kind: str, field: str) -> str:
    r = (ref or {}).get("reference") or ""
    if r.startswith(kind + "/") and len(r) > len(kind) + 1:
        return str(r[len(kind) + 1 :])
    ident = (ref or {}).get("identifier") or {}
    if ident.get("value"):
        return str(ident["value"])
    raise ClaimError(field, f"must reference {kind}/<id> or carry an identifier", "missing")


def _ext(exts: Any, url: str) -> str | None:
    for e in exts or []:
        if e.get("url") == url:
            for k, v in e.items():
                if k.startswith("value"):
                    return str(v)
    return None


def claim_to_visit(claim: dict[str, Any]) -> tuple[dict[str, Any], str, bool]:
    """(visit JSON for :func:`yibao.settlement.io.parse_visit`, msgid, pre) from a structurally valid
    Claim dict.  ``Claim.use``: ``claim`` → settle (2207); ``preauthorization``/``predetermination`` →
    pre-settle (2206).  ``Claim.identifier[0].value`` is the msgid (idempotency key)."""
    use = claim.get("use")
    if use not in ("claim", "preauthorization", "predetermination"):
        raise ClaimError("Claim.use", f"{use!r} is not claim, preauthorization or predetermination")
    idents = claim.get("identifier") or []
    msgid = next((i.get("value") for i in idents if i.get("value")), None)
    if not msgid:
        raise ClaimError("Claim.identifier", "one identifier (the msgid) is required", "missing")
    med_type = next((c for s, c in _codes(claim.get("subType")) if s == CS_MED_TYPE), None)
    if not med_type:
        raise ClaimError(
            "Claim.subType", f"a coding with system {CS_MED_TYPE} (med_type) is required", "missing"
        )
    period = claim.get("billablePeriod") or {}
    items = claim.get("item") or []
    if not items:
        raise ClaimError("Claim.item", "at least one item is required", "missing")
    lines = []
    for k, it in enumerate(items):
        code = next(
            (c for s, c in _codes(it.get("productOrService")) if s in (CS_MED_LIST, None) and c), None
        )
        if not code:
            raise ClaimError(
                f"Claim.item[{k}].productOrService",
                f"a coding with system {CS_MED_LIST} is required",
                "missing",
            )
        for fld in ("quantity", "unitPrice", "net"):
            if (it.get(fld) or {}).get("value") is None:
                raise ClaimError(f"Claim.item[{k}].{fld}", "is required", "missing")
        for fld in ("unitPrice", "net"):
            cur = it[fld].get("currency")
            if cur not in (None, "CNY"):
                raise ClaimError(f"Claim.item[{k}].{fld}.currency", f"{cur!r} is not CNY")
        lines.append(
            {
                "feedetl_sn": str(it.get("sequence", k + 1)),
                "med_list_codg": code,
                "cnt": str(it["quantity"]["value"]),
                "pric": str(it["unitPrice"]["value"]),
                "det_item_fee_sumamt": str(it["net"]["value"]),
            }
        )
    diagnoses = [
        c for d in claim.get("diagnosis") or [] for _, c in _codes(d.get("diagnosisCodeableConcept"))[:1] if c
    ]
    visit = {
        "mdtrt_id": msgid if not claim.get("id") else claim["id"],
        "psn_no": _ref_id(claim.get("patient"), "Patient", "Claim.patient"),
        "med_type": med_type,
        "fixmedins_code": _ref_id(claim.get("provider"), "Organization", "Claim.provider"),
        "hosp_lv": _ext(claim.get("extension"), EXT_HOSP_LV) or "",
        "begntime": period.get("start") or claim.get("created") or "",
        "endtime": period.get("end") or "",
        "locality": _ext(claim.get("extension"), EXT_LOCALITY) or "local",
        "acct_used_flag": _ext(claim.get("extension"), EXT_ACCT_USED) or "1",
        "diagnoses": diagnoses,
        "feedetail": lines,
    }
    return visit, str(msgid), use != "claim"


VISIT_FIELD_TO_FHIR = {
    "mdtrt_id": "Claim.id",
    "psn_no": "Claim.patient",
    "med_type": "Claim.subType",
    "fixmedins_code": "Claim.provider",
    "hosp_lv": f"Claim.extension('{EXT_HOSP_LV}')",
    "begntime": "Claim.billablePeriod.start",
    "endtime": "Claim.billablePeriod.end",
    "locality": f"Claim.extension('{EXT_LOCALITY}')",
    "acct_used_flag": f"Claim.extension('{EXT_ACCT_USED}')",
    "feedetail": "Claim.item",
}
LINE_FIELD_TO_FHIR = {
    "cnt": "quantity",
    "pric": "unitPrice",
    "det_item_fee_sumamt": "net",
    "med_list_codg": "productOrService",
    "feedetl_sn": "sequence",
}


def fhir_expression(visit_field: str) -> str:
    """The Claim path of a visit-JSON field named in a ``SettlementError``."""
    if visit_field.startswith("feedetail["):
        head, _, tail = visit_field.partition("].")
        return f"Claim.item[{head[len('feedetail[') :]}]." + LINE_FIELD_TO_FHIR.get(tail, tail)
    return VISIT_FIELD_TO_FHIR.get(visit_field, visit_field)
