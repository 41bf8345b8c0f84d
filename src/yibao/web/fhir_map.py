"""Pure mapping between yibao's records and FHIR R4 resources (JSON dicts), and a Claim back to a visit.

Money is written as ``Decimal`` 元 (an exact JSON number at serialisation, currency ``CNY``).  yibao's own
code systems (national code tables and the region's tables) keep their ``urn:yibao:<field>`` URIs and
are published as CodeSystem resources (:func:`code_system`) with Chinese displays and English
designations.  Adjudication, claim type and the CARIN Blue Button (C4BB, version 2.2.0) code systems are
used where they say what we mean, so that consumer apps built for CARIN read the amounts.

Profiles claimed (``meta.profile``, versioned) are only those the resource built meets:
C4BB-Patient, C4BB-Coverage, C4BB-Organization, and on an ExplanationOfBenefit
C4BB-ExplanationOfBenefit-Inpatient-Institutional or -Outpatient-Institutional when its required
bindings can be met truthfully: every diagnosis has an ICD-10-CM equivalent in the crosswalk
(``fhir_codes.yaml``), every inpatient line a NUBC revenue class from its charge category, and lines
say that no US procedure code applies (data-absent-reason ``not-applicable``, in the bound value set).
Such an EOB names the billing physician in a process note instead of ``careTeam``: C4BB requires the
care team's practitioner to be a C4BB-Practitioner (NPI or US tax id), which the 医保医师库 cannot
give.  Other EOBs (designated-pharmacy purchases, diagnoses without an equivalent) claim no profile
(docs/FHIR.md).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from yibao.errors import FieldError
from yibao.ledger import StoredSettlement
from yibao.money import fen_to_yuan, fmt_yuan
from yibao.policy import diagnoses as dx
from yibao.settlement.model import Line, LineSplit, Person, Settlement, Visit

FHIR_VERSION = "4.0.1"
SID_PSN = "urn:yibao:psn_no"
SID_CERT = "urn:yibao:certno"  # 公民身份号码
SID_SETL = "urn:yibao:setl_id"
SID_MSGID = "urn:yibao:msgid"
SID_FIXMEDINS = "urn:yibao:fixmedins_code"
SID_ADMDVS = "urn:yibao:admdvs"
SID_DR = "urn:yibao:dr_code"  # 医保医师代码
CS_INSUTYPE = "urn:yibao:insutype"
CS_MED_TYPE = "urn:yibao:med_type"
CS_MED_LIST = "urn:yibao:med_list_codg"  # 医保目录编码
CS_FUND = "urn:yibao:fund_pay_type"
CS_PSN_TYPE = "urn:yibao:psn_type"
CS_HOSP_LV = "urn:yibao:hosp_lv"
CS_CHRGITM_LV = "urn:yibao:chrgitm_lv"
CS_TITLE = "urn:yibao:title"
EXT_HOSP_LV = "urn:yibao:hosp_lv"
EXT_LOCALITY = "urn:yibao:locality"
EXT_ACCT_USED = "urn:yibao:acct_used_flag"
CS_ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
CS_CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
CS_ICD10 = "http://hl7.org/fhir/sid/icd-10"
CS_ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CS_NUBC_REVENUE = "https://www.nubc.org/CodeSystem/RevenueCodes"
CS_DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CS_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CS_DIAG_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
CS_CARE_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
CS_SOPT = "https://nahdo.org/sopt"  # Source of Payment Typology (US Core Coverage.type, extensible)
CARIN = "http://hl7.org/fhir/us/carin-bb/"
C4BB = CARIN + "StructureDefinition/"
C4BB_VERSION = "2.2.0"
CS_C4BB_ADJ = CARIN + "CodeSystem/C4BBAdjudication"
CS_C4BB_DISC = CARIN + "CodeSystem/C4BBAdjudicationDiscriminator"
CS_C4BB_STATUS = CARIN + "CodeSystem/C4BBPayerAdjudicationStatus"
CS_C4BB_SUBTYPE = CARIN + "CodeSystem/C4BBInstitutionalClaimSubType"
CS_C4BB_INFO = CARIN + "CodeSystem/C4BBSupportingInfoType"
CS_C4BB_IDTYPE = CARIN + "CodeSystem/C4BBIdentifierType"
CS_C4BB_DIAG = CARIN + "CodeSystem/C4BBClaimDiagnosisType"
PROFILE_PATIENT = f"{C4BB}C4BB-Patient|{C4BB_VERSION}"
PROFILE_COVERAGE = f"{C4BB}C4BB-Coverage|{C4BB_VERSION}"
PROFILE_ORGANIZATION = f"{C4BB}C4BB-Organization|{C4BB_VERSION}"
PROFILE_EOB_INPATIENT = f"{C4BB}C4BB-ExplanationOfBenefit-Inpatient-Institutional|{C4BB_VERSION}"
PROFILE_EOB_OUTPATIENT = f"{C4BB}C4BB-ExplanationOfBenefit-Outpatient-Institutional|{C4BB_VERSION}"
INPATIENT_MED_TYPES = frozenset({"21", "22", "52"})  # 住院 types: CARIN subType inpatient
# 定点药店购药: a retail pharmacy purchase, not an institutional claim; C4BB-ExplanationOfBenefit-Pharmacy needs
# NDC product codes and NCPDP days-supply / dispense-as-written / refill data, so no profile is claimed
PHARMACY_MED_TYPES = frozenset({"41"})
XHTML = "http://www.w3.org/1999/xhtml"
# 复姓 (two-character surnames) of the Hundred Family Surnames; any other name's surname is its first character
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 端木 独孤 南宫 西门 "
    "闻人 万俟 澹台 公冶 宗政 濮阳 太叔 申屠 赫连 呼延 百里 东郭 拓跋 第五".split()
)
CodeNames = Mapping[str, tuple[str, str]]  # code -> (Chinese, English)


class ClaimError(FieldError):
    """A Claim that cannot become a visit; ``field`` is a FHIRPath expression."""


@dataclass(frozen=True)
class Names:
    """What the mapping needs to name things: the region's and the national code tables, and which
    institutions and physicians the server can serve (so that references are only made to resources that
    resolve)."""

    admdvs: str
    region_name: str
    med_type: CodeNames = field(default_factory=dict)
    insutype: CodeNames = field(default_factory=dict)
    psn_type: CodeNames = field(default_factory=dict)
    funds: CodeNames = field(default_factory=dict)
    catalogue: Callable[[dt.date, str], tuple[str, str] | None] = lambda _d, _c: None
    institution: Callable[[str], str | None] = lambda _c: None  # name of a served Organization
    physician: Callable[[str], bool] = lambda _c: False  # is there a served Practitioner
    category: Callable[[dt.date, str], str | None] = lambda _d, _c: None  # med_chrgitm_type of a line
    # ICD-10 (no dot) -> (ICD-10-CM equivalent, ICD-10 prefixes that, also on the claim, void it)
    icd10cm: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    revenue: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)  # category -> (zh, en, NUBC)

    @property
    def payer_id(self) -> str:
        return f"ybj-{self.admdvs}"

    @property
    def payer_name(self) -> str:
        return f"{self.region_name}医疗保障局"


def money(fen: int) -> dict[str, Any]:
    return {"value": fen_to_yuan(fen), "currency": "CNY"}


def coding(system: str, code: str, names: CodeNames | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if names is not None and code in names:
        out["display"] = names[code][0]
    return out


def narrative(paragraphs: Sequence[str]) -> dict[str, Any]:
    """A generated narrative (a short Chinese text for generic viewers), escaped XHTML."""
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def split_name(full: str) -> tuple[str, str]:
    """(surname 姓, given name 名) of a Chinese full name; a name that is not one run of Han characters
    is returned whole as the given name."""
    name = full.strip()
    if len(name) < 2 or not all("\u4e00" <= ch <= "\u9fff" for ch in name):
        return "", name
    k = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:k], name[k:]


def instant(value: str | None, fallback: dt.datetime) -> str:
    """An ISO instant with seconds and a zone (FHIR ``instant``)."""
    if value:
        t = dt.datetime.fromisoformat(value)
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return t.isoformat()
    return fallback.isoformat(timespec="seconds")


def beijing_date(value: str) -> str:
    """The Beijing calendar date of a stored UTC timestamp."""
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t.astimezone(dt.timezone(dt.timedelta(hours=8)))).date().isoformat()


def _ref(kind: str, rid: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": f"{kind}/{rid}"}
    if display:
        out["display"] = display
    return out


def payer_ref(names: Names) -> dict[str, Any]:
    return _ref("Organization", names.payer_id, names.payer_name)


def provider_ref(names: Names, code: str) -> dict[str, Any]:
    """``Organization/<code>`` when the server serves it, else the identifier alone (never a dangling
    reference)."""
    name = names.institution(code)
    if name is not None:
        return _ref("Organization", code, name)
    return {"identifier": {"system": SID_FIXMEDINS, "value": code}}


# ---------------------------------------------------------------------------- Patient, Coverage
def patient(p: Person, last_updated: str, *, with_certno: bool = True) -> dict[str, Any]:
    """C4BB-Patient: the member id (psn_no, type MB), the ID number (type NI, not given to third-party
    apps), the name as surname and given name, gender, birth date."""
    family, given = split_name(p.name)
    name: dict[str, Any] = {"use": "official", "text": p.name}
    if family:
        name["family"] = family
    if given:
        name["given"] = [given]
    idents: list[dict[str, Any]] = [
        {
            "type": {"coding": [{"system": CS_V2_0203, "code": "MB", "display": "Member Number"}]},
            "system": SID_PSN,
            "value": p.psn_no,
        }
    ]
    if with_certno:
        idents.append(
            {
                "type": {
                    "coding": [
                        {
                            "system": CS_V2_0203,
                            "code": "NI",
                            "display": "National unique individual identifier",
                        }
                    ]
                },
                "system": SID_CERT,
                "value": p.certno,
            }
        )
    gender = {"M": "male", "F": "female"}.get(p.gender, "unknown")
    return {
        "resourceType": "Patient",
        "id": p.psn_no,
        "meta": {"lastUpdated": last_updated, "profile": [PROFILE_PATIENT]},
        "text": narrative(
            [
                f"参保人 {p.name}（人员编号 {p.psn_no}），{ {'male': '男', 'female': '女'}.get(gender, '性别未知') }，"
                f"出生日期 {p.birth_date.isoformat()}。"
            ]
        ),
        "identifier": idents,
        "active": True,
        "name": [name],
        "gender": gender,
        "birthDate": p.birth_date.isoformat(),
    }


def coverage(p: Person, last_updated: str, names: Names) -> dict[str, Any]:
    """C4BB-Coverage: the person's basic medical insurance with the bureau as payor."""
    scheme = names.insutype.get(p.insutype, (p.insutype, p.insutype))
    ptype = names.psn_type.get(p.psn_type, (p.psn_type, p.psn_type))
    return {
        "resourceType": "Coverage",
        "id": p.psn_no,
        "meta": {"lastUpdated": last_updated, "profile": [PROFILE_COVERAGE]},
        "text": narrative(
            [
                f"{p.name}（人员编号 {p.psn_no}）参加{scheme[0]}，人员类别：{ptype[0]}，"
                f"参保地 {names.payer_name}。"
            ]
        ),
        "identifier": [
            {
                "type": {"coding": [{"system": CS_V2_0203, "code": "MB", "display": "Member Number"}]},
                "system": SID_PSN,
                "value": p.psn_no,
            }
        ],
        "status": "active",
        "type": {
            "coding": [
                coding(CS_INSUTYPE, p.insutype, names.insutype),
                # PHDSC Source of Payment Typology 3: other government (a public scheme run by a city)
                {
                    "system": CS_SOPT,
                    "code": "3",
                    "display": "OTHER GOVERNMENT (Federal/State/Local) (excluding Department of Corrections)",
                },
            ],
            "text": scheme[0],
        },
        "subscriberId": p.psn_no,
        "beneficiary": _ref("Patient", p.psn_no, p.name),
        "relationship": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                    "code": "self",
                    "display": "Self",
                }
            ]
        },
        "payor": [payer_ref(names)],
        "class": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}
                    ]
                },
                "value": p.insutype,
                "name": scheme[0],
            },
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}
                    ]
                },
                "value": p.psn_type,
                "name": ptype[0],
            },
        ],
    }


