"""Schemathesis over the service's OpenAPI schema, logged in as an admin: no input may cause a 5xx.

Bounded: a few examples per operation (``MAX_EXAMPLES``), every operation covered (the whole suite's
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


# schemathesis parametrizes at collection time, so the app is built when the module is imported
_TMP = Path(tempfile.mkdtemp(prefix="yibao-st-"))
_GEN = build_api(f"sqlite:///{_TMP / 'st.db'}", mount_web=False)
_API = next(_GEN)
_API.settle()  # something to read
schema = schemathesis.openapi.from_asgi("/openapi.json", _API.client.app)


@pytest.fixture(scope="module")
def served() -> Iterator[Api]:
    try:
        yield _API
    finally:
        _GEN.close()
        shutil.rmtree(_TMP, ignore_errors=True)


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
def test_no_input_causes_a_server_error(case: Any, served: Api) -> None:
    case.call_and_validate(headers=served.h("admin"), checks=[not_a_server_error])


def test_every_operation_is_in_the_schema(served: Api) -> None:
    paths = served.client.get("/openapi.json").json()["paths"]
    ops = {(m.upper(), p) for p, item in paths.items() for m in item}
    assert ("POST", "/api/transaction") in ops and ("POST", "/fhir/Claim") in ops
    assert len(ops) >= 25
