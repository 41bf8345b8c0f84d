"""Validation of what ``/fhir`` serves: base R4 structure with the ``fhir.resources`` R4B models (the
resources served are structurally the same in R4 and R4B), then the rules of every profile a resource
claims, written as data from the profiles' StructureDefinitions (CARIN Blue Button 2.2.0 FSH sources
and the US Core 7.0.0 parents they derive from), and — for the ExplanationOfBenefit, which claims no
profile (docs/FHIR.md) — the CARIN institutional EOB rules it does meet plus yibao's own money
identities.

HL7's Java validator cannot be fetched here (no Maven Central) and no registry package ships it, hence
this; ``crawl`` walks a live server from its searches through every reference, so a reference that does
not resolve is an error too, and so is a reference whose target does not claim a profile the
referring profile requires (e.g. an EOB's ``insurance.coverage`` must be a C4BB-Coverage)."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from yibao.web import fhir_map as fm

C4BB_ADJ_CODES = {  # ValueSet C4BBAdjudication (ValueSets.fsh)
    (fm.CS_ADJ, c) for c in ("submitted", "copay", "eligible", "deductible", "benefit")
} | {
    (fm.CS_C4BB_ADJ, c)
    for c in (
        "coinsurance", "noncovered", "priorpayerpaid", "paidbypatient", "paidbypatientcash",
        "paidbypatientother", "paidbypatienthealthaccount", "paidtopatient", "paidtoprovider",
        "memberliability", "discount", "drugcost",
    )
}  # fmt: skip
SUBSCRIBER_RELATIONSHIP = {"child", "parent", "spouse", "common", "other", "self", "injured"}
GENDER = {"male", "female", "other", "unknown"}
DIAG_TYPES_IN = {(fm.CS_DIAG_TYPE, "principal"), (fm.CS_DIAG_TYPE, "admitting"), (fm.CS_C4BB_DIAG, "other"),
                 (fm.CS_C4BB_DIAG, "externalcauseofinjury")}  # fmt: skip
DIAG_TYPES_OUT = {(fm.CS_DIAG_TYPE, "principal"), (fm.CS_C4BB_DIAG, "other"),
                  (fm.CS_C4BB_DIAG, "externalcauseofinjury"), (fm.CS_C4BB_DIAG, "patientreasonforvisit")}  # fmt: skip
MODELS = {
    "Patient": "patient", "Coverage": "coverage", "ExplanationOfBenefit": "explanationofbenefit",
    "Claim": "claim", "ClaimResponse": "claimresponse", "Organization": "organization",
    "Location": "location", "Practitioner": "practitioner", "CodeSystem": "codesystem",
    "Bundle": "bundle", "OperationOutcome": "operationoutcome", "CapabilityStatement": "capabilitystatement",
}  # fmt: skip


@dataclass(frozen=True)
class Issue:
    severity: str  # error / warning
    resource: str  # Type/id
    rule: str  # "base R4", a profile, or a rule id
    message: str


def get(node: Any, path: str) -> list[Any]:
    """The values at a dotted path, lists flattened (a small FHIRPath subset)."""
    out = [node]
    for part in path.split("."):
        nxt: list[Any] = []
        for x in out:
            v = x.get(part) if isinstance(x, dict) else None
            if isinstance(v, list):
                nxt.extend(v)
            elif v is not None:
                nxt.append(v)
        out = nxt
    return out


def codings(cc: Any) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c.get("code", "")) for c in (cc or {}).get("coding", [])}


@dataclass(frozen=True)
class Card:
    """``path min..max`` relative to ``each`` (every node at that path, or the resource)."""

    path: str
    min: int
    max: int | None = None
    each: str = ""

    def check(self, res: dict[str, Any]) -> list[str]:
        nodes = get(res, self.each) if self.each else [res]
        out = []
        for k, n in enumerate(nodes):
            got = len(get(n, self.path))
            where = f"{self.each}[{k}].{self.path}" if self.each else self.path
            if got < self.min:
                out.append(f"{where}: minimum cardinality {self.min}, found {got}")
            if self.max is not None and got > self.max:
                out.append(f"{where}: maximum cardinality {self.max}, found {got}")
        return out


@dataclass(frozen=True)
class Rule:
    """A named rule: a check returning the problems it finds; ``severity`` as in the profile."""

    id: str
    check: Callable[[dict[str, Any]], list[str]]
    severity: str = "error"


def _card(path: str, lo: int, hi: int | None = None, each: str = "") -> Rule:
    c = Card(path, lo, hi, each)
    return Rule(f"{each + '.' if each else ''}{path} {lo}..{'*' if hi is None else hi}", c.check)


def _codes_in(path: str, allowed: set[str], rule: str) -> Rule:
    return Rule(
        rule, lambda r: [f"{path}: {v!r} not in {sorted(allowed)}" for v in get(r, path) if v not in allowed]
    )


def _coding_in(path: str, allowed: set[tuple[str, str]], rule: str, *, each_required: bool = True) -> Rule:
    def check(r: dict[str, Any]) -> list[str]:
        return [
            f"{path}[{k}]: none of {sorted(codings(cc))} is in the bound value set"
            for k, cc in enumerate(get(r, path))
            if each_required and not (codings(cc) & allowed)
        ]

    return Rule(rule, check)


def _slice(path: str, system: str, code: str, lo: int, rule: str) -> Rule:
    def check(r: dict[str, Any]) -> list[str]:
        n = sum(1 for x in get(r, path) if (system, code) in codings(x.get("type")))
        return [f"{path}: slice {code} needs at least {lo}, found {n}"] if n < lo else []

    return Rule(rule, check)


def _profile_version(url: str, rid: str) -> Rule:
    return Rule(
        rid,
        lambda r: (
            []
            if any(p.startswith(url + "|2.2") for p in get(r, "meta.profile"))
            else [f"meta.profile: no {url}|2.2.x"]
        ),
        "warning",
    )


def _identifier_system_value(r: dict[str, Any]) -> list[str]:
    return [
        f"identifier[{k}]: system and value are required (us-core)"
        for k, i in enumerate(get(r, "identifier"))
        if not i.get("system") or not i.get("value")
    ]


def _us_core_6(r: dict[str, Any]) -> list[str]:
    return [
        f"name[{k}]: us-core-6 family or given required"
        for k, n in enumerate(get(r, "name"))
        if not (n.get("family") or n.get("given"))
    ]


PROFILE_RULES: dict[str, list[Rule]] = {
    # C4BB-Patient (PatientProfile.fsh) on US Core Patient 7.0.0
    fm.PROFILE_PATIENT: [
        _card("meta", 1, 1), _card("meta.lastUpdated", 1, 1), _card("meta.profile", 1),
        _card("identifier", 1), Rule("us-core identifier.system/value 1..1", _identifier_system_value),
        _slice("identifier", fm.CS_V2_0203, "MB", 1, "identifier:memberid 1..*"),
        _card("name", 1), Rule("us-core-6", _us_core_6),
        _card("gender", 1, 1), _codes_in("gender", GENDER, "gender binding (required)"),
        _profile_version(fm.C4BB + "C4BB-Patient", "patient-meta-profile-version"),
    ],
    # C4BB-Coverage (CoverageProfile.fsh) on US Core Coverage 7.0.0
    fm.PROFILE_COVERAGE: [
        _card("meta", 1, 1), _card("meta.lastUpdated", 1, 1), _card("meta.profile", 1),
        _card("status", 1, 1), _card("type", 1, 1), _card("subscriberId", 1, 1),
        _card("beneficiary", 1, 1), _card("beneficiary.reference", 1, 1),
        _card("relationship", 1, 1),
        _coding_in("relationship", {("http://terminology.hl7.org/CodeSystem/subscriber-relationship", c)
                                    for c in SUBSCRIBER_RELATIONSHIP}, "relationship binding (required)"),
        _card("payor", 1, 1), _card("payor.reference", 1, 1),
        _card("value", 1, 1, each="class"), _card("type", 1, 1, each="class"),
        _profile_version(fm.C4BB + "C4BB-Coverage", "coverage-meta-profile-version"),
    ],
    # C4BB-Organization (OrganizationProfile.fsh) on US Core Organization 7.0.0
    fm.PROFILE_ORGANIZATION: [
        _card("meta", 1, 1), _card("meta.profile", 1), _card("meta.lastUpdated", 1, 1),  # uncontained-requires-lastUpdated
        _card("active", 1, 1), _card("name", 1, 1),
        _profile_version(fm.C4BB + "C4BB-Organization", "organization-meta-profile-version"),
    ],
}  # fmt: skip


def _amounts(adjs: Iterable[dict[str, Any]], code: str) -> Decimal:
    return sum(
        (
            Decimal(str(a["amount"]["value"]))
            for a in adjs
            if code in {c for _s, c in codings(a.get("category"))} and "amount" in a
        ),
        Decimal(0),
    )


def _eob_money(r: dict[str, Any]) -> list[str]:
    """yibao's identities: each line submitted = noncovered + copay + eligible = deductible-free parts +
    benefits + account + cash; the lines add up to the totals."""
    out = []
    items = get(r, "item")
    for k, it in enumerate(items):
        a = it.get("adjudication", [])
        sub = _amounts(a, "submitted")
        if sub != _amounts(a, "noncovered") + _amounts(a, "copay") + _amounts(a, "eligible"):
            out.append(f"item[{k}]: submitted ≠ noncovered + copay + eligible")
        if sub != _amounts(a, "benefit") + _amounts(a, "paidbypatient"):
            out.append(f"item[{k}]: submitted ≠ benefit + paidbypatient")
        if _amounts(a, "benefit") != sum(_fund_amounts(a).values(), Decimal(0)):
            out.append(f"item[{k}]: benefit ≠ sum of the fund entries")
    for code in ("submitted", "eligible", "deductible", "noncovered", "copay", "benefit", "paidbypatient"):
        lines = sum((_amounts(it.get("adjudication", []), code) for it in items), Decimal(0))
        if lines != _amounts(r.get("total", []), code):
            out.append(f"total {code} {_amounts(r.get('total', []), code)} ≠ sum of lines {lines}")
    by_fund: Counter[str] = Counter()
    for it in items:
        by_fund.update(_fund_amounts(it.get("adjudication", [])))
    totals = _fund_amounts(r.get("total", []))
    if {f: v for f, v in by_fund.items() if v} != {f: v for f, v in totals.items() if v}:
        out.append(f"total per fund {dict(totals)} ≠ sum of lines {dict(by_fund)}")
    return out


def _fund_amounts(adjs: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    """The national fund entries (category ``urn:yibao:fund_pay_type``) by fund code."""
    out: dict[str, Decimal] = {}
    for a in adjs:
        for s, c in codings(a.get("category")):
            if s == fm.CS_FUND and "amount" in a:
                out[c] = out.get(c, Decimal(0)) + Decimal(str(a["amount"]["value"]))
    return out


def _eob_focal(r: dict[str, Any]) -> list[str]:
    n = sum(1 for i in get(r, "insurance") if i.get("focal") is True)
    return [] if n == 1 else [f"insurance: exactly one focal expected, found {n}"]


def _eob_subtype(r: dict[str, Any]) -> list[str]:
    st = {c for s, c in codings(r.get("subType")) if s == fm.CS_C4BB_SUBTYPE}
    if len(st) != 1:
        return ["subType: one C4BBInstitutionalClaimSubType coding required"]
    kind = next(iter(st))
    out = []
    if kind == "inpatient":
        n = sum(
            1
            for i in get(r, "supportingInfo")
            if (fm.CS_C4BB_INFO, "admissionperiod") in codings(i.get("category"))
        )
        periods = [
            i
            for i in get(r, "supportingInfo")
            if (fm.CS_C4BB_INFO, "admissionperiod") in codings(i.get("category")) and i.get("timingPeriod")
        ]
        if n != 1 or len(periods) != 1:
            out.append("supportingInfo:admissionperiod 1..1 with timingPeriod required (inpatient)")
    allowed = DIAG_TYPES_IN if kind == "inpatient" else DIAG_TYPES_OUT
    for k, d in enumerate(get(r, "diagnosis")):
        types = d.get("type", [])
        if len(types) != 1 or not (codings(types[0]) & allowed):
            out.append(f"diagnosis[{k}].type: 1..1 from the {kind} diagnosis type value set")
    if kind == "outpatient":
        out += [
            f"item[{k}].servicedDate 1..1 (outpatient)"
            for k, it in enumerate(get(r, "item"))
            if "servicedDate" not in it
        ]
    return out


def _eob_adjudication(r: dict[str, Any]) -> list[str]:
    out = []
    header = get(r, "adjudication")
    status = [a for a in header if (fm.CS_C4BB_DISC, "benefitpaymentstatus") in codings(a.get("category"))]
    if len(status) != 1 or not codings(status[0].get("reason")) & {
        (fm.CS_C4BB_STATUS, c) for c in ("innetwork", "outofnetwork", "other")
    }:
        out.append("adjudication:benefitpaymentstatus 1..1 with a C4BBPayerBenefitPaymentStatus reason")
    if any(codings(a.get("category")) & C4BB_ADJ_CODES for a in header):
        out.append("EOB-institutional-item-or-header-adjudication: amounts at item level only")
    for k, it in enumerate(get(r, "item")):
        if not any(codings(a.get("category")) & C4BB_ADJ_CODES for a in it.get("adjudication", [])):
            out.append(f"item[{k}]: adjudication-has-amount-type-slice")
        out += [
            f"item[{k}].adjudication[{j}]: amount 1..1"
            for j, a in enumerate(it.get("adjudication", []))
            if codings(a.get("category")) & C4BB_ADJ_CODES and "amount" not in a
        ]
    if not any(codings(t.get("category")) & C4BB_ADJ_CODES for t in get(r, "total")):
        out.append("total:adjudicationamounttype 1..* (category from C4BBAdjudication)")
    for pt in get(r, "payment.type"):
        if not codings(pt) & {(fm.CS_C4BB_STATUS, c) for c in ("paid", "denied", "partiallypaid")}:
            out.append("payment.type: from C4BBPayerClaimPaymentStatusCode (required)")
    return out


def _uc(r: dict[str, Any]) -> list[str]:
    n = sum(
        1
        for i in get(r, "identifier")
        if (fm.CS_C4BB_IDTYPE, "uc") in codings(i.get("type")) and i.get("value")
    )
    return [] if n == 1 else [f"identifier:uniqueclaimid 1..1 with value, found {n}"]


# The C4BB institutional EOB rules (EOBBaseProfile.fsh, EOBInpatientProfile.fsh, EOBOutpatientProfile.fsh)
# checked on an EOB that claims no profile: the structure it follows.
EOB_RULES: list[Rule] = [
    _card("meta.lastUpdated", 1, 1), Rule("identifier:uniqueclaimid 1..1", _uc),
    _card("type", 1, 1), _coding_in("type", {(fm.CS_CLAIM_TYPE, "institutional")}, "type = institutional"),
    _card("subType", 1, 1), _codes_in("use", {"claim"}, "use = claim"), _card("patient", 1, 1),
    _card("billablePeriod.start", 1, 1), _card("insurer", 1, 1), _card("provider", 1, 1),
    _card("insurance", 1), _card("coverage", 1, 1, each="insurance"), _card("focal", 1, 1, each="insurance"),
    Rule("EOB-insurance-focal", _eob_focal), _card("item", 1), _card("diagnosis", 1),
    _card("diagnosisCodeableConcept", 1, 1, each="diagnosis"), _card("category", 1, 1, each="item.adjudication"),
    _card("total", 1), Rule("subType, admission period, diagnosis.type, servicedDate", _eob_subtype),
    Rule("adjudication slices and bindings", _eob_adjudication), Rule("yibao money identities", _eob_money),
]  # fmt: skip

# --------------------------------------------------------------------------- C4BB institutional EOB profiles
CS_CPT = "http://www.ama-assn.org/go/cpt"
CS_HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CS_HIPPS = (
    "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/ProspMedicareFeeSvcPmtGen/HIPPSCodes"
)
CS_ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
CS_C4BB_ROLE = fm.CARIN + "CodeSystem/C4BBClaimCareTeamRole"
INST_CARE_ROLES = {(fm.CS_CARE_ROLE, "primary")} | {
    (CS_C4BB_ROLE, c) for c in ("attending", "referring", "operating", "otheroperating", "rendering")
}
PRACTITIONER_ROLES = {"attending", "primary", "referring", "supervisor"}  # EOB-inst-careTeam-practitioner
BENEFIT_PAYMENT_STATUS = {(fm.CS_C4BB_STATUS, c) for c in ("innetwork", "outofnetwork", "other")}
NETWORK_STATUS = {(fm.CS_C4BB_STATUS, c) for c in ("innetwork", "outofnetwork")}
ICD10CM_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
ICD9CM_CODE = re.compile(r"^([0-9]{3}|V[0-9]{2}|E[0-9]{3})(\.[0-9]{1,2})?$")
# C4BB-ExplanationOfBenefit-*-Institutional: what each reference must point at (checked by ``crawl``)
EOB_TARGETS = [
    ("patient", (fm.C4BB + "C4BB-Patient",)),
    ("insurer", (fm.C4BB + "C4BB-Organization",)),
    ("provider", (fm.C4BB + "C4BB-Organization", fm.C4BB + "C4BB-Practitioner")),
    ("careTeam.provider", (fm.C4BB + "C4BB-Organization", fm.C4BB + "C4BB-Practitioner")),
    ("insurance.coverage", (fm.C4BB + "C4BB-Coverage",)),
    ("payee.party", tuple(fm.C4BB + p for p in ("C4BB-Organization", "C4BB-Patient", "C4BB-Practitioner",
                                                 "C4BB-RelatedPerson"))),
]  # fmt: skip
TARGETS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    fm.PROFILE_EOB_INPATIENT: EOB_TARGETS,
    fm.PROFILE_EOB_OUTPATIENT: EOB_TARGETS,
    fm.PROFILE_COVERAGE: [
        ("beneficiary", (fm.C4BB + "C4BB-Patient",)),
        ("payor", tuple(fm.C4BB + p for p in ("C4BB-Organization", "C4BB-Patient", "C4BB-RelatedPerson"))),
    ],
}


def _bound(path: str, rule: str, ok: Callable[[str, str], bool], what: str) -> Rule:
    """A required binding on the CodeableConcepts at ``path``: at least one coding in the value set."""

    def check(r: dict[str, Any]) -> list[str]:
        return [
            f"{path}[{k}]: no coding from {what} (required binding), found {sorted(codings(cc))}"
            for k, cc in enumerate(get(r, path))
            if not any(ok(s, c) for s, c in codings(cc))
        ]

    return Rule(rule, check)


def _extensible(path: str, rule: str, allowed: Callable[[str, str], bool], what: str) -> Rule:
    """An extensible binding: other codes are allowed where the value set has no suitable concept, and
    the HL7 validator warns on them — so does this (one warning per path and resource, with a count)."""

    def check(r: dict[str, Any]) -> list[str]:
        outside = [cc for cc in get(r, path) if not any(allowed(s, c) for s, c in codings(cc))]
        if not outside:
            return []
        systems = sorted({s for cc in outside for s, _c in codings(cc)})
        return [f"{path}: {len(outside)} outside {what} (extensible), systems {systems}"]

    return Rule(rule, check, "warning")


def _diagnosis_code(system: str, code: str) -> bool:  # CDCICD910CMDiagnosisCodes
    return (
        (system == fm.CS_ICD10CM and bool(ICD10CM_CODE.match(code)))
        or (system == CS_ICD9CM and bool(ICD9CM_CODE.match(code)))
        or (system == fm.CS_DAR and code == "masked")
    )


def _institutional_procedure(system: str, code: str) -> bool:  # C4BBEOBInstitutionalProcedureCodes
    return system in (CS_CPT, CS_HCPCS, CS_HIPPS) or (system == fm.CS_DAR and code == "not-applicable")


def _category_discriminator(system: str, code: str) -> bool:  # C4BBAdjudicationCategoryDiscriminator
    return (system, code) in C4BB_ADJ_CODES or system == fm.CS_C4BB_DISC


def _revenue_code(system: str, code: str) -> bool:  # AHANUBCRevenueCodes
    return system == fm.CS_NUBC_REVENUE and len(code) == 4 and code.isdigit()


def _fixed(path: str, system: str, code: str) -> Rule:
    return Rule(
        f"{path} = {code}",
        lambda r: [
            f"{path}[{k}]: must be {system}#{code}"
            for k, cc in enumerate(get(r, path))
            if (system, code) not in codings(cc)
        ],
    )


def _info_slice(code: str, lo: int, hi: int, value: str) -> Rule:
    """A supportingInfo slice (discriminator: category) with its cardinality and required value[x]."""

    def check(r: dict[str, Any]) -> list[str]:
        found = [i for i in get(r, "supportingInfo") if (fm.CS_C4BB_INFO, code) in codings(i.get("category"))]
        out = []
        if not lo <= len(found) <= hi:
            out.append(f"supportingInfo:{code} {lo}..{hi}, found {len(found)}")
        out += [f"supportingInfo:{code}.{value} 1..1" for i in found if value not in i]
        return out

    return Rule(f"supportingInfo:{code} {lo}..{hi}", check)


def _header_slice(code: str, lo: int, allowed: set[tuple[str, str]]) -> Rule:
    def check(r: dict[str, Any]) -> list[str]:
        found = [a for a in get(r, "adjudication") if (fm.CS_C4BB_DISC, code) in codings(a.get("category"))]
        out = []
        if not lo <= len(found) <= 1:
            out.append(f"adjudication:{code} {lo}..1, found {len(found)}")
        out += [
            f"adjudication:{code}.reason 1..1 from its value set (required)"
            for a in found
            if not codings(a.get("reason")) & allowed
        ]
        return out

    return Rule(f"adjudication:{code} {lo}..1", check)


def _amount_slices(r: dict[str, Any]) -> list[str]:
    """EOB-institutional-item-or-header-adjudication, adjudication-has-amount-type-slice, the
    adjudicationamounttype slices' amount 1..1 and total:adjudicationamounttype 1..*."""
    out = []
    head = [a for a in get(r, "adjudication") if codings(a.get("category")) & C4BB_ADJ_CODES]
    lines = [a for a in get(r, "item.adjudication") if codings(a.get("category")) & C4BB_ADJ_CODES]
    if bool(head) == bool(lines):
        out.append("EOB-institutional-item-or-header-adjudication: amounts at item or header level, not both")
    for k, it in enumerate(get(r, "item")):
        if not any(codings(a.get("category")) & C4BB_ADJ_CODES for a in it.get("adjudication", [])):
            out.append(f"item[{k}]: adjudication-has-amount-type-slice")
    out += ["adjudication:adjudicationamounttype.amount 1..1" for a in head + lines if "amount" not in a]
    totals = [t for t in get(r, "total") if codings(t.get("category")) & C4BB_ADJ_CODES]
    if not totals:
        out.append("total:adjudicationamounttype 1..*")
    out += ["total:adjudicationamounttype.amount 1..1" for t in totals if "amount" not in t]
    return out