# ---------------------------------------------------------------------------- directory
def payer_organization(names: Names, last_updated: str) -> dict[str, Any]:
    """The bureau (医疗保障局) of the pooling region: insurer of every EOB, payor of every Coverage."""
    return {
        "resourceType": "Organization",
        "id": names.payer_id,
        "meta": {"lastUpdated": last_updated, "profile": [PROFILE_ORGANIZATION]},
        "text": narrative([f"{names.payer_name}（统筹区 {names.admdvs}），基本医疗保险经办机构。"]),
        "identifier": [{"system": SID_ADMDVS, "value": names.admdvs}],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "pay",
                        "display": "Payer",
                    }
                ]
            }
        ],
        "name": names.payer_name,
        "address": [{"city": names.region_name, "country": "CN"}],
    }


@dataclass(frozen=True)
class InstitutionInfo:
    code: str
    name: str
    level: str
    district: str


@dataclass(frozen=True)
class PhysicianInfo:
    dr_code: str
    fixmedins_code: str
    title: str


def organization(inst: InstitutionInfo, names: Names, levels: CodeNames, last_updated: str) -> dict[str, Any]:
    """A designated institution (定点医药机构) as C4BB-Organization."""
    level = levels.get(inst.level, (inst.level, inst.level))[0] if inst.level else ""
    address: dict[str, Any] = {"city": names.region_name, "country": "CN"}
    if inst.district:
        address["district"] = inst.district
    kinds: list[dict[str, Any]] = [
        {
            "system": "http://terminology.hl7.org/CodeSystem/organization-type",
            "code": "prov",
            "display": "Healthcare Provider",
        }
    ]
    if inst.level:
        kinds.append(coding(CS_HOSP_LV, inst.level, levels))
    where = "".join(x for x in ("，" + level if level else "", "，" + inst.district if inst.district else ""))
    return {
        "resourceType": "Organization",
        "id": inst.code,
        "meta": {"lastUpdated": last_updated, "profile": [PROFILE_ORGANIZATION]},
        "text": narrative([f"{inst.name}（定点医药机构编号 {inst.code}）{where}。"]),
        "identifier": [{"system": SID_FIXMEDINS, "value": inst.code}],
        "active": True,
        "type": [{"coding": kinds}],
        "name": inst.name,
        "address": [address],
    }


