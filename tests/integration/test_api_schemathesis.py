"""Schemathesis over the service's OpenAPI schema, logged in as each role in turn (admin, auditor,
institution, insured) and anonymous: no input may cause a 5xx.

``YIBAO_SCHEMATHESIS_DB=postgres`` runs it on PostgreSQL.  Bounded: a few examples per operation (``MAX_EXAMPLES``), every operation covered (the whole suite's
time budget is shared).  Raise it locally with ``YIBAO_SCHEMATHESIS_EXAMPLES=200``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from test_api_support import Api, build_api

MAX_EXAMPLES = int(os.environ.get("YIBAO_SCHEMATHESIS_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def served() -> Iterator[Api]:
    """The service with something to read; built when the first test here runs, never at collection."""
    tmp = Path(tempfile.mkdtemp(prefix="yibao-st-"))
    pg = os.environ.get("YIBAO_SCHEMATHESIS_DB") == "postgres"  # NUL bytes, surrogates, ranges on PostgreSQL
    if pg:
        from ledger_support import create_pg_database, drop_pg_database

        name, url = create_pg_database()
    gen = build_api(url if pg else f"sqlite:///{tmp / 'st.db'}", mount_web=False)
    api = next(gen)
    api.settle()
    try:
        yield api
    finally:
        gen.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if pg:
            drop_pg_database(name)


@pytest.fixture(scope="module")
def api_schema(served: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", served.client.app)


# loaded lazily from the fixture, so `pytest --collect-only` and `pytest -k` do not build the service
schema = schemathesis.pytest.from_fixture("api_schema")


ROLES = {"admin": "admin", "auditor": "auditor", "institution": "hospital", "insured": "insured"}


def _fuzz_as(role: str) -> Any:
    """One schemathesis test run with ``role``'s session (none for ``anonymous``)."""

    @schema.parametrize()
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )
    def test(case: Any, served: Api) -> None:
        headers = served.h(ROLES[role]) if role in ROLES else {}
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    return test


test_no_input_causes_a_server_error_as_admin = _fuzz_as("admin")
test_no_input_causes_a_server_error_as_auditor = _fuzz_as("auditor")
test_no_input_causes_a_server_error_as_institution = _fuzz_as("institution")
test_no_input_causes_a_server_error_as_insured = _fuzz_as("insured")
test_no_input_causes_a_server_error_anonymous = _fuzz_as("anonymous")


def test_every_operation_is_in_the_schema(served: Api) -> None:
    paths = served.client.get("/openapi.json").json()["paths"]
    ops = {(m.upper(), p) for p, item in paths.items() for m in item}
    assert ("POST", "/api/transaction") in ops and ("POST", "/fhir/Claim") in ops
    assert len(ops) >= 25