def _care_team_practitioner(r: dict[str, Any]) -> list[str]:
    """EOB-inst-careTeam-practitioner: attending / primary / referring / supervisor are Practitioners
    (whether the target is a C4BB-Practitioner is checked when ``crawl`` resolves it)."""
    return [
        f"careTeam[{k}]: role {sorted(roles)} needs a Practitioner reference"
        for k, ct in enumerate(get(r, "careTeam"))
        if (roles := {c for _s, c in codings(ct.get("role"))} & PRACTITIONER_ROLES)
        and not str((ct.get("provider") or {}).get("reference", "")).startswith("Practitioner/")
    ]


def _payee_party(r: dict[str, Any]) -> list[str]:  # EOB-payee-other-type-requires-party
    return [
        "payee: type other requires party"
        for p in get(r, "payee")
        if ("http://terminology.hl7.org/CodeSystem/payeetype", "other") in codings(p.get("type"))
        and "party" not in p
    ]


def _served_date(r: dict[str, Any]) -> list[str]:  # outpatient: item.serviced[x] 1..1, only date
    return [
        f"item[{k}].servicedDate 1..1 (serviced[x] only date)"
        for k, it in enumerate(get(r, "item"))
        if "servicedDate" not in it or "servicedPeriod" in it
    ]


def _diagnosis_types(allowed: set[tuple[str, str]], lo: int) -> Rule:
    def check(r: dict[str, Any]) -> list[str]:
        out = []
        for k, d in enumerate(get(r, "diagnosis")):
            types = d.get("type", [])
            if not lo <= len(types) <= 1:
                out.append(f"diagnosis[{k}].type {lo}..1, found {len(types)}")
            out += [
                f"diagnosis[{k}].type: not in the bound value set" for t in types if not codings(t) & allowed
            ]
        return out

    return Rule(f"diagnosis.type {lo}..1 (required binding)", check)


