"""The process map: a directly-follows graph with frequencies and times."""

from __future__ import annotations

from typing import Any

from conveyor.data.store import Store, quote
from conveyor.data.summaries import EDGES, ENDPOINTS, NODES, SUMMARY_ORDER
from conveyor.mining.filters import Filters, scope_for

__all__ = ["process_map"]


def process_map(store: Store, stream: str, *, filters: Filters | None = None) -> dict[str, Any]:
    """The directly-follows graph of ``stream``: nodes, edges with times, start and end activities.

    Edge times are the seconds between an event and the next one in its case.

        m = process_map(store, "helpdesk")
        m["edges"][0]["source"], m["edges"][0]["frequency"]
    """
    if filters is None or filters.is_empty():
        # The whole stream's map was materialized at ingest (conveyor.data.summaries).
        s = quote(store.require_stream(stream))
        nodes, edges, ends = (
            store.records(f"SELECT * FROM {s}.{t} ORDER BY {SUMMARY_ORDER[t]}")
            for t in ("map_nodes", "map_edges", "map_endpoints")
        )
    else:
        scope = scope_for(store, stream, filters)
        parts = {"scope": scope.cte, "s": scope.s}
        nodes, edges, ends = store.run(NODES, **parts), store.run(EDGES, **parts), store.run(ENDPOINTS, **parts)
    return {
        "nodes": nodes,
        "edges": edges,
        "start_activities": {r["activity"]: r["cases"] for r in ends if r["kind"] == "start"},
        "end_activities": {r["activity"]: r["cases"] for r in ends if r["kind"] == "end"},
    }
