"""The process map: a directly-follows graph with frequencies and times."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from conveyor.data.quoting import quote
from conveyor.data.summaries import EDGES, ENDPOINTS, NODES, SUMMARY_ORDER, ensure_summaries
from conveyor.mining.filters import Filters, scope_for
from conveyor.mining.results import MapEdge, MapNode, ProcessMap

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["process_map"]


def process_map(engine: Engine, stream: str, *, filters: Filters | None = None) -> ProcessMap:
    """The directly-follows graph of ``stream``: nodes, edges with times, start and end activities.

    On a stream with lifecycle starts the nodes are activity instances and an edge's time is the
    wait from one instance's end to the next one's start; otherwise the seconds between an event
    and the next one in its case.

        m = process_map(store, "helpdesk")
        m["edges"][0]["source"], m["edges"][0]["frequency"]
    """
    ends: list[dict[str, Any]]
    if (filters is None or filters.is_empty()) and _precomputed(engine, stream):
        # The whole stream's map was materialized at ingest (conveyor.data.summaries).
        s = quote(engine.require_stream(stream))
        nodes, edges, ends = (
            engine.records(f"SELECT * FROM {s}.{t} ORDER BY {SUMMARY_ORDER[t]}")
            for t in ("map_nodes", "map_edges", "map_endpoints")
        )
    else:
        scope = scope_for(engine, stream, filters)
        nodes, edges, ends = (engine.run(q, params=scope.params, **scope.parts()) for q in (NODES, EDGES, ENDPOINTS))
    return {
        "nodes": cast(list[MapNode], nodes),
        "edges": cast(list[MapEdge], edges),
        "start_activities": {r["activity"]: r["cases"] for r in ends if r["kind"] == "start"},
        "end_activities": {r["activity"]: r["cases"] for r in ends if r["kind"] == "end"},
    }


def _precomputed(engine: Engine, stream: str) -> bool:
    """Whether the whole-stream map can be read (rebuilt first where an append dropped it)."""
    from conveyor.data.store import Store

    schema = engine.require_stream(stream)
    if isinstance(engine, Store):
        return ensure_summaries(engine, schema)
    return engine.has_table(schema, "map_edges")