# C4BB-ExplanationOfBenefit (EOBBaseProfile.fsh): the abstract parent of both institutional profiles
C4BB_EOB_BASE: list[Rule] = [
    _card("meta", 1, 1), _card("meta.lastUpdated", 1, 1), _card("meta.profile", 1),
    Rule("identifier:uniqueclaimid 1..1", _uc),
    _card("type", 1, 1), _fixed("type", fm.CS_CLAIM_TYPE, "institutional"),
    _card("use", 1, 1), _codes_in("use", {"claim"}, "use = claim"),
    _card("patient", 1, 1), _card("billablePeriod", 1, 1), _card("billablePeriod.start", 1, 1),
    _card("insurer", 1, 1), _card("provider", 1, 1),
    _card("relationship", 1, 1, each="related"), _card("reference", 1, 1, each="related"),
    _card("type", 1, 1, each="payee"), Rule("EOB-payee-other-type-requires-party", _payee_party),
    _card("provider", 1, 1, each="careTeam"),
    _card("insurance", 1), _card("coverage", 1, 1, each="insurance"), _card("focal", 1, 1, each="insurance"),
    Rule("EOB-insurance-focal", _eob_focal),
    _card("item", 1), _card("category", 1, 1, each="item.adjudication"),
    _card("category", 1, 1, each="adjudication"), _card("category", 1, 1, each="total"),
    _coding_in("payment.type", {(fm.CS_C4BB_STATUS, c) for c in ("paid", "denied", "partiallypaid")},
               "payment.type binding (required)"),
    Rule("yibao money identities", _eob_money),
]  # fmt: skip

