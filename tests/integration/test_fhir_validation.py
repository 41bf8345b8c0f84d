"""Validation in CI: every resource type /fhir serves, from a synthetic demo region settled through the
ledger, crawled from its searches through every page and every reference, validated against base R4 (the
fhir.resources R4B models) and the rules of every profile claimed — 0 errors.  The figures printed are
the ones docs/FHIR.md reports."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from yibao.access.store import ServiceStore
from yibao.demo.region import person_records
from yibao.ledger import Ledger
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settings import Settings
from yibao.synth import generate, read_visits_as_engine_inputs
from yibao.usecases import settlement
from yibao.web import fhir_map as fm
from yibao.web import fhir_validate as fv
from yibao.web.app import create_app

PERSONS, VISITS = 200, 400


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, list[str]]]:
    d = tmp_path_factory.mktemp("fhir-demo")
    path = example_path("xian")
    data = d / "demo-data"
    generate(path, data, persons=PERSONS, year=2025, seed=21)
    url = f"sqlite:///{d / 'demo.db'}"
    book = PolicyBook.from_file(path)
    settled: Counter[str] = Counter()
    inpatients: list[str] = []  # people with an inpatient stay, so that both EOB profiles are crawled
    with Ledger.open(url) as led:
        led.migrate()
        led.add_persons(person_records(pl.read_parquet(data / "persons.parquet"), book.admdvs, 2025))
        for k, (_p, visit) in enumerate(read_visits_as_engine_inputs(data, limit=VISITS)):
            try:
                settlement.settle(led, book, visit, f"{visit.fixmedins_code}{k:018d}", audit=None)
            except Exception:
                continue
            settled[visit.psn_no] += 1
            if visit.med_type == "21" and visit.psn_no not in inpatients:
                inpatients.append(visit.psn_no)
        if settled:
            top = settled.most_common(1)[0][0]
            led.cancel(led.list_settlements(top, 1)[0].setl_id, "CANCEL" + "0" * 24)
        sa_url = led.sa_url
    store = ServiceStore(sa_url)
    try:
        admin = store.create_user("auditor", "auditor-pass-1", "auditor", "审核员")
        token = store.open_session(admin.user_id)
    finally:
        store.close()
    app = create_app(
        Settings(database_url=url, region=str(path), migrate=False, mount_web=False, audit_in_event=False)
    )
    with TestClient(app) as client:
        top5 = [k for k, _n in settled.most_common(5)]
        yield client, token, top5 + [k for k in inpatients if k not in top5][:5]


def test_every_served_resource_is_valid_and_every_reference_resolves(
    region: tuple[TestClient, str, list[str]],
) -> None:
    client, token, people = region
    h = {"Authorization": f"Bearer {token}"}

    def fetch(path: str) -> tuple[int, dict[str, Any]]:
        r = client.get(f"/fhir/{path}", headers=h)
        return r.status_code, r.json()

    starts = [
        "metadata",
        "CodeSystem",
        "Organization?_count=200",
        "Location?_count=20",
        "Practitioner?_count=20",
    ]
    for k in people:
        starts += [
            f"Patient?_id={k}&_revinclude=Coverage:beneficiary",
            f"ExplanationOfBenefit?patient={k}&_count=5&_include=*",
        ]
    report = fv.crawl(fetch, starts)
    for line in report.lines():
        print(line)
    kinds = set(report.resources)
    assert {"Patient", "Coverage", "ExplanationOfBenefit", "Organization", "Location", "Practitioner",
            "CodeSystem", "Bundle", "CapabilityStatement"} <= kinds  # fmt: skip
    assert report.profiles and report.references > 0
    assert report.errors == [], "\n".join(report.lines())
    assert fm.PROFILE_EOB_INPATIENT in report.profiles and fm.PROFILE_EOB_OUTPATIENT in report.profiles
    # the only warnings: yibao's national fund splits, additional adjudication entries whose category
    # (urn:yibao:fund_pay_type) is outside C4BB's extensible category value sets
    assert all("(extensible)" in i.message and fm.CS_FUND in i.message for i in report.warnings)
    # Claim and ClaimResponse of every EOB of the first person
    _status, bundle = fetch(f"ExplanationOfBenefit?patient={people[0]}&_count=200")
    extra = fv.Report()
    for e in bundle["entry"]:
        for kind in ("Claim", "ClaimResponse"):
            s, body = fetch(f"{kind}/{e['resource']['id']}")
            assert s == 200
            extra.add(body)
    assert extra.errors == [] and extra.resources["Claim"] == bundle["total"]
    print(f"claims and claim responses validated: {sum(extra.resources.values())}, errors 0")


def test_the_validator_finds_what_is_wrong() -> None:
    """The rules are live: a resource that breaks them is reported (so 0 errors means something)."""
    bad_patient = {
        "resourceType": "Patient",
        "id": "x",
        "meta": {"profile": ["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.2.0"]},
        "name": [{"text": "无名"}],
        "gender": "male",
    }
    rules = {i.rule for i in fv.check(bad_patient)}
    assert any("meta.lastUpdated" in r for r in rules) and any("memberid" in r for r in rules)
    assert any("us-core-6" in r for r in rules)
    eob = {"resourceType": "ExplanationOfBenefit", "id": "e", "status": "active", "use": "claim"}
    assert len(fv.check(eob)) > 10
    wrong_type = {**bad_patient, "gender": 3}
    assert any(i.rule == "base R4" for i in fv.check(wrong_type))


def _served_eobs(region: tuple[TestClient, str, list[str]]) -> list[dict[str, Any]]:
    client, token, people = region
    h = {"Authorization": f"Bearer {token}"}
    out: list[dict[str, Any]] = []
    for k in people:
        b = client.get("/fhir/ExplanationOfBenefit", params={"patient": k, "_count": 200}, headers=h).json()
        out += [e["resource"] for e in b["entry"]]
    return out


def _drop_info(code: str) -> Callable[[dict[str, Any]], None]:
    def f(e: dict[str, Any]) -> None:
        e["supportingInfo"] = [i for i in e["supportingInfo"] if i["category"]["coding"][0]["code"] != code]

    return f


def _drop_coding(path: str, system: str) -> Callable[[dict[str, Any]], None]:
    def f(e: dict[str, Any]) -> None:
        for cc in fv.get(e, path):
            cc["coding"] = [c for c in cc["coding"] if c["system"] != system]

    return f


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *head, last = path.split(".")

    def f(e: dict[str, Any]) -> None:
        node: Any = e
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return f


def _header_amount(e: dict[str, Any]) -> None:
    e["adjudication"].append(e["item"][0]["adjudication"][0])


def _only_fund_totals(e: dict[str, Any]) -> None:
    e["total"] = [t for t in e["total"] if t["category"]["coding"][0]["system"] == fm.CS_FUND]


def _bent_fund(e: dict[str, Any]) -> None:
    for a in e["item"][0]["adjudication"]:
        if a["category"]["coding"][0]["system"] == fm.CS_FUND:
            a["amount"]["value"] = Decimal(str(a["amount"]["value"])) + Decimal("0.01")
            return
    e["item"][0]["adjudication"].append(
        {"category": {"coding": [{"system": fm.CS_FUND, "code": "310100"}]}, "amount": fm.money(1)}
    )


SUBTYPE_OUT = {"coding": [{"system": fm.CS_C4BB_SUBTYPE, "code": "outpatient"}]}
SUBTYPE_IN = {"coding": [{"system": fm.CS_C4BB_SUBTYPE, "code": "inpatient"}]}
PRIMARY = {"coding": [{"system": fm.CS_CARE_ROLE, "code": "primary"}]}
# (profile, what is broken, how, the rule that must report it)
BREAKS: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (fm.PROFILE_EOB_INPATIENT, "no meta.lastUpdated", _set("meta.lastUpdated", None), "meta.lastUpdated 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "no unique claim id", _set("identifier", []), "identifier:uniqueclaimid"),
    (fm.PROFILE_EOB_INPATIENT, "not institutional", _set("type.coding.0.code", "professional"),
     "type = institutional"),
    (fm.PROFILE_EOB_INPATIENT, "subType outpatient", _set("subType", SUBTYPE_OUT), "subType = inpatient"),
    (fm.PROFILE_EOB_INPATIENT, "no admission period", _drop_info("admissionperiod"),
     "supportingInfo:admissionperiod 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "received date as a period", _set("supportingInfo.1.timingDate", None),
     "supportingInfo:clmrecvddate"),
    (fm.PROFILE_EOB_INPATIENT, "no diagnosis type", _set("diagnosis.0.type", None), "diagnosis.type 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "no diagnosis", _set("diagnosis", []), "diagnosis 1..*"),
    (fm.PROFILE_EOB_INPATIENT, "no ICD-10-CM coding", _drop_coding("diagnosis.diagnosisCodeableConcept",
                                                                     fm.CS_ICD10CM), "CDCICD910CMDiagnosisCodes"),
    (fm.PROFILE_EOB_INPATIENT, "no revenue code", _set("item.0.revenue", None), "item.revenue 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "revenue code not NUBC", _set("item.0.revenue.coding.0.system", fm.CS_MED_LIST),
     "AHANUBCRevenueCodes"),
    (fm.PROFILE_EOB_INPATIENT, "no not-applicable procedure code", _drop_coding("item.productOrService",
                                                                               fm.CS_DAR),
     "C4BBEOBInstitutionalProcedureCodes"),
    (fm.PROFILE_EOB_INPATIENT, "no benefit payment status", _set("adjudication", []),
     "adjudication:benefitpaymentstatus 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "network status outside its value set",
     _set("adjudication.1.reason.coding.0.code", "other"), "adjudication:billingnetworkstatus"),
    (fm.PROFILE_EOB_INPATIENT, "amounts at header and line level", _header_amount, "adjudication amount slices"),
    (fm.PROFILE_EOB_INPATIENT, "no C4BB total", _only_fund_totals, "adjudication amount slices"),
    (fm.PROFILE_EOB_INPATIENT, "no insurance", _set("insurance", []), "insurance 1..*"),
    (fm.PROFILE_EOB_INPATIENT, "two focal insurances", _set("insurance", [{"focal": True, "coverage": {
        "reference": "Coverage/a"}}, {"focal": True, "coverage": {"reference": "Coverage/b"}}]),
     "EOB-insurance-focal"),
    (fm.PROFILE_EOB_INPATIENT, "primary care team by identifier", _set("careTeam", [
        {"sequence": 1, "provider": {"identifier": {"system": fm.SID_DR, "value": "D1"}}, "role": PRIMARY}]),
     "EOB-inst-careTeam-practitioner"),
    (fm.PROFILE_EOB_INPATIENT, "care team without role", _set("careTeam", [
        {"sequence": 1, "provider": {"reference": "Practitioner/D1"}}]), "careTeam.role 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "no billable period start", _set("billablePeriod.start", None),
     "billablePeriod.start 1..1"),
    (fm.PROFILE_EOB_INPATIENT, "payment type outside its value set", _set("payment.type.coding.0.code",
                                                                            "complete"),
     "payment.type binding"),
    (fm.PROFILE_EOB_INPATIENT, "a fund split that does not add up", _bent_fund, "yibao money identities"),
    (fm.PROFILE_EOB_OUTPATIENT, "no serviced date", _set("item.0.servicedDate", None), "item.serviced[x] 1..1"),
    (fm.PROFILE_EOB_OUTPATIENT, "subType inpatient", _set("subType", SUBTYPE_IN), "subType = outpatient"),
    (fm.PROFILE_EOB_OUTPATIENT, "admitting diagnosis on an outpatient claim",
     _set("diagnosis.0.type.0.coding.0.code", "admitting"), "diagnosis.type 0..1"),
    (fm.PROFILE_EOB_OUTPATIENT, "no ICD-10-CM coding", _drop_coding("diagnosis.diagnosisCodeableConcept",
                                                                      fm.CS_ICD10CM), "CDCICD910CMDiagnosisCodes"),
    (fm.PROFILE_EOB_OUTPATIENT, "no benefit payment status", _set("adjudication", []),
     "adjudication:benefitpaymentstatus 1..1"),
]  # fmt: skip


@pytest.mark.parametrize(("profile", "what", "breaks", "rule"), BREAKS, ids=[b[1] for b in BREAKS])
def test_an_eob_missing_what_its_profile_requires_is_reported(
    region: tuple[TestClient, str, list[str]],
    profile: str,
    what: str,
    breaks: Callable[[dict[str, Any]], None],
    rule: str,
) -> None:
    """Each claimed C4BB EOB profile's required elements, fixed values, slices and bindings are live: a
    served EOB that meets its profile, with one thing removed or broken, is reported under that rule."""
    eob = next(e for e in _served_eobs(region) if e["meta"].get("profile") == [profile])
    assert [i for i in fv.check(eob) if i.severity == "error"] == []
    bad = copy.deepcopy(eob)
    breaks(bad)
    found = [i for i in fv.check(bad) if i.severity == "error"]
    assert any(rule in i.rule for i in found), (what, [(i.rule, i.message) for i in found])


def test_every_eob_claims_its_profile_unless_it_cannot_be_met(
    region: tuple[TestClient, str, list[str]],
) -> None:
    """An EOB without a profile is a pharmacy purchase or has a diagnosis without an ICD-10-CM equivalent
    (or an inpatient line without a revenue class); every other EOB claims its C4BB profile."""
    eobs = _served_eobs(region)
    kinds = Counter(tuple(e["meta"].get("profile", [])) for e in eobs)
    assert kinds[(fm.PROFILE_EOB_INPATIENT,)] > 0 and kinds[(fm.PROFILE_EOB_OUTPATIENT,)] > 0
    why: Counter[str] = Counter()
    for e in eobs:
        med_type = next(c["code"] for c in e["subType"]["coding"] if c["system"] == fm.CS_MED_TYPE)
        no_cm = (
            any(
                fm.CS_ICD10CM not in {c["system"] for c in d["diagnosisCodeableConcept"]["coding"]}
                for d in e["diagnosis"]
            )
            or not e["diagnosis"]
        )
        no_revenue = med_type == "21" and any("revenue" not in it for it in e["item"])
        unmeetable = med_type in fm.PHARMACY_MED_TYPES or no_cm or no_revenue
        assert ("profile" not in e["meta"]) == unmeetable, e["id"]
        assert ("careTeam" in e) <= unmeetable  # a claimed EOB names its physician in a note
        why[
            "pharmacy purchase"
            if med_type in fm.PHARMACY_MED_TYPES
            else "no ICD-10-CM equivalent"
            if no_cm
            else "inpatient line without revenue class"
            if no_revenue
            else e["meta"]["profile"][0].split("/")[-1]
        ] += 1
    print(f"EOBs {len(eobs)}: " + ", ".join(f"{k} {n}" for k, n in sorted(why.items())))


def test_a_reference_to_a_resource_without_the_required_profile_is_reported(
    region: tuple[TestClient, str, list[str]],
) -> None:
    client, token, _people = region
    h = {"Authorization": f"Bearer {token}"}
    eob = next(e for e in _served_eobs(region) if e["meta"].get("profile"))

    def fetch(path: str) -> tuple[int, dict[str, Any]]:
        body = client.get(f"/fhir/{path}", headers=h).json()
        if body.get("resourceType") == "Coverage":
            body["meta"].pop("profile")  # a Coverage that is not a C4BB-Coverage
        return 200, body

    report = fv.crawl(fetch, [f"ExplanationOfBenefit/{eob['id']}"])
    assert [(i.resource, i.rule) for i in report.errors] == [
        (f"ExplanationOfBenefit/{eob['id']}", "insurance.coverage target profile")
    ]
