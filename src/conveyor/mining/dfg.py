"""The process map: a directly-follows graph with frequencies and times."""

from __future__ import annotations

from typing import Any

from conveyor.data.sql import Query
from conveyor.data.store import Store
from conveyor.mining.filters import Filters, scope_for

__all__ = ["process_map"]

NODES = Query(
    "map.nodes",
    """WITH {scope}
    SELECT a.name AS activity, count(*) AS events, count(DISTINCT fe.case_idx) AS cases
    FROM fe JOIN {s}.activities a ON a.code = fe.activity
    GROUP BY a.name ORDER BY events DESC, activity""",
)

EDGES = Query(
    "map.edges",
    """WITH {scope}, d AS (
        SELECT case_idx, activity, next_activity, (epoch_us(next_ts) - epoch_us(ts)) / 1e6 AS seconds
        FROM fe WHERE next_activity IS NOT NULL
    ), g AS (
        SELECT activity, next_activity, count(*) AS frequency, count(DISTINCT case_idx) AS cases,
               avg(seconds) AS mean_seconds, median(seconds) AS median_seconds,
               quantile_cont(seconds, 0.9) AS p90_seconds, sum(seconds) AS total_seconds
        FROM d GROUP BY activity, next_activity
    )
    SELECT src.name AS source, dst.name AS target, frequency, cases, mean_seconds, median_seconds,
           p90_seconds, total_seconds
    FROM g JOIN {s}.activities src ON src.code = g.activity JOIN {s}.activities dst ON dst.code = g.next_activity
    ORDER BY frequency DESC, source, target""",
)

ENDPOINTS = Query(
    "map.endpoints",
    """WITH {scope}
    SELECT 'start' AS kind, a.name AS activity, count(*) AS cases
    FROM fe JOIN {s}.activities a ON a.code = fe.activity WHERE fe.pos = 0 GROUP BY a.name
    UNION ALL
    SELECT 'end' AS kind, a.name AS activity, count(*) AS cases
    FROM fe JOIN {s}.activities a ON a.code = fe.activity WHERE fe.next_activity IS NULL GROUP BY a.name
    ORDER BY kind, cases DESC, activity""",
)


def process_map(store: Store, stream: str, *, filters: Filters | None = None) -> dict[str, Any]:
    """The directly-follows graph of ``stream``: nodes, edges with times, start and end activities.

    Edge times are the seconds between an event and the next one in its case.

        m = process_map(store, "helpdesk")
        m["edges"][0]["source"], m["edges"][0]["frequency"]
    """
    scope = scope_for(store, stream, filters)
    parts = {"scope": scope.cte, "s": scope.s}
    ends = store.run(ENDPOINTS, **parts)
    return {
        "nodes": store.run(NODES, **parts),
        "edges": store.run(EDGES, **parts),
        "start_activities": {r["activity"]: r["cases"] for r in ends if r["kind"] == "start"},
        "end_activities": {r["activity"]: r["cases"] for r in ends if r["kind"] == "end"},
    }