def location(inst: InstitutionInfo, names: Names, last_updated: str) -> dict[str, Any]:
    """Where a designated institution is (its district), managed by that institution."""
    address: dict[str, Any] = {"city": names.region_name, "country": "CN"}
    if inst.district:
        address["district"] = inst.district
    return {
        "resourceType": "Location",
        "id": inst.code,
        "meta": {"lastUpdated": last_updated},
        "text": narrative([f"{inst.name}，{names.region_name}{inst.district}。"]),
        "identifier": [{"system": SID_FIXMEDINS, "value": inst.code}],
        "status": "active",
        "name": inst.name,
        "mode": "instance",
        "address": address,
        "managingOrganization": _ref("Organization", inst.code, inst.name),
    }


def practitioner(
    dr: PhysicianInfo, titles: CodeNames, inst_name: str | None, last_updated: str
) -> dict[str, Any]:
    """A physician of the 医保医师库: code and professional title (the registry holds no names)."""
    title = titles.get(dr.title, (dr.title, dr.title))
    qual: dict[str, Any] = {"code": {"coding": [coding(CS_TITLE, dr.title, titles)], "text": title[0]}}
    if inst_name is not None:
        qual["issuer"] = _ref("Organization", dr.fixmedins_code, inst_name)
    return {
        "resourceType": "Practitioner",
        "id": dr.dr_code,
        "meta": {"lastUpdated": last_updated},
        "text": narrative(
            [f"医保医师 {dr.dr_code}，{title[0]}" + (f"，执业于{inst_name}" if inst_name else "") + "。"]
        ),
        "identifier": [{"system": SID_DR, "value": dr.dr_code}],
        "active": True,
        "qualification": [qual],
    }