# shared by C4BB-ExplanationOfBenefit-Inpatient-Institutional and -Outpatient-Institutional
C4BB_EOB_INSTITUTIONAL: list[Rule] = [
    _card("subType", 1, 1),
    _coding_in("careTeam.role", INST_CARE_ROLES, "careTeam.role binding (required)"),
    Rule("EOB-inst-careTeam-practitioner", _care_team_practitioner),
    _card("diagnosis", 1), _card("diagnosisCodeableConcept", 1, 1, each="diagnosis"),
    _bound("diagnosis.diagnosisCodeableConcept", "diagnosis.diagnosis[x] binding CDCICD910CMDiagnosisCodes",
           _diagnosis_code, "ICD-10-CM / ICD-9-CM"),
    _card("procedureCodeableConcept", 1, 1, each="procedure"), _card("type", 1, 1, each="procedure"),
    _info_slice("clmrecvddate", 0, 1, "timingDate"),
    _bound("item.revenue", "item.revenue binding AHANUBCRevenueCodes", _revenue_code, "NUBC revenue codes"),
    _card("productOrService", 1, 1, each="item"),
    _bound("item.productOrService", "item.productOrService binding C4BBEOBInstitutionalProcedureCodes",
           _institutional_procedure, "CPT / HCPCS / HIPPS or data-absent-reason not-applicable"),
    _bound("item.modifier", "item.modifier binding AMACPTCMSHCPCSModifiers",
           lambda s, _c: s in (CS_CPT, CS_HCPCS), "CPT / HCPCS modifiers"),
    _header_slice("benefitpaymentstatus", 1, BENEFIT_PAYMENT_STATUS),
    _header_slice("billingnetworkstatus", 0, NETWORK_STATUS),
    Rule("adjudication amount slices", _amount_slices), _card("total", 1),
    _extensible("supportingInfo.category", "supportingInfo.category binding C4BBSupportingInfoType",
                lambda s, _c: s == fm.CS_C4BB_INFO, "C4BBSupportingInfoType"),
    _extensible("adjudication.category", "adjudication.category binding C4BBAdjudicationCategoryDiscriminator",
                _category_discriminator, "C4BBAdjudicationCategoryDiscriminator"),
    _extensible("item.adjudication.category",
                "item.adjudication.category binding C4BBAdjudicationCategoryDiscriminator",
                _category_discriminator, "C4BBAdjudicationCategoryDiscriminator"),
    _extensible("total.category", "total.category binding C4BBTotalCategoryDiscriminator",
                lambda s, c: (s, c) in C4BB_ADJ_CODES, "C4BBTotalCategoryDiscriminator"),
]  # fmt: skip

