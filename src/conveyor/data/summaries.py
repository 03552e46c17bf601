"""Process-map summaries: defined once, run filtered by mining and unfiltered at ingest.

The unfiltered process map (nodes, edges with their times, start and end activities) is what
users open first and most often, so ingest materializes it as ``map_nodes``, ``map_edges`` and
``map_endpoints`` in the stream's schema; an unfiltered `conveyor map` is then a table read.
Filtered maps run the same queries over the filtered scope.
"""

from __future__ import annotations

from conveyor.data.sql import Query
from conveyor.data.store import Store, quote

__all__ = [
    "EDGES",
    "ENDPOINTS",
    "NODES",
    "SUMMARY_ORDER",
    "SUMMARY_TABLES",
    "materialize_summaries",
    "unfiltered_scope",
]

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

#: Summary table -> the query that fills it.
SUMMARY_TABLES = {"map_nodes": NODES, "map_edges": EDGES, "map_endpoints": ENDPOINTS}

#: The order each summary is read back in (the queries' own ORDER BY): files keep no row order.
SUMMARY_ORDER = {
    "map_nodes": "events DESC, activity",
    "map_edges": "frequency DESC, source, target",
    "map_endpoints": "kind, cases DESC, activity",
}

EVENT_COLS = "case_idx, pos, activity, ts, next_activity, next_ts, resource, next_resource, lifecycle"
CASE_COLS = "case_idx, first_ts, last_ts, n_events, duration_seconds, variant_id"


def unfiltered_scope(schema: str) -> str:
    """The ``fe``/``fc`` definitions of a whole stream (see conveyor.mining.filters)."""
    s = quote(schema)
    return f"fc AS (SELECT {CASE_COLS} FROM {s}.cases), fe AS (SELECT {EVENT_COLS} FROM {s}.events)"


def materialize_summaries(store: Store, schema: str) -> None:
    """(Re)build the stream's summary tables from its events."""
    s = quote(schema)
    scope = unfiltered_scope(schema)
    for table, query in SUMMARY_TABLES.items():
        store.execute(f"CREATE OR REPLACE TABLE {s}.{table} AS {query.render(scope=scope, s=s)}")