# ---------------------------------------------------------------------------- ExplanationOfBenefit
def _cat(code: str, system: str = CS_ADJ, extra: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}, *extra]}


def _adj(code: str, fen: int, system: str = CS_ADJ, extra: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"category": _cat(code, system, extra), "amount": money(fen)}


def _fund_adj(fund: str, fen: int, names: Names) -> dict[str, Any]:
    """A fund's share (统筹基金, 大额补助, 大病保险, 医疗救助 …) as an additional adjudication entry with
    the national fund code as its category (C4BB's adjudication slices are open; ``benefit`` carries
    the sum)."""
    return {"category": {"coding": [coding(CS_FUND, fund, names.funds)]}, "amount": money(fen)}


def _totals(s: Settlement, names: Names) -> list[dict[str, Any]]:
    out = [
        _adj("submitted", s.medfee_sumamt),
        _adj("eligible", s.inscp_scp_amt),
        _adj("deductible", s.act_pay_dedc),
        _adj("noncovered", s.fulamt_ownpay_amt + s.overlmt_selfpay, CS_C4BB_ADJ),
        _adj("copay", s.preselfpay_amt),
        _adj("benefit", s.fund_pay_sumamt),
        _adj("paidbypatient", s.psn_part_amt, CS_C4BB_ADJ),
        _adj("paidbypatienthealthaccount", s.acct_pay, CS_C4BB_ADJ),
        _adj("paidbypatientcash", s.psn_cash_pay, CS_C4BB_ADJ),
    ]
    by_fund: dict[str, int] = {}
    for d in s.setldetail:
        by_fund[d.fund_pay_type] = by_fund.get(d.fund_pay_type, 0) + d.fund_payamt
    return out + [_fund_adj(f, fen, names) for f, fen in sorted(by_fund.items()) if fen]