PROFILE_RULES[fm.PROFILE_EOB_INPATIENT] = [
    *C4BB_EOB_BASE, *C4BB_EOB_INSTITUTIONAL,
    _fixed("subType", fm.CS_C4BB_SUBTYPE, "inpatient"),
    _card("role", 1, 1, each="careTeam"),
    _diagnosis_types(DIAG_TYPES_IN, 1),
    _info_slice("admissionperiod", 1, 1, "timingPeriod"),
    _card("revenue", 1, 1, each="item"),
    _profile_version(fm.C4BB + "C4BB-ExplanationOfBenefit-Inpatient-Institutional",
                     "EOB-institutional-inpatient-meta-profile-version"),
]  # fmt: skip
PROFILE_RULES[fm.PROFILE_EOB_OUTPATIENT] = [
    *C4BB_EOB_BASE, *C4BB_EOB_INSTITUTIONAL,
    _fixed("subType", fm.CS_C4BB_SUBTYPE, "outpatient"),
    _diagnosis_types(DIAG_TYPES_OUT, 0),
    Rule("item.serviced[x] 1..1 only date", _served_date),
    _profile_version(fm.C4BB + "C4BB-ExplanationOfBenefit-Outpatient-Institutional",
                     "EOB-institutional-outpatient-meta-profile-version"),
]  # fmt: skip
EOB_PROFILES = frozenset({fm.PROFILE_EOB_INPATIENT, fm.PROFILE_EOB_OUTPATIENT})


