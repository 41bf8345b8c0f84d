"""SMART App Launch: an app the person authorised (authorisation code + PKCE, on the Chinese consent page)
reads only the patient and the kinds of data consented to, only on /fhir; the person sees what it read and
withdraws the consent from the portal."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

from test_api_support import ME, PARENT, Api, api

__all__ = ["api"]
CB = "https://app.example.org/cb"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def register(api: Api, client_id: str = "health-app") -> None:
    r = api.client.post(
        "/oauth/apps",
        json={"client_id": client_id, "name": "健康助手", "redirect_uris": [CB]},
        headers=api.h("admin"),
    )
    assert r.status_code == 201, r.text


def authorize(api: Api, challenge: str, scope: str, **extra: str) -> Any:
    params = {
        "response_type": "code",
        "client_id": "health-app",
        "redirect_uri": CB,
        "scope": scope,
        "state": "s-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "aud": "http://testserver/fhir",
        **extra,
    }
    return api.client.get("/oauth/authorize", params=params, headers=api.h("insured"), follow_redirects=False)


def consent(api: Api, page: str, patient: str, scopes: list[str], decision: str = "allow") -> Any:
    pending = page.split('name="pending" value="', 1)[1].split('"', 1)[0]
    form = {"pending": pending, "patient": patient, "decision": decision, "scope": scopes}
    return api.client.post("/oauth/authorize", data=form, headers=api.h("insured"), follow_redirects=False)


def code_of(resp: Any) -> str:
    assert resp.status_code == 302, resp.text
    q = parse_qs(urlparse(resp.headers["location"]).query)
    assert q["state"] == ["s-123"]
    return q["code"][0]


def token(api: Api, code: str, verifier: str) -> Any:
    return api.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CB,
            "client_id": "health-app",
            "code_verifier": verifier,
        },
    )


def test_discovery_document(api: Api) -> None:
    for path in ("/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"):
        c = api.client.get(path).json()
        assert c["code_challenge_methods_supported"] == ["S256"]
        assert c["token_endpoint"].endswith("/oauth/token") and "patient/*.read" in c["scopes_supported"]
        assert "permission-patient" in c["capabilities"]


def test_an_authorised_app_reads_only_what_the_person_consented_to(api: Api) -> None:
    settled = api.settle(psn_no=PARENT)["setlinfo"]["setl_id"]
    mine = api.settle(psn_no=ME)["setlinfo"]["setl_id"]
    register(api)
    verifier, challenge = pkce()
    page = authorize(api, challenge, "launch/patient patient/*.read")
    assert page.status_code == 200 and "是否允许“健康助手”查看您的医保信息" in page.text
    assert "李四" in page.text  # the family member the person may choose
    big = authorize(api, challenge, "launch/patient patient/*.read", big="1")
    assert '<body class="big">' in big.text and "长辈模式" not in big.text  # 长辈模式 large text is on
    # the person narrows it: only the parent's claims, nothing else
    code = code_of(consent(api, page.text, PARENT, ["patient/ExplanationOfBenefit.read"]))
    r = token(api, code, verifier)
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["patient"] == PARENT and tok["scope"] == "launch/patient patient/ExplanationOfBenefit.read"
    h = {"Authorization": f"Bearer {tok['access_token']}"}
    assert api.client.get(f"/fhir/ExplanationOfBenefit/{settled}", headers=h).status_code == 200
    bundle = api.client.get("/fhir/ExplanationOfBenefit", headers=h).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [settled]  # the person's own are not there
    assert api.client.get(f"/fhir/ExplanationOfBenefit/{mine}", headers=h).status_code == 403
    assert api.client.get(f"/fhir/Patient/{PARENT}", headers=h).status_code == 403  # not consented
    inc = api.client.get("/fhir/ExplanationOfBenefit", params={"_include": "*"}, headers=h).json()
    assert {e["resource"]["resourceType"] for e in inc["entry"]} == {"ExplanationOfBenefit"}
    # the token is not a login: nothing outside /fhir accepts it
    assert api.client.get("/auth/me", headers=h).status_code == 401
    assert api.client.get(f"/api/v1/persons/{PARENT}", headers=h).status_code == 401
    # the access log names the app; the person sees it and withdraws the consent
    apps = api.client.get("/me/apps", headers=api.h("insured")).text
    assert "健康助手" in apps and "撤销授权" in apps and "应用「健康助手」" in apps
    who = api.client.get("/me/access?psn=" + PARENT, headers=api.h("insured")).text
    assert "应用「健康助手」" in who
    grant = apps.split('action="/me/apps/', 1)[1].split("/revoke", 1)[0]
    r = api.client.post(f"/me/apps/{grant}/revoke", headers=api.h("insured"), follow_redirects=False)
    assert r.status_code == 303
    assert api.client.get(f"/fhir/ExplanationOfBenefit/{settled}", headers=h).status_code == 401


def test_pkce_and_single_use_codes_are_enforced(api: Api) -> None:
    register(api)
    verifier, challenge = pkce()
    # without a challenge the app is sent back with an error
    r = api.client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "health-app",
            "redirect_uri": CB,
            "scope": "patient/*.read",
            "state": "s",
        },
        headers=api.h("insured"),
        follow_redirects=False,
    )
    assert r.status_code == 302 and "error=invalid_request" in r.headers["location"]
    page = authorize(api, challenge, "patient/*.read")
    code = code_of(consent(api, page.text, ME, ["patient/*.read"]))
    assert token(api, code, "x" * 50).json()["error"] == "invalid_grant"  # wrong verifier
    ok = token(api, code, verifier)
    assert ok.status_code == 200
    again = token(api, code, verifier)  # a code used twice revokes what it gave
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    h = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert api.client.get(f"/fhir/Patient/{ME}", headers=h).status_code == 401
    # refusing sends access_denied; an unknown redirect is never followed
    page = authorize(api, challenge, "patient/*.read")
    denied = consent(api, page.text, ME, ["patient/*.read"], decision="deny")
    assert denied.status_code == 302 and "error=access_denied" in denied.headers["location"]
    evil = authorize(api, challenge, "patient/*.read", redirect_uri="https://evil.example/cb")
    assert evil.status_code == 400 and "evil" not in evil.headers.get("location", "")


def test_app_revokes_its_own_token(api: Api) -> None:
    register(api)
    verifier, challenge = pkce()
    code = code_of(consent(api, authorize(api, challenge, "patient/*.rs").text, ME, ["patient/*.rs"]))
    tok = token(api, code, verifier).json()["access_token"]
    h = {"Authorization": f"Bearer {tok}"}
    assert api.client.get(f"/fhir/Coverage/{ME}", headers=h).status_code == 200
    assert api.client.post("/oauth/revoke", data={"token": tok, "client_id": "health-app"}).status_code == 200
    assert api.client.get(f"/fhir/Coverage/{ME}", headers=h).status_code == 401