def line_adjudication(sp: LineSplit, names: Names) -> list[dict[str, Any]]:
    """One line's amounts exactly as the settlement allocated them (yibao.settlement.allocation):
    submitted = noncovered + copay (先行自付) + eligible (政策范围内); the deductible; ``benefit`` (what the
    funds paid) and, after it, one entry per fund that paid with the national fund code as category;
    paid by the patient from the account and in cash."""
    funds = sorted((f, fen) for f, fen in sp.fund_pay.items() if fen)
    return [
        _adj("submitted", sp.amount),
        _adj("noncovered", sp.fulamt_ownpay_amt + sp.overlmt_selfpay, CS_C4BB_ADJ),
        _adj("copay", sp.preselfpay_amt),
        _adj("eligible", sp.inscp_scp_amt),
        _adj("deductible", sp.act_pay_dedc),
        _adj("benefit", sum(fen for _f, fen in funds)),
        *(_fund_adj(f, fen, names) for f, fen in funds),
        _adj("paidbypatienthealthaccount", sp.acct_pay, CS_C4BB_ADJ),
        _adj("paidbypatientcash", sp.psn_cash_pay, CS_C4BB_ADJ),
        _adj("paidbypatient", sp.acct_pay + sp.psn_cash_pay, CS_C4BB_ADJ),
    ]


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


def _eob_text(stored: StoredSettlement, names: Names) -> dict[str, Any]:
    s, v = stored.settlement, stored.visit
    kind = names.med_type.get(v.med_type, (v.med_type, v.med_type))[0]
    where = names.institution(v.fixmedins_code) or f"定点医药机构 {v.fixmedins_code}"
    when = (
        v.begin_date.isoformat()
        if v.begin_date == v.end_date
        else f"{v.begin_date.isoformat()} 至 {v.end_date.isoformat()}"
    )
    funds = "、".join(
        f"{d.fund_pay_type_name} {fmt_yuan(d.fund_payamt)} 元" for d in s.setldetail if d.fund_payamt
    )
    lines = [
        f"{when} 在{where}{kind}，医疗费用总额 {fmt_yuan(s.medfee_sumamt)} 元。",
        f"医保基金支付 {fmt_yuan(s.fund_pay_sumamt)} 元" + (f"（{funds}）" if funds else "") + "；"
        f"个人负担 {fmt_yuan(s.psn_part_amt)} 元，其中个人账户 {fmt_yuan(s.acct_pay)} 元、现金 {fmt_yuan(s.psn_cash_pay)} 元。",
        f"其中起付线 {fmt_yuan(s.act_pay_dedc)} 元，全自费 {fmt_yuan(s.fulamt_ownpay_amt)} 元，"
        f"超限价 {fmt_yuan(s.overlmt_selfpay)} 元，先行自付 {fmt_yuan(s.preselfpay_amt)} 元。",
    ]
    if not stored.active:
        lines.append("该结算已撤销。")
    return narrative(lines)


def icd10cm_of(code: str, names: Names, claim: Sequence[str] = ()) -> str | None:
    """The ICD-10-CM code meaning the same as an ICD-10 (国家临床版) code on a claim with diagnoses
    ``claim``, from the crosswalk; the national extension after the fourth character (``J18.900``) and
    after a three-character category's ``x`` placeholder (``I10.x00``) is not part of the match."""
    key = code.replace(".", "").upper()
    found = names.icd10cm.get(key) or names.icd10cm.get(key[:4])
    if found is None and key[3:4] == "X":
        found = names.icd10cm.get(key[:3])
    if found is None:
        return None
    cm, unless = found
    others = [d.replace(".", "").upper() for d in claim]
    return None if any(d.startswith(p) for d in others for p in unless) else cm


def _diagnosis(k: int, code: str, names: Names, claim: Sequence[str]) -> dict[str, Any]:
    codes = [{"system": CS_ICD10, "code": code}]
    cm = icd10cm_of(code, names, claim)
    if cm is not None:
        codes.append({"system": CS_ICD10CM, "code": cm})
    return {
        "sequence": k,
        "diagnosisCodeableConcept": {"coding": codes},
        "type": [
            {"coding": [{"system": CS_DIAG_TYPE, "code": "principal", "display": "Principal Diagnosis"}]}
            if k == 1
            else {"coding": [{"system": CS_C4BB_DIAG, "code": "other", "display": "Other"}]}
        ],
    }


