"""FHIR searches a client can rely on: true totals, paging that reaches every match once, every declared
parameter applied, unknown ones reported, _include, directory resources and amounts that agree with the
portal and the deduction cap."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from ledger_support import create_pg_database, drop_pg_database
from test_api_support import HOSP, ME, PARENT, Api, build_api, new_msgid, visit_json

from yibao.ledger import Ledger
from yibao.money import fmt_yuan
from yibao.policy.book import PolicyBook
from yibao.policy.loader import example_path
from yibao.settlement import io as sio
from yibao.settlement.allocation import line_fund_paid
from yibao.usecases import settlement
from yibao.web import fhir_map as fm
from yibao.web import fhir_validate as fv

N = 92
DAY0 = dt.date(2025, 1, 2)


def _settle_many(url: str, psn_no: str, n: int, start: int = 0) -> list[str]:
    book = PolicyBook.from_file(example_path("xian"))
    out = []
    with Ledger.open(url) as led:
        for k in range(start, start + n):
            v = visit_json(psn_no)
            begin = DAY0 + dt.timedelta(days=3 * k)
            v.update(begntime=begin.isoformat(), endtime=(begin + dt.timedelta(days=1)).isoformat())
            visit = sio.parse_visit(sio.loads(json.dumps(v)))
            out.append(settlement.settle(led, book, visit, new_msgid(HOSP), audit=None).setl_id)
    return out


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small institution registry and 医保医师库, as a synthetic region writes them."""
    d = tmp_path / "registry"
    d.mkdir()
    pl.DataFrame(
        {
            "fixmedins_code": [HOSP, "H61000000002"],
            "name": ["雁塔区第1中心医院", "碑林区第2人民医院"],
            "kind": ["hospital", "hospital"],
            "level": ["3", "2"],
            "district": ["雁塔区", "碑林区"],
        }
    ).write_parquet(d / "institutions.parquet")
    pl.DataFrame(
        {
            "dr_code": ["D6101000000001"],
            "fixmedins_code": [HOSP],
            "title": ["232"],
            "title_name": ["副主任医师"],
        }
    ).write_parquet(d / "physicians.parquet")
    monkeypatch.setenv("YIBAO_INSTITUTIONS", str(d / "institutions.parquet"))
    return d


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def many(request: pytest.FixtureRequest, tmp_path: Path, registry: Path) -> Iterator[tuple[Api, list[str]]]:
    """A person with 92 settled stays, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        for api in build_api(f"sqlite:///{tmp_path / 'many.db'}"):
            yield api, _settle_many(api.url, ME, N)
        return
    name, url = create_pg_database()
    try:
        for api in build_api(url):
            yield api, _settle_many(api.url, ME, N)
    finally:
        drop_pg_database(name)


def _get(api: Api, who: str, path: str, **params: Any) -> dict[str, Any]:
    r = api.client.get(path, params=params or None, headers=api.h(who))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _follow(api: Api, who: str, first: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [first]
    while nxt := [lk["url"] for lk in pages[-1]["link"] if lk["relation"] == "next"]:
        pages.append(_get(api, who, nxt[0].split("testserver", 1)[1]))
    return pages


def test_a_client_paging_through_92_eobs_gets_all_92_once(many: tuple[Api, list[str]]) -> None:
    api, ids = many
    first = _get(api, "insured", "/fhir/ExplanationOfBenefit", patient=f"Patient/{ME}")
    assert first["total"] == N and len(first["entry"]) == 50
    # a settlement stored while the client pages does not shift the pages (snapshot) nor the total
    _settle_many(api.url, ME, 1, start=N)
    pages = _follow(api, "insured", first)
    got = [e["resource"]["id"] for p in pages for e in p["entry"] if e["search"]["mode"] == "match"]
    assert len(pages) == 2 and all(p["total"] == N for p in pages)
    assert sorted(got) == sorted(ids) and len(set(got)) == N
    assert {lk["relation"] for lk in pages[1]["link"]} >= {"self", "first", "previous", "last"}
    # _count is clamped, 0 gives the total only, nonsense is a 400 OperationOutcome
    assert len(_get(api, "insured", "/fhir/ExplanationOfBenefit", _count="500")["entry"]) == N + 1
    zero = _get(api, "insured", "/fhir/ExplanationOfBenefit", _count="0")
    assert zero["total"] == N + 1 and zero["entry"] == []
    bad = api.client.get("/fhir/ExplanationOfBenefit", params={"_count": "x"}, headers=api.h("insured"))
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["_count"]


def test_every_declared_eob_parameter_filters(many: tuple[Api, list[str]]) -> None:
    api, ids = many
    url = "/fhir/ExplanationOfBenefit"

    def total(**params: Any) -> int:
        return int(_get(api, "insured", url, **params)["total"])

    assert total(_id=ids[5]) == 1 and total(_id=f"{ids[5]},{ids[6]}") == 2
    assert total(identifier=f"{fm.SID_SETL}|{ids[7]}") == 1 and total(identifier="urn:other|x") == 0
    assert total(type=f"{fm.CS_CLAIM_TYPE}|institutional") == N and total(type="pharmacy") == 0
    assert total(status="active") == N and total(status="cancelled") == 0
    # visits k start on DAY0 + 3k and last two days: January holds k = 0..9 (the stay of k=10 starts 1 Feb)
    assert total(**{"service-date": "2025-01"}) == 10
    assert total(**{"service-date": "ge2025-12-01"}) == len(
        [k for k in range(N) if DAY0 + dt.timedelta(3 * k + 1) >= dt.date(2025, 12, 1)]
    )
    assert total(**{"service-date": "lt2025-01-05"}) == 1 and total(**{"service-date": "le2025-01-05"}) == 2
    today = dt.datetime.now(dt.UTC).date()
    assert total(_lastUpdated=f"ge{(today - dt.timedelta(days=1)).isoformat()}") == N
    assert total(_lastUpdated=f"lt{(today - dt.timedelta(days=1)).isoformat()}") == 0
    # the parent's EOBs are not the person's; another person's are refused
    assert total(patient=PARENT) == 0
    assert api.client.get(url, params={"patient": "P000000003"}, headers=api.h("insured")).status_code == 403
    # an unknown parameter is reported, not silently ignored; under handling=strict it is refused
    lenient = _get(api, "insured", url, _id=ids[0], foo="1")
    assert lenient["total"] == 1 and lenient["entry"][-1]["search"]["mode"] == "outcome"
    assert lenient["entry"][-1]["resource"]["issue"][0]["expression"] == ["foo"]
    assert "foo" not in lenient["link"][0]["url"]
    strict = api.client.get(
        url, params={"foo": "1"}, headers={**api.h("insured"), "Prefer": "handling=strict"}
    )
    assert strict.status_code == 400 and strict.json()["issue"][0]["code"] == "not-supported"


def test_include_brings_the_referenced_resources_and_every_reference_resolves(
    many: tuple[Api, list[str]],
) -> None:
    api, ids = many
    b = _get(api, "insured", "/fhir/ExplanationOfBenefit", _id=ids[0], _include="*")
    kinds = sorted(e["resource"]["resourceType"] for e in b["entry"] if e["search"]["mode"] == "include")
    assert kinds == ["Coverage", "Location", "Organization", "Organization", "Patient"]
    eob = b["entry"][0]["resource"]
    assert eob["provider"] == {"reference": f"Organization/{HOSP}", "display": "雁塔区第1中心医院"}
    for ref in fv.references(eob):
        r = api.client.get(f"/fhir/{ref}", headers=api.h("insured"))
        assert r.status_code == 200, ref
        assert fv.check(r.json()) == []
    org = _get(api, "insured", f"/fhir/Organization/{HOSP}")
    assert org["meta"]["profile"] == [fm.PROFILE_ORGANIZATION] and org["address"][0]["district"] == "雁塔区"
    dr = _get(api, "auditor", "/fhir/Practitioner/D6101000000001")
    assert dr["qualification"][0]["code"]["text"] == "副主任医师"
    found = _get(api, "auditor", "/fhir/Organization", name="碑林")
    assert [e["resource"]["id"] for e in found["entry"]] == ["H61000000002"]
    cs = _get(api, "auditor", "/fhir/CodeSystem", url=fm.CS_MED_TYPE)["entry"][0]["resource"]
    assert {c["code"]: c["display"] for c in cs["concept"]}["21"] == "住院"
    assert cs["concept"][0]["designation"][0]["language"] == "en"


def test_eob_line_amounts_are_the_stored_allocation_as_the_portal_and_the_deduction_cap_show(
    many: tuple[Api, list[str]],
) -> None:
    api, ids = many
    setl = ids[3]
    eob = _get(api, "insured", f"/fhir/ExplanationOfBenefit/{setl}")
    with Ledger.open(api.url) as led:
        stored = led.get_settlement(setl)
        caps = led.deduction_caps([setl])[setl]
    page = api.client.get(f"/me/visits/{setl}", headers=api.h("insured")).text
    # the first cell is the item's name with its code in a <small>; the seven amounts follow
    rows = re.findall(r"<tr><td>(?:(?!</td>).)*</td>((?:<td>[^<]*</td>){7})</tr>", page)
    assert len(rows) == len(stored.settlement.line_splits) == len(eob["item"])

    def amt(adjs: list[dict[str, Any]], code: str) -> int:
        return sum(
            int(Decimal(str(a["amount"]["value"])) * 100)
            for a in adjs
            if a["category"]["coding"][0]["code"] == code
        )

    for item, sp, row in zip(eob["item"], stored.settlement.line_splits, rows, strict=True):
        adj = item["adjudication"]
        # the national fund splits: additional entries with the fund code as their category
        funds = {
            a["category"]["coding"][0]["code"]: int(Decimal(str(a["amount"]["value"])) * 100)
            for a in adj
            if a["category"]["coding"][0]["system"] == fm.CS_FUND
        }
        assert funds == {k: v for k, v in sp.fund_pay.items() if v}
        assert amt(adj, "deductible") == sp.act_pay_dedc
        assert amt(adj, "paidbypatienthealthaccount") == sp.acct_pay
        assert amt(adj, "paidbypatientcash") == sp.psn_cash_pay
        assert amt(adj, "benefit") == line_fund_paid(sp) == caps.lines[sp.feedetl_sn]
        cells = re.findall(r"<td>([^<]*)</td>", row[0] if isinstance(row, tuple) else row)
        assert cells[4] == fmt_yuan(amt(adj, "benefit"))  # the portal's "paid by funds" column
        assert cells[5] == fmt_yuan(sp.acct_pay) and cells[6] == fmt_yuan(sp.psn_cash_pay)