def _narrative(r: dict[str, Any]) -> list[str]:
    t = r.get("text")
    if t is None:
        return []
    div = str(t.get("div", ""))
    return (
        []
        if div.startswith('<div xmlns="http://www.w3.org/1999/xhtml">') and div.endswith("</div>")
        else ["text.div: not an XHTML div"]
    )


def base_r4(res: dict[str, Any]) -> list[str]:
    """Structural validation against the R4B model of the resource type (unknown elements, types,
    cardinality, primitive formats, required fields)."""
    rtype = str(res.get("resourceType"))
    mod = MODELS.get(rtype)
    if mod is None:
        return [f"no model for resource type {rtype!r}"]
    cls = getattr(importlib.import_module(f"fhir.resources.R4B.{mod}"), rtype)
    try:
        cls.model_validate(res)
    except (ValidationError, ValueError, TypeError) as exc:
        errs = exc.errors() if isinstance(exc, ValidationError) else [{"loc": (), "msg": str(exc)}]
        return [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in errs]
    return _narrative(res)


def check(res: dict[str, Any]) -> list[Issue]:
    """Every problem with one resource: base R4, each claimed profile's rules, and for an EOB the
    CARIN institutional rules it follows."""
    rid = f"{res.get('resourceType')}/{res.get('id', '')}"
    out = [Issue("error", rid, "base R4", m) for m in base_r4(res)]
    for prof in get(res, "meta.profile"):
        rules = PROFILE_RULES.get(prof)
        if rules is None:
            out.append(Issue("error", rid, prof, "claims a profile the validator has no rules for"))
            continue
        out += [
            Issue(r.severity, rid, f"{prof.rsplit('/', 1)[-1]} {r.id}", m)
            for r in rules
            for m in r.check(res)
        ]
    if res.get("resourceType") == "ExplanationOfBenefit" and not EOB_PROFILES & set(get(res, "meta.profile")):
        out += [
            Issue(r.severity, rid, f"C4BB-EOB-structure {r.id}", m) for r in EOB_RULES for m in r.check(res)
        ]
    return out