def eob_profile(stored: StoredSettlement, names: Names) -> str | None:
    """The C4BB institutional EOB profile this settlement's EOB meets, or None (see the module doc)."""
    v = stored.visit
    if v.med_type in PHARMACY_MED_TYPES or not v.diagnoses:
        return None
    if any(icd10cm_of(d, names, v.diagnoses) is None for d in v.diagnoses):
        return None
    if v.med_type not in INPATIENT_MED_TYPES:
        return PROFILE_EOB_OUTPATIENT
    if any(names.revenue.get(names.category(v.begin_date, ln.code) or "") is None for ln in v.lines):
        return None  # inpatient lines need a revenue code (1..1)
    return PROFILE_EOB_INPATIENT


def _item(i: int, ln: Line, sp: LineSplit, v: Visit, names: Names) -> dict[str, Any]:
    product = coding(CS_MED_LIST, ln.code)
    named = names.catalogue(v.begin_date, ln.code)
    if named is not None:
        product["display"] = named[0]
    # no US procedure code applies to a 医保目录 line: C4BBEOBInstitutionalProcedureCodes has
    # data-absent-reason not-applicable for that
    absent = {"system": CS_DAR, "code": "not-applicable", "display": "Not Applicable"}
    item: dict[str, Any] = {
        "sequence": i,
        "productOrService": {"coding": [product, absent]} | ({"text": named[0]} if named else {}),
    }
    rev = names.revenue.get(names.category(v.begin_date, ln.code) or "")
    if rev is not None:
        item["revenue"] = {"coding": [{"system": CS_NUBC_REVENUE, "code": rev[2]}], "text": rev[0]}
    return item | {
        "servicedDate": v.begin_date.isoformat(),
        "quantity": {"value": Decimal(ln.qty) / 10_000},
        "unitPrice": money(ln.price),
        "net": money(ln.amount),
        "adjudication": line_adjudication(sp, names),
    }


def explanation_of_benefit(stored: StoredSettlement, names: Names, last_updated: str) -> dict[str, Any]:
    """The consumer view of one stored settlement in the CARIN institutional EOB structure, claiming
    C4BB-ExplanationOfBenefit-Inpatient/Outpatient-Institutional where it meets it (:func:`eob_profile`).
    Line amounts are the stored allocation; the national fund splits are additional adjudications."""
    s, v = stored.settlement, stored.visit
    inpatient = v.med_type in INPATIENT_MED_TYPES
    profile = eob_profile(stored, names)
    received = beijing_date(stored.created)
    info: list[dict[str, Any]] = []
    if inpatient:
        info.append(
            {
                "sequence": 1,
                "category": _cat("admissionperiod", CS_C4BB_INFO),
                "timingPeriod": {"start": v.begin_date.isoformat(), "end": v.end_date.isoformat()},
            }
        )
    info.append(
        {"sequence": len(info) + 1, "category": _cat("clmrecvddate", CS_C4BB_INFO), "timingDate": received}
    )
    items = [
        _item(i, ln, sp, v, names) for i, (ln, sp) in enumerate(zip(v.lines, s.line_splits, strict=True), 1)
    ]
    network = "outofnetwork" if v.locality == "remote_unfiled" else "innetwork"
    meta: dict[str, Any] = {"lastUpdated": last_updated}
    if profile is not None:
        meta["profile"] = [profile]
    eob: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": stored.setl_id,
        "meta": meta,
        "text": _eob_text(stored, names),
        "identifier": [
            {
                "type": {"coding": [{"system": CS_C4BB_IDTYPE, "code": "uc", "display": "Unique Claim ID"}]},
                "system": SID_SETL,
                "value": stored.setl_id,
            }
        ],
        "status": "active" if stored.active else "cancelled",
        "type": {"coding": [{"system": CS_CLAIM_TYPE, "code": "institutional", "display": "Institutional"}]},
        "subType": {
            "coding": [
                {"system": CS_C4BB_SUBTYPE, "code": "inpatient" if inpatient else "outpatient"},
                coding(CS_MED_TYPE, v.med_type, names.med_type),
            ]
        },
        "use": "claim",
        "patient": _ref("Patient", stored.psn_no),
        "billablePeriod": {"start": v.begin_date.isoformat(), "end": v.end_date.isoformat()},
        "created": instant(stored.created, dt.datetime.now(dt.UTC)),
        "insurer": payer_ref(names),
        "provider": provider_ref(names, v.fixmedins_code),
        "outcome": "complete",
        "disposition": "已结算 settled" if stored.active else "已撤销 cancelled",
        "supportingInfo": info,
        "diagnosis": [_diagnosis(k, d, names, v.diagnoses) for k, d in enumerate(v.diagnoses, 1)],
        "insurance": [{"focal": True, "coverage": _ref("Coverage", stored.psn_no)}],
        "item": items,
        "adjudication": [
            {
                "category": _cat("benefitpaymentstatus", CS_C4BB_DISC),
                "reason": {"coding": [{"system": CS_C4BB_STATUS, "code": network}]},
            },
            {
                "category": _cat("billingnetworkstatus", CS_C4BB_DISC),
                "reason": {"coding": [{"system": CS_C4BB_STATUS, "code": network}]},
            },
        ],
        "total": _totals(s, names),
        "processNote": _fund_notes(s),
    }
    if names.institution(v.fixmedins_code) is not None:
        eob["facility"] = _ref("Location", v.fixmedins_code)
    if v.bilg_dr_codg and profile is not None:
        eob["processNote"].append(
            {
                "number": len(eob["processNote"]) + 1,
                "type": "display",
                "text": f"开单医生：医保医师 {v.bilg_dr_codg}",
            }
        )
    elif v.bilg_dr_codg:
        dr = (
            _ref("Practitioner", v.bilg_dr_codg)
            if names.physician(v.bilg_dr_codg)
            else {"identifier": {"system": SID_DR, "value": v.bilg_dr_codg}}
        )
        eob["careTeam"] = [
            {"sequence": 1, "provider": dr, "role": {"coding": [{"system": CS_CARE_ROLE, "code": "primary"}]}}
        ]
    if stored.active:
        eob["payment"] = {
            "type": {"coding": [{"system": CS_C4BB_STATUS, "code": "paid", "display": "Paid"}]},
            "date": received,
            "amount": money(s.fund_pay_sumamt),
        }
    return eob


