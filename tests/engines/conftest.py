"""One local Spark session for every Spark test: starting the JVM costs seconds each time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the Spark engine needs the spark extra (make test installs it)")
    from conveyor.data.spark import spark_session as start

    session = start("local[2]")
    yield session
    session.stop()
