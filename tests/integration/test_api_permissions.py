"""Least privilege: every role (and no login) tries every endpoint of the service.

``RULES`` says which roles may use each (method, path).  The test walks ``app.routes``: an endpoint with no
rule fails it, and so does a rule for an endpoint that no longer exists.  "Allowed" means the answer is
neither 401 nor 403 (and never 5xx); "denied" means 403 (401 without a login) and nothing written.
Portal and dashboard pages are left to their own matrix (the app is built with ``mount_web=False``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from test_api_support import CERT_ME, HOSP, ME, Api, build_api, new_msgid, visit_json

from yibao.demo.logins import DEMO_PASSWORD
from yibao.ledger import Ledger
from yibao.web.app import route_table

ROLES = ("anonymous", "insured", "institution", "auditor", "admin", "employer")
LOGIN = {
    "insured": "insured",
    "institution": "hospital",
    "auditor": "auditor",
    "admin": "admin",
    "employer": "employer",
}
PUBLIC = frozenset(ROLES)
# an employer login (参保单位, emp_no E1) reaches its session and the employer API only
SESSION = frozenset(ROLES[1:])
SIGNED_IN = SESSION - {"employer"}
EMPLOYER = frozenset({"employer"})
SETTLERS = frozenset({"institution", "admin"})
READERS = frozenset({"auditor", "admin"})
ADMIN = frozenset({"admin"})
INSURED = frozenset({"insured"})
INSTITUTION = frozenset({"institution"})

# (method, path, variant) -> roles allowed.  The variant distinguishes transactions sharing one route.
RULES: dict[tuple[str, str, str], frozenset[str]] = {
    ("GET", "/", ""): PUBLIC,
    ("GET", "/openapi.json", ""): PUBLIC,
    ("GET", "/docs", ""): PUBLIC,
    ("GET", "/docs/oauth2-redirect", ""): PUBLIC,
    ("GET", "/redoc", ""): PUBLIC,
    ("GET", "/login", ""): PUBLIC,
    ("GET", "/healthz", ""): PUBLIC,
    ("GET", "/readyz", ""): PUBLIC,
    ("POST", "/login", ""): PUBLIC,
    ("POST", "/auth/login", ""): PUBLIC,
    ("POST", "/auth/logout", ""): SESSION,
    ("GET", "/auth/me", ""): SESSION,
    ("POST", "/auth/password", ""): SESSION,
    ("GET", "/password", ""): SESSION,
    ("POST", "/password", ""): SESSION,
    **{
        (m, p, infno): roles
        for m, p in (("POST", "/api/transaction"), ("POST", "/fsi/api/{infno}"))
        for infno, roles in (
            ("1101", SETTLERS),  # a credential is presented at a counter, never by the insured
            ("2206", SETTLERS),
            ("2207", SETTLERS),
            ("2208", SETTLERS),
            ("2601", SETTLERS),
            ("3201", frozenset({"institution", "auditor", "admin"})),
        )
    },
    ("GET", "/api/v1/persons", ""): READERS,
    ("GET", "/api/v1/persons/{psn_no}", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/api/v1/persons/{psn_no}/year/{year}", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/api/v1/persons/{psn_no}/settlements", ""): SIGNED_IN,
    ("GET", "/api/v1/persons/{psn_no}/access-log", ""): frozenset({"insured", "admin"}),
    ("POST", "/api/v1/settlements", ""): SETTLERS,
    ("GET", "/api/v1/settlements", ""): SIGNED_IN,
    ("GET", "/api/v1/settlements/{setl_id}", ""): SIGNED_IN,
    ("POST", "/api/v1/settlements/{setl_id}/cancel", ""): SETTLERS,
    ("POST", "/api/v1/reversals", ""): SETTLERS,
    ("GET", "/api/v1/totals", ""): READERS,
    ("GET", "/api/v1/access-log", ""): ADMIN,
    ("GET", "/api/v1/users", ""): ADMIN,
    ("POST", "/api/v1/users", ""): ADMIN,
    ("GET", "/fhir/metadata", ""): PUBLIC,
    ("GET", "/fhir/Patient/{psn_no}", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/fhir/Coverage/{psn_no}", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/fhir/Coverage", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/fhir/ExplanationOfBenefit/{setl_id}", ""): SIGNED_IN,
    ("GET", "/fhir/ExplanationOfBenefit", ""): SIGNED_IN,
    ("POST", "/fhir/Claim", ""): SETTLERS,
    ("GET", "/fhir/Claim/{setl_id}", ""): SIGNED_IN,
    ("GET", "/fhir/ClaimResponse/{setl_id}", ""): SIGNED_IN,
    ("GET", "/fhir/Patient", ""): frozenset({"insured", "auditor", "admin"}),
    **{
        ("GET", f"/fhir/{t}{rid}", ""): SIGNED_IN
        for t in ("Organization", "Location", "Practitioner")
        for rid in ("", "/{rid}")
    },
    ("GET", "/fhir/CodeSystem", ""): PUBLIC,
    ("GET", "/fhir/CodeSystem/{rid}", ""): PUBLIC,
    # SMART App Launch (yibao.web.smart): discovery is public; the token and revocation endpoints
    # authenticate the app, not a login (test_api_smart covers them); registering an app is the admin's
    ("GET", "/.well-known/smart-configuration", ""): PUBLIC,
    ("GET", "/fhir/.well-known/smart-configuration", ""): PUBLIC,
    ("POST", "/oauth/token", ""): PUBLIC,
    ("POST", "/oauth/revoke", ""): PUBLIC,
    ("POST", "/oauth/apps", ""): ADMIN,
    # internet care and the voucher (yibao.web.care); data-level checks (whose person, which institution)
    # are tested in test_care_api
    **{
        (m, "/api/care" + p, ""): roles
        for m, p, roles in (
            ("POST", "/voucher", INSURED),
            ("POST", "/voucher/verify", INSTITUTION),
            ("POST", "/voucher/keys/rotate", ADMIN),
            ("POST", "/voucher/revoke", INSURED),
            ("POST", "/conditions", INSTITUTION),
            ("POST", "/followups", INSURED),
            ("GET", "/followups", SIGNED_IN),
            ("POST", "/followups/{followup_id}/prescription", INSTITUTION),
            ("POST", "/followups/{followup_id}/pay", INSURED),
            ("GET", "/prescriptions", SIGNED_IN),
            ("POST", "/prescriptions/{rx_id}/dispense", INSTITUTION),
            ("POST", "/prescriptions/{rx_id}/deliver", INSTITUTION),
            ("GET", "/bills", INSURED),
            ("GET", "/credit", frozenset({"insured", "auditor", "admin"})),
            ("POST", "/credit/{bill_id}/repay", INSURED),
            ("POST", "/credit/sweep", ADMIN),
            ("POST", "/consults", INSTITUTION),
            ("GET", "/consults", SIGNED_IN),
            ("POST", "/consults/{consult_id}/answer", INSTITUTION),
            ("POST", "/consults/{consult_id}/settle", INSTITUTION),
            ("POST", "/contracts", INSTITUTION),
            ("GET", "/contracts", SIGNED_IN),
            ("POST", "/outcomes", INSTITUTION),
            ("POST", "/capitation", ADMIN),
            ("POST", "/covers", ADMIN),
            ("GET", "/claims", READERS),
            ("POST", "/statements", ADMIN),
            ("POST", "/statements/{statement_id}/reconcile", ADMIN),
            ("GET", "/figures", READERS),
        )
    },
    # cross-region (yibao.web.crossregion): the inbound endpoints authenticate the clearing hub by its key,
    # not a login (a wrong key is an ok:false answer, tested in test_crossregion_api); filings are the
    # insured person's own or the bureau's
    ("POST", "/api/crossregion/inbound/settle", ""): PUBLIC,
    ("POST", "/api/crossregion/inbound/reverse", ""): PUBLIC,
    ("POST", "/api/crossregion/inbound/person", ""): PUBLIC,
    ("POST", "/api/crossregion/inbound/record", ""): PUBLIC,
    ("POST", "/api/crossregion/resolve", ""): ADMIN,
    ("GET", "/api/crossregion/records", ""): READERS,
    ("POST", "/api/crossregion/filings", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/api/crossregion/filings", ""): frozenset({"insured", "auditor", "admin"}),
    ("POST", "/api/crossregion/filings/{filing_id}/cancel", ""): frozenset({"insured", "auditor", "admin"}),
    ("POST", "/api/crossregion/filings/{filing_id}/change", ""): frozenset({"insured", "auditor", "admin"}),
    ("GET", "/api/employer/{emp_no}", ""): EMPLOYER | READERS,
    ("POST", "/api/employer/{emp_no}/roster", ""): EMPLOYER | ADMIN,
}
MOUNTS = frozenset({"/static/portal", "/static/dashboard", "/static/simulate"})


def endpoints(app: Any) -> set[tuple[str, str]]:
    return {(m, p) for ms, p in route_table(app) if p not in MOUNTS for m in ms if m != "HEAD"}


def missing_rules(app: Any) -> set[tuple[str, str]]:
    covered = {(m, p) for m, p, _ in RULES}
    return endpoints(app) - covered


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("perm")
    gen = build_api(f"sqlite:///{tmp / 'perm.db'}", mount_web=False)
    api = next(gen)
    try:
        yield api
    finally:
        gen.close()


def _settle(api: Api) -> tuple[str, str]:
    msgid = new_msgid()
    out = api.tx("hospital", "2207", visit_json(), msgid).json()["output"]
    return out["setlinfo"]["setl_id"], msgid


def _call(api: Api, role: str, method: str, path: str, variant: str) -> Any:
    """One request for ``role``; the data touched always belongs to the insured login (ME) and the
    institution login (HOSP), so a denial is the role's, not the data's."""
    headers: dict[str, str] = {}
    if role != "anonymous":
        token = api.tokens[LOGIN[role]]
        if path == "/auth/logout":  # a fresh session to end, not the one the other checks use
            token = api.client.post(
                "/auth/login", json={"username": LOGIN[role], "password": DEMO_PASSWORD}
            ).json()["token"]
            api.client.cookies.clear()
        headers = {"Authorization": f"Bearer {token}"}
    setl_id, msgid = _settle(api)
    url = (
        path.replace("{psn_no}", ME)
        .replace("{setl_id}", setl_id)
        .replace("{year}", "2025")
        .replace("{infno}", variant)
        .replace("{emp_no}", "E1")
    )
    body: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    params: dict[str, str] = {}
    if variant:
        tx_data: dict[str, Any] = {
            "1101": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERT_ME, "psn_name": "张三丰"},
            "2206": visit_json(),
            "2207": visit_json(),
            "2208": {"setl_id": setl_id},
            "2601": {"omsgid": msgid, "psn_no": ME},
            "3201": {"medfee_sumamt": "0", "fund_pay_sumamt": "0", "acct_pay": "0", "fixmedins_setl_cnt": 0},
        }[variant]
        body = {
            "infno": variant,
            "msgid": new_msgid(),
            "fixmedins_code": HOSP if variant != "1101" else "",
            "input": {"data": tx_data},
        }
    elif path == "/auth/login":
        body = {"username": "auditor", "password": DEMO_PASSWORD}
    elif path == "/login" and method == "POST":
        data = {"username": "auditor", "password": DEMO_PASSWORD}
    elif path == "/api/v1/settlements" and method == "POST":
        body = {"msgid": new_msgid(), "visit": visit_json()}
    elif path.endswith("/cancel"):
        body = {"msgid": new_msgid()}
    elif path == "/api/v1/reversals":
        body = {"msgid": new_msgid(), "omsgid": msgid}
    elif path == "/api/v1/users":
        body = (
            {
                "username": "u" + new_msgid()[-12:],
                "password": "long-enough-1",
                "role": "auditor",
                "display_name": "新稽核员",
            }
            if method == "POST"
            else None
        )
    elif path == "/fhir/Claim":
        from test_api_fhir import claim

        body = claim()
    elif path in ("/oauth/token", "/oauth/revoke"):
        _perm_app(api)
        data = {"client_id": "perm-app", "token": "x", "grant_type": "authorization_code", "code": "x"}
    elif path == "/oauth/apps":
        body = {
            "client_id": "a" + new_msgid()[-12:],
            "name": "应用",
            "redirect_uris": ["https://a.example/cb"],
        }
    elif path == "/fhir/Coverage":
        params = {"beneficiary": f"Patient/{ME}"}
    elif path == "/fhir/ExplanationOfBenefit":
        params = {"patient": ME}
    r = api.client.request(
        method, url, headers=headers, json=body, data=data, params=params, follow_redirects=False
    )
    api.client.cookies.clear()
    return r


def _perm_app(api: Api) -> None:
    from yibao.smart.store import SmartStore

    store = SmartStore(api.client.app.state.store.engine)  # type: ignore[attr-defined]
    if store.get_app("perm-app") is None:
        store.register_app("perm-app", "权限测试应用", ["https://a.example/cb"])


def test_every_endpoint_has_a_rule_and_every_rule_an_endpoint(env: Api) -> None:
    api = env
    app = api.client.app
    assert missing_rules(app) == set()
    assert {(m, p) for m, p, _ in RULES} - endpoints(app) == set()


def test_a_new_endpoint_without_a_rule_is_caught(env: Api, tmp_path: Path) -> None:
    gen = build_api(f"sqlite:///{tmp_path / 'extra.db'}", mount_web=False)
    api = next(gen)
    try:
        app = api.client.app
        assert isinstance(app, FastAPI)

        @app.get("/api/v1/secret")
        def secret() -> dict[str, str]:
            return {"x": "y"}

        assert missing_rules(app) == {("GET", "/api/v1/secret")}
    finally:
        gen.close()


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_its_rules_allow(env: Api, role: str) -> None:
    api = env
    wrong: list[str] = []
    for (method, path, variant), allowed in sorted(RULES.items()):
        with Ledger.open(api.url) as led:
            before = led.row_counts()
        r = _call(api, role, method, path, variant)
        label = f"{role} {method} {path} {variant}".rstrip()
        if r.status_code >= 500:
            wrong.append(f"{label}: {r.status_code} {r.text[:200]}")
        elif role in allowed and r.status_code in (401, 403):
            wrong.append(f"{label}: allowed but got {r.status_code} {r.text[:200]}")
        elif role not in allowed:
            want = 401 if role == "anonymous" else 403
            if r.status_code != want:
                wrong.append(f"{label}: should be refused with {want}, got {r.status_code} {r.text[:200]}")
            with Ledger.open(api.url) as led:
                after = led.row_counts()
            settled = 1  # _call settles one visit (as the institution) to have something to act on
            if (
                after["settlement"] != before["settlement"] + settled
                or after["message"] != before["message"] + settled
            ):
                wrong.append(f"{label}: refused but wrote something ({before} → {after})")
    assert wrong == [], "\n".join(wrong)
