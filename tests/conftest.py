"""Fixtures shared by every test level."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole run: two cores, no UI, few shuffle partitions (CI time)."""
    from yibao.spark import spark_session

    session = spark_session("local[2]", app_name="yibao-tests", shuffle_partitions=3)
    try:
        yield session
    finally:
        session.stop()
