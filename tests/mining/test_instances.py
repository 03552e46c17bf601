"""Activity instances on small hand-made logs: every expected figure is worked out by hand here.

Case A: Register (Ann) 09:00-09:30, Check (Bob) 10:00-11:00, Check again (Bob) 12:00-12:20,
        Approve (Cat) completes at 13:00 with no start.
Case B: Register (Ann) 08:00-08:10, a "schedule" of Check at 08:10, Check (Dan) 09:10-09:40,
        Approve (Cat) 10:40-11:00, and an Archive started at 11:30 that never completes.

Instances: A = Register, Check, Check, Approve; B = Register, Check, Approve (the schedule and
the unfinished Archive are no instances). Waits (end of one instance to start of the next; the
start of Approve in A is its end, 13:00):
  A: Register→Check 30 min, Check→Check 60 min, Check→Approve 40 min
  B: Register→Check 60 min, Check→Approve 60 min
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.mining import (
    Filters,
    activity_stats,
    bottlenecks,
    check_conformance,
    handoffs,
    load_rules,
    process_map,
    rework,
    variants,
)

MIN = 60
ROWS = [
    # case, activity, time, resource, lifecycle
    ("A", "Register", "2024-03-04T09:00:00Z", "Ann", "start"),
    ("A", "Register", "2024-03-04T09:30:00Z", "Ann", "complete"),
    ("A", "Check", "2024-03-04T10:00:00Z", "Bob", "START"),
    ("A", "Check", "2024-03-04T11:00:00Z", "Bob", "Complete"),
    ("A", "Check", "2024-03-04T12:00:00Z", "Bob", "start"),
    ("A", "Check", "2024-03-04T12:20:00Z", "Bob", "complete"),
    ("A", "Approve", "2024-03-04T13:00:00Z", "Cat", "complete"),
    ("B", "Register", "2024-03-04T08:00:00Z", "Ann", "start"),
    ("B", "Check", "2024-03-04T08:10:00Z", "Eve", "schedule"),
    ("B", "Register", "2024-03-04T08:10:00Z", "Ann", "complete"),
    ("B", "Check", "2024-03-04T09:10:00Z", "Dan", "start"),
    ("B", "Check", "2024-03-04T09:40:00Z", "Dan", "complete"),
    ("B", "Approve", "2024-03-04T10:40:00Z", "Cat", "start"),
    ("B", "Approve", "2024-03-04T11:00:00Z", "Cat", "complete"),
    ("B", "Archive", "2024-03-04T11:30:00Z", "Cat", "start"),
]


def table(rows: list[tuple[str, ...]]) -> pa.Table:
    cols = ("case_id", "activity", "timestamp", "resource", "lifecycle")
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "instances.duckdb")
    ingest(s, table(ROWS), stream="t")
    return s


def by_edge(rows: list[dict[str, object]]) -> dict[tuple[object, object], dict[str, object]]:
    return {(r["source"], r["target"]): r for r in rows}


def test_process_map_counts_instances_and_waits(store: Store) -> None:
    m = process_map(store, "t")
    assert {n["activity"]: (n["events"], n["cases"]) for n in m["nodes"]} == {
        "Register": (2, 2),
        "Check": (3, 2),
        "Approve": (2, 2),
    }
    edges = by_edge(m["edges"])
    assert set(edges) == {("Register", "Check"), ("Check", "Check"), ("Check", "Approve")}
    assert edges["Register", "Check"]["frequency"] == 2
    assert edges["Register", "Check"]["mean_seconds"] == (30 + 60) / 2 * MIN
    assert edges["Check", "Check"]["total_seconds"] == 60 * MIN
    assert edges["Check", "Approve"]["total_seconds"] == (40 + 60) * MIN
    assert m["start_activities"] == {"Register": 2}
    assert m["end_activities"] == {"Approve": 2}


def test_bottlenecks_are_waiting_not_work(store: Store) -> None:
    b = bottlenecks(store, "t")
    total = (30 + 60 + 40 + 60 + 60) * MIN
    shares = {(r["source"], r["target"]): r["share"] for r in b["transitions"]}
    assert shares == pytest.approx(
        {
            ("Check", "Approve"): 100 * MIN / total,
            ("Register", "Check"): 90 * MIN / total,
            ("Check", "Check"): 60 * MIN / total,
        }
    )
    waits = {r["activity"]: r["total_wait_seconds"] for r in b["activities"]}
    assert waits == {"Check": (30 + 60 + 60) * MIN, "Approve": (40 + 60) * MIN}
    # at event level the work itself (Check start → Check complete) counts as waiting
    events = by_edge(bottlenecks(store, "t", filters=Filters(events=True))["transitions"])
    assert events["Check", "Check"]["total_seconds"] == (60 + 60 + 20 + 30) * MIN


def test_service_and_waiting_per_activity(store: Store) -> None:
    stats = {r["activity"]: r for r in activity_stats(store, "t")}
    assert stats["Register"]["service_pairs"] == 2
    assert stats["Register"]["mean_service_seconds"] == (30 + 10) / 2 * MIN
    assert stats["Check"]["service_pairs"] == 3
    assert stats["Check"]["mean_service_seconds"] == (60 + 20 + 30) / 3 * MIN
    assert stats["Check"]["median_service_seconds"] == 30 * MIN
    assert stats["Approve"]["service_pairs"] == 1  # A's Approve has no start
    assert stats["Approve"]["mean_service_seconds"] == 20 * MIN
    assert stats["Check"]["mean_wait_seconds"] == (30 + 60 + 60) / 3 * MIN
    assert "Archive" not in stats  # started, never completed: no instance


def test_rework_counts_instances(store: Store) -> None:
    r = rework(store, "t")
    per = {a["activity"]: a for a in r["activities"]}
    assert per["Check"]["cases_repeated"] == 1
    assert per["Check"]["rework_rate"] == 0.5
    assert per["Check"]["extra_events"] == 1
    assert per["Register"]["cases_repeated"] == 0
    assert r["summary"]["cases_with_rework"] == 1
    # event by event, every start + complete looks like a repeat
    events = {a["activity"]: a for a in rework(store, "t", filters=Filters(events=True))["activities"]}
    assert events["Register"]["rework_rate"] == 1.0


def test_handoffs_between_instances(store: Store) -> None:
    h = handoffs(store, "t")
    pairs = {(p["source"], p["target"]): (p["handoffs"], p["mean_seconds"]) for p in h["handoffs"]}
    assert pairs == {
        ("Ann", "Bob"): (1, 30 * MIN),
        ("Bob", "Cat"): (1, 40 * MIN),
        ("Ann", "Dan"): (1, 60 * MIN),
        ("Dan", "Cat"): (1, 60 * MIN),
    }
    assert {w["resource"]: w["events"] for w in h["workload"]} == {"Ann": 2, "Bob": 2, "Cat": 2, "Dan": 1}


def test_variants_and_conformance_on_instances(store: Store, tmp_path: Path) -> None:
    v = {tuple(x["activities"]): x["cases"] for x in variants(store, "t")}
    assert v == {("Register", "Check", "Check", "Approve"): 1, ("Register", "Check", "Approve"): 1}
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - type: at_most_once\n    activity: Check\n"
        "  - type: precedence\n    before: Check\n    after: Approve\n"
    )
    report = check_conformance(store, "t", load_rules(rules))
    assert [r["violating_cases"] for r in report["rules"]] == [1, 0]
    events = check_conformance(store, "t", load_rules(rules), filters=Filters(events=True))
    assert events["rules"][0]["violating_cases"] == 2


def test_a_complete_before_any_start_is_its_own_instance(tmp_path: Path) -> None:
    rows = [
        ("C", "Pack", "2024-03-04T09:00:00Z", "Ann", "complete"),
        ("C", "Pack", "2024-03-04T10:00:00Z", "Ann", "start"),
        ("C", "Pack", "2024-03-04T10:30:00Z", "Ann", "complete"),
        ("C", "Pack", "2024-03-04T10:40:00Z", "Ann", "complete"),
    ]
    with Store(tmp_path / "c.duckdb") as s:
        ingest(s, table(rows), stream="c")
        stats = activity_stats(s, "c")[0]
        assert (stats["events"], stats["service_pairs"], stats["mean_service_seconds"]) == (3, 1, 30 * MIN)
        edge = process_map(s, "c")["edges"]
        # instances [-, 9:00], [10:00, 10:30], [-, 10:40]: waits 60 min and 10 min
        assert [(e["frequency"], e["total_seconds"]) for e in edge] == [(2, 70 * MIN)]


def test_variant_ids_are_stable(store: Store, tmp_path: Path) -> None:
    with Store(tmp_path / "again.duckdb") as other:
        ingest(other, table(ROWS[7:] + ROWS[:7]), stream="t")  # other case order, other codes
        for f in (None, Filters(events=True)):
            ids = {tuple(v["activities"]): v["variant_id"] for v in variants(store, "t", filters=f)}
            again = {tuple(v["activities"]): v["variant_id"] for v in variants(other, "t", filters=f)}
            assert ids == again
