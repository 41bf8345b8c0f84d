"""FHIR R4 under /fhir: resources validated against the fhir.resources R4B models (structurally R4 for
these resources) and against rules written from the R4 / CARIN Blue Button specifications."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from test_api_support import HOSP, HOSP2, ME, PARENT, STRANGER, VISIT, Api, api, new_msgid

from yibao.ledger import Ledger
from yibao.web import fhir_map as fm
from yibao.web import fhir_validate as fv

__all__ = ["api"]
FHIR = "application/fhir+json"


def claim(
    psn_no: str = ME, provider: str = HOSP, use: str = "claim", msgid: str | None = None, dx: str = "I21.0"
) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "status": "active",
        "use": use,
        "created": "2025-05-10",
        "identifier": [{"system": fm.SID_MSGID, "value": msgid or new_msgid(provider)}],
        "type": {"coding": [{"system": fm.CS_CLAIM_TYPE, "code": "institutional"}]},
        "subType": {"coding": [{"system": fm.CS_MED_TYPE, "code": VISIT["med_type"]}]},
        "extension": [{"url": fm.EXT_HOSP_LV, "valueString": VISIT["hosp_lv"]}],
        "patient": {"reference": f"Patient/{psn_no}"},
        "provider": {"identifier": {"system": fm.SID_FIXMEDINS, "value": provider}},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{psn_no}"}}],
        "billablePeriod": {"start": VISIT["begntime"], "end": VISIT["endtime"]},
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": {"coding": [{"system": fm.CS_ICD10, "code": dx}]},
            }
        ],
        "item": [
            {
                "sequence": int(ln["feedetl_sn"]),
                "productOrService": {"coding": [{"system": fm.CS_MED_LIST, "code": ln["med_list_codg"]}]},
                "quantity": {"value": ln["cnt"]},
                "unitPrice": {"value": ln["pric"], "currency": "CNY"},
                "net": {"value": ln["det_item_fee_sumamt"], "currency": "CNY"},
            }
            for ln in VISIT["feedetail"]
        ],
    }


def amounts(entries: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {e["category"]["coding"][0]["code"]: Decimal(str(e["amount"]["value"])) for e in entries}


def test_metadata_is_an_r4_capability_statement(api: Api) -> None:
    r = api.client.get("/fhir/metadata")
    assert r.status_code == 200 and r.headers["content-type"] == FHIR
    cs = r.json()
    CapabilityStatement.model_validate(cs)
    assert cs["fhirVersion"] == "4.0.1"
    served = {x["type"]: x for x in cs["rest"][0]["resource"]}
    assert set(served) == {
        "Patient", "Coverage", "Claim", "ClaimResponse", "ExplanationOfBenefit", "Organization",
        "Location", "Practitioner", "CodeSystem",
    }  # fmt: skip
    eob = {p["name"] for p in served["ExplanationOfBenefit"]["searchParam"]}
    assert eob == {"_id", "patient", "identifier", "type", "status", "service-date", "_lastUpdated"}
    assert "ExplanationOfBenefit:patient" in served["ExplanationOfBenefit"]["searchInclude"]
    assert cs["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


def test_patient_and_coverage_of_the_insured_person(api: Api) -> None:
    p = api.client.get(f"/fhir/Patient/{ME}", headers=api.h("insured"))
    assert p.headers["content-type"] == FHIR
    Patient.model_validate(p.json())
    assert p.json()["gender"] == "male" and p.json()["birthDate"] == "1990-01-01"
    c = api.client.get(f"/fhir/Coverage/{PARENT}", headers=api.h("insured")).json()
    Coverage.model_validate(c)
    assert c["beneficiary"]["reference"] == f"Patient/{PARENT}" and c["type"]["coding"][0]["code"] == "310"
    b = api.client.get(
        "/fhir/Coverage", params={"beneficiary": f"Patient/{ME}"}, headers=api.h("insured")
    ).json()
    assert b["resourceType"] == "Bundle" and b["total"] == 1
    # the claimed profiles are met, with a versioned claim and a structured Chinese name
    assert fv.check(p.json()) == [] and fv.check(c) == []
    assert p.json()["meta"]["profile"] == [fm.PROFILE_PATIENT] and fm.PROFILE_PATIENT.endswith("|2.2.0")
    assert p.json()["name"][0]["family"] == "张" and p.json()["name"][0]["given"] == ["三丰"]
    assert fm.split_name("欧阳修") == ("欧阳", "修")
    # _id search (was 404) and _revinclude of the Coverage
    r = api.client.get(
        "/fhir/Patient", params={"_id": ME, "_revinclude": "Coverage:beneficiary"}, headers=api.h("insured")
    ).json()
    assert r["total"] == 1 and [e["search"]["mode"] for e in r["entry"]] == ["match", "include"]
    assert r["entry"][1]["resource"]["resourceType"] == "Coverage"


def test_claim_settles_and_answers_a_claim_response_whose_totals_match_2207(api: Api) -> None:
    body = claim()
    r = api.client.post("/fhir/Claim", json=body, headers={**api.h("hospital"), "Content-Type": FHIR})
    assert r.status_code == 201, r.text
    cr = r.json()
    ClaimResponse.model_validate(cr)
    t = amounts(cr["total"])
    assert t["submitted"] == Decimal("3381.40")
    assert t["submitted"] == t["eligible"] + t["copay"] + t["noncovered"]  # the §1.2 visit identity
    setl = cr["id"]
    # the ClaimResponse and the Claim can be read back; Location names the ClaimResponse
    assert r.headers["location"].endswith(f"/fhir/ClaimResponse/{setl}")
    back = api.client.get(f"/fhir/ClaimResponse/{setl}", headers=api.h("hospital"))
    assert back.status_code == 200 and back.json()["request"] == {"reference": f"Claim/{setl}"}
    assert amounts(back.json()["total"]) == t
    sent = api.client.get(f"/fhir/Claim/{setl}", headers=api.h("hospital")).json()
    assert [Decimal(str(i["net"]["value"])) for i in sent["item"]] == [
        Decimal(x["net"]["value"]) for x in body["item"]
    ]
    assert fv.check(back.json()) == [] and fv.check(sent) == []
    with Ledger.open(api.url) as led:
        s = led.get_settlement(setl).settlement
    assert (
        t["benefit"] == Decimal(s.fund_pay_sumamt) / 100
        and t["paidbypatient"] == Decimal(s.psn_part_amt) / 100
    )
    again = api.client.post("/fhir/Claim", json=body, headers=api.h("hospital"))
    assert again.status_code == 200 and again.json()["id"] == setl


def test_predetermination_is_a_pre_settlement_that_stores_nothing(api: Api) -> None:
    r = api.client.post("/fhir/Claim", json=claim(use="predetermination"), headers=api.h("hospital"))
    assert r.status_code == 200 and r.json()["id"].startswith("pre-")
    with Ledger.open(api.url) as led:
        assert led.row_counts()["settlement"] == 0


def test_explanation_of_benefit_in_carin_style_for_the_patient(api: Api) -> None:
    setl = api.client.post("/fhir/Claim", json=claim(dx="I21.9"), headers=api.h("hospital")).json()["id"]
    eob = api.client.get(f"/fhir/ExplanationOfBenefit/{setl}", headers=api.h("insured")).json()
    ExplanationOfBenefit.model_validate(eob)
    # C4BB-ExplanationOfBenefit-Inpatient-Institutional, met: unique claim id, subType, admission period,
    # diagnosis types and an ICD-10-CM equivalent, NUBC revenue codes, no US procedure code (not-applicable),
    # payment and network status, focal insurance, adjudicated lines that add up to the totals
    assert eob["meta"]["profile"] == [fm.PROFILE_EOB_INPATIENT] and eob["meta"]["lastUpdated"]
    issues = fv.check(eob)
    assert [i for i in issues if i.severity == "error"] == []
    assert {i.rule.split("|2.2.0 ")[1] for i in issues} == {  # the national fund splits (extensible)
        "item.adjudication.category binding C4BBAdjudicationCategoryDiscriminator",
        "total.category binding C4BBTotalCategoryDiscriminator",
    }
    assert eob["identifier"][0]["type"]["coding"][0]["code"] == "uc"
    assert eob["subType"]["coding"][0]["code"] == "inpatient"
    assert eob["supportingInfo"][0]["timingPeriod"] == {"start": VISIT["begntime"], "end": VISIT["endtime"]}
    assert eob["diagnosis"][0]["type"][0]["coding"][0]["code"] == "principal"
    assert eob["diagnosis"][0]["diagnosisCodeableConcept"]["coding"] == [
        {"system": fm.CS_ICD10, "code": "I21.9"},
        {"system": fm.CS_ICD10CM, "code": "I21.9"},
    ]
    assert [a["category"]["coding"][0]["code"] for a in eob["adjudication"]] == [
        "benefitpaymentstatus",
        "billingnetworkstatus",
    ]
    assert eob["adjudication"][0]["reason"]["coding"][0]["code"] == "innetwork"
    revenue = {it["revenue"]["text"]: it["revenue"]["coding"][0]["code"] for it in eob["item"]}
    assert revenue["西药费"] == "0250" and revenue["床位费"] == "0160"
    assert all(
        {"system": fm.CS_DAR, "code": "not-applicable", "display": "Not Applicable"}
        in it["productOrService"]["coding"]
        for it in eob["item"]
    )
    assert "careTeam" not in eob  # a C4BB care team needs a C4BB-Practitioner (NPI)
    assert "医疗费用总额 3,381.40 元" in eob["text"]["div"]
    assert eob["insurance"][0]["focal"] is True and eob["outcome"] == "complete"
    lines = [amounts(it["adjudication"]) for it in eob["item"]]
    assert sum(x["submitted"] for x in lines) == amounts(eob["total"])["submitted"]
    assert sum(x["eligible"] for x in lines) == amounts(eob["total"])["eligible"]
    funds = [a for a in eob["total"] if a["category"]["coding"][0]["system"] == fm.CS_FUND]
    assert (
        funds and sum(Decimal(str(a["amount"]["value"])) for a in funds) == amounts(eob["total"])["benefit"]
    )
    bundle = api.client.get(
        "/fhir/ExplanationOfBenefit", params={"patient": ME}, headers=api.h("insured")
    ).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [setl]


def test_an_eob_without_an_icd10cm_equivalent_claims_no_profile(api: Api) -> None:
    # I21.0 (acute transmural infarction of the anterior wall) has no one ICD-10-CM equivalent
    setl = api.client.post("/fhir/Claim", json=claim(), headers=api.h("hospital")).json()["id"]
    eob = api.client.get(f"/fhir/ExplanationOfBenefit/{setl}", headers=api.h("insured")).json()
    assert "profile" not in eob["meta"] and fv.check(eob) == []
    assert eob["diagnosis"][0]["diagnosisCodeableConcept"]["coding"] == [
        {"system": fm.CS_ICD10, "code": "I21.0"}
    ]
    claimed = {**eob, "meta": {**eob["meta"], "profile": [fm.PROFILE_EOB_INPATIENT]}}
    assert [i.message for i in fv.check(claimed) if i.severity == "error"] == [
        "diagnosis.diagnosisCodeableConcept[0]: no coding from ICD-10-CM / ICD-9-CM (required binding), "
        f"found [('{fm.CS_ICD10}', 'I21.0')]"
    ]


def test_errors_are_operation_outcomes(api: Api) -> None:
    r = api.client.get(f"/fhir/Patient/{ME}")
    assert r.status_code == 401 and r.headers["content-type"] == FHIR
    OperationOutcome.model_validate(r.json())
    assert (
        api.client.get(f"/fhir/Patient/{STRANGER}", headers=api.h("insured")).json()["issue"][0]["code"]
        == "forbidden"
    )
    nf = api.client.get("/fhir/ExplanationOfBenefit/nope", headers=api.h("admin"))
    assert nf.status_code == 404 and nf.json()["issue"][0]["code"] == "not-found"
    nobody = api.client.get("/fhir/Patient/P999", headers=api.h("admin")).json()["issue"][0]
    assert nobody["code"] == "not-found" and "expression" not in nobody  # not "Claim.patient"
    bad = claim()
    bad["item"][0]["net"]["value"] = "1.00"
    r = api.client.post("/fhir/Claim", json=bad, headers=api.h("hospital"))
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Claim.item[0].net"]
    structure = claim()
    structure["status"] = 17
    r = api.client.post("/fhir/Claim", json=structure, headers=api.h("hospital"))
    assert r.status_code == 422 and r.json()["issue"][0]["code"] == "structure"
    other = api.client.post("/fhir/Claim", json=claim(provider=HOSP2), headers=api.h("hospital"))
    assert other.status_code == 403 and other.json()["resourceType"] == "OperationOutcome"
