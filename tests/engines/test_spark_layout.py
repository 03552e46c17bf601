"""A layout built by Spark from a plain event table answers like the one ingest builds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.data.export import export_stream
from conveyor.data.ingest import ingest
from conveyor.data.spark import SparkStore
from conveyor.data.store import Store
from conveyor.mining import Filters
from tests.conftest import LOGS, demo_streams, require_data, same
from tests.engines.test_parity import ANALYSES

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, spark_session: Any
) -> Iterator[tuple[Store, SparkStore, dict[str, object]]]:
    from conveyor.data.spark_layout import build_layout_spark

    root = tmp_path_factory.mktemp("spark_layout")
    store = Store(demo_streams(root / "demo", cases=200, seed=9))
    if require_data():
        ingest(store, LOGS / "receipt.csv", stream="receipt")
        ingest(store, LOGS / "running-example.xes", stream="running")
    spark = SparkStore(root / "warehouse", spark=spark_session)
    results = {}
    for stream in ("order-to-cash", *(s for s in ("receipt", "running") if store.has_stream(s))):
        table = root / f"{stream}.parquet"  # a plain event table, as another system would write it
        export_stream(store, stream, table)
        results[stream] = build_layout_spark(spark, str(table), stream=stream)
    yield store, spark, results
    store.close()


def test_counts(built: tuple[Store, SparkStore, dict[str, object]]) -> None:
    store, _, results = built
    for stream, result in results.items():
        info = store.stream(stream)
        assert result.as_json() == {
            "stream": stream,
            "events_loaded": info.events,
            "cases": info.cases,
            "quarantined": 0,
            "already_ingested": False,
        }


def test_analyses_match_the_duckdb_layout(built: tuple[Store, SparkStore, dict[str, object]]) -> None:
    store, spark, results = built
    for stream in results:
        filters = [None, Filters(min_duration=3600.0)]
        if stream == "order-to-cash":
            filters.append(Filters(attributes={"region": ("North",)}))
        for f in filters:
            for name, fn in ANALYSES.items():
                same(fn(store, stream, f), fn(spark, stream, f), f"{stream}/{name}/{f}")


def test_bad_rows_are_quarantined(built: tuple[Store, SparkStore, dict[str, object]], tmp_path: Path) -> None:
    from conveyor.data.spark_layout import build_layout_spark

    _, spark, _ = built
    rows = [
        ("a", "x", "2024-01-01T10:00:00Z"),
        ("a", "y", "2024-01-01T11:00:00Z"),
        (None, "x", "2024-01-02T10:00:00Z"),
        ("b", "x", "not a time"),
        ("b", "", "2024-01-02T10:00:00Z"),
    ]
    df = spark.spark.createDataFrame(rows, "case_id string, activity string, timestamp string")
    result = build_layout_spark(spark, df, stream="small")
    assert (result.events_loaded, result.cases, result.quarantined) == (2, 1, 3)
    quarantine = spark.spark.read.parquet(f"{spark.warehouse}/stream_small/quarantine")
    reasons = sorted(r["reason"] for r in quarantine.collect())
    assert reasons == ["missing activity", "missing case id", "unparseable timestamp"]