def references(node: Any) -> list[str]:
    """Every literal reference (``Type/id``) inside a resource."""
    out: list[str] = []
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and "/" in ref and not ref.startswith("#"):
            out.append(ref)
        for v in node.values():
            out += references(v)
    elif isinstance(node, list):
        for v in node:
            out += references(v)
    return out


@dataclass
class Report:
    """What was validated: resources by type, by claimed profile, errors and warnings."""

    resources: Counter[str] = field(default_factory=Counter)
    profiles: Counter[str] = field(default_factory=Counter)
    issues: list[Issue] = field(default_factory=list)
    references: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def add(self, res: dict[str, Any]) -> None:
        self.resources[str(res.get("resourceType"))] += 1
        for p in get(res, "meta.profile"):
            self.profiles[p] += 1
        self.issues += check(res)

    def lines(self) -> list[str]:
        total = sum(self.resources.values())
        out = [
            f"resources validated: {total} ({', '.join(f'{k} {v}' for k, v in sorted(self.resources.items()))})"
        ]
        out += [f"claimed profile {p}: {n}" for p, n in sorted(self.profiles.items())]
        out.append(f"references resolved: {self.references}")
        out.append(f"errors: {len(self.errors)}, warnings: {len(self.warnings)}")
        out += [f"  {i.severity} {i.resource} [{i.rule}] {i.message}" for i in self.issues[:50]]
        return out


