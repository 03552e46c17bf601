"""Invariants on random logs: edges sum to events minus cases, variants to cases, filters never
invent events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.mining import Filters, durations, process_map, rework, variants

BASE = datetime(2024, 1, 1, tzinfo=UTC)
events = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4", "c5"]),
        st.sampled_from(["A", "B", "C", "D"]),
        st.integers(0, 30 * 24),  # hours: many ties on purpose
        st.sampled_from(["x", "y"]),
    ),
    min_size=1,
    max_size=60,
)
filters = st.builds(
    Filters,
    start=st.one_of(st.none(), st.integers(0, 20 * 24).map(lambda h: BASE + timedelta(hours=h))),
    end=st.one_of(st.none(), st.integers(5 * 24, 31 * 24).map(lambda h: BASE + timedelta(hours=h))),
    window=st.sampled_from(["contained", "intersecting", "started", "completed"]),
    event_level=st.booleans(),
    attributes=st.one_of(st.just({}), st.just({"segment": ("x",)})),
    start_activities=st.one_of(st.just(()), st.just(("A",))),
    min_duration=st.one_of(st.none(), st.just(3600.0)),
)


def load(rows: list[tuple[str, str, int, str]]) -> Store:
    store = Store()
    segment = {c: ("x" if c in ("c1", "c3") else "y") for c in ("c1", "c2", "c3", "c4", "c5")}
    table = pa.table(
        {
            "case_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "timestamp": pa.array([BASE + timedelta(hours=r[2]) for r in rows], pa.timestamp("us", tz="UTC")),
            "resource": [r[3] for r in rows],
            "case:segment": [segment[r[0]] for r in rows],
        }
    )
    ingest(store, table, stream="s")
    return store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, filters)
def test_invariants_hold_under_any_filter(rows: list[tuple[str, str, int, str]], f: Filters) -> None:
    assume(not f.start_activities or any(r[1] == "A" for r in rows))
    with load(rows) as store:
        full = process_map(store, "s")
        m = process_map(store, "s", filters=f)
        n_events = sum(n["events"] for n in m["nodes"])
        n_cases = sum(m["start_activities"].values())
        assert sum(e["frequency"] for e in m["edges"]) == n_events - n_cases
        assert sum(m["end_activities"].values()) == n_cases
        assert (
            sum(v["cases"] for v in variants(store, "s", filters=f))
            == n_cases
            == durations(store, "s", filters=f)["cases"]
        )
        # filters never invent events: every node and edge count is at most the unfiltered one
        full_nodes = {n["activity"]: n["events"] for n in full["nodes"]}
        assert all(n["events"] <= full_nodes[n["activity"]] for n in m["nodes"])
        assert n_events <= len(rows)
        if not f.event_level:
            full_edges = {(e["source"], e["target"]): e["frequency"] for e in full["edges"]}
            assert all(e["frequency"] <= full_edges[(e["source"], e["target"])] for e in m["edges"])
        r = rework(store, "s", filters=f)["summary"]
        assert r["cases"] == n_cases


@settings(max_examples=20, deadline=None)
@given(events, st.integers(1, 3))
def test_top_k_variants_group_the_rest(rows: list[tuple[str, str, int, str]], k: int) -> None:
    with load(rows) as store:
        everything = variants(store, "s")
        top = variants(store, "s", top=k)
        assert sum(v["cases"] for v in top) == sum(v["cases"] for v in everything)
        assert abs(sum(v["share"] for v in top) - 1.0) < 1e-9
        if len(everything) > k:
            assert len(top) == k + 1
            assert top[-1]["activities"] == ["other"]
            assert top[-1]["variants"] == len(everything) - k
