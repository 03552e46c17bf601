"""One local Spark session for every Spark test: starting the JVM costs seconds each time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import need


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    need("pyspark", "the Spark engine needs the spark extra (make test installs it)")
    from conveyor.data.spark import spark_session as start

    # Test data is small: two shuffle partitions instead of eight.
    session = start("local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()