def crawl(fetch: Callable[[str], tuple[int, dict[str, Any]]], starts: Sequence[str]) -> Report:
    """Validate everything reachable from the search/read URLs ``starts`` (relative to ``/fhir``): every
    page of every searchset (following ``next``), every resource in them and every resource they
    reference; ``fetch(path)`` returns (status, JSON).  A reference that does not resolve is an error,
    and so is one whose target does not claim a profile the referring resource's profile requires."""
    report = Report()
    seen: set[str] = set()
    todo: list[str] = list(starts)
    claimed: dict[str, set[str]] = {}  # Type/id -> profiles claimed (unversioned)
    wanted: list[tuple[str, str, str, tuple[str, ...]]] = []  # (who, path, Type/id, allowed profiles)
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        status, body = fetch(path)
        if status != 200:
            report.issues.append(Issue("error", path, "reference", f"HTTP {status}: does not resolve"))
            continue
        report.add(body)
        found = (
            [e["resource"] for e in body.get("entry", []) if "resource" in e]
            if body.get("resourceType") == "Bundle"
            else [body]
        )
        for r in found:
            if r is not body:
                report.add(r)
            rid = f"{r.get('resourceType')}/{r.get('id')}"
            seen.add(rid)
            claimed[rid] = {p.split("|")[0] for p in get(r, "meta.profile")}
            for prof in get(r, "meta.profile"):
                for where, allowed in TARGETS.get(prof, []):
                    wanted += [
                        (rid, where, str(ref["reference"]), allowed)
                        for ref in get(r, where)
                        if isinstance(ref, dict) and "/" in str(ref.get("reference", ""))
                    ]
            for ref in references(r):
                report.references += 1
                if ref not in seen:
                    todo.append(ref)
        for link in body.get("link", []) if body.get("resourceType") == "Bundle" else []:
            if link.get("relation") == "next":
                todo.append(link["url"].split("/fhir/", 1)[1])
    for who, where, ref, allowed in wanted:
        if ref in claimed and not claimed[ref] & set(allowed):
            names = " or ".join(a.rsplit("/", 1)[-1] for a in allowed)
            report.issues.append(Issue("error", who, f"{where} target profile", f"{ref} is not a {names}"))
    return report
