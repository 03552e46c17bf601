"""One suite, two engines: every analysis gives the same answer on DuckDB and on Spark.

A local Spark session (Java 17, PySpark from the `spark` extra that `make test` installs) reads
the layout that conveyor's ingest published as Parquet; each analysis runs on both engines under
several filters and the results are compared value by value.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conveyor.data.ingest import ingest
from conveyor.data.spark import LAYOUT_TABLES, SparkStore, publish_stream
from conveyor.data.store import Store
from conveyor.demo import O2C_RULES
from conveyor.errors import ConveyorError
from conveyor.mining import (
    Filters,
    activity_stats,
    bottlenecks,
    check_conformance,
    durations,
    handoffs,
    load_rules,
    process_map,
    rework,
    variants,
)
from tests.conftest import demo_streams, require_data, same

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.xdist_group("spark")]

LOG_FILES = {
    "running": "running-example.xes",
    "helpdesk": "helpdesk.csv",
    "sepsis": "sepsis.csv",
    "bpic2012": "bpic2012.xes.gz",
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, spark_session: Any) -> Iterator[tuple[Store, SparkStore]]:
    root = tmp_path_factory.mktemp("engines")
    store = Store(demo_streams(root / "demo", cases=300, seed=5))
    for stream, name in LOG_FILES.items():
        ingest(store, require_data() / name, stream=stream)
    ingest(store, lifecycle_table(), stream="lifecycle")
    ingest(store, tricky_table(), stream="tricky")
    warehouse = root / "warehouse"
    for stream in store.stream_names():
        publish_stream(store, stream, warehouse)
    yield store, SparkStore(warehouse, spark=spark_session)
    store.close()


def streams(store: Store) -> list[str]:
    return store.stream_names()


def lifecycle_table() -> pa.Table:
    """The hand-made lifecycle log of tests/mining/test_instances.py, with a case attribute."""
    from tests.mining.test_instances import ROWS, table

    t = table(ROWS)
    return t.append_column("case:tier", pa.array(["gold" if r[0] == "A" else "silver" for r in ROWS]))


#: Characters that break SQL written carelessly: quotes, backticks, backslashes, unicode.
TRICKY_COLUMN = "case:Tier 'q' \"d\" `t` \\ ü"
TRICKY_VALUES = ["gold's", "a`b", "c\\d", "ünïcödé ✓"]
TRICKY_ACTIVITIES = ["Check 'credit'", "Ship `now`", "Pay \\ back", "Prüfung ✓"]


def tricky_table() -> pa.Table:
    cases, acts, times, tiers = [], [], [], []
    for i in range(12):
        for j, act in enumerate(TRICKY_ACTIVITIES[i % 4 :] + TRICKY_ACTIVITIES[: i % 4]):
            cases.append(f"case '{i}'")
            acts.append(act)
            times.append(f"2024-02-{1 + i:02d}T{8 + j:02d}:00:00Z")
            tiers.append(TRICKY_VALUES[i % 4])
    return pa.table({"case_id": cases, "activity": acts, "timestamp": times, TRICKY_COLUMN: tiers})


ANALYSES = {
    "map": lambda e, s, f: process_map(e, s, filters=f),
    "variants": lambda e, s, f: variants(e, s, filters=f),
    "variants_top": lambda e, s, f: variants(e, s, top=3, filters=f),
    "durations": lambda e, s, f: durations(e, s, filters=f),
    "activities": lambda e, s, f: activity_stats(e, s, filters=f),
    "bottlenecks": lambda e, s, f: bottlenecks(e, s, filters=f),
    "rework": lambda e, s, f: rework(e, s, filters=f),
    "handoffs": lambda e, s, f: handoffs(e, s, filters=f),
}


def test_every_analysis_unfiltered(engines: tuple[Store, SparkStore]) -> None:
    store, spark = engines
    for stream in streams(store):
        # bpic2012 (262k events, activity instances) is the large case: the analyses whose
        # queries differ most; the small lifecycle log runs every analysis on instances
        names = ("map", "variants_top", "bottlenecks", "rework") if stream == "bpic2012" else ANALYSES
        for name in names:
            fn = ANALYSES[name]
            same(fn(store, stream, None), fn(spark, stream, None), f"{stream}/{name}")


def filter_sets(store: Store, stream: str) -> list[Filters]:
    first, last = store.rows(f'SELECT min(first_ts), max(last_ts) FROM "stream_{stream}".cases')[0]
    middle = first + (last - first) / 2
    sets = [
        Filters(start=first, end=middle),
        Filters(start=first, end=middle, window="intersecting"),
        Filters(start=middle, end=last, event_level=True),
        Filters(min_duration=3600.0, max_duration=30 * 86400.0),
        Filters(variants=tuple(str(v["variant_id"]) for v in variants(store, stream, top=2)[:2])),
        Filters(events=True, min_duration=60.0),
    ]
    start = store.scalar(
        f'SELECT a.name FROM "stream_{stream}".events e JOIN "stream_{stream}".activities a '
        "ON a.code = e.activity WHERE e.pos = 0 GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    sets.append(Filters(start_activities=(start,)))
    return sets


def test_every_analysis_filtered(engines: tuple[Store, SparkStore]) -> None:
    """Every filter on both engines. Each spins up a few Spark jobs, so each stream takes every
    fourth filter set in turn: together the streams cover every set, demo data and real logs alike;
    the small lifecycle log takes them all (activity instances, and --events on them)."""
    store, spark = engines
    rotation = ["order-to-cash", "ticket-to-resolution", "running", "helpdesk", "sepsis"]
    for k, stream in enumerate([*rotation, "lifecycle"]):
        for i, f in enumerate(filter_sets(store, stream)):
            if stream != "lifecycle" and (i + k) % 4:
                continue
            for name, fn in ANALYSES.items():
                same(fn(store, stream, f), fn(spark, stream, f), f"{stream}/filter{i}/{name}")
    f = Filters(attributes={"queue": ("Billing", "Network")})
    for name, fn in ANALYSES.items():
        same(fn(store, "ticket-to-resolution", f), fn(spark, "ticket-to-resolution", f), f"attributes/{name}")


def test_conformance(engines: tuple[Store, SparkStore], tmp_path: Path) -> None:
    store, spark = engines
    path = tmp_path / "rules.yaml"
    path.write_text(
        O2C_RULES
        + "  - type: happy_path\n    activities: [Create Order, Check Credit, Approve Order, Pick Items, Pack Goods, "
        "Quality Check, Ship Goods, Deliver Goods, Create Invoice, Receive Payment]\n"
        "  - type: allowed_transitions\n    transitions: [[Create Order, Check Credit], [Check Credit, Approve Order]]\n"
        "  - type: start\n    activities: [Create Order]\n"
    )
    rules = load_rules(path)
    same(
        check_conformance(store, "order-to-cash", rules),
        check_conformance(spark, "order-to-cash", rules),
        "conformance",
    )
    window = Filters(start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 9, 1, tzinfo=UTC), event_level=True)
    same(
        check_conformance(store, "order-to-cash", rules, filters=window),
        check_conformance(spark, "order-to-cash", rules, filters=window),
        "conformance/event-level",
    )


def test_ingested_layout_is_the_same(engines: tuple[Store, SparkStore]) -> None:
    """What ingest produced reads back identically through Spark, table by table."""
    store, spark = engines
    checks = {
        "events": "SELECT count(*) AS n, sum(pos) AS pos, count(next_activity) AS nexts, sum(activity) AS acts, "
        "min(ts) AS first, max(ts) AS last, sum(epoch_us(next_ts) - epoch_us(ts)) AS gaps FROM {t}",
        "cases": "SELECT count(*) AS n, sum(n_events) AS events, sum(duration_seconds) AS seconds, "
        "count(DISTINCT variant_id) AS variants, max(variant_id) AS top, count(instance_variant_id) AS iv, "
        "count(DISTINCT case_id) AS ids FROM {t}",
        "variants": "SELECT count(*) AS n, sum(cases) AS cases, sum(length) AS length, "
        "string_agg(variant_id, '|' ORDER BY variant_id) AS ids FROM {t}",
        "activities": "SELECT count(*) AS n, string_agg(name, '|' ORDER BY code) AS names FROM {t}",
    }
    for stream in streams(store):
        for table, sql in checks.items():
            duck = store.records(sql.format(t=f'"stream_{stream}".{table}'))
            sp = spark.records(sql.format(t=f'"{spark.require_stream(stream)}".{table}'))
            for row in (duck, sp):  # timestamps: compare as UTC instants
                for r in row:
                    for k in ("first", "last"):
                        if r.get(k) is not None and r[k].tzinfo is None:
                            r[k] = r[k].replace(tzinfo=UTC)
            same(duck, sp, f"{stream}/{table}")
    assert set(LAYOUT_TABLES) >= {"events", "cases", "variants"}


@pytest.mark.parametrize("name", ["order-to-cash", "a_b", "a-b", "a__b", "a_-b", "x1"])
def test_spark_schema_names_round_trip(name: str) -> None:
    from conveyor.data.spark import spark_schema, stream_of

    schema = spark_schema(name)
    assert schema.replace("_", "").isalnum()
    assert stream_of(schema) == name


def test_unknown_stream_on_spark(engines: tuple[Store, SparkStore]) -> None:
    from conveyor.errors import StreamNotFoundError

    _, spark = engines
    with pytest.raises(StreamNotFoundError, match="no stream named 'nope'") as err:
        process_map(spark, "nope")
    assert "conveyor publish" in str(err.value.hint)


def test_quotes_backslashes_and_unicode(engines: tuple[Store, SparkStore]) -> None:
    """Column names, activity names and filter values with ', `, \\, " and unicode: bound as
    parameters or quoted by the one quoting module, they filter exactly on both engines."""
    store, spark = engines
    column = TRICKY_COLUMN.removeprefix("case:")
    for i, value in enumerate(TRICKY_VALUES):
        f = Filters(attributes={column: (value,)})
        for name in ANALYSES if i == 0 else ("map", "variants"):
            same(ANALYSES[name](store, "tricky", f), ANALYSES[name](spark, "tricky", f), f"{value}/{name}")
        assert durations(store, "tricky", filters=f)["cases"] == 3
    for activity in TRICKY_ACTIVITIES:
        f = Filters(start_activities=(activity,))
        same(process_map(store, "tricky", filters=f), process_map(spark, "tricky", filters=f), activity)
        assert process_map(spark, "tricky", filters=f)["start_activities"] == {activity: 3}
    m = process_map(spark, "tricky")
    assert {n["activity"] for n in m["nodes"]} == set(TRICKY_ACTIVITIES)
    # stream names are plain (they name schemas and folders): anything else is refused clearly
    for bad in ("o'brien", "a`b", "x\\y", "ü"):
        with pytest.raises(ConveyorError, match="is not allowed"):
            ingest(store, tricky_table(), stream=bad)
        with pytest.raises(ConveyorError, match="is not allowed"):
            spark.require_stream(bad)
        with pytest.raises(ConveyorError, match="no stream named"):
            process_map(store, bad)


def test_kpis_and_opportunities(engines: tuple[Store, SparkStore]) -> None:
    """The operating review's numbers are the same on both engines (demo definitions and defaults)."""
    from conveyor.demo.metrics import DEMO_METRICS
    from conveyor.metrics import compute_kpis, parse_metrics
    from conveyor.metrics.opportunities import rank_opportunities

    store, spark = engines
    root = Path(store.path).parent
    for stream in ("procure-to-pay", "ticket-to-resolution", "lifecycle"):
        path = root / "metrics" / f"{stream}.yaml"
        metrics = parse_metrics(path) if stream in DEMO_METRICS else None
        by = {"ticket-to-resolution": "queue", "lifecycle": "tier"}.get(stream)
        duck, other = (compute_kpis(e, stream, metrics=metrics, by=by, period="month") for e in (store, spark))
        same(other, duck, f"kpis {stream}")
    for stream in ("procure-to-pay", "ticket-to-resolution"):
        costs = parse_metrics(root / "metrics" / f"{stream}.yaml").costs
        duck = rank_opportunities(store, stream, costs=costs)
        other = rank_opportunities(spark, stream, costs=costs)
        same(other, duck, f"opportunities {stream}")


