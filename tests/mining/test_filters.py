"""Filters keep exactly the cases (or events) they describe."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.mining import FilterError, Filters, durations, parse_duration, process_map, variants

ROWS = [
    # case, activity, timestamp, region
    ("a", "Open", "2024-01-01T09:00:00Z", "north"),
    ("a", "Work", "2024-01-01T10:00:00Z", "north"),
    ("a", "Close", "2024-01-03T09:00:00Z", "north"),
    ("b", "Open", "2024-01-05T09:00:00Z", "south"),
    ("b", "Close", "2024-01-05T09:30:00Z", "south"),
    ("c", "Triage", "2024-01-10T09:00:00Z", "south"),
    ("c", "Open", "2024-01-10T10:00:00Z", "south"),
    ("c", "Close", "2024-01-20T10:00:00Z", "south"),
]


@pytest.fixture
def store() -> Store:
    s = Store()
    ingest(
        s,
        pa.table(
            {
                "case_id": [r[0] for r in ROWS],
                "activity": [r[1] for r in ROWS],
                "timestamp": [r[2] for r in ROWS],
                "case:region": [r[3] for r in ROWS],
            }
        ),
        stream="t",
    )
    return s


def cases(store: Store, f: Filters) -> int:
    return int(durations(store, "t", filters=f)["cases"])


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


def test_case_filters(store: Store) -> None:
    assert cases(store, Filters()) == 3
    assert cases(store, Filters(attributes={"region": ("south",)})) == 2
    assert cases(store, Filters(start_activities=("Triage",))) == 1
    assert cases(store, Filters(end_activities=("Close",))) == 3
    assert cases(store, Filters(min_duration=parse_duration("1d"))) == 2
    assert cases(store, Filters(max_duration=parse_duration("1h"))) == 1
    top = variants(store, "t")[0]
    assert cases(store, Filters(variants=(str(top["variant_id"]),))) == top["cases"]
    assert cases(store, Filters(variants=("not-an-id",))) == 0


def test_time_window_modes(store: Store) -> None:
    window = {"start": t(2), "end": t(11)}
    assert cases(store, Filters(**window, window="contained")) == 1  # b only
    assert cases(store, Filters(**window, window="intersecting")) == 3
    assert cases(store, Filters(**window, window="started")) == 2  # b, c
    assert cases(store, Filters(**window, window="completed")) == 2  # a, b


def test_event_level_trims_events_and_recomputes(store: Store) -> None:
    f = Filters(start=t(1, 9), end=t(10, 9), event_level=True)
    m = process_map(store, "t", filters=f)
    assert sum(n["events"] for n in m["nodes"]) == 5  # a's three, b's two; c's events are after the window
    v = variants(store, "t", filters=f)
    assert sorted(tuple(x["activities"]) for x in v) == [("Open", "Close"), ("Open", "Work", "Close")]
    trimmed = process_map(store, "t", filters=Filters(start=t(1, 9), end=t(1, 10), event_level=True))
    assert trimmed["edges"] == []  # only a's Open is left: a case of one event has no edge
    assert trimmed["start_activities"] == {"Open": 1}


def test_bad_filters_say_what_exists(store: Store) -> None:
    with pytest.raises(FilterError, match="no case attribute 'colour'") as info:
        cases(store, Filters(attributes={"colour": ("red",)}))
    assert "region" in str(info.value.hint)
    with pytest.raises(FilterError, match="no activity 'Opne'") as info2:
        cases(store, Filters(start_activities=("Opne",)))
    assert "Open" in str(info2.value.hint)
    with pytest.raises(FilterError, match="is not a duration"):
        parse_duration("soon")
