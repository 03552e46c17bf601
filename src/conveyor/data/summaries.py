"""Process-map summaries: defined once, run filtered by mining and unfiltered at ingest.

The unfiltered process map (nodes, edges with their times, start and end activities) is what
users open first and most often, so ingest materializes it as ``map_nodes``, ``map_edges`` and
``map_endpoints`` in the stream's schema; an unfiltered `conveyor map` is then a table read.
Filtered maps run the same queries over the filtered scope.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

from conveyor.data.quoting import quote
from conveyor.data.sql import Query

if TYPE_CHECKING:
    from conveyor.data.engine import Engine
    from conveyor.data.store import Store

__all__ = [
    "EDGES",
    "ENDPOINTS",
    "NODES",
    "SUMMARY_ORDER",
    "SUMMARY_TABLES",
    "Level",
    "case_counts",
    "default_level",
    "drop_summaries",
    "ensure_summaries",
    "materialize_summaries",
    "scope_relations",
    "unfiltered_scope",
]

NODES = Query(
    "map.nodes",
    """WITH {scope}
    SELECT a.name AS activity, an.events, ac.cases
    FROM an JOIN ac USING (activity) JOIN {s}.activities a ON a.code = an.activity
    ORDER BY events DESC, activity""",
)

EDGES = Query(
    "map.edges",
    """WITH {scope}, d AS (
        SELECT case_idx, activity, next_activity, (epoch_us(next_ts) - epoch_us(ts)) / 1e6 AS seconds
        FROM fe WHERE next_activity IS NOT NULL
    ), g AS (
        SELECT activity, next_activity, count(*) AS frequency, avg(seconds) AS mean_seconds,
               quantile_cont(seconds, [0.5, 0.9]) AS q, sum(seconds) AS total_seconds
        FROM d GROUP BY activity, next_activity
    )
    SELECT src.name AS source, dst.name AS target, frequency, tc.cases, mean_seconds, q[1] AS median_seconds,
           q[2] AS p90_seconds, total_seconds
    FROM g JOIN tc USING (activity, next_activity) JOIN {s}.activities src ON src.code = g.activity JOIN {s}.activities dst ON dst.code = g.next_activity
    ORDER BY frequency DESC, source, target""",
)

ENDPOINTS = Query(
    "map.endpoints",
    """WITH {scope}
    SELECT ep.kind, a.name AS activity, ep.cases
    FROM ep JOIN {s}.activities a ON a.code = ep.activity
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

#: The unit an analysis counts: activity instances (where the stream has lifecycle starts) or events.
Level = Literal["instances", "events"]

_FE = "case_idx, pos, activity, ts, next_activity, next_ts, resource, next_resource"


def scope_relations(s: str, level: Level) -> tuple[str, str, str]:
    """The columns-and-table parts of ``fe`` (events or instances in scope), ``fc`` (cases, with
    the level's variant id as ``variant_id``) and ``fv`` (the level's variants) for schema ``s``."""
    if level == "instances":
        return (
            f"{_FE}, CAST(NULL AS VARCHAR) AS lifecycle, start_ts FROM {s}.instances",
            f"{CASE_FIELDS}, instance_variant_id AS variant_id FROM {s}.cases",
            f"{s}.instance_variants",
        )
    return (
        f"{_FE}, lifecycle, CAST(NULL AS TIMESTAMPTZ) AS start_ts FROM {s}.events",
        f"{CASE_FIELDS}, variant_id FROM {s}.cases",
        f"{s}.variants",
    )


#: The case columns every scope's ``fc`` has (besides ``variant_id``).
CASE_FIELDS = "case_idx, first_ts, last_ts, n_events, duration_seconds"


def default_level(engine: Engine, schema: str) -> Level:
    """Instances where the stream has them, else events."""
    return "instances" if engine.has_table(schema, "instances") else "events"


def unfiltered_scope(schema: str, level: Level = "events") -> str:
    """The ``fe``/``fc``/``fv`` definitions of a whole stream, with the case counts (see
    conveyor.mining.filters and :func:`case_counts`)."""
    fe, fc, fv = scope_relations(quote(schema), level)
    return f"fc AS (SELECT {fc}), fe AS (SELECT {fe}), fv AS (SELECT * FROM {fv}), {case_counts(by_variant=True)}"