def claim(stored: StoredSettlement, names: Names) -> dict[str, Any]:
    """The Claim that was settled, rebuilt from the stored visit (what the institution submitted)."""
    v = stored.visit
    return {
        "resourceType": "Claim",
        "id": stored.setl_id,
        "identifier": [{"system": SID_MSGID, "value": stored.msgid}],
        "status": "active" if stored.active else "cancelled",
        "type": {"coding": [{"system": CS_CLAIM_TYPE, "code": "institutional"}]},
        "subType": {"coding": [coding(CS_MED_TYPE, v.med_type, names.med_type)]},
        "use": "claim",
        "patient": _ref("Patient", stored.psn_no),
        "billablePeriod": {"start": v.begin_date.isoformat(), "end": v.end_date.isoformat()},
        "created": instant(stored.created, dt.datetime.now(dt.UTC)),
        "insurer": payer_ref(names),
        "provider": provider_ref(names, v.fixmedins_code),
        "priority": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
        },
        "diagnosis": [
            {"sequence": k, "diagnosisCodeableConcept": {"coding": [{"system": CS_ICD10, "code": d}]}}
            for k, d in enumerate(v.diagnoses, 1)
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": _ref("Coverage", stored.psn_no)}],
        "item": [
            {
                "sequence": i,
                "productOrService": {"coding": [coding(CS_MED_LIST, ln.code)]},
                "quantity": {"value": Decimal(ln.qty) / 10_000},
                "unitPrice": money(ln.price),
                "net": money(ln.amount),
            }
            for i, ln in enumerate(v.lines, 1)
        ],
        "total": money(sum(ln.amount for ln in v.lines)),
    }


def claim_response(
    s: Settlement,
    setl_id: str,
    psn_no: str,
    msgid: str,
    use: str,
    names: Names,
    replayed: bool,
    created: str | None = None,
) -> dict[str, Any]:
    """The adjudication of a Claim: the totals and fund notes of its settlement.  A stored settlement's
    ClaimResponse has the settlement's id and points at ``Claim/<setl_id>``."""
    out: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": setl_id or f"pre-{msgid}",
        "identifier": ([{"system": SID_SETL, "value": setl_id}] if setl_id else [])
        + [{"system": SID_MSGID, "value": msgid}],
        "status": "active",
        "type": {"coding": [{"system": CS_CLAIM_TYPE, "code": "institutional"}]},
        "use": use,
        "patient": _ref("Patient", psn_no),
        "created": instant(created, dt.datetime.now(dt.UTC)),
        "insurer": payer_ref(names),
        "outcome": "complete",
        "disposition": (
            "重复请求，返回首次结果 replayed"
            if replayed
            else "预结算，未入账 pre-settlement, nothing stored"
            if not setl_id
            else "已结算 settled"
        ),
        "total": _totals(s, names),
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
    if setl_id:
        out["request"] = _ref("Claim", setl_id)
    return out


