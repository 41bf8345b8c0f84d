"""Validation in CI: every resource type /fhir serves, from a synthetic demo region settled through the
ledger, crawled from its searches through every page and every reference, validated against base R4 (the
fhir.resources R4B models) and the rules of every profile claimed — 0 errors.  The figures printed are
the ones docs/FHIR.md reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
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
