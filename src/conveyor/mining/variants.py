"""Variants: the distinct activity sequences, how many cases follow each, and how long they take."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.data.sql import Query
from conveyor.mining.filters import Filters, scope_for
from conveyor.mining.results import Variant

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["variants"]

# Stored variant ids (whole cases kept): a group-by over the small cases table.
BY_ID = Query(
    "variants.by_id",
    """WITH {scope}, g AS (
        SELECT variant_id, count(*) AS cases, median(duration_seconds) AS median_seconds,
               avg(duration_seconds) AS mean_seconds, min(case_idx) AS first_case
        FROM fc GROUP BY variant_id
    )
    SELECT v.names AS activities, g.cases, g.median_seconds, g.mean_seconds, g.variant_id
    FROM g JOIN fv v USING (variant_id)
    ORDER BY g.cases DESC, g.first_case""",
)

# Event-level filters change traces, so variants are recomputed from the events in scope.
_TRACES = """t AS (
        SELECT case_idx, list(activity ORDER BY pos) AS trace FROM fe GROUP BY case_idx
    ), ranked AS (
        SELECT trace, count(*) AS cases, min(case_idx) AS first_case,
               row_number() OVER (ORDER BY count(*) DESC, min(case_idx)) AS rank
        FROM t GROUP BY trace
    )"""

BY_TRACE = Query(
    "variants.by_trace",
    f"""WITH {{scope}}, {_TRACES}, g AS (
        SELECT t.trace, median(fc.duration_seconds) AS median_seconds, avg(fc.duration_seconds) AS mean_seconds
        FROM t JOIN fc USING (case_idx) GROUP BY t.trace
    ), names AS (SELECT list(name ORDER BY code) AS n FROM {{s}}.activities)
    SELECT list_transform(g.trace, lambda x: names.n[x + 1]) AS activities, r.cases, g.median_seconds,
           g.mean_seconds, CAST(NULL AS VARCHAR) AS variant_id
    FROM g JOIN ranked r USING (trace), names
    ORDER BY r.cases DESC, r.first_case""",
)

REST = Query(
    "variants.rest",
    """WITH {scope}, ranked AS (
        SELECT variant_id, row_number() OVER (ORDER BY count(*) DESC, min(case_idx)) AS rank
        FROM fc GROUP BY variant_id
    )
    SELECT count(*) AS cases, count(DISTINCT fc.variant_id) AS variants,
           median(duration_seconds) AS median_seconds, avg(duration_seconds) AS mean_seconds
    FROM fc JOIN ranked USING (variant_id) WHERE ranked.rank > {top}""",
)

REST_BY_TRACE = Query(
    "variants.rest_by_trace",
    f"""WITH {{scope}}, {_TRACES}
    SELECT count(*) AS cases, count(DISTINCT r.rank) AS variants,
           median(fc.duration_seconds) AS median_seconds, avg(fc.duration_seconds) AS mean_seconds
    FROM t JOIN ranked r USING (trace) JOIN fc USING (case_idx) WHERE r.rank > {{top}}""",
)


def variants(engine: Engine, stream: str, *, top: int | None = None, filters: Filters | None = None) -> list[Variant]:
    """Variants, most frequent first: ``activities``, ``cases``, ``share``, median and mean
    throughput seconds, and the stable ``variant_id`` (the same for the same sequence across
    appends, re-ingests and engines). With ``top``, the first ``top`` and then one ``"other"`` row
    grouping the rest, its figures computed exactly over the cases it groups.
    """
    scope = scope_for(engine, stream, filters)
    rows = engine.run(BY_TRACE if scope.event_level else BY_ID, params=scope.params, **scope.parts())
    total = sum(r["cases"] for r in rows)
    out: list[Variant] = [
        {
            "activities": list(r["activities"]),
            "cases": r["cases"],
            "share": r["cases"] / total if total else 0.0,
            "median_seconds": r["median_seconds"],
            "mean_seconds": r["mean_seconds"],
            "variant_id": r["variant_id"],
        }
        for r in rows
    ]
    if top is None or len(out) <= top:
        return out
    query = REST_BY_TRACE if scope.event_level else REST
    rest = engine.run(query, params=scope.params, **scope.parts(top=str(int(top))))[0]
    head = out[:top]
    head.append(
        {
            "activities": ["other"],
            "cases": rest["cases"],
            "share": rest["cases"] / total if total else 0.0,
            "median_seconds": rest["median_seconds"],
            "mean_seconds": rest["mean_seconds"],
            "variant_id": None,
            "variants": rest["variants"],
        }
    )
    return head