# ---------------------------------------------------------------------------- CodeSystem
@dataclass(frozen=True)
class CodeTable:
    """One published code system: id, canonical url, title, source and concepts (code → names)."""

    id: str
    url: str
    title: str
    source: str
    concepts: CodeNames
    properties: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # code -> {prop: code}


def code_system(t: CodeTable, version: str, date: str) -> dict[str, Any]:
    """A complete CodeSystem: Chinese display, English designation, the source of the table."""
    concepts = []
    for code, (zh, en) in t.concepts.items():
        c: dict[str, Any] = {"code": code, "display": zh}
        if en and en != zh:
            c["designation"] = [{"language": "en", "value": en}]
        props = t.properties.get(code)
        if props:
            c["property"] = [{"code": k, "valueCode": v} for k, v in props.items()]
        concepts.append(c)
    out: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": t.id,
        "meta": {"lastUpdated": date},
        "text": narrative([f"{t.title}：{len(concepts)} 个代码。来源：{t.source}"]),
        "url": t.url,
        "version": version,
        "name": "".join(ch for ch in t.id.title() if ch.isalnum()),
        "title": t.title,
        "status": "active",
        "experimental": False,
        "date": date,
        "publisher": "yibao",
        "description": f"来源 source: {t.source}",
        "language": "zh-CN",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }
    if t.properties:
        keys = sorted({k for props in t.properties.values() for k in props})
        out["property"] = [{"code": k, "type": "code"} for k in keys]
    return out


def _codes(cc: Any) -> list[tuple[str | None, str | None]]:
    return [(c.get("system"), c.get("code")) for c in (cc or {}).get("coding") or []]


def _ref_id(ref: Any, kind: str, field: str) -> str:
    r = (ref or {}).get("reference") or ""
    if r.startswith(kind + "/") and len(r) > len(kind) + 1:
        return str(r[len(kind) + 1 :])
    ident = (ref or {}).get("identifier") or {}
    if ident.get("value"):
        return str(ident["value"])
    raise ClaimError(
        field, f"须引用资源或提供标识 must reference {kind}/<id> or carry an identifier", "missing"
    )


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
        raise ClaimError(
            "Claim.use", f"申请类型无效 {use!r} is not claim, preauthorization or predetermination"
        )
    idents = claim.get("identifier") or []
    msgid = next((i.get("value") for i in idents if i.get("value")), None)
    if not msgid:
        raise ClaimError(
            "Claim.identifier", "须提供一个标识（报文号） one identifier (the msgid) is required", "missing"
        )
    med_type = next((c for s, c in _codes(claim.get("subType")) if s == CS_MED_TYPE), None)
    if not med_type:
        raise ClaimError(
            "Claim.subType",
            f"须提供就诊类型编码 a coding with system {CS_MED_TYPE} (med_type) is required",
            "missing",
        )
    period = claim.get("billablePeriod") or {}
    items = claim.get("item") or []
    if not items:
        raise ClaimError("Claim.item", "须至少一个项目 at least one item is required", "missing")
    lines = []
    for k, it in enumerate(items):
        code = next(
            (c for s, c in _codes(it.get("productOrService")) if s in (CS_MED_LIST, None) and c), None
        )
        if not code:
            raise ClaimError(
                f"Claim.item[{k}].productOrService",
                f"须提供医保目录编码 a coding with system {CS_MED_LIST} is required",
                "missing",
            )
        for fld in ("quantity", "unitPrice", "net"):
            if (it.get(fld) or {}).get("value") is None:
                raise ClaimError(f"Claim.item[{k}].{fld}", "必填 is required", "missing")
        for fld in ("unitPrice", "net"):
            cur = it[fld].get("currency")
            if cur not in (None, "CNY"):
                raise ClaimError(f"Claim.item[{k}].{fld}.currency", f"币种须为人民币 {cur!r} is not CNY")
        lines.append(
            {
                "feedetl_sn": str(it.get("sequence", k + 1)),
                "med_list_codg": code,
                "cnt": str(it["quantity"]["value"]),
                "pric": str(it["unitPrice"]["value"]),
                "det_item_fee_sumamt": str(it["net"]["value"]),
            }
        )
    diagnoses = []
    for k, d in enumerate(claim.get("diagnosis") or []):
        for _, c in _codes(d.get("diagnosisCodeableConcept"))[:1]:
            if c:
                try:
                    diagnoses.append(
                        dx.check(c, f"Claim.diagnosis[{k}].diagnosisCodeableConcept.coding[0].code")
                    )
                except FieldError as exc:
                    raise ClaimError(exc.field, exc.reason, exc.code) from None
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