def test_planning_reads_the_same_on_both_engines(engines: tuple[Store, SparkStore]) -> None:
    """What planning reads from a stream (arrivals per day, the staffing plan's workload and what
    the log achieved, the simulation's calibration and its log intervals) is the same on Spark,
    so the same seed simulates the same as-is."""
    from conveyor.demo.metrics import DEMO_METRICS
    from conveyor.metrics import parse_metrics
    from conveyor.metrics.workload import daily_arrivals
    from conveyor.planning import staffing_plan
    from conveyor.planning.simulate import calibrate, run_replications

    store, spark = engines
    root = Path(store.path).parent
    stream = "ticket-to-resolution"
    assert stream in DEMO_METRICS
    metrics = parse_metrics(root / "metrics" / f"{stream}.yaml")
    same(daily_arrivals(spark, stream, by="queue"), daily_arrivals(store, stream, by="queue"), "arrivals")
    plans = [
        staffing_plan(
            e,
            stream,
            metrics=metrics,
            by="queue",
            service_level=0.7,
            answer_seconds=8 * 3600,
            answer_activity="Start Work",
            patience_from_log=True,
        )
        for e in (store, spark)
    ]
    same(plans[1], plans[0], "staffing plan")
    models = [calibrate(e, stream, metrics=metrics, pools_by="queue") for e in (store, spark)]
    same(models[1].describe(), models[0].describe(), "simulation model")
    same(models[1].actual_intervals, models[0].actual_intervals, "the log's intervals")
    runs = [run_replications(m, replications=2, seed=3) for m in models]
    for run in runs:  # the one figure that is the machine's, not the log's
        for kpis in run:
            kpis.pop("cases_per_second", None)
    same(runs[1], runs[0], "simulated as-is")
