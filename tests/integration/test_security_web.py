"""Browser-facing protections: security headers, no-store, cross-site form posts refused, JSON-only
transactions, passwords never echoed, documentation from local files, ID numbers masked in tracebacks,
strict dates and diagnosis codes in the HIS JSON."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, build_api, envelope, visit_json

from yibao.demo.logins import DEMO_PASSWORD
from yibao.web.masking import MaskingFilter


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from build_api(f"sqlite:///{tmp_path / 'web.db'}")


def test_security_headers_and_no_store(api: Api) -> None:
    for path, headers in (("/healthz", {}), ("/api/v1/persons/P000000001", api.h("insured"))):
        r = api.client.get(path, headers=headers)
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"  # no-referrer makes form posts Origin: null
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "script-src 'self';" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"


def test_docs_are_served_from_local_files(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert "/static/apidocs/swagger/swagger-ui-bundle.js" in page.text
    assert api.client.get("/static/apidocs/swagger/swagger-ui-bundle.js").status_code == 200
    assert api.client.get("/static/apidocs/swagger/swagger-ui.css").status_code == 200
    redoc = api.client.get("/redoc")
    assert redoc.status_code == 200 and "/static/apidocs/redoc/redoc.standalone.js" in redoc.text
    assert "fonts.googleapis" not in redoc.text


def test_a_cross_site_form_post_with_the_session_cookie_is_refused(api: Api) -> None:
    c = api.client
    assert c.post("/auth/login", json={"username": "insured", "password": DEMO_PASSWORD}).status_code == 200
    evil = c.post("/portal/logout", headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert evil.status_code == 403
    evil = c.post("/portal/logout", headers={"referer": "https://evil.example/x"}, follow_redirects=False)
    assert evil.status_code == 403
    assert c.get("/auth/me").status_code == 200  # still logged in
    same = c.post("/portal/logout", headers={"origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code in (200, 303)


def test_the_transaction_endpoint_takes_json_only(api: Api) -> None:
    body = json.dumps(envelope("2207", visit_json()))
    r = api.client.post(
        "/api/transaction", content=body, headers={**api.h("hospital"), "content-type": "text/plain"}
    )
    assert r.status_code == 415
    r = api.client.post(
        "/api/transaction", content=body, headers={**api.h("hospital"), "content-type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["infcode"] == 0


def test_a_long_password_is_not_echoed(api: Api) -> None:
    secret = "s3cret-" * 40
    r = api.client.post("/auth/login", json={"username": "admin", "password": secret})
    assert r.status_code == 422 and "s3cret" not in r.text
    r = api.client.post(
        "/auth/password", json={"old_password": secret, "new_password": "x"}, headers=api.h("admin")
    )
    assert r.status_code == 422 and "s3cret" not in r.text


def test_id_numbers_are_masked_in_logged_tracebacks() -> None:
    try:
        raise ValueError("unknown person 610101199001011234")
    except ValueError:
        rec = logging.LogRecord("yibao", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    MaskingFilter().filter(rec)
    text = logging.Formatter().format(rec)
    assert "610101199001011234" not in text and "610101********1234" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [("begntime", "2025-05-03garbage"), ("endtime", "2025-05-10<x>"), ("diagnoses", ["<script>"])],
)
def test_strict_dates_and_codes_in_a_visit(api: Api, field: str, value: object) -> None:
    v = visit_json()
    v[field] = value
    r = api.tx("hospital", "2207", v)
    assert r.status_code == 200 and r.json()["infcode"] == -1 and field in r.json()["err_field"]


def test_every_post_form_carries_a_csrf_token_and_a_browser_post_needs_it(api: Api) -> None:
    c = api.client
    page = c.get("/login")
    token = c.cookies.get("yb_csrf")
    assert token and f'name="csrf_token" value="{token}"' in page.text
    browser = {"origin": "http://testserver"}
    creds = {"username": "insured", "password": DEMO_PASSWORD}
    # a browser post without the token, or with another one, is refused
    assert c.post("/login", data=creds, headers=browser, follow_redirects=False).status_code == 403
    bad = {**creds, "csrf_token": "x" * 43}
    assert c.post("/login", data=bad, headers=browser, follow_redirects=False).status_code == 403
    ok = c.post("/login", data={**creds, "csrf_token": token}, headers=browser, follow_redirects=False)
    assert ok.status_code == 303
    # the portal's pages carry it in every post form too
    me = c.get("/me/cases", headers={"accept": "text/html"})
    forms = me.text.count('method="post"')
    assert forms >= 1 and me.text.count('name="csrf_token"') >= forms
    # multipart forms are checked the same way
    r = c.post("/portal/logout", files={"csrf_token": (None, token)}, headers=browser, follow_redirects=False)
    assert r.status_code in (200, 303)


def test_a_diagnosis_outside_the_catalogue_is_refused_on_every_input(api: Api) -> None:
    """HIS JSON (REST), the national envelope (2207) and a FHIR Claim: refused at input naming the field,
    Chinese first; nothing settled."""
    from test_api_fhir import claim
    from test_api_support import new_msgid

    v = visit_json()
    v["diagnoses"] = ["I10", "K94.0"]
    rest = api.client.post(
        "/api/v1/settlements", json={"msgid": new_msgid(), "visit": v}, headers=api.h("hospital")
    )
    assert rest.status_code == 422
    assert rest.json()["detail"]["field"] == "diagnoses[1]"
    assert rest.json()["detail"]["code"] == "unknown_diagnosis"
    assert rest.json()["detail"]["reason"].startswith("诊断编码 'K94.0' 不在")
    national = api.tx("hospital", "2207", v).json()
    assert national["infcode"] == -1 and national["err_field"] == "diagnoses[1]"
    assert national["err_code"] == "unknown_diagnosis" and national["err_msg"].startswith("诊断编码")
    fhir = api.client.post("/fhir/Claim", json=claim(dx="D49.9"), headers=api.h("hospital"))
    assert fhir.status_code == 422
    issue = fhir.json()["issue"][0]
    assert issue["expression"] == ["Claim.diagnosis[0].diagnosisCodeableConcept.coding[0].code"]
    assert "诊断编码 'D49.9' 不在医保疾病诊断分类与代码目录中" in issue["diagnostics"]
    me = api.client.get("/api/v1/persons/P000000001/settlements", headers=api.h("insured"))
    assert me.status_code == 200 and me.json() == []
