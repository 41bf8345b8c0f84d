"""What crosses the hub about a visitor besides the priced lines: the visit's JSON form reads back to the
same visit, the person comes back without an ID number, and the care region's in-event audit runs on the
person as the insured region knows them, its findings sent with the priced lines."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from yibao.crossregion.client import JsonClient
from yibao.crossregion.store import RouteTable
from yibao.crossregion.visitor import findings_from_json, person_from_json, person_to_json
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement import io as sio
from yibao.settlement.model import AuditFinding, Line, Person, SettlementError, Visit
from yibao.usecases import crossregion as xr

DAY = dt.date(2025, 6, 10)


def _visit() -> Visit:
    return Visit(
        "M1", "P610500000007", "21", "H61010000001", "3", DAY - dt.timedelta(days=4), DAY,
        (Line("1", "003310030010000", 10_000, 85_000, 85_000, None, "D01", DAY - dt.timedelta(days=3)),
         Line("2", "XJ01DDA003B002010119046", 200_000, 350, 7_000, 7, None, None)),
        diagnoses=("K35.8",), use_account=False, accounting_date=DAY,
    )  # fmt: skip


def test_a_visit_read_back_from_its_json_form_is_the_same_visit() -> None:
    v = _visit()
    assert sio.parse_visit(sio.visit_to_json(v)) == v


def test_the_person_crosses_without_an_id_number_or_family() -> None:
    p = Person("P1", "参保人", "610500197001010001", "F", dt.date(1970, 1, 1), "310", "11",
               frozenset({"retired"}), "610500", ("P2",))  # fmt: skip
    d = person_to_json(p)
    assert "certno" not in d and "family" not in d
    back = person_from_json(d)
    assert back.certno == "" and back.family == () and (back.gender, back.birth_date) == ("F", p.birth_date)
    with pytest.raises(SettlementError):
        person_from_json({"psn_no": "P1"})


class _Hub:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append((path, body))
        if path == "/hub/v1/person":
            p = Person(body["psn_no"], "参保人7", "", "F", dt.date(1950, 3, 1), "310", "11")
            return {"ok": True, "psn_no": body["psn_no"], "person": person_to_json(p)}
        return {"ok": True, "output": {"setlinfo": {}}, "coverage": {"locality": "remote_unfiled"}}


def test_the_care_regions_audit_runs_on_the_person_the_insured_region_knows_and_travels_with_the_lines() -> (
    None
):
    hub = _Hub()
    side = xr.CareSide(cast(RouteTable, None), cast(JsonClient, hub), "610100")
    seen: list[Person] = []

    def audit(person: Person, visit: Visit) -> list[AuditFinding]:
        seen.append(person)
        return (
            [AuditFinding("2", "R-AGE", "block", "年龄不符", "age")]
            if person.age_on(visit.begin_date) > 70
            else []
        )

    v = _visit()
    book = PolicyBook.from_file(example_path("xian"))
    xr.settle_visitor(side, book, v, sio.visit_to_json(v), "MSG1", "610500", pre=True, audit=audit)
    assert [p for p, _ in hub.bodies] == ["/hub/v1/person", "/hub/v1/settle"]
    assert seen[0].birth_date == dt.date(1950, 3, 1)
    sent = hub.bodies[1][1]["audit"]
    assert sent == [{"feedetl_sn": "2", "rule_code": "R-AGE", "severity": "block", "reason_zh": "年龄不符",
                     "reason_en": "age"}]  # fmt: skip
    assert findings_from_json(sent, v) == [AuditFinding("2", "R-AGE", "block", "年龄不符", "age")]
    # without an audit hook no person is asked for (one hop fewer)
    hub.bodies.clear()
    xr.settle_visitor(side, book, v, sio.visit_to_json(v), "MSG2", "610500", pre=True)
    assert [p for p, _ in hub.bodies] == ["/hub/v1/settle"] and "audit" not in hub.bodies[0][1]


def test_a_finding_of_an_unknown_severity_is_refused_naming_it() -> None:
    with pytest.raises(SettlementError) as err:
        findings_from_json([{"feedetl_sn": "1", "severity": "maybe"}], _visit())
    assert err.value.field == "audit[0].severity"
