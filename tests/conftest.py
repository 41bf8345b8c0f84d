"""Fixtures shared by every test level."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# The start-up warm-up (yibao.web.warm) costs about 2 s of CPU per app; the suite builds hundreds of apps
# and measures no first view, so it is off here unless a test asks for it (tests/integration/test_web_warm.py)
os.environ.setdefault("YIBAO_WARM_UP", "0")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole run: two cores, no UI, few shuffle partitions (CI time)."""
    from yibao.spark import spark_session

    session = spark_session("local[2]", app_name="yibao-tests", shuffle_partitions=3)
    try:
        yield session
    finally:
        session.stop()