def case_counts(*, by_variant: bool) -> str:
    """CTEs counting the cases in scope per activity (``ac``), per directly-follows pair (``tc``)
    and per activity reached from another (``nc``), the events per activity (``an``), the cases
    starting and ending with each activity (``ep``: kind, activity, cases), and (by variant only)
    how often each variant does each activity (``vs``: variant_id, activity, n) with its cases in
    scope (``vc``).

    Where whole cases are kept, a case's activities are its variant's: the counts are sums over
    the variants in scope (a group-by over the small variants table) instead of distinct counts
    over every event. Where a time window trimmed events, variants no longer describe the cases
    and the counts are distinct counts over the events in scope.
    """
    if not by_variant:
        return """ac AS (SELECT activity, count(DISTINCT case_idx) AS cases FROM fe GROUP BY activity),
        tc AS (SELECT activity, next_activity, count(DISTINCT case_idx) AS cases FROM fe
               WHERE next_activity IS NOT NULL GROUP BY activity, next_activity),
        nc AS (SELECT next_activity AS activity, count(DISTINCT case_idx) AS cases FROM fe
               WHERE next_activity IS NOT NULL GROUP BY next_activity),
        an AS (SELECT activity, count(*) AS events FROM fe GROUP BY activity),
        ep AS (SELECT 'start' AS kind, activity, count(*) AS cases FROM fe WHERE pos = 0 GROUP BY activity
               UNION ALL
               SELECT 'end' AS kind, activity, count(*) AS cases FROM fe WHERE next_activity IS NULL
               GROUP BY activity)"""
    return """vc AS (SELECT variant_id, count(*) AS cases FROM fc GROUP BY variant_id),
        vs AS (SELECT variant_id, activity, count(*) AS n
               FROM (SELECT variant_id, unnest(activities) AS activity FROM fv SEMI JOIN vc USING (variant_id)) x
               GROUP BY variant_id, activity),
        vt AS (SELECT DISTINCT variant_id, activities[i] AS activity, activities[i + 1] AS next_activity
               FROM (SELECT variant_id, activities, unnest(generate_series(1, array_length(activities) - 1)) AS i
                     FROM fv SEMI JOIN vc USING (variant_id) WHERE array_length(activities) > 1) y),
        ac AS (SELECT vs.activity, CAST(sum(vc.cases) AS BIGINT) AS cases FROM vs JOIN vc USING (variant_id)
               GROUP BY vs.activity),
        tc AS (SELECT vt.activity, vt.next_activity, CAST(sum(vc.cases) AS BIGINT) AS cases
               FROM vt JOIN vc USING (variant_id) GROUP BY vt.activity, vt.next_activity),
        nc AS (SELECT t.activity, CAST(sum(vc.cases) AS BIGINT) AS cases
               FROM (SELECT DISTINCT variant_id, next_activity AS activity FROM vt) t JOIN vc USING (variant_id)
               GROUP BY t.activity),
        an AS (SELECT vs.activity, CAST(sum(vs.n * vc.cases) AS BIGINT) AS events FROM vs JOIN vc USING (variant_id)
               GROUP BY vs.activity),
        ep AS (SELECT 'start' AS kind, fv.activities[1] AS activity, CAST(sum(vc.cases) AS BIGINT) AS cases
               FROM fv JOIN vc USING (variant_id) GROUP BY fv.activities[1]
               UNION ALL
               SELECT 'end' AS kind, fv.activities[-1] AS activity, CAST(sum(vc.cases) AS BIGINT) AS cases
               FROM fv JOIN vc USING (variant_id) GROUP BY fv.activities[-1])"""


def materialize_summaries(store: Store, schema: str) -> None:
    """(Re)build the stream's summary tables from its events (instances where it has them)."""
    s = quote(schema)
    scope = unfiltered_scope(schema, default_level(store, schema))
    for table, query in SUMMARY_TABLES.items():
        store.execute(f"CREATE OR REPLACE TABLE {s}.{table} AS {query.render(scope=scope, s=s)}")


def drop_summaries(store: Store, schema: str) -> None:
    """Forget the precomputed map (after an append changed what it summarises)."""
    s = quote(schema)
    store.execute("".join(f"DROP TABLE IF EXISTS {s}.{table};" for table in SUMMARY_TABLES))


def ensure_summaries(store: Store, schema: str) -> bool:
    """Build the summaries if an append dropped them; False when they are missing and this
    store cannot write them (a read-only store: the caller computes the map on the fly)."""
    if store.has_table(schema, "map_edges"):
        return True
    if store.read_only:
        return False
    with _BUILDING:  # two requests of one server must not build the same tables at once
        if not store.has_table(schema, "map_edges"):
            materialize_summaries(store, schema)
    return True


_BUILDING = threading.Lock()
