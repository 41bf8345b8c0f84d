"""Validation of what ``/fhir`` serves: base R4 structure with the ``fhir.resources`` R4B models (the
resources served are structurally the same in R4 and R4B), then the rules of every profile a resource
claims, written as data from the profiles' StructureDefinitions (CARIN Blue Button 2.2.0 FSH sources
and the US Core 7.0.0 parents they derive from), and — for the ExplanationOfBenefit, which claims no
profile (docs/FHIR.md) — the CARIN institutional EOB rules it does meet plus yibao's own money
identities.

HL7's Java validator cannot be fetched here (no Maven Central) and no registry package ships it, hence
this; ``crawl`` walks a live server from its searches through every reference, so a reference that does
not resolve is an error too."""

from __future__ import annotations

import importlib
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
    for code in ("submitted", "eligible", "deductible", "noncovered", "copay", "benefit", "paidbypatient"):
        lines = sum((_amounts(it.get("adjudication", []), code) for it in items), Decimal(0))
        if lines != _amounts(r.get("total", []), code):
            out.append(f"total {code} {_amounts(r.get('total', []), code)} ≠ sum of lines {lines}")
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
    for k, t in enumerate(get(r, "total")):
        if not codings(t.get("category")) & C4BB_ADJ_CODES:
            out.append(f"total[{k}].category: from C4BBAdjudication (required)")
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
# that yibao's EOB meets; the required US code bindings it cannot meet are not checked (no claim is made).
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
    if res.get("resourceType") == "ExplanationOfBenefit":
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
    reference; ``fetch(path)`` returns (status, JSON).  A reference that does not resolve is an error."""
    report = Report()
    seen: set[str] = set()
    todo: list[str] = list(starts)
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
            seen.add(f"{r.get('resourceType')}/{r.get('id')}")
            for ref in references(r):
                report.references += 1
                if ref not in seen:
                    todo.append(ref)
        for link in body.get("link", []) if body.get("resourceType") == "Bundle" else []:
            if link.get("relation") == "next":
                todo.append(link["url"].split("/fhir/", 1)[1])
    return report
